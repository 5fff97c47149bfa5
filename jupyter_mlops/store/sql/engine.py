"""Engines tuned for many writers: SQLite in WAL mode with ``BEGIN IMMEDIATE`` for writes.

Why ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes can fail at once
with "database is locked" (the busy handler is not called when upgrading a read lock that
would deadlock). Taking the write lock up front makes writers queue on the busy timeout
instead, so concurrent kernels never surface that error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...exceptions import InvalidInput
from .records import BUSY_TIMEOUT_MS, SQLITE_PRAGMAS, retry_locked

WRITE_OPTION = "mlops_write"
T = TypeVar("T")


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and immediate writes."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we document; SQLAlchemy defaults to psycopg2 otherwise.
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (ImportError, sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise InvalidInput(
            f"Cannot open store URL {url!r}: {exc}. Use sqlite:///path/to/mlops.db or "
            "postgresql://user:password@host/db (pip install 'jupyter-mlops[postgres]')."
        ) from exc


def _sqlite_engine(url: str) -> Engine:
    engine = sa.create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves: pysqlite's implicit transactions are deferred.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        yield conn


def with_retry(engine: Engine, fn: Callable[[Connection], T], attempts: int = 8) -> T:
    """Run ``fn`` in a write transaction, retrying lock timeouts (:func:`.records.retry_locked`)."""

    def attempt() -> T:
        with write_transaction(engine) as conn:
            return fn(conn)

    return retry_locked(attempt, (sa.exc.OperationalError,), attempts)
