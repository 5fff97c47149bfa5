"""The monitoring REST routes through a real Jupyter server (pytest-jupyter), on a store that
holds a registered model, its reference and hours of recorded traffic (written as a model
server records it) whose inputs drift after a few hours."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving_helpers import frame, register
from sklearn.linear_model import LogisticRegression
from test_registry_api import Lab

from jupyter_mlops.client import Client
from jupyter_mlops.entities import AlertState

HOUR = 3_600_000


def record_traffic(
    client: Client,
    name: str,
    model: Any,
    *,
    hours: int,
    drift_from: int,
    per_hour: int = 100,
    errors: int = 2,
    labels: bool = True,
) -> int:
    """``hours`` whole clock hours of one-row requests, the last one ending when the current
    hour began, recorded as the model server records them, with the model's predictions
    and class scores; from hour ``drift_from`` on, ``f0`` moves by +1.5 and the labels stop
    following the model (a changed world). The newest hour also holds ``errors`` refused
    requests. Returns the start of the first hour (ms)."""
    from jupyter_mlops.serving.recorder import tables_of

    first = (int(time.time() * 1000) // HOUR - hours) * HOUR
    records: list[Any] = []
    truth: dict[str, int] = {}
    for hour in range(hours):
        X, y = frame(per_hour, seed=100 + hour)
        if hour >= drift_from:
            X["f0"] += 1.5
            y = 1 - y
        predicted = model.predict(X)
        for i in range(per_hour):
            rid = uuid.uuid4().hex
            at = first + hour * HOUR + i * 1000
            records.append(
                (rid, at, 1, 200, 2.0 + i % 7, list(X.columns), X.iloc[[i]], "prediction",
                 predicted[i : i + 1], None, model.predict_proba)
            )  # fmt: skip
            truth[rid] = int(y[i])
    newest = first + (hours - 1) * HOUR + per_hour * 1000
    for i in range(errors):
        records.append(
            (uuid.uuid4().hex, newest + i, 1, 400, 0.5, None, None, "prediction", None,
             "bad input", None)
        )  # fmt: skip
    client.log_predictions(uuid.uuid4().hex, name, tables_of(records))
    if labels:
        client.log_labels(name, truth)
    return first


def seed_churn(client: Client, hours: int = 6, drift_from: int = 3) -> LogisticRegression:
    """churn v1 (a LogisticRegression on f0..f3) as @champion with its reference, and hours
    of traffic that drift; churn v2 registered without a reference."""
    from jupyter_mlops.monitoring.monitor import build_reference

    X, y = frame(3_000)
    model = LogisticRegression().fit(X, y)
    register(client, "churn", model, X.head(2), alias="champion")
    build_reference(client, "churn", 1, X, y)
    register(client, "churn", model, X.head(2))
    record_traffic(client, "churn", model, hours=hours, drift_from=drift_from)
    return model


def alert(name: str, rule: str, state: str, version: int | None, window_end: int) -> AlertState:
    now = int(time.time() * 1000)
    return AlertState(
        name=name,
        rule=rule,
        state=state,
        since=now,
        updated_at=now,
        value=0.75,
        window_end=window_end,
        levels=[state],
        version=version,
    )


def strict_json(text: str) -> Any:
    """JSON that holds no NaN or ±Infinity (Python's parser would accept them)."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"the reply holds {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def jp_server_config(mlops_store: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MlopsApp": {"store": str(mlops_store), "run_scheduler": False},
    }


@pytest.fixture
def client(mlops_store: Path, open_client: Callable[..., Client]) -> Client:
    return open_client(mlops_store)


@pytest.fixture
def lab(
    http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str], jp_serverapp: Any
) -> Lab:
    return Lab(http_server_client, jp_base_url, jp_auth_header)


@pytest.fixture
def churn(client: Client) -> str:
    seed_churn(client)
    return "churn"


async def report_of(lab: Lab, name: str, **params: Any) -> dict[str, Any]:
    """The report route's reply, read as strict JSON."""
    response = await lab.fetch("GET", lab.url("monitoring", "models", name, **params))
    text = response.body.decode()
    assert response.code == 200, text[:1000]
    reply: dict[str, Any] = strict_json(text)
    return reply


# -- the report ------------------------------------------------------------------------------


