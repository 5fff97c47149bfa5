"""Model servers and what they record: the Client's serving domain.

A server (``serving/``) writes its record here when it starts, beats its heartbeat with its
figures, and ends it; a reader marks the record KILLED when the process is gone. Predictions
arrive as Arrow tables and are stored as compressed Arrow IPC streams, one per batch, so
monitoring reads a window back as columns: the reference for issue-scale traffic (200,000
rows of 20 features) decodes in tens of milliseconds. Labels that arrive later
(``POST /feedback``, :meth:`log_labels`) are kept by request id and row.

Uses ``self.store`` as a :class:`~jupyter_mlops.store.base.ServingStore`.
"""

from __future__ import annotations

import math
import numbers
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import capture
from ..config import env_float
from ..entities import ModelServer, ServerStatus
from ..exceptions import InvalidInput, shown
from ..store.base import PredictionBatch
from .base import ClientBase
from .validation import check_json_object, check_text, now_ms, validate_key

if TYPE_CHECKING:
    import pyarrow as pa

# A server beats every few seconds; one silent for this long on another host is dead.
SERVER_STALE_AFTER_S = env_float("JUPYTER_MLOPS_SERVER_STALE_AFTER", 30.0)
# Columns every recorded row carries; a model's inputs and outputs follow, prefixed.
RECORD_COLUMNS = ("request_id", "row", "at", "version", "status", "latency_ms")
# True on the rows a candidate on shadow trial answered (never returned to the client).
SHADOW_COLUMN = "shadow"
INPUT_PREFIX = "input."
OUTPUT_PREFIX = "output."
MAX_REQUEST_ID = 64
MAX_LABELS = 100_000


def encode_table(table: pa.Table) -> bytes:
    """``table`` as an Arrow IPC stream, compressed with lz4 (it decodes at memory speed)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    try:
        options = pa.ipc.IpcWriteOptions(compression="lz4")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # pragma: no cover - built without
        options = pa.ipc.IpcWriteOptions()
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode_table(data: bytes) -> pa.Table:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _label(value: Any, what: str) -> Any:
    if isinstance(value, bool | str):
        return check_text(value, what, 1000) if isinstance(value, str) else value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(float(value)):
        return float(value)
    raise InvalidInput(f"{what} must be a number, text or true/false, got {shown(value)}.")


def _label_array(values: list[Any]) -> pa.Array:
    """Labels as one Arrow column: numbers stay numbers; a mix of kinds becomes text."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([str(v) for v in values], type=pa.string())


def _shadow_mask(table: pa.Table, shadow: bool | None) -> Any:
    import pyarrow.compute as pc

    if shadow is None:
        return None
    if SHADOW_COLUMN not in table.column_names:
        return None if not shadow else pc.equal(table.column("status"), -1)
    flags = pc.fill_null(table.column(SHADOW_COLUMN), False)
    return flags if shadow else pc.invert(flags)


