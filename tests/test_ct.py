"""Continuous training: the policy, the controller's guardrails and failure paths, choosing the
best candidate, judging a candidate on trial, the timeline — on SQLite and PostgreSQL.

The controller runs with a launcher that records what it would start; each test then plays
the pipeline run's part (a run that finishes, fails or never appears) with the Client, so
every path is exercised without kernels. The real loop (a scheduler process, papermill, a
model server) is tests/test_ct_e2e.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from jupyter_mlops.automation.controller import ContinuousTraining
from jupyter_mlops.automation.data import traffic_frame, traffic_since
from jupyter_mlops.automation.policy import set_policy
from jupyter_mlops.automation.promote import promote_best
from jupyter_mlops.automation.rollout import judge
from jupyter_mlops.automation.timeline import timeline_text, timelines
from jupyter_mlops.client import Client, now_ms
from jupyter_mlops.client.ct_config import CtPolicy, DataSource
from jupyter_mlops.data.synthetic import TARGET, churn_frame
from jupyter_mlops.entities import CT_STEP_EVENT, MONITOR_ALERT_EVENT, RunStatus
from jupyter_mlops.exceptions import Conflict, InvalidInput, MlopsError, NotFound
from jupyter_mlops.pipelines.options import RunOptions
from jupyter_mlops.store import open_records

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "notebooks" / "lifecycle" / "pipeline.yaml"
NAME = "churn"
GATES = {
    "target": TARGET,
    "metrics": {"accuracy": {"min": 0.6}},
    "champion": {"metric": "accuracy", "max_drop": 0.02, "resamples": 200},
}


def _train(client: Client, model: Any, data: Any, name: str = NAME) -> int:
    x = data.drop(columns=TARGET)
    run_id = client.create_run("ct-tests", "train")
    client.log_model(run_id, model.fit(x, data[TARGET]), "model", input_example=x.head(2))
    client.end_run(run_id)
    return client.register_model(f"runs:/{run_id}/model", name).version


@pytest.fixture
def ct(store_url: str, open_client: Callable[..., Client], tmp_path: Path) -> Client:
    """A store whose ``churn`` v1 is in Production behind gates judged on a recorded
    holdout of the new data (where v1 is poor), with a policy (no data source)."""
    client = open_client(store_url)
    _train(client, LogisticRegression(max_iter=500), churn_frame(1500, seed=1))
    holdout = tmp_path / "holdout.csv"
    churn_frame(600, drift=1.5, new_rule=True, seed=5).to_csv(holdout, index=False)
    run_id = client.create_run("ct-tests", "holdout")
    client.log_dataset(run_id, str(holdout), name="holdout.csv")
    client.end_run(run_id)
    client.set_model_gates(NAME, {**GATES, "holdout": "holdout.csv@1"})
    client.transition_model_version_stage(NAME, 1, "Production", force=True, reason="setup")
    client.set_monitor_config(NAME, {"alerts": {"rules": [
        {"name": "drift", "metric": "dataset_drift_share", "above": 0.3},
        {"name": "quality", "metric": "estimated_accuracy", "below": 0.8},
    ]}})  # fmt: skip
    set_policy(client, NAME, {"pipeline": str(PIPELINE), "guardrails": {"cooldown": "10m"}})
    return client


class Launches:
    """A launcher that records what the controller starts."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, RunOptions]] = []
        self.fail: Exception | None = None

    def __call__(self, path: str, options: RunOptions) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append((path, options))


def _alert(client: Client, *, version: int = 1, rule: str = "drift", state: str = "alert") -> None:
    end = now_ms()
    client.record_event(
        MONITOR_ALERT_EVENT,
        NAME,
        {"rule": rule, "metric": "dataset_drift_share", "state": state, "previous": "ok",
         "value": 0.5, "threshold": 0.3, "direction": "above", "version": version,
         "window_start": end - 5000, "window_end": end, "levels": ["ok", "alert", "alert"],
         "drifted_columns": [{"column": "f0"}, {"column": "f1"}]},
    )  # fmt: skip


def _pipeline_run(
    client: Client, options: RunOptions, model: Any = None, status: RunStatus = RunStatus.FINISHED
) -> None:
    """Play the retraining pipeline: its run (with the chosen id), a step that logs and
    registers a candidate, its end."""
    assert options.run_id is not None
    run_id = client.create_run(
        "churn-retrain", "pipeline:churn-retrain", run_id=options.run_id,
        tags={"mlops.pipeline_run": "churn-retrain"},
    )  # fmt: skip
    if model is not None:
        data = churn_frame(1500, drift=1.5, new_rule=True, seed=3)
        x = data.drop(columns=TARGET)
        step = client.create_run("churn-retrain", "train", parent_run_id=run_id)
        client.log_model(step, model.fit(x, data[TARGET]), "candidate", input_example=x.head(2))
        client.end_run(step)
        client.register_model(f"runs:/{step}/candidate", NAME)
    client.end_run(run_id, status)


