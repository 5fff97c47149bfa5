"""Start, find and stop model servers from a notebook, the CLI or the lab.

A server is started in its own process and session, so it outlives the kernel, the terminal
or the lab that started it; its id is chosen here, up front, so the caller follows its record
at once. The token reaches it through its environment, never its command line (which any
user of the machine can read). Nothing here imports the ASGI stack: a notebook that starts
a server pays for a process, not for uvicorn.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import store_env
from ..entities import ACTIVE_SERVER_STATES, ModelServer, ServerStatus
from ..exceptions import Conflict, InvalidInput, MlopsError, NotFound, shown
from .options import TOKEN_ENV, ServeOptions

if TYPE_CHECKING:
    from ..client import Client

MODELS_SCHEME = "models:/"
START_TIMEOUT_S = 180.0


def split_model_ref(target: str) -> tuple[str, str]:
    """``(name, ref)`` from ``churn@champion``, ``churn/Production``, ``churn/3`` or the
    same behind ``models:/``; ``ref`` keeps its ``@`` or ``/``."""
    if not isinstance(target, str) or not target.strip():
        raise InvalidInput("Name a model to serve: churn@champion, churn/Production or churn/3.")
    text = target.strip()
    if text.startswith(MODELS_SCHEME):
        text = text[len(MODELS_SCHEME) :]
    if "@" in text:
        name, _, alias = text.rpartition("@")
        if name and alias:
            return name, "@" + alias
    elif "/" in text:
        name, _, ref = text.rpartition("/")
        if name and ref:
            return name, "/" + ref
    raise InvalidInput(
        f"Cannot tell which version {shown(target)} names: use NAME@ALIAS, NAME/STAGE or "
        "NAME/VERSION (churn@champion, churn/Production, churn/3)."
    )


@dataclass
class ServerHandle:
    """A running model server, as ``mlops.serve(...)`` returns it."""

    id: str
    url: str
    name: str
    ref: str
    client: Client
    token: str | None = None

    @property
    def record(self) -> ModelServer:
        return self.client.get_model_server(self.id)

    @property
    def version(self) -> int | None:
        return self.record.version

    @property
    def status(self) -> str:
        return self.record.status

    def predict(self, data: Any, *, proba: bool = False, timeout: float = 30.0) -> Any:
        """Send ``data`` (a DataFrame, a list of records or rows) to ``/invocations`` and
        return the predictions, as any HTTP client would."""
        if hasattr(data, "to_dict") and hasattr(data, "columns"):
            body: dict[str, Any] = {"dataframe_split": json.loads(data.to_json(orient="split"))}
            body["dataframe_split"].pop("index", None)
        elif isinstance(data, list) and data and isinstance(data[0], dict):
            body = {"dataframe_records": data}
        else:
            body = {"instances": [list(map(float, row)) for row in data]}
        if proba:
            body["params"] = {"predict_proba": True}
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.url + "/invocations", data=json.dumps(body).encode(), headers=headers
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())["predictions"]

    def stop(self, timeout: float = 30.0) -> ModelServer:
        return stop_server(self.client, self.id, timeout=timeout)

    def __repr__(self) -> str:
        return f"<model server {self.id[:8]} {self.name}{self.ref} at {self.url}>"

    def _repr_html_(self) -> str:
        import html

        record = self.record
        return (
            f"<b>{html.escape(self.name)}{html.escape(self.ref)}</b> version "
            f"{record.version} · <a href='{html.escape(self.url)}/openapi.json' "
            f"target='_blank'>{html.escape(self.url)}</a> · {html.escape(record.status)} · "
            f"server <code>{self.id[:8]}</code>"
        )


def start_server(
    client: Client,
    target: str,
    options: ServeOptions | None = None,
    *,
    actor: str | None = None,
    timeout: float = START_TIMEOUT_S,
) -> ServerHandle:
    """Start a server for ``target`` (``churn@champion``...) in its own process and return
    once it answers; its output goes to ``<store>/server-logs/<id>.log``.

    Raises:
        NotFound: the model or the version it names does not exist (checked first).
        MlopsError: the server failed to start (its reason, from its record or log).
    """
    options = (options or ServeOptions()).validate()
    name, ref = split_model_ref(target)
    client.resolve_model_uri(f"{MODELS_SCHEME}{name}{ref}")  # fail here, not in the child
    if options.port:
        _check_port(options.host, options.port)
    server_id = uuid.uuid4().hex
    logs = client.location.logs_folder("server-logs")
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{server_id}.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter_mlops.serving",
        "--server-id",
        server_id,
        "--name",
        name,
        "--ref",
        ref,
        "--options",
        json.dumps(options.to_json()),
    ]
    if actor is not None:
        cmd += ["--actor", actor]
    env = {**os.environ, **store_env(client.location)}
    env.pop(TOKEN_ENV, None)
    if options.token is not None:
        env[TOKEN_ENV] = options.token
    with open(log_path, "ab") as fh:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            record = client.get_model_server(server_id)
        except NotFound:
            record = None
        if record is not None and record.status == ServerStatus.RUNNING.value:
            return ServerHandle(record.id, record.url, name, ref, client, options.token)
        if record is not None and record.status not in ACTIVE_SERVER_STATES:
            raise MlopsError(f"The server did not start: {record.reason}")
        if process.poll() is not None:
            refused = [line for line in _tail(log_path).splitlines() if "Cannot listen" in line]
            if refused:
                raise Conflict(refused[-1])
            raise MlopsError(
                f"The server exited with status {process.returncode} while starting:\n"
                + _tail(log_path)
            )
        time.sleep(0.1)
    process.kill()
    raise MlopsError(f"The server did not start within {timeout:.0f} s:\n" + _tail(log_path))


def _check_port(host: str, port: int) -> None:
    """Conflict when ``port`` is taken (the child checks again: this only says it early)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise Conflict(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_server(client: Client, server_id: str, *, timeout: float = 30.0) -> ModelServer:
    """Stop a server: flag its record (a server on any host sees it at its next heartbeat)
    and, when it runs on this machine, send it SIGTERM; wait until its record ends."""
    from .. import capture

    record = client.get_model_server(server_id)
    if record.status not in ACTIVE_SERVER_STATES:
        return record
    record = client.request_model_server_stop(record.id)
    if record.host == capture.host() and record.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = client.get_model_server(record.id)
        if record.status not in ACTIVE_SERVER_STATES:
            return record
        time.sleep(0.1)
    return record


def ping(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/ping", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False
