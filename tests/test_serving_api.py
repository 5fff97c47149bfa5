"""The model servers' REST routes through a real Jupyter server (pytest-jupyter), starting
real model servers (their own processes) for a real scikit-learn version and calling them
over HTTP as any client would. Every server a test starts is stopped after it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from test_registry_api import Lab

from jupyter_mlops.client import Client
from jupyter_mlops.serving.launch import stop_server

ROWS = [[2.0, 1.5], [-2.0, -1.5]]


@pytest.fixture
def jp_server_config(mlops_store: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MlopsApp": {"store": str(mlops_store), "run_scheduler": False},
    }


@pytest.fixture
def client(mlops_store: Path, open_client: Callable[..., Client]) -> Iterator[Client]:
    """A Client of the server's store; every server still live after the test is stopped."""
    c = open_client(mlops_store)
    yield c
    for server in c.list_model_servers(active_only=True):
        with contextlib.suppress(Exception):
            stop_server(c, server.id, timeout=30)


@pytest.fixture
def lab(
    http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str], jp_serverapp: Any
) -> Lab:
    return Lab(http_server_client, jp_base_url, jp_auth_header)


@pytest.fixture
def churn(client: Client) -> str:
    """Given version 1 of "churn", a LogisticRegression on columns a and b, as @champion."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    y = (frame.a + frame.b > 0).astype(int)
    model = LogisticRegression().fit(frame, y)
    run = client.create_run("serving-api", "train")
    client.log_model(run, model, name="clf", input_example=frame.head(3))
    client.end_run(run)
    client.register_model(f"runs:/{run}/clf", "churn")
    client.set_model_alias("churn", "champion", 1)
    return "churn"


def invoke(url: str, rows: list[list[float]]) -> list[Any]:
    """The model server's predictions for ``rows``, asked as an MLflow client asks."""
    body = {"dataframe_split": {"columns": ["a", "b"], "data": rows}}
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        predictions: list[Any] = json.loads(response.read())["predictions"]
        return predictions


async def start(lab: Lab, target: str, **options: Any) -> dict[str, Any]:
    body = {"target": target, "options": {"record": True, **options}}
    record: dict[str, Any] = await lab.call("POST", "servers", body=body, status=201)
    return record


# -- start, list, read, stop ---------------------------------------------------------------------


async def test_given_a_version_when_started_over_rest_then_201_running_and_it_predicts(
    lab: Lab, churn: str, client: Client
) -> None:
    record = await start(lab, "churn/1")

    assert (record["name"], record["ref"], record["version"]) == ("churn", "/1", 1)
    assert record["status"] == "RUNNING" and record["url"].startswith("http://127.0.0.1:")
    assert record["started_by"] == await lab.user() != ""
    assert invoke(record["url"], ROWS) == [1, 0]
    assert client.get_model_server(record["id"]).status == "RUNNING"


async def test_given_an_alias_when_started_then_it_follows_the_alias_and_answers_its_version(
    lab: Lab, churn: str
) -> None:
    record = await start(lab, "churn@champion")

    assert (record["ref"], record["version"]) == ("@champion", 1)
    fetched = await lab.call("GET", "servers", record["id"][:8])
    assert fetched["id"] == record["id"] and fetched["status"] == "RUNNING"


async def test_given_a_token_when_started_then_the_record_says_one_is_set_but_never_holds_it(
    lab: Lab, churn: str
) -> None:
    record = await start(lab, "churn/1", token="s3cret-token")

    assert record["options"]["token_set"] is True
    assert "s3cret-token" not in json.dumps(record)
    listed = await lab.call("GET", "servers")
    assert "s3cret-token" not in json.dumps(listed)


async def test_given_a_live_and_a_stopped_server_when_listed_then_live_only_unless_all(
    lab: Lab, churn: str, client: Client
) -> None:
    first = await start(lab, "churn/1")
    second = await start(lab, "churn@champion")
    await lab.call("POST", "servers", first["id"], "stop")

    live = (await lab.call("GET", "servers", model="churn"))["servers"]
    every = (await lab.call("GET", "servers", model="churn", all="1"))["servers"]
    other = (await lab.call("GET", "servers", model="fraud", all="1"))["servers"]

    assert [s["id"] for s in live] == [second["id"]]
    assert {s["id"] for s in every} == {first["id"], second["id"]}
    assert other == []


