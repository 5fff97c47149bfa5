"""Where steps run, chosen by name from a registry: ``local`` (kernels started by this
process, a few at a time) and ``dask`` (each step a task on a Dask cluster).

An executor takes :class:`~jupyter_mlops.pipelines.steps.StepJob`\\ s and gives
``concurrent.futures`` futures of their results, so the orchestrator waits on all of them
the same way. Another executor is one :func:`register_executor` call, or an entry point in
the group ``jupyter_mlops.executors`` (a factory ``(options, client) -> Executor``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from jupyter_mlops.client import Client
from jupyter_mlops.exceptions import InvalidInput, shown

from .options import RunOptions
from .records import StepResult
from .steps import StepJob, run_step

ENTRY_POINT_GROUP = "jupyter_mlops.executors"


class Executor(Protocol):
    def submit(self, job: StepJob) -> Future[StepResult]:
        """Start a step; its future ends with the step's result."""

    def close(self, wait: bool = True) -> None:
        """Let go of the executor; ``wait=False`` drops steps not started yet."""


ExecutorFactory = Callable[[RunOptions, Client, int], Executor]


class LocalExecutor:
    """Steps as kernels started by this process, ``options.max_workers`` at a time."""

    def __init__(self, options: RunOptions, client: Client, steps: int) -> None:
        self._client = client
        self._pool = ThreadPoolExecutor(options.max_workers, thread_name_prefix="mlops-step")

    def submit(self, job: StepJob) -> Future[StepResult]:
        return self._pool.submit(functools.partial(run_step, client=self._client), job)

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


class DaskExecutor:
    """Each step a task on the Dask cluster at ``options.scheduler_address``. The cluster
    decides how many run at once; its workers must see the same notebooks at the same paths
    and the same store (PostgreSQL or a shared folder)."""

    def __init__(self, options: RunOptions, client: Client, steps: int) -> None:
        from distributed import Client as DaskClient

        self._dask = DaskClient(options.scheduler_address, set_as_default=False)
        # A thread per step waits on its task, so the orchestrator sees plain futures.
        self._pool = ThreadPoolExecutor(max(1, steps), thread_name_prefix="mlops-dask")

    def _run(self, job: StepJob) -> StepResult:
        # pure=False: two steps with equal arguments are still two executions.
        result: StepResult = self._dask.submit(run_step, job, pure=False).result()
        return result

    def submit(self, job: StepJob) -> Future[StepResult]:
        return self._pool.submit(self._run, job)

    def close(self, wait: bool = True) -> None:
        try:
            self._pool.shutdown(wait=wait, cancel_futures=True)
        finally:
            self._dask.close()


_EXECUTORS: dict[str, ExecutorFactory] = {"local": LocalExecutor, "dask": DaskExecutor}


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Make ``factory`` the executor called ``name`` in this process."""
    _EXECUTORS[name] = factory


def executor_names() -> list[str]:
    """The executors known here: built in, registered, or declared by installed packages."""
    from importlib.metadata import entry_points

    return sorted({*_EXECUTORS, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})


def validated(options: RunOptions) -> RunOptions:
    """``options`` checked, its executor against the known ones (installed packages' metadata
    is read only for an executor that is not built in or registered)."""
    known = sorted(_EXECUTORS)
    return options.validate(known if options.executor in known else executor_names())


def open_executor(options: RunOptions, client: Client, steps: int) -> Executor:
    """The executor ``options.executor``, ready for ``steps`` steps."""
    factory = _EXECUTORS.get(options.executor)
    if factory is None:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == options.executor]
        if not found:
            raise InvalidInput(
                f"unknown executor {shown(options.executor)}; use one of "
                f"{', '.join(executor_names())}"
            )
        factory = found[0].load()
    return factory(options, client, steps)
