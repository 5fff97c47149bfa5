"""Validation gates, each passing and failing on purpose-built models, run for real: the
model under test is unpickled and called in a sandbox child process (a model that aborts
or hangs is a finding, not a dead test process); approvals and forced promotion; the CLI."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import registry
from jupyter_mlops.cli import main
from jupyter_mlops.client import Client
from jupyter_mlops.client.registry import PromotionBlocked
from jupyter_mlops.exceptions import Conflict, InvalidInput
from jupyter_mlops.registry import stats

# The purpose-built models below are defined here: pickle them by value, so the sandbox
# child (which cannot import this test module) unpickles them.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ROWS = 3000


def _data(seed: int = 0, rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows),
            "group": rng.choice(["north", "south"], size=rows),
        }
    )
    frame["y"] = (frame.a + 0.5 * frame.b + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    return frame


TRAIN = _data(0)
HOLDOUT = _data(1)
FEATURES = ["a", "b"]


def _fitted(**kwargs: Any) -> LogisticRegression:
    return LogisticRegression(**kwargs).fit(TRAIN[FEATURES], TRAIN.y)


class Wrapped:
    """A fitted model whose predict can be made to misbehave."""

    classes_ = np.array([0, 1])

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def predict(self, x: pd.DataFrame) -> Any:
        return self.inner.predict(x)

    def predict_proba(self, x: pd.DataFrame) -> Any:
        return self.inner.predict_proba(x)


class AbortsOnNaN(Wrapped):
    """A native library's crash: the process dies."""

    def predict(self, x: pd.DataFrame) -> Any:
        if x.isna().any().any():
            os.abort()
        return super().predict(x)


class DividesOnNaN(Wrapped):
    """A bug, not a refusal: an unrelated exception on NaN."""

    def predict(self, x: pd.DataFrame) -> Any:
        if x.isna().any().any():
            return 1 / 0
        return super().predict(x)


class HangsOnNaN(Wrapped):
    def predict(self, x: pd.DataFrame) -> Any:
        if x.isna().any().any():
            time.sleep(3600)
        return super().predict(x)


class SilentNaN(Wrapped):
    """Answers NaN for rows with missing values, with no error: silent garbage."""

    def predict(self, x: pd.DataFrame) -> Any:
        out = np.asarray(self.inner.predict(x.fillna(0)), dtype=float)
        out[x.isna().any(axis=1).to_numpy()] = np.nan
        return out


class Slow(Wrapped):
    def predict(self, x: pd.DataFrame) -> Any:
        time.sleep(0.5)
        return super().predict(x)


class Biased(Wrapped):
    """Says yes to one group only (it reads the group column it was given)."""

    def predict(self, x: pd.DataFrame) -> Any:
        return (x["group"] == "north").astype(int).to_numpy()


class Noisy(Wrapped):
    """The fitted model with a share of its answers flipped: worse, by construction."""

    def __init__(self, inner: Any, flip: float) -> None:
        super().__init__(inner)
        self.flip = flip

    def predict(self, x: pd.DataFrame) -> Any:
        out = self.inner.predict(x).copy()
        rng = np.random.default_rng(len(x))
        flip = rng.random(len(x)) < self.flip
        out[flip] = 1 - out[flip]
        return out


@pytest.fixture
def client(tmp_path: Path, open_client: Any) -> Client:
    return open_client(tmp_path / "store")


def _register(
    client: Client,
    model: Any,
    name: str = "churn",
    actor: str | None = None,
    columns: list[str] = FEATURES,
) -> int:
    """Log ``model`` on a run (its signature: ``columns``) and register it; its version."""
    run_id = client.create_run("gates", "train")
    logged = client.log_model(run_id, model, name="model", input_example=TRAIN[columns].head())
    client.end_run(run_id)
    return client.register_model(logged.id, name, actor=actor).version


def _gate(report: Any, name: str) -> dict[str, Any]:
    (found,) = [g for g in report.gates if g["gate"] == name]
    return found


def _check(gate: dict[str, Any], prefix: str) -> dict[str, Any]:
    (found,) = [c for c in gate["checks"] if c["name"].startswith(prefix)]
    return found


