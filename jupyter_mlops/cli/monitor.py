"""``monitor NAME`` (drift, data quality, model quality and operations of a served model's
recorded traffic), ``monitor reference NAME/VERSION`` (build its reference),
``monitor config NAME`` (show or set how it is monitored)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..exceptions import InvalidInput
from .common import DefaultGroup, client_of, errors, split_ref


class MonitorGroup(DefaultGroup):
    default_command = "show"


@click.group(cls=MonitorGroup)
def monitor() -> None:
    """Monitor a served model: `monitor churn [--window 1h | --rows 10000] [--format json]`."""


@monitor.command("show")
@click.argument("name")
@click.option("--window", help="Each window's duration: 15m, 1h, 1d (default: the model's, 1h).")
@click.option("--rows", type=int, help="Windows of this many rows instead of a duration.")
@click.option(
    "--windows", "count", type=int, default=24, show_default=True, help="How many windows back."
)
@click.option("--version", type=int, help="Only the traffic of this version.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def show(
    ctx: click.Context,
    name: str,
    window: str | None,
    rows: int | None,
    count: int,
    version: int | None,
    fmt: str,
) -> None:
    """Check NAME's recorded traffic against its reference, window by window."""
    from ..monitoring.monitor import monitor as run_monitor

    report = run_monitor(
        client_of(ctx),
        name,
        window=window,
        rows=rows,
        windows=count,
        version=version,
        progress=True,
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), allow_nan=False))
        return
    from ..monitoring.render import report_text

    click.echo(report_text(report))


@monitor.command("reference")
@click.argument("ref", metavar="NAME/VERSION")
@click.option(
    "--dataset", required=True, help="The training data: a recorded file dataset, NAME@VERSION."
)
@click.option("--target", help="Its label column (kept out of the inputs; calibrates the scores).")
@click.pass_context
@errors
def reference(ctx: click.Context, ref: str, dataset: str, target: str | None) -> None:
    """Build (or rebuild) a version's monitoring reference from a recorded dataset."""
    from ..monitoring.monitor import build_reference

    name, version = split_ref(ref, "/", "a model version", "churn/3")
    built = build_reference(client_of(ctx), name, version, dataset=dataset, target=target)
    click.echo(
        f"Reference of {name}/{version}: {built.rows:,} rows, {len(built.columns)} columns, "
        f"{built.task}" + (f" ({'; '.join(built.notes)})" if built.notes else "")
    )


@monitor.command("check")
@click.argument("ref", metavar="NAME/VERSION")
@click.option("--dataset", required=True, help="A recorded file dataset, NAME@VERSION.")
@click.option("--target", help="Its label column: the model's quality on it.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def check_data(ctx: click.Context, ref: str, dataset: str, target: str | None, fmt: str) -> None:
    """Check a dataset against a version's reference: drift, data quality, its quality."""
    from ..monitoring.monitor import check_dataset

    name, version = split_ref(ref, "/", "a model version", "churn/3")
    window = check_dataset(client_of(ctx), name, version, dataset=dataset, target=target)
    if fmt == "json":
        click.echo(json.dumps(window.to_dict(), allow_nan=False))
        return
    from ..monitoring.render import window_text

    click.echo(f"{dataset} against the reference of {name}/{version}:")
    click.echo("\n".join(window_text(window)))


@monitor.command("config")
@click.argument("name")
@click.option(
    "--set", "path", type=click.Path(dir_okay=False), help="A YAML file to set ('-': stdin)."
)
@click.pass_context
@errors
def config(ctx: click.Context, name: str, path: str | None) -> None:
    """Show NAME's monitoring configuration, or set it from a YAML file."""
    client = client_of(ctx)
    if path is not None:
        text: Any = sys.stdin.read() if path == "-" else _read(path)
        checked = client.set_monitor_config(name, text)
    else:
        checked = client.get_monitor_config(name)
    import yaml

    click.echo(yaml.safe_dump(checked.to_dict(), sort_keys=False).rstrip())


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read {path}: {exc}") from exc


@monitor.command("alerts")
@click.argument("name")
@click.option("--evaluate", is_flag=True, help="Judge the rules on the latest windows first.")
@click.option(
    "--history", "history", type=int, default=10, show_default=True, help="Changes shown."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def alerts(ctx: click.Context, name: str, evaluate: bool, history: int, fmt: str) -> None:
    """NAME's alert rules: their state (ok, warn, alert) and their latest changes."""
    from ..entities import jsonable

    client = client_of(ctx)
    client.get_registered_model(name)
    if evaluate:
        from ..monitoring.alerts import evaluate_alerts

        states = evaluate_alerts(client, name)
    else:
        states = client.list_alert_states(name)
    changes = client.alert_history(name, limit=history, newest=True) if history > 0 else []
    if fmt == "json":
        click.echo(
            json.dumps({"states": jsonable(states), "history": jsonable(changes)}, allow_nan=False)
        )
        return
    from ..monitoring.render import alerts_text

    click.echo(alerts_text(name, states, changes))
