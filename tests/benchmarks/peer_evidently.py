"""Evidently's data drift report on 200,000 rows × 20 numeric columns; run it with the Evidently
venv (.venv-evidently: evidently 0.7.x needs pandas < 3). ours_monitor.py is meant to judge the
same data with jupyter-mlops.

The data: ``drift_data()`` (_common.py: reference and current samples of 200,000 rows, f0–f10
changed as ``DRIFT_CHANGES`` says, f11–f19 unchanged; seeded), as two pandas frames of float64
columns (built untimed). Timed: ``Report([DataDriftPreset()]).run(current_data=current,
reference_data=reference)`` with every default, 3 rounds (median; each round a new ``Report``),
and for reference scipy alone on the same columns: ``ks_2samp(reference, current)`` and
``wasserstein_distance(reference, current) / std(reference)`` on every column, all rows. From
the last report: per column the test Evidently chose, its score, threshold and verdict, and the
dataset verdict (drifted columns, their share). Also the import of evidently, the whole script
(``process_s``, from the first statement to the output) and its peak memory.
Prints one JSON object on stdout. Numbers only: nothing here asserts a time.
"""

import time

PROCESS_T0 = time.perf_counter()  # before anything else: process_s covers the whole script

import os  # noqa: E402

# Before evidently is imported: no usage telemetry leaves the machine.
os.environ.setdefault("DO_NOT_TRACK", "true")

import resource  # noqa: E402
import statistics  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

from _common import DRIFT_CHANGES, drift_data, emit, summary_ms  # noqa: E402

ROUNDS = 3
# MLOPS_BENCH_DRIFT_ROWS shrinks the samples for a quick try.
ROWS = int(os.environ.get("MLOPS_BENCH_DRIFT_ROWS", "200000"))
COLUMNS = 20
SEED = 0


def stattest_ids() -> dict[str, str]:
    """Display name → registered name (``"Wasserstein distance (normed)"`` → ``"wasserstein"``)
    of every test evidently ships: its reports give the display name."""
    from evidently.legacy.calculations import stattests
    from evidently.legacy.calculations.stattests import StatTest

    return {
        test.display_name: test.name
        for test in vars(stattests).values()
        if isinstance(test, StatTest)
    }


def legacy_results(snapshot: Any) -> tuple[Any, Any]:
    """The results behind the report, which shows only the scores: the ``DatasetDriftMetric``
    that ``DriftedColumnsCount`` computes (the dataset verdict) and the ``DataDriftTable`` the
    preset renders (each column's test, score, threshold and verdict)."""
    from evidently.legacy.metrics.data_drift.data_drift_table import DataDriftTableResults
    from evidently.legacy.metrics.data_drift.dataset_drift_metric import DatasetDriftMetricResults

    found: dict[type, Any] = {}
    for result, _widgets in snapshot.context._legacy_metrics.values():
        found.setdefault(type(result), result)
    missing = {DatasetDriftMetricResults, DataDriftTableResults} - set(found)
    if missing:
        raise LookupError(f"not in the report: {', '.join(t.__name__ for t in missing)}")
    return found[DatasetDriftMetricResults], found[DataDriftTableResults]


