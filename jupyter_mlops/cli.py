"""``jupyter-mlops`` (also ``jupyter mlops``): the store from the terminal."""

from __future__ import annotations

import contextlib
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


# -- pipelines -------------------------------------------------------------------------------


def _parse_params(pairs: Sequence[str], params_json: str | None) -> dict[str, Any]:
    """``-p name=value`` pairs (values read as YAML scalars: 3, 0.5, true, 'text'), over
    ``--params-json``."""
    import yaml

    out: dict[str, Any] = json.loads(params_json) if params_json else {}
    if not isinstance(out, dict):
        raise InvalidInput("--params-json must be a JSON object")
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"parameter {pair!r} must look like name=value")
        try:
            out[name.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[name.strip()] = raw
    return out


@main.group()
def pipelines() -> None:
    """Notebook pipelines: run, inspect, schedule."""


@pipelines.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@_errors
def pipelines_validate(path: str) -> None:
    """Check a pipeline file: graph, notebooks, parameters (every problem, one line each)."""
    from .pipelines import Pipeline

    pipeline = Pipeline.from_yaml(path)
    pipeline.validate()
    waves = " -> ".join(", ".join(w) for w in pipeline.order())
    click.echo(f"{pipeline.name}: {len(pipeline.steps)} steps, valid: {waves}")


@pipelines.command("run")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-p", "--param", "param", multiple=True, help="name=value; repeatable.")
@click.option("--params-json", help="Parameters as a JSON object.")
@click.option("--force", is_flag=True, help="Ignore the cache: run every step.")
@click.option("--from", "from_step", help="Re-run this step and what follows; reuse the rest.")
@click.option("--resume", is_flag=True, help="Re-run the last failed run from its failed steps.")
@click.option("--resume-run", help="Resume this failed pipeline run (id or prefix).")
@click.option(
    "--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True
)
@click.option("--scheduler", "scheduler_address", help="Dask scheduler, e.g. tcp://host:8786.")
@click.option("-j", "--workers", default=2, show_default=True, help="Steps at once (local).")
@click.option("--output-dir", type=click.Path(file_okay=False), help="Keep executed notebooks.")
@click.option("--kernel", default="python3", show_default=True)
@click.option("--run-id", help="The pipeline run's id (32 hex), chosen by the caller.")
@click.option("--trigger", default="manual", help="Why it runs (recorded on the run).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@_errors
def pipelines_run(
    ctx: click.Context,
    path: str,
    param: tuple[str, ...],
    params_json: str | None,
    force: bool,
    from_step: str | None,
    resume: bool,
    resume_run: str | None,
    executor: str,
    scheduler_address: str | None,
    workers: int,
    output_dir: str | None,
    kernel: str,
    run_id: str | None,
    trigger: str,
    no_progress: bool,
    fmt: str,
) -> None:
    """Run a pipeline; unchanged steps come from the cache. Exit status 1 if a step failed."""
    from .pipelines import Pipeline, run_pipeline

    client = _client(ctx)
    if resume_run:
        resume_arg: bool | str = client.resolve_run_id(resume_run)
    else:
        resume_arg = resume
    result = run_pipeline(
        Pipeline.from_yaml(path),
        client=client,
        params=_parse_params(param, params_json),
        max_workers=workers,
        output_dir=output_dir,
        force=force,
        from_step=from_step,
        resume=resume_arg,
        kernel_name=kernel,
        executor=executor,
        scheduler_address=scheduler_address,
        run_id=run_id,
        trigger=trigger,
        progress=not no_progress,
    )
    emit(views.step_rows([s.to_dict() for s in result.steps.values()]), fmt)
    if fmt == "table":
        click.echo(
            f"pipeline run {result.run_id[:8]} {result.status.value} in {result.duration:.2f}s"
        )
    if not result.ok:
        failed = next(s for s in result.steps.values() if s.status.value == "FAILED")
        if failed.traceback and fmt == "table":
            click.echo(failed.traceback, err=True)
        sys.exit(1)


@pipelines.command("runs")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("-n", "--limit", default=20, show_default=True, type=int)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@_errors
def pipelines_runs(ctx: click.Context, path: str | None, limit: int, fmt: str) -> None:
    """Pipeline runs, newest first (of one pipeline file, or all)."""
    from .pipelines.history import pipeline_runs

    runs = pipeline_runs(_client(ctx), path=path, limit=limit)
    if fmt == "json":
        emit(runs, fmt)
        return
    rows = [
        {
            "run_id": r["run_id"][:8],
            "pipeline": r["pipeline"],
            "status": r["status"],
            "start": views.fmt_time(r["start_time"]),
            "duration": views.fmt_duration(round((r["duration"] or 0) * 1000)),
            "trigger": r["trigger"],
            "steps": " ".join(f"{s['name']}:{s['status']}" for s in r["steps"]),
        }
        for r in runs
    ]
    emit(rows, fmt)


@pipelines.command("show")
@click.argument("run_id")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@_errors
def pipelines_show(ctx: click.Context, run_id: str, fmt: str) -> None:
    """One pipeline run, step by step (live while it runs: cell progress)."""
    from .pipelines.history import pipeline_run_dict

    client = _client(ctx)
    run = pipeline_run_dict(client, client.get_run(run_id))
    if fmt == "json":
        emit([run], fmt)
        return
    click.echo(
        f"{run['pipeline']} run {run['run_id'][:8]}: {run['status']} "
        f"({run['trigger']}, {views.fmt_time(run['start_time'])})"
    )
    rows = views.step_rows(run["steps"])
    for row, st in zip(rows, run["steps"], strict=True):
        if st["progress"]:
            p = st["progress"]
            row["detail"] = f"cell {p['cell']}/{p['cells']}: {p['source']}"
    emit(rows, fmt)


@pipelines.command("schedule")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@click.argument("cron", required=False)
@click.option("--dataset", help="Run on every new version of this dataset instead of a cron.")
@click.option("--timezone", "tz", default="UTC", show_default=True, help="IANA name.")
@click.option(
    "--missed",
    type=click.Choice(["skip", "once", "all"]),
    default="skip",
    show_default=True,
    help="Runs missed while no scheduler ran: drop them, run once, or run each.",
)
@click.option("-p", "--param", "param", multiple=True, help="name=value; repeatable.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@_errors
def pipelines_schedule(
    ctx: click.Context,
    path: str,
    cron: str | None,
    dataset: str | None,
    tz: str,
    missed: str,
    param: tuple[str, ...],
    disabled: bool,
    fmt: str,
) -> None:
    """Schedule a pipeline: PATH "0 3 * * *" (cron), or PATH --dataset NAME (trigger)."""
    from .pipelines.scheduler import add_schedule

    row = add_schedule(
        _client(ctx),
        path,
        cron=cron,
        timezone=tz,
        dataset=dataset,
        params=_parse_params(param, None),
        missed=missed,
        enabled=not disabled,
    )
    emit(_schedule_rows([row]), fmt)


def _schedule_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"][:8],
            "pipeline": r["pipeline"],
            "when": f"{r['cron']} ({r['timezone']})"
            if r["kind"] == "cron"
            else f"new version of dataset {r['event']['key']}",
            "missed": r["missed"] if r["kind"] == "cron" else "",
            "enabled": r["enabled"],
            "next_run": views.fmt_time(r["next_run_time"]) if r["next_run_time"] else "",
            "last_run": (r["last_run_id"] or "")[:8],
        }
        for r in rows
    ]


@pipelines.command("schedules")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@_errors
def pipelines_schedules(ctx: click.Context, fmt: str) -> None:
    """Every schedule and trigger in the store."""
    from .pipelines.scheduler import schedule_dict

    rows = [schedule_dict(r) for r in _client(ctx).store.list_schedules()]
    emit(rows if fmt == "json" else _schedule_rows(rows), fmt)


@pipelines.command("enable")
@click.argument("schedule_id")
@click.pass_context
@_errors
def pipelines_enable(ctx: click.Context, schedule_id: str) -> None:
    """Enable a schedule (it counts from now: nothing is "missed" while disabled)."""
    from .pipelines.scheduler import set_schedule_enabled

    emit(_schedule_rows([set_schedule_enabled(_client(ctx), schedule_id, True)]), "table")


@pipelines.command("disable")
@click.argument("schedule_id")
@click.pass_context
@_errors
def pipelines_disable(ctx: click.Context, schedule_id: str) -> None:
    """Disable a schedule."""
    from .pipelines.scheduler import set_schedule_enabled

    emit(_schedule_rows([set_schedule_enabled(_client(ctx), schedule_id, False)]), "table")


@pipelines.command("unschedule")
@click.argument("schedule_id")
@click.pass_context
@_errors
def pipelines_unschedule(ctx: click.Context, schedule_id: str) -> None:
    """Delete a schedule."""
    full = _client(ctx).store.delete_schedule(schedule_id)
    click.echo(f"deleted schedule {full[:8]}")


@main.command()
@click.option("--poll", default=5.0, show_default=True, help="Seconds between two looks.")
@click.option("--once", is_flag=True, help="Fire what is due now, then exit.")
@click.pass_context
@_errors
def scheduler(ctx: click.Context, poll: float, once: bool) -> None:
    """Run due schedules and triggers until stopped (Ctrl-C / SIGTERM). Any number may run on
    one store, with the lab's: a lease lets one fire at a time, and each firing happens once."""
    import logging
    import signal
    import threading

    from .pipelines.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sched = Scheduler(_client(ctx), poll=poll)
    click.echo(f"scheduler {sched.holder} on {sched.client.location.db_url}")
    if once:
        for firing in sched.tick():
            click.echo(f"started {firing.run_id[:8]} ({firing.trigger})")
        if not sched.leading:
            click.echo("another scheduler holds the lease; nothing fired")
        sched.release()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        sched.run_forever(stop)


if __name__ == "__main__":  # pragma: no cover
    main()
