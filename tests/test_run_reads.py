"""Runs of a SQLite store listed without SQLAlchemy: the reader a short process (``jupyter-mlops
runs list``) uses until something needs the whole store."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
