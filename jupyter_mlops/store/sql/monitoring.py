"""Monitoring references and configurations in the SQL store
(:class:`~jupyter_mlops.store.base.MonitoringStore`).

Needs from the class it is mixed into: ``engine``, ``_write`` and ``_upsert``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`) and ``_insert_event``
(:class:`~jupyter_mlops.store.sql.events.EventsMixin`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import MONITOR_ALERT_EVENT, AlertState
from ..base import StoredReference
from .base import SqlBase
from .runsql import chunks
from .schema import model_references, monitor_alerts, monitor_configs


def _alert(row: Any) -> AlertState:
    return AlertState(
        name=row.name,
        rule=row.rule,
        state=row.state,
        since=row.since,
        updated_at=row.updated_at,
        value=row.value,
        window_end=row.window_end,
        levels=list(row.levels or []),
        version=row.version,
        delivery=dict(row.delivery) if row.delivery else None,
    )


class MonitoringMixin(SqlBase):
    if TYPE_CHECKING:

        @staticmethod
        def _insert_event(
            conn: Connection, type_: str, key: str, payload: Mapping[str, Any], now_ms: int
        ) -> int: ...

    def put_reference(self, reference: StoredReference) -> None:
        row = {
            "logged_model_id": reference.logged_model_id,
            "rows": reference.rows,
            "source": reference.source,
            "created_at": reference.created_at,
            "created_by": reference.created_by,
            "data": reference.data,
        }
        self._write(lambda conn: self._upsert(conn, model_references, [row]))

    def get_reference(self, logged_model_id: str) -> StoredReference | None:
        t = model_references
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.logged_model_id == logged_model_id)).first()
        if row is None:
            return None
        return StoredReference(
            row.logged_model_id,
            row.rows,
            row.source,
            row.created_at,
            row.created_by,
            bytes(row.data),
        )

    def references_of(self, logged_model_ids: Sequence[str]) -> dict[str, StoredReference]:
        t = model_references
        found: dict[str, StoredReference] = {}
        with self.engine.connect() as conn:
            for part in chunks(list(logged_model_ids)):
                rows = conn.execute(
                    sa.select(
                        t.c.logged_model_id, t.c.rows, t.c.source, t.c.created_at, t.c.created_by
                    ).where(t.c.logged_model_id.in_(part))
                )
                for r in rows:
                    found[r.logged_model_id] = StoredReference(
                        r.logged_model_id, r.rows, r.source, r.created_at, r.created_by, b""
                    )
        return found

    def put_monitor_config(
        self, name: str, config: Mapping[str, Any], actor: str, now_ms: int
    ) -> None:
        row = {"name": name, "config": dict(config), "updated_at": now_ms, "updated_by": actor}
        self._write(lambda conn: self._upsert(conn, monitor_configs, [row]))

    def get_monitor_config(self, name: str) -> dict[str, Any] | None:
        t = monitor_configs
        with self.engine.connect() as conn:
            config = conn.execute(sa.select(t.c.config).where(t.c.name == name)).scalar()
        return None if config is None else dict(config)

    def configured_monitors(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(sa.select(monitor_configs.c.name).order_by(monitor_configs.c.name))
                .scalars()
                .all()
            )

    def alert_states(self, name: str | None = None) -> list[AlertState]:
        t = monitor_alerts
        stmt = sa.select(t).order_by(t.c.name, t.c.rule)
        if name is not None:
            stmt = stmt.where(t.c.name == name)
        with self.engine.connect() as conn:
            return [_alert(r) for r in conn.execute(stmt)]

    def save_alert_state(
        self, state: AlertState, payload: Mapping[str, Any], now_ms: int
    ) -> AlertState | None:
        t = monitor_alerts
        key = (t.c.name == state.name) & (t.c.rule == state.rule)
        values = {
            "state": state.state,
            "since": state.since,
            "updated_at": state.updated_at,
            "value": state.value,
            "window_end": state.window_end,
            "levels": list(state.levels),
            "version": state.version,
        }

        def save(conn: Connection) -> AlertState | None:
            stmt = sa.select(t).where(key)
            if self.dialect == "postgresql":
                stmt = stmt.with_for_update()
            row = conn.execute(stmt).first()
            if row is None:
                conn.execute(sa.insert(t).values(name=state.name, rule=state.rule, **values))
                changed = state.state != "ok"
            else:
                if (
                    row.window_end is not None
                    and state.window_end is not None
                    and row.window_end >= state.window_end
                ):
                    return None
                conn.execute(sa.update(t).where(key).values(**values))
                changed = row.state != state.state
            if changed:
                self._insert_event(conn, MONITOR_ALERT_EVENT, state.name, payload, now_ms)
            return state

        return self._write(save)

    def record_alert_delivery(self, name: str, rule: str, delivery: Mapping[str, Any]) -> None:
        t = monitor_alerts
        self._write(
            lambda conn: conn.execute(
                sa.update(t)
                .where(t.c.name == name, t.c.rule == rule)
                .values(delivery=dict(delivery))
            )
        )
