"""The records of pipeline runs: what a pipeline run and its step runs carry as tags, written
and read here only.

A pipeline run is a tracked run (the parent) with one child run per step attempt; a step's
``%%track`` cells are children of its step run. Their state is in tags:

=============================  ============  ===============================================
tag                            on            holds
=============================  ============  ===============================================
``mlops.pipeline``             both          the pipeline's name
``mlops.pipeline_run``         parent        the pipeline's name (marks a pipeline run)
``mlops.pipeline_path``        parent        the pipeline file
``mlops.trigger``              parent        why it ran: manual, schedule:<id>, event:<id>
``mlops.run_params``           parent        the parameters given, as typed JSON
``mlops.run_options``          parent        executor, scheduler, workers, kernel, as JSON
``mlops.steps``                parent        the steps in run order, as JSON
``mlops.skipped``              parent        steps not run because an upstream step failed
``mlops.from_step``            parent        the step a ``from_step`` run started at
``mlops.resumed_from``         parent        the failed run a resumed run continues
``mlops.step``                 step          the step's name
``mlops.pipeline_step``        step          ``<pipeline>/<step>`` (its newest run is found by it)
``mlops.attempt``              step          1, 2, ... (retries)
``mlops.cache_key``            step          the step's cache key
``mlops.outputs``              step          fingerprints of what it produced, as JSON
``mlops.cached``               step          the run whose outputs a CACHED step reused
``mlops.output_path``          step          the executed notebook written for the lab
``mlops.cell[s]``, ``_source`` step          live progress: cell n of N and its first line
``mlops.failed_cell``          step          the index of the cell that failed
``mlops.action``               step          an action step's kind and summary, as JSON
=============================  ============  ===============================================
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.entities import Run, RunStatus
from jupyter_mlops.exceptions import ExecutionError, InvalidInput, NotFound

if TYPE_CHECKING:
    from jupyter_mlops.client import Client

    from .spec import Pipeline, Step

PIPELINE_TAG = "mlops.pipeline"
PIPELINE_RUN_TAG = "mlops.pipeline_run"
PATH_TAG = "mlops.pipeline_path"
TRIGGER_TAG = "mlops.trigger"
PARAMS_TAG = "mlops.run_params"
OPTIONS_TAG = "mlops.run_options"
STEPS_TAG = "mlops.steps"
SKIPPED_TAG = "mlops.skipped"
FROM_STEP_TAG = "mlops.from_step"
RESUMED_FROM_TAG = "mlops.resumed_from"
STEP_TAG = "mlops.step"
STEP_ID_TAG = "mlops.pipeline_step"
ATTEMPT_TAG = "mlops.attempt"
CACHE_KEY_TAG = "mlops.cache_key"
OUTPUTS_TAG = "mlops.outputs"
CACHED_TAG = "mlops.cached"
OUTPUT_PATH_TAG = "mlops.output_path"
PROGRESS_TAGS = ("mlops.cell", "mlops.cells", "mlops.cell_source")
FAILED_CELL_TAG = "mlops.failed_cell"
ACTION_TAG = "mlops.action"
NOTEBOOK_ARTIFACT_KIND = "notebook"


class StepStatus(str, Enum):
    FINISHED = "FINISHED"
    CACHED = "CACHED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


@dataclass
class StepResult:
    """What happened to one step.

    Attributes:
        name: the step's name.
        status: FINISHED (it ran), CACHED (its outputs were reused, no kernel started),
            FAILED, or SKIPPED (an upstream step failed; no run was made).
        run_ids: one run per attempt, oldest first (one run for a CACHED step).
        attempts: how many times the notebook was executed.
        duration: seconds from the first attempt's start to the last one's end.
        error_name, error_value, failed_cell, traceback: from the last failed attempt;
            ``failed_cell`` indexes the output notebook (papermill's injected cell counts).
        output_path: the executed notebook under ``output_dir``, when one was given.
        cached_from: for a CACHED step, the run that really executed the notebook.
        cache_key: the step's cache key (None when it was reused without one).
        outputs: fingerprints of what the step produced, by declared/recorded output.
    """

    name: str
    status: StepStatus
    run_ids: list[str] = field(default_factory=list)
    attempts: int = 0
    duration: float = 0.0
    error_name: str | None = None
    error_value: str | None = None
    failed_cell: int | None = None
    traceback: str | None = None
    output_path: Path | None = None
    cached_from: str | None = None
    cache_key: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def run_id(self) -> str | None:
        """The last attempt's run."""
        return self.run_ids[-1] if self.run_ids else None

    @property
    def ok(self) -> bool:
        return self.status in (StepStatus.FINISHED, StepStatus.CACHED)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(status=self.status.value, run_id=self.run_id)
        out["output_path"] = str(self.output_path) if self.output_path else None
        return out


@dataclass
class PipelineResult:
    """The pipeline run and every step's outcome, in run order."""

    run_id: str
    name: str
    steps: dict[str, StepResult]
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps.values())

    @property
    def status(self) -> RunStatus:
        return RunStatus.FINISHED if self.ok else RunStatus.FAILED

    def __getitem__(self, step: str) -> StepResult:
        return self.steps[step]

    @property
    def first_failure(self) -> StepResult | None:
        return next((s for s in self.steps.values() if s.status is StepStatus.FAILED), None)

    def raise_for_failure(self) -> None:
        """Raise :class:`ExecutionError` (papermill's fields) for the first failed step."""
        step = self.first_failure
        if step is not None:
            raise ExecutionError(
                f"pipeline {self.name!r}: step {step.name!r} failed"
                + (f" in cell {step.failed_cell}" if step.failed_cell is not None else "")
                + f": {step.error_name}: {step.error_value}",
                cell_index=step.failed_cell,
                ename=step.error_name or "",
                evalue=step.error_value or "",
                traceback=step.traceback or "",
            )


