"""Experiments, runs, params, metrics and tags: the Client's run domain.

Uses ``self.store`` as a :class:`~jupyter_mlops.store.base.RunStore`. Metrics logged through
the fluent API go through ``self.writer`` (buffered); the methods here write at once.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .. import capture
from ..config import StoreLocation, env_float
from ..entities import Experiment, Metric, Run, RunStatus, is_id
from ..exceptions import InvalidInput, NotFound, shown
from ..query import parse_filter, parse_order_by
from ..store.base import MetricRow, RunPage, dead_processes
from .base import ClientBase
from .validation import (
    check_name,
    check_text,
    metric_row,
    now_ms,
    param_text,
    validate_key,
)

DEFAULT_EXPERIMENT = "Default"
MAX_PAGE = 50_000
STALE_AFTER_S = env_float("JUPYTER_MLOPS_STALE_AFTER", 60.0)


class RunsMixin(ClientBase):
    def __init__(
        self, store: str | os.PathLike[str] | StoreLocation | None = None, *, lazy: bool = False
    ) -> None:
        super().__init__(store, lazy=lazy)
        self._last_reconcile = 0.0
        self._env_pending: set[str] = set()
        # How many modules were loaded when each run started: a run that imports a library
        # (the cell that fits a model imports scikit-learn) records it when it ends.
        self._modules_at_start: dict[str, int] = {}
        self._experiments: dict[str, Experiment] = {}

    # Experiments -----------------------------------------------------------------------
    def get_or_create_experiment(self, name: str | None) -> Experiment:
        name = DEFAULT_EXPERIMENT if name is None else name
        # Experiments are never renamed or removed, so their ids can be remembered.
        exp = self._experiments.get(name)
        if exp is None:
            check_name(name, "An experiment name")
            exp = self._experiments[name] = self.records.get_or_create_experiment(
                name.strip(), now_ms()
            )
        return exp

    def get_experiment(self, name: str) -> Experiment:
        return self.records.get_experiment_by_name(check_name(name, "An experiment name"))

    def list_experiments(self) -> list[Experiment]:
        return self.store.list_experiments()

    # Runs ------------------------------------------------------------------------------
    def create_run(
        self,
        experiment: str | None = None,
        name: str | None = None,
        *,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        attrs: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Start a RUNNING run recording who, where and what code; returns its id.

        ``run_id`` (32 hex digits) lets a caller announce the id before the run exists, as the
        server does for a pipeline it starts in another process."""
        exp = self.get_or_create_experiment(experiment)
        start = now_ms()
        if run_id is None:
            run_id = uuid.uuid4().hex
        elif not is_id(run_id):
            raise InvalidInput(f"A run id is 32 lowercase hex digits, got {shown(run_id)}.")
        if parent_run_id is not None and not is_id(parent_run_id):
            raise InvalidInput(f"A parent run id is 32 lowercase hex digits, got {parent_run_id!r}")
        commit, dirty = capture.git_state(block=False)
        pid = os.getpid()
        row: dict[str, Any] = {
            "id": run_id,
            "name": check_text(name or f"run-{run_id[:8]}", "A run name")[:256],
            "start_time": start,
            "user": capture.user(),
            "host": capture.host(),
            "pid": pid,
            "pid_start": capture.process_start(pid),
            "python_version": capture.python_version(),
            "git_commit": commit,
            "git_dirty": dirty,
            "parent_run_id": parent_run_id,
            "environment": capture.environment(block=False),
        }
        if row["environment"] is None or commit is None:
            self._env_pending.add(run_id)  # filled in when the run ends
        self._modules_at_start[run_id] = len(sys.modules)
        row.update(attrs or {})
        self.records.create_run(exp.id, row, self._tag_texts(tags or {}))
        self.writer.track_run(run_id)
        return run_id

    def end_run(
        self,
        run_id: str,
        status: str | RunStatus = RunStatus.FINISHED,
        *,
        error: BaseException | None = None,
        traceback_text: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """End a run; buffered metrics are written first."""
        status = RunStatus(status)
        self.writer.untrack_run(run_id)
        self.writer.flush()
        values: dict[str, Any] = {
            "status": status.value,
            "end_time": now_ms(),
            # A run reconciled as KILLED whose process was only slow gets its true ending.
            "error_name": None,
            "error_value": None,
        }
        if error is not None:
            values["error_name"] = type(error).__name__
            values["error_value"] = _printable(str(error))[:10_000]
        if traceback_text is not None:
            values["traceback"] = _printable(traceback_text)
        if run_id in self._env_pending:
            self._env_pending.discard(run_id)
            values["environment"] = capture.environment()
            values["git_commit"], values["git_dirty"] = capture.git_state()
        elif self._modules_at_start.get(run_id, len(sys.modules)) != len(sys.modules):
            values["environment"] = capture.environment()
        self._modules_at_start.pop(run_id, None)
        values.update(attrs or {})
        self.records.update_run(run_id, values)

    def update_run(self, run_id: str, **attrs: Any) -> None:
        self.records.update_run(run_id, attrs)

    def reconcile(self, force: bool = False) -> list[str]:
        """Mark runs whose process died as KILLED (at most once a second unless forced)."""
        now = time.time()
        if not force and now - self._last_reconcile < 1.0:
            return []
        self._last_reconcile = now
        stale_before, host = int((now - STALE_AFTER_S) * 1000), capture.host()
        # A look first, through the records: the store is opened only when there is a write.
        if not dead_processes(self.records.running_runs(), host, capture.is_alive, stale_before):
            return []
        return self.store.reconcile_dead_runs(stale_before, host, capture.is_alive, int(now * 1000))

    def resolve_run_id(self, run_id: str) -> str:
        if not isinstance(run_id, str):
            raise InvalidInput(f"A run id is text, got {shown(run_id)}.")
        return self.store.resolve_run_id(run_id)

    def get_run(self, run_id: str) -> Run:
        """A run with everything recorded about it; buffered metrics are written first and
        runs whose process died are marked KILLED."""
        self.writer.flush()
        self.reconcile()
        # A whole id needs no lookup of its own: the store says NotFound for an unknown one.
        return self.records.get_run(run_id if is_id(run_id) else self.resolve_run_id(run_id))

    def read_run(self, run_id: str) -> Run:
        """The run (a full id) as stored now, without writing buffered metrics or looking for
        dead runs first: the cheap read for a run this process is recording."""
        return self.records.get_run(run_id)

    def search_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Run]:
        """Runs matching a filter, sorted and paginated in SQL (see :meth:`search_runs_page`
        for the total count)."""
        return self.search_runs_page(experiment, filter, order_by, limit, offset, False).runs

    def search_runs_page(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        with_total: bool = True,
    ) -> RunPage:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                f"limit must be an integer from 1 to {MAX_PAGE}, got {shown(limit)}."
            )
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**62:
            raise InvalidInput(f"offset must be a non-negative integer, got {shown(offset)}.")
        if isinstance(order_by, str):
            order_by = [order_by]
        node = parse_filter(filter) if filter is not None else None
        order = parse_order_by(list(order_by or []))
        exp_ids = None
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
            exp_ids = [self.get_experiment(n).id for n in names]
        self.writer.flush()
        self.reconcile()
        return self.records.search_runs(exp_ids, node, order, limit, offset, with_total)

    def iter_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        page_size: int = 1000,
    ) -> Iterator[Run]:
        """Every matching run, a page at a time."""
        offset = 0
        while True:
            page = self.search_runs_page(experiment, filter, order_by, page_size, offset, False)
            yield from page.runs
            if len(page.runs) < page_size:
                return
            offset += page_size

    def child_runs(self, parent_run_id: str) -> list[Run]:
        """The children of a run, oldest first (a pipeline run's step runs, a step run's
        tracked cells)."""
        if not is_id(parent_run_id):
            raise InvalidInput(f"A run id is 32 lowercase hex digits, got {shown(parent_run_id)}.")
        return self.search_runs(
            filter=f"parent_run_id = '{parent_run_id}'", order_by=["start_time"], limit=MAX_PAGE
        )

    def latest_run_with_tag(
        self, key: str, value: str, status: RunStatus | None = RunStatus.FINISHED
    ) -> str | None:
        """The id of the newest run carrying tag ``key = value`` (and ``status``: None for
        any), through the tags' index."""
        return self.records.latest_run_with_tag(
            validate_key(key, "tag"), check_text(value, "A tag value"), status
        )

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        return self.store.delete_runs([self.resolve_run_id(r) for r in run_ids])

    # Params, metrics, tags -------------------------------------------------------------
    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        if not isinstance(values, Mapping):
            raise InvalidInput("log_params takes a mapping of name to value.")
        texts = {validate_key(k, "param"): param_text(k, v) for k, v in values.items()}
        if texts:
            self.records.log_params(run_id, texts)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_params(run_id, {key: value})

    @staticmethod
    def _tag_texts(values: Mapping[str, Any]) -> dict[str, str]:
        return {validate_key(k, "tag"): check_text(str(v), f"Tag {k!r}") for k, v in values.items()}

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        texts = self._tag_texts(values)
        if texts:
            self.records.set_tags(run_id, texts)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.set_tags(run_id, {key: value})

    def metric_rows(
        self, run_id: str, values: Mapping[str, Any], step: int | None, ts: int | None = None
    ) -> list[MetricRow]:
        """Validate metrics into rows for :meth:`log_metric_rows` (or the buffered writer)."""
        ts = now_ms() if ts is None else ts
        s = 0 if step is None else step
        return [metric_row(run_id, k, v, s, ts) for k, v in values.items()]

    def log_metrics(self, run_id: str, values: Mapping[str, Any], step: int | None = None) -> None:
        """Durable when it returns (unbuffered); the fluent API buffers instead."""
        self.records.log_metric_rows(self.metric_rows(run_id, values, step))

    def log_metric(self, run_id: str, key: str, value: Any, step: int | None = None) -> None:
        self.log_metrics(run_id, {key: value}, step)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric | tuple[str, Any, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Many metric values (with their own steps and times), params and tags at once."""
        rows: list[MetricRow] = []
        ts = now_ms()
        for m in metrics:
            if isinstance(m, Metric):
                key, value, step, mts = m.key, m.value, m.step, m.timestamp or ts
            else:
                key, value, step = m
                mts = ts
            rows.append(metric_row(run_id, key, value, step, mts))
        if params:
            self.log_params(run_id, params)
        if tags:
            self.set_tags(run_id, tags)
        self.records.log_metric_rows(rows)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.writer.flush()
        return self.store.get_metric_history(self.resolve_run_id(run_id), key)

    def get_metric_series(self, run_id: str, key: str, max_points: int = 1000) -> dict[str, Any]:
        """A metric's history as columns for a chart, downsampled to about ``max_points``.

        Each bucket keeps its first, lowest and highest points (min-max decimation), so a
        spike in a million-point curve still shows.
        """
        from ..data.downsample import minmax_downsample

        self.writer.flush()
        run_id = self.resolve_run_id(run_id)
        steps, values, stamps = self.store.metric_arrays(run_id, key)
        if len(steps) == 0 and key not in self.store.metric_keys(run_id):
            raise NotFound(f"Run {run_id[:8]} has no metric {shown(key)}.")
        keep = minmax_downsample(values, max_points)
        return {
            "key": key,
            "total": len(steps),
            "steps": steps[keep].tolist(),
            "values": values[keep].tolist(),
            "timestamps": stamps[keep].tolist(),
            "downsampled": bool(len(keep) < len(steps)),
        }

    def change_token(self) -> str:
        """Changes whenever a run starts or ends: a cheap thing for a panel to poll."""
        self.writer.flush()
        self.reconcile()
        return self.store.change_token()


def _printable(text: str) -> str:
    """Error text as every backend can store it (an exception may carry lone surrogates)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
