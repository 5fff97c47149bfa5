"""Run a pipeline: each step is a notebook executed by papermill in its own kernel.

One parent run per pipeline run, one child run per step attempt. A step starts as soon as its
own upstream steps are done (not when a whole "wave" is), at most ``max_workers`` at once on
the local executor; on the Dask executor each step is a task on the cluster.

Before a step is started its cache key is computed (:mod:`.cache`); a hit records a FINISHED
step run tagged ``mlops.cached`` and reuses the outputs of the run it points to, so an
unchanged pipeline re-runs without starting a kernel. ``force`` ignores the cache;
``from_step`` re-runs a step and everything downstream of it, reusing the newest finished run
of every other step; ``resume`` re-runs a failed pipeline run from its failed steps, reusing
what finished.

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

The engine also reports each cell as it starts (tags ``mlops.cell``, ``mlops.cells``,
``mlops.cell_source`` on the step run: the panel's live progress), and papermill saves the
output notebook after every cell, so a partial notebook can be opened while a step runs.

A kernel that dies (SIGKILL, out of memory) ends its step FAILED with ``DeadKernelError``:
nbclient notices the dead process while it waits for the cell's reply.

Downstream steps of a failed step are not run: they are SKIPPED in the result, no run is
created for them, and the pipeline run carries their names in the tag ``mlops.skipped``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from jupyter_mlops.client import Client
from jupyter_mlops.config import ARTIFACTS_ENV, PARENT_RUN_ENV, STORE_ENV, StoreLocation
from jupyter_mlops.entities import Run, RunStatus
from jupyter_mlops.exceptions import ExecutionError, InvalidInput, NotFound

from . import cache
from .params import inspect_parameters
from .spec import Pipeline, Step

__all__ = [
    "EXECUTORS",
    "PARENT_RUN_ENV",
    "PipelineResult",
    "StepResult",
    "StepStatus",
    "run_pipeline",
]

ENGINE_NAME = "jupyter_mlops"
EXECUTORS = ("local", "dask")
# Tags of a pipeline run (the parent) and of its step runs.
PIPELINE_TAG = "mlops.pipeline"  # both: the pipeline's name
PIPELINE_RUN_TAG = "mlops.pipeline_run"  # the parent only: the pipeline's name
PATH_TAG = "mlops.pipeline_path"
TRIGGER_TAG = "mlops.trigger"
PARAMS_TAG = "mlops.run_params"  # the parameters given for this run, as JSON (typed)
STEPS_TAG = "mlops.steps"
STEP_TAG = "mlops.step"
STEP_ID_TAG = "mlops.pipeline_step"  # "<pipeline>/<step>": the newest run of a step
OUTPUT_PATH_TAG = "mlops.output_path"
PROGRESS_TAGS = ("mlops.cell", "mlops.cells", "mlops.cell_source")
FAILED_CELL_TAG = "mlops.failed_cell"
SKIPPED_TAG = "mlops.skipped"  # the parent: steps not run because an upstream failed
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


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


@dataclass
class _StepJob:
    """Everything a step needs to run anywhere: plain data, picklable for Dask."""

    pipeline: Pipeline
    step: str
    location: StoreLocation
    pipeline_run: str
    out_dir: Path | None
    kernel_name: str
    parameters: dict[str, Any]
    cache_key: str | None


def run_pipeline(
    pipeline: Pipeline,
    *,
    client: Client | None = None,
    params: Mapping[str, Any] | None = None,
    max_workers: int = 2,
    output_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    from_step: str | None = None,
    resume: bool | str = False,
    kernel_name: str = "python3",
    executor: str = "local",
    scheduler_address: str | None = None,
    run_id: str | None = None,
    trigger: str = "manual",
    progress: bool = True,
) -> PipelineResult:
    """Validate ``pipeline`` and run its steps as tracked runs, skipping unchanged ones.

    Args:
        pipeline: the pipeline to run.
        client: where runs are recorded; the default store when None. The step kernels get
            the same store through ``JUPYTER_MLOPS_STORE``/``JUPYTER_MLOPS_ARTIFACTS``.
        params: pipeline parameters for this run, over the pipeline's own ``params``.
        max_workers: how many steps (kernels) run at once on the local executor.
        output_dir: also write each executed notebook there as ``<step>.ipynb``; papermill
            saves it after every cell, so it can be opened while the step runs.
        force: ignore the cache: run every step.
        from_step: run this step and everything downstream of it (ignoring the cache); the
            other steps reuse their newest finished run.
        resume: re-run a failed pipeline run (True: the newest run of this pipeline, or a
            run id) from its failed steps, reusing the steps that finished.
        kernel_name: the Jupyter kernel every step runs in.
        executor: ``"local"`` (kernels started by this process) or ``"dask"`` (each step a
            task on the Dask cluster at ``scheduler_address``; its workers must see the same
            notebooks at the same paths and the same store: PostgreSQL or a shared folder).
        scheduler_address: the Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
        run_id: the pipeline run's id, when the caller chose it in advance (32 hex digits).
        trigger: why the run starts (``manual``, ``schedule:<id>``, ``event:<id>``), recorded
            on the pipeline run.
        progress: show a progress bar (tqdm) while steps run.

    Returns:
        A :class:`PipelineResult`; a failed step does not raise, check ``result.ok``.

    Raises:
        InvalidInput: the pipeline does not validate (every problem listed), a bad option,
            or nothing to resume/reuse.
        NotFound: ``from_step`` is not a step, or the run to resume does not exist.
    """
    from tqdm.auto import tqdm

    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidInput(f"max_workers must be a whole number >= 1, got {max_workers!r}")
    if executor not in EXECUTORS:
        raise InvalidInput(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler_address:
        raise InvalidInput("the dask executor needs a scheduler address (tcp://host:8786)")
    if sum(bool(x) for x in (force, from_step, resume)) > 1:
        raise InvalidInput("use at most one of force, from_step and resume")
    client = client or Client.shared()
    previous = _previous_run(client, pipeline, resume) if resume else None
    if previous is not None and not params:
        # The same parameters as the run being resumed, with their types.
        params = json.loads(previous.tags.get(PARAMS_TAG) or "{}")
    pipeline = pipeline.with_params(params)
    pipeline.validate()
    order = [name for wave in pipeline.order() for name in wave]
    reuse: dict[str, str] = {}  # step -> run whose outputs are reused as they are
    forced: set[str] = set(order) if force else set()
    tags: dict[str, Any] = {
        PIPELINE_TAG: pipeline.name,
        PIPELINE_RUN_TAG: pipeline.name,
        TRIGGER_TAG: trigger,
        STEPS_TAG: json.dumps(order),
    }
    if pipeline.path is not None:
        tags[PATH_TAG] = str(pipeline.path)
    if params:
        tags[PARAMS_TAG] = json.dumps(dict(params), sort_keys=True, default=str)
    if from_step:
        forced = set(pipeline.subgraph_from(from_step))
        reuse = _newest_step_runs(client, pipeline, [n for n in order if n not in forced])
        tags["mlops.from_step"] = from_step
    elif previous is not None:
        reuse = {
            name: attempts[-1].id
            for name, attempts in step_attempts(client, previous.id).items()
            if step_status(attempts[-1]) in (StepStatus.FINISHED, StepStatus.CACHED)
            and name in order
        }
        tags["mlops.resumed_from"] = previous.id
    out_dir = Path(output_dir).resolve() if output_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    run_id = client.create_run(pipeline.name, f"pipeline:{pipeline.name}", tags=tags, run_id=run_id)
    started = time.perf_counter()
    results: dict[str, StepResult] = {}
    try:
        if pipeline.params:
            client.log_params(run_id, pipeline.params)
        pool_size = len(order) if executor == "dask" else max_workers
        pool = ThreadPoolExecutor(pool_size, thread_name_prefix="mlops-step")
        submit, close = _executor(executor, scheduler_address, client)
        interrupted = True
        try:
            # disable=None: a bar only on a terminal.
            with tqdm(
                total=len(order),
                desc=pipeline.name,
                unit="step",
                disable=None if progress else True,
            ) as bar:

                def done(name: str) -> None:
                    bar.update(1)
                    bar.set_postfix_str(f"{name} {results[name].status.value}")

                _drive(
                    pipeline, order, client, run_id, out_dir, kernel_name, reuse, forced,
                    results, pool, submit, done,
                )  # fmt: skip
            interrupted = False
        finally:
            # On an interrupt, queued steps never start; running ones end their own runs.
            pool.shutdown(wait=not interrupted, cancel_futures=True)
            close()
        skipped = [n for n in order if results[n].status is StepStatus.SKIPPED]
        if skipped:
            client.set_tags(run_id, {SKIPPED_TAG: ",".join(skipped)})
    except BaseException as exc:
        # Interrupted or broken runner: the pipeline run must not stay RUNNING.
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        client.end_run(run_id, status, error=exc)
        raise
    ordered = {n: results[n] for n in order}
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


def _drive(
    pipeline: Pipeline,
    order: list[str],
    client: Client,
    run_id: str,
    out_dir: Path | None,
    kernel_name: str,
    reuse: Mapping[str, str],
    forced: set[str],
    results: dict[str, StepResult],
    pool: ThreadPoolExecutor,
    submit: Callable[[_StepJob], StepResult],
    done: Callable[[str], None],
) -> None:
    """Start every step whose upstream steps are done, until all are done."""
    digests: dict[str, str] = {}  # step -> digest of its outputs, for downstream keys
    running: dict[Future[StepResult], str] = {}
    pending = list(order)

    def finish(name: str, res: StepResult) -> None:
        results[name] = res
        if res.ok:
            digests[name] = cache.outputs_digest(res.outputs, res.cache_key or res.run_id or "")
        done(name)

    while pending or running:
        for name in list(pending):
            step = pipeline.step(name)
            if any(up in results and not results[up].ok for up in step.upstream):
                pending.remove(name)
                finish(name, StepResult(name, StepStatus.SKIPPED))
                continue
            if not all(up in digests for up in step.upstream):
                continue
            pending.remove(name)
            parameters = _parameters(pipeline, step)
            if name in reuse:
                source = client.get_run(reuse[name])
                finish(name, _record_cached(client, pipeline, step, run_id, source, None))
                continue
            key = cache.step_key(pipeline, step, parameters, kernel_name, client, digests)
            hit = None if name in forced else _cache_hit(client, pipeline, step, key)
            if hit is not None:
                finish(name, _record_cached(client, pipeline, step, run_id, hit, key))
                continue
            job = _StepJob(
                pipeline, name, client.location, run_id, out_dir, kernel_name, parameters, key
            )
            running[pool.submit(submit, job)] = name
        if not running:
            continue
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            finish(running.pop(future), future.result())


def _parameters(pipeline: Pipeline, step: Step) -> dict[str, Any]:
    info = inspect_parameters(pipeline.notebook_path(step))
    declared = info.params if not isinstance(info, str) else {}
    return pipeline.parameters_for(step, declared)


# -- the cache and reuse -------------------------------------------------------------------


def _cache_hit(client: Client, pipeline: Pipeline, step: Step, key: str) -> Run | None:
    """The newest finished run with this key whose declared outputs are still as recorded."""
    hit = client.store.latest_run_with_tag(cache.CACHE_KEY_TAG, key)
    if hit is None:
        return None
    run = client.get_run(hit)
    recorded = json.loads(run.tags.get(cache.OUTPUTS_TAG) or "{}")
    current = cache.ref_fingerprints(pipeline, step.outputs, client)
    if any(recorded.get(ref) != fp for ref, fp in current.items()):
        return None  # an output was edited or deleted since: run again
    return run


def _record_cached(
    client: Client,
    pipeline: Pipeline,
    step: Step,
    pipeline_run: str,
    src: Run,
    key: str | None,
) -> StepResult:
    """A FINISHED step run of this pipeline run that points to the run it reuses."""
    origin = src.tags.get(cache.CACHED_TAG) or src.id
    outputs = json.loads(src.tags.get(cache.OUTPUTS_TAG) or "{}")
    tags = {
        **_step_tags(pipeline, step),
        cache.CACHED_TAG: origin,
        cache.OUTPUTS_TAG: json.dumps(outputs, sort_keys=True),
        cache.CACHE_KEY_TAG: key or src.tags.get(cache.CACHE_KEY_TAG, ""),
    }
    rid = client.create_run(
        pipeline.name,
        step.name,
        tags=tags,
        parent_run_id=pipeline_run,
        attrs={"notebook_path": str(pipeline.notebook_path(step))},
    )
    if src.params:
        client.log_params(rid, src.params)
    if src.metrics:
        client.log_metrics(rid, src.metrics)
    # The executed notebook of the reused run, by reference (artifacts are content-addressed).
    for art in client.store.list_artifacts(origin):
        if art.kind == "notebook":
            client.store.record_artifact(rid, art)
    client.end_run(rid, RunStatus.FINISHED)
    return StepResult(
        step.name,
        StepStatus.CACHED,
        run_ids=[rid],
        cached_from=origin,
        cache_key=key,
        outputs=outputs,
    )


def _newest_step_runs(client: Client, pipeline: Pipeline, names: list[str]) -> dict[str, str]:
    out = {}
    for name in names:
        rid = client.store.latest_run_with_tag(STEP_ID_TAG, f"{pipeline.name}/{name}")
        if rid is None:
            raise InvalidInput(
                f"step {name!r} of pipeline {pipeline.name!r} has never finished, so its "
                "outputs cannot be reused; run the whole pipeline first"
            )
        out[name] = rid
    return out


def _previous_run(client: Client, pipeline: Pipeline, resume: bool | str) -> Run:
    if isinstance(resume, str):
        run = client.get_run(resume)
        if run.tags.get(PIPELINE_RUN_TAG) != pipeline.name:
            raise InvalidInput(f"run {resume!r} is not a run of pipeline {pipeline.name!r}")
    else:
        rid = client.store.latest_run_with_tag(PIPELINE_RUN_TAG, pipeline.name, None)
        if rid is None:
            raise NotFound(f"pipeline {pipeline.name!r} has no run to resume")
        run = client.get_run(rid)
    check_resumable(run)
    return run


def check_resumable(run: Run) -> None:
    """Raise InvalidInput unless ``run`` is a pipeline run that failed or was killed."""
    if PIPELINE_RUN_TAG not in run.tags:
        raise InvalidInput(f"run {run.id[:8]} is not a pipeline run")
    if run.info.status in (RunStatus.RUNNING.value, RunStatus.FINISHED.value):
        raise InvalidInput(
            f"pipeline run {run.id[:8]} is {run.info.status}: only a failed or killed run "
            "can be resumed"
        )


def child_runs(client: Client, parent: str) -> list[Run]:
    """The children of a run, oldest first: a pipeline run's step runs, a step run's
    tracked cells."""
    return client.search_runs(
        filter=f"parent_run_id = '{parent}'", order_by=["start_time"], limit=10_000
    )


def step_attempts(client: Client, pipeline_run: str) -> dict[str, list[Run]]:
    """A pipeline run's step runs by step, attempts oldest first (the last one counts)."""
    out: dict[str, list[Run]] = {}
    for run in child_runs(client, pipeline_run):
        name = run.tags.get(STEP_TAG)
        if name:
            out.setdefault(name, []).append(run)
    return out


