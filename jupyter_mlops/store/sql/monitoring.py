"""Monitoring references and configurations in the SQL store
(:class:`~jupyter_mlops.store.base.MonitoringStore`).

Needs from the class it is mixed into: ``engine``, ``_write`` and ``_upsert``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..base import StoredReference
from .base import SqlBase, chunks
from .schema import model_references, monitor_configs


class MonitoringMixin(SqlBase):
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
