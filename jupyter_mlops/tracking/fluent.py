"""The fluent API: ``with mlops.start_run(): mlops.log_metric(...)``.

One stack of active runs per process. A run started while another is active nests under it
only when asked (``nested=True``); otherwise the stale one is ended first with a warning,
so a cell that failed half-way never leaves "a run is already active" behind.
"""

from __future__ import annotations

import os
import threading
import traceback
import warnings
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from .. import capture
from ..client import Client
from ..client.validation import metric_row, now_ms
from ..config import PARENT_RUN_ENV
from ..entities import DatasetVersion, LoggedModel, Run, RunInfo, RunStatus
from ..exceptions import InvalidInput, MlopsWarning

_stack: list[ActiveRun] = []
_lock = threading.RLock()
_client_target: str | None = None


def set_store(target: str | os.PathLike[str] | None) -> Client:
    """Use this store (URL or folder) for the fluent API and ``%%track`` in this process."""
    global _client_target
    _client_target = None if target is None else os.fspath(target)
    return get_client()


def get_client() -> Client:
    # Runs will follow: read package versions and git state in the background meanwhile
    # (the CLI and the server, which make no runs, do not pay for it).
    capture.prefetch()
    return Client.shared(_client_target)


class ActiveRun:
    """A run being recorded; a context manager that ends it FINISHED, FAILED or KILLED."""

    def __init__(self, client: Client, run_id: str, parent: ActiveRun | None) -> None:
        self.client = client
        self.id = run_id
        self.parent = parent
        self._steps: dict[str, int] = {}
        self._params: set[str] = set()
        self._ended = False
        self._final: RunInfo | None = None

    @property
    def info(self) -> RunInfo:
        """The run's attributes as stored now (read once after the run has ended)."""
        if self._final is not None:
            return self._final
        info = self.client.read_run(self.id).info
        if self._ended:
            self._final = info
        return info

    def get(self) -> Run:
        return self.client.get_run(self.id)

    @property
    def logged_metric_keys(self) -> frozenset[str]:
        """The metrics logged through this process's fluent API during the run."""
        return frozenset(self._steps)

    @property
    def logged_param_keys(self) -> frozenset[str]:
        """The params logged through this process's fluent API during the run."""
        return frozenset(self._params)

    def observe_params(self, keys: Iterable[str]) -> None:
        self._params.update(keys)

    def next_step(self, key: str) -> int:
        step = self._steps.get(key, -1) + 1
        self._steps[key] = step
        return step

    def observe_step(self, key: str, step: int) -> None:
        if step > self._steps.get(key, -1):
            self._steps[key] = step

    def end(
        self,
        status: RunStatus | str = RunStatus.FINISHED,
        error: BaseException | None = None,
        traceback_text: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        if self._ended:
            return
        self._ended = True
        with _lock:
            if self in _stack:
                _stack.remove(self)
        self.client.end_run(
            self.id, status, error=error, traceback_text=traceback_text, attrs=attrs
        )

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end(RunStatus.FINISHED)
        else:
            status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self.end(status, error=exc, traceback_text=text)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id}>"


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    attrs: Mapping[str, Any] | None = None,
    client: Client | None = None,
) -> ActiveRun:
    """Start recording a run; use as a context manager or end it with :func:`end_run`."""
    client = client or get_client()
    with _lock:
        parent = _stack[-1] if (_stack and nested) else None
        if _stack and not nested:
            for stale in reversed(list(_stack)):
                warnings.warn(
                    f"Run {stale.id} was still active; ending it as FINISHED before starting "
                    "a new run (pass nested=True to nest runs instead).",
                    MlopsWarning,
                    stacklevel=2,
                )
                stale.end(RunStatus.FINISHED)
        run_id = client.create_run(
            experiment,
            name,
            tags=tags,
            # In a pipeline step's kernel, a tracked cell is a child of the step's run.
            parent_run_id=parent.id if parent else (os.environ.get(PARENT_RUN_ENV) or None),
            attrs=attrs,
        )
        run = ActiveRun(client, run_id, parent)
        _stack.append(run)
    return run


def active_run() -> ActiveRun | None:
    with _lock:
        return _stack[-1] if _stack else None


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    run = active_run()
    if run is not None:
        run.end(status)


def _require_run() -> ActiveRun:
    run = active_run()
    if run is None:
        raise InvalidInput(
            "No active run: wrap the code in `with mlops.start_run():` or use %%track on the cell."
        )
    return run


def log_param(key: str, value: Any) -> None:
    log_params({key: value})


def log_params(values: Mapping[str, Any]) -> None:
    run = _require_run()
    run.client.log_params(run.id, values)
    run.observe_params(values)


def set_tag(key: str, value: Any) -> None:
    run = _require_run()
    run.client.set_tags(run.id, {key: value})


def set_tags(values: Mapping[str, Any]) -> None:
    run = _require_run()
    run.client.set_tags(run.id, values)


def log_metric(key: str, value: Any, step: int | None = None) -> None:
    """Buffered: written within a second, at run end, at cell end or on :func:`flush`.

    Without ``step``, each key counts its own steps 0, 1, 2... so a loop makes a history.
    """
    run = _require_run()
    if step is None:
        run_id, key, value, _, ts = metric_row(run.id, key, value, 0, now_ms())
        row = (run_id, key, value, run.next_step(key), ts)
    else:
        row = metric_row(run.id, key, value, step, now_ms())
        run.observe_step(key, row[3])
    run.client.writer.add(row)


def log_metrics(values: Mapping[str, Any], step: int | None = None) -> None:
    for key, value in values.items():
        log_metric(key, value, step)


def log_dataset(obj: Any, name: str | None = None, role: str = "input") -> DatasetVersion:
    run = _require_run()
    return run.client.log_dataset(run.id, obj, name, role)


def log_model(model: Any, name: str = "model", input_example: Any = None) -> LoggedModel:
    run = _require_run()
    return run.client.log_model(run.id, model, name, input_example)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    run = _require_run()
    run.client.log_artifact(run.id, local_path, artifact_path)


def flush() -> None:
    """Write buffered metrics now (of every store this process has opened)."""
    Client.flush_shared()


def reset() -> None:
    """Forget the active runs (without ending them), close the shared Clients and go back
    to the configured store: a fresh start, as in a new process."""
    global _client_target
    with _lock:
        _stack.clear()
    Client.close_shared()
    _client_target = None