def _retrain(
    client: Client, model: Any = None, status: RunStatus = RunStatus.FINISHED
) -> tuple[ContinuousTraining, Launches]:
    """An alert, the retrain it starts, its pipeline run played to ``status`` (having
    registered ``model``), and the controller's next look at it."""
    launches = Launches()
    controller = ContinuousTraining(client, launch=launches)
    _alert(client)
    controller.tick(now_ms())
    _pipeline_run(client, launches.calls[0][1], model=model, status=status)
    controller.tick(now_ms())
    return controller, launches


def _steps(client: Client) -> list[dict[str, Any]]:
    return [e.payload for e in client.events_after(0, CT_STEP_EVENT, NAME)]


# -- the policy ------------------------------------------------------------------------------


def test_given_a_full_policy_when_parsed_then_every_field_is_kept_and_defaults_fill_the_rest():
    policy = CtPolicy.from_dict(
        """
        pipeline: retrain/pipeline.yaml
        params: {C: 0.5}
        trigger: {alerts: [drift], level: warn, schedule: "0 3 * * 1", timezone: Europe/Paris}
        data: {traffic: 24h, target: churned, param: rows}
        promote: {mode: approval, metric: f1, to: "@champion"}
        rollout: {mode: canary, share: 0.2, min_requests: 50, timeout: 30m}
        guardrails: {cooldown: 2h, max_per_day: 2, dry_run: true}
        """
    )
    assert policy.trigger.matches("drift", "warn") and not policy.trigger.matches(
        "quality", "alert"
    )
    assert policy.data == DataSource(traffic="24h", target="churned", param="rows")
    assert policy.promote.alias == "champion" and policy.rollout.share == 0.2
    assert policy.guardrails.cooldown_ms == 7_200_000 and policy.guardrails.dry_run
    assert CtPolicy.from_dict(policy.to_dict()) == policy
    bare = CtPolicy.from_dict({"pipeline": "p.yaml"})
    assert (bare.promote.mode, bare.rollout.mode, bare.guardrails.max_per_day) == (
        "auto",
        "direct",
        3,
    )
    assert bare.trigger.matches("anything", "alert") and not bare.trigger.matches("x", "warn")


@pytest.mark.parametrize(
    ("policy", "names"),
    [
        ({}, "pipeline"),
        ({"pipeline": "p.yaml", "retry": 1}, "retry"),
        ({"pipeline": "p.yaml", "data": {"dataset": "a", "traffic": "1h"}}, "data needs one"),
        ({"pipeline": "p.yaml", "data": {"traffic": "soon"}}, "data.traffic"),
        ({"pipeline": "p.yaml", "promote": {"mode": "yolo"}}, "promote.mode"),
        ({"pipeline": "p.yaml", "promote": {"to": "@Production"}}, "Alias"),
        ({"pipeline": "p.yaml", "promote": {"to": "Archived"}}, "promote.to"),
        ({"pipeline": "p.yaml", "rollout": {"share": 0}}, "rollout.share"),
        ({"pipeline": "p.yaml", "guardrails": {"max_per_day": 0}}, "max_per_day"),
        ({"pipeline": "p.yaml", "trigger": {"schedule": "every day"}}, "cron"),
        ({"pipeline": "p.yaml", "params": {"data": 1}, "data": {"dataset": "d"}}, "params.data"),
        ("pipeline: [unclosed", "YAML"),
    ],
)
def test_given_a_wrong_policy_when_parsed_then_the_error_names_the_field(policy, names):
    with pytest.raises(InvalidInput, match=names):
        CtPolicy.from_dict(policy)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
policy_keys = st.sampled_from(
    ["pipeline", "params", "trigger", "data", "promote", "rollout", "guardrails", "enabled", "x"]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(policy_keys, json_values, max_size=6) | json_values)
def test_given_any_json_when_parsed_as_a_policy_then_it_is_a_policy_or_invalid_input(data):
    try:
        policy = CtPolicy.from_dict(data)
    except InvalidInput:
        return
    assert CtPolicy.from_dict(policy.to_dict()) == policy