class ServingMixin(ClientBase):
    _last_server_reconcile = 0.0

    # -- server records ---------------------------------------------------------------------

    def create_model_server(
        self,
        name: str,
        ref: str,
        url: str,
        *,
        pid: int | None,
        options: Mapping[str, Any] | None = None,
        actor: str | None = None,
        server_id: str | None = None,
    ) -> ModelServer:
        """Record a server that is starting for ``models:/<name><ref>``."""
        validate_key(name, "model")
        check_text(ref, "A model reference", 300, empty=False)
        now = now_ms()
        server = ModelServer(
            id=server_id or uuid.uuid4().hex,
            name=name,
            ref=ref,
            version=None,
            url=check_text(url, "A server URL", 2048, empty=False),
            host=capture.host(),
            pid=pid,
            started_by=actor or capture.user(),
            status=ServerStatus.STARTING.value,
            started_at=now,
            heartbeat=now,
            options=check_json_object(dict(options or {}), "Server options"),
            stats={},
        )
        start = capture.process_start(pid) if pid is not None else None
        return self.store.create_server(server, start)

    def update_model_server(
        self,
        server_id: str,
        *,
        status: str | ServerStatus | None = None,
        version: int | None = None,
        url: str | None = None,
        stats: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> ModelServer:
        """Beat a live server's heartbeat and change what is given. A change of status or
        version is an event (``model.server``) the panel and lineage react to; an ended
        record (STOPPED, FAILED, KILLED) no longer changes."""
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = ServerStatus(status).value
        if version is not None:
            values["version"] = int(version)
        if url is not None:
            values["url"] = check_text(url, "A server URL", 2048, empty=False)
        if stats is not None:
            values["stats"] = check_json_object(dict(stats), "Server figures")
        if reason is not None:
            values["reason"] = check_text(reason, "A reason", 2000)
        event = "status" in values or "version" in values
        return self.store.update_server(server_id, values, now_ms(), event)

    def request_model_server_stop(self, server_id: str) -> ModelServer:
        """Ask a server to stop: it sees the request at its next heartbeat (whatever host it
        runs on); ``serving.stop_server`` also signals it when it runs here."""
        return self.store.request_server_stop(check_text(server_id, "A server id", 64))

    def get_model_server(self, server_id: str) -> ModelServer:
        """A server record by id or unique prefix (a dead process is reported KILLED)."""
        self.reconcile_model_servers()
        return self.store.get_server(check_text(server_id, "A server id", 64))

    def list_model_servers(
        self, name: str | None = None, *, active_only: bool = False
    ) -> list[ModelServer]:
        """Server records, newest first (of one model, and only live ones, when asked)."""
        if name is not None:
            validate_key(name, "model")
        self.reconcile_model_servers()
        return self.store.list_servers(name, active_only)

    def reconcile_model_servers(self, force: bool = False) -> list[str]:
        """Mark servers whose process died as KILLED (at most once a second unless forced)."""
        now = time.time()
        if not force and now - self._last_server_reconcile < 1.0:
            return []
        self._last_server_reconcile = now
        return self.store.reconcile_dead_servers(
            int((now - SERVER_STALE_AFTER_S) * 1000),
            capture.host(),
            capture.is_alive,
            int(now * 1000),
        )

    # -- recorded predictions ---------------------------------------------------------------

    def log_predictions(self, server_id: str, name: str, tables: Iterable[pa.Table]) -> int:
        """Store recorded predictions (tables with :data:`RECORD_COLUMNS`, then
        ``input.*`` and ``output.*`` columns), one batch per table; the rows written."""
        import pyarrow.compute as pc

        batches = []
        for table in tables:
            if table.num_rows == 0:
                continue
            at = table.column("at")
            batches.append(
                PredictionBatch(
                    server_id=server_id,
                    name=name,
                    first_at=int(pc.min(at).as_py()),
                    last_at=int(pc.max(at).as_py()),
                    rows=table.num_rows,
                    data=encode_table(table),
                )
            )
        self.store.append_predictions(batches)
        return sum(b.rows for b in batches)

    def read_predictions(
        self,
        name: str,
        *,
        since: int | None = None,
        until: int | None = None,
        server_id: str | None = None,
        version: int | None = None,
        shadow: bool | None = False,
    ) -> pa.Table:
        """The predictions recorded for ``name`` (rows with ``since <= at < until``, in
        milliseconds; of one server or version, when given), oldest first, as one Arrow
        table: :data:`RECORD_COLUMNS`, ``input.<column>`` and ``output.<name>``. Versions
        with different inputs give the union of their columns (null where absent).

        ``shadow``: a candidate on shadow trial answers a copy of each request; its answers
        (``shadow`` true) were never returned, so they are left out by default (False),
        given alone (True) or kept with the rest (None)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        validate_key(name, "model")
        blobs = self.store.prediction_batches(name, since, until, server_id)
        if not blobs:
            return pa.table({c: pa.array([], type=pa.int64()) for c in RECORD_COLUMNS})
        table = pa.concat_tables([decode_table(b) for b in blobs], promote_options="permissive")
        mask = None
        at = table.column("at")
        for cond in (
            pc.greater_equal(at, since) if since is not None else None,
            pc.less(at, until) if until is not None else None,
            pc.equal(table.column("version"), version) if version is not None else None,
            _shadow_mask(table, shadow),
        ):
            if cond is not None:
                mask = cond if mask is None else pc.and_(mask, cond)
        return table if mask is None else table.filter(mask)

    def log_labels(self, name: str, labels: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> int:
        """Record the true outcome of recorded predictions, by request id: a value for a
        one-row request, or a list with one value per row. How many rows were labelled."""
        validate_key(name, "model")
        pairs = labels.items() if isinstance(labels, Mapping) else labels
        rows: list[tuple[str, int, str, Any]] = []
        for request_id, label in pairs:
            rid = check_text(request_id, "A request id", MAX_REQUEST_ID, empty=False)
            values = label if isinstance(label, list | tuple) else [label]
            for i, value in enumerate(values):
                rows.append((rid, i, name, _label(value, f"The label of request {shown(rid)}")))
            if len(rows) > MAX_LABELS:
                raise InvalidInput(f"At most {MAX_LABELS} labels at a time.")
        if not rows:
            raise InvalidInput("No labels given.")
        return self.store.log_labels(rows, now_ms())

    def read_labels(self, name: str, *, since: int | None = None) -> pa.Table:
        """``name``'s labels as a table: ``request_id``, ``row``, ``label``, ``at``."""
        import pyarrow as pa

        validate_key(name, "model")
        rows = self.store.labels(name, since)
        return pa.table(
            {
                "request_id": pa.array([r[0] for r in rows], type=pa.string()),
                "row": pa.array([r[1] for r in rows], type=pa.int32()),
                "label": _label_array([r[2] for r in rows]),
                "at": pa.array([r[3] for r in rows], type=pa.int64()),
            }
        )
