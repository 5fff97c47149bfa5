"""Searching 100,000 runs, jupyter-mlops side; run it with the project venv (.venv).

Seeds a fresh SQLite store with 100,000 runs × 20 params × 10 metrics in 3 experiments (not
timed, ~25 s), then times five queries, each a warm-up call plus up to ``REPEATS`` (30) timed
calls within ``BUDGET_S`` (12 s) per query (see ``time_query``):

* ``page1``: page 1 of all runs, ``start_time DESC``, limit 100 (with the total count);
* ``filter``: ``metrics.acc > 0.9 and params.model = 'rf'`` by ``metrics.acc DESC``, limit 100,
  with the total count;
* ``or_filter``: ``params.model = 'rf' or metrics.loss < 0.05`` by ``start_time DESC``;
* ``deep_page``: ``start_time DESC``, offset 50,000, limit 100;
* ``rest_filter``: ``filter`` through ``GET mlops/api/v1/runs`` of a real Jupyter server with
  the extension (``jupyter server`` started as a subprocess on the seeded store, token auth),
  timed from this process with urllib: request, response body and ``json.loads``.

The Python queries go through ``Client.search_runs_page`` naming the three experiments (as the
peer's ``experiment_ids``). Prints one JSON object on stdout; nothing here asserts a time. The
store lives in a temporary folder, removed at the end. ``MLOPS_BENCH_SEARCH_RUNS``,
``_REPEATS`` and ``_BUDGET_S`` override the sizes (both scripts read them).

The data set (``make_runs``) is plain standard library and seeded, so that peer_mlflow_search.py
imports it and both tools hold the very same runs: the scripts report a digest of the run ids
each query returned, and run.py checks that the two tools agree.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import emit, ms, summary_ms

N_RUNS = int(os.environ.get("MLOPS_BENCH_SEARCH_RUNS", "100000"))
REPEATS = int(os.environ.get("MLOPS_BENCH_SEARCH_REPEATS", "30"))
BUDGET_S = float(os.environ.get("MLOPS_BENCH_SEARCH_BUDGET_S", "12"))  # per query, timed calls
SEED = 20240601
EXPERIMENTS = ("churn", "fraud", "vision")
T0_MS = 1_700_000_000_000  # the first run's start; one run a minute after it
PAGE = 100
DEEP_OFFSET = 50_000
FILTER = "metrics.acc > 0.9 and params.model = 'rf'"
OR_FILTER = "params.model = 'rf' or metrics.loss < 0.05"
OR_PARTS = ("params.model = 'rf'", "metrics.loss < 0.05")  # for a tool without OR
SERVER_TOKEN = "bench"
SERVER_WAIT_S = 60.0

# ------------------------------------------------------------------------------ data set


@dataclass
class SeedRun:
    id: str
    experiment: int  # index into EXPERIMENTS
    name: str
    status: str
    start_time: int
    end_time: int
    params: dict[str, str]  # as text, the way both tools store params
    metrics: dict[str, float]


def _log_uniform(rng: random.Random, low: float, high: float) -> str:
    return f"{10 ** rng.uniform(math.log10(low), math.log10(high)):.3g}"


def make_runs(n: int = N_RUNS, seed: int = SEED) -> Iterator[SeedRun]:
    """``n`` runs of a hyper-parameter search: 20 params, 10 metrics with a realistic spread.

    Accuracy depends on the model (median: rf 0.86, xgb 0.88, svm 0.83, lr 0.80; about 17 % of
    the rf runs above 0.9), the other metrics follow it with noise. No two accuracies or start
    times tie, so two tools with different tie-breaks still return the same pages.
    """
    rng = random.Random(seed)
    base_acc = {"rf": 0.86, "xgb": 0.88, "svm": 0.83, "lr": 0.80}
    for i in range(n):
        model = rng.choice(("rf", "lr", "xgb", "svm"))
        params = {
            "model": model,
            "n_estimators": str(rng.choice((10, 50, 100, 200, 300, 500, 1000))),
            "lr": _log_uniform(rng, 1e-4, 1e-1),
            "max_depth": str(rng.randint(2, 32)),
            "min_samples_split": str(rng.randint(2, 20)),
            "min_samples_leaf": str(rng.randint(1, 10)),
            "subsample": f"{rng.uniform(0.5, 1.0):.2f}",
            "colsample_bytree": f"{rng.uniform(0.3, 1.0):.2f}",
            "reg_alpha": _log_uniform(rng, 1e-5, 1.0),
            "reg_lambda": _log_uniform(rng, 1e-5, 10.0),
            "C": _log_uniform(rng, 1e-3, 1e3),
            "kernel": rng.choice(("rbf", "linear", "poly")),
            "penalty": rng.choice(("l1", "l2", "elasticnet")),
            "solver": rng.choice(("lbfgs", "saga", "liblinear")),
            "batch_size": str(rng.choice((32, 64, 128, 256))),
            "epochs": str(rng.randint(5, 100)),
            "optimizer": rng.choice(("adam", "sgd", "rmsprop")),
            "seed": str(rng.randrange(10_000)),
            "dataset_version": f"v{rng.randint(1, 5)}",
            "feature_set": rng.choice(("base", "base+text", "all")),
        }
        # Multiplicative noise on the error rate: values spread like real scores and never tie.
        acc = max(0.3, 1.0 - (1.0 - base_acc[model]) * math.exp(rng.gauss(0.0, 0.35)))
        precision = max(0.3, 1.0 - (1.0 - acc) * math.exp(rng.gauss(0.0, 0.2)))
        recall = max(0.3, 1.0 - (1.0 - acc) * math.exp(rng.gauss(0.1, 0.25)))
        val_acc = max(0.3, 1.0 - (1.0 - acc) * math.exp(abs(rng.gauss(0.1, 0.15))))
        metrics = {
            "acc": acc,
            "f1": 2 * precision * recall / (precision + recall),
            "auc": 1.0 - (1.0 - acc) * math.exp(rng.gauss(-0.7, 0.3)),
            "loss": (1.0 - acc) * math.exp(rng.gauss(0.0, 0.6)),
            "precision": precision,
            "recall": recall,
            "val_acc": val_acc,
            "val_loss": (1.0 - val_acc) * math.exp(rng.gauss(0.1, 0.6)),
            "train_time_s": math.exp(rng.gauss(3.0, 1.2)),
            "inference_ms": math.exp(rng.gauss(0.5, 0.8)),
        }
        roll = rng.random()
        status = "FINISHED" if roll < 0.95 else "FAILED" if roll < 0.99 else "KILLED"
        start = T0_MS + i * 60_000 + rng.randrange(59_000)
        yield SeedRun(
            id=f"{rng.getrandbits(128):032x}",
            experiment=rng.randrange(len(EXPERIMENTS)),
            name=f"trial-{i:06d}",
            status=status,
            start_time=start,
            end_time=start + int(metrics["train_time_s"] * 1000) + rng.randrange(5_000),
            params=params,
            metrics=metrics,
        )


def ids_digest(ids: Sequence[str]) -> str:
    """A short digest of an ordered list of run ids, to compare two tools' answers."""
    return hashlib.sha1(",".join(ids).encode()).hexdigest()[:16]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_query(
    fn: Callable[[], Any], repeats: int, budget_s: float = BUDGET_S
) -> tuple[dict[str, Any], Any]:
    """One warm-up call (``warmup_ms``), then up to ``repeats`` timed calls within ``budget_s``.

    At least one timed call; a call slower than the whole budget is timed once, by its warm-up
    call, so that a 20-second query does not take the suite with it (``n`` says how many).
    """
    t0 = time.perf_counter()
    result = fn()
    warmup = time.perf_counter() - t0
    samples: list[float] = [warmup] if warmup > budget_s else []
    deadline = time.perf_counter() + (0.0 if samples else budget_s)
    while len(samples) < repeats and (not samples or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    stats: dict[str, Any] = summary_ms(samples)
    stats["warmup_ms"] = ms(warmup)
    stats["p50_ms"] = stats["median_ms"]
    return stats, result


# ------------------------------------------------------------------------------ seeding

RUN_COLUMNS = (
    "id", "experiment_id", "name", "status", "start_time", "end_time", "heartbeat", "user",
    "host", "pid", "python_version", "git_commit", "git_dirty", "environment",
)  # fmt: skip
PARAM_COLUMNS = ("run_id", "key", "value", "value_num")
LATEST_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")
CHUNK_COLUMNS = (
    "run_id", "key", "n", "min_step", "max_step", "step_data", "value_data", "time_data",
)  # fmt: skip
ENVIRONMENT = {
    "python": "3.11.9",
    "platform": "Linux-6.8.0-x86_64-with-glibc2.39",
    "executable": "/home/user/.venv/bin/python",
    "packages": {
        "ipykernel": "6.29.5",
        "jupyter-mlops": "0.1.0",
        "numpy": "2.1.3",
        "pandas": "2.2.3",
        "scikit-learn": "1.5.2",
        "scipy": "1.14.1",
        "xgboost": "2.1.3",
    },
}


def seed_store(folder: Path, n_runs: int = N_RUNS) -> dict[str, Any]:
    """Create the store with the Client, then bulk-insert the runs in one write transaction.

    The rows are those ``Store.create_run``, ``log_params``, ``log_metric_rows`` and
    ``update_run`` write for a finished run whose metrics were logged once (one history chunk
    of one value, packed as the store packs it, plus the latest value; ``value_num`` from the
    store's own parser), inserted by executemany on the schema tables. On 300 runs the two
    ways give identical tables; the API way spends ~25 s more here (100,000 write
    transactions for the params, numpy grouping of 1,000,000 one-value series). One run is
    read back through ``Client.get_run`` as a check.
    """
    import jupyter_mlops as mlops
    from jupyter_mlops.store.sql.engine import write_transaction
    from jupyter_mlops.store.sql.records import as_number
    from jupyter_mlops.store.sql.schema import latest_metrics, metric_chunks, params, runs

    t0 = time.perf_counter()
    client = mlops.Client(folder)
    store: Any = client.store
    exp_ids = [client.get_or_create_experiment(name).id for name in EXPERIMENTS]
    env_json = json.dumps(ENVIRONMENT)
    run_rows: list[tuple[Any, ...]] = []
    param_rows: list[tuple[Any, ...]] = []
    chunk_rows: list[tuple[Any, ...]] = []
    latest_rows: list[tuple[Any, ...]] = []
    numbers: dict[str, float | None] = {}
    step0 = struct.pack("<q", 0)
    for run in make_runs(n_runs):
        run_rows.append(
            (
                run.id, exp_ids[run.experiment], run.name, run.status, run.start_time,
                run.end_time, run.end_time, "alice", "ws-01", 4242, "3.11.9",
                "9f2c1e0d4b7a8c6e5f3a2b1c0d9e8f7a6b5c4d3e", False, env_json,
            )
        )  # fmt: skip
        for key, text in run.params.items():
            if text not in numbers:
                numbers[text] = as_number(text)
            param_rows.append((run.id, key, text, numbers[text]))
        stamp = struct.pack("<q", run.end_time)
        for key, value in run.metrics.items():
            chunk_rows.append((run.id, key, 1, 0, 0, step0, struct.pack("<d", value), stamp))
            latest_rows.append((run.id, key, value, False, 0, run.end_time))
    generated = time.perf_counter() - t0
    with write_transaction(store.engine) as conn:
        # A connection setting, not stored in the file: room for the indexes being built.
        conn.exec_driver_sql("PRAGMA cache_size = -1000000")
        for table, cols, rows in (
            (runs, RUN_COLUMNS, run_rows),
            (params, PARAM_COLUMNS, param_rows),
            (metric_chunks, CHUNK_COLUMNS, chunk_rows),
            (latest_metrics, LATEST_COLUMNS, latest_rows),
        ):
            assert set(cols) <= set(table.c.keys()), cols
            quoted = ", ".join(f'"{c}"' for c in cols)
            sql = f"INSERT INTO {table.name} ({quoted}) VALUES ({', '.join('?' * len(cols))})"
            conn.exec_driver_sql(sql, rows)
    store.close()
    first = next(make_runs(1))
    check = mlops.Client(folder).get_run(first.id)
    if check.params != first.params or check.metrics != first.metrics:
        raise RuntimeError(f"seeded run {first.id} reads back differently: {check}")
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "generate_seconds": round(generated, 2),
        "runs": len(run_rows),
        "params": len(param_rows),
        "metrics": len(latest_rows),
        "db_mb": round((folder / "mlops.db").stat().st_size / 1e6, 1),
    }


