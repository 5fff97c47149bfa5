"""Event ids become visible in the order they are given, so a reader's cursor skips none.

On PostgreSQL two transactions can take ids 5 and 6 and commit 6 first: a reader between the
two commits would move its cursor past 5 for good. The store orders them with an advisory
lock (jupyter_mlops.store.sql.events); SQLite has one writer at a time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from jupyter_mlops.client import Client
from jupyter_mlops.store.sql.engine import write_transaction

N_WRITERS = 8
EVENTS_PER_WRITER = 50
WAIT_S = 30  # only ever reached when something is broken


def _now() -> int:
    return int(time.time() * 1000)


def _ids(client: Client, cursor: int = 0) -> list[int]:
    return [e.id for e in client.events_after(cursor)]


def _waiting_for_advisory_lock(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = pg_locks.database"
                " WHERE locktype = 'advisory' AND NOT granted AND d.datname = current_database()"
            ).scalar_one()
        )


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_given_an_uncommitted_event_then_a_later_one_is_not_visible_before_it(
    store_url: str,
    open_client: Callable[..., Client],
):
    client = open_client(store_url)
    store: Any = client.store
    b_started, b_done = threading.Event(), threading.Event()
    b_ids: list[int] = []
    errors: list[BaseException] = []

    def record_b() -> None:
        b_started.set()
        try:
            b_ids.append(client.record_event("test.b", "k").id)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            b_done.set()

    cursor = 0
    between: list[int] = []
    b = threading.Thread(target=record_b)
    with write_transaction(store.engine) as conn:
        a_id = store._insert_event(conn, "test.a", "k", {}, _now())
        assert _ids(client) == []  # A has not committed
        b.start()
        assert b_started.wait(WAIT_S)
        # B queues on the events lock A holds: it cannot take an id, let alone commit one.
        deadline = time.monotonic() + WAIT_S
        while not _waiting_for_advisory_lock(store.engine) and time.monotonic() < deadline:
            if b_done.wait(0.01):
                break  # B committed while A is open: the assertions below say so
        assert not b_done.wait(0.5), "B committed a later id while A's is not visible"
        assert _waiting_for_advisory_lock(store.engine) == 1
        # A cursor-driven reader between the two: nothing to see yet, its cursor stays.
        between = _ids(client, cursor)
        cursor = between[-1] if between else cursor
    assert b_done.wait(WAIT_S)
    b.join()
    assert errors == []
    assert between == []
    assert a_id < b_ids[0]
    assert _ids(client) == [a_id, b_ids[0]]
    assert _ids(client, cursor) == [a_id, b_ids[0]]  # the reader gets A, then B


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_given_concurrent_writers_then_a_polling_reader_sees_every_event(
    store_url: str,
    open_client: Callable[..., Client],
):
    client = open_client(store_url)
    store: Any = client.store
    start = threading.Barrier(N_WRITERS + 1)
    writers_done = threading.Event()
    written: list[int] = []
    seen: list[int] = []
    errors: list[BaseException] = []

    def one_event(conn: sa.Connection, writer: int, rng: random.Random) -> int:
        event_id = store._insert_event(conn, "test.stress", f"w{writer}", {}, _now())
        time.sleep(rng.uniform(0, 0.005))  # the rest of a transaction, after its event
        return int(event_id)

    def write(writer: int) -> None:
        rng = random.Random(writer)
        try:
            start.wait(WAIT_S)
            for _ in range(EVENTS_PER_WRITER):
                written.append(store._write(lambda conn: one_event(conn, writer, rng)))
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    def read() -> None:
        cursor = 0
        try:
            start.wait(WAIT_S)
            while True:
                last_round = writers_done.is_set()  # read once more after the last commit
                events = client.events_after(cursor)
                if events:
                    seen.extend(e.id for e in events)
                    cursor = events[-1].id
                elif last_round:
                    return
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(i,)) for i in range(N_WRITERS)]
    reader = threading.Thread(target=read)
    for thread in [*writers, reader]:
        thread.start()
    for thread in writers:
        thread.join()
    writers_done.set()
    reader.join()
    assert errors == []
    assert len(written) == N_WRITERS * EVENTS_PER_WRITER
    assert seen == sorted(set(seen))  # each once, in id order
    assert set(seen) == set(written), f"the reader skipped {sorted(set(written) - set(seen))}"


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_given_a_deadlock_between_the_events_lock_and_a_row_then_the_write_is_retried(
    store_url: str,
    open_client: Callable[..., Client],
):
    client = open_client(store_url)
    store: Any = client.store
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (id integer PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO scratch VALUES (1)")
    row_locked, event_locked = threading.Event(), threading.Event()
    attempts = {"row first": 0, "event first": 0}
    ids: dict[str, int] = {}
    errors: list[BaseException] = []

    def row_first(conn: sa.Connection) -> int:
        attempts["row first"] += 1
        conn.exec_driver_sql("UPDATE scratch SET id = id WHERE id = 1")
        if attempts["row first"] == 1:
            row_locked.set()
            assert event_locked.wait(WAIT_S)
        return int(store._insert_event(conn, "test.row", "k", {}, _now()))

    def event_first(conn: sa.Connection) -> int:
        attempts["event first"] += 1
        event_id = int(store._insert_event(conn, "test.event", "k", {}, _now()))
        if attempts["event first"] == 1:
            event_locked.set()
            assert row_locked.wait(WAIT_S)
        conn.exec_driver_sql("UPDATE scratch SET id = id WHERE id = 1")
        return event_id

    def run(name: str, fn: Callable[[sa.Connection], int]) -> None:
        try:
            ids[name] = store._write(fn)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=item)
        for item in [("row first", row_first), ("event first", event_first)]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(attempts.values()) == [1, 2]  # PostgreSQL aborted one; it ran again
    assert _ids(client) == sorted(ids.values())
