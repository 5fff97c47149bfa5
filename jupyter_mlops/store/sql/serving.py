"""Model servers, recorded predictions and their labels in the SQL store
(:class:`~jupyter_mlops.store.base.ServingStore`).

A server's record changes only while it is live: every update is conditional on STARTING or
RUNNING, so a server marked KILLED by a reader (its process was gone) is never brought back
by a late heartbeat from a process that was only slow. Predictions arrive in batches of
Arrow-encoded rows, one table row per batch, so that recording costs one insert per batch
and reading a window back costs one query and a decode.

Needs from the class it is mixed into: ``engine``, ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`) and ``_insert_event``
(:class:`~jupyter_mlops.store.sql.events.EventsMixin`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import ACTIVE_SERVER_STATES, MODEL_SERVER_EVENT, ModelServer, ServerStatus
from ...exceptions import InvalidInput, NotFound, shown
from ..base import PredictionBatch, dead_processes
from .base import SqlBase
from .runsql import chunks
from .schema import model_servers, prediction_batches, prediction_labels

_LIVE = model_servers.c.status.in_(ACTIVE_SERVER_STATES)
_ENDED = (ServerStatus.STOPPED.value, ServerStatus.FAILED.value, ServerStatus.KILLED.value)


def _server(row: Any) -> ModelServer:
    return ModelServer(
        id=row.id,
        name=row.name,
        ref=row.ref,
        version=row.version,
        url=row.url,
        host=row.host,
        pid=row.pid,
        started_by=row.started_by,
        status=row.status,
        started_at=row.started_at,
        heartbeat=row.heartbeat,
        ended_at=row.ended_at,
        reason=row.reason or "",
        stop_requested=bool(row.stop_requested),
        options=dict(row.options or {}),
        stats=dict(row.stats or {}),
    )


def _event_payload(server: ModelServer) -> dict[str, Any]:
    return {
        "server_id": server.id,
        "status": server.status,
        "version": server.version,
        "ref": server.ref,
        "url": server.url,
    }


class ServingMixin(SqlBase):
    if TYPE_CHECKING:

        @staticmethod
        def _insert_event(
            conn: Connection, type_: str, key: str, payload: Mapping[str, Any], now_ms: int
        ) -> int: ...

    def create_server(self, server: ModelServer, pid_start: int | None) -> ModelServer:
        row = {
            **server.to_dict(),
            "pid_start": pid_start,
            "options": dict(server.options),
            "stats": dict(server.stats),
        }

        def insert(conn: Connection) -> None:
            conn.execute(sa.insert(model_servers).values(**row))
            self._insert_event(
                conn, MODEL_SERVER_EVENT, server.name, _event_payload(server), server.started_at
            )

        self._write(insert)
        return self.get_server(server.id)

    def update_server(
        self, server_id: str, values: Mapping[str, Any], now_ms: int, event: bool
    ) -> ModelServer:
        changes = {**values, "heartbeat": now_ms}
        if changes.get("status") in _ENDED:
            changes.setdefault("ended_at", now_ms)

        def update(conn: Connection) -> None:
            stmt = sa.update(model_servers).where(model_servers.c.id == server_id, _LIVE)
            if conn.execute(stmt.values(**changes)).rowcount and event:
                self._server_event(conn, server_id, now_ms)

        self._write(update)
        return self.get_server(server_id)

    def _server_event(self, conn: Connection, server_id: str, now_ms: int) -> None:
        """The ``model.server`` event of a change just made to a server's record."""
        row = conn.execute(sa.select(model_servers).where(model_servers.c.id == server_id)).one()
        server = _server(row)
        self._insert_event(conn, MODEL_SERVER_EVENT, server.name, _event_payload(server), now_ms)

    def request_server_stop(self, server_id: str) -> ModelServer:
        full = self.get_server(server_id).id
        stmt = (
            sa.update(model_servers)
            .where(model_servers.c.id == full, _LIVE)
            .values(stop_requested=True)
        )
        self._write(lambda conn: conn.execute(stmt))
        return self.get_server(full)

    def get_server(self, server_id: str) -> ModelServer:
        prefix = server_id.strip().lower()
        if not prefix or len(prefix) > 32 or not all(c in "0123456789abcdef" for c in prefix):
            raise NotFound(
                f"No model server {shown(server_id)}: server ids are 1-32 hexadecimal digits."
            )
        stmt = sa.select(model_servers).where(model_servers.c.id.like(prefix + "%")).limit(2)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            raise NotFound(
                f"No model server {shown(server_id)}. List them with `jupyter-mlops serve list`."
            )
        if len(rows) > 1:
            raise InvalidInput(
                f"Server id prefix {shown(server_id)} is ambiguous; give more characters."
            )
        return _server(rows[0])

    def list_servers(self, name: str | None, active_only: bool) -> list[ModelServer]:
        stmt = sa.select(model_servers).order_by(
            model_servers.c.started_at.desc(), model_servers.c.id
        )
        if name is not None:
            stmt = stmt.where(model_servers.c.name == name)
        if active_only:
            stmt = stmt.where(_LIVE)
        with self.engine.connect() as conn:
            return [_server(r) for r in conn.execute(stmt)]

    def reconcile_dead_servers(
        self,
        stale_before_ms: int,
        host: str,
        is_alive: Callable[[int, int | None], bool],
        now_ms: int,
    ) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    model_servers.c.id,
                    model_servers.c.host,
                    model_servers.c.pid,
                    model_servers.c.pid_start,
                    model_servers.c.heartbeat,
                ).where(_LIVE)
            ).all()
        dead = dead_processes(rows, host, is_alive, stale_before_ms)
        if not dead:
            return []
        killed: list[str] = []

        def kill(conn: Connection) -> None:
            for server_id, last_beat in dead.items():
                done = conn.execute(
                    sa.update(model_servers)
                    .where(model_servers.c.id == server_id, _LIVE)
                    .values(
                        status=ServerStatus.KILLED.value,
                        ended_at=last_beat,
                        reason="The server's process stopped without ending its record "
                        f"(last heartbeat at {last_beat} ms, detected at {now_ms} ms).",
                    )
                )
                if done.rowcount:
                    killed.append(server_id)
                    self._server_event(conn, server_id, now_ms)

        self._write(kill)
        return killed

    def append_predictions(self, batches: Sequence[PredictionBatch]) -> None:
        if not batches:
            return
        rows = [
            {
                "server_id": b.server_id,
                "name": b.name,
                "first_at": b.first_at,
                "last_at": b.last_at,
                "rows": b.rows,
                "data": b.data,
            }
            for b in batches
        ]
        self._write(lambda conn: conn.execute(sa.insert(prediction_batches), rows))

    def prediction_batches(
        self,
        name: str,
        since_ms: int | None,
        until_ms: int | None,
        server_id: str | None,
    ) -> list[bytes]:
        t = prediction_batches
        stmt = sa.select(t.c.data).where(t.c.name == name).order_by(t.c.id)
        if since_ms is not None:
            stmt = stmt.where(t.c.last_at >= since_ms)
        if until_ms is not None:
            stmt = stmt.where(t.c.first_at < until_ms)
        if server_id is not None:
            stmt = stmt.where(t.c.server_id == server_id)
        with self.engine.connect() as conn:
            return [bytes(d) for d in conn.execute(stmt).scalars()]

    def log_labels(self, rows: Sequence[tuple[str, int, str, Any]], now_ms: int) -> int:
        values = [
            {"request_id": rid, "row": row, "name": name, "label": label, "at": now_ms}
            for rid, row, name, label in rows
        ]

        def write(conn: Connection) -> None:
            for part in chunks(values, 200):
                self._upsert(conn, prediction_labels, list(part))

        self._write(write)
        return len(values)

    def labels(self, name: str, since_ms: int | None = None) -> list[tuple[str, int, Any, int]]:
        t = prediction_labels
        stmt = sa.select(t.c.request_id, t.c.row, t.c.label, t.c.at).where(t.c.name == name)
        if since_ms is not None:
            stmt = stmt.where(t.c.at >= since_ms)
        with self.engine.connect() as conn:
            return [
                (r.request_id, r.row, r.label, r.at) for r in conn.execute(stmt.order_by(t.c.at))
            ]
