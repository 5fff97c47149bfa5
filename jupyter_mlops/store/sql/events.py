"""The event log in the SQL store (:class:`~jupyter_mlops.store.base.EventStore`).

Events are appended, never changed; readers keep a cursor (the last id they saw). A change
and its event are one transaction: a domain mixin calls :meth:`EventsMixin._insert_event`
with its own connection.

A cursor is only safe if ids become visible in the order they are given. SQLite has one writer
at a time (``BEGIN IMMEDIATE``), so they do. PostgreSQL hands out ids from a sequence when a
transaction inserts, not when it commits: two transactions can take 5 and 6 and commit 6
first, and a reader between the two commits moves its cursor to 6 and never sees 5. So on
PostgreSQL :meth:`~EventsMixin._insert_event` first takes a transaction-scoped advisory lock
(:data:`EVENTS_LOCK_KEY`), released only at commit or rollback, after the commit is visible:
an id is taken while holding it, so any later id belongs to a transaction that took it after
every earlier one had committed or rolled back.

The cost: transactions that write events are serialized from their first event to their
commit. Events are low-rate (dataset versions, stage and alias moves, server status changes,
alerts; never one per prediction) and mostly inserted near the end of short transactions. A
transaction that holds the lock and then waits for a row another one holds while waiting for
the lock is a deadlock; PostgreSQL detects it and aborts one, and ``_write`` retries it
(:func:`~jupyter_mlops.store.sql.engine.with_retry`).

Needs from the class it is mixed into: ``engine`` and ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import Event
from .base import SqlBase
from .schema import events

# The key of the advisory lock that orders event ids on PostgreSQL ("mlopsevt" in ASCII).
EVENTS_LOCK_KEY = 0x6D6C_6F70_7365_7674


class EventsMixin(SqlBase):
    @staticmethod
    def _insert_event(
        conn: Connection, type_: str, key: str, payload: Mapping[str, Any], now_ms: int
    ) -> int:
        """Append one event in ``conn``'s transaction and return its id (on PostgreSQL, in
        commit order: see the module's docstring). Static, so it reads the dialect off
        ``conn``: the serving and monitoring mixins declare it as a staticmethod."""
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENTS_LOCK_KEY})
        result = conn.execute(
            sa.insert(events).values(type=type_, key=key, payload=dict(payload), created_at=now_ms)
        )
        inserted = result.inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    def record_event(self, type_: str, key: str, payload: Mapping[str, Any], now_ms: int) -> Event:
        event_id = self._write(lambda conn: self._insert_event(conn, type_, key, payload, now_ms))
        return Event(event_id, type_, key, dict(payload), now_ms)

    def events_after(
        self, cursor: int, type_: str | None = None, key: str | None = None, limit: int = 1000
    ) -> list[Event]:
        stmt = sa.select(events).where(events.c.id > cursor).order_by(events.c.id).limit(limit)
        if type_ is not None:
            stmt = stmt.where(events.c.type == type_)
        if key is not None:
            stmt = stmt.where(events.c.key == key)
        with self.engine.connect() as conn:
            return [
                Event(r.id, r.type, r.key, r.payload or {}, r.created_at)
                for r in conn.execute(stmt)
            ]

    def last_events(self, type_: str, key: str, limit: int) -> list[Event]:
        stmt = (
            sa.select(events)
            .where(events.c.type == type_, events.c.key == key)
            .order_by(events.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt))
        return [Event(r.id, r.type, r.key, r.payload or {}, r.created_at) for r in reversed(rows)]

    def last_event_id(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar_one()
            )
