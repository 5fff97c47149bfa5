"""Schedules in the SQL store (:class:`~jupyter_mlops.store.base.ScheduleStore`).

Exactly-once firing rests on :meth:`SchedulesMixin.claim_schedule`, a compare-and-set
``UPDATE ... WHERE next_run_time = :seen`` (or ``event_cursor``): of two processes that saw
the same due time, one changes the row and the other changes nothing and does not fire. Even
two schedulers that both believe they lead (a lease that expired while its holder was paused)
never start one firing twice.

Needs from the class it is mixed into: ``engine`` and ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ...entities import Schedule
from ...exceptions import InvalidInput
from .base import SqlBase
from .schema import schedules


def _schedule(row: Any) -> Schedule:
    return Schedule(
        id=row.id,
        pipeline_path=row.pipeline_path,
        pipeline=row.pipeline,
        kind=row.kind,
        cron=row.cron,
        timezone=row.timezone,
        event_type=row.event_type,
        event_key=row.event_key,
        params=row.params or {},
        options=row.options or {},
        enabled=bool(row.enabled),
        missed=row.missed,
        next_run_time=row.next_run_time,
        event_cursor=row.event_cursor,
        last_run_time=row.last_run_time,
        last_run_id=row.last_run_id,
        created_at=row.created_at,
        created_by=row.created_by,
    )


class SchedulesMixin(SqlBase):
    def create_schedule(self, row: Mapping[str, Any]) -> Schedule:
        values = {"id": uuid.uuid4().hex, **row}
        self._write(lambda conn: conn.execute(sa.insert(schedules).values(**values)))
        return self.get_schedule(values["id"])

    def get_schedule(self, schedule_id: str) -> Schedule:
        return _schedule(self._by_id_prefix(schedules, schedule_id, "schedule", "Schedule"))

    def list_schedules(self, pipeline_path: str | None = None) -> list[Schedule]:
        stmt = sa.select(schedules).order_by(schedules.c.created_at, schedules.c.id)
        if pipeline_path is not None:
            stmt = stmt.where(schedules.c.pipeline_path == pipeline_path)
        with self.engine.connect() as conn:
            return [_schedule(r) for r in conn.execute(stmt)]

    def update_schedule(self, schedule_id: str, values: Mapping[str, Any]) -> Schedule:
        full = self.get_schedule(schedule_id).id
        stmt = sa.update(schedules).where(schedules.c.id == full).values(**values)
        self._write(lambda conn: conn.execute(stmt))
        return self.get_schedule(full)

    def delete_schedule(self, schedule_id: str) -> str:
        full = self.get_schedule(schedule_id).id
        self._write(lambda conn: conn.execute(sa.delete(schedules).where(schedules.c.id == full)))
        return full

    def claim_schedule(
        self, schedule_id: str, column: str, seen: Any, values: Mapping[str, Any]
    ) -> bool:
        """Compare-and-set: apply ``values`` only if ``column`` still equals ``seen`` and the
        schedule is enabled. True for the one caller that changed the row."""
        if column not in ("next_run_time", "event_cursor"):
            raise InvalidInput(f"cannot claim a schedule by {column!r}")
        col = schedules.c[column]
        cond = col.is_(None) if seen is None else col == seen
        stmt = (
            sa.update(schedules)
            .where(schedules.c.id == schedule_id, cond, schedules.c.enabled.is_(True))
            .values(**values)
        )
        return bool(self._write(lambda conn: conn.execute(stmt).rowcount) == 1)
