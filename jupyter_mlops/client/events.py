"""The event log: state changes other features react to (pipeline triggers, later serving and
continuous training). The Client's event domain.

Uses ``self.store`` as an :class:`~jupyter_mlops.store.base.EventStore`. A domain whose
change makes an event (a new dataset version) writes it in the store, in the change's
transaction; :meth:`record_event` is for events that are a change of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..entities import Event
from .base import ClientBase
from .validation import check_int, check_json_object, check_text, now_ms, validate_key


class EventsMixin(ClientBase):
    def record_event(self, type_: str, key: str, payload: Mapping[str, Any] | None = None) -> Event:
        """Append an event of ``type_`` (e.g. ``monitor.alert``) about ``key``."""
        validate_key(type_, "event type")
        check_text(key, "An event key", 256, empty=False)
        body = check_json_object(payload or {}, "An event payload")
        return self.store.record_event(type_, key, body, now_ms())

    def events_after(
        self, cursor: int, type_: str | None = None, key: str | None = None, limit: int = 1000
    ) -> list[Event]:
        """Events with an id above ``cursor`` (of a type and key, when given), oldest first."""
        check_int(cursor, "An event cursor", 0)
        check_int(limit, "limit", 1, 10_000)
        return self.store.events_after(cursor, type_, key, limit)

    def last_event_id(self) -> int:
        """The newest event's id (0 without events): a cursor that sees only what follows."""
        return self.store.last_event_id()