async def test_given_traffic_that_drifts_when_reported_by_hour_then_the_windows_say_so(
    lab: Lab, churn: str
) -> None:
    reply = await report_of(lab, churn, window="1h", windows=8)

    assert set(reply) == {"report", "alerts", "history"}
    report = reply["report"]
    assert (report["name"], report["window"], report["rows_per_window"]) == ("churn", "1h", None)
    assert report["references"]["1"]["rows"] == 3_000
    windows = report["windows"]
    assert len(windows) == 6 and [w["rows"] for w in windows] == [100] * 6
    drifted = [[d["column"] for d in w["drift"] if d["drifted"]] for w in windows]
    assert drifted == [[], [], [], ["f0"], ["f0"], ["f0"]]
    latest = windows[-1]
    assert latest["dataset_drift"]["drifted_columns"] == 1
    assert latest["dataset_drift"]["columns"] == 4
    assert latest["prediction_drift"]["drifted"] is True
    assert set(latest["distributions"]) == {"f0", "prediction"}
    assert latest["distributions"]["f0"]["kind"] == "numeric"
    assert windows[0]["quality"]["realised"]["accuracy"] > 0.9
    assert latest["quality"]["realised"]["accuracy"] < 0.5
    assert latest["quality"]["estimated"]["accuracy"] > 0.7
    ops = latest["operations"]
    assert ops["requests"] == 102 and ops["errors"] == 2 and ops["p95_ms"] > 0
    f0 = next(q for q in latest["data_quality"] if q["column"] == "f0")
    assert f0["out_of_range_share"] is not None
    assert reply["alerts"] == [] and reply["history"] == []


async def test_given_rows_when_reported_then_windows_hold_that_many_rows(
    lab: Lab, churn: str
) -> None:
    report = (await report_of(lab, churn, rows=150, windows=3))["report"]

    assert (report["window"], report["rows_per_window"]) == (None, 150)
    # The newest window's two refused requests count as rows of it, not as checked rows.
    assert [w["rows"] for w in report["windows"]] == [150, 150, 148]
    assert [d["column"] for d in report["windows"][-1]["drift"] if d["drifted"]] == ["f0"]


async def test_given_no_window_when_reported_then_the_configured_one_cuts_the_traffic(
    lab: Lab, churn: str, client: Client
) -> None:
    client.set_monitor_config(churn, {"window": "1d"})

    report = (await report_of(lab, churn))["report"]
    empty = (await report_of(lab, churn, window="", rows=""))["report"]

    assert report["window"] == "1d" and report["config"]["window"] == "1d"
    assert sum(w["rows"] for w in report["windows"]) == 600
    assert empty["window"] == "1d" and len(empty["windows"]) == len(report["windows"])


async def test_given_a_version_without_traffic_when_reported_then_no_window_and_a_note(
    lab: Lab, churn: str
) -> None:
    report = (await report_of(lab, churn, window="1h", version=2))["report"]

    assert report["windows"] == []
    assert any("No traffic" in n for n in report["notes"])


async def test_given_a_model_whose_name_holds_a_slash_when_reported_then_it_is_found(
    lab: Lab, client: Client
) -> None:
    X, y = frame(300)
    register(client, "team a/churn", LogisticRegression().fit(X, y), X.head(2))

    report = (await report_of(lab, "team a/churn", window="1h"))["report"]

    assert report["name"] == "team a/churn" and report["windows"] == []


async def test_given_alert_states_and_events_when_reported_then_they_come_with_the_report(
    lab: Lab, churn: str, client: Client
) -> None:
    end = int(time.time() * 1000) // HOUR * HOUR
    for i, state in enumerate(["warn", "alert", "ok"]):
        client.save_alert_state(alert(churn, "drift", state, 1, end - (3 - i) * HOUR), {"i": i})
    client.save_alert_state(alert(churn, "latency", "warn", 1, end), {"i": 9})

    reply = await report_of(lab, churn, window="1h")

    assert [(a["rule"], a["state"]) for a in reply["alerts"]] == [
        ("drift", "ok"),
        ("latency", "warn"),
    ]
    history = reply["history"]
    assert [e["payload"]["i"] for e in history] == [0, 1, 2, 9]
    assert {e["type"] for e in history} == {"monitor.alert"}
    assert history == sorted(history, key=lambda e: e["id"])


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"window": "soon"}, 400, "duration"),
        ({"window": "1h", "rows": "10"}, 400, "not both"),
        ({"rows": "0"}, 400, "rows"),
        ({"rows": "many"}, 400, "rows"),
        ({"windows": "0"}, 400, "windows"),
        ({"windows": "99999"}, 400, "windows"),
        ({"version": "latest"}, 400, "version"),
        ({"window": "x" * 100}, 400, "window"),
    ],
)
async def test_given_bad_arguments_when_reported_then_4xx_naming_them(
    lab: Lab, churn: str, params: dict[str, str], status: int, says: str
) -> None:
    reply = await lab.refused("GET", "monitoring", "models", churn, status=status, **params)

    assert says in reply["message"], reply


