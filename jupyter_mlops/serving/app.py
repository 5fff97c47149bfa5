"""The model server's ASGI app: MLflow's scoring protocol and the Open Inference Protocol v2
on Starlette's router, behind one guard.

The guard (a plain ASGI layer, no per-request objects beyond what routing needs) gives every
request an id (``X-Request-ID``, the client's own when it sends a sane one), refuses a
``Host`` the server does not answer to (DNS rebinding), checks the bearer token in constant
time, reads the body up to the size limit (413 beyond, whatever ``Content-Length`` claimed),
turns errors into JSON in the protocol's own shape, counts and times every request, and
records refused predictions. A model that raises answers 500 with a generic message; the
traceback goes to the server's log only.

The model answers on the event loop's thread: a one-row prediction takes tens of
microseconds, less than a hop to a thread pool. A version switch replaces
``state.predictor`` (one reference, assigned atomically); a request keeps the predictor it
started with, so in-flight requests finish on the version they began on.

A rollout puts a candidate version on trial beside the served one (``state.trial``, replaced
as a version is). A ``canary`` answers a share of the prediction requests (its answer
recorded under its version); when it fails in any way the served version answers instead
and the failure is recorded as the candidate's (status 500), so no client sees it. A
``shadow`` predicts a copy of every request once the response has gone (a background task);
its answer is recorded with ``shadow`` true and a latency comparable to the served
version's: the request's, less the served version's own predict time, plus the candidate's.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from ..exceptions import (
    Forbidden,
    InvalidInput,
    MlopsError,
    NotFound,
    TooLarge,
    Unauthorized,
    shown,
)
from . import protocols
from .metrics import Counters, Snapshot, prometheus_text
from .predictor import Predictor
from .recorder import Recorder

log = logging.getLogger("jupyter_mlops.serving")

JSON = "application/json"
# Health checks answer without a token (load balancers and Kubernetes probes carry none).
OPEN_PATHS = frozenset({"/ping", "/health", "/v2/health/live", "/v2/health/ready"})
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class MethodNotAllowed(MlopsError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


@dataclass
class ServingState:
    """What the app serves and how; shared by the guard, the routes and the worker."""

    name: str
    ref: str
    server_id: str
    counters: Counters
    snapshot: Callable[[], Snapshot]
    token: str | None = None
    allowed_hosts: frozenset[str] = LOCAL_HOSTS
    any_host: bool = False
    max_body: int = 10 * 1024 * 1024
    recorder: Recorder | None = None
    batcher: Batcher | None = None
    predictor: Predictor | None = None
    trial: Trial | None = None
    openapi: Callable[[ServingState], dict[str, Any]] | None = None
    server_version: str = ""

    def current(self) -> Predictor:
        predictor = self.predictor
        if predictor is None:
            raise NotLoaded("The model is still loading; try again shortly.")
        return predictor


@dataclass(eq=False)
class Trial:
    """A candidate on trial beside the served version (an active rollout): ``canary``
    answers ``share`` of the prediction requests, ``shadow`` a copy of every one."""

    rollout_id: str
    mode: str  # shadow or canary
    share: float
    predictor: Predictor
    failures: int = 0
    # The served version last compared with, and whether the candidate reads a request's
    # inputs as it does (else the body is parsed again for the candidate).
    _alike: tuple[Predictor | None, bool] = (None, False)

    def inputs_for(self, served: Predictor, inputs: Any, parse: Callable[[Any], Any]) -> Any:
        seen, alike = self._alike
        if seen is not served:
            alike = self.predictor.spec == served.spec
            self._alike = (served, alike)
        return inputs if alike else parse(self.predictor.spec)

    def describe(self) -> dict[str, Any]:
        return {
            "rollout_id": self.rollout_id,
            "mode": self.mode,
            "share": self.share,
            "candidate": self.predictor.version,
        }


class NotLoaded(MlopsError):
    code = "NOT_READY"
    http_status = 503


class Batcher:
    """Adaptive micro-batching: a request waits at most ``max_wait`` seconds for others;
    the batch runs as soon as ``max_rows`` rows are waiting, as one predict call per model
    version, method and input layout. A batch whose call fails is retried request by
    request, so one bad request fails alone."""

    def __init__(self, max_rows: int, max_wait: float, counters: Counters) -> None:
        self.max_rows = max_rows
        self.max_wait = max_wait
        self.counters = counters
        self.pending: list[tuple[Predictor, Any, str, asyncio.Future[np.ndarray]]] = []
        self.rows = 0
        self.timer: asyncio.TimerHandle | None = None

    def predict(self, predictor: Predictor, inputs: Any, method: str) -> Awaitable[np.ndarray]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self.pending.append((predictor, inputs, method, future))
        self.rows += len(inputs)
        if self.rows >= self.max_rows:
            self.flush()
        elif self.timer is None:
            self.timer = (
                loop.call_later(self.max_wait, self.flush)
                if self.max_wait > 0
                else loop.call_soon(self.flush)  # type: ignore[assignment]
            )
        return future

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        pending, self.pending, self.rows = self.pending, [], 0
        groups: dict[tuple[int, str, bool], list[Any]] = {}
        for item in pending:
            predictor, inputs, method, _ = item
            groups.setdefault((id(predictor), method, hasattr(inputs, "columns")), []).append(item)
        for items in groups.values():
            self._run(items)

    def _run(self, items: list[Any]) -> None:
        predictor, first, method, _ = items[0]
        if len(items) == 1:
            self._one(items[0])
            return
        if hasattr(first, "columns"):
            import pandas as pd

            merged = pd.concat([i[1] for i in items], ignore_index=True)
        else:
            merged = np.concatenate([i[1] for i in items])
        try:
            out = predictor.predict(merged, method)
        except Exception:
            for item in items:
                self._one(item)
            return
        self.counters.observe_batch(len(merged))
        start = 0
        for _, inputs, _, future in items:
            end = start + len(inputs)
            if not future.done():
                future.set_result(out[start:end])
            start = end

    def _one(self, item: Any) -> None:
        predictor, inputs, method, future = item
        try:
            out = predictor.predict(inputs, method)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
            return
        self.counters.observe_batch(len(inputs))
        if not future.done():
            future.set_result(out)


# -- the guard --------------------------------------------------------------------------------


def _error_body(path: str, exc: MlopsError) -> bytes:
    """An error in the shape the route's protocol uses."""
    message = exc.public
    if path.startswith("/v2"):
        return protocols.dumps({"error": message})
    if path == "/invocations":
        code = {400: "BAD_REQUEST", 413: "BAD_REQUEST", 415: "BAD_REQUEST", 422: "BAD_REQUEST"}.get(
            exc.http_status, exc.code
        )
        return protocols.dumps({"error_code": code, "message": message})
    return protocols.dumps({"code": exc.code, "message": message})


