"""``jupyter-mlops`` (also ``jupyter mlops``): the store from the terminal."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

import click

from . import views
from .entities import jsonable
from .exceptions import InvalidInput, MlopsError

FORMATS = click.Choice(["table", "json", "csv"])


def _client(ctx: click.Context) -> Any:
    from .client import Client

    if ctx.obj is None:
        ctx.obj = Client(ctx.find_root().params.get("store"))
    return ctx.obj


def _errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """MlopsError → a one-line message and exit status 1 (not found) or 2 (bad input)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MlopsError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(2 if isinstance(exc, InvalidInput) else 1)
        except OSError as exc:  # a folder that cannot be created, a file that cannot be written
            click.echo(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            sys.exit(1)

    return wrapper


def _cell(value: Any, width: int = 40) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.6g}" if math.isfinite(value) else str(value)
    else:
        text = str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _json_default(value: Any) -> Any:
    return str(value)


def emit(rows: Sequence[dict[str, Any]], fmt: str, out: Any = None) -> None:
    out = out or sys.stdout
    if fmt == "json":
        json.dump(jsonable(list(rows)), out, indent=2, default=_json_default, allow_nan=False)
        out.write("\n")
        return
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    if not rows:
        out.write("(none)\n")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar=None,
    help="Store URL or folder (default: JUPYTER_MLOPS_STORE, JUPYTER_MLOPS_HOME, .mlops/, "
    "the Jupyter data dir).",
)
@click.version_option(package_name="jupyter-mlops")
def main(store: str | None) -> None:
    """Cell-level experiment tracking for Jupyter: runs, data, models."""


@main.command()
@click.pass_context
@_errors
def info(ctx: click.Context) -> None:
    """Where the store is."""
    loc = _client(ctx).location
    click.echo(f"database:  {loc.db_url}\nartifacts: {loc.artifact_root}\nchosen by: {loc.source}")


@main.group()
def runs() -> None:
    """List, show, compare and delete runs."""


def _filter_help() -> str:
    return "Filter, e.g. \"metrics.acc > 0.9 and (params.model = 'rf' or tags.stage = 'prod')\"."


def _filter_epilog() -> str:
    from .store.sql.filters import FILTER_HELP

    # \b keeps click from re-wrapping the examples.
    return "\b\n" + FILTER_HELP.replace("\n\n", "\n\n\b\n")


