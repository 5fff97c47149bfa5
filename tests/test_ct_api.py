"""The continuous-training REST routes through a real Jupyter server (pytest-jupyter): a
model's policy (read, set as YAML or an object, refused with the field named, removed), the
candidate waiting for approval beside the champion, its loops' timelines, and the cancel of
a rollout. Loops, steps and rollouts are written directly with the Client, as the
controller writes them; the server's scheduler is off."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from notebook_helpers import write_notebook
from test_registry_api import Lab

from jupyter_mlops.client import Client
from jupyter_mlops.client.ct_config import compact
from jupyter_mlops.entities import CT_STEP_EVENT

SOMEONE = "someone"
POLICY = """\
pipeline: pipes/pipeline.yaml
params: {epochs: 3}
trigger:
  alerts: [drift]
data:
  dataset: churn-train
promote:
  mode: approval
  metric: accuracy
  to: Production
rollout:
  mode: canary
  share: 0.2
guardrails:
  cooldown: 30m
  dry_run: true
"""
PIPELINE = """\
name: retrain
steps:
  - name: train
    notebook: train.ipynb
"""


@pytest.fixture
def jp_server_config(mlops_store: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MlopsApp": {"store": str(mlops_store), "run_scheduler": False},
    }


@pytest.fixture
def client(mlops_store: Path, open_client: Callable[..., Client]) -> Client:
    return open_client(mlops_store)


@pytest.fixture
def lab(
    http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str], jp_serverapp: Any
) -> Lab:
    return Lab(http_server_client, jp_base_url, jp_auth_header)


@pytest.fixture
def root(jp_root_dir: Path, tmp_path: Path) -> Path:
    """The server's root: pipes/pipeline.yaml (one step whose notebook takes `data` and
    `epochs`); beside the root, a valid pipeline outside it, and under the root a pipeline
    whose notebook is outside it."""
    pipes = jp_root_dir / "pipes"
    pipes.mkdir()
    write_notebook(pipes / "train.ipynb", 'data = ""\nepochs = 1', "trained = True")
    (pipes / "pipeline.yaml").write_text(PIPELINE)
    outside = tmp_path / "outside"
    outside.mkdir()
    write_notebook(outside / "train.ipynb", 'data = ""\nepochs = 1', "trained = True")
    (outside / "pipeline.yaml").write_text(PIPELINE)
    (pipes / "escapes.yaml").write_text(
        f"name: escapes\nsteps:\n  - name: train\n    notebook: {outside / 'train.ipynb'}\n"
    )
    return jp_root_dir


@pytest.fixture
def churn(client: Client) -> str:
    """churn v1 (in Production) and v2, each registered from a logged model."""
    for _ in range(2):
        run = client.create_run("ct-api", "train")
        client.log_model(run, {"weights": [1, 2, 3]}, name="clf")
        client.end_run(run)
        client.register_model(f"runs:/{run}/clf", "churn")
    client.transition_model_version_stage("churn", 1, "Production")
    # The rule the policies below trigger on.
    client.set_monitor_config(
        "churn",
        {"alerts": {"rules": [{"name": "drift", "metric": "dataset_drift_share", "above": 0.3}]}},
    )
    return "churn"


def _report(client: Client, name: str, version: int, passed: bool, accuracy: float) -> str:
    """A stored gate report of a version: its sha256."""
    found = client.get_model_version(name, version)
    check = {"name": "accuracy", "value": accuracy, "threshold": ">= 0.7", "passed": passed}
    gate = {"gate": "metrics", "passed": passed, "summary": f"accuracy {accuracy}",
            "checks": [check]}  # fmt: skip
    return client.save_gate_report(
        name, version, {"gates": [gate]}, model_sha256=found.sha256, config_sha256="0" * 64
    ).sha256


def _loop(client: Client, name: str = "churn", **kw: Any) -> str:
    trigger = {"kind": "alert", "rule": "drift", "version": 1, "at": int(time.time() * 1000)}
    return client.create_ct_loop(
        name,
        trigger=trigger,
        pipeline_path="/x/pipeline.yaml",
        params={},
        summary="alert drift on version 1: retraining",
        **kw,
    ).id


# -- the policy --------------------------------------------------------------------------------


async def test_given_no_policy_when_read_then_everything_is_empty(lab: Lab, churn: str) -> None:
    state = await lab.call("GET", "models", churn, "ct")

    assert state == {
        "policy": None,
        "policy_yaml": None,
        "loops": [],
        "rollout": None,
        "pending": None,
    }


async def test_given_a_yaml_policy_when_put_then_stored_audited_and_shown_relative_to_root(
    lab: Lab, churn: str, client: Client, root: Path
) -> None:
    state = await lab.call(
        "PUT", "models", churn, "ct", body={"policy": POLICY, "reason": "drift hurts"}
    )

    policy = state["policy"]
    assert policy["pipeline"] == "pipes/pipeline.yaml"
    assert policy["promote"] == {"mode": "approval", "metric": "accuracy", "to": "Production"}
    assert policy["rollout"]["mode"] == "canary" and policy["rollout"]["share"] == 0.2
    assert policy["guardrails"]["dry_run"] is True and policy["enabled"] is True
    assert yaml.safe_load(state["policy_yaml"]) == compact(policy)  # unset fields left out
    stored = client.get_ct_policy(churn)
    assert stored is not None
    assert stored.pipeline == str((root / "pipes" / "pipeline.yaml").resolve())
    assert stored.params == {"epochs": 3} and stored.trigger.alerts == ("drift",)
    entry = client.model_audit(churn)[-1]
    assert (entry.action, entry.actor, entry.reason) == ("set_ct", await lab.user(), "drift hurts")
    # What the panel shows is what it can save back.
    again = await lab.call("PUT", "models", churn, "ct", body={"policy": state["policy_yaml"]})
    assert again["policy"] == policy
    assert await lab.call("GET", "models", churn, "ct") == again


async def test_given_a_policy_object_when_put_then_stored(
    lab: Lab, churn: str, client: Client, root: Path
) -> None:
    body = {"policy": {"pipeline": "pipes/pipeline.yaml", "promote": {"to": "@champion"}}}

    state = await lab.call("PUT", "models", churn, "ct", body=body)

    assert state["policy"]["promote"]["to"] == "@champion"
    assert state["policy"]["data"] is None and state["policy"]["rollout"]["mode"] == "direct"
    stored = client.get_ct_policy(churn)
    assert stored is not None and stored.promote.alias == "champion"


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        ("pipeline: [pipes/pipeline.yaml", "not valid YAML"),
        ("pipeline: pipes/pipeline.yaml\nretrain_often: true", "retrain_often"),
        ("pipeline: pipes/pipeline.yaml\npromote: {mode: sometimes}", "promote.mode"),
        ("pipeline: pipes/pipeline.yaml\nrollout: {share: 2}", "rollout.share"),
        ("pipeline: pipes/pipeline.yaml\nparams: {nope: 1}", "'nope' is not declared"),
        ("trigger: {alerts: [drift]}", "needs the retraining pipeline"),
        ("pipeline: ../outside/pipeline.yaml", "outside the server's root"),
        ("pipeline: pipes/escapes.yaml", "resolves outside the server's root"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
async def test_given_a_bad_policy_when_put_then_400_naming_what_is_wrong_and_nothing_stored(
    lab: Lab, churn: str, client: Client, root: Path, policy: str, words: str
) -> None:
    reply = await lab.refused("PUT", "models", churn, "ct", body={"policy": policy})

    assert reply["code"] == "INVALID_INPUT" and words in reply["message"], reply
    assert client.get_ct_policy(churn) is None


async def test_given_a_pipeline_outside_the_root_by_absolute_path_when_put_then_400(
    lab: Lab, churn: str, client: Client, root: Path, tmp_path: Path
) -> None:
    for path in (tmp_path / "outside" / "pipeline.yaml", Path("/etc/passwd")):
        body = {"policy": f"pipeline: {path}"}
        reply = await lab.refused("PUT", "models", churn, "ct", body=body)
        assert "outside the server's root" in reply["message"]
    # An absolute path inside the root is fine.
    inside = root / "pipes" / "pipeline.yaml"
    state = await lab.call("PUT", "models", churn, "ct", body={"policy": f"pipeline: {inside}"})
    assert state["policy"]["pipeline"] == "pipes/pipeline.yaml"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"policy": "pipeline: pipes/missing.yaml"}, 404),
        ({"policy": 7}, 400),
        ({"policy": ["pipeline"]}, 400),
        ({"policy": None}, 400),
        ({}, 400),
        ({"policy": "pipeline: pipes/pipeline.yaml", "why": "x"}, 400),
        ({"policy": "pipeline: pipes/pipeline.yaml", "reason": 3}, 400),
    ],
)
async def test_given_a_malformed_body_when_put_then_refused(
    lab: Lab, churn: str, root: Path, body: dict[str, Any], status: int
) -> None:
    await lab.refused("PUT", "models", churn, "ct", body=body, status=status)


async def test_given_an_unknown_model_then_every_route_is_404(lab: Lab, root: Path) -> None:
    body = {"policy": "pipeline: pipes/pipeline.yaml"}
    await lab.refused("GET", "models", "nope", "ct", status=404)
    await lab.refused("PUT", "models", "nope", "ct", body=body, status=404)
    await lab.refused("DELETE", "models", "nope", "ct", status=404)
    await lab.refused("GET", "models", "nope", "timeline", status=404)
    await lab.refused("POST", "models", "nope", "rollout", "cancel", status=404)


async def test_given_a_policy_when_deleted_then_gone_and_audited(
    lab: Lab, churn: str, client: Client, root: Path
) -> None:
    await lab.call("PUT", "models", churn, "ct", body={"policy": POLICY})

    response = await lab.fetch("DELETE", lab.url("models", churn, "ct", reason="not now"))

    assert response.code == 204
    assert client.get_ct_policy(churn) is None
    assert (await lab.call("GET", "models", churn, "ct"))["policy"] is None
    entry = client.model_audit(churn)[-1]
    assert (entry.action, entry.reason, entry.actor) == ("set_ct", "not now", await lab.user())


# -- the candidate waiting for approval -------------------------------------------------------


async def test_given_a_loop_waiting_for_approval_then_both_gate_reports_are_pending(
    lab: Lab, churn: str, client: Client, root: Path
) -> None:
    await lab.call("PUT", "models", churn, "ct", body={"policy": POLICY})
    champion_sha = _report(client, churn, 1, True, 0.71)
    _report(client, churn, 2, False, 0.6)  # an older report of v2 ...
    candidate_sha = _report(client, churn, 2, True, 0.8)  # ... and its newest
    loop = _loop(client)
    client.update_ct_loop(
        loop, ("training",), step="decision", summary="version 2 waits for approval",
        state="approval", candidate=2, champion=1, reason="version 2 waits for approval",
    )  # fmt: skip
    done = _loop(client)
    client.update_ct_loop(done, ("training",), state="done", outcome="kept")

    state = await lab.call("GET", "models", churn, "ct")

    assert [loop_["id"] for loop_ in state["loops"]] == [done, loop]
    pending = state["pending"]
    assert set(pending) == {"loop", "candidate", "champion", "to"}
    assert pending["loop"]["id"] == loop and pending["loop"]["state"] == "approval"
    assert pending["to"] == "Production"
    candidate, champion = pending["candidate"], pending["champion"]
    assert candidate["version"] == 2 and candidate["gate_report"]["sha256"] == candidate_sha
    assert candidate["gate_report"]["report"]["gates"][0]["checks"][0]["value"] == 0.8
    assert candidate["approvals"] == [] and candidate["approvals_missing"] is True
    assert champion == {
        "version": 1,
        "gate_report": client.get_gate_report(champion_sha).to_dict(),
    }

    # Approved by someone other than its registrant: it has what it waits for.
    client.approve_model_version(churn, 2, "looks right", actor=SOMEONE)
    candidate = (await lab.call("GET", "models", churn, "ct"))["pending"]["candidate"]
    assert [a["actor"] for a in candidate["approvals"]] == [SOMEONE]
    assert candidate["approvals_missing"] is False


async def test_given_a_pending_candidate_without_reports_or_champion_then_nulls(
    lab: Lab, churn: str, client: Client, root: Path
) -> None:
    policy = POLICY.replace("to: Production", "to: '@champion'")
    await lab.call("PUT", "models", churn, "ct", body={"policy": policy})
    loop = _loop(client)
    client.update_ct_loop(loop, ("training",), state="approval", candidate=2, champion=1)

    pending = (await lab.call("GET", "models", churn, "ct"))["pending"]

    assert pending["to"] == "@champion"
    assert pending["candidate"]["gate_report"] is None
    assert pending["champion"] == {"version": None, "gate_report": None}


# -- the timeline ------------------------------------------------------------------------------


async def test_given_loops_when_the_timeline_is_read_then_each_loop_has_its_entries(
    lab: Lab, churn: str, client: Client
) -> None:
    first = _loop(client)
    client.update_ct_loop(
        first, ("training",), step="candidates", summary="1 candidate(s) judged, 1 passed",
        detail={"metric": "accuracy", "candidates": []},
    )  # fmt: skip
    client.update_ct_loop(
        first, ("training",), step="decision", summary="version 2 promoted",
        state="done", outcome="promoted", candidate=2, champion=1, reason="version 2 promoted",
    )  # fmt: skip
    client.record_ct_step(churn, first, "note", "looked at by hand", who=SOMEONE)
    second = _loop(client)

    reply = await lab.call("GET", "models", churn, "timeline")

    assert set(reply) == {"timelines"}
    newest, oldest = reply["timelines"]
    assert (newest["loop"]["id"], oldest["loop"]["id"]) == (second, first)
    assert {"entries", "started_at", "switched_at", "ended_at", "parts", "total_s"} <= set(oldest)
    kinds = [e["kind"] for e in oldest["entries"]]
    assert kinds == ["triggered", "candidates", "decision", "note"]
    note = oldest["entries"][-1]
    assert note["summary"] == "looked at by hand" and note["detail"] == {"who": SOMEONE}
    assert oldest["loop"]["outcome"] == "promoted" and oldest["total_s"] >= 0
    assert set(oldest["parts"]) == {"detection_s", "pipeline_s", "gates_s", "trial_s", "switch_s"}
    assert newest["total_s"] is None and [e["kind"] for e in newest["entries"]] == ["triggered"]
    # Each step is a ct.step event on the model's log, read back from it.
    steps = [e for e in client.timeline_events(churn) if e.type == CT_STEP_EVENT]
    assert len(steps) == len(oldest["entries"]) + len(newest["entries"])

    one = await lab.call("GET", "models", churn, "timeline", limit=1)
    assert [t["loop"]["id"] for t in one["timelines"]] == [second]
    by_id = await lab.call("GET", "models", churn, "timeline", loop=first[:8])
    assert [t["loop"]["id"] for t in by_id["timelines"]] == [first]


async def test_given_no_loop_when_the_timeline_is_read_then_empty(lab: Lab, churn: str) -> None:
    assert await lab.call("GET", "models", churn, "timeline") == {"timelines": []}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 0}, 400),
        ({"limit": 51}, 400),
        ({"limit": "many"}, 400),
        ({"loop": "not-hex"}, 404),
        ({"loop": "f" * 32}, 404),
        ({"loop": "a" * 100}, 400),
    ],
)
async def test_given_bad_timeline_arguments_then_refused(
    lab: Lab, churn: str, client: Client, params: dict[str, Any], status: int
) -> None:
    _loop(client)
    await lab.refused("GET", "models", churn, "timeline", status=status, **params)


async def test_given_another_models_loop_when_asked_on_this_model_then_404(
    lab: Lab, churn: str, client: Client
) -> None:
    run = client.create_run("ct-api", "fraud")
    client.log_model(run, {"w": 1}, name="clf")
    client.end_run(run)
    client.register_model(f"runs:/{run}/clf", "fraud")
    theirs = _loop(client, "fraud")

    await lab.refused("GET", "models", churn, "timeline", status=404, loop=theirs)


# -- the rollout -------------------------------------------------------------------------------


async def test_given_a_rollout_under_way_when_cancelled_then_it_ends_cancelled_by_the_user(
    lab: Lab, churn: str, client: Client
) -> None:
    loop = _loop(client, state="rollout", candidate=2, champion=1)
    rollout = client.start_rollout(
        churn, 2, mode="canary", share=0.25, target="Production",
        criteria={"min_requests": 200}, champion=1, loop_id=loop, reason="on trial",
    )  # fmt: skip
    stats = {
        "candidate": {"version": 2, "requests": 40, "errors": 1, "error_rate": 0.025,
                      "p95_ms": 12.5, "labelled": 0, "accuracy": None},
        "champion": {"version": 1, "requests": 160, "errors": 0, "error_rate": 0.0,
                     "p95_ms": 10.0, "labelled": 0, "accuracy": None},
        "verdict": "wait", "reason": "40 of 200 requests",
    }  # fmt: skip
    client.save_rollout_stats(rollout.id, stats)

    shown = (await lab.call("GET", "models", churn, "ct"))["rollout"]
    assert (shown["id"], shown["mode"], shown["share"], shown["state"]) == (
        rollout.id, "canary", 0.25, "active",
    )  # fmt: skip
    assert shown["stats"] == stats

    ended = await lab.call(
        "POST", "models", churn, "rollout", "cancel", body={"reason": "wrong data"}
    )

    assert (ended["id"], ended["state"], ended["reason"]) == (rollout.id, "cancelled", "wrong data")
    assert ended["stats"] == stats  # the last comparison is kept
    assert client.active_rollout(churn) is None
    assert (await lab.call("GET", "models", churn, "ct"))["rollout"] is None
    entry = client.model_audit(churn)[-1]
    assert entry.actor == await lab.user() and entry.reason == "wrong data"
    reply = await lab.refused("POST", "models", churn, "rollout", "cancel", status=404)
    assert "no rollout under way" in reply["message"]


async def test_given_no_rollout_when_cancelled_then_404(lab: Lab, churn: str) -> None:
    await lab.refused("POST", "models", churn, "rollout", "cancel", body={}, status=404)


@pytest.mark.parametrize("body", [{"reason": 5}, {"why": "x"}, b"[1]", b"{"])
async def test_given_a_malformed_cancel_body_then_400(
    lab: Lab, churn: str, client: Client, body: Any
) -> None:
    client.start_rollout(
        churn, 2, mode="shadow", share=0.0, target="Production", criteria={}, champion=1
    )
    await lab.refused("POST", "models", churn, "rollout", "cancel", body=body)
    assert client.active_rollout(churn) is not None