def test_given_a_policy_whose_pipeline_is_missing_or_invalid_when_set_then_refused(ct, tmp_path):
    with pytest.raises(NotFound):
        set_policy(ct, NAME, {"pipeline": str(tmp_path / "none.yaml")})
    with pytest.raises(InvalidInput, match="not declared"):
        set_policy(ct, NAME, {"pipeline": str(PIPELINE), "params": {"epochs": 3}})
    with pytest.raises(NotFound):
        set_policy(ct, "nobody", {"pipeline": str(PIPELINE)})
    with pytest.raises(InvalidInput, match=r"no rule of \(its rules: drift, quality\)"):
        set_policy(ct, NAME, {"pipeline": str(PIPELINE), "trigger": {"alerts": ["latency"]}})
    actions = [e.action for e in ct.model_audit(NAME)]
    assert actions.count("set_ct") == 1  # the fixture's, and no refused one
    assert ct.verify_model_audit() is None


# -- triggers and guardrails -----------------------------------------------------------------


def test_given_an_alert_when_the_controller_ticks_then_one_retrain_starts_and_a_second_joins(ct):
    launches = Launches()
    controller = ContinuousTraining(ct, launch=launches)
    _alert(ct)
    controller.tick(now_ms())
    assert len(launches.calls) == 1
    path, options = launches.calls[0]
    assert path == str(PIPELINE) and options.trigger.startswith("ct:")
    (loop,) = ct.list_ct_loops(NAME)
    assert loop.state == "training" and loop.pipeline_run_id == options.run_id
    assert loop.trigger["rule"] == "drift" and loop.trigger["drifted_columns"] == ["f0", "f1"]
    _alert(ct)
    controller.tick(now_ms())
    assert len(launches.calls) == 1
    assert ct.get_ct_loop(loop.id).joined == 1
    assert [s["step"] for s in _steps(ct)] == ["triggered", "pipeline_started", "joined"]


def test_given_alerts_of_other_rules_or_clearing_when_ticking_then_nothing_starts(ct):
    set_policy(ct, NAME, {"pipeline": str(PIPELINE), "trigger": {"alerts": ["quality"]}})
    launches = Launches()
    _alert(ct, rule="drift")
    _alert(ct, rule="quality", state="ok")
    _alert(ct, rule="quality", state="warn")
    ContinuousTraining(ct, launch=launches).tick(now_ms())
    assert launches.calls == [] and ct.list_ct_loops(NAME) == []


def test_given_two_controllers_on_one_store_when_both_tick_then_the_alert_starts_one_loop(
    ct, store_url, open_client
):
    first, second = Launches(), Launches()
    other = open_client(store_url)
    _alert(ct)
    now = now_ms()
    ContinuousTraining(ct, launch=first).tick(now)
    ContinuousTraining(other, launch=second).tick(now)
    assert len(first.calls) + len(second.calls) == 1
    assert len(ct.list_ct_loops(NAME)) == 1


def test_given_a_failed_retrain_when_an_alert_follows_within_the_cooldown_then_it_is_skipped(ct):
    controller, launches = _retrain(ct, status=RunStatus.FAILED)
    (loop,) = ct.list_ct_loops(NAME)
    assert (loop.state, loop.outcome) == ("failed", "failed") and "failed" in loop.reason
    assert ct.get_model_version(NAME, 1).stage == "Production"  # nothing promoted
    assert any(e.action == "ct_decision" and e.to_value == "failed" for e in ct.model_audit(NAME))
    _alert(ct)
    controller.tick(now_ms())
    assert len(launches.calls) == 1
    skipped = _steps(ct)[-1]
    assert skipped["step"] == "skipped" and skipped["reason"] == "cooldown"
    # After the cooldown the next alert retrains again.
    _alert(ct)
    controller.tick(now_ms() + 11 * 60_000)
    assert len({options.run_id for _, options in launches.calls}) == 2


def test_given_the_days_cap_reached_when_another_alert_comes_then_it_is_skipped(ct):
    set_policy(
        ct, NAME, {"pipeline": str(PIPELINE), "guardrails": {"cooldown": "1s", "max_per_day": 2}}
    )
    launches = Launches()
    controller = ContinuousTraining(ct, launch=launches)
    for i in range(3):
        _alert(ct)
        controller.tick(now_ms() + i * 5000)
        if i < 2:
            _pipeline_run(ct, launches.calls[-1][1], status=RunStatus.FAILED)
            controller.tick(now_ms() + i * 5000)
    assert len(launches.calls) == 2
    assert _steps(ct)[-1]["reason"] == "daily_cap"


def test_given_a_dry_run_policy_when_an_alert_comes_then_what_would_run_is_recorded_only(ct):
    set_policy(ct, NAME, {"pipeline": str(PIPELINE), "guardrails": {"dry_run": True}})
    launches = Launches()
    _alert(ct)
    ContinuousTraining(ct, launch=launches).tick(now_ms())
    (loop,) = ct.list_ct_loops(NAME)
    assert launches.calls == [] and (loop.state, loop.outcome) == ("dry_run", "would_retrain")
    assert "dry run: would run churn-retrain" in _steps(ct)[0]["summary"]