# ------------------------------------------------------------------------------ queries

QUERIES: dict[str, dict[str, Any]] = {
    "page1": {"filter": None, "order_by": ["start_time DESC"], "offset": 0},
    "filter": {"filter": FILTER, "order_by": ["metrics.acc DESC"], "offset": 0},
    "or_filter": {"filter": OR_FILTER, "order_by": ["start_time DESC"], "offset": 0},
    "deep_page": {"filter": None, "order_by": ["start_time DESC"], "offset": DEEP_OFFSET},
}


def python_queries(folder: Path, repeats: int) -> dict[str, Any]:
    """The four queries through ``Client.search_runs_page`` (with the total count)."""
    import jupyter_mlops as mlops

    client = mlops.Client(folder)
    out: dict[str, Any] = {}
    for name, q in QUERIES.items():

        def call(q: dict[str, Any] = q) -> Any:
            return client.search_runs_page(
                experiment=list(EXPERIMENTS),
                filter=q["filter"],
                order_by=q["order_by"],
                limit=PAGE,
                offset=q["offset"],
            )

        stats, page = time_query(call, repeats)
        ids = [r.id for r in page.runs]
        out[name] = {
            **stats,
            **q,
            "returned": len(ids),
            "total": page.total,
            "ids_digest": ids_digest(ids),
        }
    client.store.close()
    return out