def step_status(run: Run) -> str:
    """A step run's status, CACHED for a finished run that reused another's outputs."""
    if run.info.status == RunStatus.FINISHED.value and run.tags.get(cache.CACHED_TAG):
        return StepStatus.CACHED.value
    return run.info.status


# -- one step ------------------------------------------------------------------------------


def _step_tags(pipeline: Pipeline, step: Step) -> dict[str, str]:
    return {
        PIPELINE_TAG: pipeline.name,
        STEP_TAG: step.name,
        STEP_ID_TAG: f"{pipeline.name}/{step.name}",
    }


def _executor(
    kind: str, address: str | None, client: Client
) -> tuple[Callable[[_StepJob], StepResult], Callable[[], None]]:
    """How a step job runs, and how to let go of the executor afterwards."""
    if kind == "local":
        return functools.partial(_run_step, client=client), lambda: None
    from distributed import Client as DaskClient

    dask = DaskClient(address, set_as_default=False)

    def submit(job: _StepJob) -> StepResult:
        # pure=False: two steps with equal arguments are still two executions.
        result: StepResult = dask.submit(_run_step, job, pure=False).result()
        return result

    return submit, dask.close


_worker_clients: dict[StoreLocation, Client] = {}
_worker_lock = threading.Lock()


def _client_for(location: StoreLocation) -> Client:
    """One Client per store in a (Dask worker) process."""
    with _worker_lock:
        client = _worker_clients.get(location)
        if client is None:
            client = _worker_clients[location] = Client(location)
        return client