def test_given_a_launch_that_fails_when_triggered_then_the_loop_fails_with_the_reason(ct):
    launches = Launches()
    launches.fail = OSError("no such interpreter")
    _alert(ct)
    ContinuousTraining(ct, launch=launches).tick(now_ms())
    (loop,) = ct.list_ct_loops(NAME)
    assert loop.state == "failed" and "no such interpreter" in loop.reason


def test_given_a_scheduler_that_stopped_before_launching_when_ticking_later_then_relaunched_once(
    ct,
):
    launches = Launches()
    controller = ContinuousTraining(ct, launch=launches)
    _alert(ct)
    controller.tick(now_ms())
    run_id = launches.calls[0][1].run_id
    controller.tick(now_ms() + 10_000)  # within the grace: the process may still be starting
    assert len(launches.calls) == 1
    controller.tick(now_ms() + 130_000)
    assert [c[1].run_id for c in launches.calls] == [run_id, run_id]  # the same run, not a new
    (loop,) = ct.list_ct_loops(NAME)
    assert loop.state == "training" and loop.trigger["relaunched"]
    controller.tick(now_ms() + 400_000)
    assert ct.get_ct_loop(loop.id).state == "failed" and len(launches.calls) == 2


def test_given_a_loop_that_promoted_when_its_version_raises_the_alert_then_a_loop_is_suspected(
    ct,
):
    controller, launches = _retrain(ct, model=LogisticRegression(max_iter=500))
    (loop,) = ct.list_ct_loops(NAME)
    assert (loop.state, loop.outcome, loop.candidate) == ("done", "promoted", 2)
    assert ct.get_model_version(NAME, 2).stage == "Production"
    assert ct.get_model_version(NAME, 1).stage == "Archived"
    _alert(ct, version=2)
    controller.tick(now_ms())
    assert len(launches.calls) == 1
    suspected = _steps(ct)[-1]
    assert suspected["step"] == "loop_suspected" and suspected["loop_id"] == loop.id
    text = timeline_text(timelines(ct, NAME))
    for expected in ("alert drift", "triggered", "candidates", "decision", "stage", "promoted"):
        assert expected in text


# -- choosing the best -----------------------------------------------------------------------


def test_given_no_candidate_passing_when_the_pipeline_ends_then_the_champion_stays(ct):
    _retrain(ct, model=DummyClassifier(strategy="constant", constant=0))
    (loop,) = ct.list_ct_loops(NAME)
    assert (loop.state, loop.outcome) == ("done", "kept")
    assert "no candidate passed the gates" in loop.reason
    assert ct.get_model_version(NAME, 1).stage == "Production"
    judged = next(s for s in _steps(ct) if s["step"] == "candidates")
    assert judged["candidates"][0]["passed"] is False and judged["candidates"][0]["failed"]


def test_given_approval_mode_when_the_best_passes_then_it_waits_for_an_approval_by_another(ct):
    set_policy(ct, NAME, {"pipeline": str(PIPELINE), "promote": {"mode": "approval"}})
    controller, _launches = _retrain(ct, model=LogisticRegression(max_iter=500))
    (loop,) = ct.list_ct_loops(NAME)
    assert (loop.state, loop.candidate) == ("approval", 2)
    controller.tick(now_ms())
    assert ct.get_model_version(NAME, 2).stage == "None"
    with pytest.raises(Conflict):  # who registered it cannot approve it
        ct.approve_model_version(NAME, 2)
    ct.approve_model_version(NAME, 2, actor="reviewer")
    controller.tick(now_ms())
    assert ct.get_ct_loop(loop.id).outcome == "promoted"
    assert ct.get_model_version(NAME, 2).stage == "Production"


def test_given_versions_when_promote_best_then_the_best_passing_by_the_metric_is_promoted(ct):
    good = _train(
        ct, LogisticRegression(max_iter=500), churn_frame(1500, drift=1.5, new_rule=True, seed=8)
    )
    weak = _train(
        ct, LogisticRegression(C=0.001), churn_frame(200, drift=1.5, new_rule=True, seed=9)
    )
    bad = _train(ct, DummyClassifier(strategy="constant", constant=1), churn_frame(100, seed=2))
    decision = promote_best(ct, NAME, [good, weak, bad])
    values = {c.version: c.value for c in decision.candidates}
    assert decision.action == "promoted" and decision.chosen == good
    assert values[good] >= values[weak]
    assert not next(c for c in decision.candidates if c.version == bad).passed
    assert ct.get_model_version(NAME, good).stage == "Production"
    (loop,) = ct.list_ct_loops(NAME)
    assert loop.trigger["kind"] == "manual" and loop.outcome == "promoted"


