"""Schedules and triggers: cron with timezones, missed runs, leases, exactly-once firing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from notebook_helpers import write_notebook

from jupyter_mlops.client import Client
from jupyter_mlops.client.schedules import next_fire_time
from jupyter_mlops.entities import Schedule
from jupyter_mlops.exceptions import InvalidInput, NotFound
from jupyter_mlops.pipelines import RunOptions
from jupyter_mlops.pipelines.scheduler import LEASE_NAME, Scheduler, schedule_pipeline

MINUTE = 60_000


def ms(text: str, zone: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)


def write_pipeline(folder: Path, name: str = "nightly") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_notebook(folder / "step.ipynb", "rows = 3", "total = sum(range(rows))")
    path = folder / "pipeline.yaml"
    path.write_text(f"name: {name}\nsteps:\n  - name: only\n    notebook: step.ipynb\n")
    return path


def add_schedule(
    client: Client, path: Path, params: dict[str, Any] | None = None, **kwargs: Any
) -> Schedule:
    return schedule_pipeline(client, path, options=RunOptions(params=params or {}), **kwargs)


class Recorder:
    """A launcher that records firings instead of starting processes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, schedule: Schedule, run_id: str, trigger: str) -> None:
        with self.lock:
            self.calls.append((schedule.id, run_id, trigger))


# -- cron ------------------------------------------------------------------------------------


