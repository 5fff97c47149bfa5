"""``serve REF`` (a registered version over HTTP), ``serve list``, ``serve stop ID``.

The flags of ``serve`` come from the fields of
:class:`~jupyter_mlops.serving.options.ServeOptions`, where each is declared once.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..exceptions import MlopsError
from .common import FORMATS, DefaultGroup, client_of, emit, errors

F = Callable[..., Any]


def _serve_flags(fn: F) -> F:
    from ..serving.options import cli_fields

    for f in reversed(cli_fields()):
        flags = list(f.metadata["cli"])
        kind = str(f.type)
        default = f.default if f.default is not None else None
        help_text = f.metadata["help"]
        if "/" in flags[0]:
            fn = click.option(flags[0], f.name, default=default, help=help_text)(fn)
        elif kind.startswith("tuple"):
            fn = click.option(*flags, f.name, multiple=True, help=help_text)(fn)
        else:
            click_type: Any = {"int": int, "float": float, "float | None": float}.get(kind, str)
            shown = f" [default: {default}]" if default not in (None, "") else ""
            fn = click.option(
                *flags, f.name, type=click_type, default=None, help=help_text + shown
            )(fn)
    return fn


class ServeGroup(DefaultGroup):
    """``serve REF`` starts a server; ``serve list`` and ``serve stop`` manage them."""

    default_command = "start"


@click.group(cls=ServeGroup)
def serve() -> None:
    """Serve a registered model over HTTP: `serve churn@champion | churn/Production | churn/3`.

    The server speaks MLflow's scoring protocol (POST /invocations) and the Open Inference
    Protocol v2 (/v2/models/NAME/infer), records every prediction in the store, follows the
    alias or stage it was started for, and runs until Ctrl-C, `serve stop ID` or
    --idle-timeout. `--detach` starts it in the background and returns once it answers.
    """


@serve.command("start")
@click.argument("target")
@_serve_flags
@click.option("--detach", "-d", is_flag=True, help="Run in the background; print its id and URL.")
@click.pass_context
@errors
def start(ctx: click.Context, target: str, detach: bool, **flags: Any) -> None:
    """Serve TARGET (churn@champion, churn/Production, churn/3, or a bundle folder)."""
    from ..serving.launch import split_model_ref, start_server
    from ..serving.options import TOKEN_ENV, ServeOptions

    given = {k: v for k, v in flags.items() if v is not None and v != ()}
    if "allowed_hosts" in given:
        given["allowed_hosts"] = tuple(given["allowed_hosts"])
    given.setdefault("token", os.environ.get(TOKEN_ENV) or None)
    options = ServeOptions(**given).validate()
    client = client_of(ctx)
    if detach:
        handle = start_server(client, target, options)
        click.echo(f"Serving {handle.name}{handle.ref} version {handle.version} at {handle.url}")
        click.echo(f"server {handle.id}  (stop it with: jupyter-mlops serve stop {handle.id[:8]})")
        return
    from ..serving.bundle import META, read_bundle
    from ..serving.process import Supervisor

    bundle = Path(target)
    if (bundle / META).is_file():  # a bundle folder (models build-docker): one version
        meta, _ = read_bundle(bundle)
        name, ref = str(meta["name"]), f"/{meta['version']}"
        supervisor = Supervisor(
            client, uuid.uuid4().hex, name, ref, options, None, bundle=str(bundle.resolve())
        )
    else:
        name, ref = split_model_ref(target)
        client.resolve_model_uri(f"models:/{name}{ref}")
        supervisor = Supervisor(client, uuid.uuid4().hex, name, ref, options, None)
    sys.exit(supervisor.run())


def _when(ms: int | None) -> str:
    return "" if ms is None else datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


@serve.command("list")
@click.option("--model", "-m", default=None, help="Only the servers of this model.")
@click.option("--all", "-a", "show_all", is_flag=True, help="Ended servers too.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def list_servers(ctx: click.Context, model: str | None, show_all: bool, fmt: str) -> None:
    """Model servers: what each serves, where, its status and figures."""
    servers = client_of(ctx).list_model_servers(model, active_only=not show_all)
    if fmt == "json":
        emit([s.to_dict() for s in servers], fmt)
        return
    if not servers and fmt == "table":
        click.echo("No model server is running." if not show_all else "No model server yet.")
        return
    rows = [
        {
            "id": s.id[:8] if fmt == "table" else s.id,
            "model": s.name + s.ref,
            "version": s.version,
            "status": s.status,
            "url": s.url,
            "req/s": s.stats.get("rate"),
            "p95_ms": s.stats.get("p95_ms"),
            "requests": s.stats.get("requests"),
            "started": _when(s.started_at),
            "by": s.started_by,
            "reason": s.reason,
        }
        for s in servers
    ]
    emit(rows, fmt)


@serve.command("stop")
@click.argument("server_id")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for it to end.")
@click.pass_context
@errors
def stop(ctx: click.Context, server_id: str, timeout: float) -> None:
    """Stop the server SERVER_ID (an id or its first characters)."""
    from ..serving.launch import stop_server

    record = stop_server(client_of(ctx), server_id, timeout=timeout)
    if record.status in ("STARTING", "RUNNING"):
        raise MlopsError(f"Server {record.id[:8]} did not stop within {timeout:g} s.")
    click.echo(
        f"Server {record.id[:8]} ({record.name}{record.ref}): {record.status}, {record.reason}"
    )