def test_given_a_candidate_judged_before_when_judged_again_then_its_report_is_reused_in_no_time(
    ct,
):
    bad = _train(ct, DummyClassifier(strategy="constant", constant=1), churn_frame(100, seed=2))
    first = promote_best(ct, NAME, [bad])
    # (a loop that a trigger started judges the same candidate again)
    loop = ct.create_ct_loop(
        NAME, trigger={"kind": "alert"}, pipeline_path="", params={}, summary="retrain"
    )
    second = promote_best(ct, NAME, [bad], loop=loop)
    assert first.action == second.action == "kept"
    assert [c.reused for c in first.candidates] == [False]
    assert [c.reused for c in second.candidates] == [True]
    assert second.candidates[0].report == first.candidates[0].report
    parts = {t.loop["id"]: t.parts for t in timelines(ct, NAME)}
    gates_s = parts[first.loop_id]["gates_s"]
    assert gates_s is not None and gates_s > 0  # the first loop ran the gates
    assert parts[second.loop_id]["gates_s"] == 0.0  # the second reused what they said


def test_given_nothing_new_when_promotion_is_asked_by_hand_again_then_no_loop_is_recorded(ct):
    # Given a hand-asked promotion that judged a candidate (a loop on the timeline)
    bad = _train(ct, DummyClassifier(strategy="constant", constant=1), churn_frame(100, seed=2))
    first = promote_best(ct, NAME, [bad])
    assert first.loop_id is not None
    audit = len(ct.model_audit(NAME))
    # When it is asked again with nothing changed (an unchanged pipeline re-run does that)
    again = promote_best(ct, NAME, [bad])
    # Then the same decision, from the same verdict, and nothing recorded
    assert (again.action, again.chosen, again.loop_id) == ("kept", None, None)
    assert again.candidates[0].reused and "nothing new" in again.reason
    assert [loop.id for loop in ct.list_ct_loops(NAME)] == [first.loop_id]
    assert len(ct.model_audit(NAME)) == audit
    # And a candidate judged afresh (new bytes) is a decision on the timeline again
    good = _train(
        ct, LogisticRegression(max_iter=500), churn_frame(1500, drift=1.5, new_rule=True, seed=8)
    )
    fresh = promote_best(ct, NAME, [bad, good])
    assert fresh.loop_id is not None and fresh.action == "promoted"
    assert [c.reused for c in fresh.candidates] == [True, False]
    assert len(ct.list_ct_loops(NAME)) == 2


def test_given_a_model_without_gates_when_promote_best_then_refused_with_the_fix(ct):
    ct.set_model_gates(NAME, None)
    with pytest.raises(InvalidInput, match="no gates"):
        promote_best(ct, NAME, [1])
    with pytest.raises(InvalidInput, match="Name the candidates"):
        ct.set_model_gates(NAME, {**GATES, "holdout": "holdout.csv@1"})
        promote_best(ct, NAME)


def test_given_a_canary_policy_when_the_best_passes_then_a_rollout_starts_beside_the_champion(ct):
    canary = {"mode": "canary", "share": 0.25, "min_requests": 5}
    set_policy(ct, NAME, {"pipeline": str(PIPELINE), "rollout": canary})
    good = _train(
        ct, LogisticRegression(max_iter=500), churn_frame(1500, drift=1.5, new_rule=True, seed=8)
    )
    decision = promote_best(ct, NAME, [good])
    assert decision.action == "rollout" and decision.rollout_id
    rollout = ct.active_rollout(NAME)
    assert rollout is not None and (rollout.candidate, rollout.champion) == (good, 1)
    assert (rollout.mode, rollout.share, rollout.target) == ("canary", 0.25, "Production")
    with pytest.raises(Conflict):
        ct.start_rollout(NAME, good, mode="shadow", share=0, target="Production", criteria={},
                         champion=1)  # fmt: skip
    assert ct.get_model_version(NAME, good).stage == "None"  # not before the trial says so
    other = _train(
        ct,
        LogisticRegression(C=0.2, max_iter=500),
        churn_frame(900, drift=1.5, new_rule=True, seed=4),
    )
    second = promote_best(ct, NAME, [other])
    assert second.action == "kept" and "on trial already" in second.reason
    assert ct.active_rollout(NAME).candidate == good  # type: ignore[union-attr]
    actions = [e.action for e in ct.model_audit(NAME)]
    assert "rollout_start" in actions and ct.verify_model_audit() is None


# -- judging a trial -------------------------------------------------------------------------


