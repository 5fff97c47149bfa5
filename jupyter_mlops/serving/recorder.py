"""Every prediction recorded, off the response path.

A request appends one tuple to a bounded in-memory queue (a deque append: no lock, no I/O,
no encoding) and is answered. A writer thread wakes a few times a second, takes what is
queued, builds one Arrow table per version from whole arrays (a request's rows are already
an array), and hands them to the Client in one transaction. A classifier's predictions are
recorded with its score for each class (``output.proba.<j>``, what monitoring estimates
quality from): the writer thread asks the model for them, one call per table, so a request
never waits for them. When the queue holds
``capacity`` rows, new records are counted as dropped (``/metrics``, the server's record)
instead of blocking a response or growing memory without bound.

A candidate on shadow trial (see :mod:`.app`) answers a copy of a request after its response;
its records carry ``shadow`` true and are written in tables of their own, which alone hold the
``shadow`` column (readers take a missing one as false).
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..client.serving import INPUT_PREFIX, OUTPUT_PREFIX, SHADOW_COLUMN

if TYPE_CHECKING:
    import pyarrow as pa

    from ..client import Client
    from .metrics import Counters

log = logging.getLogger("jupyter_mlops.serving")

# (request id, at ms, version, status, latency ms, input names, input, output name, output,
#  error text, scorer: the model's predict_proba for a classifier's predictions, else None,
#  shadow: a candidate on shadow trial answered it, never returned). tables_of also takes
# records without the last item (not shadow).
Record = tuple[str, int, int, int, float, Any, Any, str, Any, str | None, Any, bool]


class Recorder:
    def __init__(
        self,
        client: Client,
        server_id: str,
        name: str,
        counters: Counters,
        capacity: int = 100_000,
        interval: float = 1.0,
    ) -> None:
        self.client = client
        self.server_id = server_id
        self.name = name
        self.counters = counters
        self.capacity = capacity
        self.interval = interval
        self.queue: collections.deque[Record] = collections.deque()
        self.queued_rows = 0
        self._count = threading.Lock()  # queued_rows changes on two threads
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-recorder", daemon=True)
        self._thread.start()

    def add(
        self,
        request_id: str,
        at_ms: int,
        version: int,
        status: int,
        latency_ms: float,
        names: list[str] | None,
        inputs: Any,
        output_name: str,
        outputs: Any,
        error: str | None = None,
        scorer: Callable[[Any], Any] | None = None,
        shadow: bool = False,
    ) -> None:
        rows = 1 if inputs is None else len(inputs)
        with self._count:
            if self.queued_rows + rows > self.capacity:
                self.counters.add("dropped", rows)
                return
            self.queued_rows += rows
        self.queue.append(
            (request_id, at_ms, version, status, latency_ms, names, inputs, output_name,
             outputs, error, scorer, shadow)
        )  # fmt: skip

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self) -> None:
        records: list[Record] = []
        while self.queue:
            records.append(self.queue.popleft())
        if not records:
            return
        rows = sum(1 if r[6] is None else len(r[6]) for r in records)
        try:
            tables = tables_of(records)
            written = self.client.log_predictions(self.server_id, self.name, tables)
            self.counters.add("recorded", written)
        except Exception:
            # The store is down or refused the batch: count the rows as dropped, keep serving.
            log.exception("recording %d prediction rows failed", rows)
            with self._count:
                self.counters.add("dropped", rows)
        finally:
            with self._count:
                self.queued_rows -= rows
                self.counters.set("queued", self.queued_rows)


def tables_of(records: list[Record]) -> list[pa.Table]:
    """One Arrow table per run of records that share inputs' layout, output name, scorer
    and shadow flag."""
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for record in records:
        inputs = record[6]
        layout: Any = (
            "error"
            if inputs is None
            else ("frame", tuple(inputs.columns))
            if hasattr(inputs, "columns")
            else ("array", tuple(record[5] or ()), inputs.shape[1])
        )
        shadow = len(record) > 11 and bool(record[11])
        groups.setdefault((layout, record[7], record[10], shadow), []).append(record)
    return [_table(group) for group in groups.values()]


def _table(records: list[Record]) -> pa.Table:
    import pyarrow as pa

    ids, ats, versions, statuses, latencies, names, inputs, outputs_named, outputs, errors = zip(
        *(r[:10] for r in records), strict=True
    )
    counts = np.fromiter(
        (1 if x is None else len(x) for x in inputs), dtype=np.int64, count=len(records)
    )
    one_row_each = bool((counts == 1).all())  # the usual traffic: no repeat needed

    def per_row(values: tuple[Any, ...], dtype: Any) -> np.ndarray:
        array = np.array(values, dtype=dtype)
        return array if one_row_each else np.repeat(array, counts)

    columns: dict[str, Any] = {
        "request_id": pa.array(per_row(ids, object), type=pa.string()),
        "row": pa.array(
            np.zeros(len(records), dtype=np.int32)
            if one_row_each
            else np.concatenate([np.arange(c, dtype=np.int32) for c in counts])
        ),
        "at": pa.array(per_row(ats, np.int64)),
        "version": pa.array(per_row(versions, np.int32)),
        "status": pa.array(per_row(statuses, np.int16)),
        "latency_ms": pa.array(per_row(latencies, np.float32)),
    }
    if len(records[0]) > 11 and records[0][11]:  # a group shares its shadow flag
        columns[SHADOW_COLUMN] = pa.array(np.ones(int(counts.sum()), dtype=bool))
    first = inputs[0]
    if first is None:
        columns["error"] = pa.array(list(errors), type=pa.string())
        return pa.table(columns)
    if hasattr(first, "columns"):
        import pandas as pd

        batch: Any = pd.concat(inputs, ignore_index=True)
        for name in batch.columns:
            columns[INPUT_PREFIX + str(name)] = pa.array(batch[name].to_numpy(), from_pandas=True)
    else:
        batch = np.concatenate(inputs) if len(inputs) > 1 else first
        for j, name in enumerate(names[0] or [str(j) for j in range(batch.shape[1])]):
            columns[INPUT_PREFIX + name] = pa.array(batch[:, j])
    out = np.concatenate(outputs) if len(outputs) > 1 else np.asarray(outputs[0])
    _outputs(columns, outputs_named[0], out)
    scorer = records[0][10]
    if scorer is not None:
        try:
            _outputs(columns, "proba", np.asarray(scorer(batch), dtype=np.float64))
        except Exception:  # the predictions are recorded all the same
            log.warning("scoring %d recorded rows failed", len(batch), exc_info=True)
    return pa.table(columns)


def _outputs(columns: dict[str, Any], name: str, out: np.ndarray) -> None:
    if out.ndim == 1:
        columns[OUTPUT_PREFIX + name] = _array(out)
    else:
        for j in range(out.shape[1]):
            columns[f"{OUTPUT_PREFIX}{name}.{j}"] = _array(out[:, j])


def _array(values: np.ndarray) -> pa.Array:
    import pyarrow as pa

    if values.dtype.kind == "O":
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.array(values)
