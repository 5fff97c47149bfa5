"""jupyter-mlops' drift monitor on peer_evidently.py's workload; run it with the project venv.

The data: ``drift_data()`` (_common.py, the same numbers as the peer): a reference and a
current frame of 200,000 rows × 20 numeric columns, f0..f19, the current with known changes.

* Profile: ``build_reference(reference frame)`` — the sketches a version keeps (what
  registration stores; once per model), median of 3; and with a model's predictions and
  scores (a ``LogisticRegression`` fitted on the reference, target ``f0 + f1 > 0``), once.
* Check, in memory: ``check(reference, window_of_frame(current frame))`` against the stored
  reference (decoded from its JSON first, as a monitor reads it), the default methods and
  thresholds: the figure compared with Evidently's ``Report.run``, which gets the same two
  frames. Median of 7, the first apart. Per column: method, score and verdict, for the
  agreement with Evidently's verdicts (run.py compares them).
* Monitor, from the store: the current frame recorded as a server records traffic (one-row
  requests, ``serving.recorder.tables_of``, 1,000 a table), then ``monitor(client, "drift",
  rows=200_000, windows=1)``: read the window back, check it (predictions and scores too).
  Median of 5 in this process; and the whole ``jupyter-mlops --store ... monitor drift --rows
  200000 --windows 1 --format json`` process, 3 times, median.

Prints one JSON object on stdout. Numbers only: nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import DRIFT_CHANGES, DRIFT_COLUMNS, drift_data, emit

ROUNDS_CHECK = 7
ROUNDS_MONITOR = 5
ROUNDS_CLI = 3
TABLE_ROWS = 1000


def main() -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops import Client
    from jupyter_mlops.monitoring.check import check, window_of_frame
    from jupyter_mlops.monitoring.monitor import monitor
    from jupyter_mlops.monitoring.reference import Reference, build_reference
    from jupyter_mlops.serving.recorder import tables_of

    rows = int(os.environ.get("MLOPS_BENCH_DRIFT_ROWS", "200000"))
    reference_array, current_array = drift_data(rows=rows)
    reference_frame = pd.DataFrame(reference_array, columns=DRIFT_COLUMNS)
    current_frame = pd.DataFrame(current_array, columns=DRIFT_COLUMNS)

    build_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        built = build_reference(reference_frame)
        build_s.append(time.perf_counter() - t0)
    encoded = json.dumps(built.to_dict())
    target = (reference_frame["f0"] + reference_frame["f1"] > 0).astype(int).to_numpy()
    model = LogisticRegression(max_iter=1000).fit(reference_frame, target)
    t0 = time.perf_counter()
    with_model = build_reference(reference_frame, model, target)
    build_model_s = time.perf_counter() - t0

    stored = Reference.from_dict(json.loads(encoded))
    check_s = []
    report = None
    for _ in range(ROUNDS_CHECK):
        t0 = time.perf_counter()
        report = check(stored, window_of_frame(current_frame))
        check_s.append(time.perf_counter() - t0)
    assert report is not None
    per_column = {
        d.column: {
            "method": d.method,
            "score": d.score,
            "threshold": d.threshold,
            "drifted": d.drifted,
            "change": DRIFT_CHANGES.get(d.column, ""),
        }
        for d in report.drift
    }

    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-monitor-"))
    try:
        url = f"sqlite:///{tmp}/mlops.db"
        client = Client(url)
        run_id = client.create_run("bench-monitor")
        client.log_model(run_id, model, "model", input_example=reference_frame.head(2))
        client.end_run(run_id)
        version = client.register_model(f"runs:/{run_id}/model", "drift")
        client.save_reference(version.logged_model_id, with_model.to_dict(), source="bench")
        predictions = model.predict(current_array)
        start_ms = int(time.time() * 1000) - 60_000
        names = list(DRIFT_COLUMNS)
        scorer = model.predict_proba
        t0 = time.perf_counter()
        tables = []
        for k in range(0, rows, TABLE_ROWS):
            records = [
                (
                    uuid.uuid4().hex,
                    start_ms + i // 10,
                    version.version,
                    200,
                    0.25,
                    names,
                    current_array[i : i + 1],
                    "prediction",
                    predictions[i : i + 1],
                    None,
                    scorer,
                )
                for i in range(k, min(k + TABLE_ROWS, rows))
            ]
            tables.extend(tables_of(records))
        client.log_predictions(uuid.uuid4().hex, "drift", tables)
        record_s = time.perf_counter() - t0

        monitor_s = []
        monitored = None
        for _ in range(ROUNDS_MONITOR):
            t0 = time.perf_counter()
            monitored = monitor(client, "drift", rows=rows, windows=1)
            monitor_s.append(time.perf_counter() - t0)
        assert monitored is not None and monitored.latest is not None
        latest = monitored.latest
        same_verdicts = all(per_column[d.column]["drifted"] == d.drifted for d in latest.drift)
        client.close()

        cli = [str(Path(sys.executable).parent / "jupyter-mlops"), "--store", url]
        cli += ["monitor", "drift", "--rows", str(rows), "--windows", "1", "--format", "json"]
        cli_s = []
        for _ in range(ROUNDS_CLI):
            t0 = time.perf_counter()
            proc = subprocess.run(cli, capture_output=True, text=True, check=False)
            cli_s.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-2000:])
        cli_report = json.loads(proc.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    emit(
        {
            "rows": rows,
            "columns": len(DRIFT_COLUMNS),
            "profile_build_s": statistics.median(build_s),
            "profile_build_samples_s": build_s,
            "profile_build_with_model_s": build_model_s,
            "profile_json_bytes": len(encoded),
            "check_median_s": statistics.median(check_s[1:]),
            "check_first_s": check_s[0],
            "check_samples_s": check_s,
            "per_column": per_column,
            "drifted_columns": sum(1 for d in report.drift if d.drifted),
            "dataset_drift": report.dataset_drift["drifted"],
            "record_s": record_s,
            "monitor_median_s": statistics.median(monitor_s),
            "monitor_samples_s": monitor_s,
            "monitor_rows": latest.rows,
            "monitor_same_verdicts_as_check": same_verdicts,
            "monitor_prediction_drift": None
            if latest.prediction_drift is None
            else latest.prediction_drift.to_dict(),
            "monitor_estimated_accuracy": (latest.quality.get("estimated") or {}).get("accuracy"),
            "cli_median_s": statistics.median(cli_s),
            "cli_samples_s": cli_s,
            "cli_windows": len(cli_report["windows"]),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        }
    )


if __name__ == "__main__":
    main()