def _recorded(
    client: Client, server_id: str, version: int, n: int, *, status: int = 200,
    latency: float = 1.0, predictions: list[int] | None = None, shadow: bool = False,
    ids: list[str] | None = None,
) -> list[str]:  # fmt: skip
    ids = ids or [uuid.uuid4().hex for _ in range(n)]
    columns: dict[str, Any] = {
        "request_id": pa.array(ids, type=pa.string()),
        "row": pa.array(np.zeros(n, dtype=np.int32)),
        "at": pa.array(np.full(n, now_ms(), dtype=np.int64)),
        "version": pa.array(np.full(n, version, dtype=np.int32)),
        "status": pa.array(np.full(n, status, dtype=np.int16)),
        "latency_ms": pa.array(np.full(n, latency, dtype=np.float32)),
        "input.f0": pa.array(np.zeros(n)),
        "output.prediction": pa.array(predictions or [1] * n),
    }
    if shadow:
        columns["shadow"] = pa.array([True] * n)
    client.log_predictions(server_id, NAME, [pa.table(columns)])
    return ids


def _trial(ct: Client, **criteria: Any) -> Any:
    good = _train(ct, LogisticRegression(max_iter=500), churn_frame(500, seed=3))
    plan = {"mode": "canary", "min_requests": 20, "min_labels": 10, **criteria}
    server = ct.create_model_server(NAME, "/Production", "http://localhost:1", pid=None)
    rollout = ct.start_rollout(NAME, good, mode="canary", share=0.5, target="Production",
                               criteria=plan, champion=1)  # fmt: skip
    return rollout, server.id


def test_given_a_trial_with_too_few_requests_when_judged_then_wait_until_the_timeout(ct):
    rollout, server = _trial(ct, timeout="1m")
    _recorded(ct, server, 1, 30)
    _recorded(ct, server, rollout.candidate, 5)
    assert judge(ct, rollout, now_ms()).action == "wait"
    late = judge(ct, rollout, rollout.started_at + 61_000)
    assert late.action == "rollback" and "only 5 of the 20" in late.reason


def test_given_a_candidate_erring_more_when_judged_then_rolled_back(ct):
    rollout, server = _trial(ct)
    _recorded(ct, server, 1, 40)
    _recorded(ct, server, rollout.candidate, 18)
    _recorded(ct, server, rollout.candidate, 4, status=500)
    verdict = judge(ct, rollout, now_ms())
    assert verdict.action == "rollback" and "error rate" in verdict.reason
    assert verdict.candidate.errors == 4 and verdict.champion.errors == 0


def test_given_a_slower_candidate_when_judged_then_rolled_back_on_latency(ct):
    rollout, server = _trial(ct, max_latency_increase=0.5)
    _recorded(ct, server, 1, 40, latency=2.0)
    _recorded(ct, server, rollout.candidate, 25, latency=4.0)
    verdict = judge(ct, rollout, now_ms())
    assert verdict.action == "rollback" and "p95 latency" in verdict.reason


def test_given_labels_showing_a_worse_candidate_when_judged_then_rolled_back_on_quality(ct):
    rollout, server = _trial(ct, max_quality_drop=0.05)
    champion_ids = _recorded(ct, server, 1, 40, predictions=[1] * 40)
    candidate_ids = _recorded(ct, server, rollout.candidate, 40, predictions=[0] * 40)
    ct.log_labels(NAME, {i: 1 for i in champion_ids + candidate_ids})
    verdict = judge(ct, rollout, now_ms())
    assert verdict.action == "rollback" and "accuracy 0.000" in verdict.reason
    assert verdict.champion.accuracy == 1.0 and verdict.candidate.labelled == 40


def test_given_a_shadow_candidate_as_good_when_judged_then_promoted_and_shadow_rows_hidden(ct):
    rollout, server = _trial(ct)
    ids = _recorded(ct, server, 1, 30)
    _recorded(ct, server, rollout.candidate, 30, shadow=True, ids=ids)
    ct.log_labels(NAME, {i: 1 for i in ids})
    verdict = judge(ct, rollout, now_ms())
    assert verdict.action == "promote", verdict.reason
    assert verdict.candidate.labelled == 30 and verdict.candidate.accuracy == 1.0
    assert ct.read_predictions(NAME).num_rows == 30  # the answers clients got
    assert ct.read_predictions(NAME, shadow=True).num_rows == 30
    assert ct.read_predictions(NAME, shadow=None).num_rows == 60