# -- the pipeline run ------------------------------------------------------------------------


def pipeline_run_tags(
    pipeline: Pipeline,
    order: Sequence[str],
    trigger: str,
    params: Mapping[str, Any] | None,
    execution: Mapping[str, Any],
    from_step: str | None = None,
    resumed_from: str | None = None,
) -> dict[str, Any]:
    """The tags a pipeline run starts with."""
    tags: dict[str, Any] = {
        PIPELINE_TAG: pipeline.name,
        PIPELINE_RUN_TAG: pipeline.name,
        TRIGGER_TAG: trigger,
        STEPS_TAG: json.dumps(list(order)),
        OPTIONS_TAG: json.dumps(dict(execution), sort_keys=True),
    }
    if pipeline.path is not None:
        tags[PATH_TAG] = str(pipeline.path)
    if params:
        tags[PARAMS_TAG] = json.dumps(dict(params), sort_keys=True, default=str)
    if from_step:
        tags[FROM_STEP_TAG] = from_step
    if resumed_from:
        tags[RESUMED_FROM_TAG] = resumed_from
    return tags


def record_skipped(client: Client, run_id: str, skipped: Sequence[str]) -> None:
    if skipped:
        client.set_tags(run_id, {SKIPPED_TAG: ",".join(skipped)})


def is_pipeline_run(run: Run) -> bool:
    return PIPELINE_RUN_TAG in run.tags


def pipeline_name(run: Run) -> str | None:
    """The pipeline a pipeline run (or a step run) belongs to."""
    return run.tags.get(PIPELINE_RUN_TAG) or run.tags.get(PIPELINE_TAG)


def pipeline_path(run: Run) -> str | None:
    return run.tags.get(PATH_TAG)


def _json_tag(run: Run, tag: str, kind: type[dict[str, Any]] | type[list[Any]]) -> Any:
    """A tag holding JSON of ``kind``; an empty one when missing or not of that kind."""
    try:
        value = json.loads(run.tags.get(tag) or "null")
    except ValueError:
        value = None
    return value if isinstance(value, kind) else kind()


def run_params(run: Run) -> dict[str, Any]:
    """The parameters a pipeline run was given, with their types."""
    params: dict[str, Any] = _json_tag(run, PARAMS_TAG, dict)
    return params


def run_options(run: Run) -> dict[str, Any]:
    """How a pipeline run executed its steps (executor, scheduler, workers, kernel)."""
    options: dict[str, Any] = _json_tag(run, OPTIONS_TAG, dict)
    return options


def run_steps(run: Run) -> list[str]:
    return [str(v) for v in _json_tag(run, STEPS_TAG, list)]


def skipped_steps(run: Run) -> set[str]:
    return set(filter(None, run.tags.get(SKIPPED_TAG, "").split(",")))


def trigger(run: Run) -> str:
    return run.tags.get(TRIGGER_TAG, "manual")


def check_resumable(run: Run) -> None:
    """Raise InvalidInput unless ``run`` is a pipeline run that failed or was killed."""
    if not is_pipeline_run(run):
        raise InvalidInput(f"run {run.id[:8]} is not a pipeline run")
    if run.info.status in (RunStatus.RUNNING.value, RunStatus.FINISHED.value):
        raise InvalidInput(
            f"pipeline run {run.id[:8]} is {run.info.status}: only a failed or killed run "
            "can be resumed"
        )


def latest_pipeline_run(client: Client, pipeline: str) -> str | None:
    """The newest run of a pipeline, whatever its status."""
    return client.latest_run_with_tag(PIPELINE_RUN_TAG, pipeline, None)


def pipeline_runs_filter(path: str | None) -> str:
    """The run filter selecting pipeline runs (of one pipeline file)."""
    if path is not None:
        return f"tags.`{PATH_TAG}` = {json.dumps(path)}"
    return f"tags.`{PIPELINE_RUN_TAG}` is not null"


# -- step runs -------------------------------------------------------------------------------


def step_tags(pipeline: Pipeline, step: Step) -> dict[str, str]:
    return {
        PIPELINE_TAG: pipeline.name,
        STEP_TAG: step.name,
        STEP_ID_TAG: f"{pipeline.name}/{step.name}",
    }


