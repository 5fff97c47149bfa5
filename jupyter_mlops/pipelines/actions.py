"""Declarative steps: a step that is an action, not a notebook, run in the pipeline's own
process (``promote:`` registers the models upstream steps logged and promotes the best).

An action is found by its key in the step (``promote``) in a registry filled from the entry
point group ``jupyter_mlops.step_actions`` (a callable ``(client, settings, context) ->
summary``), so a feature above pipelines (continuous training's promotion) plugs in without
pipelines importing it. An action step is never cached: it acts on the world (the registry)
each time the pipeline runs.
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import Any

from jupyter_mlops.client import Client
from jupyter_mlops.entities import RunStatus
from jupyter_mlops.exceptions import InvalidInput, MlopsError

from . import records
from .records import StepResult, StepStatus
from .spec import Pipeline

ENTRY_POINT_GROUP = "jupyter_mlops.step_actions"
DISTRIBUTION = "jupyter-mlops"


@dataclass(frozen=True)
class ActionContext:
    """Where an action step runs: its pipeline run, its own run, its upstream steps' runs."""

    pipeline: Pipeline
    step: str
    pipeline_run: str
    step_run: str
    upstream_runs: tuple[str, ...]  # the newest run of each upstream step (cached ones too)

    @property
    def base_dir(self) -> Path | None:
        return self.pipeline.base_dir


Action = Callable[[Client, Mapping[str, Any], ActionContext], Mapping[str, Any]]


@functools.cache
def _declared(everywhere: bool) -> dict[str, EntryPoint]:
    """The actions this package declares, or (``everywhere``) every installed package: reading
    one distribution's metadata is a third of the cost of scanning them all."""
    if everywhere:
        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    try:
        own = distribution(DISTRIBUTION).entry_points
    except PackageNotFoundError:  # run from a source tree that is not installed
        return {}
    return {ep.name: ep for ep in own.select(group=ENTRY_POINT_GROUP)}


def action(kind: str) -> Action:
    """The action called ``kind``: this package's own first, then any installed plug-in's."""
    found = _declared(everywhere=False).get(kind) or _declared(everywhere=True).get(kind)
    if found is None:
        known = ", ".join(sorted(_declared(everywhere=True))) or "none"
        raise InvalidInput(f"no step action {kind!r} is installed (known: {known})")
    loaded: Action = found.load()
    return loaded


def run_action(
    client: Client,
    pipeline: Pipeline,
    name: str,
    pipeline_run: str,
    upstream: Mapping[str, StepResult],
) -> StepResult:
    """Run the action step ``name`` as one tracked step run; its summary is the run's
    ``mlops.action`` tag. A failure ends the step FAILED with the error's message."""
    step = pipeline.step(name)
    assert step.action is not None
    kind, settings = step.action
    started = time.perf_counter()
    run_id = client.create_run(
        pipeline.name,
        step.name,
        tags=records.attempt_tags(pipeline, step, 1, None),
        parent_run_id=pipeline_run,
        attrs={"notebook_path": ""},
    )
    result = StepResult(step.name, StepStatus.FAILED, run_ids=[run_id], attempts=1)
    context = ActionContext(
        pipeline,
        step.name,
        pipeline_run,
        run_id,
        tuple(r.run_id for r in upstream.values() if r.run_id is not None),
    )
    try:
        summary = action(kind)(client, settings, context)
    except Exception as exc:
        message = exc.message if isinstance(exc, MlopsError) else str(exc)
        result.error_name, result.error_value = type(exc).__name__, message
        result.traceback = "".join(traceback.format_exception(exc))
        client.end_run(
            run_id,
            RunStatus.FAILED,
            traceback_text=result.traceback,
            attrs={"error_name": result.error_name, "error_value": message[:10_000]},
        )
    else:
        records.record_action(client, run_id, kind, summary)
        client.end_run(run_id, RunStatus.FINISHED)
        result.status = StepStatus.FINISHED
        result.outputs = {}
    result.duration = time.perf_counter() - started
    return result
