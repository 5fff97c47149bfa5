"""Shadow and canary trials inside a real model server: a rollout puts a candidate beside the
served version; the server loads it, sends it a copy of the traffic (shadow, recorded apart)
or a share of it (canary, its failures answered by the served version), and drops it when the
rollout ends. Real server processes over real HTTP, a SQLite store in a temporary folder."""

from __future__ import annotations

import re
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_helpers import FEATURES, call, frame, register, split_body, wait_for
from sklearn.dummy import DummyClassifier

from jupyter_mlops import Client
from jupyter_mlops.serving import ServeOptions, ServerHandle, start_server

pytestmark = pytest.mark.slow


@pytest.fixture
def store(served_store: Client) -> Client:
    return served_store


def constant(client: Client, name: str, answer: int) -> int:
    """A new version of ``name`` that answers ``answer`` to every row: the answer names
    the version that gave it."""
    X, _ = frame(20)
    model = DummyClassifier(strategy="constant", constant=answer).fit(X, np.full(20, answer))
    return register(client, name, model, X.head(2))


def failing(client: Client, name: str) -> int:
    """A new version of ``name`` (same inputs) whose every prediction raises."""

    class Broken:
        n_features_in_ = len(FEATURES)

        def predict(self, X):  # type: ignore[no-untyped-def]
            raise RuntimeError("candidate internal detail")

    X, _ = frame(20)
    return register(client, name, Broken(), X.head(2))


def rollout(client: Client, name: str, candidate: int, champion: int, **kw: Any) -> str:
    kw.setdefault("mode", "canary")
    kw.setdefault("share", 1.0)
    return client.start_rollout(
        name, candidate, target="@champion", criteria={}, champion=champion, **kw
    ).id


def trial_of(handle: ServerHandle) -> Any:
    return call(handle.url, "/version").json()["trial"]


def wait_trial(handle: ServerHandle, rollout_id: str | None) -> dict[str, Any] | None:
    """Until the server's trial is that rollout's (or none)."""

    def seen() -> Any:
        trial = trial_of(handle)
        if rollout_id is None:
            return trial is None
        return trial if trial is not None and trial["rollout_id"] == rollout_id else None

    found = wait_for(seen)
    return None if rollout_id is None else found


def rows(n: int, seed: int = 3) -> pd.DataFrame:
    return frame(n, seed=seed)[0]


def invoke(handle: ServerHandle, row: pd.DataFrame, rid: str) -> tuple[int, Any]:
    reply = call(handle.url, "/invocations", split_body(row), headers={"X-Request-ID": rid})
    return reply.status, reply.json()["predictions"][0] if reply.status == 200 else None


def infer(handle: ServerHandle, name: str, row: pd.DataFrame, rid: str) -> tuple[int, Any]:
    body = {
        "inputs": [
            {"name": c, "shape": [1], "datatype": "FP64", "data": [float(row[c].iloc[0])]}
            for c in FEATURES
        ]
    }
    reply = call(handle.url, f"/v2/models/{name}/infer", body, headers={"X-Request-ID": rid})
    return reply.status, reply.json()


def recorded(
    client: Client, name: str, want: set[str], shadow: bool | None = False
) -> pd.DataFrame:
    """The recorded rows of ``name`` once every request id of ``want`` is among them."""

    def ready() -> pd.DataFrame | None:
        table = client.read_predictions(name, shadow=shadow).to_pandas()
        return table if "request_id" in table and want <= set(table.request_id) else None

    return wait_for(ready)


def test_given_a_shadow_rollout_then_the_champion_answers_and_the_candidate_is_recorded_apart(
    store: Client,
):
    v1, v2 = constant(store, "shadowed", 10), constant(store, "shadowed", 20)
    store.set_model_alias("shadowed", "champion", v1)
    handle = start_server(store, "shadowed@champion", ServeOptions())
    rid = rollout(store, "shadowed", v2, v1, mode="shadow", share=0.0)
    trial = wait_trial(handle, rid)
    assert trial == {"rollout_id": rid, "mode": "shadow", "share": 0.0, "candidate": v2}
    X = rows(40)
    sent = {}
    for i in range(len(X)):
        request_id = f"s-{i}"
        if i % 2:
            status, reply = infer(handle, "shadowed", X.iloc[[i]], request_id)
            assert status == 200 and reply["model_version"] == str(v1)
            assert reply["outputs"][0]["data"] == [10]
        else:
            assert invoke(handle, X.iloc[[i]], request_id) == (200, 10)
        sent[request_id] = i
    shadow = recorded(store, "shadowed", set(sent), shadow=True)
    served = recorded(store, "shadowed", set(sent))
    assert len(served) == len(sent) and set(served.version) == {v1}
    assert (served["output.prediction"] == 10).all()
    assert len(shadow) == len(sent) and set(shadow.version) == {v2}
    assert (shadow["output.prediction"] == 20).all() and (shadow.status == 200).all()
    assert shadow["shadow"].all() and (shadow.latency_ms > 0).all()
    # The candidate predicted the very inputs the champion answered.
    both = served.merge(shadow, on="request_id", suffixes=("", "_shadow"))
    for column in FEATURES:
        assert (both[f"input.{column}"] == both[f"input.{column}_shadow"]).all()
    assert (both["at"] == both["at_shadow"]).all()
    everything = store.read_predictions("shadowed", shadow=None).to_pandas()
    assert sorted(everything.version.tolist()) == [v1] * len(sent) + [v2] * len(sent)
    metrics = call(handle.url, "/metrics").body.decode()
    assert 'mlops_trial_predictions_total{model="shadowed",outcome="ok"} 40' in metrics
    handle.stop()