def main() -> None:
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import scipy
    from scipy.stats import ks_2samp, wasserstein_distance

    import_deps_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    import evidently
    from evidently import Report
    from evidently.presets import DataDriftPreset

    import_evidently_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    ref_array, cur_array = drift_data(ROWS, COLUMNS, SEED)
    names = [f"f{i}" for i in range(COLUMNS)]
    reference = pd.DataFrame(ref_array, columns=names)
    current = pd.DataFrame(cur_array, columns=names)
    data_s = time.perf_counter() - t0

    result: dict[str, Any] = {
        "version": evidently.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "rows": ROWS,
        "columns": COLUMNS,
        "seed": SEED,
        "rounds": ROUNDS,
        "loadavg_before": os.getloadavg(),
        "import_deps_s": round(import_deps_s, 3),
        "import_evidently_s": round(import_evidently_s, 3),
        "data_s": round(data_s, 3),
    }

    samples: list[float] = []
    snapshot: Any = None
    verdicts: list[dict[str, bool]] = []
    for _ in range(ROUNDS):
        report = Report([DataDriftPreset()])
        t0 = time.perf_counter()
        snapshot = report.run(current_data=current, reference_data=reference)
        samples.append(time.perf_counter() - t0)
        try:
            by_column = legacy_results(snapshot)[1].drift_by_columns
            verdicts.append({name: bool(by_column[name].drift_detected) for name in names})
        except Exception as exc:  # a private attribute: a release may change it
            result["verdicts_error"] = f"{type(exc).__name__}: {exc}"
    result["report"] = summary_ms(samples)
    result["report_median_s"] = round(statistics.median(samples), 3)
    result["report_samples_s"] = [round(s, 3) for s in samples]
    result["verdicts_same_every_round"] = bool(verdicts) and all(v == verdicts[0] for v in verdicts)

    # The report's public results: DriftedColumnsCount (count, share) and one ValueDrift per
    # column (score; the test and threshold it resolved in its config).
    value_drift: dict[str, dict[str, Any]] = {}
    metrics = snapshot.dict()["metrics"] if snapshot is not None else []
    for metric in metrics:
        config = metric.get("config") or {}
        if config.get("type", "").endswith(":DriftedColumnsCount"):
            result["drifted_columns"] = int(metric["value"]["count"])
            result["drifted_share"] = float(metric["value"]["share"])
            result["drift_share_threshold"] = config.get("drift_share")
        elif config.get("type", "").endswith(":ValueDrift"):
            value_drift[config["column"]] = {
                "method": config.get("method"),
                "threshold": config.get("threshold"),
                "score": float(metric["value"]),
            }

    ids = stattest_ids()
    legacy = None
    try:
        dataset, legacy = legacy_results(snapshot)
        result["dataset_drift"] = bool(dataset.dataset_drift)
        result["dataset_drift_rule"] = f"share of drifted columns >= {dataset.drift_share}"
    except Exception as exc:
        result["verdicts_error"] = f"{type(exc).__name__}: {exc}"

    # scipy alone, every column and every row: the K-S test (Evidently's default up to 1,000
    # reference rows) and the Wasserstein distance over the reference's std (ddof 0), above.
    per_column: dict[str, dict[str, Any]] = {}
    ks_s = wd_s = 0.0
    for index, name in enumerate(names):
        ref, cur = ref_array[:, index], cur_array[:, index]
        t0 = time.perf_counter()
        ks = ks_2samp(ref, cur)
        ks_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        wd = wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
        wd_s += time.perf_counter() - t0
        row: dict[str, Any] = {"change": DRIFT_CHANGES.get(name, "unchanged")}
        shown = value_drift.get(name) or {}
        row["stattest"] = shown.get("method")
        row["stattest_id"] = ids.get(shown.get("method") or "")
        row["score"] = shown.get("score")
        row["threshold"] = shown.get("threshold")
        if legacy is not None:
            column = legacy.drift_by_columns[name]
            row["drifted"] = bool(column.drift_detected)
            row["column_type"] = str(column.column_type)
            # The preset computes each column more than once; the runs must agree.
            row["score_matches_value_drift"] = bool(column.drift_score == shown.get("score"))
        row["ks_statistic"] = float(ks.statistic)
        row["ks_pvalue"] = float(ks.pvalue)
        row["wasserstein_norm"] = float(wd)
        per_column[name] = row
    result["per_column"] = per_column
    result["ks_2samp_all_columns_s"] = round(ks_s, 3)
    result["wasserstein_all_columns_s"] = round(wd_s, 3)
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["loadavg_after"] = os.getloadavg()
    result["process_s"] = round(time.perf_counter() - PROCESS_T0, 3)
    emit(result)


if __name__ == "__main__":
    main()
