"""The Pipelines tab's REST routes through a real Jupyter server (pytest-jupyter's jp_fetch).

Runs started here are real ``jupyter-mlops pipelines run`` processes with real kernels.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from notebook_helpers import write_notebook
from tornado.httpclient import HTTPClientError

from jupyter_mlops.client import Client

API = ("mlops", "api", "v1")
RUN_TIMEOUT = 120.0  # seconds a pipeline run may take to start and end (a deadline, not a check)

PIPELINE_YAML = """\
name: demo
params:
  rows: 4
steps:
  - name: prepare
    notebook: prepare.ipynb
    parameters: {scale: 2.0}
  - name: train
    notebook: train.ipynb
    upstream: [prepare]
"""

BROKEN_YAML = """\
name: broken
steps:
  - name: lonely
    notebook: pipes/prepare.ipynb
    upstream: [ghost]
"""

# 'check' fails until the file 'marker' exists beside the pipeline (the kernels run there).
FLAKY_YAML = """\
name: flaky
steps:
  - name: first
    notebook: first.ipynb
  - name: check
    notebook: check.ipynb
    parameters: {n: 2}
    upstream: [first]
  - name: after
    notebook: after.ipynb
    upstream: [check]
"""


@pytest.fixture
def jp_server_config(mlops_store: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MlopsApp": {"store": str(mlops_store)},
    }


@pytest.fixture
def workspace(jp_root_dir: Path, tmp_path: Path) -> Path:
    """The server's root: pipes/pipeline.yaml (prepare -> train), an unrelated YAML file, a
    broken pipeline, and a valid pipeline file outside the root."""
    pipes = jp_root_dir / "pipes"
    pipes.mkdir()
    write_notebook(pipes / "prepare.ipynb", "rows = 1\nscale = 1.0", "total = rows * scale")
    write_notebook(pipes / "train.ipynb", "rows = 1\nlr = 0.1", "score = rows * lr")
    (pipes / "pipeline.yaml").write_text(PIPELINE_YAML)
    (jp_root_dir / "notes.yaml").write_text("title: not a pipeline\nitems: [1, 2]\n")
    (jp_root_dir / "broken.yaml").write_text(BROKEN_YAML)
    outside = tmp_path / "outside"
    outside.mkdir()
    write_notebook(outside / "prepare.ipynb", "rows = 1\nscale = 1.0", "pass")
    write_notebook(outside / "train.ipynb", "rows = 1\nlr = 0.1", "pass")
    (outside / "pipeline.yaml").write_text(PIPELINE_YAML)
    (tmp_path / "outside.yaml").write_text(
        PIPELINE_YAML.replace("notebook: ", "notebook: outside/")
    )
    return jp_root_dir


# -- helpers ---------------------------------------------------------------------------------


async def get(jp_fetch: Any, *path: str, **params: str) -> Any:
    response = await jp_fetch(*API, *path, params=params, method="GET")
    return json.loads(response.body)


async def send(jp_fetch: Any, method: str, *path: str, body: Any = None) -> Any:
    data = None if body is None else body if isinstance(body, str) else json.dumps(body)
    response = await jp_fetch(*API, *path, method=method, body=data, allow_nonstandard_methods=True)
    return response


async def refused(
    jp_fetch: Any, method: str, *path: str, body: Any = None, headers: Any = None, **params: str
) -> HTTPClientError:
    data = None if body is None else body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(
            *API,
            *path,
            method=method,
            body=data,
            params=params,
            headers=headers or {},
            allow_nonstandard_methods=True,
        )
    return caught.value


def error_body(err: HTTPClientError) -> dict[str, Any]:
    assert err.response is not None
    text = err.response.body.decode()
    assert "Traceback" not in text
    body: dict[str, Any] = json.loads(text)
    assert set(body) == {"code", "message"}, body
    return body


async def start_run(jp_fetch: Any, path: str, **extra: Any) -> str:
    response = await send(jp_fetch, "POST", "pipelines", "runs", body={"path": path, **extra})
    assert response.code == 202
    run_id: str = json.loads(response.body)["run_id"]
    assert len(run_id) == 32
    return run_id


def run_log(store: Path, run_id: str) -> str:
    logs = list(store.rglob(f"{run_id}.log"))
    return logs[0].read_text(errors="replace") if logs else "(no log file)"


async def wait_run(jp_fetch: Any, run_id: str, store: Path) -> dict[str, Any]:
    """Poll the run until it has ended: 404 until the process has created it, then RUNNING."""
    deadline = time.monotonic() + RUN_TIMEOUT
    seen_status = None
    while time.monotonic() < deadline:
        try:
            run: dict[str, Any] = await get(jp_fetch, "pipelines", "runs", run_id)
        except HTTPClientError as exc:
            assert exc.code == 404, error_body(exc)
        else:
            seen_status = run["status"]
            if seen_status != "RUNNING":
                return run
        await asyncio.sleep(0.5)
    pytest.fail(
        f"run {run_id} still {seen_status} after {RUN_TIMEOUT}s; log:\n{run_log(store, run_id)}"
    )


def steps_by_name(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in run["steps"]}


def next_paris_3am(now: datetime) -> int:
    paris = ZoneInfo("Europe/Paris")
    local = now.astimezone(paris)
    day = local.date()
    for _ in range(3):
        candidate = datetime.combine(day, clock(3, 0), tzinfo=paris)
        if candidate > local:
            return int(candidate.timestamp() * 1000)
        day += timedelta(days=1)
    raise AssertionError("unreachable")


# -- listing ---------------------------------------------------------------------------------


async def test_given_a_workspace_when_listing_pipelines_then_only_pipeline_files_with_root_paths(
    jp_fetch: Any, workspace: Path
) -> None:
    listed = (await get(jp_fetch, "pipelines"))["pipelines"]

    by_path = {p["path"]: p for p in listed}
    assert set(by_path) == {"pipes/pipeline.yaml", "broken.yaml"}, listed
    demo = by_path["pipes/pipeline.yaml"]
    assert demo["name"] == "demo" and demo["errors"] == []
    assert demo["params"] == {"rows": 4}
    assert [s["name"] for s in demo["steps"]] == ["prepare", "train"]
    assert [s["notebook"] for s in demo["steps"]] == ["pipes/prepare.ipynb", "pipes/train.ipynb"]
    assert demo["steps"][1]["upstream"] == ["prepare"]
    assert demo["steps"][0]["parameters"] == {"scale": 2.0}
    broken = by_path["broken.yaml"]
    assert broken["name"] == "broken"
    assert broken["errors"], broken
    assert any("'lonely'" in line and "ghost" in line for line in broken["errors"]), broken
    # The extension's in-process scheduler runs while the server is up.
    assert any(t.name == "mlops-scheduler" and t.is_alive() for t in threading.enumerate())


async def test_given_symlinked_pipeline_files_when_listing_then_only_targets_inside_the_root(
    jp_fetch: Any, workspace: Path, tmp_path: Path
) -> None:
    # One link leaves the root (the routes refuse it), one points to a file listed already.
    (workspace / "escape.yaml").symlink_to(tmp_path / "outside" / "pipeline.yaml")
    (workspace / "again.yaml").symlink_to(workspace / "pipes" / "pipeline.yaml")

    listed = (await get(jp_fetch, "pipelines"))["pipelines"]

    assert sorted(p["path"] for p in listed) == ["broken.yaml", "pipes/pipeline.yaml"], listed
    assert not any(str(tmp_path) in json.dumps(p) for p in listed)


# -- running ---------------------------------------------------------------------------------


@pytest.mark.kernel
async def test_given_a_pipeline_when_run_twice_then_finished_then_cached(
    jp_fetch: Any, workspace: Path, mlops_store: Path
) -> None:
    first_id = await start_run(jp_fetch, "pipes/pipeline.yaml")
    first = await wait_run(jp_fetch, first_id, mlops_store)

    assert first["status"] == "FINISHED", (first, run_log(mlops_store, first_id))
    assert first["run_id"] == first_id
    assert first["pipeline"] == "demo" and first["path"] == "pipes/pipeline.yaml"
    assert first["trigger"] == "manual"
    steps = steps_by_name(first)
    assert list(steps) == ["prepare", "train"]
    for name, step in steps.items():
        assert step["status"] == "FINISHED", step
        assert step["attempts"] == 1 and step["cached_from"] is None
        api_path = step["notebook_api_path"]
        assert api_path == f"pipes/output/{first_id[:8]}/{name}.ipynb", step
        assert (workspace / api_path).is_file()
        assert step["has_artifact"] is True
    listed = await get(jp_fetch, "pipelines", "runs", path="pipes/pipeline.yaml")
    assert [r["run_id"] for r in listed["runs"]] == [first_id]
    assert [r["run_id"] for r in (await get(jp_fetch, "pipelines", "runs"))["runs"]] == [first_id]

    second_id = await start_run(jp_fetch, "pipes/pipeline.yaml")
    second = await wait_run(jp_fetch, second_id, mlops_store)

    assert second["status"] == "FINISHED", (second, run_log(mlops_store, second_id))
    for name, step in steps_by_name(second).items():
        assert step["status"] == "CACHED", step
        assert step["cached_from"] == steps[name]["run_id"]
        assert step["run_id"] != steps[name]["run_id"]
        assert step["has_artifact"] is True
    newest_first = await get(jp_fetch, "pipelines", "runs", path="pipes/pipeline.yaml")
    assert [r["run_id"] for r in newest_first["runs"]] == [second_id, first_id]
    one = await get(jp_fetch, "pipelines", "runs", path="pipes/pipeline.yaml", limit="1")
    assert [r["run_id"] for r in one["runs"]] == [second_id]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"epochs": 3}, ["epochs", "not declared"]),
        ({"rows": "many"}, ["'rows'", "int", "'many'"]),
        ({"rows": 2, "typo_lr": 0.1}, ["typo_lr"]),
    ],
)
async def test_given_bad_params_when_starting_a_run_then_400_naming_the_param(
    jp_fetch: Any, workspace: Path, mlops_store: Path, params: dict[str, Any], words: list[str]
) -> None:
    err = await refused(
        jp_fetch,
        "POST",
        "pipelines",
        "runs",
        body={"path": "pipes/pipeline.yaml", "params": params},
    )

    assert err.code == 400
    message = error_body(err)["message"]
    for word in words:
        assert word in message, message
    assert not list(mlops_store.rglob("*.log"))  # no process was started


async def test_given_a_wrong_type_for_a_step_when_starting_then_the_step_is_named(
    jp_fetch: Any, workspace: Path
) -> None:
    err = await refused(
        jp_fetch,
        "POST",
        "pipelines",
        "runs",
        body={"path": "pipes/pipeline.yaml", "params": {"lr": "fast"}},
    )

    assert err.code == 400
    message = error_body(err)["message"]
    assert "'train'" in message and "'lr'" in message and "float" in message, message


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"path": "../outside.yaml"}, 400),
        ({"path": "pipes/../../outside.yaml"}, 400),
        ({"path": "/etc/passwd"}, 404),
        ({"path": "pipes/missing.yaml"}, 404),
        ({"path": ""}, 400),
        ({"path": 3}, 400),
        ({}, 400),
        ({"path": "pipes\\pipeline.yaml"}, 400),
        ({"path": "pipes/pipeline.yaml", "params": [1, 2]}, 400),
        ({"path": "pipes/pipeline.yaml", "from_step": 3}, 400),
        ({"path": "pipes/pipeline.yaml", "from_step": "nope"}, 404),
        ("not json", 400),
        ("[1, 2]", 400),
    ],
)
async def test_given_a_bad_request_when_starting_a_run_then_json_4xx_and_nothing_runs(
    jp_fetch: Any, workspace: Path, mlops_store: Path, body: Any, code: int
) -> None:
    err = await refused(jp_fetch, "POST", "pipelines", "runs", body=body)

    assert err.code == code, error_body(err)
    error_body(err)
    assert not list(mlops_store.rglob("*.log"))


async def test_given_a_symlink_out_of_the_root_when_starting_then_refused(
    jp_fetch: Any, workspace: Path, tmp_path: Path, mlops_store: Path
) -> None:
    (workspace / "pipes" / "link.yaml").symlink_to(tmp_path / "outside" / "pipeline.yaml")

    err = await refused(jp_fetch, "POST", "pipelines", "runs", body={"path": "pipes/link.yaml"})

    assert err.code == 400 and "outside" in error_body(err)["message"]
    assert not list(mlops_store.rglob("*.log"))


async def test_given_bad_queries_when_listing_runs_then_4xx(jp_fetch: Any, workspace: Path) -> None:
    assert (await refused(jp_fetch, "GET", "pipelines", "runs", path="../outside.yaml")).code == 400
    assert (await refused(jp_fetch, "GET", "pipelines", "runs", path="nope.yaml")).code == 404
    assert (await refused(jp_fetch, "GET", "pipelines", "runs", limit="0")).code == 400
    missing = await refused(jp_fetch, "GET", "pipelines", "runs", "ab" * 16)
    assert missing.code == 404 and error_body(missing)["code"] == "NOT_FOUND"
    assert (await get(jp_fetch, "pipelines", "runs"))["runs"] == []


async def test_given_a_plain_run_when_fetched_as_a_pipeline_run_then_400(
    jp_fetch: Any, workspace: Path, mlops_store: Path
) -> None:
    client = Client(mlops_store)
    plain = client.create_run("exp", "plain")
    client.end_run(plain)
    client.close()

    err = await refused(jp_fetch, "GET", "pipelines", "runs", plain)
    assert err.code == 400 and "not a pipeline run" in error_body(err)["message"]
    err = await refused(jp_fetch, "POST", "pipelines", "runs", plain, "resume", body={})
    assert err.code == 400


# -- resume ----------------------------------------------------------------------------------


@pytest.mark.kernel
async def test_given_a_failed_run_when_resumed_after_a_fix_then_it_finishes_reusing_the_rest(
    jp_fetch: Any, workspace: Path, mlops_store: Path
) -> None:
    flaky = workspace / "flaky"
    flaky.mkdir()
    write_notebook(flaky / "first.ipynb", "n = 1", "value = n + 1")
    write_notebook(
        flaky / "check.ipynb",
        "n = 1",
        "x = n * 2",
        "import os\nif not os.path.exists('marker'):\n    raise RuntimeError('no marker yet')",
    )
    write_notebook(flaky / "after.ipynb", "n = 1", "done = True")
    (flaky / "pipeline.yaml").write_text(FLAKY_YAML)

    failed_id = await start_run(jp_fetch, "flaky/pipeline.yaml", max_workers=1)
    failed = await wait_run(jp_fetch, failed_id, mlops_store)

    assert failed["status"] == "FAILED", (failed, run_log(mlops_store, failed_id))
    assert "check" in (failed["error_value"] or "")
    steps = steps_by_name(failed)
    assert steps["first"]["status"] == "FINISHED"
    check = steps["check"]
    assert check["status"] == "FAILED"
    assert check["error_name"] == "RuntimeError" and check["error_value"] == "no marker yet"
    assert check["attempts"] == 1 and check["run_id"]
    # Cell 0: parameters, 1: injected parameters, 2: x = n * 2, 3: the raise.
    assert check["failed_cell"] == 3
    assert "RuntimeError" in (check["traceback"] or "")
    assert check["notebook_api_path"] == f"flaky/output/{failed_id[:8]}/check.ipynb"
    assert (workspace / check["notebook_api_path"]).is_file()
    assert steps["after"]["status"] == "SKIPPED" and steps["after"]["run_id"] is None

    # A finished run cannot be resumed.
    fine_id = await start_run(jp_fetch, "pipes/pipeline.yaml")
    assert (await wait_run(jp_fetch, fine_id, mlops_store))["status"] == "FINISHED"
    err = await refused(jp_fetch, "POST", "pipelines", "runs", fine_id, "resume", body={})
    assert err.code == 400 and "FINISHED" in error_body(err)["message"]

    (flaky / "marker").touch()
    response = await send(jp_fetch, "POST", "pipelines", "runs", failed_id, "resume", body={})
    assert response.code == 202
    resumed_id = json.loads(response.body)["run_id"]
    assert resumed_id != failed_id
    resumed = await wait_run(jp_fetch, resumed_id, mlops_store)
    # It executes as the failed run did: the failed run's workers, its own resume target.
    options = json.loads(next(mlops_store.rglob(f"{resumed_id}.options.json")).read_text())
    assert options["max_workers"] == 1 and options["resume"] == failed_id

    assert resumed["status"] == "FINISHED", (resumed, run_log(mlops_store, resumed_id))
    again = steps_by_name(resumed)
    assert again["first"]["status"] == "CACHED"
    assert again["first"]["cached_from"] == steps["first"]["run_id"]
    assert again["check"]["status"] == "FINISHED" and again["check"]["cached_from"] is None
    assert again["after"]["status"] == "FINISHED"
    # The failed run itself is unchanged, and is not resumable twice into a new failure.
    assert (await get(jp_fetch, "pipelines", "runs", failed_id))["status"] == "FAILED"
    history = await get(jp_fetch, "pipelines", "runs", path="flaky/pipeline.yaml")
    assert [r["run_id"] for r in history["runs"]] == [resumed_id, failed_id]


# -- schedules -------------------------------------------------------------------------------


async def test_given_a_cron_schedule_when_created_then_next_run_is_3am_in_paris(
    jp_fetch: Any, workspace: Path
) -> None:
    before = datetime.now(tz=ZoneInfo("UTC"))
    response = await send(
        jp_fetch,
        "POST",
        "schedules",
        body={"path": "pipes/pipeline.yaml", "cron": "0 3 * * *", "timezone": "Europe/Paris"},
    )
    after = datetime.now(tz=ZoneInfo("UTC"))

    assert response.code == 201
    row = json.loads(response.body)
    assert row["kind"] == "cron" and row["cron"] == "0 3 * * *"
    assert row["timezone"] == "Europe/Paris" and row["enabled"] is True
    assert row["path"] == "pipes/pipeline.yaml" and row["pipeline"] == "demo"
    assert row["event"] is None and row["missed"] == "skip"
    assert row["next_run_time"] in {next_paris_3am(before), next_paris_3am(after)}
    fire = datetime.fromtimestamp(row["next_run_time"] / 1000, ZoneInfo("Europe/Paris"))
    assert (fire.hour, fire.minute) == (3, 0)

    listed = (await get(jp_fetch, "schedules"))["schedules"]
    assert [s["id"] for s in listed] == [row["id"]]
    assert listed[0]["path"] == "pipes/pipeline.yaml"
    by_path = await get(jp_fetch, "schedules", path="pipes/pipeline.yaml")
    assert [s["id"] for s in by_path["schedules"]] == [row["id"]]

    disabled = json.loads(
        (await send(jp_fetch, "PATCH", "schedules", row["id"], body={"enabled": False})).body
    )
    assert disabled["enabled"] is False and disabled["next_run_time"] is None
    enabled = json.loads(
        (await send(jp_fetch, "PATCH", "schedules", row["id"][:8], body={"enabled": True})).body
    )
    assert enabled["enabled"] is True
    fire = datetime.fromtimestamp(enabled["next_run_time"] / 1000, ZoneInfo("Europe/Paris"))
    assert (fire.hour, fire.minute) == (3, 0)

    deleted = await send(jp_fetch, "DELETE", "schedules", row["id"])
    assert deleted.code == 204 and deleted.body == b""
    assert (await get(jp_fetch, "schedules"))["schedules"] == []
    gone = await refused(jp_fetch, "DELETE", "schedules", row["id"])
    assert gone.code == 404
    assert (
        await refused(jp_fetch, "PATCH", "schedules", row["id"], body={"enabled": True})
    ).code == 404


async def test_given_a_dataset_trigger_when_created_then_an_event_schedule(
    jp_fetch: Any, workspace: Path
) -> None:
    response = await send(
        jp_fetch, "POST", "schedules", body={"path": "pipes/pipeline.yaml", "dataset": "train"}
    )

    assert response.code == 201
    row = json.loads(response.body)
    assert row["kind"] == "event" and row["cron"] is None
    assert row["event"]["key"] == "train" and row["event"]["type"]
    assert row["next_run_time"] is None and row["enabled"] is True


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"cron": "not a cron"}, ["cron", "5 fields"]),
        ({"cron": "61 3 * * *"}, ["cron", "61 3 * * *"]),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, ["timezone", "Mars/Olympus"]),
        ({"cron": "0 3 * * *", "dataset": "train"}, ["cron", "dataset"]),
        ({}, ["cron", "dataset"]),
        ({"cron": "0 3 * * *", "missed": "sometimes"}, ["skip", "once", "all"]),
        ({"cron": 3}, ["'cron'", "string"]),
        ({"cron": "0 3 * * *", "params": {"epochs": 1}}, ["epochs"]),
    ],
)
async def test_given_a_bad_schedule_when_created_then_400_with_a_clear_message(
    jp_fetch: Any, workspace: Path, extra: dict[str, Any], words: list[str]
) -> None:
    err = await refused(
        jp_fetch, "POST", "schedules", body={"path": "pipes/pipeline.yaml", **extra}
    )

    assert err.code == 400
    message = error_body(err)["message"]
    assert "\n" not in message.strip() or extra.get("params"), message
    for word in words:
        assert word in message, message
    assert (await get(jp_fetch, "schedules"))["schedules"] == []


async def test_given_bad_schedule_requests_then_4xx(jp_fetch: Any, workspace: Path) -> None:
    base = {"cron": "0 3 * * *"}
    assert (
        await refused(jp_fetch, "POST", "schedules", body={**base, "path": "../outside.yaml"})
    ).code == 400
    assert (
        await refused(jp_fetch, "POST", "schedules", body={**base, "path": "nope.yaml"})
    ).code == 404
    assert (await refused(jp_fetch, "POST", "schedules", body="{oops")).code == 400
    created = json.loads(
        (
            await send(jp_fetch, "POST", "schedules", body={**base, "path": "pipes/pipeline.yaml"})
        ).body
    )
    for body in ({}, {"enabled": "no"}, {"enabled": 0}, "not json"):
        err = await refused(jp_fetch, "PATCH", "schedules", created["id"], body=body)
        assert err.code == 400, body
        error_body(err)
    assert (
        await refused(jp_fetch, "PATCH", "schedules", "f" * 32, body={"enabled": True})
    ).code == 404


# -- authentication --------------------------------------------------------------------------


async def test_given_a_wrong_token_then_every_route_refuses_and_changes_nothing(
    jp_fetch: Any, workspace: Path, mlops_store: Path
) -> None:
    created = json.loads(
        (
            await send(
                jp_fetch,
                "POST",
                "schedules",
                body={"path": "pipes/pipeline.yaml", "cron": "0 3 * * *"},
            )
        ).body
    )
    client = Client(mlops_store)
    plain = client.create_run("exp", "plain")
    client.close()
    wrong = {"Authorization": "token wrong"}
    run_body = {"path": "pipes/pipeline.yaml"}
    calls: list[tuple[str, tuple[str, ...], Any]] = [
        ("GET", ("pipelines",), None),
        ("GET", ("pipelines", "runs"), None),
        ("POST", ("pipelines", "runs"), run_body),
        ("GET", ("pipelines", "runs", plain), None),
        ("POST", ("pipelines", "runs", plain, "resume"), {}),
        ("GET", ("schedules",), None),
        ("POST", ("schedules",), {**run_body, "cron": "0 4 * * *"}),
        ("PATCH", ("schedules", created["id"]), {"enabled": False}),
        ("DELETE", ("schedules", created["id"]), None),
    ]
    for method, path, body in calls:
        err = await refused(jp_fetch, method, *path, body=body, headers=wrong)
        assert err.code == 403, (method, path, err.code)
        assert err.response is not None and b"pipeline.yaml" not in (err.response.body or b"")

    schedules = (await get(jp_fetch, "schedules"))["schedules"]
    assert [(s["id"], s["enabled"]) for s in schedules] == [(created["id"], True)]
    assert not list(mlops_store.rglob("*.log"))


@pytest.mark.kernel
async def test_given_a_failed_run_with_params_when_resumed_then_the_same_params_are_used(
    jp_fetch: Any, workspace: Path, mlops_store: Path
) -> None:
    folder = workspace / "withparams"
    folder.mkdir()
    write_notebook(folder / "first.ipynb", "rows = 1", "x = rows")
    write_notebook(
        folder / "check.ipynb",
        "rows = 1",
        "import os\nif not os.path.exists('marker'):\n    raise RuntimeError('no marker yet')",
    )
    (folder / "pipeline.yaml").write_text(
        "name: withparams\nparams: {rows: 1}\nsteps:\n"
        "  - {name: first, notebook: first.ipynb}\n"
        "  - {name: check, notebook: check.ipynb, upstream: [first]}\n"
    )
    failed_id = await start_run(jp_fetch, "withparams/pipeline.yaml", params={"rows": 5})
    failed = await wait_run(jp_fetch, failed_id, mlops_store)
    assert failed["status"] == "FAILED" and failed["params"] == {"rows": "5"}
    (folder / "marker").touch()

    response = await send(jp_fetch, "POST", "pipelines", "runs", failed_id, "resume", body={})
    resumed = await wait_run(jp_fetch, json.loads(response.body)["run_id"], mlops_store)

    assert resumed["status"] == "FINISHED"
    client = Client(mlops_store)
    check = client.get_run(steps_by_name(resumed)["check"]["run_id"])
    first = client.get_run(steps_by_name(resumed)["first"]["run_id"])
    client.close()
    assert first.params["rows"] == "5"  # reused from the failed run
    assert resumed["params"] == {"rows": "5"}
    assert check.params["rows"] == "5"
