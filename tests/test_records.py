"""Runs of a SQLite store recorded and listed without SQLAlchemy: the plain-``sqlite3`` records
(``store/sql/lite.py``) a short process (``jupyter-mlops runs list``, a cached pipeline
re-run) uses until something needs the whole store. They run the same SQL text as the store
(``store/sql/records.py``), so what either writes, the other reads back the same."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.client import Client
from jupyter_mlops.config import resolve_location
from jupyter_mlops.exceptions import NotFound
from jupyter_mlops.store import open_records
from jupyter_mlops.store.sql.lite import SqliteRecords
from jupyter_mlops.store.sql.records import Db
from jupyter_mlops.store.sql.runsql import RunQueries

SEARCHES = [
    (None, [], None),
    ("metrics.acc > 0.2", ["params.lr DESC"], None),
    ("params.model = 'rf' or tags.team ilike 'VIS%'", ["metrics.acc", "experiment DESC"], None),
    ("not metrics.loss = nan and duration >= 0", ["tags.team", "name"], ["churn", "vision"]),
    ("status != 'RUNNING'", ["start_time"], ["vision"]),
]


def seed(client: Client) -> list[str]:
    """Eight runs in two experiments: params, metrics (one NaN), tags, git state."""
    ids = []
    for i in range(8):
        rid = client.create_run("churn" if i % 3 else "vision", f"run-{i}")
        client.log_params(rid, {"lr": 0.1 * i, "model": "rf" if i % 2 else "lr"})
        client.log_metrics(rid, {"acc": i / 8, "loss": float("nan") if i == 3 else 1 - i / 8})
        client.set_tags(rid, {"team": "vision" if i % 2 else "Vision-2"})
        client.update_run(rid, git_dirty=bool(i % 2) if i < 6 else None)
        if i != 7:
            client.end_run(rid)
        ids.append(rid)
    return ids


def test_given_the_reader_and_the_store_when_searching_then_they_give_the_same_pages(
    client: Client, open_client
) -> None:
    seed(client)
    assert client.records is client.store  # not lazy: opened at once, and searched so
    reader = open_client(client.location, lazy=True)
    assert "store" not in reader.__dict__  # the store stays closed: the reader serves
    for text, order, experiments in SEARCHES:
        for limit, offset in ((3, 0), (3, 2), (100, 0)):
            mine = reader.search_runs_page(experiments, text, order, limit, offset)
            theirs = client.search_runs_page(experiments, text, order, limit, offset)
            assert mine.total == theirs.total and mine.total > 0, text
            dump = [json.dumps(r.to_dict(), default=str) for r in mine.runs]
            assert dump == [json.dumps(r.to_dict(), default=str) for r in theirs.runs], text
    assert reader.get_experiment("vision").id == client.get_experiment("vision").id
    with pytest.raises(NotFound, match="Known experiments: churn, vision"):
        reader.get_experiment("nlp")
    assert "store" not in reader.__dict__


def test_given_a_store_when_a_process_lists_runs_then_sqlalchemy_is_never_imported(
    client: Client, store_dir: Path
) -> None:
    ids = seed(client)
    code = (
        "import sys\n"
        "from jupyter_mlops.cli import main\n"
        "args = ['runs', 'list', '-e', 'churn', '-f', 'metrics.acc > 0.2', '-o', 'params.lr DESC',"
        " '--format', 'json']\n"
        "try:\n"
        "    main(args)\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy')\n"
        "print(loaded, file=sys.stderr)\n"
    )
    env = {**os.environ, "JUPYTER_MLOPS_HOME": str(store_dir)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    listed = [row["run_id"] for row in json.loads(done.stdout)]
    assert listed == [ids[i] for i in (7, 5, 4, 2)]  # churn, acc > 0.2, by lr descending


def test_given_a_run_whose_process_died_when_a_reader_lists_then_it_is_killed_in_the_store(
    client: Client, open_client
) -> None:
    rid = client.create_run("churn", "ghost")  # RUNNING, in this very process
    calm = open_client(client.location, lazy=True)
    assert [r.info.status for r in calm.search_runs()] == ["RUNNING"]
    assert "store" not in calm.__dict__  # only a look: nothing to write
    client.update_run(rid, pid=4_000_000)  # now its process is gone (no such pid here)
    reader = open_client(client.location, lazy=True)
    (run,) = reader.search_runs(filter=f"id = '{rid}'")
    assert run.info.status == "KILLED" and run.info.error_name == "ProcessDied"
    assert "store" in reader.__dict__  # opened for the write, and serving the reads since


def test_given_a_store_to_create_or_upgrade_when_opened_then_the_whole_store_opens_at_once(
    tmp_path: Path,
) -> None:
    fresh = Client(tmp_path / "fresh", lazy=True)
    assert "store" in fresh.__dict__ and (tmp_path / "fresh" / "mlops.db").is_file()
    fresh.close()
    again = Client(tmp_path / "fresh")  # not lazy: the store opens whatever it finds
    assert "store" in again.__dict__ and again.records is again.store
    again.close()
    url = resolve_location(tmp_path / "fresh").db_url
    reads = open_records(url)
    assert reads is not None
    reads.close()
    with sqlite3.connect(tmp_path / "fresh" / "mlops.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0008'")
    assert open_records(url) is None  # an older schema: the store upgrades it first
    for other in ("sqlite://", "sqlite:///:memory:", f"sqlite:///{tmp_path}/x.db?mode=ro"):
        assert open_records(other) is None
    assert open_records(f"sqlite:///{tmp_path}/missing.db") is None


def test_given_threads_when_searching_through_the_reader_then_each_has_its_own_connection(
    client: Client, open_client
) -> None:
    seed(client)
    reader = open_client(client.location, lazy=True)
    with ThreadPoolExecutor(8) as pool:
        totals = set(pool.map(lambda _: reader.search_runs_page(limit=2).total, range(64)))
    assert totals == {8}
    reader.close()  # releases every thread's connection; a later search opens one again
    assert len(reader.search_runs(limit=100)) == 8


def test_given_a_write_during_a_search_when_read_with_sqlite_then_one_state_is_seen(
    client: Client,
) -> None:
    seed(client)
    reads = open_records(client.location.db_url)
    assert isinstance(reads, SqliteRecords)

    def totals(db: Db) -> tuple[int, int]:  # what one search_runs holds around its reads
        first = RunQueries(db.rows).search_runs(None, None, [], 100, 0).total
        client.create_run("churn", "late")  # committed by another connection meanwhile
        return first, RunQueries(db.rows).search_runs(None, None, [], 100, 0).total

    try:
        assert reads._read_db(totals) == (8, 8)
        assert reads.search_runs(None, None, [], 100, 0).total == 9
    finally:
        reads.close()


def _record(client: Client, folder: Path) -> str:
    """One run's whole life through ``client``: every kind of value a run records."""
    rid = client.create_run("life", "whole", tags={"team": "vision", "n": 3})
    client.log_params(rid, {"lr": 0.01, "model": "rf", "big": 10**30, "inf": float("inf")})
    client.log_params(rid, {"model": "gbm"})  # a param written again replaces the first
    client.log_metrics(rid, {"acc": 0.5, "loss": float("nan")}, step=1)
    client.log_metrics(rid, {"acc": 0.75}, step=3)
    client.log_metric(rid, "acc", 0.6, step=2)  # an older step: the latest stays 0.75
    client.set_tags(rid, {"team": "nlp", "stage": "dev"})
    (folder / "notes.txt").write_text("hello")
    client.log_artifact(rid, folder / "notes.txt")
    client.log_artifact_bytes(rid, b"{}", "conf/params.json")
    client.end_run(rid)
    # (after the end, which may capture the environment again when modules were imported)
    client.update_run(rid, git_dirty=True, environment={"numpy": "2.0", "nested": {"a": [1]}})
    return rid


