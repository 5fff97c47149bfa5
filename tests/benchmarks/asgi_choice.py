"""Why Starlette on uvicorn: the same model served by a bare ASGI callable, Starlette and
FastAPI on the same server; run it with the project venv (.venv).

The model is peer_mlflow_serve.py's: ``LogisticRegression(max_iter=1000)`` fitted on
``serving_model_data()`` (here as a numpy array). Each app runs in a child process of its own
on uvicorn with one worker, ``loop="uvloop"``, ``http="httptools"``, ``log_level="warning"``,
``access_log=False`` (and ``lifespan="off"``, the same for all) and answers ``POST
/invocations`` with MLflow's one-row ``dataframe_split`` body, the same bytes
peer_mlflow_serve.py sends:

* ``bare``: an ASGI callable that reads the body, ``json.loads`` it, builds a numpy array from
  ``dataframe_split.data``, predicts and answers ``{"predictions": [...]}`` (``json.dumps``);
* ``starlette``: the same in a Starlette app (``Route("/invocations", endpoint,
  methods=["POST"])``, ``await request.body()``, ``Response(bytes, media_type=...)``);
* ``fastapi_pydantic``: FastAPI as its users write it: the body declared as a pydantic model
  (``columns: list[str]``, ``data: list[list[float]]``), a pydantic response model, a dict
  returned;
* ``fastapi_request``: FastAPI with a raw ``Request``, the body handled as in Starlette.

Each also runs with an empty handler (``empty``): the body is received (FastAPI's pydantic
variant still validates it, that is the framework's work), no ``json.loads``, no model, and a
constant answer; what is left is the framework's own per-request cost. One more, for
reference: the bare app on uvicorn's pure-Python stack (``loop="asyncio"``, ``http="h11"``,
what ``mlflow models serve`` gets in a venv without uvloop and httptools).

Every server is started (timed until ``GET /ping`` answers 200), checked once (one request of
100 rows against ``model.predict``) and warmed up with 200 requests; then 7 rounds, each
giving every server ``ab -n 3000 -c 8`` in turn (the order rotates between rounds), each
request on its own connection. The figures are the medians over the rounds. If FastAPI is not
installed, its variants are skipped and the JSON says so. Prints one JSON object on stdout.
Numbers only: nothing here asserts a time.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at run
# time, and the pydantic models below are local to a function, so they must be real objects.
import importlib.metadata
import importlib.util
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
from pathlib import Path
from typing import Any

from _common import ab_load, emit, free_port, serving_body, serving_model_data, wait_http

REQUESTS = 3000
CONCURRENCY = 8
WARMUP = 200
ROUNDS = 7
CHECK_ROWS = 100
CONTENT_TYPE = "application/json"
FRAMEWORKS = ("bare", "starlette", "fastapi_pydantic", "fastapi_request")
HANDLERS = ("model", "empty")
REFERENCE = ("bare_h11", "model")  # the bare app on loop="asyncio", http="h11"
EMPTY_ANSWER = b'{"predictions": [0]}'


# ---------------------------------------------------------------------------- the servers


def build_app(framework: str, handler: str) -> Any:
    """The ASGI app of one variant (in the child process)."""
    if handler == "model":
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        x, y = serving_model_data()
        model = LogisticRegression(max_iter=1000).fit(np.asarray(x, dtype=np.float64), y)

        def answer(body: bytes) -> bytes:
            payload = json.loads(body)
            rows = np.asarray(payload["dataframe_split"]["data"], dtype=np.float64)
            return json.dumps({"predictions": model.predict(rows).tolist()}).encode()

    else:

        def answer(body: bytes) -> bytes:
            return EMPTY_ANSWER

    if framework in ("bare", "bare_h11"):
        return bare_app(answer)
    if framework == "starlette":
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def invocations(request: Request) -> Response:
            return Response(answer(await request.body()), media_type=CONTENT_TYPE)

        async def ping(request: Request) -> Response:
            return Response(b"\n", media_type=CONTENT_TYPE)

        return Starlette(
            routes=[
                Route("/invocations", invocations, methods=["POST"]),
                Route("/ping", ping, methods=["GET"]),
            ]
        )
    if framework == "fastapi_request":
        from fastapi import FastAPI, Request
        from fastapi.responses import Response

        app = FastAPI()

        @app.post("/invocations")
        async def invocations_raw(request: Request) -> Response:
            return Response(answer(await request.body()), media_type=CONTENT_TYPE)

        @app.get("/ping")
        async def ping_raw() -> Response:
            return Response(b"\n", media_type=CONTENT_TYPE)

        return app
    if framework == "fastapi_pydantic":
        return fastapi_pydantic_app(handler)
    raise SystemExit(f"unknown framework {framework}")


def bare_app(answer: Any) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/invocations" and scope["method"] == "POST":
            chunks, more = [], True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            status, body = 200, answer(b"".join(chunks))
        elif scope["path"] == "/ping":
            status, body = 200, b"\n"
        else:
            status, body = 404, b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def fastapi_pydantic_app(handler: str) -> Any:
    """FastAPI the way its documentation teaches: request and response as pydantic models."""
    from fastapi import FastAPI
    from pydantic import BaseModel

    class DataframeSplit(BaseModel):
        columns: list[str]
        data: list[list[float]]

    class Invocation(BaseModel):
        dataframe_split: DataframeSplit

    class Predictions(BaseModel):
        predictions: list[int]

    app = FastAPI()
    if handler == "model":
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        x, y = serving_model_data()
        model = LogisticRegression(max_iter=1000).fit(np.asarray(x, dtype=np.float64), y)

        @app.post("/invocations", response_model=Predictions)
        async def invocations(body: Invocation) -> dict[str, list[int]]:
            rows = np.asarray(body.dataframe_split.data, dtype=np.float64)
            return {"predictions": model.predict(rows).tolist()}

    else:

        @app.post("/invocations", response_model=Predictions)
        async def invocations_empty(body: Invocation) -> dict[str, list[int]]:
            return {"predictions": [0]}

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {}

    return app


def serve(framework: str, handler: str, port: int) -> None:
    import uvicorn

    pure_python = framework == "bare_h11"
    uvicorn.run(
        build_app(framework, handler),
        host="127.0.0.1",
        port=port,
        workers=1,
        loop="asyncio" if pure_python else "uvloop",
        http="h11" if pure_python else "httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


# ---------------------------------------------------------------------------- the benchmark


class Server:
    def __init__(self, framework: str, handler: str, tmp: Path) -> None:
        self.framework, self.handler = framework, handler
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"{framework}-{handler}.log"
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> float:
        argv = [sys.executable, __file__, "--serve", self.framework, self.handler, str(self.port)]
        with self.log_path.open("wb") as log:
            t0 = time.perf_counter()
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_http(f"{self.base}/ping", timeout=60, proc=self.proc)
        except (RuntimeError, TimeoutError) as exc:
            tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"{self.framework}/{self.handler}: {exc}\n{tail}") from exc
        return time.perf_counter() - t0

    def stop(self) -> int | None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            return proc.wait(timeout=10)
        except ProcessLookupError:
            return proc.poll()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait(timeout=10)


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x, y = serving_model_data()
    model = LogisticRegression(max_iter=1000).fit(np.asarray(x, dtype=np.float64), y)
    expected = model.predict(np.asarray(x[:CHECK_ROWS], dtype=np.float64)).tolist()
    body = serving_body(x[:1])

    result: dict[str, Any] = {
        "versions": {
            dist: version(dist)
            for dist in (
                "uvicorn",
                "uvloop",
                "httptools",
                "h11",
                "starlette",
                "fastapi",
                "pydantic",
                "scikit-learn",
            )
        },
        "requests": REQUESTS,
        "c": CONCURRENCY,
        "rounds": ROUNDS,
        "warmup": WARMUP,
        "request_bytes": len(body),
        "keep_alive": False,
        # Other work on the machine shows here (ab and the server want a core each).
        "loadavg_before": os.getloadavg(),
    }
    frameworks = list(FRAMEWORKS)
    if importlib.util.find_spec("fastapi") is None:
        frameworks = [f for f in frameworks if not f.startswith("fastapi")]
        result["fastapi_skipped"] = (
            "fastapi is not installed in this venv (`.venv/bin/pip install fastapi` to measure "
            "it; it is not a dependency of jupyter-mlops)"
        )
    variants = [(f, h) for f in frameworks for h in HANDLERS] + [REFERENCE]

    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-asgi-"))
    servers = [Server(f, h, tmp) for f, h in variants]
    figures: dict[str, dict[str, Any]] = {}
    try:
        for server in servers:
            key = f"{server.framework}/{server.handler}"
            start_s = server.start()
            url = f"{server.base}/invocations"
            check = urllib.request.Request(
                url, data=serving_body(x[:CHECK_ROWS]), headers={"Content-Type": CONTENT_TYPE}
            )
            with urllib.request.urlopen(check, timeout=30) as response:
                answer = json.loads(response.read())
            correct = None
            if server.handler == "model":
                correct = answer.get("predictions") == expected
            ab_load(url, body, CONTENT_TYPE, n=WARMUP, c=CONCURRENCY)
            figures[key] = {"start_ms": round(start_s * 1000.0, 1), "predictions_match": correct}
            figures[key]["runs"] = []
        # ab sends HTTP/1.0; uvicorn answers "connection: close" to an HTTP/1.0 keep-alive
        # request, so ab -k opens a connection per request all the same: recorded, not used.
        probe = ab_load(
            f"{servers[0].base}/invocations",
            body,
            CONTENT_TYPE,
            n=WARMUP,
            c=CONCURRENCY,
            keep_alive=True,
        )
        result["keepalive_probe"] = {
            "requests": probe["complete"],
            "kept_alive": probe["keep_alive_requests"],
        }
        for round_no in range(ROUNDS):
            shift = round_no % len(servers)
            for server in servers[shift:] + servers[:shift]:
                load = ab_load(
                    f"{server.base}/invocations", body, CONTENT_TYPE, n=REQUESTS, c=CONCURRENCY
                )
                figures[f"{server.framework}/{server.handler}"]["runs"].append(load)
    finally:
        for server in servers:
            code = server.stop()
            key = f"{server.framework}/{server.handler}"
            if key in figures:
                figures[key]["server_exit"] = code
        shutil.rmtree(tmp, ignore_errors=True)

    for stats in figures.values():
        runs = stats["runs"]
        for name in ("rps", "p50_ms", "p95_ms", "p99_ms"):
            stats[name] = statistics.median(run[name] for run in runs)
        stats["rps_rounds"] = [run["rps"] for run in runs]
        stats["failed"] = sum(run["failed"] or 0 for run in runs)
        stats["non2xx"] = sum(run["non2xx"] for run in runs)
        stats["us_per_request"] = round(1e6 / stats["rps"], 1)
        del stats["runs"]
    for handler in HANDLERS:
        bare = figures.get(f"bare/{handler}")
        for key, stats in figures.items():
            if bare and key.endswith(f"/{handler}"):
                stats["us_over_bare"] = round(stats["us_per_request"] - bare["us_per_request"], 1)
    result["variants"] = figures
    result["loadavg_after"] = os.getloadavg()
    emit(result)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
