"""Processes that die: killed kernels and scripts become KILLED runs; buffered values survive
a normal exit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from jupyter_mlops import capture
from jupyter_mlops.client import STALE_AFTER_S, Client, now_ms
from jupyter_mlops.config import HOME_ENV, STORE_ENV
from jupyter_mlops.entities import Run

T = TypeVar("T")
POLL_TIMEOUT_S = 20.0


def _poll(fetch: Callable[[], T], ok: Callable[[T], bool], what: str) -> T:
    """Fetch until ``ok``; fail with the last value after POLL_TIMEOUT_S."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; last value: {value!r}")
        time.sleep(0.1)


def _assert_killed(run: Run) -> None:
    assert run.info.status == "KILLED", run.info
    assert run.info.error_name == "ProcessDied"
    assert run.info.error_value
    assert run.info.end_time is not None
    assert run.info.end_time >= run.info.start_time


def _child_env(store_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, HOME_ENV: str(store_dir), **extra}
    env.pop(STORE_ENV, None)
    return env


@pytest.mark.kernel
def test_given_tracked_cell_in_real_kernel_when_kernel_is_sigkilled_then_run_is_killed(
    store_dir: Path, client: Client
) -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", env=_child_env(store_dir), startup_timeout=60)
    try:
        reply = kc.execute_interactive("%load_ext jupyter_mlops", timeout=60)
        assert reply["content"]["status"] == "ok"
        kc.execute(
            textwrap.dedent(
                """\
                %%track -e crash -n doomed
                import time
                import jupyter_mlops as mlops
                mlops.log_metric("loss", 0.25)
                time.sleep(60)
                """
            )
        )
        running = _poll(
            lambda: client.search_runs(filter="status = 'RUNNING'"),
            lambda runs: len(runs) == 1,
            "the tracked cell's run to be RUNNING",
        )
        run_id = running[0].id
        assert running[0].info.name == "doomed"
        kernel_pid = km.provisioner.process.pid
        assert running[0].info.pid == kernel_pid
        # The background writer flushes the buffered value within about a second.
        _poll(
            lambda: client.get_metric_history(run_id, "loss"),
            lambda history: len(history) == 1,
            "the buffered metric to be written",
        )

        os.kill(kernel_pid, signal.SIGKILL)

        run = _poll(
            lambda: client.get_run(run_id),
            lambda r: r.info.status != "RUNNING",
            "the run to be reconciled",
        )
        _assert_killed(run)
        assert run.metrics == {"loss": 0.25}
        assert run.info.source is not None and "time.sleep(60)" in run.info.source
    finally:
        with contextlib.suppress(Exception):
            kc.stop_channels()
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            km.cleanup_resources()


_VICTIM = """
import sys, time
import jupyter_mlops as mlops
mlops.set_store(sys.argv[1])
run = mlops.start_run("crash", "victim")
mlops.log_param("p", 1)
mlops.log_metric("x", 1.0)
mlops.flush()
print(run.id, flush=True)
time.sleep(60)
"""


def test_given_fluent_run_in_a_process_when_it_is_sigkilled_then_next_read_says_killed(
    store_dir: Path, client: Client
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _VICTIM, str(store_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_child_env(store_dir),
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert len(run_id) == 32, proc.stderr.read() if proc.stderr else ""
        assert client.store.get_run(run_id).info.status == "RUNNING"
    finally:
        proc.kill()  # SIGKILL
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    run = client.get_run(run_id)  # the first read after the death: no waiting needed

    _assert_killed(run)
    assert run.params == {"p": "1"}
    assert run.metrics == {"x": 1.0}


def _foreign_run(client: Client, name: str, heartbeat: int) -> str:
    exp = client.get_or_create_experiment("remote")
    run_id = uuid.uuid4().hex
    client.store.create_run(
        exp.id,
        {
            "id": run_id,
            "name": name,
            "start_time": heartbeat - 1000,
            "heartbeat": heartbeat,
            "user": "someone",
            "host": "elsewhere",
            "pid": 4_000_000,  # no such process here, but it runs on another host
            "pid_start": 1,
        },
    )
    return run_id


def test_given_running_runs_on_another_host_when_reconciled_then_only_the_stale_one_is_killed(
    client: Client,
) -> None:
    assert capture.host() != "elsewhere"
    now = now_ms()
    stale = _foreign_run(client, "stale", now - int(STALE_AFTER_S * 1000) - 600_000)
    fresh = _foreign_run(client, "fresh", now)
    local = client.create_run("remote", "local and alive")  # this very process

    killed = client.reconcile(force=True)

    assert killed == [stale]
    stale_run = client.store.get_run(stale)
    _assert_killed(stale_run)
    assert stale_run.info.end_time == now - int(STALE_AFTER_S * 1000) - 600_000
    assert client.store.get_run(fresh).info.status == "RUNNING"
    assert client.store.get_run(local).info.status == "RUNNING"
    assert client.reconcile(force=True) == []  # idempotent
    client.end_run(local)


_EXIT_WITHOUT_ENDING = """
import sys
import jupyter_mlops as mlops
mlops.set_store(sys.argv[1])
run = mlops.start_run("crash", "forgetful")
for i in range(5000):
    mlops.log_metric("loss", float(i))
print(run.id, flush=True)
# no end_run, no flush: only the interpreter-exit flush can save the values
"""


def test_given_5000_buffered_metrics_when_process_exits_normally_then_all_are_flushed(
    store_dir: Path, client: Client
) -> None:
    # A flush interval far beyond the child's life: the background thread never writes.
    env = _child_env(store_dir, JUPYTER_MLOPS_FLUSH_INTERVAL="3600")
    result = subprocess.run(
        [sys.executable, "-c", _EXIT_WITHOUT_ENDING, str(store_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    run_id = result.stdout.strip()

    history = client.get_metric_history(run_id, "loss")

    assert len(history) == 5000
    assert [m.step for m in history] == list(range(5000))
    run = client.get_run(run_id)
    assert run.info.status in ("KILLED", "FINISHED")
    assert run.metrics == {"loss": 4999.0}


def test_given_run_killed_for_an_overdue_heartbeat_when_its_owner_ends_it_then_record_agrees(
    client: Client,
) -> None:
    # README: a run from another host whose heartbeat is older than STALE_AFTER becomes
    # KILLED, although its process may live (a laptop asleep, a network partition). The
    # process then resumes and ends its run. A threshold in the future makes the heartbeat
    # overdue now, as if STALE_AFTER had passed since the last beat.
    run_id = client.create_run("suspended", "came back", attrs={"host": "elsewhere"})
    assert client.store.reconcile_dead_runs(
        now_ms() + 1, capture.host(), capture.is_alive, now_ms()
    ) == [run_id]
    assert client.store.get_run(run_id).info.status == "KILLED"

    client.end_run(run_id)

    info = client.store.get_run(run_id).info
    if info.status == "FINISHED":  # the owner's word wins: then no trace of a death remains
        assert info.error_name is None, (info.error_name, info.error_value)
        assert info.error_value is None
    else:  # or the reconciliation stands
        assert info.status == "KILLED"
