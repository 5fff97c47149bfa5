"""The MLflow side of the benchmark suite; run it with the peer venv (.venv-bench).

MLflow is driven the way its documentation shows, against a local SQLite tracking store
(``sqlite:///<tmp>/mlflow.db``), with telemetry off and its logging silenced. Prints one JSON
object on stdout. Numbers only: nothing here asserts a time.
"""

from __future__ import annotations

import os

# Before mlflow is imported: no usage telemetry leaves the machine, no git warnings.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import logging
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _common import child_env, emit, ms, run_json, summary_ms

LOOP_CALLS = 500
BATCH_SIZE = 1000  # MLflow's own per-request limit for metrics
BATCHES = 5
CREATE_RUNS = 30
WARMUP_RUNS = 3
FRESH_PROCESSES = 3

# The "first run" child: imports are done before the clock starts; pointing MLflow at the
# store (which creates or opens the database) and starting the run are timed.
FIRST_RUN_CHILD = r"""
import json, logging, sys, time, warnings
warnings.simplefilter("ignore")
t_import = time.perf_counter()
import mlflow
import_ms = (time.perf_counter() - t_import) * 1000.0
logging.getLogger("mlflow").setLevel(logging.ERROR)
logging.getLogger("alembic").setLevel(logging.ERROR)
t0 = time.perf_counter()
mlflow.set_tracking_uri(sys.argv[1])
# Open the store with a first query, so the first run can also be timed on its own.
mlflow.MlflowClient().search_experiments(max_results=1)
settle = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
time.sleep(settle)  # a pause between opening the store and the first run, as in a notebook
t1 = time.perf_counter()
run = mlflow.start_run()
t2 = time.perf_counter()
mlflow.end_run()
print(json.dumps({"start_run_ms": (t2 - t0) * 1000.0 - settle * 1000.0, "import_ms": import_ms,
                  "start_run_only_ms": (t2 - t1) * 1000.0}))
"""


def silence() -> None:
    warnings.simplefilter("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)


def first_start_run(tmp: Path) -> dict[str, object]:
    """First ``mlflow.start_run()`` of a fresh process, on a new and on an existing store."""
    new: list[float] = []
    existing: list[float] = []
    opened: list[float] = []
    settled: list[float] = []
    end_to_end: list[float] = []
    env = child_env()
    for i in range(FRESH_PROCESSES):
        uri = f"sqlite:///{tmp / f'first-{i}' / 'mlflow.db'}"
        (tmp / f"first-{i}").mkdir()
        argv = [sys.executable, "-c", FIRST_RUN_CHILD, uri]
        new.append(run_json(argv, env)["start_run_ms"])
        row = run_json(argv, env)
        existing.append(row["start_run_ms"])
        opened.append(row["start_run_only_ms"])
        settled.append(run_json([*argv, "0.5"], env)["start_run_only_ms"])
        end_to_end.append(row["import_ms"] + row["start_run_ms"])
    return {
        "first_start_run_store_open_ms": statistics.median(opened),
        "first_start_run_settled_ms": statistics.median(settled),
        "import_and_first_start_run_ms": statistics.median(end_to_end),
        "first_start_run_new_store_ms": statistics.median(new),
        "first_start_run_existing_store_ms": statistics.median(existing),
        "first_start_run_samples": {"new_store_ms": new, "existing_store_ms": existing},
    }


def main() -> None:
    silence()
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    silence()  # mlflow installs its own handlers on import
    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-mlflow-"))
    try:
        result: dict[str, object] = {"tool": "mlflow", "version": mlflow.__version__}
        result.update(first_start_run(tmp))

        mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
        mlflow.set_experiment("bench")
        for _ in range(WARMUP_RUNS):  # store created, code paths warm
            with mlflow.start_run():
                mlflow.log_params({"a": 1, "b": 2})
                mlflow.log_metric("m", 1.0)

        # Steady state: a run with 2 params and 1 metric, including its end.
        samples = []
        for i in range(CREATE_RUNS):
            t0 = time.perf_counter()
            with mlflow.start_run():
                mlflow.log_params({"a": i, "b": 2})
                mlflow.log_metric("m", 1.0)
            samples.append(time.perf_counter() - t0)
        result["create_run_2p1m"] = summary_ms(samples)

        # One call per value, synchronous (MLflow's default).
        values = [1.0 / (i + 1) for i in range(LOOP_CALLS)]
        with mlflow.start_run():
            t0 = time.perf_counter()
            for i, v in enumerate(values):
                mlflow.log_metric("loss", v, step=i)
            elapsed = time.perf_counter() - t0
        result["log_metric_loop"] = {
            "calls": LOOP_CALLS,
            "seconds": elapsed,
            "values_per_s": LOOP_CALLS / elapsed,
        }

        # log_batch: 1,000 metrics per call, distinct steps, objects built before the clock.
        client = MlflowClient()
        run = client.create_run(mlflow.get_experiment_by_name("bench").experiment_id)
        now = int(time.time() * 1000)
        batches = [
            [Metric("loss", 1.0 / (j + 1), now, b * BATCH_SIZE + j) for j in range(BATCH_SIZE)]
            for b in range(BATCHES)
        ]
        t0 = time.perf_counter()
        for batch in batches:
            client.log_batch(run.info.run_id, metrics=batch)
        elapsed = time.perf_counter() - t0
        client.set_terminated(run.info.run_id)
        result["log_batch"] = {
            "batch_size": BATCH_SIZE,
            "batches": BATCHES,
            "seconds": elapsed,
            "values_per_s": BATCH_SIZE * BATCHES / elapsed,
            "ms_per_batch": ms(elapsed / BATCHES),
        }
        emit(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