def test_given_cron_and_timezone_then_next_time_keeps_wall_clock_across_dst() -> None:
    # Paris moves to summer time on 2026-03-29: 03:00 local is 02:00 UTC before, 01:00 after.
    before = next_fire_time("0 3 * * *", "Europe/Paris", ms("2026-03-27T12:00"))
    after = next_fire_time("0 3 * * *", "Europe/Paris", ms("2026-03-29T12:00"))
    assert before == ms("2026-03-28T02:00")
    assert after == ms("2026-03-30T01:00")
    assert next_fire_time("*/15 * * * *", "UTC", ms("2026-01-01T10:07")) == ms("2026-01-01T10:15")


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("0 3 * *", "UTC", "5 fields"),
        ("61 3 * * *", "UTC", "invalid cron"),
        ("0 3 * * *", "Mars/Olympus", "unknown timezone"),
    ],
)
def test_given_bad_cron_or_timezone_then_invalid_input_says_what(
    cron: str, zone: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        next_fire_time(cron, zone, ms("2026-01-01T00:00"))


def test_given_schedule_arguments_then_they_are_checked_before_storing(
    client: Client, tmp_path: Path
) -> None:
    path = write_pipeline(tmp_path / "p")
    with pytest.raises(InvalidInput, match="either a cron"):
        add_schedule(client, path)
    with pytest.raises(InvalidInput, match="either a cron"):
        add_schedule(client, path, cron="0 3 * * *", dataset="train")
    with pytest.raises(InvalidInput, match="missed-run policy"):
        add_schedule(client, path, cron="0 3 * * *", missed="sometimes")
    with pytest.raises(InvalidInput, match="not declared"):
        add_schedule(client, path, cron="0 3 * * *", params={"colour": "red"})
    with pytest.raises(NotFound):
        add_schedule(client, tmp_path / "nope.yaml", cron="0 3 * * *")
    assert client.list_schedules() == []

    row = add_schedule(client, path, cron="0  3 * * *", timezone="Europe/Paris")
    assert row.cron == "0 3 * * *" and row.kind == "cron" and row.enabled
    assert row.pipeline_path == str(path.resolve()) and row.pipeline == "nightly"
    assert row.next_run_time is not None and row.next_run_time > time.time() * 1000


def _due_schedule(client: Client, path: Path, due: int, **kwargs: Any) -> Schedule:
    row = add_schedule(client, path, cron="0 * * * *", **kwargs)
    # Arranged in the store: an occurrence that is due at ``due``.
    return client.store.update_schedule(row.id, {"next_run_time": due})


def test_given_a_due_cron_then_it_fires_once_and_moves_to_the_next_time(
    client: Client, tmp_path: Path
) -> None:
    row = _due_schedule(client, write_pipeline(tmp_path / "p"), ms("2026-05-01T10:00"))
    launcher = Recorder()
    scheduler = Scheduler(client, launch=launcher)

    assert scheduler.tick(ms("2026-05-01T09:59")) == []  # not yet
    fired = scheduler.tick(ms("2026-05-01T10:00:20"))
    assert [f.due for f in fired] == [ms("2026-05-01T10:00")]
    assert scheduler.tick(ms("2026-05-01T10:00:30")) == []  # same occurrence: never twice
    after = client.get_schedule(row.id)
    assert after.next_run_time == ms("2026-05-01T11:00")
    assert after.last_run_id == fired[0].run_id
    assert launcher.calls == [(row.id, fired[0].run_id, f"schedule:{row.id}")]


@pytest.mark.parametrize(("policy", "expected"), [("skip", 0), ("once", 1), ("all", 3)])
def test_given_missed_occurrences_then_the_policy_decides_how_many_runs(
    client: Client, tmp_path: Path, policy: str, expected: int
) -> None:
    # Due at 10:00; no scheduler ran until 12:30: 10:00, 11:00 and 12:00 were missed.
    row = _due_schedule(
        client, write_pipeline(tmp_path / "p"), ms("2026-05-01T10:00"), missed=policy
    )
    launcher = Recorder()

    fired = Scheduler(client, launch=launcher).tick(ms("2026-05-01T12:30"))

    assert len(fired) == len(launcher.calls) == expected
    if policy == "all":
        assert [f.due for f in fired] == [ms(f"2026-05-01T{h}:00") for h in (10, 11, 12)]
    assert client.get_schedule(row.id).next_run_time == ms("2026-05-01T13:00")


def test_given_skip_policy_then_an_occurrence_within_grace_still_runs(
    client: Client, tmp_path: Path
) -> None:
    _due_schedule(client, write_pipeline(tmp_path / "p"), ms("2026-05-01T10:00"))
    fired = Scheduler(client, launch=Recorder(), grace=60).tick(ms("2026-05-01T10:00:45"))
    assert len(fired) == 1


def test_given_disabled_schedule_then_it_never_fires_and_enabling_counts_from_now(
    client: Client, tmp_path: Path
) -> None:
    row = _due_schedule(client, write_pipeline(tmp_path / "p"), ms("2026-05-01T10:00"))
    disabled = client.set_schedule_enabled(row.id[:6], False)
    assert disabled.enabled is False and disabled.to_dict()["next_run_time"] is None
    assert Scheduler(client, launch=Recorder()).tick(ms("2026-05-01T10:00:10")) == []

    enabled = client.set_schedule_enabled(row.id, True)
    # What passed meanwhile is not missed.
    assert enabled.next_run_time is not None and enabled.next_run_time > time.time() * 1000


# -- exactly once ----------------------------------------------------------------------------


def test_given_a_lease_then_only_its_holder_fires_until_it_expires(client: Client) -> None:
    store = client
    assert store.acquire_lease(LEASE_NAME, "a", 1000, 0)
    assert not store.acquire_lease(LEASE_NAME, "b", 1000, 500)
    assert store.acquire_lease(LEASE_NAME, "a", 1000, 900)  # renewal
    assert store.lease_holder(LEASE_NAME, 1500) == "a"
    assert store.acquire_lease(LEASE_NAME, "b", 1000, 2000)  # a stopped renewing
    store.release_lease(LEASE_NAME, "a")  # not a's any more: no effect
    assert store.lease_holder(LEASE_NAME, 2500) == "b"
    store.release_lease(LEASE_NAME, "b")
    assert store.lease_holder(LEASE_NAME, 2500) is None


def test_given_two_claims_of_one_due_time_then_exactly_one_wins(
    client: Client, tmp_path: Path
) -> None:
    row = _due_schedule(client, write_pipeline(tmp_path / "p"), 1000)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(client.claim_cron(row, 2))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_given_many_schedulers_ticking_at_once_then_a_due_job_fires_exactly_once(
    store_dir: Path, tmp_path: Path, open_client: Callable[..., Client]
) -> None:
    path = write_pipeline(tmp_path / "p")
    setup = open_client(store_dir)
    _due_schedule(setup, path, ms("2026-05-01T10:00"))
    launcher = Recorder()
    # Each scheduler with its own Client (its own connections), as separate processes have.
    schedulers = [Scheduler(open_client(store_dir), launch=launcher) for _ in range(6)]
    barrier = threading.Barrier(len(schedulers))

    def run(s: Scheduler) -> None:
        barrier.wait()
        for second in range(5):
            s.tick(ms(f"2026-05-01T10:00:0{second}"))

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(launcher.calls) == 1
    assert sum(s.leading for s in schedulers) == 1


@pytest.mark.kernel
def test_given_two_scheduler_processes_on_one_store_then_a_due_pipeline_runs_exactly_once(
    store_dir: Path, tmp_path: Path, open_client: Callable[..., Client]
) -> None:
    path = write_pipeline(tmp_path / "p")
    client = open_client(store_dir)
    # Yearly, so that the only due occurrence in this test is the one set below.
    row = add_schedule(client, path, cron="0 0 1 1 *")
    # Due a moment ago: both schedulers see it on their first look.
    client.store.update_schedule(row.id, {"next_run_time": int(time.time() * 1000) - 1000})
    env = {**os.environ, "JUPYTER_MLOPS_HOME": str(store_dir)}
    env.pop("JUPYTER_MLOPS_STORE", None)
    cmd = [sys.executable, "-m", "jupyter_mlops.cli", "scheduler", "--poll", "0.2"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        runs: list[Any] = []
        while time.monotonic() < deadline:
            runs = client.search_runs(filter="tags.`mlops.pipeline_run` = 'nightly'")
            if runs and runs[0].info.status != "RUNNING":
                break
            time.sleep(0.3)
        time.sleep(2)  # ten more polls by each: still one run
        runs = client.search_runs(filter="tags.`mlops.pipeline_run` = 'nightly'")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=30)[0].decode() for p in procs]
    assert len(runs) == 1, outputs
    assert runs[0].info.status == "FINISHED", outputs
    assert runs[0].tags["mlops.trigger"] == f"schedule:{row.id}"
    assert sum("leads" in out for out in outputs) >= 1
    # Stopping released the lease for the next scheduler.
    assert client.lease_holder(LEASE_NAME) is None