# metrics ------------------------------------------------------------------------------------
def test_given_thresholds_when_the_model_meets_them_then_metrics_pass_with_the_values(client):
    v = _register(client, _fitted())
    client.set_model_gates(
        "churn", {"target": "y", "metrics": {"accuracy": {"min": 0.7}, "roc_auc": 0.8}}
    )

    report = registry.validate(client, "churn", v, holdout=HOLDOUT)

    gate = _gate(report, "metrics")
    assert report.passed and gate["passed"]
    accuracy = _check(gate, "accuracy")
    expected = float((_fitted().predict(HOLDOUT[FEATURES]) == HOLDOUT.y).mean())
    assert accuracy["value"] == pytest.approx(expected) and accuracy["threshold"] == ">= 0.7"


def test_given_a_threshold_above_the_model_when_validated_then_metrics_fail_naming_it(client):
    v = _register(client, _fitted())
    client.set_model_gates("churn", {"target": "y", "metrics": {"accuracy": {"min": 0.99}}})

    report = registry.validate(client, "churn", v, holdout=HOLDOUT)

    assert not report.passed and report.failed == ["metrics"]
    assert not _check(_gate(report, "metrics"), "accuracy")["passed"]


# robustness ---------------------------------------------------------------------------------
ROBUST = {"robustness": {"rows": 10, "timeout_s": 5}}


def test_given_a_model_that_refuses_nan_with_a_value_error_then_robustness_passes(client):
    v = _register(client, _fitted())  # scikit-learn: ValueError "Input X contains NaN"
    client.set_model_gates("churn", ROBUST)

    report = registry.validate(client, "churn", v, holdout=HOLDOUT)

    gate = _gate(report, "robustness")
    assert gate["passed"], gate
    kinds = {c["name"].split(":")[0] for c in gate["checks"]}
    assert kinds == {"missing", "out_of_range", "wrong_dtype"}  # no text column to probe
    assert "ValueError" in _check(gate, "missing: a")["note"]


@pytest.mark.parametrize(
    ("model_cls", "expected"),
    [
        (AbortsOnNaN, "crashed: the process died"),
        (DividesOnNaN, "crashed: raised ZeroDivisionError"),
        (SilentNaN, "answered NaN or infinity without an error"),
    ],
)
def test_given_a_model_that_breaks_on_nan_then_robustness_fails_and_the_caller_lives(
    client, model_cls, expected
):
    v = _register(client, model_cls(_fitted()))
    client.set_model_gates("churn", ROBUST)

    report = registry.validate(client, "churn", v, holdout=HOLDOUT)

    gate = _gate(report, "robustness")
    assert not gate["passed"]
    assert expected in _check(gate, "missing: a")["note"]
    # The probes after the crash ran in a new child: out-of-range values still predicted.
    assert _check(gate, "out_of_range: a")["passed"]


def test_given_a_model_that_hangs_on_nan_then_robustness_fails_within_the_timeout(client):
    v = _register(client, HangsOnNaN(_fitted()))
    client.set_model_gates(
        "churn", {"robustness": {"rows": 5, "timeout_s": 1, "probes": ["missing"]}}
    )

    started = time.monotonic()
    report = registry.validate(client, "churn", v, holdout=HOLDOUT)

    gate = _gate(report, "robustness")
    assert not gate["passed"] and "hung" in gate["checks"][0]["note"]
    assert time.monotonic() - started < 120  # two 1 s timeouts plus restarts, not an hour


# latency ------------------------------------------------------------------------------------
def test_given_a_budget_when_the_model_is_fast_then_latency_passes_else_fails(client):
    fast = _register(client, _fitted())
    slow = _register(client, Slow(_fitted()))
    # A budget far above a fitted model's ~1 ms, and far below Slow's 500 ms sleep: the
    # verdicts do not depend on how loaded the machine is.
    client.set_model_gates("churn", {"latency": {"p95_ms": 400, "repeats": 5, "batch_size": 4}})

    fast_report = registry.validate(client, "churn", fast, holdout=HOLDOUT)
    slow_report = registry.validate(client, "churn", slow, holdout=HOLDOUT)

    assert _gate(fast_report, "latency")["passed"]
    gate = _gate(slow_report, "latency")
    assert not gate["passed"]
    assert _check(gate, "p95 ms")["value"] >= 500 and _check(gate, "calls")["value"] == 5


