"""Buffered metric writes and run heartbeats, on one background thread per store.

``log_metric`` only appends a tuple to a list under a lock (about a microsecond); the thread
writes the list in one transaction at least every ``flush_interval`` seconds. Flushes also
happen when a run ends, when a tracked cell ends, on ``mlops.flush()`` and at interpreter
exit. A SIGKILL can therefore lose at most the values logged in the last interval; all other
writes are durable when the call returns (README, durability contract).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING

from ..config import env_float

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..store.base import MetricRow, RecordStore

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S = env_float("JUPYTER_MLOPS_FLUSH_INTERVAL", 1.0)
HEARTBEAT_INTERVAL_S = env_float("JUPYTER_MLOPS_HEARTBEAT_INTERVAL", 5.0)
# The buffer is flushed early past this many values, so memory stays bounded in long loops.
MAX_BUFFER = 50_000

_writers: weakref.WeakSet[MetricWriter] = weakref.WeakSet()


class MetricWriter:
    def __init__(self, store: Callable[[], RecordStore]) -> None:
        """``store()`` gives the store to write to (opened when the first value comes)."""
        self._store = store
        self._buffer: list[MetricRow] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._alive_runs: set[str] = set()
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None
        _writers.add(self)

    def add(self, row: MetricRow) -> None:
        with self._lock:
            self._buffer.append(row)
            size = len(self._buffer)
        if self._thread is None:
            self._start()
        if size >= MAX_BUFFER:
            self._wake.set()

    def track_run(self, run_id: str) -> None:
        with self._lock:
            self._alive_runs.add(run_id)
        if self._thread is None:
            self._start()

    def untrack_run(self, run_id: str) -> None:
        with self._lock:
            self._alive_runs.discard(run_id)

    def flush(self) -> None:
        """Write every buffered value now; raises what the store raised."""
        with self._flush_lock:
            with self._lock:
                rows, self._buffer = self._buffer, []
            if not rows:
                return
            try:
                self._store().log_metric_rows(rows)
            except BaseException:
                with self._lock:  # keep them for the next attempt, in order
                    self._buffer[:0] = rows
                raise

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._loop, name="mlops-writer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        last_flush = last_beat = 0.0
        while not self._closed:
            # Wake for whichever is due first, so a long flush interval never starves heartbeats.
            woken = self._wake.wait(min(FLUSH_INTERVAL_S, HEARTBEAT_INTERVAL_S))
            self._wake.clear()
            try:
                now = time.time()
                if woken or now - last_flush >= FLUSH_INTERVAL_S:
                    self.flush()
                    last_flush = now
                if now - last_beat >= HEARTBEAT_INTERVAL_S:
                    with self._lock:
                        alive = list(self._alive_runs)
                    self._store().heartbeat(alive, int(now * 1000))
                    last_beat = now
                self.last_error = None
            except Exception as exc:  # keep the thread alive; the next flush retries
                if self.last_error is None:
                    log.warning("jupyter-mlops: background write failed: %s", exc)
                self.last_error = exc

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self.flush()


@atexit.register
def _flush_all_at_exit() -> None:
    for writer in list(_writers):
        try:
            writer.close()
        except Exception as exc:
            log.warning("jupyter-mlops: could not flush metrics at exit: %s", exc)
