"""Run a pipeline locally: each step is a notebook executed by papermill in its own kernel.

One parent run per pipeline, one child run per step attempt. Steps of one wave of
:meth:`Pipeline.order` run in parallel in a bounded thread pool; each thread drives its own
kernel through papermill, which injects the parameters.

Three things papermill does not do for parallel steps in one process, done here by a small
papermill engine (``_StepEngine``, papermill's own extension point):

- **Environment.** ``papermill.execute_notebook`` has no ``env``; the engine hands the kernel
  its environment (store location, ``JUPYTER_MLOPS_PARENT_RUN``, ``JPY_SESSION_NAME``) through
  ``NotebookClient.execute(env=...)``, so ``os.environ`` is never changed.
- **Working directory.** papermill's ``cwd=`` does a process-wide ``os.chdir``, which parallel
  threads would race on; the engine gives the kernel its ``cwd`` at start instead.
- **Ports.** On POSIX each kernel talks over the IPC transport (Unix sockets in a private
  temp folder), so no TCP port can be taken by another kernel or process between being picked
  and being bound. Elsewhere jupyter_client's ``LocalPortCache`` keeps ports unique within
  the process.

Downstream steps of a failed step are not run: they are SKIPPED in the result, no run is
created for them, and the pipeline run carries their names in the tag ``mlops.skipped``.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from jupyter_mlops.client import Client
from jupyter_mlops.config import ARTIFACTS_ENV, STORE_ENV
from jupyter_mlops.entities import RunStatus
from jupyter_mlops.exceptions import ExecutionError, InvalidInput

from .params import inspect_parameters
from .spec import Pipeline, Step

__all__ = ["PARENT_RUN_ENV", "PipelineResult", "StepResult", "StepStatus", "run_pipeline"]

PARENT_RUN_ENV = "JUPYTER_MLOPS_PARENT_RUN"
ENGINE_NAME = "jupyter_mlops"
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class StepStatus(str, Enum):
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


@dataclass
class StepResult:
    """What happened to one step.

    Attributes:
        name: the step's name.
        status: FINISHED, FAILED or SKIPPED (an upstream step failed; no run was made).
        run_ids: one run per attempt, oldest first.
        attempts: how many times the notebook was executed.
        duration: seconds from the first attempt's start to the last one's end.
        error_name, error_value, failed_cell, traceback: from the last failed attempt;
            ``failed_cell`` indexes the output notebook (papermill's injected cell counts).
        output_path: the executed notebook under ``output_dir``, when one was given.
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

    @property
    def run_id(self) -> str | None:
        """The last attempt's run."""
        return self.run_ids[-1] if self.run_ids else None


@dataclass
class PipelineResult:
    """The pipeline run and every step's outcome, in run order."""

    run_id: str
    name: str
    steps: dict[str, StepResult]
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.status is StepStatus.FINISHED for s in self.steps.values())

    @property
    def status(self) -> RunStatus:
        return RunStatus.FINISHED if self.ok else RunStatus.FAILED

    def __getitem__(self, step: str) -> StepResult:
        return self.steps[step]

    def raise_for_failure(self) -> None:
        """Raise :class:`ExecutionError` (papermill's fields) for the first failed step."""
        for step in self.steps.values():
            if step.status is StepStatus.FAILED:
                raise ExecutionError(
                    f"pipeline {self.name!r}: step {step.name!r} failed"
                    + (f" in cell {step.failed_cell}" if step.failed_cell is not None else "")
                    + f": {step.error_name}: {step.error_value}",
                    cell_index=step.failed_cell,
                    ename=step.error_name or "",
                    evalue=step.error_value or "",
                    traceback=step.traceback or "",
                )


@dataclass
class _Failure:
    ename: str
    evalue: str
    traceback: str
    cell_index: int | None