# fairness -----------------------------------------------------------------------------------
def test_given_a_model_biased_across_groups_then_fairness_fails_with_each_groups_rate(client):
    fair = _register(client, _fitted())
    biased = _register(client, Biased(_fitted()), columns=[*FEATURES, "group"])
    client.set_model_gates(
        "churn", {"target": "y", "fairness": {"column": "group", "max_gap": 0.1}}
    )

    fair_report = registry.validate(client, "churn", fair, holdout=HOLDOUT)
    biased_report = registry.validate(client, "churn", biased, holdout=HOLDOUT)

    assert _gate(fair_report, "fairness")["passed"]
    gate = _gate(biased_report, "fairness")
    assert not gate["passed"]
    assert _check(gate, "positive rate | group=north")["value"] == 1.0
    assert _check(gate, "positive rate | group=south")["value"] == 0.0
    assert _check(gate, "demographic_parity difference")["value"] == 1.0


def test_given_equal_opportunity_then_the_gap_is_in_true_positive_rates(client):
    v = _register(client, Biased(_fitted()), columns=[*FEATURES, "group"])
    client.set_model_gates(
        "churn",
        {"target": "y", "fairness": {"column": "group", "metric": "equal_opportunity"}},
    )

    gate = _gate(registry.validate(client, "churn", v, holdout=HOLDOUT), "fairness")

    positives = HOLDOUT[HOLDOUT.y == 1]
    assert _check(gate, "true positive rate | group=north")["value"] == 1.0
    assert _check(gate, "true positive rate | group=north")["threshold"] == (
        f"n={int((positives.group == 'north').sum())}"
    )
    assert not gate["passed"]


# champion / challenger ----------------------------------------------------------------------
CHAMPION = {"target": "y", "champion": {"metric": "accuracy", "resamples": 500}}


def _with_champion(client: Client) -> None:
    first = _register(client, _fitted())
    client.transition_model_version_stage("churn", first, "Production")
    client.set_model_gates("churn", CHAMPION)


def test_given_a_clearly_worse_challenger_then_champion_fails_on_its_interval(client):
    _with_champion(client)
    worse = _register(client, Noisy(_fitted(), flip=0.15))

    gate = _gate(registry.validate(client, "churn", worse, holdout=HOLDOUT), "champion")

    assert not gate["passed"] and gate["champion"] == 1
    assert _check(gate, "95% interval high")["value"] < 0
    assert "significantly worse" in gate["summary"]


def test_given_a_challenger_equal_within_noise_then_champion_passes(client):
    _with_champion(client)
    # A different regularisation: a few predictions differ, in both directions.
    equal = _register(client, _fitted(C=0.05))

    gate = _gate(registry.validate(client, "churn", equal, holdout=HOLDOUT), "champion")

    low, high = _check(gate, "95% interval low")["value"], _check(gate, "95% interval high")
    assert gate["passed"], gate["summary"]
    assert low <= 0 <= high["value"], gate["summary"]


def test_given_no_production_version_then_champion_passes_saying_so(client):
    v = _register(client, _fitted())
    client.set_model_gates("churn", CHAMPION)

    gate = _gate(registry.validate(client, "churn", v, holdout=HOLDOUT), "champion")

    assert gate["passed"] and "no version is in Production" in gate["summary"]


def test_paired_bootstrap_interval_covers_the_difference_and_shrinks_with_rows():
    rng = np.random.default_rng(3)

    def pair(rows: int) -> stats.Difference:
        y = rng.integers(0, 2, rows)
        a = np.where(rng.random(rows) < 0.85, y, 1 - y)
        b = np.where(rng.random(rows) < 0.85, y, 1 - y)
        pa = stats.Predictions(y, a, None, None, 1)
        pb = stats.Predictions(y, b, None, None, 1)
        return stats.paired_difference("accuracy", pa, pb, 400, 0.95)

    small, large = pair(500), pair(20_000)
    assert small.low <= small.diff <= small.high
    assert (large.high - large.low) < (small.high - small.low) / 3


def test_weighted_auc_equals_the_rank_statistic_with_ties():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 1000)
    scores = np.round(rng.random(1000) + 0.3 * y, 1)  # many ties
    auc = stats._auc(np.ones((1, 1000)), scores, y == 1)[0]
    u = mannwhitneyu(scores[y == 1], scores[y == 0]).statistic
    assert auc == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))


