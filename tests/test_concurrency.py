"""Many processes on one SQLite store: writers, openers racing the migration, readers.

Every child is a real interpreter (``sys.executable -c``) on a real SQLite file. Children are
started first and wait for a start file, so that their work begins together.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jupyter_mlops.client import Client
from jupyter_mlops.store.sql import schema
from jupyter_mlops.store.sql.migrate import HEAD

N_PROCS = 8
N_VALUES = 1000
CHILD_TIMEOUT_S = 90

# Prelude of every child: argv[1] is its work folder; it reports that it is ready (imports
# done) and then waits for the parent's start file.
_PRELUDE = """
import os, sys, time, json
from collections.abc import Callable
from pathlib import Path
work = Path(sys.argv[1])
idx = int(sys.argv[2])
store = sys.argv[3]
import jupyter_mlops as mlops
from jupyter_mlops import Client
(work / f"ready-{idx}").touch()
deadline = time.monotonic() + 60
while not (work / "go").exists():
    if time.monotonic() > deadline:
        sys.exit("never told to start")
    time.sleep(0.002)
"""


def _spawn(script: str, work: Path, idx: int, store: Path) -> subprocess.Popen[str]:
    code = _PRELUDE + textwrap.dedent(script)
    return subprocess.Popen(
        [sys.executable, "-c", code, str(work), str(idx), str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_together(procs: list[subprocess.Popen[str]], work: Path) -> None:
    """Wait until every child is ready, then release them all with the start file."""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while len(list(work.glob("ready-*"))) < len(procs):
        crashed = [p for p in procs if p.poll() is not None]
        if crashed:
            _kill_all(procs)
            _out, err = crashed[0].communicate()
            pytest.fail(f"a child exited before the start: rc={crashed[0].returncode}\n{err}")
        if time.monotonic() > deadline:
            _kill_all(procs)
            pytest.fail("children did not get ready in time")
        time.sleep(0.01)
    (work / "go").touch()


def _kill_all(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def _finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Wait for every child; assert each exited 0 without an error on stderr; their stdouts."""
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=CHILD_TIMEOUT_S)
            results.append((p.returncode, out, err))
    finally:
        _kill_all(procs)
    report = "\n".join(f"child {i}: rc={rc}\n{err}" for i, (rc, _, err) in enumerate(results))
    for rc, _out, err in results:
        assert rc == 0, report
        assert "database is locked" not in err, report
        assert "Traceback" not in err, report
        assert "Error" not in err, report
    return [out for _, out, _ in results]


_WRITER = """
if idx % 2 == 0:
    # The fluent API: buffered values, flushed by the writer, by flush() and at run end.
    mlops.set_store(store)
    with mlops.start_run("concurrency", f"worker-{idx}") as run:
        mlops.log_params({"worker": idx, "mode": "fluent"})
        mlops.set_tags({"kind": "fluent", "worker": str(idx)})
        for i in range(N):
            mlops.log_metric("loss", i * 0.5 + idx)
            if i % 250 == 249:
                mlops.flush()
        run_id = run.id
else:
    # The Client: unbuffered batches of 100 values with their own steps.
    client = Client(store)
    run_id = client.create_run("concurrency", f"worker-{idx}")
    for start in range(0, N, 100):
        client.log_batch(
            run_id,
            metrics=[("loss", i * 0.5 + idx, i) for i in range(start, start + 100)],
            params={"worker": idx, "mode": "batch"} if start == 0 else None,
            tags={"kind": "batch", "worker": str(idx)} if start == 0 else None,
        )
    client.end_run(run_id)
print(json.dumps({"idx": idx, "run_id": run_id}))
"""


@pytest.mark.usefixtures("store_dir")
def test_given_8_processes_when_each_logs_1000_metrics_then_every_row_is_stored(
    tmp_path: Path, open_client: Callable[..., Client]
) -> None:
    store = tmp_path / "shared-store"  # brand new: the children also race to create it
    work = tmp_path / "work"
    work.mkdir()
    script = f"N = {N_VALUES}\n" + _WRITER
    procs = [_spawn(script, work, i, store) for i in range(N_PROCS)]
    _start_together(procs, work)
    outputs = _finish(procs)

    reported = {}
    for out in outputs:
        line = json.loads(out.strip().splitlines()[-1])
        reported[line["idx"]] = line["run_id"]
    assert sorted(reported) == list(range(N_PROCS))

    client = open_client(store)
    runs = client.search_runs(experiment="concurrency", limit=100)
    assert {r.id for r in runs} == set(reported.values())
    for idx, run_id in reported.items():
        run = client.get_run(run_id)
        mode = "fluent" if idx % 2 == 0 else "batch"
        assert run.info.status == "FINISHED", (idx, run.info)
        assert run.info.error_name is None
        assert run.info.name == f"worker-{idx}"
        assert run.params == {"worker": str(idx), "mode": mode}
        assert run.tags == {"kind": mode, "worker": str(idx)}
        history = client.get_metric_history(run_id, "loss")
        assert len(history) == N_VALUES, (idx, len(history))
        assert [m.step for m in history] == list(range(N_VALUES))
        assert [m.value for m in history] == [i * 0.5 + idx for i in range(N_VALUES)]
        assert run.metrics == {"loss": (N_VALUES - 1) * 0.5 + idx}