def _run_step(job: _StepJob, client: Client | None = None) -> StepResult:
    """Run one step with its retries; on any machine that sees the notebook and the store."""
    client = client or _client_for(job.location)
    _register_engine()  # in this process: a Dask worker has not imported the runner before
    pipeline, step = job.pipeline, job.pipeline.step(job.step)
    notebook = pipeline.notebook_path(step)
    result = StepResult(step.name, StepStatus.FAILED, cache_key=job.cache_key)
    started = time.perf_counter()
    for attempt in range(1, step.retries + 2):
        if attempt > 1 and step.retry_backoff > 0:
            time.sleep(step.retry_backoff * 2 ** (attempt - 2))
        tags: dict[str, Any] = {**_step_tags(pipeline, step), "mlops.attempt": attempt}
        if job.cache_key:
            tags[cache.CACHE_KEY_TAG] = job.cache_key
        run_id = client.create_run(
            pipeline.name,
            step.name,
            tags=tags,
            parent_run_id=job.pipeline_run,
            attrs={"notebook_path": str(notebook)},
        )
        result.run_ids.append(run_id)
        result.attempts = attempt
        outcome = _attempt(job, step, notebook, client, run_id)
        if not isinstance(outcome, _Failure):
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
    job: _StepJob, step: Step, notebook: Path, client: Client, run_id: str
) -> _Failure | dict[str, str]:
    """Execute the notebook once as run ``run_id`` and end the run; the failure, or the
    fingerprints of what the step produced."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    failure: _Failure | None = None
    tmp = tempfile.mkdtemp(prefix="mlops-step-")
    output = (job.out_dir or Path(tmp)) / f"{step.name}.ipynb"
    loc = client.location
    env = {
        **os.environ,
        STORE_ENV: loc.db_url,
        ARTIFACTS_ENV: loc.artifact_root,
        PARENT_RUN_ENV: run_id,
        "JPY_SESSION_NAME": str(notebook),
    }

    def on_cell(index: int, total: int, source: str) -> None:
        first = next((ln for ln in source.splitlines() if ln.strip()), "")
        client.set_tags(run_id, dict(zip(PROGRESS_TAGS, (index, total, first[:200]), strict=True)))

    try:
        if job.parameters:
            client.log_params(run_id, job.parameters)
        if job.out_dir is not None:
            client.set_tags(run_id, {OUTPUT_PATH_TAG: str(output)})
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
        # The step run carries what its tracked cells measured and made.
        cells = child_runs(client, run_id)
        metrics = {k: v for cell in cells for k, v in cell.metrics.items()}
        if metrics:
            client.log_metrics(run_id, metrics)
        outputs = cache.output_fingerprints(
            job.pipeline, step, client, [run_id, *(c.id for c in cells)]
        )
        client.set_tags(run_id, {cache.OUTPUTS_TAG: json.dumps(outputs, sort_keys=True)})
        client.end_run(run_id, RunStatus.FINISHED)
        return outputs
    tags: dict[str, Any] = {}
    if failure.cell_index is not None:
        tags[FAILED_CELL_TAG] = failure.cell_index
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


@functools.cache
def _register_engine() -> None:
    from papermill.engines import papermill_engines

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
            on_cell: Callable[[int, int, str], None] | None = None,
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
            if on_cell is not None:
                _report_cells(nb_man, on_cell)
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


def _report_cells(nb_man: Any, on_cell: Callable[[int, int, str], None]) -> None:
    """Call ``on_cell(index, count, source)`` as each cell starts, after papermill has saved
    the notebook; progress is a convenience, so a failing report never stops the step."""
    start = nb_man.cell_start

    def cell_start(cell: Any, cell_index: int | None = None, **kwargs: Any) -> Any:
        out = start(cell, cell_index, **kwargs)
        try:
            on_cell(cell_index or 0, len(nb_man.nb.cells), cell.get("source", ""))
        except Exception as exc:
            from papermill.log import logger

            logger.warning("jupyter-mlops: could not record progress: %s", exc)
        return out

    nb_man.cell_start = cell_start