async def test_given_an_unknown_model_when_reported_then_404(lab: Lab, churn: str) -> None:
    reply = await lab.refused("GET", "monitoring", "models", "nobody", status=404, window="1h")

    assert reply["code"] == "NOT_FOUND" and "nobody" in reply["message"]


# -- the states of every model ---------------------------------------------------------------


async def test_given_models_references_and_alerts_when_states_read_then_each_version_says_its_own(
    lab: Lab, churn: str, client: Client
) -> None:
    X, y = frame(300)
    register(client, "fraud", LogisticRegression().fit(X, y), X.head(2))
    end = int(time.time() * 1000) // HOUR * HOUR
    client.save_alert_state(alert(churn, "drift", "alert", 1, end), {})
    client.save_alert_state(alert(churn, "latency", "warn", 1, end), {})

    models = {m["name"]: m for m in (await lab.call("GET", "monitoring", "states"))["models"]}

    assert set(models) == {"churn", "fraud"}
    churn_state = models["churn"]
    assert churn_state["state"] == "alert"
    assert sorted(a["rule"] for a in churn_state["alerts"]) == ["drift", "latency"]
    v1, v2 = sorted(churn_state["versions"], key=lambda v: v["version"])
    assert v1["reference"]["rows"] == 3_000 and v1["reference"]["created_at"] > 0
    assert isinstance(v1["reference"]["source"], str) and v1["state"] == "alert"
    # v2 is a model of its own (another run), with no reference built for it.
    assert v2["logged_model_id"] != v1["logged_model_id"]
    assert (v2["reference"], v2["state"]) == (None, None)
    assert models["fraud"]["state"] == "ok" and models["fraud"]["alerts"] == []
    assert [v["reference"] for v in models["fraud"]["versions"]] == [None]


async def test_given_an_empty_store_when_states_read_then_no_model(lab: Lab) -> None:
    assert await lab.call("GET", "monitoring", "states") == {"models": []}


# -- evaluating the alert rules --------------------------------------------------------------


async def test_given_rules_when_evaluated_then_states_are_stored_and_the_change_is_on_record(
    lab: Lab, churn: str, client: Client
) -> None:
    client.set_monitor_config(
        churn,
        {
            "alerts": {
                "window": "1h",
                "rules": [
                    {"name": "f0", "metric": "column_drift", "column": "f0", "above": 1},
                    {"name": "latency", "metric": "p95_ms", "above": 500},
                ],
            }
        },
    )

    reply = await lab.call("POST", "monitoring", "models", churn, "evaluate", body={})

    assert [(a["name"], a["rule"], a["state"]) for a in reply["alerts"]] == [
        (churn, "f0", "alert"),
        (churn, "latency", "ok"),
    ]
    assert [(s.rule, s.state) for s in client.list_alert_states(churn)] == [
        ("f0", "alert"),
        ("latency", "ok"),
    ]
    shown = await report_of(lab, churn, window="1h")
    assert [(e["payload"]["rule"], e["payload"]["state"]) for e in shown["history"]] == [
        ("f0", "alert")
    ]
    (state,) = (await lab.call("GET", "monitoring", "states"))["models"]
    assert state["state"] == "alert"
    assert {v["version"]: v["state"] for v in state["versions"]} == {1: "alert", 2: None}
    # The same windows again: nothing new to judge, the same states.
    again = await lab.call("POST", "monitoring", "models", churn, "evaluate")
    assert [a["state"] for a in again["alerts"]] == ["alert", "ok"]


async def test_given_bad_evaluations_then_404_for_no_model_and_400_for_a_body(
    lab: Lab, churn: str
) -> None:
    missing = await lab.refused("POST", "monitoring", "models", "nobody", "evaluate", status=404)
    extra = await lab.refused(
        "POST", "monitoring", "models", churn, "evaluate", body={"now": 1}, status=400
    )

    assert "nobody" in missing["message"] and "now" in extra["message"]


def test_given_the_traffic_helper_then_hours_are_whole_and_drift_where_told(
    tmp_path: Path, open_client: Callable[..., Client]
) -> None:
    client = open_client(tmp_path / "store")
    X, y = frame(500)
    model = LogisticRegression().fit(X, y)
    register(client, "churn", model, X.head(2))
    first = record_traffic(client, "churn", model, hours=3, drift_from=2, errors=0)

    table = client.read_predictions("churn")
    at = table.column("at").to_numpy()
    hours = np.unique((at - first) // HOUR)
    assert table.num_rows == 300 and hours.tolist() == [0, 1, 2]
    f0 = table.column("input.f0").to_numpy()
    assert f0[(at - first) // HOUR == 2].mean() > f0[(at - first) // HOUR == 0].mean() + 1
