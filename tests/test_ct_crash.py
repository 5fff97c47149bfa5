"""Continuous training when processes die: the scheduler is killed (SIGKILL) in the middle of
a retrain and another takes over — the loop finishes once, with one pipeline run; and no model
server runs when the new version is promoted — the server started afterwards serves it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import wait_for

from jupyter_mlops import registry
from jupyter_mlops.automation.policy import set_policy
from jupyter_mlops.client import Client, now_ms
from jupyter_mlops.config import store_env
from jupyter_mlops.data.synthetic import TARGET, churn_frame
from jupyter_mlops.entities import MONITOR_ALERT_EVENT, RunStatus
from jupyter_mlops.serving import ServeOptions, start_server

ROOT = Path(__file__).resolve().parents[1]
NAME = "churn"


@pytest.fixture
def store(served_store: Client) -> Client:
    return served_store


def _scheduler(client: Client, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **store_env(client.location)}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlops.cli", "scheduler", "--poll", "0.5"],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.mark.kernel
@pytest.mark.timeout(600)
def test_given_the_scheduler_killed_mid_retrain_when_another_takes_over_then_the_loop_ends_once(
    store: Client, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    # Given v1 in Production, a policy that retrains on a dataset's newest version, and
    # that dataset: labelled data of the new customers.
    train = churn_frame(2000, seed=1)
    x = train.drop(columns=TARGET)
    run_id = store.create_run("crash", "v1")
    store.log_model(run_id, LogisticRegression(max_iter=500).fit(x, train[TARGET]), "model",
                    input_example=x.head(2))  # fmt: skip
    store.end_run(run_id)
    store.register_model(f"runs:/{run_id}/model", NAME)
    store.set_model_gates(NAME, {"target": TARGET, "metrics": {"accuracy": {"min": 0.6}},
                                 "champion": {"metric": "accuracy"}})  # fmt: skip
    registry.promote(store, NAME, 1, "Production", holdout=churn_frame(500, seed=2))
    fresh = tmp_path / "fresh.parquet"
    churn_frame(1200, drift=1.5, new_rule=True, seed=3).to_parquet(fresh, index=False)
    data_run = store.create_run("crash", "collect")
    store.log_dataset(data_run, str(fresh), name="fresh")
    store.end_run(data_run)
    work = tmp_path / "retrain"
    shutil.copytree(ROOT / "notebooks" / "lifecycle", work,
                    ignore=shutil.ignore_patterns("data", "output"))  # fmt: skip
    set_policy(store, NAME, {"pipeline": str(work / "pipeline.yaml"), "data": {"dataset": "fresh"}})

    # When an alert starts a retrain and the scheduler that started it is killed while its
    # pipeline runs, then another scheduler starts
    first = _scheduler(store, tmp_path / "first.log")
    try:
        wait_for(lambda: store.lease_holder("scheduler"), 60, 0.2, "the first scheduler leading")
        end = now_ms()
        store.record_event(MONITOR_ALERT_EVENT, NAME, {
            "rule": "drift", "metric": "dataset_drift_share", "state": "alert",
            "previous": "ok", "value": 0.6, "version": 1, "window_start": end - 5000,
            "window_end": end, "levels": ["alert", "alert"],
        })  # fmt: skip
        loop = wait_for(lambda: (store.list_ct_loops(NAME) or [None])[0], 60, 0.2, "a loop")

        def running() -> bool:
            try:
                return store.get_run(loop.pipeline_run_id).info.status == RunStatus.RUNNING.value
            except Exception:
                return False

        wait_for(running, 120, 0.2, "the retraining pipeline running")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    second = _scheduler(store, tmp_path / "second.log")
    try:

        def ended() -> Any:
            found = store.get_ct_loop(loop.id)
            return None if found.active else found

        done = wait_for(ended, 300, 0.2, "the loop's end")
    finally:
        second.terminate()
        second.wait(30)

    # Then the loop ended once, promoted, from one pipeline run; nothing else started
    assert (done.outcome, done.candidate) == ("promoted", 2), done.reason
    assert [lp.id for lp in store.list_ct_loops(NAME)] == [loop.id]
    pipeline_runs = store.search_runs(filter="tags.`mlops.pipeline_run` = 'churn-retrain'")
    assert [r.id for r in pipeline_runs] == [loop.pipeline_run_id]
    assert store.get_model_version(NAME, 2).stage == "Production"

    # And no server ran at promotion: one started now serves the new version
    server = start_server(store, f"{NAME}/Production", ServeOptions(port=0))
    assert server.version == 2