def test_given_a_rollout_loop_when_the_trial_passes_then_the_candidate_takes_the_stage(ct):
    set_policy(
        ct, NAME, {"pipeline": str(PIPELINE), "rollout": {"mode": "shadow", "min_requests": 10}}
    )
    controller, _launches = _retrain(ct, model=LogisticRegression(max_iter=500))
    (loop,) = ct.list_ct_loops(NAME)
    rollout = ct.active_rollout(NAME)
    assert loop.state == "rollout" and rollout is not None and rollout.loop_id == loop.id
    server = ct.create_model_server(NAME, "/Production", "http://localhost:1", pid=None).id
    controller.tick(now_ms())
    assert ct.get_ct_loop(loop.id).state == "rollout"  # no traffic yet: it waits
    ids = _recorded(ct, server, 1, 12)
    _recorded(ct, server, rollout.candidate, 12, shadow=True, ids=ids)
    controller.tick(now_ms())
    done = ct.get_ct_loop(loop.id)
    assert (done.state, done.outcome) == ("done", "promoted")
    assert ct.get_model_version(NAME, rollout.candidate).stage == "Production"
    assert ct.active_rollout(NAME) is None
    assert ct.list_rollouts(NAME)[0].state == "promoted"
    steps = [s["step"] for s in _steps(ct)]
    assert steps[-3:] == ["rollout_started", "rollout_promoted", "promoted"]


# -- the data a retrain is handed ------------------------------------------------------------


def test_given_labelled_traffic_when_resolved_then_inputs_joined_with_labels_only(ct):
    server = ct.create_model_server(NAME, "/Production", "http://localhost:1", pid=None).id
    ids = _recorded(ct, server, 1, 10)
    _recorded(ct, server, 1, 3, status=422)
    ct.log_labels(NAME, {i: 0 for i in ids[:6]})
    frame = traffic_frame(ct, NAME, 0, "churned")
    assert list(frame.columns) == ["f0", "churned"] and len(frame) == 6
    with pytest.raises(InvalidInput):
        traffic_frame(ct, NAME, 0, "f0")
    source = DataSource(traffic="alert")
    trigger = {"window_start": 10_000, "window_end": 15_000, "levels": ["ok", "alert", "alert"]}
    assert traffic_since(source, trigger, 20_000) == 10_000  # the straddling window left out
    assert traffic_since(source, {**trigger, "levels": ["alert"]}, 20_000) == 10_000
    assert traffic_since(DataSource(traffic="1m"), {}, 100_000) == 40_000


def test_given_a_policy_with_labelled_traffic_when_nothing_was_labelled_then_the_loop_fails(ct):
    set_policy(
        ct, NAME, {"pipeline": str(PIPELINE), "data": {"traffic": "1h", "target": "churned"}}
    )
    launches = Launches()
    _alert(ct)
    ContinuousTraining(ct, launch=launches).tick(now_ms())
    (loop,) = ct.list_ct_loops(NAME)
    assert launches.calls == [] and loop.state == "failed" and "No labelled traffic" in loop.reason


def test_given_a_promote_step_with_an_unknown_setting_when_run_then_the_step_fails_clearly(ct):
    from jupyter_mlops.automation.promote import promote_step
    from jupyter_mlops.pipelines.actions import ActionContext
    from jupyter_mlops.pipelines.spec import Pipeline

    context = ActionContext(Pipeline.from_yaml(PIPELINE), "promote", uuid.uuid4().hex, "x", ())
    with pytest.raises(MlopsError, match="no setting 'metrc'"):
        promote_step(ct, {"metrc": "f1"}, context)
    with pytest.raises(MlopsError, match="name the model"):
        promote_step(ct, {}, context)


def test_given_a_step_action_kind_when_looked_up_then_the_installed_one_or_a_clear_error():
    from jupyter_mlops.automation.promote import promote_step
    from jupyter_mlops.pipelines.actions import action

    assert action("promote") is promote_step  # declared by this package's entry points
    with pytest.raises(InvalidInput, match=r"no step action 'deploy' is installed \(known: "):
        action("deploy")


def test_given_a_candidate_that_passes_but_does_not_beat_the_champion_then_the_champion_stays(ct):
    data = churn_frame(1500, drift=1.5, new_rule=True, seed=8)
    first = _train(ct, LogisticRegression(max_iter=500), data)
    assert promote_best(ct, NAME, [first]).action == "promoted"
    twin = _train(ct, LogisticRegression(max_iter=500), data)  # the same model, retrained
    decision = promote_best(ct, NAME, [twin])
    assert decision.action == "kept" and decision.chosen is None
    assert decision.candidates[0].passed and "does not beat" in decision.reason
    assert ct.get_model_version(NAME, first).stage == "Production"


@pytest.mark.parametrize("parse", ["policy", "gates", "monitoring"])
def test_given_yaml_nested_too_deeply_when_parsed_then_invalid_input_not_a_crash(parse):
    from jupyter_mlops.client.gates import parse_gates
    from jupyter_mlops.client.monitor_config import MonitorConfig

    text = "a: " + "[" * 3000 + "]" * 3000
    fn = {"policy": CtPolicy.from_dict, "gates": parse_gates, "monitoring": MonitorConfig.from_dict}
    with pytest.raises(InvalidInput, match="nested too deeply"):
        fn[parse](text)


