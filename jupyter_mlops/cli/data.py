"""``data`` and ``data lineage``: dataset versions and the runs that wrote and read them."""

from __future__ import annotations

import json

import click

from .. import views
from ..entities import jsonable
from .common import FORMATS, client_of, emit, errors


@click.group(invoke_without_command=True)
@click.option("--name", help="Only versions of this dataset.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def data(ctx: click.Context, name: str | None, fmt: str) -> None:
    """Dataset versions (and `data lineage REF`)."""
    if ctx.invoked_subcommand is None:
        emit(views.dataset_rows(client_of(ctx).list_datasets(name)), fmt)


@data.command("lineage")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def data_lineage(ctx: click.Context, ref: str, fmt: str) -> None:
    """Runs that wrote and read a dataset version (REF: id, fingerprint, name or name@N)."""
    lineage = client_of(ctx).dataset_lineage(ref)
    if fmt == "json":
        click.echo(json.dumps(jsonable(lineage), indent=2, default=str))
        return
    d = lineage["dataset"]
    click.echo(f"{d['name']} v{d['version']}  {d['kind']} {d['shape'] or ''}  {d['fingerprint']}")
    for title, key in (("produced by", "produced_by"), ("used by", "used_by")):
        click.echo(f"{title}:")
        if not lineage[key]:
            click.echo("  (no run)")
        for entry in lineage[key]:
            models = ", ".join(f"{m['name']} ({m['id'][:8]})" for m in entry["models"])
            click.echo(
                f"  {entry['run_id'][:8]} {entry['experiment']}/{entry['name']} "
                f"[{entry['status']}]" + (f" → models: {models}" if models else "")
            )
