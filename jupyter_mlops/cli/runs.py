"""``runs list|show|compare|delete``, ``experiments`` and ``export``: runs from the terminal."""

from __future__ import annotations

import io
import json
import sys

import click

from .. import views
from ..exceptions import InvalidInput
from ..query import FILTER_HELP
from .common import FORMATS, client_of, emit, errors, split

FILTER_OPTION_HELP = (
    "Filter, e.g. \"metrics.acc > 0.9 and (params.model = 'rf' or tags.stage = 'prod')\"."
)
# \b keeps click from re-wrapping the examples.
FILTER_EPILOG = "\b\n" + FILTER_HELP.replace("\n\n", "\n\n\b\n")


@click.group()
def runs() -> None:
    """List, show, compare and delete runs."""


@runs.command("list", epilog=FILTER_EPILOG)
@click.option("-e", "--experiment", multiple=True, help="Experiment name; repeatable.")
@click.option("-f", "--filter", "filter_", help=FILTER_OPTION_HELP)
@click.option("-o", "--order-by", multiple=True, help="e.g. 'metrics.acc DESC'; repeatable.")
@click.option("-n", "--limit", default=50, show_default=True, type=int)
@click.option("--offset", default=0, type=int)
@click.option(
    "--params", help="Comma-separated param columns (default: all; in a table, those that vary)."
)
@click.option("--metrics", help="Comma-separated metric columns (default: all).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def runs_list(
    ctx: click.Context,
    experiment: tuple[str, ...],
    filter_: str | None,
    order_by: tuple[str, ...],
    limit: int,
    offset: int,
    params: str | None,
    metrics: str | None,
    fmt: str,
) -> None:
    """Runs, newest first, filtered and sorted in the database."""
    page = client_of(ctx).search_runs_page(
        experiment=list(experiment) or None,
        filter=filter_,
        order_by=list(order_by),
        limit=limit,
        offset=offset,
    )
    param_cols = split(params)
    if param_cols is None and fmt == "table":
        param_cols = views.varying_params(page.runs)  # all of them would not fit a terminal
    rows = views.run_rows(page.runs, param_cols, split(metrics), raw=fmt != "table")
    emit(rows, fmt)
    if fmt == "table" and page.total > offset + len(page.runs):
        click.echo(f"({len(page.runs)} of {page.total} runs; use --limit/--offset for more)")


@runs.command("show")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def runs_show(ctx: click.Context, run_id: str, fmt: str) -> None:
    """Everything recorded about one run (id or unique prefix)."""
    run = client_of(ctx).get_run(run_id)
    if fmt == "json":
        click.echo(json.dumps(run.to_dict(), indent=2, default=str))
    else:
        click.echo(views.run_detail_text(run))


@runs.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--diff-only", is_flag=True, help="Only the fields that differ.")
@click.pass_context
@errors
def runs_compare(ctx: click.Context, run_ids: tuple[str, ...], fmt: str, diff_only: bool) -> None:
    """Params, metrics and data of runs side by side; differing fields marked *."""
    if len(run_ids) < 2:
        raise InvalidInput("compare needs at least two run ids.")
    client = client_of(ctx)
    rows = views.compare_rows([client.get_run(r) for r in run_ids])
    if diff_only:
        rows = [r for r in rows if r["differs"]]
    if fmt == "table":
        for row in rows:
            row["differs"] = "*" if row["differs"] else ""
    emit(rows, fmt)


@runs.command("delete")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@errors
def runs_delete(ctx: click.Context, run_ids: tuple[str, ...], yes: bool) -> None:
    """Delete runs (their artifacts are freed by `gc`)."""
    if not yes:
        click.confirm(f"Delete {len(run_ids)} run(s)?", abort=True)
    n = client_of(ctx).delete_runs(run_ids)
    click.echo(f"deleted {n} run(s)")


@click.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def experiments(ctx: click.Context, fmt: str) -> None:
    """Experiments and how many runs each has."""
    emit(views.experiment_rows(client_of(ctx).list_experiments()), fmt)


@click.command()
@click.option("-e", "--experiment", multiple=True)
@click.option("-f", "--filter", "filter_", help=FILTER_OPTION_HELP)
@click.option("-o", "--order-by", multiple=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--output", "-O", type=click.Path(dir_okay=False), help="File (default: stdout).")
@click.pass_context
@errors
def export(
    ctx: click.Context,
    experiment: tuple[str, ...],
    filter_: str | None,
    order_by: tuple[str, ...],
    fmt: str,
    output: str | None,
) -> None:
    """Export every matching run (params and metrics as columns) to CSV or JSON."""
    from tqdm import tqdm

    client = client_of(ctx)
    runs_iter = client.iter_runs(list(experiment) or None, filter_, list(order_by))
    all_runs = list(tqdm(runs_iter, desc="runs", unit="run", disable=None, file=sys.stderr))
    rows = views.run_rows(all_runs, raw=True)
    if output:
        with open(output, "w", newline="", encoding="utf-8") as fh:
            emit(rows, fmt, fh)
        click.echo(f"exported {len(rows)} run(s) to {output}", err=True)
    else:
        buf = io.StringIO()
        emit(rows, fmt, buf)
        sys.stdout.write(buf.getvalue())
