"""Searching 100,000 runs, MLflow side; run it with the peer venv (.venv-bench).

The same runs as ours_search.py (its ``make_runs``, imported: standard library only) go into an
MLflow SQLite tracking store (``sqlite:///<tmp>/mlflow.db``), then the same queries are timed,
each a warm-up call plus ``REPEATS`` timed calls, through ``MlflowClient().search_runs`` (Run
entities) and ``mlflow.search_runs`` (a pandas DataFrame):

* ``page1``: ``order_by=["attributes.start_time DESC"]``, ``max_results=100``;
* ``filter``: ``metrics.acc > 0.9 and params.model = 'rf'``, ``order_by=["metrics.acc DESC"]``;
* ``or_filter``: MLflow's filter language has no ``or``: two searches (``params.model = 'rf'``
  and ``metrics.loss < 0.05``, each the top 100 by ``start_time DESC``) merged on run id and cut
  to the first 100 by start time, which is the right answer for page 1 (not for later pages);
* ``deep_page``: ``start_time DESC`` from offset 50,000, by a page token made with MLflow's own
  ``SearchUtils.create_page_token(50000)`` (a client would otherwise follow 500 tokens);
  ``mlflow.search_runs`` has no page token, so the DataFrame API skips this query.

MLflow has no total count of matches (only a next-page token), so none is timed.

Seeding: creating 100,000 runs through ``MlflowClient`` (``create_run`` + ``log_batch`` +
``set_terminated``) takes ~18 ms a run here, ~30 minutes in all; so the experiments are created
through MLflow (which also creates the schema), and the rows ``start_run`` + ``log_batch``
write (runs, tags, params, metrics history and latest metrics) are bulk-inserted with sqlite3
in one transaction. A check reads one run back through ``MlflowClient.get_run``.
"""

from __future__ import annotations

import os

# Before mlflow is imported: no usage telemetry leaves the machine, no git warnings.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import logging
import shutil
import sqlite3
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import emit
from ours_search import (
    DEEP_OFFSET,
    EXPERIMENTS,
    FILTER,
    N_RUNS,
    OR_PARTS,
    PAGE,
    REPEATS,
    ids_digest,
    make_runs,
    time_query,
)

GIT_COMMIT = "9f2c1e0d4b7a8c6e5f3a2b1c0d9e8f7a6b5c4d3e"