# reports, stage moves, approvals ------------------------------------------------------------
def test_given_a_failed_report_when_promoted_then_blocked_until_forced_with_a_reason(client):
    v = _register(client, _fitted())
    client.set_model_gates("churn", {"target": "y", "metrics": {"accuracy": {"min": 0.99}}})
    report = registry.validate(client, "churn", v, holdout=HOLDOUT)

    with pytest.raises(PromotionBlocked) as blocked:
        registry.promote(client, "churn", v, "Production")
    with pytest.raises(InvalidInput, match="needs a reason"):
        registry.promote(client, "churn", v, "Production", force=True)
    moved = registry.promote(
        client, "churn", v, "Production", force=True, reason="hotfix approved by risk"
    )

    assert "gate metrics failed" in blocked.value.blockers[0]
    assert moved.stage == "Production"
    force, stage = client.model_audit("churn")[-2:]
    assert (force.action, force.reason, force.report_sha256) == (
        "force",
        "hotfix approved by risk",
        report.sha256,
    )
    assert (stage.action, stage.to_value, stage.report_sha256) == (
        "stage",
        "Production",
        report.sha256,
    )


def test_given_gates_when_promoted_then_validated_once_and_the_report_reused(client):
    v = _register(client, _fitted())
    client.set_model_gates("churn", {"target": "y", "metrics": {"accuracy": 0.7}})

    registry.promote(client, "churn", v, "Production", holdout=HOLDOUT)
    client.transition_model_version_stage("churn", v, "Archived")
    registry.promote(client, "churn", v, "Production", holdout=HOLDOUT)

    assert [e.action for e in client.model_audit("churn")].count("validate") == 1
    assert len(client.get_gate_reports("churn", v)) == 1


def test_given_new_gate_configuration_then_the_old_report_is_not_reused(client):
    v = _register(client, _fitted())
    client.set_model_gates("churn", {"target": "y", "metrics": {"accuracy": 0.7}})
    registry.validate(client, "churn", v, holdout=HOLDOUT)

    client.set_model_gates("churn", {"target": "y", "metrics": {"accuracy": 0.75}})

    assert client.reusable_gate_report("churn", v) is None
    with pytest.raises(PromotionBlocked, match="validate it first"):
        client.transition_model_version_stage("churn", v, "Production")


def test_given_required_approvals_then_production_waits_for_someone_else(client):
    v = _register(client, _fitted(), actor="alice")
    client.update_registered_model("churn", required_approvals=1)

    with pytest.raises(Conflict, match="does not count"):
        client.approve_model_version("churn", v, actor="alice")
    with pytest.raises(PromotionBlocked, match="1 approval"):
        client.transition_model_version_stage("churn", v, "Production", actor="alice")
    client.approve_model_version("churn", v, "reviewed the report", actor="bob")
    with pytest.raises(Conflict, match="already approved"):
        client.approve_model_version("churn", v, actor="bob")
    moved = client.transition_model_version_stage("churn", v, "Production", actor="alice")

    assert moved.stage == "Production"
    approve = [e for e in client.model_audit("churn") if e.action == "approve"]
    assert [(e.actor, e.reason) for e in approve] == [("bob", "reviewed the report")]


def test_given_staging_not_guarded_then_it_moves_without_a_report(client):
    v = _register(client, _fitted())
    client.set_model_gates("churn", {"target": "y", "metrics": {"accuracy": 0.99}})

    assert client.transition_model_version_stage("churn", v, "Staging").stage == "Staging"


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"metrics": {"accuracy": 0.8}}, "target column"),
        ({"target": "y", "metrics": {"acc": 0.8}}, "unknown metric 'acc'"),
        ({"target": "y", "latency": {}}, "needs a budget"),
        ({"latency": {"p95_ms": 5, "repeat": 3}}, "no setting 'repeat'"),
        ({"fairness": {"column": "g", "metric": "parity"}}, "demographic_parity"),
        ({"stages": ["Prod"], "robustness": True}, "not one of Staging"),
        ({"target": "y"}, "has no gate"),
        ("metrics: [", "not valid YAML"),
        ({"robustness": True, "wat": 1}, "Unknown gate setting 'wat'"),
    ],
)
def test_given_a_bad_gate_configuration_then_refused_naming_the_setting(client, config, match):
    _register(client, _fitted())
    with pytest.raises(InvalidInput, match=match):
        client.set_model_gates("churn", config)
    assert client.get_registered_model("churn").gates is None


