"""``jupyter-mlops models ct|timeline|promote-best|rollout`` as a terminal runs them: the policy
set from a file (paths relative to it), shown as written, switched; the timeline and the trial
read back; every bad input one line on stderr with exit status 2 (bad input) or 1 (not found).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from jupyter_mlops.cli import main
from jupyter_mlops.client import Client

ROOT = Path(__file__).resolve().parents[1]


def cli(store: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--store", str(store), *args], catch_exceptions=False)


def ok(store: Path, *args: str) -> str:
    result = cli(store, *args)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def fails(store: Path, code: int, *args: str) -> str:
    result = cli(store, *args)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture
def store(store_dir: Path, client: Client, tmp_path: Path) -> Path:
    """churn v1 in Production, monitored by a `drift` rule; a policy file beside a copy of
    the lifecycle pipeline, naming it relatively."""
    run = client.create_run("cli-ct", "train")
    client.log_model(run, {"weights": [1]}, name="clf")
    client.end_run(run)
    client.register_model(f"runs:/{run}/clf", "churn")
    client.set_monitor_config(
        "churn", {"alerts": {"rules": [{"name": "drift", "metric": "dataset_drift", "above": 0.5}]}}
    )
    folder = tmp_path / "policy"
    (folder / "retrain").mkdir(parents=True)
    for name in ("pipeline.yaml", "prepare.ipynb", "train.ipynb"):
        source = ROOT / "notebooks" / "lifecycle" / name
        (folder / "retrain" / name).write_bytes(source.read_bytes())
    (folder / "ct.yaml").write_text(
        "pipeline: retrain/pipeline.yaml\n"
        "trigger: {alerts: [drift]}\n"
        "data: {traffic: alert, target: churned}\n"
        "rollout: {mode: canary, share: 0.2}\n",
        encoding="utf-8",
    )
    return store_dir


def test_given_a_policy_file_when_set_then_shown_as_written_with_its_pipeline_made_absolute(
    store: Path, tmp_path: Path
) -> None:
    out = ok(store, "models", "ct", "churn", "--set", str(tmp_path / "policy" / "ct.yaml"))
    shown = yaml.safe_load(out)
    assert shown["pipeline"] == str((tmp_path / "policy" / "retrain" / "pipeline.yaml").resolve())
    assert shown["rollout"]["mode"] == "canary" and shown["rollout"]["share"] == 0.2
    assert "schedule" not in shown["trigger"]  # unset fields are left out
    assert yaml.safe_load(ok(store, "models", "ct", "churn")) == shown
    as_json = json.loads(ok(store, "models", "ct", "churn", "--format", "json"))
    assert as_json["trigger"]["schedule"] is None  # JSON carries every field
    switched = yaml.safe_load(ok(store, "models", "ct", "churn", "--disable", "--dry-run"))
    assert switched["enabled"] is False and switched["guardrails"]["dry_run"] is True
    assert "no continuous-training policy" in ok(store, "models", "ct", "churn", "--clear")
    assert "no continuous-training policy" in ok(store, "models", "ct", "churn")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("pipeline: retrain/pipeline.yaml\nrollout: {mode: blue-green}\n", "rollout.mode"),
        ("pipeline: retrain/pipeline.yaml\ntrigger: {alerts: [latency]}\n", "no rule of"),
        ("pipeline: [unclosed\n", "not valid YAML"),
        ("pipeline: retrain/pipeline.yaml\nparams: {epochs: 3}\n", "not declared"),
    ],
)
def test_given_a_wrong_policy_file_when_set_then_one_line_and_exit_2(
    store: Path, tmp_path: Path, text: str, names: str
) -> None:
    path = tmp_path / "policy" / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    assert names in fails(store, 2, "models", "ct", "churn", "--set", str(path))


def test_given_no_model_or_no_file_when_set_then_one_line_and_exit_1(
    store: Path, tmp_path: Path
) -> None:
    policy = str(tmp_path / "policy" / "ct.yaml")
    assert "nobody" in fails(store, 1, "models", "ct", "nobody", "--set", policy)
    fails(store, 2, "models", "ct", "churn", "--set", str(tmp_path / "missing.yaml"))


def test_given_no_loop_and_no_trial_then_timeline_and_rollout_say_so(store: Path) -> None:
    assert ok(store, "models", "timeline", "churn").strip() == "No continuous-training loop yet."
    assert json.loads(ok(store, "models", "timeline", "churn", "--format", "json")) == []
    assert "no candidate on trial" in ok(store, "models", "rollout", "churn")
    fails(store, 1, "models", "timeline", "nobody")
    fails(store, 2, "models", "timeline", "churn", "--limit", "0")


def test_given_a_trial_when_shown_and_cancelled_then_its_figures_and_the_end(
    store: Path, client: Client
) -> None:
    run = client.create_run("cli-ct", "train")
    client.log_model(run, {"weights": [2]}, name="clf")
    client.end_run(run)
    client.register_model(f"runs:/{run}/clf", "churn")
    client.start_rollout(
        "churn", 2, mode="canary", share=0.25, target="Production", criteria={}, champion=1
    )
    assert "version 2 on trial (canary 25%) beside version 1" in ok(
        store, "models", "rollout", "churn"
    )
    out = json.loads(ok(store, "models", "rollout", "churn", "--cancel", "--format", "json"))
    assert out["state"] == "cancelled"
    assert "no candidate on trial" in ok(store, "models", "rollout", "churn")


def test_given_no_candidates_when_promote_best_then_refused_with_the_fix(store: Path) -> None:
    assert "no gates" in fails(store, 2, "models", "promote-best", "churn", "1")
