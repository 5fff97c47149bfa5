"""Events, schedules and leases in the SQL store: what makes pipelines run by themselves.

A mixin of :class:`SqlStore`. Exactly-once firing rests on two atomic writes that every
backend does the same way:

- **Leases.** ``acquire_lease`` is one conditional ``UPDATE`` (taken when free, expired or
  already ours), or an ``INSERT`` of a new row that a primary key makes unique; so one holder
  at a time, whatever the number of schedulers.
- **Claims.** ``claim_schedule`` is a compare-and-set ``UPDATE ... WHERE next_run_time = :seen``
  (or ``event_cursor``): of two processes that saw the same due time, one changes the row and
  the other changes nothing and does not fire. Even two leaders (a lease that expired while
  its holder was paused) never start one firing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...entities import RunStatus
from ...exceptions import NotFound
from .schema import events, leases, logged_models, runs, schedules, tags


class SchedulingMixin:
    """Needs from the class it is mixed into: an engine and ``_write``."""

    engine: Engine

    if TYPE_CHECKING:

        def _write(self, fn: Any) -> Any: ...

    # Events ----------------------------------------------------------------------------
    @staticmethod
    def _insert_event(
        conn: Connection, type_: str, key: str, payload: Mapping[str, Any], now_ms: int
    ) -> None:
        conn.execute(
            sa.insert(events).values(type=type_, key=key, payload=dict(payload), created_at=now_ms)
        )

    def record_event(self, type_: str, key: str, payload: Mapping[str, Any], now_ms: int) -> None:
        self._write(lambda conn: self._insert_event(conn, type_, key, payload, now_ms))

    def events_after(
        self, cursor: int, type_: str | None = None, key: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        stmt = sa.select(events).where(events.c.id > cursor).order_by(events.c.id).limit(limit)
        if type_ is not None:
            stmt = stmt.where(events.c.type == type_)
        if key is not None:
            stmt = stmt.where(events.c.key == key)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def last_event_id(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0))).scalar_one()
            )

    # Schedules -------------------------------------------------------------------------
    def create_schedule(self, row: Mapping[str, Any]) -> dict[str, Any]:
        values = {"id": uuid.uuid4().hex, **row}
        self._write(lambda conn: conn.execute(sa.insert(schedules).values(**values)))
        return self.get_schedule(values["id"])

    def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        stmt = sa.select(schedules).where(schedules.c.id.startswith(schedule_id, autoescape=True))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.limit(2)).all()
        if len(rows) != 1:
            raise NotFound(
                f"No schedule {schedule_id!r}."
                if not rows
                else f"Schedule id prefix {schedule_id!r} is ambiguous; give more characters."
            )
        return dict(rows[0]._mapping)

    def list_schedules(self, pipeline_path: str | None = None) -> list[dict[str, Any]]:
        stmt = sa.select(schedules).order_by(schedules.c.created_at, schedules.c.id)
        if pipeline_path is not None:
            stmt = stmt.where(schedules.c.pipeline_path == pipeline_path)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def update_schedule(self, schedule_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        full = self.get_schedule(schedule_id)["id"]
        stmt = sa.update(schedules).where(schedules.c.id == full).values(**values)
        self._write(lambda conn: conn.execute(stmt))
        return self.get_schedule(full)

    def delete_schedule(self, schedule_id: str) -> str:
        full: str = self.get_schedule(schedule_id)["id"]
        self._write(lambda conn: conn.execute(sa.delete(schedules).where(schedules.c.id == full)))
        return full

    def claim_schedule(
        self, schedule_id: str, column: str, seen: Any, values: Mapping[str, Any]
    ) -> bool:
        """Compare-and-set: apply ``values`` only if ``column`` still equals ``seen`` and the
        schedule is enabled. True for the one caller that changed the row."""
        col = schedules.c[column]
        cond = col.is_(None) if seen is None else col == seen
        stmt = (
            sa.update(schedules)
            .where(schedules.c.id == schedule_id, cond, schedules.c.enabled.is_(True))
            .values(**values)
        )
        return bool(self._write(lambda conn: conn.execute(stmt).rowcount) == 1)

    # Leases ----------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> bool:
        """Take or renew the lease ``name`` for ``ttl_ms``; False while another holds it."""

        def take(conn: Connection) -> bool:
            stmt = (
                sa.update(leases)
                .where(
                    leases.c.name == name,
                    sa.or_(leases.c.holder == holder, leases.c.expires_at < now_ms),
                )
                .values(holder=holder, expires_at=now_ms + ttl_ms)
            )
            if conn.execute(stmt).rowcount == 1:
                return True
            exists = conn.execute(sa.select(leases.c.name).where(leases.c.name == name)).first()
            if exists is not None:
                return False
            conn.execute(
                sa.insert(leases).values(name=name, holder=holder, expires_at=now_ms + ttl_ms)
            )
            return True

        try:
            return bool(self._write(take))
        except sa.exc.IntegrityError:  # another process inserted the row first
            return False

    def release_lease(self, name: str, holder: str) -> None:
        stmt = sa.delete(leases).where(leases.c.name == name, leases.c.holder == holder)
        self._write(lambda conn: conn.execute(stmt))

    def lease_holder(self, name: str, now_ms: int) -> str | None:
        stmt = sa.select(leases.c.holder).where(
            leases.c.name == name, leases.c.expires_at >= now_ms
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()

    # Lookups the pipeline cache needs --------------------------------------------------
    def latest_run_with_tag(
        self, key: str, value: str, status: RunStatus | None = RunStatus.FINISHED
    ) -> str | None:
        """The newest run carrying tag ``key = value`` (and ``status``), through the
        ``(key, value, run_id)`` index."""
        stmt = (
            sa.select(runs.c.id)
            .join(tags, tags.c.run_id == runs.c.id)
            .where(tags.c.key == key, tags.c.value == value)
            .order_by(runs.c.start_time.desc(), runs.c.id.desc())
            .limit(1)
        )
        if status is not None:
            stmt = stmt.where(runs.c.status == status.value)
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()

    def latest_model_sha(self, name: str) -> str | None:
        stmt = (
            sa.select(logged_models.c.sha256)
            .where(logged_models.c.name == name)
            .order_by(logged_models.c.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()