@runs.command("list", epilog=_filter_epilog())
@click.option("-e", "--experiment", multiple=True, help="Experiment name; repeatable.")
@click.option("-f", "--filter", "filter_", help=_filter_help())
@click.option("-o", "--order-by", multiple=True, help="e.g. 'metrics.acc DESC'; repeatable.")
@click.option("-n", "--limit", default=50, show_default=True, type=int)
@click.option("--offset", default=0, type=int)
@click.option(
    "--params", help="Comma-separated param columns (default: all; in a table, those that vary)."
)
@click.option("--metrics", help="Comma-separated metric columns (default: all).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@_errors
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
    page = _client(ctx).search_runs_page(
        experiment=list(experiment) or None,
        filter=filter_,
        order_by=list(order_by),
        limit=limit,
        offset=offset,
    )
    param_cols = _split(params)
    if param_cols is None and fmt == "table":
        param_cols = views.varying_params(page.runs)  # all of them would not fit a terminal
    rows = views.run_rows(page.runs, param_cols, _split(metrics), raw=fmt != "table")
    emit(rows, fmt)
    if fmt == "table" and page.total > offset + len(page.runs):
        click.echo(f"({len(page.runs)} of {page.total} runs; use --limit/--offset for more)")


@runs.command("show")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@_errors
def runs_show(ctx: click.Context, run_id: str, fmt: str) -> None:
    """Everything recorded about one run (id or unique prefix)."""
    run = _client(ctx).get_run(run_id)
    if fmt == "json":
        click.echo(json.dumps(run.to_dict(), indent=2, default=str))
        return
    info = run.info
    lines = [
        f"run        {info.id}",
        f"name       {info.name}",
        f"experiment {info.experiment_name}",
        f"status     {info.status}",
        f"start      {views.fmt_time(info.start_time)}   duration "
        f"{views.fmt_duration(info.duration_ms)}",
        f"user       {info.user}@{info.host}",
        f"notebook   {info.notebook_path or '-'}   cell {info.cell_id or '-'}   "
        f"[{info.execution_count or '-'}]",
        f"git        {info.git_commit or '-'}{' (dirty)' if info.git_dirty else ''}",
        f"python     {info.python_version}",
    ]
    sections = [
        ("params", [f"{k} = {v}" for k, v in run.params.items()]),
        ("metrics", [f"{k} = {_cell(v)}" for k, v in run.metrics.items()]),
        ("tags", [f"{k} = {v}" for k, v in run.tags.items()]),
        (
            "inputs",
            [f"{d.name} v{d.version} {d.kind} {d.shape or ''} {d.fingerprint}" for d in run.inputs],
        ),
        (
            "outputs",
            [
                f"{d.name} v{d.version} {d.kind} {d.shape or ''} {d.fingerprint}"
                for d in run.outputs
            ],
        ),
        (
            "models",
            [f"{m.name} {m.model_class} id={m.id} sha256={m.sha256[:12]}" for m in run.models],
        ),
        ("artifacts", [f"{a.path} ({a.size} bytes) sha256={a.sha256[:12]}" for a in run.artifacts]),
    ]
    for title, items in sections:
        if items:
            lines.append(f"\n{title}:")
            lines += [f"  {item}" for item in items]
    if info.error_name:
        lines += ["\nerror:", f"  {info.error_name}: {info.error_value}"]
        if info.traceback:
            lines += ["  " + line for line in info.traceback.rstrip().splitlines()]
    if info.source:
        lines += ["\nsource:"] + ["  " + line for line in info.source.splitlines()]
    click.echo("\n".join(lines))


@runs.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--diff-only", is_flag=True, help="Only the fields that differ.")
@click.pass_context
@_errors
def runs_compare(ctx: click.Context, run_ids: tuple[str, ...], fmt: str, diff_only: bool) -> None:
    """Params, metrics and data of runs side by side; differing fields marked *."""
    if len(run_ids) < 2:
        raise InvalidInput("compare needs at least two run ids.")
    client = _client(ctx)
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
@_errors
def runs_delete(ctx: click.Context, run_ids: tuple[str, ...], yes: bool) -> None:
    """Delete runs (their artifacts are freed by `gc`)."""
    if not yes:
        click.confirm(f"Delete {len(run_ids)} run(s)?", abort=True)
    n = _client(ctx).delete_runs(run_ids)
    click.echo(f"deleted {n} run(s)")


@main.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@_errors
def experiments(ctx: click.Context, fmt: str) -> None:
    """Experiments and how many runs each has."""
    emit(views.experiment_rows(_client(ctx).list_experiments()), fmt)


@main.group(invoke_without_command=True)
@click.option("--name", help="Only versions of this dataset.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@_errors
def data(ctx: click.Context, name: str | None, fmt: str) -> None:
    """Dataset versions (and `data lineage REF`)."""
    if ctx.invoked_subcommand is None:
        emit(views.dataset_rows(_client(ctx).list_datasets(name)), fmt)


@data.command("lineage")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@_errors
def data_lineage(ctx: click.Context, ref: str, fmt: str) -> None:
    """Runs that wrote and read a dataset version (REF: id, fingerprint, name or name@N)."""
    lineage = _client(ctx).dataset_lineage(ref)
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


@main.command()
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.pass_context
@_errors
def gc(ctx: click.Context, dry_run: bool) -> None:
    """Delete artifact blobs that no run or model references any more."""
    result = _client(ctx).gc(dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {result['blobs']} unreferenced blob(s), {result['bytes']} bytes"
        + ("" if dry_run else f"; removed {result['temp_files']} stale temp file(s)")
    )


@main.command()
@click.option("-e", "--experiment", multiple=True)
@click.option("-f", "--filter", "filter_", help=_filter_help())
@click.option("-o", "--order-by", multiple=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--output", "-O", type=click.Path(dir_okay=False), help="File (default: stdout).")
@click.pass_context
@_errors
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

    client = _client(ctx)
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


@main.command()
@click.option("--notebook", default=None, help="Demo notebook (default: notebooks/demo.ipynb).")
@click.option(
    "--pipeline",
    "pipeline_path",
    default=None,
    help="Demo pipeline (default: notebooks/pipeline/pipeline.yaml).",
)
@click.option("--no-pipeline", is_flag=True, help="Skip the pipeline part of the demo.")
@click.pass_context
@_errors
def demo(
    ctx: click.Context, notebook: str | None, pipeline_path: str | None, no_pipeline: bool
) -> None:
    """Execute the demo notebook in a real kernel and print the runs it made, then run the
    demo pipeline twice (the second time from the cache) and print its steps and runs."""
    from .notebook_runner import run_demo, run_pipeline_demo

    client = _client(ctx)
    run_demo(client, notebook)
    if not no_pipeline:
        run_pipeline_demo(client, pipeline_path)


if __name__ == "__main__":  # pragma: no cover
    main()
