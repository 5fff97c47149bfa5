"""What every SQL mixin of :class:`~jupyter_mlops.store.sql.store.SqlStore` stands on: one
engine, one way to write (a retried write transaction), one upsert for both dialects, and the
executor (:class:`ConnectionDb`) of the SQL text the store shares with plain ``sqlite3``
(:mod:`.records`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...exceptions import NotFound, shown
from .engine import with_retry
from .records import Db

T = TypeVar("T")


class ConnectionDb(Db):
    """:class:`~.records.Db` on a SQLAlchemy connection, in its driver's parameter style."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.qmark = conn.dialect.paramstyle == "qmark"
        self.json_decoded = conn.dialect.name == "postgresql"

    def _text(self, sql: str) -> str:
        return sql if self.qmark else sql.replace("?", "%s")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(self.conn.exec_driver_sql(self._text(sql), tuple(params)).all())

    def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.conn.exec_driver_sql(self._text(sql), tuple(params)).rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.exec_driver_sql(self._text(sql), list(rows))

    def json_param(self, value: Any) -> Any:
        if value is None or not self.json_decoded:  # SQLite: text
            return super().json_param(value)
        from psycopg.types.json import Json  # psycopg adapts it to json

        return Json(value)


class SqlBase:
    """The engine and the write helpers the domain mixins use."""

    engine: Engine
    dialect: str

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction (``BEGIN IMMEDIATE`` on SQLite), retried on
        lock timeouts so that "database is locked" never reaches a user."""
        return with_retry(self.engine, fn)

    def _write_db(self, fn: Callable[[Db], T]) -> T:
        """:meth:`_write` for the SQL text of :mod:`.records`."""
        return with_retry(self.engine, lambda conn: fn(ConnectionDb(conn)))

    def _read_db(self, fn: Callable[[Db], T]) -> T:
        """``fn`` over one read transaction, for the SQL text of :mod:`.records`."""
        with self.engine.connect() as conn:
            return fn(ConnectionDb(conn))

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