# -- triggers --------------------------------------------------------------------------------


def _new_version(client: Client, rows: int, name: str = "train", run_tags: Any = None) -> None:
    rid = client.create_run("data", "make data", tags=run_tags)
    client.log_dataset(rid, pd.DataFrame({"x": range(rows)}), name=name, role="output")
    client.end_run(rid)


def test_given_a_dataset_trigger_then_each_batch_of_new_versions_starts_one_run(
    client: Client, tmp_path: Path
) -> None:
    _new_version(client, 5)  # before the trigger: ignored
    row = add_schedule(client, write_pipeline(tmp_path / "p"), dataset="train")
    assert row.kind == "event" and row.to_dict()["event"] == {
        "type": "dataset.version",
        "key": "train",
    }
    launcher = Recorder()
    scheduler = Scheduler(client, launch=launcher)
    assert scheduler.tick() == []

    _new_version(client, 6)
    _new_version(client, 7)
    _new_version(client, 3, name="other")  # another dataset
    fired = scheduler.tick()
    assert len(fired) == 1 and fired[0].trigger.startswith("event:")
    assert scheduler.tick() == []

    _new_version(client, 7)  # the same content: no new version, no event
    assert scheduler.tick() == []
    _new_version(client, 8)
    assert len(scheduler.tick()) == 1


def test_given_a_version_written_by_the_pipeline_itself_then_it_does_not_retrigger(
    client: Client, tmp_path: Path
) -> None:
    add_schedule(client, write_pipeline(tmp_path / "p"), dataset="train")
    scheduler = Scheduler(client, launch=Recorder())
    _new_version(client, 9, run_tags={"mlops.pipeline": "nightly"})
    assert scheduler.tick() == []
    _new_version(client, 10, run_tags={"mlops.pipeline": "another"})
    assert len(scheduler.tick()) == 1


def test_given_a_disabled_trigger_then_versions_meanwhile_are_not_replayed(
    client: Client, tmp_path: Path
) -> None:
    row = add_schedule(client, write_pipeline(tmp_path / "p"), dataset="train")
    client.set_schedule_enabled(row.id, False)
    scheduler = Scheduler(client, launch=Recorder())
    _new_version(client, 11)
    assert scheduler.tick() == []
    client.set_schedule_enabled(row.id, True)
    assert scheduler.tick() == []


@pytest.mark.kernel
def test_given_a_new_dataset_version_then_its_pipeline_really_runs(
    client: Client, tmp_path: Path
) -> None:
    row = add_schedule(client, write_pipeline(tmp_path / "p"), dataset="train")
    scheduler = Scheduler(client)  # the real launcher: a `pipelines run` process
    _new_version(client, 12)

    fired = scheduler.tick()

    assert len(fired) == 1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            run = client.get_run(fired[0].run_id)
        except NotFound:
            run = None
        if run is not None and run.info.status != "RUNNING":
            break
        time.sleep(0.3)
    assert run is not None and run.info.status == "FINISHED"
    assert run.tags["mlops.trigger"] == fired[0].trigger
    assert client.get_schedule(row.id).last_run_id == fired[0].run_id