def test_given_a_canary_of_half_then_both_versions_answer_and_each_answer_is_recorded_as_its_own(
    store: Client,
):
    v1, v2 = constant(store, "canaried", 10), constant(store, "canaried", 20)
    store.set_model_alias("canaried", "champion", v1)
    handle = start_server(store, "canaried@champion", ServeOptions())
    rid = rollout(store, "canaried", v2, v1, share=0.5)
    assert wait_trial(handle, rid)["share"] == 0.5
    X = rows(200)
    answers: dict[str, int] = {}
    for i in range(len(X)):
        request_id = f"c-{i}"
        if i % 2:
            status, reply = infer(handle, "canaried", X.iloc[[i]], request_id)
            assert status == 200
            answer = reply["outputs"][0]["data"][0]
            # The v2 answer names the version that gave it.
            assert reply["model_version"] == str({10: v1, 20: v2}[answer])
        else:
            status, answer = invoke(handle, X.iloc[[i]], request_id)
            assert status == 200
        answers[request_id] = answer
    counts = {a: sum(1 for v in answers.values() if v == a) for a in (10, 20)}
    assert set(answers.values()) == {10, 20} and 40 < counts[20] < 160, counts
    table = recorded(store, "canaried", set(answers))
    assert len(table) == len(answers) and (table.status == 200).all()
    pairs = zip(table.version, table["output.prediction"], strict=True)
    by_request = dict(zip(table.request_id, pairs, strict=True))
    assert all(by_request[r] == ({10: v1, 20: v2}[a], a) for r, a in answers.items())
    assert store.read_predictions("canaried", shadow=True).num_rows == 0
    handle.stop()


def test_given_a_canary_that_fails_then_no_client_sees_it_and_its_failures_are_recorded_as_its(
    store: Client,
):
    v1 = constant(store, "brittle", 10)
    v2 = failing(store, "brittle")
    store.set_model_alias("brittle", "champion", v1)
    handle = start_server(store, "brittle@champion", ServeOptions())
    rid = rollout(store, "brittle", v2, v1, share=0.5)
    wait_trial(handle, rid)
    X = rows(200)
    replies = []
    for i in range(len(X)):
        request_id = f"b-{i}"
        if i % 2:
            status, reply = infer(handle, "brittle", X.iloc[[i]], request_id)
            replies.append((status, reply["model_version"], reply["outputs"][0]["data"][0]))
        else:
            status, answer = invoke(handle, X.iloc[[i]], request_id)
            replies.append((status, str(v1), answer))
    assert [r for r in replies if r != (200, str(v1), 10)] == []
    ids = {f"b-{i}" for i in range(len(X))}
    metrics = call(handle.url, "/metrics").body.decode()
    assert 'mlops_requests_total{model="brittle",status="5xx"} 0' in metrics
    errors = re.search(
        r'mlops_trial_predictions_total\{model="brittle",outcome="error"\} (\d+)', metrics
    )
    assert errors is not None and int(errors.group(1)) > 0
    # Every failure is recorded, as the candidate's, beside the champion's answer.
    wanted = int(errors.group(1))

    def complete() -> pd.DataFrame | None:
        table = recorded(store, "brittle", ids)
        return table if (table.version == v2).sum() == wanted else None

    table = wait_for(complete)
    served = table[table.version == v1]
    failed = table[table.version == v2]
    assert len(served) == len(ids) and (served.status == 200).all()
    assert (failed.status == 500).all() and set(failed.request_id) <= ids
    assert all("RuntimeError" in e and "internal detail" not in e for e in failed["error"])
    handle.stop()
    log = (store.location.home / "server-logs" / f"{handle.id}.log").read_text()
    assert "candidate internal detail" in log