def _comparable(run: Any) -> dict[str, Any]:
    data = run.to_dict()
    info = data["info"]
    for key in ("id", "start_time", "end_time", "duration_ms", "pid"):  # when and where
        info.pop(key)
    for artifact in data["artifacts"]:
        artifact.pop("created_at")
    data["metrics"] = {k: str(v) for k, v in data["metrics"].items()}  # NaN == NaN
    return data


def test_given_a_run_recorded_through_sqlite3_then_the_store_reads_what_it_records_itself(
    client: Client, open_client, tmp_path: Path
) -> None:
    client.create_run("life", "first")  # the store exists at the current schema
    lite = open_client(client.location, lazy=True)
    by_lite = _record(lite, tmp_path)
    assert "store" not in lite.__dict__  # every call went through plain sqlite3
    by_store = _record(client, tmp_path)
    mine, theirs = client.get_run(by_lite), client.get_run(by_store)
    assert _comparable(mine) == _comparable(theirs)
    assert mine.params["model"] == "gbm" and mine.tags["team"] == "nlp"
    assert mine.metrics["acc"] == 0.75 and math.isnan(mine.metrics["loss"])
    assert mine.environment == {"numpy": "2.0", "nested": {"a": [1]}}
    histories = [
        [(m.key, m.value, m.step) for m in client.get_metric_history(rid, "acc")]
        for rid in (by_lite, by_store)
    ]
    assert histories[0] == histories[1] == [("acc", 0.5, 1), ("acc", 0.6, 2), ("acc", 0.75, 3)]
    assert lite.get_run(by_store).to_dict() == theirs.to_dict()  # and it reads the store's
    found = client.search_runs(filter="params.big > 1e29 and tags.stage = 'dev'")
    assert {r.id for r in found} == {by_lite, by_store}  # numeric params, as the store's


def test_given_another_writer_holding_the_lock_when_recording_then_it_waits_and_writes(
    client: Client, open_client
) -> None:
    client.create_run("life", "first")
    lite = open_client(client.location, lazy=True)
    holder = sqlite3.connect(
        client.location.home / "mlops.db", isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")  # another process' write transaction, say
    released = threading.Event()

    def release() -> None:
        released.wait(timeout=60)
        holder.execute("COMMIT")

    thread = threading.Thread(target=release)
    thread.start()
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(lite.create_run, "life", "waiting")
            released.set()
            rid = pending.result(timeout=120)
    finally:
        thread.join()
        holder.close()
    assert client.get_run(rid).info.name == "waiting"


def test_given_a_failing_write_through_sqlite3_then_nothing_of_it_stays_and_the_next_one_works(
    client: Client, open_client
) -> None:
    client.create_run("life", "first")
    lite = open_client(client.location, lazy=True)
    with pytest.raises(NotFound, match="No run with id"):
        lite.update_run("0" * 32, status="FINISHED")
    with pytest.raises(sqlite3.IntegrityError):  # a tag of no run: the foreign key holds
        lite.records.set_tags("f" * 32, {"a": "b", "c": "d"})
    assert client.search_runs(filter="tags.a = 'b'") == []
    rid = lite.create_run("life", "after")  # the connection is out of the failed transaction
    assert client.get_run(rid).info.status == "RUNNING"
    assert "store" not in lite.__dict__


def test_given_the_run_columns_of_the_text_then_they_are_the_schema_columns() -> None:
    from jupyter_mlops.store.sql.records import RUN_COLUMNS
    from jupyter_mlops.store.sql.schema import runs

    assert sorted(RUN_COLUMNS) == sorted(runs.c.keys())