async def test_given_a_running_server_when_stopped_over_rest_then_its_record_ends_stopped(
    lab: Lab, churn: str, client: Client
) -> None:
    record = await start(lab, "churn/1")

    stopped = await lab.call("POST", "servers", record["id"], "stop")

    assert stopped["id"] == record["id"] and stopped["status"] == "STOPPED"
    assert stopped["ended_at"] is not None
    assert client.get_model_server(record["id"]).status == "STOPPED"
    with pytest.raises(OSError):
        invoke(record["url"], ROWS)


async def test_given_a_running_server_when_deleted_then_it_stops_and_a_second_stop_is_a_no_op(
    lab: Lab, churn: str
) -> None:
    record = await start(lab, "churn/1")

    stopped = await lab.call("DELETE", "servers", record["id"])
    again = await lab.call("POST", "servers", record["id"], "stop")

    assert stopped["status"] == again["status"] == "STOPPED"
    assert again["ended_at"] == stopped["ended_at"]


# -- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["nope@champion", "nope/1", "churn/7", "churn@nobody"])
async def test_given_a_target_that_names_no_version_when_started_then_404_and_nothing_spawned(
    lab: Lab, churn: str, client: Client, target: str
) -> None:
    reply = await lab.refused("POST", "servers", body={"target": target}, status=404)

    assert reply["code"] == "NOT_FOUND"
    assert client.list_model_servers(active_only=False) == []


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"target": "churn/1", "options": {"port": "x"}}, "port"),
        ({"target": "churn/1", "options": {"workers": 0}}, "workers"),
        ({"target": "churn/1", "options": {"colour": "red"}}, "colour"),
        ({"target": "churn/1", "options": {"queue_rows": 5}}, "queue_rows"),
        ({"target": "churn/1", "options": {"allowed_hosts": 5}}, "allowed_hosts"),
        ({"target": "churn/1", "options": "port=1"}, "options"),
        ({"target": "churn/1", "colour": "red"}, "colour"),
        ({"target": 5}, "target"),
        ({}, "target"),
        ({"target": "churn"}, "churn"),
    ],
)
async def test_given_bad_start_input_when_posted_then_400_naming_it_and_nothing_spawned(
    lab: Lab, churn: str, client: Client, body: dict[str, Any], names: str
) -> None:
    reply = await lab.refused("POST", "servers", body=body, status=400)

    assert names in reply["message"], reply
    assert client.list_model_servers(active_only=False) == []


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
async def test_given_an_unknown_server_id_when_read_or_stopped_then_404(
    lab: Lab, method: str
) -> None:
    parts = ("servers", "0123abcd", "stop") if method == "POST" else ("servers", "0123abcd")
    reply = await lab.refused(method, *parts, status=404)
    assert reply["code"] == "NOT_FOUND"


async def test_given_a_bad_all_flag_or_model_name_when_listed_then_400(lab: Lab) -> None:
    await lab.refused("GET", "servers", all="maybe")
    await lab.refused("GET", "servers", model="bad|name")


async def test_given_a_start_under_way_then_the_lab_keeps_answering_other_requests(
    lab: Lab, churn: str
) -> None:
    await lab.call("GET", "servers")  # logged in before the clock starts
    starting = asyncio.ensure_future(start(lab, "churn/1"))
    answered = []
    while not starting.done():
        began = time.monotonic()
        await lab.call("GET", "servers", all="1")
        answered.append(time.monotonic() - began)
        await asyncio.sleep(0.05)

    record = await starting
    assert record["status"] == "RUNNING"
    # Starting takes seconds; the other requests were answered meanwhile, each at once.
    assert len(answered) >= 3 and max(answered) < 1.0, answered