def silence() -> None:
    warnings.simplefilter("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)


def seed_store(tmp: Path) -> tuple[list[str], dict[str, Any]]:
    """An MLflow SQLite store with the benchmark runs; returns (experiment ids, stats)."""
    import mlflow
    from mlflow import MlflowClient

    t0 = time.perf_counter()
    db = tmp / "mlflow.db"
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)  # for the whole process: the queries use it too
    client = MlflowClient()
    exp_ids = [
        client.create_experiment(name, artifact_location=str(tmp / "mlruns" / name))
        for name in EXPERIMENTS
    ]
    locations = [client.get_experiment(e).artifact_location for e in exp_ids]
    run_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[str, str, str]] = []
    param_rows: list[tuple[str, str, str]] = []
    metric_rows: list[tuple[Any, ...]] = []
    latest_rows: list[tuple[Any, ...]] = []
    for run in make_runs():
        exp = run.experiment
        run_rows.append(
            (
                run.id, run.name, "UNKNOWN", "", "", "alice", run.status, run.start_time,
                run.end_time, "", "active", f"{locations[exp]}/{run.id}/artifacts",
                int(exp_ids[exp]), None,
            )
        )  # fmt: skip
        # The tags mlflow.start_run sets: user, source, git commit (in a checkout), run name.
        for key, tag in (
            ("mlflow.user", "alice"),
            ("mlflow.source.name", "train.py"),
            ("mlflow.source.type", "LOCAL"),
            ("mlflow.source.git.commit", GIT_COMMIT),
            ("mlflow.runName", run.name),
        ):
            tag_rows.append((key, tag, run.id))
        for key, text in run.params.items():
            param_rows.append((key, text, run.id))
        for key, value in run.metrics.items():
            metric_rows.append((key, value, run.end_time, run.id, 0, 0))
            latest_rows.append((key, value, run.end_time, 0, 0, run.id))
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size = -1000000")  # this connection only
        conn.execute("BEGIN")
        for sql, rows in (
            (
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
                "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
                "artifact_uri, experiment_id, deleted_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                run_rows,
            ),
            ("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tag_rows),
            ("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", param_rows),
            (
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                metric_rows,
            ),
            (
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                latest_rows,
            ),
        ):
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
    finally:
        conn.close()
    check = client.get_run(run_rows[0][0]).data
    counts = (len(check.params), len(check.metrics), len(check.tags))
    if counts != (20, 10, 5):
        raise RuntimeError(f"seeded run reads back with (params, metrics, tags) = {counts}")
    return (
        exp_ids,
        {
            "seconds": round(time.perf_counter() - t0, 2),
            "runs": len(run_rows),
            "params": len(param_rows),
            "metrics": len(latest_rows),
            "tags": len(tag_rows),
            "db_mb": round(db.stat().st_size / 1e6, 1),
        },
    )


def client_queries(exp_ids: list[str], repeats: int) -> dict[str, Any]:
    """The four queries through ``MlflowClient().search_runs`` (Run entities)."""
    from mlflow import MlflowClient
    from mlflow.utils.search_utils import SearchUtils

    client = MlflowClient()
    by_time = ["attributes.start_time DESC"]

    def search(filter_string: str, order_by: list[str], token: Any = None) -> list[Any]:
        return list(
            client.search_runs(
                exp_ids, filter_string, max_results=PAGE, order_by=order_by, page_token=token
            )
        )

    def or_merge() -> list[Any]:
        found: dict[str, Any] = {}
        for part in OR_PARTS:
            for run in search(part, by_time):
                found.setdefault(run.info.run_id, run)
        ordered = sorted(found.values(), key=lambda r: (-r.info.start_time, r.info.run_id))
        return ordered[:PAGE]

    deep_token = SearchUtils.create_page_token(DEEP_OFFSET)
    calls = {
        "page1": lambda: search("", by_time),
        "filter": lambda: search(FILTER, ["metrics.acc DESC"]),
        "or_filter": or_merge,
        "deep_page": lambda: search("", by_time, deep_token),
    }
    out: dict[str, Any] = {}
    for name, call in calls.items():
        stats, runs = time_query(call, repeats)
        ids = [r.info.run_id for r in runs]
        out[name] = {**stats, "returned": len(ids), "ids_digest": ids_digest(ids)}
    out["or_filter"]["note"] = "no OR in MLflow: two searches merged"
    return out


def pandas_queries(exp_ids: list[str], repeats: int) -> dict[str, Any]:
    """``mlflow.search_runs`` (DataFrame) for the queries it can express."""
    import mlflow
    import pandas as pd

    by_time = ["attributes.start_time DESC"]

    def search(filter_string: str, order_by: list[str]) -> Any:
        return mlflow.search_runs(
            experiment_ids=exp_ids,
            filter_string=filter_string,
            order_by=order_by,
            max_results=PAGE,
        )

    def or_merge() -> Any:
        frames = [search(part, by_time) for part in OR_PARTS]
        merged = pd.concat(frames).drop_duplicates("run_id")
        merged = merged.sort_values(["start_time", "run_id"], ascending=[False, True])
        return merged.head(PAGE)

    calls = {
        "page1": lambda: search("", by_time),
        "filter": lambda: search(FILTER, ["metrics.acc DESC"]),
        "or_filter": or_merge,
    }
    out: dict[str, Any] = {}
    for name, call in calls.items():
        stats, frame = time_query(call, repeats)
        ids = list(frame["run_id"])
        out[name] = {**stats, "returned": len(ids), "ids_digest": ids_digest(ids)}
    return out


def main() -> None:
    silence()
    import mlflow

    tmp = Path(tempfile.mkdtemp(prefix="mlflow-bench-search-"))
    try:
        exp_ids, seed = seed_store(tmp)
        result: dict[str, Any] = {
            "version": mlflow.__version__,
            "n_runs": N_RUNS,
            "repeats": REPEATS,
            "seed": seed,
            "client": client_queries(exp_ids, REPEATS),
            "pandas": pandas_queries(exp_ids, REPEATS),
        }
        emit(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
