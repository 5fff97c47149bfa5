"""The continuous-training loop end to end, as a user runs it: ``jupyter-mlops demo lifecycle``
in its own process, which starts a real model server and a real ``jupyter-mlops scheduler``
process, sends real HTTP traffic that drifts, and waits while the scheduler's monitoring
raises the alert, the retraining pipeline runs in papermill kernels, the gates judge the
candidate and the server switches. Nothing here is faked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops.automation.timeline import timelines
from jupyter_mlops.client import Client
from jupyter_mlops.entities import CT_STEP_EVENT

ROOT = Path(__file__).resolve().parents[1]


def _lifecycle(tmp_path: Path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "summary.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "demo", "lifecycle",
         "--home", str(tmp_path / "store"), "--json-out", str(out), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


@pytest.mark.timeout(900)
def test_given_drifting_traffic_when_the_lifecycle_runs_then_v2_takes_over_with_no_failed_request(
    tmp_path,
):
    summary, stdout = _lifecycle(tmp_path)
    assert summary["failed"] == 0 and summary["sent"] > 500
    assert set(summary["versions"]) == {"1", "2"}
    loop = summary["loop"]
    assert (loop["state"], loop["outcome"], loop["candidate"]) == ("done", "promoted", 2)
    assert summary["alert_to_switch_s"] > 0
    assert "the drift alert cleared" in stdout
    client = Client(tmp_path / "store")
    try:
        assert client.get_model_version("churn", 2).stage == "Production"
        (item,) = timelines(client, "churn", loop_id=loop["id"])
        kinds = [e.kind for e in item.entries]
        for kind in ("alert", "triggered", "pipeline", "step", "registered", "candidates",
                     "decision", "stage", "server"):  # fmt: skip
            assert kind in kinds, kinds
        assert item.switched_at is not None
        measured = {k: v for k, v in item.parts.items() if k != "trial_s"}  # no trial: direct
        assert all(v is not None for v in measured.values()) and item.parts["trial_s"] is None
        # The promote step of pipeline.yaml decided (the controller did not have to).
        steps = [e.payload["step"] for e in client.events_after(0, CT_STEP_EVENT, "churn")]
        assert "pipeline_finished" not in steps and steps.count("decision") == 1
        states = client.list_alert_states("churn")
        assert states and all(s.state == "ok" for s in states)
        assert client.verify_model_audit() is None
    finally:
        client.close()


@pytest.mark.kernel
@pytest.mark.timeout(900)
def test_the_lifecycle_notebook_runs_the_loop_step_by_step(tmp_path: Path, client: Client) -> None:
    import shutil

    from jupyter_mlops.config import store_env
    from jupyter_mlops.pipelines.notebook import execute_notebook

    notebooks = ROOT / "notebooks"
    shutil.copy(notebooks / "lifecycle.ipynb", tmp_path / "lifecycle.ipynb")
    skip = shutil.ignore_patterns("data", "output")
    shutil.copytree(notebooks / "lifecycle", tmp_path / "lifecycle", ignore=skip)
    execute_notebook(
        tmp_path / "lifecycle.ipynb",
        output_path=tmp_path / "out.ipynb",
        env=store_env(client.location),
        timeout=900,
    )
    (loop,) = client.list_ct_loops("churn-live")
    assert (loop.state, loop.outcome, loop.candidate) == ("done", "promoted", 2)
    assert client.get_model_version("churn-live", 2).stage == "Production"
    out = (tmp_path / "out.ipynb").read_text()
    assert "version 2 took Production" in out or "promoted to Production" in out
    assert all(s.state == "ok" for s in client.list_alert_states("churn-live"))
