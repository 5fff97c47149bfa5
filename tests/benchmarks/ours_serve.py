"""jupyter-mlops' model server under load, on peer_mlflow_serve.py's workload; run it with the
project venv (.venv).

The model: ``LogisticRegression(max_iter=1000)`` fitted on ``serving_model_data()`` (5,000
rows, 20 numeric features f0..f19, binary target; _common.py, the same numbers as the peer) as
a pandas frame, logged with ``Client.log_model(..., input_example=<two rows>)``, registered as
``churn`` and aliased ``champion`` (untimed). The load is the peer's: after one request of 100
rows checked against ``model.predict`` and 200 warm-up requests, ApacheBench POSTs the same
one-row ``dataframe_split`` body to ``/invocations``, 3,000 requests 8 and 32 at a time, each
request on its own connection (``ab_load``, no ``-k``).

* Start: ``jupyter-mlops --store <store> serve churn@champion --port <port>`` (this venv's
  console script) as a subprocess, from ``Popen`` until ``GET /ping`` answers 200 (the model is
  loaded once it does), 3 times, median; then (untimed) until its record says RUNNING, and
  SIGTERM to its process group. The time ``start_server`` (the Python API) takes to return is
  recorded too.
* Load: four servers from ``start_server`` in one store, one worker unless said: ``on``
  (recording on, batching off: the default server, the compared figures), ``off`` (recording
  off), ``batch`` (recording on, ``max_batch=32``, ``max_wait_ms=2.0``) and ``w2`` (recording
  on, 2 workers). The machine is shared, so they take turns: ``ROUNDS`` rounds, each giving
  ``on`` and ``off`` a load at c=8 back to back (which goes first alternates), then ``w2``; the
  same at c=32 with ``batch`` third. The figures are the medians over the rounds (every round
  is in the JSON, ``rounds``). Around each load the CPU time of the server's processes
  (supervisor and workers, from /proc) gives its CPU per request, which other work on the
  machine changes far less than throughput. After a load on a recording server, the next load
  waits until that server has written what it recorded (``/metrics``), so no load pays for
  another's recording.
* Recording: every request sent to ``on`` (check, warm-up and loads) must be in the store:
  ``client.read_predictions("churn", server_id=...)`` after the rounds, rows and distinct
  request ids against what was sent (the same for ``batch`` and ``w2``). ``recording_cost_pct``
  is ``100 * (1 - rps_c8 / rps_c8_norecord)`` on the medians; per round and from CPU per request
  beside it.
* Batching: the mean rows per predict call during the c=32 loads of ``batch``, from the
  differences of ``mlops_batch_rows_sum`` / ``_count`` on its ``/metrics`` around each load.
  The options were picked once on this 2-core machine: ``max_batch`` 8 or 32 with
  ``max_wait_ms`` 1.0 or 2.0 all gained about the same over batching off (a batch rarely
  exceeds 8 requests here); 2.0 ms made batches twice as large (5 requests against 2.3) with the
  lowest p99, and 0.5 ms merged almost nothing (1.0).
* Read-back: 200,000 one-row records (20 features) built as the server's recorder builds them
  (``serving.recorder.tables_of``, 1,000 records a table), written with
  ``Client.log_predictions`` into a fresh store, then ``client.read_predictions("churn")`` plus
  the 20 ``input.*`` columns as one float64 numpy array of (200000, 20), 5 times in this
  process (median; the first apart) and once in each of 3 fresh processes (after the import
  and a first query); checked against the written matrix.

Every server is stopped in a ``finally`` and the temporary folders are removed. Prints one JSON
object on stdout. Numbers only: nothing here asserts a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import warnings
from pathlib import Path
from typing import Any

from _common import (
    SERVING_FEATURES,
    ab_load,
    emit,
    free_port,
    serving_body,
    serving_model_data,
    wait_http,
)

REQUESTS = 3000
WARMUP = 200
CHECK_ROWS = 100
CONTENT_TYPE = "application/json"
ROUNDS = 7
START_SAMPLES = 3
BATCH = {"max_batch": 32, "max_wait_ms": 2.0}
FLUSH_TIMEOUT_S = 10.0
READBACK_ROWS = 200_000
READBACK_TABLE_ROWS = 1000
READBACK_REPEATS = 5
FRESH_READS = 3
# The read of readback(), timed in a fresh interpreter once the package is imported and the
# store opened: what a monitoring job that reads once pays (new memory to fault in).
FRESH_READ = """
import json, sys, time
import numpy as np
from jupyter_mlops import Client
client = Client(sys.argv[1])
client.read_predictions("nothing")
t0 = time.perf_counter()
table = client.read_predictions("churn")
array = np.column_stack([table.column(f"input.f{j}").to_numpy() for j in range(20)])
print(json.dumps({"s": time.perf_counter() - t0, "shape": list(array.shape)}))
client.close()
"""
LOAD_KEYS = ("rps", "p50_ms", "p95_ms", "p99_ms", "failed", "non2xx", "cpu_us_per_request")
FIGURES = ("rps", "p50_ms", "p95_ms", "p99_ms", "cpu_us_per_request")


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def stop_group(proc: subprocess.Popen[Any]) -> int | None:
    """SIGTERM to a process group (the CLI's supervisor and its worker), SIGKILL after 15 s."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return proc.poll()
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=10)


