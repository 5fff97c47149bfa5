"""What every SQL mixin of :class:`~jupyter_mlops.store.sql.store.SqlStore` stands on: one
engine, one way to write (a retried write transaction), one upsert for both dialects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...exceptions import NotFound, shown
from .engine import with_retry

T = TypeVar("T")


class SqlBase:
    """The engine and the write helpers the domain mixins use."""

    engine: Engine
    dialect: str

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction (``BEGIN IMMEDIATE`` on SQLite), retried on
        lock timeouts so that "database is locked" never reaches a user."""
        return with_retry(self.engine, fn)

    def _by_id_prefix(self, table: sa.Table, prefix: str, what: str, kind: str) -> Any:
        """The one row of ``table`` whose id starts with ``prefix``; NotFound when none
        (``No <what> <prefix>.``) or several (``<kind> id prefix ... is ambiguous``)."""
        stmt = sa.select(table).where(table.c.id.startswith(prefix, autoescape=True)).limit(2)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if len(rows) != 1:
            raise NotFound(
                f"No {what} {shown(prefix)}."
                if not rows
                else f"{kind} id prefix {shown(prefix)} is ambiguous; give more characters."
            )
        return rows[0]

    def _upsert(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows, replacing those whose primary key exists (all rows share columns)."""
        if not rows:
            return
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(table)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table)
        keys = [c.name for c in table.primary_key.columns]
        update = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update), rows)
