"""What the lab and the CLI show of pipelines: the ones in a folder, and their runs step by step.

A pipeline run's state is read from the store only: the parent run (tags ``mlops.steps``,
``mlops.trigger``, ``mlops.skipped``) and its step runs (status, attempts, cell progress,
failure). A step with no run yet is PENDING while the pipeline runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_mlops.client import Client
from jupyter_mlops.entities import Run, RunStatus
from jupyter_mlops.exceptions import InvalidInput, MlopsError
from jupyter_mlops.paths import relative_to_root

from . import records
from .records import StepStatus
from .spec import Pipeline

__all__ = ["discover_pipelines", "pipeline_run_dict", "pipeline_runs"]

# Folders never searched for pipeline files.
_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "output"}
_MAX_FILES = 200


def _candidate_files(root: Path, max_depth: int) -> Iterator[Path]:
    base_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).parts) - base_depth
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS and depth < max_depth
        )
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")) and not name.startswith("."):
                yield Path(folder) / name


def discover_pipelines(root: Path, max_depth: int = 4) -> list[dict[str, Any]]:
    """Pipeline files under ``root`` (YAML files with ``name`` and ``steps``), each with its
    steps and its validation problems (``errors``: one line each, empty when it can run from
    the lab: its notebooks must be under ``root`` too)."""
    import yaml

    out: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for file in _candidate_files(root, max_depth):
        if len(out) >= _MAX_FILES:
            break
        # A symlink: list its target once, by the target's path, and only inside the root
        # (the routes refuse a path that leaves it, so the lab could not run it anyway).
        file = file.resolve()
        if file in seen or relative_to_root(file, root) is None:
            continue
        seen.add(file)
        try:
            if file.stat().st_size > 1_000_000:
                continue
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
            continue
        if not isinstance(data, dict) or "steps" not in data or "name" not in data:
            continue  # some other YAML file
        out.append(describe_pipeline_file(file, root))
    return out


def describe_pipeline_file(file: Path, root: Path | None) -> dict[str, Any]:
    """One pipeline file as the API shows it; a broken one still lists its problems (with a
    ``root``, a notebook outside it is one)."""
    entry: dict[str, Any] = {
        "path": relative_to_root(file, root) or str(file),
        "name": file.stem,
        "params": {},
        "steps": [],
        "errors": [],
    }
    try:
        pipeline = Pipeline.from_yaml(file)
    except MlopsError as exc:
        entry["errors"] = str(exc).splitlines()
        return entry
    entry["name"] = pipeline.name
    entry["params"] = dict(pipeline.params)
    entry["steps"] = [
        {
            "name": s.name,
            "notebook": None
            if s.action is not None
            else relative_to_root(pipeline.notebook_path(s), root) or s.notebook,
            "action": None if s.action is None else {"kind": s.action[0], **s.action[1]},
            "upstream": list(s.upstream),
            "parameters": dict(s.parameters),
            "inputs": list(s.inputs),
            "outputs": list(s.outputs),
            "timeout": s.timeout,
            "retries": s.retries,
        }
        for s in pipeline.steps
    ]
    entry["errors"] = pipeline.problems(root)
    return entry


def pipeline_runs(
    client: Client,
    *,
    path: str | os.PathLike[str] | None = None,
    limit: int = 20,
    root: Path | None = None,
) -> list[dict[str, Any]]:
    """Pipeline runs, newest first: all, or those of one pipeline file."""
    if not isinstance(limit, int) or not 1 <= limit <= 500:
        raise InvalidInput(f"limit must be an integer from 1 to 500, got {limit!r}")
    flt = records.pipeline_runs_filter(str(Path(path).resolve()) if path is not None else None)
    runs = client.search_runs(filter=flt, order_by=["start_time DESC"], limit=limit)
    return [pipeline_run_dict(client, run, root) for run in runs]


def pipeline_run_dict(client: Client, run: Run, root: Path | None = None) -> dict[str, Any]:
    """A pipeline run with the state of every step, in pipeline order."""
    if not records.is_pipeline_run(run):
        raise InvalidInput(f"run {run.id[:8]} is not a pipeline run")
    order = records.run_steps(run)
    skipped = records.skipped_steps(run)
    by_step = records.step_attempts(client, run.id)
    order += [name for name in by_step if name not in order]
    running = run.info.status == RunStatus.RUNNING.value
    steps = [
        _step_dict(client, name, by_step.get(name, []), name in skipped, running, root)
        for name in order
    ]
    end = run.info.end_time
    path = records.pipeline_path(run)
    return {
        "run_id": run.id,
        "pipeline": records.pipeline_name(run),
        "path": relative_to_root(path, root) or path,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": end,
        "duration": _seconds(run.info.start_time, end),
        "trigger": records.trigger(run),
        "params": dict(run.params),
        "error_value": run.info.error_value,
        "steps": steps,
    }


def _seconds(start: int | None, end: int | None) -> float | None:
    if start is None:
        return None
    return round(((end if end is not None else time.time() * 1000) - start) / 1000, 3)


def _step_dict(
    client: Client,
    name: str,
    attempts: list[Run],
    skipped: bool,
    pipeline_running: bool,
    root: Path | None,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "name": name,
        "status": StepStatus.SKIPPED.value,
        "run_id": None,
        "attempts": 0,
        "duration": None,
        "progress": None,
        "failed_cell": None,
        "error_name": None,
        "error_value": None,
        "traceback": None,
        "notebook_api_path": None,
        "has_artifact": False,
        "cached_from": None,
    }
    if not attempts:
        if pipeline_running and not skipped:
            state["status"] = "PENDING"
        return state
    last = attempts[-1]
    info = last.info
    cached_from = records.cached_from(last)
    status = records.step_status(last)
    state.update(
        status=status,
        run_id=last.id,
        attempts=0 if cached_from else len(attempts),
        duration=_seconds(attempts[0].info.start_time, info.end_time),
        cached_from=cached_from,
        failed_cell=records.failed_cell(last),
        error_name=info.error_name,
        error_value=info.error_value,
        traceback=info.traceback,
        notebook_api_path=relative_to_root(records.output_path(last), root),
        progress=records.progress(last),
    )
    if status != RunStatus.RUNNING.value:
        wanted = records.notebook_artifact_path(name)
        state["has_artifact"] = any(a.path == wanted for a in client.list_artifacts(last.id))
    return state
