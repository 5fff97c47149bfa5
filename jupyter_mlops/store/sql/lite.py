"""The run records of a SQLite store on plain ``sqlite3``: no SQLAlchemy.

:class:`SqliteRecords` is :class:`~.records.TextRecords` (the same SQL text the SQL store
runs) on ``sqlite3`` connections to the store's file, one per thread and per process, set up
as the store's engine sets up its own (:data:`~.records.SQLITE_PRAGMAS`): reads in one
deferred transaction each, writes in ``BEGIN IMMEDIATE`` transactions retried on lock
timeouts. A process that only lists runs (``jupyter-mlops runs list``) or only records them
(a pipeline re-run whose steps all come from the cache) then never imports SQLAlchemy, whose
import alone is most of such a process' time.

Only a file that exists at the current schema is opened here (:func:`sqlite_records`):
creating or upgrading one is the store's work (migrations).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .records import BUSY_TIMEOUT_MS, SQLITE_PRAGMAS, Db, TextRecords, retry_locked
from .runsql import HEAD

T = TypeVar("T")


class SqliteDb(Db):
    """:class:`~.records.Db` on a ``sqlite3`` connection (JSON columns arrive as text)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, tuple(params)).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///path`` URL; None for any other form (in memory, with
    options, or with characters a URL would escape), which the store then opens itself."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:" or any(ch in path for ch in "?%#"):
        return None
    return path


class _SqliteConnections(threading.local):
    conn: sqlite3.Connection | None = None
    opened: tuple[int, int] = (0, 0)  # (process, generation) it was opened in


class SqliteRecords(TextRecords):
    """:class:`~.records.TextRecords` on plain ``sqlite3`` connections to the store's file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = _SqliteConnections()
        self._opened: list[sqlite3.Connection] = []
        self._generation = 0  # a close ends every thread's connection; the next use reopens
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        local, now = self._local, (os.getpid(), self._generation)
        if local.conn is None or local.opened != now:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # we BEGIN ourselves, as the store's engine does
                check_same_thread=False,
            )
            for pragma in SQLITE_PRAGMAS:
                conn.execute(pragma)
            local.conn, local.opened = conn, now
            with self._lock:
                self._opened.append(conn)
        return local.conn

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
            self._generation += 1
        for conn in opened:
            conn.close()

    def _read_db(self, fn: Callable[[Db], T]) -> T:
        conn = self._connection()
        if conn.in_transaction:  # nested in a transaction of this thread: it holds
            return fn(SqliteDb(conn))
        conn.execute("BEGIN")  # deferred: WAL keeps the state of the first read to the end
        try:
            return fn(SqliteDb(conn))
        finally:
            conn.execute("ROLLBACK")

    def _write_db(self, fn: Callable[[Db], T]) -> T:
        def attempt() -> T:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(SqliteDb(conn))
                conn.execute("COMMIT")
                return result
            finally:
                if conn.in_transaction:  # fn failed, or the commit did
                    conn.execute("ROLLBACK")

        return retry_locked(attempt, (sqlite3.OperationalError,))


def sqlite_records(url: str) -> SqliteRecords | None:
    """The run records of the SQLite store at ``url`` without SQLAlchemy, when the file
    exists at the current schema; None otherwise (the store opens it, creating or upgrading
    it)."""
    path = sqlite_path(url)
    if path is None or not os.path.isfile(path):
        return None
    records = SqliteRecords(path)
    try:
        version = records._read_db(lambda db: db.rows("SELECT version_num FROM alembic_version"))
    except sqlite3.Error:
        version = []
    if version != [(HEAD,)]:
        records.close()
        return None
    return records
