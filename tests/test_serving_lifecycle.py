"""A model server's life over real processes: it follows its alias or stage under load with no
failed request, stops itself when idle, and shows KILLED when its process is killed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import urllib.parse

import numpy as np
import pandas as pd
import pytest
from serving_helpers import FEATURES, call, register, wait_for
from sklearn.dummy import DummyClassifier

from jupyter_mlops import Client
from jupyter_mlops.serving import ServeOptions, start_server

pytestmark = pytest.mark.slow


@pytest.fixture
def store(served_store: Client) -> Client:
    return served_store


def constant_versions(client: Client, name: str, answers: list[int]) -> list[int]:
    """Versions of ``name`` that each answer one constant: the answer names the version."""
    X = pd.DataFrame(np.zeros((len(answers), len(FEATURES))), columns=FEATURES)
    y = np.array(answers)
    versions = []
    for answer in answers:
        model = DummyClassifier(strategy="constant", constant=answer).fit(X, y)
        versions.append(register(client, name, model, X.head(2)))
    return versions


BODY = {"dataframe_split": {"columns": FEATURES, "data": [[0.0, 0.0, 0.0, 0.0]]}}


def test_given_load_when_the_alias_moves_twice_then_no_request_fails_and_each_names_its_version(
    store: Client,
):
    v1, v2, v3 = constant_versions(store, "switch", [10, 20, 30])
    store.set_model_alias("switch", "champion", v1)
    handle = start_server(store, "switch@champion", ServeOptions(workers=2))
    answers: list[tuple[str, int, int]] = []  # (request id, status, prediction)
    stop = threading.Event()

    def client_loop(k: int) -> None:
        i = 0
        while not stop.is_set():
            rid = f"c{k}-{i}"
            reply = call(handle.url, "/invocations", BODY, headers={"X-Request-ID": rid})
            prediction = reply.json()["predictions"][0] if reply.status == 200 else -1
            answers.append((rid, reply.status, prediction))
            i += 1

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        store.set_model_alias("switch", "champion", v2)
        wait_for(lambda: bool(answers) and answers[-1][2] == 20)
        wait_for(lambda: store.get_model_server(handle.id).version == v2)  # recorded
        time.sleep(1.0)
        store.set_model_alias("switch", "champion", v3)
        wait_for(lambda: answers[-1][2] == 30)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(answers) > 100
    assert [a for a in answers if a[1] != 200] == []
    seen = {a[2] for a in answers}
    assert seen == {10, 20, 30}
    # Every recorded prediction names the version that made it (version k answers 10 k).
    want = {rid: prediction for rid, _, prediction in answers}

    def all_recorded() -> pd.DataFrame | None:
        table = store.read_predictions("switch").to_pandas()
        return table if set(want) <= set(table.request_id) else None

    table = wait_for(all_recorded, timeout=30)
    assert (table["output.prediction"] == table["version"] * 10).all()
    recorded = dict(zip(table.request_id, table["output.prediction"], strict=True))
    assert all(recorded[rid] == prediction for rid, prediction in want.items())
    record = wait_for(lambda: (r := store.get_model_server(handle.id)).version == v3 and r)
    assert record.stats["switches"] >= 2 or record.version == v3
    lineage = store.model_lineage("switch", v2)["served"]
    assert [s["server_id"] for s in lineage] == [handle.id]
    assert lineage[0]["serving_now"] is False and lineage[0]["until"] >= lineage[0]["since"]
    now = store.model_lineage("switch", v3)["served"]
    assert now[0]["serving_now"] is True and now[0]["until"] is None
    from jupyter_mlops.registry.card import lineage_text

    assert f"{handle.url} (models:/switch@champion" in lineage_text(
        store.model_lineage("switch", v3)
    )
    assert "serving now" in lineage_text(store.model_lineage("switch", v3))
    handle.stop()


def test_given_a_server_for_a_stage_then_it_follows_the_stage_and_a_pinned_one_does_not(
    store: Client,
):
    v1, v2 = constant_versions(store, "staged", [1, 2])
    store.transition_model_version_stage("staged", v1, "Production")
    by_stage = start_server(store, "staged/Production")
    pinned = start_server(store, f"staged/{v1}")
    try:
        assert call(by_stage.url, "/invocations", BODY).json()["predictions"] == [1]
        store.transition_model_version_stage("staged", v2, "Production")
        wait_for(lambda: call(by_stage.url, "/invocations", BODY).json()["predictions"] == [2])
        time.sleep(2.5)
        assert call(pinned.url, "/invocations", BODY).json()["predictions"] == [1]
        assert call(by_stage.url, "/version").json()["version"] == v2
    finally:
        by_stage.stop()
        pinned.stop()


def test_given_an_idle_timeout_then_an_unused_server_stops_itself_and_says_why(store: Client):
    (v1,) = constant_versions(store, "idle", [1])
    handle = start_server(store, f"idle/{v1}", ServeOptions(idle_timeout=2))
    assert call(handle.url, "/invocations", BODY).status == 200
    # Health checks and metric scrapes are not use: they do not keep it alive.
    for _ in range(15):
        try:
            call(handle.url, "/ping")
            call(handle.url, "/metrics")
        except OSError:  # it stopped meanwhile: what the test waits for
            break
        time.sleep(0.2)
    record = wait_for(
        lambda: (r := store.get_model_server(handle.id)).status != "RUNNING" and r, timeout=30
    )
    assert record.status == "STOPPED"
    assert record.reason.startswith("idle: no request for 2 s")
    assert record.stats["requests"] >= 1


def _port_open(url: str) -> bool:
    parsed = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=1):
            return True
    except OSError:
        return False


def test_given_a_killed_server_process_then_its_record_says_killed_and_workers_go(
    store: Client,
):
    (v1,) = constant_versions(store, "doomed", [1])
    handle = start_server(store, f"doomed/{v1}", ServeOptions(workers=2))
    pid = store.get_model_server(handle.id).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    record = wait_for(
        lambda: (r := store.get_model_server(handle.id)).status == "KILLED" and r, timeout=15
    )
    assert "stopped without ending its record" in record.reason
    assert record.ended_at is not None
    assert not store.list_model_servers(active_only=True)
    # Its workers die with it (parent-death signal): the port closes.
    wait_for(lambda: not _port_open(handle.url), timeout=20)


def test_given_serve_stop_from_another_process_then_the_server_ends_stopped(store: Client):
    import subprocess
    import sys

    (v1,) = constant_versions(store, "cli", [1])
    handle = start_server(store, f"cli/{v1}")
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--store", str(store.location.home),
         "serve", "stop", handle.id[:8]],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "STOPPED" in result.stdout and "stopped by request" in result.stdout
    assert not _port_open(handle.url)


def test_given_a_model_that_kills_its_worker_then_workers_restart_until_the_budget_then_failed(
    store: Client,
):
    class Fatal:
        n_features_in_ = 4

        def predict(self, X):
            if float(X[0][0]) > 100:
                os._exit(3)  # the worker process dies mid-request
            return np.zeros(len(X))

    register(store, "fatal", Fatal(), None)
    handle = start_server(store, "fatal/1")
    assert call(handle.url, "/invocations", {"instances": [[0, 0, 0, 0]]}).status == 200
    killer = {"instances": [[1000, 0, 0, 0]]}
    with pytest.raises(OSError):  # the connection dies with the worker
        call(handle.url, "/invocations", killer)
    # A replacement worker answers the next request.
    ok = wait_for(lambda: _answers(handle.url), timeout=60)
    assert ok
    for _ in range(8):  # past the crash budget
        with contextlib.suppress(OSError):
            call(handle.url, "/invocations", killer, timeout=60)
        if store.get_model_server(handle.id).status != "RUNNING":
            break
    record = wait_for(
        lambda: (r := store.get_model_server(handle.id)).status != "RUNNING" and r, timeout=60
    )
    assert record.status == "FAILED" and record.reason.startswith("Workers keep dying")
    assert "exit status 3" in record.reason
    wait_for(lambda: not _port_open(handle.url), timeout=20)


def _answers(url: str) -> bool:
    try:
        return call(url, "/invocations", {"instances": [[0, 0, 0, 0]]}, timeout=30).status == 200
    except OSError:
        return False