def run_pipeline(
    pipeline: Pipeline,
    *,
    client: Client | None = None,
    max_workers: int = 2,
    output_dir: str | os.PathLike[str] | None = None,
    from_step: str | None = None,
    kernel_name: str = "python3",
) -> PipelineResult:
    """Validate ``pipeline`` and run its steps, wave by wave, as tracked runs.

    Args:
        pipeline: the pipeline to run.
        client: where runs are recorded; the default store when None. The step kernels get
            the same store through ``JUPYTER_MLOPS_STORE``/``JUPYTER_MLOPS_ARTIFACTS``.
        max_workers: how many steps (kernels) run at once.
        output_dir: also write each executed notebook there as ``<step>.ipynb``.
        from_step: run only this step and the steps downstream of it.
        kernel_name: the Jupyter kernel every step runs in.

    Returns:
        A :class:`PipelineResult`; a failed step does not raise, check ``result.ok``.

    Raises:
        InvalidInput: the pipeline does not validate (every problem listed), or
            ``max_workers`` is below 1.
        NotFound: ``from_step`` is not a step.
    """
    from tqdm.auto import tqdm

    pipeline.validate()
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidInput(f"max_workers must be a whole number >= 1, got {max_workers!r}")
    selected = set(pipeline.subgraph_from(from_step)) if from_step else None
    waves = [[n for n in wave if selected is None or n in selected] for wave in pipeline.order()]
    waves = [w for w in waves if w]
    client = client or Client.shared()
    out_dir = Path(output_dir) if output_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    _register_engine()

    tags = {"mlops.pipeline": pipeline.name}
    if from_step:
        tags["mlops.from_step"] = from_step
    run_id = client.create_run(pipeline.name, f"pipeline:{pipeline.name}", tags=tags)
    started = time.perf_counter()
    results: dict[str, StepResult] = {}
    try:
        if pipeline.params:
            client.log_params(run_id, pipeline.params)
        failed: set[str] = set()
        total = sum(len(w) for w in waves)
        pool = ThreadPoolExecutor(max_workers, thread_name_prefix="mlops-step")
        interrupted = True
        try:
            with tqdm(total=total, desc=pipeline.name, unit="step", disable=None) as bar:
                for wave in waves:
                    futures = {}
                    for name in wave:
                        step = pipeline.step(name)
                        if failed.intersection(step.upstream):
                            failed.add(name)
                            results[name] = StepResult(name, StepStatus.SKIPPED)
                            bar.update(1)
                            continue
                        future = pool.submit(
                            _run_step, pipeline, step, client, run_id, out_dir, kernel_name
                        )
                        futures[future] = name
                    for future in as_completed(futures):
                        name = futures[future]
                        results[name] = future.result()
                        if results[name].status is not StepStatus.FINISHED:
                            failed.add(name)
                        bar.update(1)
                        bar.set_postfix_str(f"{name} {results[name].status.value}")
            interrupted = False
        finally:
            # On an interrupt, queued steps never start; running ones end their own runs.
            pool.shutdown(wait=not interrupted, cancel_futures=True)
        skipped = [n for n, r in results.items() if r.status is StepStatus.SKIPPED]
        if skipped:
            client.set_tags(run_id, {"mlops.skipped": ",".join(skipped)})
    except BaseException as exc:
        # Interrupted or broken runner: the pipeline run must not stay RUNNING.
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        client.end_run(run_id, status, error=exc)
        raise
    ordered = {n: results[n] for wave in waves for n in wave}
    result = PipelineResult(run_id, pipeline.name, ordered, time.perf_counter() - started)
    bad = [r for r in ordered.values() if r.status is StepStatus.FAILED]
    if bad:
        first = bad[0]
        client.end_run(
            run_id,
            RunStatus.FAILED,
            attrs={
                "error_name": "StepFailed",
                "error_value": f"step {first.name!r} failed: {first.error_name}: "
                f"{first.error_value}"[:10_000],
            },
        )
    else:
        client.end_run(run_id, RunStatus.FINISHED)
    return result


# -- one step ------------------------------------------------------------------------------


def _run_step(
    pipeline: Pipeline,
    step: Step,
    client: Client,
    pipeline_run: str,
    out_dir: Path | None,
    kernel_name: str,
) -> StepResult:
    notebook = pipeline.notebook_path(step)
    info = inspect_parameters(notebook)
    declared = info.params if not isinstance(info, str) else {}
    parameters = pipeline.parameters_for(step, declared)
    result = StepResult(step.name, StepStatus.FAILED)
    started = time.perf_counter()
    for attempt in range(1, step.retries + 2):
        if attempt > 1 and step.retry_backoff > 0:
            time.sleep(step.retry_backoff * 2 ** (attempt - 2))
        run_id = client.create_run(
            pipeline.name,
            step.name,
            tags={
                "mlops.pipeline": pipeline.name,
                "mlops.step": step.name,
                "mlops.attempt": attempt,
            },
            parent_run_id=pipeline_run,
            attrs={"notebook_path": str(notebook)},
        )
        result.run_ids.append(run_id)
        result.attempts = attempt
        failure = _attempt(step, notebook, parameters, client, run_id, out_dir, kernel_name)
        if failure is None:
            result.status = StepStatus.FINISHED
            result.error_name = result.error_value = result.traceback = None
            result.failed_cell = None
            break
        result.error_name, result.error_value = failure.ename, failure.evalue
        result.traceback, result.failed_cell = failure.traceback, failure.cell_index
    result.duration = time.perf_counter() - started
    if out_dir is not None:
        result.output_path = out_dir / f"{step.name}.ipynb"
    return result


