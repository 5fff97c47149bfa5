"""The jupyter-mlops side of the tracking benchmarks; run it with the project venv (.venv).

Mirrors peer_mlflow.py call for call (same store kind: a local SQLite file). Prints one JSON
object on stdout. Numbers only: nothing here asserts a time.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _common import child_env, emit, ms, run_json, summary_ms

LOOP_CALLS = 200_000
LOOP_REPEATS = 3
BATCH_SIZE = 1000
BATCHES = 50
BATCH_REPEATS = 3
CREATE_RUNS = 200
WARMUP_RUNS = 5
FRESH_PROCESSES = 3

# The "first run" child: ``import jupyter_mlops`` is done before the clock starts; opening the
# store (set_store creates or opens it) and starting the run are timed.
FIRST_RUN_CHILD = r"""
import json, sys, time
t_import = time.perf_counter()
import jupyter_mlops as mlops
import_ms = (time.perf_counter() - t_import) * 1000.0
n_modules = len(sys.modules)
t0 = time.perf_counter()
mlops.set_store(sys.argv[1])
settle = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
time.sleep(settle)  # a pause between opening the store and the first run, as in a notebook
t1 = time.perf_counter()
run = mlops.start_run()
t2 = time.perf_counter()
imported = len(sys.modules) - n_modules
run.end()
print(json.dumps({
    "start_run_ms": (t2 - t0) * 1000.0 - settle * 1000.0,
    "set_store_ms": (t1 - t0) * 1000.0 - settle * 1000.0,
    "start_run_only_ms": (t2 - t1) * 1000.0,
    "import_and_start_run_ms": import_ms + (t2 - t0) * 1000.0 - settle * 1000.0,
    "modules_imported": imported,
}))
"""


def first_start_run(tmp: Path) -> dict[str, object]:
    """First ``start_run()`` of a fresh process, on a new and on an existing store."""
    new: list[dict[str, float]] = []
    existing: list[dict[str, float]] = []
    settled: list[dict[str, float]] = []
    env = child_env()
    for i in range(FRESH_PROCESSES):
        argv = [sys.executable, "-c", FIRST_RUN_CHILD, str(tmp / f"first-{i}")]
        new.append(run_json(argv, env))
        existing.append(run_json(argv, env))
        settled.append(run_json([*argv, "0.5"], env))

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    return {
        "first_start_run_new_store_ms": med(new, "start_run_ms"),
        "first_start_run_existing_store_ms": med(existing, "start_run_ms"),
        "first_start_run_store_open_ms": med(existing, "start_run_only_ms"),
        "first_start_run_settled_ms": med(settled, "start_run_only_ms"),
        "import_and_first_start_run_ms": med(existing, "import_and_start_run_ms"),
        "first_start_run_breakdown": {
            "new_store": {k: med(new, k) for k in new[0]},
            "existing_store": {k: med(existing, k) for k in existing[0]},
        },
        "first_start_run_samples": {
            "new_store_ms": [r["start_run_ms"] for r in new],
            "existing_store_ms": [r["start_run_ms"] for r in existing],
        },
    }


def main() -> None:
    warnings.simplefilter("ignore")
    import jupyter_mlops as mlops

    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-ours-"))
    try:
        result: dict[str, object] = {"tool": "jupyter-mlops", "version": mlops.__version__}
        result.update(first_start_run(tmp))

        store = tmp / "store"
        mlops.set_store(store)
        for _ in range(WARMUP_RUNS):  # store created, code paths warm
            with mlops.start_run(experiment="bench"):
                mlops.log_params({"a": 1, "b": 2})
                mlops.log_metric("m", 1.0)

        # Steady state: a run with 2 params and 1 metric, including its end. The metric is
        # buffered and written by the flush at run end, which is inside the timing.
        samples = []
        for i in range(CREATE_RUNS):
            t0 = time.perf_counter()
            with mlops.start_run(experiment="bench"):
                mlops.log_params({"a": i, "b": 2})
                mlops.log_metric("m", 1.0)
            samples.append(time.perf_counter() - t0)
        result["create_run_2p1m"] = summary_ms(samples)

        # One call per value, then flush(): the time includes writing every value.
        values = [1.0 / (i + 1) for i in range(LOOP_CALLS)]
        loops = []
        for _ in range(LOOP_REPEATS):
            with mlops.start_run(experiment="bench", name="loop"):
                t0 = time.perf_counter()
                for i, v in enumerate(values):
                    mlops.log_metric("loss", v, step=i)
                t1 = time.perf_counter()
                mlops.flush()
                t2 = time.perf_counter()
            loops.append((t2 - t0, t1 - t0, t2 - t1))
        total, calls_only, flush = (statistics.median(x) for x in zip(*loops, strict=True))
        result["log_metric_loop"] = {
            "calls": LOOP_CALLS,
            "repeats": LOOP_REPEATS,
            "seconds": total,
            "values_per_s": LOOP_CALLS / total,
            "calls_only_values_per_s": LOOP_CALLS / calls_only,
            "final_flush_ms": ms(flush),
            "values_per_s_each": [LOOP_CALLS / x[0] for x in loops],
        }

        # Durable batch writes through a Client, lists built before the clock.
        client = mlops.Client(store)
        run_id = client.create_run("bench", "batch")
        rates = []
        for r in range(BATCH_REPEATS):
            base = r * BATCHES * BATCH_SIZE
            batches = [
                [("loss", 1.0 / (j + 1), base + b * BATCH_SIZE + j) for j in range(BATCH_SIZE)]
                for b in range(BATCHES)
            ]
            t0 = time.perf_counter()
            for batch in batches:
                client.log_batch(run_id, metrics=batch)
            rates.append(time.perf_counter() - t0)
        client.end_run(run_id)
        elapsed = statistics.median(rates)
        result["log_batch"] = {
            "batch_size": BATCH_SIZE,
            "batches": BATCHES,
            "repeats": BATCH_REPEATS,
            "seconds": elapsed,
            "values_per_s": BATCH_SIZE * BATCHES / elapsed,
            "ms_per_batch": ms(elapsed / BATCHES),
            "values_per_s_each": [BATCH_SIZE * BATCHES / x for x in rates],
        }
        emit(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
