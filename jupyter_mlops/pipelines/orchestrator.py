"""Run a pipeline: each step is a notebook executed by papermill in its own kernel.

One parent run per pipeline run, one child run per step attempt (``records.py`` says what
they carry). A step starts as soon as its own upstream steps are done (not when a whole
"wave" is), on the executor the options name (``executors.py``).

Before a step is started its cache key is computed (``cache.py``); a hit records a FINISHED
step run tagged ``mlops.cached`` and reuses the outputs of the run it points to, so an
unchanged pipeline re-runs without starting a kernel, nor importing papermill. ``force``
ignores the cache; ``from_step`` re-runs a step and everything downstream of it, reusing the
newest finished run of every other step; ``resume`` re-runs a failed pipeline run from its
failed steps, reusing what finished.

Downstream steps of a failed step are not run: they are SKIPPED in the result, no run is
created for them, and the pipeline run carries their names in the tag ``mlops.skipped``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from jupyter_mlops.client import Client
from jupyter_mlops.entities import Run, RunStatus
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.progress import progress_bar

from . import cache, records
from .actions import run_action
from .executors import Executor, open_executor, validated
from .options import RunOptions
from .params import inspect_parameters
from .records import PipelineResult, StepResult, StepStatus
from .spec import Pipeline, Step
from .steps import StepJob

__all__ = ["run_pipeline"]


def run_pipeline(
    pipeline: Pipeline,
    options: RunOptions | None = None,
    *,
    client: Client | None = None,
    **overrides: Any,
) -> PipelineResult:
    """Validate ``pipeline`` and run its steps as tracked runs, skipping unchanged ones.

    Args:
        pipeline: the pipeline to run.
        options: how it runs (:class:`~jupyter_mlops.pipelines.options.RunOptions`); any of
            its fields may also be given as a keyword (``force=True``, ``max_workers=4``...),
            over ``options``.
        client: where runs are recorded; the default store when None. The step kernels get
            the same store through ``JUPYTER_MLOPS_STORE``/``JUPYTER_MLOPS_ARTIFACTS``.

    Returns:
        A :class:`PipelineResult`; a failed step does not raise, check ``result.ok``.

    Raises:
        InvalidInput: the pipeline does not validate (every problem listed), a bad option,
            or nothing to resume/reuse.
        NotFound: ``from_step`` is not a step, or the run to resume does not exist.
    """
    opts = validated((options or RunOptions()).replace(**overrides))
    client = client or Client.shared()
    previous = records.previous_run(client, pipeline, opts.resume) if opts.resume else None
    params: Mapping[str, Any] = opts.params
    if previous is not None and not params:
        params = records.run_params(previous)  # the run being resumed, with their types
    pipeline = pipeline.with_params(params)
    pipeline.validate(root=Path(opts.root) if opts.root else None)
    order = [name for wave in pipeline.order() for name in wave]
    reuse: dict[str, str] = {}  # step -> run whose outputs are reused as they are
    forced: set[str] = set(order) if opts.force else set()
    if opts.from_step:
        forced = set(pipeline.subgraph_from(opts.from_step))
        reuse = _newest_step_runs(client, pipeline, [n for n in order if n not in forced])
    elif previous is not None:
        reuse = {
            name: attempts[-1].id
            for name, attempts in records.step_attempts(client, previous.id).items()
            if records.step_status(attempts[-1]) in (StepStatus.FINISHED, StepStatus.CACHED)
            and name in order
        }
    out_dir = Path(opts.output_dir).resolve() if opts.output_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    tags = records.pipeline_run_tags(
        pipeline,
        order,
        opts.trigger,
        params,
        opts.execution(),
        from_step=opts.from_step,
        resumed_from=previous.id if previous is not None else None,
    )
    run_id = client.create_run(
        pipeline.name, f"pipeline:{pipeline.name}", tags=tags, run_id=opts.run_id
    )
    started = time.perf_counter()
    results: dict[str, StepResult] = {}
    try:
        if pipeline.params:
            client.log_params(run_id, pipeline.params)
        drive = _Drive(pipeline, order, client, run_id, out_dir, opts.kernel_name, results)
        drive.run(opts, reuse, forced)
        records.record_skipped(
            client, run_id, [n for n in order if results[n].status is StepStatus.SKIPPED]
        )
    except BaseException as exc:
        # Interrupted or broken runner: the pipeline run must not stay RUNNING.
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        client.end_run(run_id, status, error=exc)
        raise
    ordered = {n: results[n] for n in order}
    result = PipelineResult(run_id, pipeline.name, ordered, time.perf_counter() - started)
    first = result.first_failure
    if first is not None:
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


class _Drive:
    """Starts every step whose upstream steps are done, until all are done."""

    def __init__(
        self,
        pipeline: Pipeline,
        order: list[str],
        client: Client,
        run_id: str,
        out_dir: Path | None,
        kernel_name: str,
        results: dict[str, StepResult],
    ) -> None:
        self.pipeline, self.order, self.client = pipeline, order, client
        self.run_id, self.out_dir, self.kernel_name = run_id, out_dir, kernel_name
        self.results = results
        self.digests: dict[str, str] = {}  # step -> digest of its outputs, for downstream keys

    def run(self, opts: RunOptions, reuse: Mapping[str, str], forced: set[str]) -> None:
        # The executor is opened when a step really has to run: a cached pipeline needs none.
        executor: Executor | None = None
        # Action steps (promote:) run here, on a thread, beside the steps' kernels.
        self.actions = ThreadPoolExecutor(1, thread_name_prefix="mlops-action")
        interrupted = True
        bar = progress_bar(opts.progress, len(self.order), self.pipeline.name, "step")

        def done(name: str) -> None:
            bar.update(1)
            bar.set_postfix_str(f"{name} {self.results[name].status.value}")

        def submit(job: StepJob) -> Future[StepResult]:
            nonlocal executor
            if executor is None:
                executor = open_executor(opts, self.client, len(self.order))
            return executor.submit(job)

        try:
            with bar:
                self._loop(reuse, forced, submit, done)
            interrupted = False
        finally:
            # On an interrupt, queued steps never start; running ones end their own runs.
            if executor is not None:
                executor.close(wait=not interrupted)
            self.actions.shutdown(wait=not interrupted, cancel_futures=True)

    def _finish(self, name: str, res: StepResult, done: Callable[[str], None]) -> None:
        self.results[name] = res
        if res.ok:
            self.digests[name] = cache.outputs_digest(
                res.outputs, res.cache_key or res.run_id or ""
            )
        done(name)

    def _loop(
        self,
        reuse: Mapping[str, str],
        forced: set[str],
        submit: Callable[[StepJob], Future[StepResult]],
        done: Callable[[str], None],
    ) -> None:
        pipeline, client, results = self.pipeline, self.client, self.results
        running: dict[Future[StepResult], str] = {}
        pending = list(self.order)
        while pending or running:
            for name in list(pending):
                step = pipeline.step(name)
                if any(up in results and not results[up].ok for up in step.upstream):
                    pending.remove(name)
                    self._finish(name, StepResult(name, StepStatus.SKIPPED), done)
                    continue
                if not all(up in self.digests for up in step.upstream):
                    continue
                pending.remove(name)
                if step.action is not None:  # never cached, never reused: it acts each time
                    upstream = {up: results[up] for up in step.upstream}
                    running[
                        self.actions.submit(
                            run_action, client, pipeline, name, self.run_id, upstream
                        )
                    ] = name
                    continue
                parameters = _parameters(pipeline, step)
                if name in reuse:
                    source = client.read_run(reuse[name])  # finished, by its whole id
                    self._finish(name, self._record_cached(step, source, None), done)
                    continue
                key = cache.step_key(
                    pipeline, step, parameters, self.kernel_name, client, self.digests
                )
                hit = None if name in forced else cache.valid_hit(client, pipeline, step, key)
                if hit is not None:
                    self._finish(name, self._record_cached(step, hit, key), done)
                    continue
                job = StepJob(
                    pipeline,
                    name,
                    client.location,
                    self.run_id,
                    self.out_dir,
                    self.kernel_name,
                    parameters,
                    key,
                )
                running[submit(job)] = name
            if not running:
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                self._finish(running.pop(future), future.result(), done)

    def _record_cached(self, step: Step, src: Run, key: str | None) -> StepResult:
        """A FINISHED step run of this pipeline run that points to the run it reuses."""
        client = self.client
        origin = records.cached_from(src) or src.id
        outputs = records.outputs(src)
        rid = client.create_run(
            self.pipeline.name,
            step.name,
            tags=records.cached_step_tags(
                self.pipeline, step, origin, outputs, key or records.cache_key(src)
            ),
            parent_run_id=self.run_id,
            attrs={"notebook_path": str(self.pipeline.notebook_path(step))},
        )
        if src.params:
            client.log_params(rid, src.params)
        if src.metrics:
            client.log_metrics(rid, src.metrics)
        # The executed notebook of the reused run, by reference (artifacts are
        # content-addressed: nothing is copied).
        notebooks = [
            a for a in client.list_artifacts(origin) if a.kind == records.NOTEBOOK_ARTIFACT_KIND
        ]
        if notebooks:
            client.link_artifacts(rid, notebooks)
        client.end_run(rid, RunStatus.FINISHED)
        return StepResult(
            step.name,
            StepStatus.CACHED,
            run_ids=[rid],
            cached_from=origin,
            cache_key=key,
            outputs=outputs,
        )


def _parameters(pipeline: Pipeline, step: Step) -> dict[str, Any]:
    info = inspect_parameters(pipeline.notebook_path(step))
    declared = info.params if not isinstance(info, str) else {}
    return pipeline.parameters_for(step, declared)


def _newest_step_runs(client: Client, pipeline: Pipeline, names: list[str]) -> dict[str, str]:
    out = {}
    for name in names:
        rid = records.newest_step_run(client, pipeline.name, name)
        if rid is None:
            raise InvalidInput(
                f"step {name!r} of pipeline {pipeline.name!r} has never finished, so its "
                "outputs cannot be reused; run the whole pipeline first"
            )
        out[name] = rid
    return out
