"""Run one step: execute its notebook in its own kernel with papermill, as a tracked run per
attempt, with retries, a timeout and the step's live progress.

A :class:`StepJob` is plain data (picklable), so a step runs the same way in this process or
on a Dask worker that sees the same notebooks and store. A kernel that dies (SIGKILL, out of
memory) ends its step FAILED with ``DeadKernelError``: nbclient notices the dead process
while it waits for the cell's reply.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlops.client import Client
from jupyter_mlops.config import PARENT_RUN_ENV, StoreLocation, store_env
from jupyter_mlops.entities import RunStatus

from . import cache, records
from .engine import ENGINE_NAME, register_engine
from .records import StepResult, StepStatus
from .spec import Pipeline, Step

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Failure:
    """Why an attempt failed: papermill's fields."""

    ename: str
    evalue: str
    traceback: str
    cell_index: int | None


@dataclass
class StepJob:
    """Everything a step needs to run anywhere: plain data, picklable for Dask."""

    pipeline: Pipeline
    step: str
    location: StoreLocation
    pipeline_run: str
    out_dir: Path | None
    kernel_name: str
    parameters: dict[str, Any]
    cache_key: str | None


_worker_clients: dict[StoreLocation, Client] = {}
_worker_lock = threading.Lock()


def client_for(location: StoreLocation) -> Client:
    """One Client per store in a (Dask worker) process."""
    with _worker_lock:
        client = _worker_clients.get(location)
        if client is None:
            client = _worker_clients[location] = Client(location)
        return client


def run_step(job: StepJob, client: Client | None = None) -> StepResult:
    """Run one step with its retries; on any machine that sees the notebook and the store."""
    client = client or client_for(job.location)
    register_engine()  # in this process: a Dask worker has not registered it before
    pipeline, step = job.pipeline, job.pipeline.step(job.step)
    notebook = pipeline.notebook_path(step)
    result = StepResult(step.name, StepStatus.FAILED, cache_key=job.cache_key)
    started = time.perf_counter()
    for attempt in range(1, step.retries + 2):
        if attempt > 1 and step.retry_backoff > 0:
            time.sleep(step.retry_backoff * 2 ** (attempt - 2))
        run_id = client.create_run(
            pipeline.name,
            step.name,
            tags=records.attempt_tags(pipeline, step, attempt, job.cache_key),
            parent_run_id=job.pipeline_run,
            attrs={"notebook_path": str(notebook)},
        )
        result.run_ids.append(run_id)
        result.attempts = attempt
        outcome = _attempt(job, step, notebook, client, run_id)
        if not isinstance(outcome, Failure):
            result.status = StepStatus.FINISHED
            result.error_name = result.error_value = result.traceback = None
            result.failed_cell = None
            result.outputs = outcome
            break
        result.error_name, result.error_value = outcome.ename, outcome.evalue
        result.traceback, result.failed_cell = outcome.traceback, outcome.cell_index
    result.duration = time.perf_counter() - started
    if job.out_dir is not None:
        result.output_path = job.out_dir / f"{step.name}.ipynb"
    return result


def _attempt(
    job: StepJob, step: Step, notebook: Path, client: Client, run_id: str
) -> Failure | dict[str, str]:
    """Execute the notebook once as run ``run_id`` and end the run; the failure, or the
    fingerprints of what the step produced."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    failure: Failure | None = None
    tmp = tempfile.mkdtemp(prefix="mlops-step-")
    output = (job.out_dir or Path(tmp)) / f"{step.name}.ipynb"
    env = {
        **os.environ,
        **store_env(client.location),
        PARENT_RUN_ENV: run_id,
        "JPY_SESSION_NAME": str(notebook),
    }

    def on_cell(index: int, total: int, source: str) -> None:
        records.record_progress(client, run_id, index, total, source)

    try:
        if job.parameters:
            client.log_params(run_id, job.parameters)
        if job.out_dir is not None:
            records.record_output_path(client, run_id, output)
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(job.parameters),
            engine_name=ENGINE_NAME,
            kernel_name=job.kernel_name,
            progress_bar=False,
            log_output=False,
            # Whole seconds: nbclient's timeout is an Integer trait.
            execution_timeout=math.ceil(step.timeout) if step.timeout else None,
            kernel_env=env,
            kernel_cwd=str(notebook.parent),
            on_cell=on_cell,
        )
    except PapermillExecutionError as exc:
        failure = Failure(
            exc.ename, exc.evalue, _ANSI_RE.sub("", "\n".join(exc.traceback)), exc.cell_index
        )
    except TimeoutError as exc:  # nbclient's CellTimeoutError
        failure = Failure("TimeoutError", str(exc), "", _running_cell(output))
    except Exception as exc:  # a dead kernel, a kernel that never started, ...
        failure = Failure(type(exc).__name__, str(exc), "", _running_cell(output))
    except BaseException as exc:
        client.end_run(run_id, RunStatus.KILLED, error=exc)
        raise
    finally:
        try:
            if output.is_file():
                client.log_artifact_bytes(
                    run_id,
                    output.read_bytes(),
                    records.notebook_artifact_path(step.name),
                    records.NOTEBOOK_ARTIFACT_KIND,
                )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if failure is None:
        # The step run carries what its tracked cells measured and made.
        cells = client.child_runs(run_id)
        metrics = {k: v for cell in cells for k, v in cell.metrics.items()}
        if metrics:
            client.log_metrics(run_id, metrics)
        own = [client.read_run(run_id), *(client.read_run(c.id) for c in cells)]
        outputs = cache.output_fingerprints(job.pipeline, step, client, own)
        records.record_outputs(client, run_id, outputs)
        client.end_run(run_id, RunStatus.FINISHED)
        return outputs
    records.record_failed_cell(client, run_id, failure.cell_index)
    client.end_run(
        run_id,
        RunStatus.FAILED,
        traceback_text=failure.traceback or None,
        attrs={"error_name": failure.ename, "error_value": failure.evalue[:10_000]},
    )
    return failure


def _running_cell(output: Path) -> int | None:
    """The cell that was executing when the run stopped: the last one papermill started."""
    import json

    try:
        nb = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    started = [
        i
        for i, cell in enumerate(nb.get("cells", []))
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None
