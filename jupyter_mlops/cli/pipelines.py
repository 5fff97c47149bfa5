"""``pipelines validate|run|runs|show|schedule|schedules|enable|disable|unschedule``.

The flags of ``pipelines run`` (and the run options of ``pipelines schedule``) are made from
the fields of :class:`~jupyter_mlops.pipelines.options.RunOptions`, where each option is
declared once with its help text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click

from .. import views
from ..client.validation import key_values
from ..exceptions import InvalidInput
from .common import FORMATS, client_of, emit, errors

F = Callable[..., Any]


def _run_option_flags(names: Iterable[str] | None = None) -> Callable[[F], F]:
    """Click options for the plain-flag fields of RunOptions (all, or those in ``names``).
    Each defaults to None, meaning "as the options file or RunOptions says"."""
    from ..pipelines.options import cli_fields

    chosen = [f for f in cli_fields() if names is None or f.name in set(names)]

    def decorate(fn: F) -> F:
        for f in reversed(chosen):
            flags = list(f.metadata["cli"])
            kind = str(f.type)
            if kind == "bool":
                fn = click.option(
                    *flags, f.name, is_flag=True, default=None, help=f.metadata["help"]
                )(fn)
            else:
                shown = f" [default: {f.default}]" if f.default is not None else ""
                fn = click.option(
                    *flags,
                    f.name,
                    type=int if kind == "int" else str,
                    default=None,
                    help=f.metadata["help"] + shown,
                )(fn)
        return fn

    return decorate


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The run-option flags given on the command line."""
    return {k: v for k, v in values.items() if v is not None}


def parse_params(pairs: Sequence[str], params_json: str | None) -> dict[str, Any]:
    """``-p name=value`` pairs (values read as YAML scalars: 3, 0.5, true, 'text'), over
    ``--params-json``."""
    import yaml

    try:
        out: Any = json.loads(params_json) if params_json else {}
    except ValueError as exc:
        raise InvalidInput(f"--params-json is not JSON: {exc}") from None
    if not isinstance(out, dict):
        raise InvalidInput("--params-json must be a JSON object")
    for name, raw in key_values(pairs, "parameter", "name=value").items():
        try:
            out[name] = yaml.safe_load(raw) if raw.strip() else ""
        except (yaml.YAMLError, RecursionError):
            out[name] = raw
    return out


@click.group()
def pipelines() -> None:
    """Notebook pipelines: run, inspect, schedule."""


@pipelines.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
@errors
def pipelines_validate(path: str) -> None:
    """Check a pipeline file: graph, notebooks, parameters (every problem, one line each)."""
    from ..pipelines import Pipeline

    pipeline = Pipeline.from_yaml(path)
    pipeline.validate()
    waves = " -> ".join(", ".join(w) for w in pipeline.order())
    click.echo(f"{pipeline.name}: {len(pipeline.steps)} steps, valid: {waves}")


@pipelines.command("run")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-p", "--param", "param", multiple=True, help="name=value; repeatable.")
@click.option("--params-json", help="Parameters as a JSON object.")
@click.option("--resume", is_flag=True, help="Re-run the last failed run from its failed steps.")
@click.option("--resume-run", help="Resume this failed pipeline run (id or prefix).")
@_run_option_flags()
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--options-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Run options as a JSON object (how the lab and the scheduler start runs); flags "
    "given as well win.",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def pipelines_run(
    ctx: click.Context,
    path: str,
    param: tuple[str, ...],
    params_json: str | None,
    resume: bool,
    resume_run: str | None,
    no_progress: bool,
    options_file: str | None,
    fmt: str,
    **flags: Any,
) -> None:
    """Run a pipeline; unchanged steps come from the cache. Exit status 1 if a step failed."""
    from ..pipelines import Pipeline, RunOptions, run_pipeline

    client = client_of(ctx)
    options = RunOptions()
    if options_file:
        with open(options_file, encoding="utf-8") as fh:
            try:
                data = json.load(fh)
            except ValueError as exc:
                raise InvalidInput(f"--options-file is not JSON: {exc}") from None
        options = RunOptions.from_json(data)
    changes = _given(flags)
    if param or params_json:
        changes["params"] = parse_params(param, params_json)
    if resume_run:
        changes["resume"] = client.resolve_run_id(resume_run)
    elif resume:
        changes["resume"] = True
    if no_progress:
        changes["progress"] = False
    result = run_pipeline(Pipeline.from_yaml(path), options.replace(**changes), client=client)
    emit(views.step_rows([s.to_dict() for s in result.steps.values()]), fmt)
    if fmt == "table":
        click.echo(
            f"pipeline run {result.run_id[:8]} {result.status.value} in {result.duration:.2f}s"
        )
    failed = result.first_failure
    if failed is not None:
        if failed.traceback and fmt == "table":
            click.echo(failed.traceback, err=True)
        sys.exit(1)


@pipelines.command("runs")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("-n", "--limit", default=20, show_default=True, type=int)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def pipelines_runs(ctx: click.Context, path: str | None, limit: int, fmt: str) -> None:
    """Pipeline runs, newest first (of one pipeline file, or all)."""
    from ..pipelines.history import pipeline_runs

    runs = pipeline_runs(client_of(ctx), path=path, limit=limit)
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
@errors
def pipelines_show(ctx: click.Context, run_id: str, fmt: str) -> None:
    """One pipeline run, step by step (live while it runs: cell progress)."""
    from ..pipelines.history import pipeline_run_dict

    client = client_of(ctx)
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


_SCHEDULED_FLAGS = ("executor", "scheduler_address", "max_workers", "kernel_name")


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
@_run_option_flags(_SCHEDULED_FLAGS)
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
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
    **flags: Any,
) -> None:
    """Schedule a pipeline: PATH "0 3 * * *" (cron), or PATH --dataset NAME (trigger)."""
    from ..pipelines import RunOptions
    from ..pipelines.scheduler import schedule_pipeline

    schedule = schedule_pipeline(
        client_of(ctx),
        path,
        cron=cron,
        timezone=tz,
        dataset=dataset,
        options=RunOptions(params=parse_params(param, None), **_given(flags)),
        missed=missed,
        enabled=not disabled,
    )
    emit(_schedule_rows([schedule.to_dict()]), fmt)


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
@errors
def pipelines_schedules(ctx: click.Context, fmt: str) -> None:
    """Every schedule and trigger in the store."""
    rows = [s.to_dict() for s in client_of(ctx).list_schedules()]
    emit(rows if fmt == "json" else _schedule_rows(rows), fmt)


@pipelines.command("enable")
@click.argument("schedule_id")
@click.pass_context
@errors
def pipelines_enable(ctx: click.Context, schedule_id: str) -> None:
    """Enable a schedule (it counts from now: nothing is "missed" while disabled)."""
    schedule = client_of(ctx).set_schedule_enabled(schedule_id, True)
    emit(_schedule_rows([schedule.to_dict()]), "table")


@pipelines.command("disable")
@click.argument("schedule_id")
@click.pass_context
@errors
def pipelines_disable(ctx: click.Context, schedule_id: str) -> None:
    """Disable a schedule."""
    schedule = client_of(ctx).set_schedule_enabled(schedule_id, False)
    emit(_schedule_rows([schedule.to_dict()]), "table")


@pipelines.command("unschedule")
@click.argument("schedule_id")
@click.pass_context
@errors
def pipelines_unschedule(ctx: click.Context, schedule_id: str) -> None:
    """Delete a schedule."""
    full = client_of(ctx).delete_schedule(schedule_id)
    click.echo(f"deleted schedule {full[:8]}")
