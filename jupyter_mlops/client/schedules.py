"""Schedules (cron with a timezone, or events of a type and key) and the leases that let one
scheduler at a time fire them. The Client's schedule domain.

Uses ``self.store`` as a :class:`~jupyter_mlops.store.base.ScheduleStore` and a
:class:`~jupyter_mlops.store.base.LeaseStore`. What a schedule starts (a pipeline) is the
caller's business: the Client checks the schedule itself (expression, timezone, policy, the
JSON of its parameters and options) and stores it; ``pipelines/scheduler.py`` fires it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import capture
from ..entities import Schedule, is_id
from ..exceptions import InvalidInput, shown
from .base import ClientBase
from .validation import (
    check_json_object,
    check_name,
    check_text,
    id_prefix,
    now_ms,
    validate_key,
)

MISSED_POLICIES = ("skip", "once", "all")
MAX_CATCH_UP = 100
_MAX_TIMEZONE = 64
_MAX_CRON = 256


def zone(timezone: Any) -> ZoneInfo:
    """The IANA timezone called ``timezone`` (names are at most 64 characters)."""
    try:
        if not isinstance(timezone, str) or not 0 < len(timezone) <= _MAX_TIMEZONE:
            raise ValueError(timezone)
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # surrogates, NUL: ValueError
        raise InvalidInput(
            f"unknown timezone {shown(timezone)}; use an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from None


def next_fire_time(cron: str, timezone: str, after_ms: int) -> int:
    """The first occurrence of ``cron`` in ``timezone`` strictly after ``after_ms``.

    Daylight-saving days keep their wall-clock meaning (croniter works in the zone).

    Raises:
        InvalidInput: the expression or the timezone is not valid.
    """
    from croniter import croniter

    tz = zone(timezone)
    if not isinstance(cron, str) or len(cron) > _MAX_CRON or len(cron.split()) != 5:
        raise InvalidInput(
            f"cron {shown(cron)} must have 5 fields: minute hour day-of-month month "
            "day-of-week, e.g. '0 3 * * *' for 03:00 every day"
        )
    try:
        it = croniter(cron, datetime.fromtimestamp(after_ms / 1000, tz))
        nxt = it.get_next(datetime)
    except (ValueError, KeyError, OverflowError) as exc:
        raise InvalidInput(f"invalid cron {shown(cron)}: {exc}") from None
    return int(nxt.timestamp() * 1000)


def occurrences(cron: str, timezone: str, first: int, until: int) -> list[int]:
    """Due times from ``first`` (itself due) up to ``until``, at most :data:`MAX_CATCH_UP`."""
    out = [first]
    while len(out) < MAX_CATCH_UP:
        nxt = next_fire_time(cron, timezone, out[-1])
        if nxt > until:
            break
        out.append(nxt)
    return out


class SchedulesMixin(ClientBase):
    def create_schedule(
        self,
        pipeline_path: str,
        pipeline: str,
        *,
        cron: str | None = None,
        timezone: str = "UTC",
        event: tuple[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        missed: str = "skip",
        enabled: bool = True,
    ) -> Schedule:
        """Store a schedule of the pipeline at ``pipeline_path``: on a cron expression (in
        ``timezone``), or on every new event ``(type, key)`` from now on.

        Raises:
            InvalidInput: neither or both of ``cron`` and ``event``, a bad expression,
                timezone, policy, or parameters/options that are not small JSON objects.
        """
        if (cron is None) == (event is None):
            raise InvalidInput("give either a cron expression or an event to trigger on, not both")
        if missed not in MISSED_POLICIES:
            raise InvalidInput(
                f"missed-run policy {shown(missed)} must be one of {', '.join(MISSED_POLICIES)}"
            )
        if not isinstance(enabled, bool):
            raise InvalidInput(f"enabled must be true or false, got {shown(enabled)}")
        now = now_ms()
        row: dict[str, Any] = {
            "pipeline_path": check_text(pipeline_path, "A pipeline path", 4096, empty=False),
            "pipeline": check_name(pipeline, "A pipeline name"),
            "params": check_json_object(params or {}, "The schedule's parameters"),
            "options": check_json_object(options or {}, "The schedule's run options"),
            "enabled": enabled,
            "missed": missed,
            "created_at": now,
            "created_by": capture.user(),
        }
        if cron is not None:
            row.update(
                kind="cron",
                cron=" ".join(cron.split()),
                timezone=timezone,
                next_run_time=next_fire_time(cron, timezone, now),
            )
        else:
            assert event is not None
            type_, key = event
            validate_key(type_, "event type")
            check_text(key, "The event key to trigger on", 256)
            if not key.strip():
                raise InvalidInput("the name to trigger on is empty")
            # Only events that appear from now on start the pipeline.
            row.update(
                kind="event",
                event_type=type_,
                event_key=key,
                event_cursor=self.store.last_event_id(),
            )
        return self.store.create_schedule(row)

    def get_schedule(self, schedule_id: str) -> Schedule:
        """A schedule by id or unique id prefix."""
        return self.store.get_schedule(_schedule_id(schedule_id))

    def list_schedules(self, pipeline_path: str | None = None) -> list[Schedule]:
        """Schedules, oldest first: all, or those of one pipeline file."""
        if pipeline_path is not None:
            check_text(pipeline_path, "A pipeline path", 4096)
        return self.store.list_schedules(pipeline_path)

    def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> Schedule:
        """Enable or disable a schedule. Enabling a cron schedule starts from now: what passed
        while it was disabled is not "missed"; enabling a trigger ignores older events."""
        if not isinstance(enabled, bool):
            raise InvalidInput(f"enabled must be true or false, got {shown(enabled)}")
        schedule = self.get_schedule(schedule_id)
        values: dict[str, Any] = {"enabled": enabled}
        if enabled and not schedule.enabled:
            if schedule.kind == "cron":
                assert schedule.cron is not None and schedule.timezone is not None
                values["next_run_time"] = next_fire_time(schedule.cron, schedule.timezone, now_ms())
            else:
                values["event_cursor"] = self.store.last_event_id()
        return self.store.update_schedule(schedule.id, values)

    def delete_schedule(self, schedule_id: str) -> str:
        """Remove a schedule; returns its full id."""
        return self.store.delete_schedule(_schedule_id(schedule_id))

    def claim_cron(self, schedule: Schedule, next_run_time: int) -> bool:
        """Move a due cron schedule on to ``next_run_time`` if no other process did since it
        was read (compare-and-set): True for the one caller that fires it."""
        return self.store.claim_schedule(
            schedule.id, "next_run_time", schedule.next_run_time, {"next_run_time": next_run_time}
        )

    def claim_events(self, schedule: Schedule, cursor: int) -> bool:
        """Move an event schedule's cursor on to ``cursor`` (compare-and-set, as
        :meth:`claim_cron`)."""
        return self.store.claim_schedule(
            schedule.id, "event_cursor", schedule.event_cursor, {"event_cursor": cursor}
        )

    def record_firing(self, schedule_id: str, run_id: str) -> Schedule:
        """Note that a schedule started run ``run_id`` now."""
        if not is_id(run_id):
            raise InvalidInput(f"A run id is 32 lowercase hex digits, got {shown(run_id)}.")
        return self.store.update_schedule(
            schedule_id, {"last_run_id": run_id, "last_run_time": now_ms()}
        )

    # Leases ----------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl_ms: int, now: int | None = None) -> bool:
        """Take or renew the expiring lease ``name``; False while another holder has it."""
        validate_key(name, "lease")
        check_text(holder, "A lease holder", 256, empty=False)
        return self.store.acquire_lease(name, holder, ttl_ms, now_ms() if now is None else now)

    def release_lease(self, name: str, holder: str) -> None:
        """Give a lease up (only its holder can)."""
        self.store.release_lease(name, holder)

    def lease_holder(self, name: str, now: int | None = None) -> str | None:
        """Who holds the lease ``name`` now, if anyone."""
        return self.store.lease_holder(name, now_ms() if now is None else now)


def _schedule_id(schedule_id: Any) -> str:
    return id_prefix(schedule_id, "schedule")
