"""MLflow's model server (``mlflow models serve``) under load; run it with the peer venv
(.venv-bench). ours_serve.py is meant to time jupyter-mlops' server on the same workload.

The model: ``LogisticRegression(max_iter=1000)`` fitted on ``serving_model_data()`` (5,000
rows, 20 numeric features f0..f19, binary target; in _common.py, the same numbers in every
venv) as a pandas frame, saved with ``mlflow.sklearn.save_model(..., input_example=<one
row>)`` (untimed; the JSON says which serialization MLflow chose, from the MLmodel file).
The server: ``mlflow models serve -m <dir> --env-manager local -h 127.0.0.1 -p <port>`` (this
venv's ``mlflow`` script, its ``bin`` first on PATH, so the ``uvicorn`` MLflow execs is this
venv's); one worker, MLflow's default. Its start is timed from ``Popen`` until ``GET /ping``
answers 200. One request of 100 rows checks the predictions against ``model.predict``; then
200 warm-up requests, and ApacheBench POSTs a one-row ``dataframe_split`` body to
``/invocations``: 3,000 requests 8 at a time, then 3,000 32 at a time, each request on its own
connection (as ``requests.post`` without a session does; ``ab -k`` would change nothing, see
``keepalive_probe``). The server's process group is terminated in any case. For reference,
MLflow's request path without the server (``scoring_server.invocations`` on the same body, in
this process) is timed too.
Prints one JSON object on stdout. Numbers only: nothing here asserts a time.
"""

from __future__ import annotations

import os

# Before mlflow is imported: no usage telemetry leaves the machine, no git warnings.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import importlib.util
import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
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
    summary_ms,
    timed,
    wait_http,
)

REQUESTS = 3000
WARMUP = 200
CHECK_ROWS = 100
CONTENT_TYPE = "application/json"


def stop(proc: subprocess.Popen[Any]) -> int | None:
    """SIGTERM to the server's process group (the mlflow CLI and the uvicorn it started),
    SIGKILL if it is still there after 10 s."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return proc.poll()
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=10)


def inprocess_invocations(model_dir: Path, body: bytes) -> dict[str, Any]:
    """MLflow's request path without the server: ``scoring_server.invocations`` (JSON to a
    pandas frame cast to the signature, schema enforcement, predict, JSON out) on the same body,
    in this process, 20 untimed calls then 200 timed."""
    try:
        import mlflow.pyfunc
        from mlflow.pyfunc import scoring_server

        loaded = mlflow.pyfunc.load_model(str(model_dir))
        schema = loaded.metadata.get_input_schema()
        text = body.decode()

        def call(_: int) -> None:
            scoring_server.invocations(text, CONTENT_TYPE, loaded, schema)

        timed(20, call)
        return summary_ms(timed(200, call))
    except Exception as exc:  # a private function: a release may change it
        return {"error": f"{type(exc).__name__}: {exc}"}


def main() -> None:
    warnings.simplefilter("ignore")
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import sklearn
    from sklearn.linear_model import LogisticRegression

    for name in ("mlflow", "alembic", "sqlalchemy", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)

    x, y = serving_model_data()
    frame = pd.DataFrame(x, columns=list(SERVING_FEATURES))
    model = LogisticRegression(max_iter=1000).fit(frame, y)

    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-mlflow-serve-"))
    result: dict[str, Any] = {
        "version": mlflow.__version__,
        "sklearn": sklearn.__version__,
        "rows_trained": len(x),
        "requests": REQUESTS,
        "warmup": WARMUP,
        # Other work on the machine shows here (ab and the server want a core each).
        "loadavg_before": os.getloadavg(),
    }
    proc: subprocess.Popen[Any] | None = None
    log = None
    try:
        model_dir = tmp / "model"
        mlflow.sklearn.save_model(model, str(model_dir), input_example=frame.iloc[:1])
        mlmodel = (model_dir / "MLmodel").read_text(encoding="utf-8")
        formats = [
            line.split(":", 1)[1].strip()
            for line in mlmodel.splitlines()
            if line.strip().startswith("serialization_format:")
        ]
        result["serialization_format"] = formats[0] if formats else None
        result["model_files"] = sorted(p.name for p in model_dir.iterdir())

        bin_dir = Path(sys.executable).parent
        env = dict(os.environ)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(bin_dir.parent)
        env.pop("PYTHONPATH", None)
        # What uvicorn MLflow's `exec uvicorn ...` finds, and the stack it picks in this venv.
        result["uvicorn"] = shutil.which("uvicorn", path=env["PATH"])
        result["uvloop_installed"] = importlib.util.find_spec("uvloop") is not None
        result["httptools_installed"] = importlib.util.find_spec("httptools") is not None
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (tmp / "server.log").open("wb")
        argv = [
            str(bin_dir / "mlflow"),
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_http(f"{base}/ping", timeout=120, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            log.flush()
            tail = (tmp / "server.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"{exc}\n{tail}") from exc
        result["server_start_ms"] = round((time.perf_counter() - t0) * 1000.0, 1)

        # The answers are right: one request of CHECK_ROWS rows against model.predict.
        request = urllib.request.Request(
            f"{base}/invocations",
            data=serving_body(x[:CHECK_ROWS]),
            headers={"Content-Type": CONTENT_TYPE},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        expected = model.predict(frame.iloc[:CHECK_ROWS]).tolist()
        result["predictions_match"] = answer.get("predictions") == expected

        url, body = f"{base}/invocations", serving_body(x[:1])
        result["inprocess_invocations"] = inprocess_invocations(model_dir, body)
        result["request_bytes"] = len(body)
        ab_load(url, body, CONTENT_TYPE, n=WARMUP, c=8)
        for c in (8, 32):
            load = ab_load(url, body, CONTENT_TYPE, n=REQUESTS, c=c)
            result[f"c{c}"] = load
            result[f"rps_c{c}"] = load["rps"]
            for key in ("p50_ms", "p95_ms", "p99_ms", "failed", "non2xx"):
                result[f"{key}_c{c}"] = load[key]
        # ab speaks HTTP/1.0 and uvicorn answers "connection: close" to an HTTP/1.0 keep-alive
        # request, so ab -k opens a connection per request all the same: recorded, not used.
        probe = ab_load(url, body, CONTENT_TYPE, n=WARMUP, c=8, keep_alive=True)
        result["keepalive_probe"] = {
            "requests": probe["complete"],
            "kept_alive": probe["keep_alive_requests"],
        }
    finally:
        if proc is not None:
            result["server_exit"] = stop(proc)
        if log is not None:
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    result["loadavg_after"] = os.getloadavg()
    emit(result)


if __name__ == "__main__":
    main()
