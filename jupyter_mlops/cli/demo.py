"""``demo``: the lifecycle headless, printed as it happens. It executes the demo notebook in a
real kernel and lists the runs it made, then runs the demo pipeline twice (the second time
from the cache) and prints its steps and the tree of runs both made."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import views
from ..config import store_env
from .common import client_of, emit, errors

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import Run

DEMO_NOTEBOOK = "notebooks/demo.ipynb"
DEMO_PIPELINE = "notebooks/pipeline/pipeline.yaml"


@click.command()
@click.option("--notebook", default=None, help="Demo notebook (default: notebooks/demo.ipynb).")
@click.option(
    "--pipeline",
    "pipeline_path",
    default=None,
    help="Demo pipeline (default: notebooks/pipeline/pipeline.yaml).",
)
@click.option("--no-pipeline", is_flag=True, help="Skip the pipeline part of the demo.")
@click.pass_context
@errors
def demo(
    ctx: click.Context, notebook: str | None, pipeline_path: str | None, no_pipeline: bool
) -> None:
    """Execute the demo notebook in a real kernel and print the runs it made.

    Then run the demo pipeline twice (the second time from the cache) and print its steps and
    the runs both made."""
    client = client_of(ctx)
    run_demo(client, notebook)
    if not no_pipeline:
        run_pipeline_demo(client, pipeline_path)


def run_demo(client: Client, notebook: str | None = None) -> None:
    """Execute the demo notebook against ``client``'s store and print what it recorded."""
    from ..pipelines.notebook import execute_notebook

    path = Path(notebook or DEMO_NOTEBOOK)
    loc = client.location
    env = store_env(loc)
    print(f"store: {loc.db_url}")
    print(f"executing {path} in a real kernel ...", flush=True)
    started = time.perf_counter()
    before = {r.id for r in client.iter_runs()}
    execute_notebook(path, env=env)
    print(f"done in {time.perf_counter() - started:.1f}s\n")
    new_runs = [r for r in client.iter_runs(order_by=["start_time"]) if r.id not in before]
    print(f"runs recorded by {path.name}:")
    emit(views.run_rows(new_runs, views.varying_params(new_runs)), "table")
    for run in new_runs:
        full = client.get_run(run.id)
        data = ", ".join(f"{d.role}:{d.name}" for d in [*full.inputs, *full.outputs])
        models = ", ".join(m.name for m in full.models)
        print(f"  {run.id[:8]} {run.info.name[:40]:40} data[{data}] models[{models}]")
    sys.stdout.flush()


def run_pipeline_demo(client: Client, path: str | None = None) -> None:
    """Run the demo pipeline twice against ``client``'s store and print what happened.

    The first run is forced (every step executes, even if an earlier demo filled the cache);
    the second changes nothing, so every step comes from the cache (CACHED: no kernel starts;
    its step run points at the run it reuses). Then the runs both made are listed as
    a tree: pipeline run, step runs, and the tracked cells inside each step.
    """
    from ..pipelines import Pipeline, records, run_pipeline

    pipeline = Pipeline.from_yaml(path or DEMO_PIPELINE)
    graph = " -> ".join(", ".join(wave) for wave in pipeline.order())
    print(f"\npipeline {pipeline.name} ({path or DEMO_PIPELINE}): {graph}")
    before = {r.id for r in client.iter_runs()}
    # The first run is forced so that the demo shows real work even when an earlier demo
    # already filled the cache of this store.
    for label, force in (
        ("first run (force: every step executes)", True),
        ("second run, nothing changed", False),
    ):
        print(f"{label} ...", flush=True)
        started = time.perf_counter()
        result = run_pipeline(pipeline, client=client, force=force)
        elapsed = time.perf_counter() - started
        rows = views.step_rows([step.to_dict() for step in result.steps.values()])
        emit(rows, "table")
        print(f"total {elapsed:.2f}s (pipeline run {result.run_id[:8]}, {result.status.value})\n")
        if not result.ok:
            sys.stdout.flush()
            result.raise_for_failure()
    new_runs = [r for r in client.iter_runs(order_by=["start_time"]) if r.id not in before]
    print(f"runs recorded by the two pipeline runs ({len(new_runs)}):")
    tree = _run_tree(new_runs)
    rows = views.run_rows(
        [run for _, run in tree],
        params=["model", "best_model"],
        metrics=["accuracy", "f1", "test_accuracy"],
    )
    for row, (depth, run) in zip(rows, tree, strict=True):
        for key in ("experiment", "user", "start"):
            row.pop(key, None)
        row["name"] = "  " * depth + run.info.name
        row["reused_run"] = (records.cached_from(run) or "")[:8]
    emit(rows, "table")
    sys.stdout.flush()


def _run_tree(runs: list[Run]) -> list[tuple[int, Run]]:
    """Runs in tree order with their depth: pipeline run, its step runs, and under each
    step the tracked cells of its kernel."""
    by_id = {run.id: run for run in runs}
    children: dict[str, list[Run]] = {}
    roots = []
    for run in runs:
        parent = run.info.parent_run_id
        if parent in by_id:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    ordered: list[tuple[int, Run]] = []

    def walk(run: Run, depth: int) -> None:
        ordered.append((depth, run))
        for child in children.get(run.id, []):
            walk(child, depth + 1)

    for run in roots:
        walk(run, 0)
    return ordered