def tree_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by process ``pid`` and every descendant alive
    (Linux's /proc; None elsewhere): the server's own cost, whatever else the machine runs."""
    if not Path(f"/proc/{pid}/stat").exists():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total, stack = 0.0, [pid]
    try:
        while stack:
            current = stack.pop()
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                stat = Path(f"/proc/{current}/stat").read_text()
                fields = stat.rpartition(")")[2].split()
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
                for task in Path(f"/proc/{current}/task").iterdir():
                    stack += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return None
    return total


def prometheus(url: str) -> dict[str, float]:
    """``GET url/metrics`` as ``{metric name: value}`` (the samples without an ``le`` or a
    ``status`` label; this server labels the rest with its one model only)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or "le=" in line or "status=" in line:
            continue
        name_labels, _, value = line.rpartition(" ")
        values[name_labels.split("{", 1)[0]] = float(value)
    return values


def wait_recorded(url: str, rows: int) -> float:
    """Wait (up to FLUSH_TIMEOUT_S) until the server has written or dropped ``rows`` records
    and holds none; the seconds waited."""
    t0 = time.perf_counter()
    while True:
        figures = prometheus(url)
        done = figures.get("mlops_records_written_total", 0) + figures.get(
            "mlops_records_dropped_total", 0
        )
        if (done >= rows and not figures.get("mlops_record_queue_rows")) or (
            time.perf_counter() - t0 > FLUSH_TIMEOUT_S
        ):
            return time.perf_counter() - t0
        time.sleep(0.05)


def post(url: str, body: bytes) -> Any:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": CONTENT_TYPE}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def store_with_model(folder: Path, model: Any, frame: Any) -> Any:
    from jupyter_mlops import Client

    client = Client(str(folder))
    run_id = client.create_run("bench")
    client.log_model(run_id, model, "model", input_example=frame.head(2))
    client.end_run(run_id)
    version = client.register_model(f"runs:/{run_id}/model", "churn")
    client.set_model_alias("churn", "champion", version.version)
    return client


def wait_running(client: Any, url: str, timeout: float = 10.0) -> float:
    """Seconds until the store holds a RUNNING server record at ``url``."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        servers = client.list_model_servers("churn", active_only=True)
        if any(s.url == url and s.status == "RUNNING" for s in servers):
            break
        time.sleep(0.01)
    return time.perf_counter() - t0


def cli_start(client: Any, store: Path, tmp: Path) -> dict[str, Any]:
    """``jupyter-mlops --store <store> serve churn@champion --port P``: Popen → /ping 200."""
    script = Path(sys.executable).parent / "jupyter-mlops"
    samples: list[float] = []
    running_after: list[float] = []
    exits: list[int | None] = []
    for i in range(START_SAMPLES):
        port = free_port()
        log_path = tmp / f"cli-serve-{i}.log"
        argv = [str(script), "--store", str(store), "serve", "churn@champion"]
        argv += ["--port", str(port)]
        with log_path.open("wb") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                wait_http(f"http://127.0.0.1:{port}/ping", timeout=120, proc=proc)
                samples.append(time.perf_counter() - t0)
                # Untimed: the supervisor marks its record RUNNING a moment after the worker
                # answers; a SIGTERM before that ends the record FAILED ("stopped while
                # starting") and the process with status 1.
                running_after.append(wait_running(client, f"http://127.0.0.1:{port}"))
            except (RuntimeError, TimeoutError) as exc:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise RuntimeError(f"{exc}\n{tail}") from exc
            finally:
                exits.append(stop_group(proc))
    return {
        "server_start_ms": round(statistics.median(samples) * 1000.0, 1),
        "server_start_samples_ms": [round(s * 1000.0, 1) for s in samples],
        "server_start_exit_codes": exits,
        "server_record_running_after_ping_ms": [round(s * 1000.0, 1) for s in running_after],
    }


class Served:
    """One server of the rounds and what was sent to it."""

    def __init__(self, key: str, handle: Any, records: bool) -> None:
        self.key = key
        self.handle = handle
        self.url = handle.url
        self.pid = int(handle.record.pid)  # the supervisor; its workers are its children
        self.records = records
        self.requests = 0
        self.rows = 0
        self.loads: dict[int, list[dict[str, Any]]] = {8: [], 32: []}
        self.flush_wait_s: list[float] = []
        self.batch_sum = 0.0
        self.batch_count = 0.0

    def load(self, body: bytes, n: int, c: int, keep: bool = True) -> dict[str, Any]:
        before = prometheus(self.url) if keep else {}
        cpu0 = tree_cpu_s(self.pid)
        result = ab_load(f"{self.url}/invocations", body, CONTENT_TYPE, n=n, c=c)
        cpu1 = tree_cpu_s(self.pid)
        if cpu0 is not None and cpu1 is not None and result["complete"]:
            result["cpu_us_per_request"] = round((cpu1 - cpu0) / result["complete"] * 1e6, 1)
        self.requests += result["complete"]
        self.rows += result["complete"]
        if keep:
            after = prometheus(self.url)
            result["batch_rows_sum"] = after["mlops_batch_rows_sum"] - before.get(
                "mlops_batch_rows_sum", 0
            )
            result["batch_calls"] = after["mlops_batch_rows_count"] - before.get(
                "mlops_batch_rows_count", 0
            )
            if c == 32:
                self.batch_sum += result["batch_rows_sum"]
                self.batch_count += result["batch_calls"]
            self.loads[c].append(result)
        if self.records:
            self.flush_wait_s.append(wait_recorded(self.url, self.rows))
        return result

    def figure(self, c: int, key: str) -> float | None:
        return median([load.get(key) for load in self.loads[c]])

    def total(self, c: int, key: str) -> int:
        return int(sum(load[key] or 0 for load in self.loads[c]))


def recording_check(client: Any, served: Served) -> dict[str, Any]:
    """The rows and requests the store holds for ``served``, against what was sent."""
    import pyarrow.compute as pc

    table = client.read_predictions("churn", server_id=served.handle.id)
    requests = len(pc.unique(table.column("request_id"))) if table.num_rows else 0
    return {
        "requests_sent": served.requests,
        "rows_sent": served.rows,
        "recorded_rows": table.num_rows,
        "recorded_requests": requests,
        "recorded_all": table.num_rows == served.rows and requests == served.requests,
        "flush_wait_max_ms": round(max(served.flush_wait_s, default=0.0) * 1000.0, 1),
    }


def rounds(client: Any, model: Any, frame: Any, x: list[list[float]]) -> dict[str, Any]:
    from jupyter_mlops.serving import ServeOptions, start_server

    variants = {
        "on": ServeOptions(record=True, max_batch=1),
        "off": ServeOptions(record=False, max_batch=1),
        "batch": ServeOptions(record=True, **BATCH),
        "w2": ServeOptions(record=True, max_batch=1, workers=2),
    }
    result: dict[str, Any] = {}
    servers: dict[str, Served] = {}
    try:
        for key, options in variants.items():
            t0 = time.perf_counter()
            handle = start_server(client, "churn@champion", options.replace(port=free_port()))
            if key == "on":
                result["start_server_api_ms"] = round((time.perf_counter() - t0) * 1000.0, 1)
            servers[key] = Served(key, handle, options.record)
        on = servers["on"]
        answer = post(on.url, serving_body(x[:CHECK_ROWS]))
        on.requests += 1
        on.rows += CHECK_ROWS
        expected = model.predict(frame.iloc[:CHECK_ROWS]).tolist()
        result["predictions_match"] = answer.get("predictions") == expected
        body = serving_body(x[:1])
        result["request_bytes"] = len(body)
        for served in servers.values():
            served.load(body, WARMUP, 8, keep=False)
        # "on" and "off" back to back, which goes first alternating between rounds; the third
        # server of each concurrency after them.
        orders = {8: ("on", "off", "w2"), 32: ("on", "off", "batch")}
        for r in range(ROUNDS):
            for c, (first, second, third) in orders.items():
                pair = (first, second) if r % 2 == 0 else (second, first)
                for key in (*pair, third):
                    servers[key].load(body, REQUESTS, c)
        result["recording"] = {
            k: recording_check(client, s) for k, s in servers.items() if s.records
        }
        result["rounds"] = {
            key: {
                f"c{c}": [{k: load[k] for k in LOAD_KEYS} for load in s.loads[c]] for c in (8, 32)
            }
            for key, s in servers.items()
        }
    finally:
        for served in servers.values():
            with contextlib.suppress(Exception):
                served.handle.stop()
    for key, suffix in (("on", ""), ("off", "_norecord")):
        served = servers[key]
        for c in (8, 32):
            for name in FIGURES:
                result[f"{name}_c{c}{suffix}"] = served.figure(c, name)
            for name in ("failed", "non2xx"):
                result[f"{name}_c{c}{suffix}"] = served.total(c, name)
    for c in (8, 32):
        rps_on = [load["rps"] for load in servers["on"].loads[c]]
        rps_off = [load["rps"] for load in servers["off"].loads[c]]
        # Per round (the two loads ran back to back), then the median of those.
        costs = [100.0 * (1.0 - a / b) for a, b in zip(rps_on, rps_off, strict=True) if b]
        result[f"recording_cost_pct_c{c}"] = round(
            100.0 * (1.0 - result[f"rps_c{c}"] / result[f"rps_c{c}_norecord"]), 1
        )
        result[f"recording_cost_pct_c{c}_rounds"] = [round(v, 1) for v in costs]
        result[f"recording_cost_pct_c{c}_rounds_median"] = median(costs)
        # The same cost from the servers' own CPU time per request, which other work on the
        # machine does not change: the share of a recording server's CPU that recording takes.
        cpu_on = result[f"cpu_us_per_request_c{c}"]
        cpu_off = result[f"cpu_us_per_request_c{c}_norecord"]
        result[f"recording_cpu_cost_pct_c{c}"] = (
            round(100.0 * (1.0 - cpu_off / cpu_on), 1) if cpu_on and cpu_off else None
        )
    result["recording_cost_pct"] = result["recording_cost_pct_c8"]
    batch, w2 = servers["batch"], servers["w2"]
    for name in FIGURES:
        result[f"{name}_c32_batch"] = batch.figure(32, name)
        result[f"{name}_c8_w2"] = w2.figure(8, name)
    result["failed_c32_batch"] = batch.total(32, "failed") + batch.total(32, "non2xx")
    result["failed_c8_w2"] = w2.total(8, "failed") + w2.total(8, "non2xx")
    result["batch_options"] = dict(BATCH)
    result["batch_mean_rows_c32"] = (
        round(batch.batch_sum / batch.batch_count, 2) if batch.batch_count else None
    )
    result["on_mean_rows_c32"] = (
        round(servers["on"].batch_sum / servers["on"].batch_count, 2)
        if servers["on"].batch_count
        else None
    )
    check = result["recording"]["on"]
    result["requests_sent"] = check["requests_sent"]
    result["recorded_rows"] = check["recorded_rows"]
    result["rows_sent"] = check["rows_sent"]
    result["recorded_all"] = all(v["recorded_all"] for v in result["recording"].values())
    return result


def fresh_read(store: Path) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_READ, str(store)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    if answer["shape"] != [READBACK_ROWS, len(SERVING_FEATURES)]:
        raise RuntimeError(f"a fresh process read back {answer['shape']}")
    return float(answer["s"])


def readback(model: Any, tmp: Path) -> dict[str, Any]:
    """200,000 recorded one-row requests written as the recorder writes them, then read."""
    import numpy as np

    from jupyter_mlops import Client
    from jupyter_mlops.client.serving import encode_table
    from jupyter_mlops.serving.recorder import tables_of

    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((READBACK_ROWS, len(SERVING_FEATURES)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an array for a model fitted on a frame, as served
        predictions = np.asarray(model.predict(matrix))
    names = list(SERVING_FEATURES)
    start_ms = int(time.time() * 1000)
    # (request id, at ms, version, status, latency ms, input names, input, output name,
    #  output, error, scorer): what the server appends for a one-row request.
    records = [
        (
            uuid.uuid4().hex,
            start_ms + i // 2,
            1,
            200,
            0.25,
            names,
            matrix[i : i + 1],
            "prediction",
            predictions[i : i + 1],
            None,
            None,
        )
        for i in range(READBACK_ROWS)
    ]
    t0 = time.perf_counter()
    tables = [
        table
        for k in range(0, READBACK_ROWS, READBACK_TABLE_ROWS)
        for table in tables_of(records[k : k + READBACK_TABLE_ROWS])
    ]
    build_s = time.perf_counter() - t0
    del records
    client = Client(str(tmp / "readback-store"))
    try:
        t0 = time.perf_counter()
        written = client.log_predictions(uuid.uuid4().hex, "churn", tables)
        write_s = time.perf_counter() - t0
        columns = [f"input.{name}" for name in names]
        read_s: list[float] = []
        total_s: list[float] = []
        array = None
        for _ in range(READBACK_REPEATS):
            t0 = time.perf_counter()
            table = client.read_predictions("churn")
            t1 = time.perf_counter()
            array = np.column_stack([table.column(c).to_numpy() for c in columns])
            t2 = time.perf_counter()
            read_s.append(t1 - t0)
            total_s.append(t2 - t0)
        assert array is not None
        fresh = [fresh_read(tmp / "readback-store") for _ in range(FRESH_READS)]
    finally:
        client.close()
    return {
        "readback_rows": READBACK_ROWS,
        "readback_tables": len(tables),
        "readback_written_rows": written,
        "readback_shape": list(array.shape),
        "readback_matches": bool(array.shape == matrix.shape and np.array_equal(array, matrix)),
        "readback_build_tables_ms": round(build_s * 1000.0, 1),
        "readback_write_ms": round(write_s * 1000.0, 1),
        "readback_200k_ms": round(statistics.median(total_s) * 1000.0, 1),
        "readback_200k_samples_ms": [round(s * 1000.0, 1) for s in total_s],
        "readback_read_predictions_ms": round(statistics.median(read_s) * 1000.0, 1),
        "readback_encoded_mb": round(sum(len(encode_table(t)) for t in tables) / 1e6, 1),
        "readback_200k_first_ms": round(total_s[0] * 1000.0, 1),
        "readback_200k_fresh_process_ms": round(statistics.median(fresh) * 1000.0, 1),
        "readback_200k_fresh_process_samples_ms": [round(s * 1000.0, 1) for s in fresh],
    }


def main() -> None:
    warnings.simplefilter("ignore")
    import pandas as pd
    import sklearn
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.version import __version__

    x, y = serving_model_data()
    frame = pd.DataFrame(x, columns=list(SERVING_FEATURES))
    model = LogisticRegression(max_iter=1000).fit(frame, y)

    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-serve-"))
    result: dict[str, Any] = {
        "version": __version__,
        "sklearn": sklearn.__version__,
        "rows_trained": len(x),
        "requests": REQUESTS,
        "warmup": WARMUP,
        "rounds_n": ROUNDS,
        # Other work on the machine shows here (ab and the server want a core each).
        "loadavg_before": os.getloadavg(),
    }
    client = None
    try:
        store = tmp / "store"
        client = store_with_model(store, model, frame)
        result.update(cli_start(client, store, tmp))
        result.update(rounds(client, model, frame, x))
        result["loadavg_after_load"] = os.getloadavg()
        result.update(readback(model, tmp))
    finally:
        if client is not None:
            client.close()
        shutil.rmtree(tmp, ignore_errors=True)
    result["loadavg_after"] = os.getloadavg()
    emit(result)


if __name__ == "__main__":
    main()