def _is_predict(path: str) -> bool:
    return path == "/invocations" or path.endswith("/infer")


class Guard:
    def __init__(self, app: Any, state: ServingState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = self.state
        host = auth = length = rid = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = value
            elif key == b"authorization":
                auth = value
            elif key == b"content-length":
                length = value
            elif key == b"x-request-id":
                rid = value
        request_id = (
            rid.decode("latin-1")
            if rid is not None and _REQUEST_ID.fullmatch(rid.decode("latin-1"))
            else uuid.uuid4().hex
        )
        scope["mlops.request_id"] = request_id
        path: str = scope["path"]
        status = [500]
        answered = [0.0]  # when the response's last byte went (a shadow runs after it)
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            elif not message.get("more_body", False):
                answered[0] = time.perf_counter()
            await send(message)

        try:
            self._check_host(host)
            if state.token is not None and path not in OPEN_PATHS:
                self._check_token(auth)
            body = await self._read_body(receive, length)
            scope["mlops.body"] = body
            scope["mlops.start"] = start
            await self.app(scope, _replay(body, receive), send_with_id)
        except MlopsError as exc:
            await self._error(send_with_id, path, exc)
            # Refusals past the boundary are what monitoring counts (bad data); a request
            # without the token or for a foreign Host is nobody's traffic.
            if (
                state.recorder is not None
                and _is_predict(path)
                and exc.http_status < 500
                and not isinstance(exc, Unauthorized | Forbidden)
            ):
                self._record_refusal(request_id, exc, start)
        except Exception:
            log.exception("request %s to %s failed", request_id, path)
            generic = MlopsError("internal error")
            generic.public = "The model server could not answer this request; see its log."
            await self._error(send_with_id, path, generic)
        finally:
            state.counters.observe_request(
                status[0],
                (answered[0] or time.perf_counter()) - start,
                _is_predict(path) or path == "/feedback",
            )

    def _check_host(self, host: bytes | None) -> None:
        state = self.state
        if state.any_host:
            return
        if host is None:
            raise Forbidden("The request has no Host header.")
        text = host.decode("latin-1").lower()
        name = text.rsplit(":", 1)[0] if not text.endswith("]") else text
        if name not in state.allowed_hosts and text not in state.allowed_hosts:
            raise Forbidden(
                f"Host {shown(name)} is not one this server answers to; start it with "
                "--allow-host to add one."
            )

    def _check_token(self, auth: bytes | None) -> None:
        token = self.state.token
        assert token is not None
        given = auth[7:] if auth is not None and auth[:7].lower() == b"bearer " else b""
        if not hmac.compare_digest(given, token.encode()):
            raise Unauthorized("This server needs a bearer token: Authorization: Bearer <token>.")

    async def _read_body(self, receive: Any, length: bytes | None) -> bytes:
        limit = self.state.max_body
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise InvalidInput("Content-Length is not a number.") from None
            if declared > limit:
                raise TooLarge(f"The body is over the {limit}-byte limit of this server.")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The body is over the {limit}-byte limit of this server.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _error(self, send: Any, path: str, exc: MlopsError) -> None:
        headers = [(b"content-type", JSON.encode())]
        if isinstance(exc, Unauthorized):
            headers.append((b"www-authenticate", b"Bearer"))
        body = _error_body(path, exc)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _record_refusal(self, request_id: str, exc: MlopsError, start: float) -> None:
        state = self.state
        predictor = state.predictor
        assert state.recorder is not None
        state.recorder.add(
            request_id,
            int(time.time() * 1000),
            predictor.version if predictor is not None else 0,
            exc.http_status,
            (time.perf_counter() - start) * 1000.0,
            None,
            None,
            "",
            None,
            exc.public[:1000],
        )


def _replay(body: bytes, receive: Any) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The body, already read, as the first message; then the connection's own messages
    (a disconnect), as if nothing had read it."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = await receive()
        return message

    return replay


# -- routes -----------------------------------------------------------------------------------


def _json(value: Any, status: int = 200) -> Response:
    return Response(protocols.dumps(value), status_code=status, media_type=JSON)


def _methods(*allowed: str) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        if request.method not in allowed:
            raise MethodNotAllowed(
                f"{request.method} is not allowed here; use {', '.join(allowed)}."
            )

    return check


_GET = _methods("GET", "HEAD")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_POST = _methods("POST")


async def _predict(
    state: ServingState, predictor: Predictor, inputs: Any, method: str
) -> np.ndarray:
    if state.batcher is not None and len(inputs) < state.batcher.max_rows:
        return await state.batcher.predict(predictor, inputs, method)
    out = predictor.predict(inputs, method)
    state.counters.observe_batch(len(inputs))
    return out


def _record(
    state: ServingState,
    scope: Any,
    predictor: Predictor,
    inputs: Any,
    method: str,
    out: np.ndarray,
) -> tuple[int, float] | None:
    """Record an answer; its time (ms) and latency (ms), None when nothing is recorded."""
    recorder = state.recorder
    if recorder is None:
        return None
    at_ms = int(time.time() * 1000)
    latency_ms = (time.perf_counter() - scope["mlops.start"]) * 1000.0
    recorder.add(
        scope["mlops.request_id"],
        at_ms,
        predictor.version,
        200,
        latency_ms,
        predictor.spec.names,
        inputs,
        "prediction" if method == "predict" else "proba",
        out,
        scorer=predictor.scorer if method == "predict" else None,
    )
    return at_ms, latency_ms


async def _answer(
    state: ServingState, scope: Any, predictor: Predictor, inputs: Any, methods: list[str]
) -> list[np.ndarray]:
    """The served version's outputs, the first recorded."""
    outs: list[np.ndarray] = []
    for method in methods:
        out = await _predict(state, predictor, inputs, method)
        if not outs:
            _record(state, scope, predictor, inputs, method, out)
        outs.append(out)
    return outs


async def _with_trial(
    state: ServingState,
    scope: Any,
    trial: Trial,
    served: Predictor,
    inputs: Any,
    methods: list[str],
    parse: Callable[[Any], Any],
    canary: bool = True,
) -> tuple[Predictor, list[np.ndarray], BackgroundTask | None]:
    """Answer a prediction request while ``trial`` runs: the version that answered, its
    outputs, and the shadow's work to run after the response. ``parse`` reads the request
    for another input spec; ``canary`` False keeps the request on the served version (it
    named that version)."""
    if trial.mode == "canary":
        if not canary or random.random() >= trial.share:
            return served, await _answer(state, scope, served, inputs, methods), None
        candidate = trial.predictor
        try:
            own = trial.inputs_for(served, inputs, parse)
            outs = [await _predict(state, candidate, own, method) for method in methods]
        except Exception as exc:  # anything: the served version answers instead
            at_ms = int(time.time() * 1000)
            failed_ms = (time.perf_counter() - scope["mlops.start"]) * 1000.0
            status = 500
            try:
                outs = await _answer(state, scope, served, inputs, methods)
            except MlopsError as refused:
                # Both refused the input: the request's fault, not the candidate's.
                if refused.http_status < 500 and isinstance(exc, MlopsError):
                    status = refused.http_status if exc.http_status < 500 else 500
                raise
            finally:
                rid = scope["mlops.request_id"]
                _trial_failed(state, rid, trial, exc, status, at_ms, failed_ms)
            return served, outs, None
        state.counters.add("trial_answers")
        _record(state, scope, candidate, own, methods[0], outs[0])
        return candidate, outs, None
    if state.recorder is None:  # a shadow's answers exist only to be recorded
        return served, await _answer(state, scope, served, inputs, methods), None
    began = time.perf_counter()
    first = await _predict(state, served, inputs, methods[0])
    own_ms = (time.perf_counter() - began) * 1000.0
    recorded = _record(state, scope, served, inputs, methods[0], first)
    assert recorded is not None
    at_ms, latency_ms = recorded
    outs = [first] + [await _predict(state, served, inputs, m) for m in methods[1:]]
    task = BackgroundTask(
        _shadow, state, scope["mlops.request_id"], trial, served, inputs, methods[0], parse,
        at_ms, latency_ms - own_ms,
    )  # fmt: skip
    return served, outs, task


async def _shadow(
    state: ServingState,
    request_id: str,
    trial: Trial,
    served: Predictor,
    inputs: Any,
    method: str,
    parse: Callable[[Any], Any],
    at_ms: int,
    base_ms: float,
) -> None:
    """The candidate's answer to a copy of a request, recorded with ``shadow`` true (after
    the response: whatever happens here, the client has its answer). ``base_ms``: the
    request's latency less the served version's own predict time."""
    recorder = state.recorder
    assert recorder is not None
    candidate = trial.predictor
    began = time.perf_counter()
    try:
        own = trial.inputs_for(served, inputs, parse)
        out = await _predict(state, candidate, own, method)
    except Exception as exc:
        ms = base_ms + (time.perf_counter() - began) * 1000.0
        _trial_failed(state, request_id, trial, exc, 500, at_ms, ms, shadow=True)
        return
    state.counters.add("trial_answers")
    recorder.add(
        request_id,
        at_ms,
        candidate.version,
        200,
        base_ms + (time.perf_counter() - began) * 1000.0,
        candidate.spec.names,
        own,
        "prediction" if method == "predict" else "proba",
        out,
        scorer=candidate.scorer if method == "predict" else None,
        shadow=True,
    )


def _trial_failed(
    state: ServingState,
    request_id: str,
    trial: Trial,
    exc: Exception,
    status: int,
    at_ms: int,
    latency_ms: float,
    shadow: bool = False,
) -> None:
    """Count, log and record a candidate's failure as its own (the client never sees it)."""
    state.counters.add("trial_errors")
    trial.failures += 1
    candidate = trial.predictor
    if trial.failures == 1 or trial.failures % 1000 == 0:  # not one traceback per request
        log.warning(
            "candidate %s version %s (%s rollout %s) failed %d time(s); the served version "
            "answers", candidate.name, candidate.version, trial.mode, trial.rollout_id[:8],
            trial.failures, exc_info=exc if trial.failures == 1 else None,
        )  # fmt: skip
    if state.recorder is None:
        return
    text = (
        exc.public
        if isinstance(exc, MlopsError)
        else f"The candidate failed ({type(exc).__name__}); see the server's log."
    )
    state.recorder.add(
        request_id, at_ms, candidate.version, status, latency_ms, None, None, "", None,
        text[:1000], shadow=shadow,
    )  # fmt: skip


def build_app(state: ServingState) -> Any:
    async def invocations(request: Request) -> Response:
        _POST(request)
        predictor = state.current()
        scope = request.scope
        body = scope["mlops.body"]
        content_type = request.headers.get("content-type", "")
        inputs, method = protocols.mlflow_request(predictor.spec, body, content_type)
        trial = state.trial
        if trial is not None and trial.predictor.version != predictor.version:
            _, outs, task = await _with_trial(
                state, scope, trial, predictor, inputs, [method],
                lambda spec: protocols.mlflow_request(spec, body, content_type)[0],
            )  # fmt: skip
            return Response(protocols.mlflow_response(outs[0]), media_type=JSON, background=task)
        out = await _predict(state, predictor, inputs, method)
        _record(state, scope, predictor, inputs, method, out)
        return Response(protocols.mlflow_response(out), media_type=JSON)

    async def ping(request: Request) -> Response:
        _GET(request)
        state.current()
        return Response("\n", media_type="text/plain")

    async def version(request: Request) -> Response:
        _GET(request)
        predictor = state.predictor
        trial = state.trial
        return _json(
            {
                "model": state.name,
                "version": None if predictor is None else predictor.version,
                "following": f"models:/{state.name}{state.ref}",
                "server": f"jupyter-mlops {state.server_version}",
                "server_id": state.server_id,
                "trial": None if trial is None else trial.describe(),
            }
        )

    async def v2_server(request: Request) -> Response:
        _GET(request)
        return _json({"name": "jupyter-mlops", "version": state.server_version, "extensions": []})

    async def v2_live(request: Request) -> Response:
        _GET(request)
        return _json({"live": True})

    async def v2_ready(request: Request) -> Response:
        _GET(request)
        ready = state.predictor is not None
        return _json({"ready": ready}, 200 if ready else 503)

    def _v2_model(request: Request) -> Predictor:
        name = request.path_params["name"]
        predictor = state.current()
        if name != state.name:
            raise NotFound(f"This server serves model {shown(state.name)}, not {shown(name)}.")
        asked = request.path_params.get("version")
        if asked is not None and asked != str(predictor.version):
            raise NotFound(
                f"This server serves version {predictor.version} of {state.name}, not "
                f"{shown(asked)}."
            )
        return predictor

    async def v2_metadata(request: Request) -> Response:
        _GET(request)
        predictor = _v2_model(request)
        spec = predictor.spec
        inputs = [
            {"name": c["name"], "datatype": _V2_KIND[c["kind"]], "shape": [-1]}
            for c in spec.describe()
        ]
        outputs = [{"name": "predict", "datatype": "BYTES", "shape": [-1]}]
        if predictor.has_proba:
            classes = predictor.classes() or []
            outputs.append(
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]}
            )
        return _json(
            {
                "name": state.name,
                "versions": [str(predictor.version)],
                "platform": f"jupyter-mlops/{predictor.flavor}",
                "inputs": inputs,
                "outputs": outputs,
                "parameters": {
                    "model_class": predictor.model_class,
                    "sha256": predictor.sha256,
                    "classes": predictor.classes(),
                    "tensor_input": {
                        "name": "input-0",
                        "datatype": "FP64",
                        "shape": [-1, spec.width],
                    }
                    if spec.numeric
                    else None,
                },
            }
        )

    async def v2_model_ready(request: Request) -> Response:
        _GET(request)
        _v2_model(request)
        return _json({"name": state.name, "ready": True})

    async def v2_infer(request: Request) -> Response:
        _POST(request)
        predictor = _v2_model(request)
        scope = request.scope
        body = scope["mlops.body"]
        header = request.headers.get("inference-header-content-length")
        inputs, outputs, client_id = protocols.v2_request(predictor.spec, body, header)
        trial = state.trial
        task = None
        if trial is not None and trial.predictor.version != predictor.version:
            # A request that names the served version stays on it.
            predictor, outs, task = await _with_trial(
                state, scope, trial, predictor, inputs, outputs,
                lambda spec: protocols.v2_request(spec, body, header)[0],
                canary="version" not in request.path_params,
            )  # fmt: skip
        else:
            outs = await _answer(state, scope, predictor, inputs, outputs)
        results = [protocols.v2_output(m, o) for m, o in zip(outputs, outs, strict=True)]
        body_out = protocols.dumps(
            {
                "model_name": state.name,
                "model_version": str(predictor.version),
                "id": client_id or scope["mlops.request_id"],
                "parameters": {"request_id": scope["mlops.request_id"]},
                "outputs": results,
            }
        )
        return Response(body_out, media_type=JSON, background=task)

    async def feedback(request: Request) -> Response:
        _POST(request)
        data = protocols.parse_json(request.scope["mlops.body"])
        labels = _feedback_labels(data)
        if state.recorder is None:
            raise InvalidInput("This server does not record predictions, so it takes no feedback.")
        client = state.recorder.client
        written = await asyncio.get_running_loop().run_in_executor(
            None, client.log_labels, state.name, labels
        )
        return _json({"labelled_rows": written})

    async def metrics(request: Request) -> Response:
        _GET(request)
        predictor = state.predictor
        text = prometheus_text(
            state.snapshot(), state.name, None if predictor is None else predictor.version
        )
        return Response(text, media_type="text/plain; version=0.0.4")

    async def openapi(request: Request) -> Response:
        _GET(request)
        assert state.openapi is not None
        return _json(state.openapi(state))

    async def index(request: Request) -> Response:
        _GET(request)
        return _json(
            {
                "model": state.name,
                "following": f"models:/{state.name}{state.ref}",
                "docs": "/openapi.json",
                "routes": [r.path for r in routes],
            }
        )

    async def not_found(scope: Any, receive: Any, send: Any) -> None:
        raise NotFound(f"No route {shown(scope['path'])}; see /openapi.json.")

    def route(path: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Route:
        # Every method reaches the endpoint, which answers 405 in the protocol's own shape.
        return Route(path, endpoint, methods=ALL_METHODS)

    routes = [
        route("/", index),
        route("/invocations", invocations),
        route("/ping", ping),
        route("/health", ping),
        route("/version", version),
        route("/feedback", feedback),
        route("/metrics", metrics),
        route("/openapi.json", openapi),
        route("/v2", v2_server),
        route("/v2/health/live", v2_live),
        route("/v2/health/ready", v2_ready),
        route("/v2/models/{name}", v2_metadata),
        route("/v2/models/{name}/ready", v2_model_ready),
        route("/v2/models/{name}/infer", v2_infer),
        route("/v2/models/{name}/versions/{version}", v2_metadata),
        route("/v2/models/{name}/versions/{version}/ready", v2_model_ready),
        route("/v2/models/{name}/versions/{version}/infer", v2_infer),
    ]
    return Guard(Router(routes=routes, default=not_found), state)


_V2_KIND = {"float": "FP64", "int": "INT64", "bool": "BOOL", "str": "BYTES", "any": "BYTES"}
MAX_FEEDBACK = 100_000


def _feedback_labels(data: Any) -> list[tuple[str, Any]]:
    """``{"request_id", "label"}``, ``{"request_id", "labels": [...]}`` (one per row) or
    ``{"feedback": [those, ...]}``."""
    items = data.get("feedback") if isinstance(data, dict) and "feedback" in data else [data]
    if not isinstance(items, list) or not items:
        raise InvalidInput("feedback must be a non-empty list of {request_id, label}.")
    if len(items) > MAX_FEEDBACK:
        raise InvalidInput(f"At most {MAX_FEEDBACK} labels at a time.")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
            raise InvalidInput(f"Feedback {i} needs a request_id (text) and a label.")
        extra = set(item) - {"request_id", "label", "labels"}
        if extra:
            raise InvalidInput(f"Feedback {i} has unknown field(s) {', '.join(sorted(extra))}.")
        if ("label" in item) == ("labels" in item):
            raise InvalidInput(f"Feedback {i} needs one of label or labels (one per row).")
        value = item["labels"] if "labels" in item else item["label"]
        if "labels" in item and (not isinstance(value, list) or not value):
            raise InvalidInput(f"Feedback {i}: labels must be a non-empty list.")
        if "label" in item and isinstance(value, list | dict):
            raise InvalidInput(f"Feedback {i}: label is one value; give a list as labels.")
        out.append((item["request_id"], value))
    return out