def attempt_tags(pipeline: Pipeline, step: Step, attempt: int, key: str | None) -> dict[str, Any]:
    tags: dict[str, Any] = {**step_tags(pipeline, step), ATTEMPT_TAG: attempt}
    if key:
        tags[CACHE_KEY_TAG] = key
    return tags


def cached_step_tags(
    pipeline: Pipeline, step: Step, origin: str, outputs: Mapping[str, str], key: str
) -> dict[str, str]:
    return {
        **step_tags(pipeline, step),
        CACHED_TAG: origin,
        OUTPUTS_TAG: json.dumps(dict(outputs), sort_keys=True),
        CACHE_KEY_TAG: key,
    }


def newest_step_run(client: Client, pipeline: str, step: str) -> str | None:
    """The newest finished run of a step of a pipeline."""
    return client.latest_run_with_tag(STEP_ID_TAG, f"{pipeline}/{step}")


def cache_hit(client: Client, key: str) -> str | None:
    """The newest finished step run with this cache key."""
    return client.latest_run_with_tag(CACHE_KEY_TAG, key)


def record_output_path(client: Client, run_id: str, path: Path) -> None:
    client.set_tags(run_id, {OUTPUT_PATH_TAG: str(path)})


def record_progress(client: Client, run_id: str, index: int, total: int, source: str) -> None:
    first = next((ln for ln in source.splitlines() if ln.strip()), "")
    client.set_tags(run_id, dict(zip(PROGRESS_TAGS, (index, total, first[:200]), strict=True)))


def record_outputs(client: Client, run_id: str, outputs: Mapping[str, str]) -> None:
    client.set_tags(run_id, {OUTPUTS_TAG: json.dumps(dict(outputs), sort_keys=True)})


def record_action(client: Client, run_id: str, kind: str, summary: Mapping[str, Any]) -> None:
    """What an action step did (``promote``: the decision), on its step run."""
    text = json.dumps({"kind": kind, **dict(summary)}, sort_keys=True, default=str)
    client.set_tags(run_id, {ACTION_TAG: text[:60_000]})


def action_summary(run: Run) -> dict[str, Any] | None:
    """An action step run's summary, as :func:`record_action` wrote it."""
    text = run.tags.get(ACTION_TAG)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def record_failed_cell(client: Client, run_id: str, cell: int | None) -> None:
    if cell is not None:
        client.set_tags(run_id, {FAILED_CELL_TAG: cell})


def step_name(run: Run) -> str | None:
    return run.tags.get(STEP_TAG)


def cache_key(run: Run) -> str:
    return run.tags.get(CACHE_KEY_TAG, "")


def cached_from(run: Run) -> str | None:
    """For a CACHED step run, the run that executed the notebook."""
    return run.tags.get(CACHED_TAG) or None


def outputs(run: Run) -> dict[str, str]:
    """The fingerprints a step run recorded of what it produced."""
    recorded: dict[str, str] = _json_tag(run, OUTPUTS_TAG, dict)
    return recorded


def output_path(run: Run) -> str | None:
    return run.tags.get(OUTPUT_PATH_TAG)


def failed_cell(run: Run) -> int | None:
    return _int(run.tags.get(FAILED_CELL_TAG))


def progress(run: Run) -> dict[str, Any] | None:
    """Cell n of N and its first line, while a step run executes."""
    cell, cells, source = PROGRESS_TAGS
    if run.info.status != RunStatus.RUNNING.value or cell not in run.tags:
        return None
    return {
        "cell": _int(run.tags.get(cell)),
        "cells": _int(run.tags.get(cells)),
        "source": run.tags.get(source, ""),
    }


def step_attempts(client: Client, pipeline_run: str) -> dict[str, list[Run]]:
    """A pipeline run's step runs by step, attempts oldest first (the last one counts)."""
    out: dict[str, list[Run]] = {}
    for run in client.child_runs(pipeline_run):
        name = step_name(run)
        if name:
            out.setdefault(name, []).append(run)
    return out


def step_status(run: Run) -> str:
    """A step run's status, CACHED for a finished run that reused another's outputs."""
    if run.info.status == RunStatus.FINISHED.value and cached_from(run):
        return StepStatus.CACHED.value
    return run.info.status


def notebook_artifact_path(step: str) -> str:
    """Where a step run keeps its executed notebook among its artifacts."""
    return f"notebooks/{step}.ipynb"


def previous_run(client: Client, pipeline: Pipeline, resume: bool | str) -> Run:
    """The failed run of ``pipeline`` to resume: the given one, or its newest run."""
    if isinstance(resume, str):
        run = client.get_run(resume)
        if run.tags.get(PIPELINE_RUN_TAG) != pipeline.name:
            raise InvalidInput(f"run {resume!r} is not a run of pipeline {pipeline.name!r}")
    else:
        rid = latest_pipeline_run(client, pipeline.name)
        if rid is None:
            raise NotFound(f"pipeline {pipeline.name!r} has no run to resume")
        run = client.get_run(rid)
    check_resumable(run)
    return run


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