_OPENER = """
client = Client(store)
print(json.dumps({"idx": idx, "experiments": len(client.list_experiments())}))
"""


@pytest.mark.usefixtures("store_dir")
def test_given_brand_new_store_when_8_processes_open_it_at_once_then_one_migration_wins(
    tmp_path: Path, open_client: Callable[..., Client]
) -> None:
    store = tmp_path / "brand-new"
    assert not store.exists()
    work = tmp_path / "work"
    work.mkdir()
    procs = [_spawn(_OPENER, work, i, store) for i in range(N_PROCS)]
    _start_together(procs, work)
    outputs = _finish(procs)
    assert sorted(json.loads(o.strip().splitlines()[-1])["idx"] for o in outputs) == list(
        range(N_PROCS)
    )

    with sqlite3.connect(store / "mlops.db") as db:
        versions = db.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert versions == [(HEAD,)]
    expected = {*schema.metadata.tables, "alembic_version"}
    user_tables = [t for t in tables if not t.startswith("sqlite_")]
    assert sorted(user_tables) == sorted(expected)

    client = open_client(store)
    run_id = client.create_run("after-migration", "first")
    client.log_metric(run_id, "acc", 0.5)
    client.end_run(run_id)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.metrics == {"acc": 0.5}


_READ_WRITE = """
N_RUNS, HALF = 30, 15
if idx == 0:  # the writer
    client = Client(store)
    for i in range(N_RUNS):
        run_id = client.create_run("rw", f"run-{i}")
        client.log_batch(
            run_id,
            metrics=[("loss", 1.0 / (s + 1), s) for s in range(50)],
            params={"i": i},
            tags={"half": "first" if i < HALF else "second"},
        )
        client.end_run(run_id)
        if i == HALF - 1:
            # Wait until the reader has seen the store half written, so reads and writes
            # are known to interleave (whatever the scheduling).
            deadline = time.monotonic() + 60
            while not (work / "reader-saw-half").exists():
                if time.monotonic() > deadline:
                    sys.exit("the reader never saw the first half")
                time.sleep(0.005)
    (work / "writer-done").touch()
    print(json.dumps({"idx": idx, "runs": N_RUNS}))
else:  # the reader
    client = Client(store)
    reads, last = 0, 0
    while True:
        done = (work / "writer-done").exists()
        page = client.search_runs_page(
            filter="params.i >= 0 and (tags.half = 'first' or tags.half = 'second')",
            order_by=["params.i DESC"],
            limit=10,
        )
        runs = page.runs
        if [int(r.params["i"]) for r in runs] != sorted(
            (int(r.params["i"]) for r in runs), reverse=True
        ):
            sys.exit("runs are not sorted by params.i DESC")
        reads += 1
        count = page.total
        if count < last:
            sys.exit(f"run count went down from {last} to {count}")
        last = count
        for run in runs[:3]:
            full = client.get_run(run.id)
            if full.info.status not in ("RUNNING", "FINISHED"):
                sys.exit(f"unexpected status {full.info.status}")
        if count >= HALF:
            (work / "reader-saw-half").touch()
        if done:
            break
    print(json.dumps({"idx": idx, "reads": reads, "seen": last}))
"""


def test_given_a_writer_when_another_process_searches_in_a_loop_then_no_errors(
    tmp_path: Path,
    client: Client,
    store_dir: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    procs = [_spawn(_READ_WRITE, work, i, store_dir) for i in range(2)]
    _start_together(procs, work)
    writer_out, reader_out = (json.loads(o.strip().splitlines()[-1]) for o in _finish(procs))

    assert writer_out["runs"] == 30
    assert reader_out["seen"] == 30  # its last read came after the writer had finished
    assert reader_out["reads"] >= 2
    runs = client.search_runs(experiment="rw", limit=100)
    assert len(runs) == 30
    assert all(r.info.status == "FINISHED" for r in runs)
    assert all(len(client.get_metric_history(r.id, "loss")) == 50 for r in runs)