def _attempt(
    step: Step,
    notebook: Path,
    parameters: Mapping[str, Any],
    client: Client,
    run_id: str,
    out_dir: Path | None,
    kernel_name: str,
) -> _Failure | None:
    """Execute the notebook once as run ``run_id``; ends the run; None when it succeeded."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    failure: _Failure | None = None
    tmp = tempfile.mkdtemp(prefix="mlops-step-")
    output = (out_dir or Path(tmp)) / f"{step.name}.ipynb"
    loc = client.location
    env = {
        **os.environ,
        STORE_ENV: loc.db_url,
        ARTIFACTS_ENV: loc.artifact_root,
        PARENT_RUN_ENV: run_id,
        "JPY_SESSION_NAME": str(notebook),
    }
    try:
        if parameters:
            client.log_params(run_id, parameters)
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            engine_name=ENGINE_NAME,
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=False,
            # Whole seconds: nbclient's timeout is an Integer trait.
            execution_timeout=math.ceil(step.timeout) if step.timeout else None,
            kernel_env=env,
            kernel_cwd=str(notebook.parent),
        )
    except PapermillExecutionError as exc:
        failure = _Failure(
            exc.ename, exc.evalue, _strip_ansi("\n".join(exc.traceback)), exc.cell_index
        )
    except TimeoutError as exc:  # nbclient's CellTimeoutError
        failure = _Failure("TimeoutError", str(exc), "", _running_cell(output))
    except Exception as exc:  # a dead kernel, a kernel that never started, ...
        failure = _Failure(type(exc).__name__, str(exc), "", _running_cell(output))
    except BaseException as exc:
        client.end_run(run_id, RunStatus.KILLED, error=exc)
        raise
    finally:
        try:
            if output.is_file():
                client.log_artifact_bytes(
                    run_id, output.read_bytes(), f"notebooks/{step.name}.ipynb", "notebook"
                )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if failure is None:
        client.end_run(run_id, RunStatus.FINISHED)
        return None
    tags: dict[str, Any] = {}
    if failure.cell_index is not None:
        tags["mlops.failed_cell"] = failure.cell_index
    if tags:
        client.set_tags(run_id, tags)
    client.end_run(
        run_id,
        RunStatus.FAILED,
        traceback_text=failure.traceback or None,
        attrs={"error_name": failure.ename, "error_value": failure.evalue[:10_000]},
    )
    return failure


def _strip_ansi(text: str) -> str:
    return _ANSI_RE.sub("", text)


def _running_cell(output: Path) -> int | None:
    """The cell that was executing when the run stopped: the last one papermill started."""
    import nbformat

    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:
        return None
    started = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None


# -- the papermill engine ------------------------------------------------------------------


def _register_engine() -> None:
    from papermill.engines import papermill_engines

    # Idempotent: registering the same class again only replaces the entry.
    papermill_engines.register(ENGINE_NAME, _engine())


@functools.cache
def _engine() -> type:
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger
    from papermill.utils import remove_args
    from traitlets.config import Config

    from jupyter_mlops.notebook_runner import _send_cell_ids

    class _StepEngine(NBClientEngine):
        """papermill's nbclient engine, plus the kernel's env and cwd and private sockets."""

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            kernel_env: dict[str, str] | None = None,
            kernel_cwd: str | None = None,
            **kwargs: Any,
        ) -> Any:
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            config = Config()
            ipc_dir = None
            if os.name == "posix":
                ipc_dir = tempfile.mkdtemp(prefix="mlops-k-")
                config.KernelManager.transport = "ipc"
                config.KernelManager.ip = os.path.join(ipc_dir, "k")
            nb_client = PapermillNotebookClient(
                nb_man,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                config=config,
                **kwargs,
            )
            # Cell ids on execute requests, as the lab sends them, so %%track records cells.
            _send_cell_ids(nb_client)
            start: dict[str, Any] = {}
            if kernel_env is not None:
                start["env"] = kernel_env
            if kernel_cwd is not None:
                start["cwd"] = kernel_cwd
            try:
                return nb_client.execute(**start)
            finally:
                if ipc_dir is not None:
                    shutil.rmtree(ipc_dir, ignore_errors=True)

    return _StepEngine