def test_given_a_trial_when_cancelled_then_it_ends_with_its_loop_and_the_champion_stays(ct):
    from jupyter_mlops.automation.rollout import cancel

    set_policy(ct, NAME, {"pipeline": str(PIPELINE), "rollout": {"mode": "shadow"}})
    good = _train(
        ct, LogisticRegression(max_iter=500), churn_frame(1500, drift=1.5, new_rule=True, seed=8)
    )
    decision = promote_best(ct, NAME, [good])
    assert decision.action == "rollout"
    ended = cancel(ct, NAME, "not today", actor="ops")
    assert ended is not None and ended.state == "cancelled"
    loop = ct.get_ct_loop(decision.loop_id)
    assert (loop.state, loop.outcome, loop.reason) == ("done", "cancelled", "not today")
    assert ct.get_model_version(NAME, 1).stage == "Production"
    assert cancel(ct, NAME, "again") is None
    entry = [e for e in ct.model_audit(NAME) if e.action == "rollout_end"][-1]
    assert (entry.actor, entry.to_value) == ("ops", "cancelled")


def test_given_a_schedule_in_the_policy_when_due_then_a_retrain_starts_once(ct):
    set_policy(ct, NAME, {"pipeline": str(PIPELINE), "trigger": {"schedule": "*/5 * * * *"}})
    record = ct.ct_policy_record(NAME)
    assert record is not None and record.next_run_time is not None
    launches = Launches()
    controller = ContinuousTraining(ct, launch=launches)
    controller.tick(record.next_run_time - 1000)
    assert launches.calls == []
    controller.tick(record.next_run_time + 1000)
    controller.tick(record.next_run_time + 2000)
    assert len({options.run_id for _, options in launches.calls}) == 1
    (loop,) = ct.list_ct_loops(NAME)
    assert loop.trigger["kind"] == "schedule" and loop.trigger["cron"] == "*/5 * * * *"
    after = ct.ct_policy_record(NAME)
    assert after is not None and after.next_run_time > record.next_run_time


def test_given_a_registry_when_read_through_plain_sqlite3_then_the_same_as_through_the_store(
    ct: Client, open_client: Callable[..., Client]
) -> None:
    # Given versions (one deleted), a champion, an alias, gate reports, a policy and loops
    good = _train(
        ct, LogisticRegression(max_iter=500), churn_frame(1500, drift=1.5, new_rule=True, seed=8)
    )
    gone = _train(ct, DummyClassifier(strategy="constant", constant=1), churn_frame(100, seed=2))
    decision = promote_best(ct, NAME, [good])
    ct.set_model_alias(NAME, "best", good)
    ct.delete_model_version(NAME, gone, reason="test")
    pipeline_run = ct.create_run("ct-tests", "retrain")
    ct.create_ct_loop(
        NAME, trigger={"kind": "alert", "rule": "drift"}, pipeline_path=str(PIPELINE),
        params={"rows": 3}, pipeline_run_id=pipeline_run, summary="retrain",
    )  # fmt: skip
    records = open_records(ct.location.db_url)
    if records is None:  # PostgreSQL: only the store reads it (the same SQL text)
        records = ct.store
    store = ct.store
    # When each read goes through both, Then they agree, errors included
    try:
        for read in (
            lambda s: s.get_registered_model(NAME),
            lambda s: s.list_model_versions(NAME),
            lambda s: s.get_model_version(NAME, good),
            lambda s: s.latest_in_stage(NAME, "Production"),
            lambda s: s.latest_in_stage(NAME, "Staging"),
            lambda s: s.get_alias(NAME, "best"),
            lambda s: s.gate_reports(NAME),
            lambda s: s.gate_reports(NAME, good),
            lambda s: s.get_ct_policy(NAME),
            lambda s: s.get_ct_policy("nobody"),
            lambda s: s.loop_of_run(pipeline_run),
            lambda s: s.loop_of_run("0" * 32),
            lambda s: s.get_run(pipeline_run),
        ):
            assert repr(read(records)) == repr(read(store))
        assert ct.get_model_version(NAME, good).stage == "Production"
        assert ct.ct_loop_of_run(pipeline_run).params == {"rows": 3}  # type: ignore[union-attr]
        assert decision.loop_id is not None
        for missing in (
            lambda s: s.get_model_version(NAME, gone),  # deleted
            lambda s: s.get_model_version(NAME, 99),
            lambda s: s.get_registered_model("nobody"),
            lambda s: s.get_alias(NAME, "nope"),
        ):
            with pytest.raises(NotFound) as mine:
                missing(records)
            with pytest.raises(NotFound) as theirs:
                missing(store)
            assert str(mine.value) == str(theirs.value)
    finally:
        if records is not store:
            records.close()