def start_server(folder: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    """``jupyter server`` with the extension on ``folder``; returns (process, base URL, s)."""
    port = free_port()
    log = (tmp / "server.log").open("wb")
    # No user or system configuration: the extension is enabled on the command line.
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_NO_CONFIG="1")
    argv = [
        sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser",
        "--ServerApp.jpserver_extensions=jupyter_mlops=True",
        f"--ServerApp.token={SERVER_TOKEN}", f"--port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={tmp}", f"--MlopsApp.store={folder}",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    base = f"http://127.0.0.1:{port}/mlops/api/v1"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited with {proc.returncode}: {tail(tmp)}")
        if time.perf_counter() - t0 > SERVER_WAIT_S:
            stop_server(proc)
            raise RuntimeError(f"jupyter server not ready after {SERVER_WAIT_S} s: {tail(tmp)}")
        try:
            get_json(f"{base}/info")
            return proc, base, time.perf_counter() - t0
        except urllib.error.HTTPError as exc:  # up, but without the extension
            stop_server(proc)
            raise RuntimeError(f"GET {base}/info: {exc}: {tail(tmp)}") from exc
        except OSError:  # not listening yet
            time.sleep(0.1)


def tail(tmp: Path) -> str:
    return (tmp / "server.log").read_text(errors="replace")[-3000:]


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def get_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"token {SERVER_TOKEN}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def rest_queries(folder: Path, tmp: Path, repeats: int) -> dict[str, Any]:
    """Query (b) through ``GET mlops/api/v1/runs`` of a real server: request, body, JSON."""
    proc, base, startup_s = start_server(folder, tmp)
    try:
        query = urllib.parse.urlencode(
            {
                "experiment": ",".join(EXPERIMENTS),
                "filter": FILTER,
                "order_by": "metrics.acc DESC",
                "limit": PAGE,
                "offset": 0,
            }
        )
        url = f"{base}/runs?{query}"
        stats, page = time_query(lambda: get_json(url), repeats)
        ids = [r["id"] for r in page["runs"]]
        body = json.dumps(page).encode()
        return {
            "rest_filter": {
                **stats,
                "url": url.replace(base, "/mlops/api/v1"),
                "returned": len(ids),
                "total": page["total"],
                "ids_digest": ids_digest(ids),
                "body_kb": round(len(body) / 1024, 1),
            },
            "server_startup_s": round(startup_s, 2),
        }
    finally:
        stop_server(proc)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-search-"))
    try:
        folder = tmp / "store"
        import jupyter_mlops

        result: dict[str, Any] = {
            "version": jupyter_mlops.__version__,
            "package": str(Path(jupyter_mlops.__file__).parent),
            "n_runs": N_RUNS,
            "repeats": REPEATS,
            "budget_s": BUDGET_S,
        }
        result["seed"] = seed_store(folder)
        result["queries"] = python_queries(folder, REPEATS)
        rest = rest_queries(folder, tmp, REPEATS)
        result["queries"]["rest_filter"] = rest.pop("rest_filter")
        result.update(rest)
        emit(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