def test_given_holdout_dataset_version_then_the_file_is_read_and_its_fingerprint_checked(
    client, tmp_path
):
    path = tmp_path / "holdout.csv"
    HOLDOUT.to_csv(path, index=False)
    run_id = client.create_run("gates", "split")
    holdout = client.log_dataset(run_id, str(path), "holdout", role="output")
    client.end_run(run_id)
    v = _register(client, _fitted())
    ref = f"holdout@{holdout.version}"
    client.set_model_gates("churn", {"holdout": ref, "target": "y", "metrics": {"accuracy": 0.7}})

    report = registry.validate(client, "churn", v)
    path.write_text(path.read_text() + "0,0,north,1\n")

    assert report.passed and report.report["holdout"]["ref"] == ref
    assert report.report["holdout"]["fingerprint"] == holdout.fingerprint
    with pytest.raises(InvalidInput, match="has changed since it was recorded"):
        registry.validate(client, "churn", v)


# CLI ----------------------------------------------------------------------------------------
def test_cli_validate_prints_the_numbers_and_exits_1_on_a_failed_gate(client, tmp_path):
    v = _register(client, _fitted())
    holdout = tmp_path / "holdout.parquet"
    HOLDOUT.to_parquet(holdout)
    gates = tmp_path / "gates.yaml"
    gates.write_text("target: y\nmetrics:\n  accuracy: {min: 0.99}\n")
    runner = CliRunner()
    store = ["--store", str(tmp_path / "store")]

    shown = runner.invoke(main, [*store, "models", "gates", "churn", "--set", str(gates)])
    failed = runner.invoke(
        main, [*store, "models", "validate", f"churn/{v}", "--holdout", str(holdout)]
    )
    blocked = runner.invoke(main, [*store, "models", "stage", f"churn/{v}", "Production"])
    forced = runner.invoke(
        main,
        [*store, "models", "stage", f"churn/{v}", "Production", "--force", "--reason", "demo"],
    )

    assert shown.exit_code == 0 and "accuracy:\n    min: 0.99" in shown.output
    assert failed.exit_code == 1, failed.output
    assert f"churn/{v}: FAILED (metrics)" in failed.output
    assert "accuracy" in failed.output and ">= 0.99" in failed.output and "FAIL" in failed.output
    assert blocked.exit_code == 1 and "gate metrics failed" in blocked.output
    assert forced.exit_code == 0 and "is in Production" in forced.output


def test_fluent_register_validate_and_promote_use_the_notebooks_store(store):
    import jupyter_mlops as mlops

    with mlops.start_run("fluent") as run:
        mlops.log_model(_fitted(), "clf", input_example=TRAIN[FEATURES].head())
    version = mlops.register_model(f"runs:/{run.id}/clf", "churn", "from the fluent API")
    store.set_model_gates("churn", {"target": "y", "metrics": {"accuracy": 0.99}})

    report = mlops.validate_model("churn", version.version, holdout=HOLDOUT)
    with pytest.raises(PromotionBlocked):
        mlops.promote_model("churn", version.version)
    moved = mlops.promote_model("churn", version.version, force=True, reason="trial")

    assert "<details open>" in report._repr_html_() and "&gt;= 0.99" in report._repr_html_()
    assert moved.stage == "Production"
    assert mlops.load_model("models:/churn/Production").predict(HOLDOUT[FEATURES]).shape == (
        len(HOLDOUT),
    )


def test_given_a_model_that_aborts_on_nan_then_the_other_missing_probes_are_not_rerun(client):
    v = _register(client, AbortsOnNaN(_fitted()))
    client.set_model_gates("churn", {"robustness": {"rows": 5, "probes": ["missing"]}})

    gate = _gate(registry.validate(client, "churn", v, holdout=HOLDOUT), "robustness")

    first, second = gate["checks"]
    assert "crashed: the process died" in first["note"]
    assert second["note"] == "not run: the model already crashed on a missing probe"
    assert not gate["passed"]


def test_given_a_version_already_in_the_stage_then_the_move_is_a_no_op_not_a_block(client):
    v = _register(client, _fitted())
    client.transition_model_version_stage("churn", v, "Production")
    client.update_registered_model("churn", required_approvals=1)
    before = len(client.model_audit("churn"))

    assert client.transition_model_version_stage("churn", v, "Production").stage == "Production"
    assert len(client.model_audit("churn")) == before