def test_given_a_rollout_ended_or_promoted_then_the_server_drops_the_trial(store: Client):
    v1, v2 = constant(store, "ended", 10), constant(store, "ended", 20)
    v3 = constant(store, "ended", 30)
    store.set_model_alias("ended", "champion", v1)
    handle = start_server(store, "ended@champion", ServeOptions())
    X = rows(20)
    first = rollout(store, "ended", v2, v1)  # a canary of every request
    wait_trial(handle, first)
    assert {invoke(handle, X.iloc[[i]], uuid.uuid4().hex)[1] for i in range(10)} == {20}
    store.end_rollout(first, "rolled_back", "worse than the champion")
    wait_trial(handle, None)
    assert {invoke(handle, X.iloc[[i]], uuid.uuid4().hex)[1] for i in range(10)} == {10}
    # Promotion: the alias moves to the candidate, then the rollout ends promoted.
    second = rollout(store, "ended", v3, v1)
    wait_trial(handle, second)
    store.set_model_alias("ended", "champion", v3)
    wait_for(lambda: call(handle.url, "/version").json()["version"] == v3)
    wait_trial(handle, None)  # the candidate is what the server serves now
    store.end_rollout(second, "promoted", "as good as the champion")
    assert {invoke(handle, X.iloc[[i]], uuid.uuid4().hex)[1] for i in range(10)} == {30}
    assert call(handle.url, "/version").json()["trial"] is None
    handle.stop()


def test_given_an_active_rollout_then_a_server_started_after_takes_the_trial_and_a_pinned_not(
    store: Client,
):
    v1, v2 = constant(store, "late", 10), constant(store, "late", 20)
    store.set_model_alias("late", "champion", v1)
    rid = rollout(store, "late", v2, v1)
    handle = start_server(store, "late@champion", ServeOptions())
    pinned = start_server(store, f"late/{v1}", ServeOptions())
    assert wait_trial(handle, rid)["candidate"] == v2
    assert invoke(handle, rows(1), "late-1") == (200, 20)
    assert call(pinned.url, "/version").json()["trial"] is None
    assert invoke(pinned, rows(1), "late-2") == (200, 10)
    handle.stop()
    pinned.stop()


def test_given_a_candidate_that_cannot_load_then_the_server_serves_on_without_a_trial(
    store: Client,
):
    class Unloadable:
        n_features_in_ = len(FEATURES)

        def __init__(self) -> None:
            self.weights = [1.0]

        def predict(self, X):  # type: ignore[no-untyped-def]
            return np.zeros(len(X))

        def __setstate__(self, state):  # type: ignore[no-untyped-def]
            raise RuntimeError("these bytes do not load here")

    v1 = constant(store, "unloadable", 10)
    X, _ = frame(20)
    v2 = register(store, "unloadable", Unloadable(), X.head(2))
    store.set_model_alias("unloadable", "champion", v1)
    handle = start_server(store, "unloadable@champion", ServeOptions())
    rollout(store, "unloadable", v2, v1)
    log = store.location.home / "server-logs" / f"{handle.id}.log"
    wait_for(lambda: "cannot load candidate" in log.read_text())
    assert trial_of(handle) is None
    assert invoke(handle, rows(1), "u-1") == (200, 10)
    handle.stop()


def test_given_shadow_records_then_they_are_written_in_tables_of_their_own_with_the_flag():
    from jupyter_mlops.serving.recorder import tables_of

    X = np.array([[1.0, 2.0]])
    records = [
        ("r1", 1000, 1, 200, 1.5, ["a", "b"], X, "prediction", np.array([0]), None, None),
        ("r1", 1000, 2, 200, 1.7, ["a", "b"], X, "prediction", np.array([1]), None, None, True),
        ("r2", 1001, 1, 200, 0.5, ["a", "b"], X, "prediction", np.array([1]), None, None, False),
        ("r2", 1001, 2, 500, 0.9, None, None, "", None, "The candidate failed", None, True),
    ]  # fmt: skip
    served, shadow, failed = tables_of(records)  # type: ignore[arg-type]
    assert "shadow" not in served.column_names
    assert served.column("request_id").to_pylist() == ["r1", "r2"]
    assert shadow.column("version").to_pylist() == [2]
    assert shadow.column("shadow").to_pylist() == [True]
    assert failed.column("status").to_pylist() == [500]
    assert failed.column("shadow").to_pylist() == [True]
