"""A candidate on trial in a real model server, judged by the continuous-training controller
on the traffic the server recorded: a failing canary and a slow shadow are rolled back with
no client ever seeing a failure; a sound canary takes the champion's alias and the server
switches by itself. Real server processes, real HTTP, the controller ticking in this
process as the scheduler's job would."""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import pytest
from serving_helpers import FEATURES, call, frame, register, split_body, wait_for
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import Client
from jupyter_mlops.automation.controller import ContinuousTraining
from jupyter_mlops.client import now_ms
from jupyter_mlops.serving import ServeOptions, ServerHandle, start_server

pytestmark = pytest.mark.slow
NAME = "churn"


def slow(model: Any) -> Any:
    """A sound model that takes 30 ms to answer (defined here, so it is saved by value and
    loads in the server's process)."""

    class Slow:
        n_features_in_ = len(FEATURES)

        def __init__(self, model: Any) -> None:
            self.model = model

        def predict(self, X: Any) -> Any:
            time.sleep(0.03)
            return self.model.predict(X)

    return Slow(model)


def broken() -> Any:
    class Broken:
        n_features_in_ = len(FEATURES)

        def predict(self, X: Any) -> Any:
            raise RuntimeError("the candidate cannot predict")

    return Broken()


@pytest.fixture
def store(served_store: Client) -> Client:
    return served_store


def _trial(store: Client, candidate: Any, mode: str, **criteria: Any) -> tuple[Any, ServerHandle]:
    X, y = frame(400)
    register(store, NAME, LogisticRegression().fit(X, y), X.head(2), alias="champion")
    version = register(store, NAME, candidate, X.head(2))
    loop = store.create_ct_loop(
        NAME, trigger={"kind": "manual"}, pipeline_path="", params={}, state="rollout",
        summary="a candidate on trial",
    )  # fmt: skip
    plan = {"mode": mode, "share": 0.5, "min_requests": 40, "min_labels": 20, **criteria}
    store.start_rollout(NAME, version, mode=mode, share=0.5, target="@champion", criteria=plan,
                        champion=1, loop_id=loop.id)  # fmt: skip
    server = start_server(store, f"{NAME}@champion", ServeOptions(port=0))
    wait_for(lambda: call(server.url, "/version").json()["trial"] is not None)
    return loop, server


def _traffic(store: Client, server: ServerHandle, n: int) -> list[tuple[int, Any]]:
    """``n`` one-row requests, each labelled right (by the rule the models were fit on)."""
    X, y = frame(n, seed=11)
    answers, labels = [], {}
    for i in range(n):
        rid = uuid.uuid4().hex
        reply = call(
            server.url, "/invocations", split_body(X.iloc[[i]]), headers={"X-Request-ID": rid}
        )
        answers.append((reply.status, reply.json().get("predictions")))
        labels[rid] = int(y[i])
    store.log_labels(NAME, labels)
    return answers


def _judged(store: Client, loop_id: str) -> Any:
    controller = ContinuousTraining(store, launch=lambda *_: None)

    def ended() -> Any:
        controller.tick(now_ms())
        loop = store.get_ct_loop(loop_id)
        return loop if loop.state == "done" else None

    return wait_for(ended, 60)


def test_given_a_failing_canary_when_judged_then_rolled_back_and_no_client_saw_a_failure(store):
    loop, server = _trial(store, broken(), "canary")
    answers = _traffic(store, server, 120)
    assert [s for s, _ in answers] == [200] * 120
    done = _judged(store, loop.id)
    assert done.outcome == "rolled_back" and "error rate" in done.reason
    wait_for(lambda: call(server.url, "/version").json()["trial"] is None)
    assert store.get_model_version_by_alias(NAME, "champion").version == 1
    assert all(s == 200 for s, _ in _traffic(store, server, 20))
    rollout = store.list_rollouts(NAME)[0]
    assert rollout.state == "rolled_back" and rollout.stats["candidate"]["errors"] > 0
    assert "rollout_end" in [e.action for e in store.model_audit(NAME)]


def test_given_a_slow_shadow_when_judged_then_rolled_back_on_latency(store):
    X, y = frame(400)
    loop, server = _trial(store, slow(LogisticRegression().fit(X, y)), "shadow",
                          max_latency_increase=1.0)  # fmt: skip
    answers = _traffic(store, server, 80)
    assert [s for s, _ in answers] == [200] * 80
    done = _judged(store, loop.id)
    assert done.outcome == "rolled_back" and "p95 latency" in done.reason
    stats = store.list_rollouts(NAME)[0].stats
    assert stats["candidate"]["p95_ms"] > 2 * stats["champion"]["p95_ms"]


def test_given_a_sound_canary_when_judged_then_it_takes_the_alias_and_the_server_switches(store):
    X, y = frame(400, seed=5)
    loop, server = _trial(store, LogisticRegression(C=0.5).fit(X, y), "canary")
    assert [s for s, _ in _traffic(store, server, 150)] == [200] * 150
    done = _judged(store, loop.id)
    assert done.outcome == "promoted", done.reason
    assert store.get_model_version_by_alias(NAME, "champion").version == 2
    wait_for(lambda: call(server.url, "/version").json()["version"] == 2)
    assert call(server.url, "/version").json()["trial"] is None
    assert np.isfinite(store.list_rollouts(NAME)[0].stats["candidate"]["p95_ms"])
