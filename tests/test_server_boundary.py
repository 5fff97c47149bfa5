"""The server's boundary on a real Jupyter server (pytest-jupyter): store work off the event
loop, the store found without touching the process, bad input refused as 4xx JSON, pipelines
confined to the root, quiet logs for refused requests, no paths in 5xx bodies, real
content types."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from notebook_helpers import write_notebook

from jupyter_mlops.client import Client
from jupyter_mlops.config import ARTIFACTS_ENV, HOME_ENV, STORE_ENV

API = ("mlops", "api", "v1")


@pytest.fixture
def jp_server_config(mlops_store: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MlopsApp": {"store": str(mlops_store), "run_scheduler": False},
    }


@pytest.fixture
def pipeline(jp_root_dir: Path) -> Path:
    """A valid one-step pipeline under the server's root."""
    folder = jp_root_dir / "pipes"
    folder.mkdir()
    write_notebook(folder / "step.ipynb", "rows = 3", "total = sum(range(rows))")
    path = folder / "pipeline.yaml"
    path.write_text("name: nightly\nsteps:\n  - name: only\n    notebook: step.ipynb\n")
    return path


async def call(jp_fetch: Any, method: str, *path: str, body: Any = None, **params: Any) -> Any:
    """The response, whatever its status (no exception for a 4xx or 5xx)."""
    kwargs: dict[str, Any] = {"method": method, "params": params, "raise_error": False}
    if body is not None:
        kwargs["body"] = body if isinstance(body, bytes | str) else json.dumps(body)
    elif method in ("POST", "PATCH", "PUT"):
        kwargs["body"] = b""
    return await jp_fetch(*API, *path, **kwargs)


def refused(response: Any, status: int = 400) -> dict[str, Any]:
    """A refusal as the API promises it: the status, ``{code, message}``, no traceback."""
    text = response.body.decode()
    assert response.code == status, text[:500]
    assert "Traceback" not in text and 'File "' not in text
    body = json.loads(text)
    assert set(body) == {"code", "message"}
    return body


# -- off the event loop ------------------------------------------------------------------------


async def test_given_a_write_waiting_on_a_lock_held_by_another_process_then_the_server_answers(
    jp_fetch: Any, pipeline: Path, mlops_store: Path
) -> None:
    Client(mlops_store).close()  # the store exists
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(mlops_store / 'mlops.db')!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
            "c.execute('ROLLBACK')\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        # Given a schedule write that waits for the write lock (SQLite's busy timeout)...
        write = asyncio.ensure_future(
            call(
                jp_fetch,
                "POST",
                "schedules",
                body={"path": "pipes/pipeline.yaml", "cron": "0 3 * * *"},
            )
        )
        await asyncio.sleep(0.5)
        assert not write.done()
        # ...when the lab asks for the server's status and for runs, then both answer while
        # the write still waits.
        status = await jp_fetch("api", "status", method="GET")
        runs = await call(jp_fetch, "GET", "runs")
        changes = await call(jp_fetch, "GET", "changes")
        assert status.code == 200 and runs.code == 200 and changes.code == 200
        assert not write.done()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    created = await write
    assert created.code == 201, created.body


# -- where the store is ------------------------------------------------------------------------


class TestStoreFromTheRoot:
    """A server with no MlopsApp.store: the .mlops/ rule applied from its root folder."""

    @pytest.fixture
    def jp_server_config(self, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        for name in (STORE_ENV, ARTIFACTS_ENV, HOME_ENV):
            monkeypatch.delenv(name, raising=False)
        (jp_root_dir / ".mlops").mkdir()
        return {
            "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
            "MlopsApp": {"run_scheduler": False},
        }

    @pytest.fixture
    def before(self, jp_server_config: Any) -> tuple[str, dict[str, str]]:
        """The process's working directory and environment before the server starts."""
        return os.getcwd(), dict(os.environ)

    async def test_given_a_root_with_a_store_folder_then_the_server_finds_it_untouched(
        self, before: tuple[str, dict[str, str]], jp_serverapp: Any, jp_fetch: Any,
        jp_root_dir: Path,
    ) -> None:  # fmt: skip
        info = json.loads((await call(jp_fetch, "GET", "info")).body)
        assert info["store"] == f"sqlite:///{(jp_root_dir / '.mlops' / 'mlops.db').resolve()}"
        # Found without changing the server's working directory or environment...
        cwd, environ = before
        assert os.getcwd() == cwd
        for name in (STORE_ENV, ARTIFACTS_ENV, HOME_ENV):
            assert name not in os.environ and name not in environ
        # ...and given to the kernels it starts.
        assert jp_serverapp.session_manager.get_kernel_env("a.ipynb")[STORE_ENV] == info["store"]


# -- bad input -----------------------------------------------------------------------------------


async def test_given_bodies_that_are_not_json_objects_then_400(
    jp_fetch: Any, pipeline: Path
) -> None:
    for body in (
        b"\xff\xfe not utf-8",
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b'{"path": "pipes/pipeline.yaml", "params": {"x": NaN}}',
        b'{"path": "pipes/pipeline.yaml", "params": {"x": Infinity}}',
        b'{"path": "pipes/pipeline.yaml", "params": {"x": 1e999}}',
        b'{"path": "pipes/pipeline.yaml", "params": {"x": 123456789012345678901234567890}}',
        b'{"path": "pipes/pipeline.yaml", "params": {"x": "\\ud800"}}',
        b'{"path": "\\udfff"}',
        ("[" * 5000 + "]" * 5000).encode(),
        b'{"path": "pipes/pipeline.yaml", "x": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"path": "pipes/pipeline.yaml", "n": 1' + b"0" * 5000 + b"}",
    ):
        for route in (("pipelines", "runs"), ("schedules",)):
            refused(await call(jp_fetch, "POST", *route, body=body))
    too_big = b'{"path": "' + b"a" * (2 << 20) + b'"}'
    refused(await call(jp_fetch, "POST", "schedules", body=too_big), 413)


async def test_given_values_beyond_what_a_store_or_a_system_holds_then_400(
    jp_fetch: Any, pipeline: Path
) -> None:
    path = "pipes/pipeline.yaml"
    # A file name longer than the file system allows names no file: 404 as any missing one.
    refused(await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "x" * 300}), 404)
    cases = [
        ("POST", ("pipelines", "runs"), {"path": "a/" * 3000 + "p.yaml"}),
        ("POST", ("pipelines", "runs"), {"path": path, "max_workers": 10**30}),
        ("POST", ("pipelines", "runs"), {"path": path, "max_workers": 0}),
        ("POST", ("pipelines", "runs"), {"path": path, "executor": "dask"}),
        ("POST", ("pipelines", "runs"), {"path": path, "executor": "nope"}),
        ("POST", ("pipelines", "runs"), {"path": path, "from_step": "x" * 100_000}),
        ("POST", ("pipelines", "runs"), {"path": path, "params": {"rows": "x" * 200_000}}),
        ("POST", ("pipelines", "runs"), {"path": path, "surprise": 1}),
        ("POST", ("schedules",), {"path": path, "cron": "0 3 * * *", "timezone": "E" * 10_000}),
        ("POST", ("schedules",), {"path": path, "cron": "0 3 * * *", "timezone": "../../etc/x"}),
        ("POST", ("schedules",), {"path": path, "cron": "0 3 * * *" + " *" * 10_000}),
        ("POST", ("schedules",), {"path": path, "dataset": "d" * 10_000}),
        ("POST", ("schedules",), {"path": path, "cron": "0 3 * * *", "params": {"rows": 2**70}}),
        ("POST", ("schedules",), {"path": "x" * 5000, "cron": "0 3 * * *"}),
        ("PATCH", ("schedules", "ab12"), {"enabled": "yes"}),
    ]
    for method, route, body in cases:
        refused(await call(jp_fetch, method, *route, body=body), 400)


async def test_given_deeply_nested_schedule_params_then_refused_and_schedules_still_list(
    jp_fetch: Any, pipeline: Path
) -> None:
    nested: Any = 3
    for _ in range(25):
        nested = {"rows": nested}
    body = {"path": "pipes/pipeline.yaml", "cron": "0 3 * * *", "params": {"rows": nested}}
    refused(await call(jp_fetch, "POST", "schedules", body=body))
    listed = await call(jp_fetch, "GET", "schedules")
    assert listed.code == 200 and json.loads(listed.body) == {"schedules": []}


async def test_given_query_strings_beyond_limits_then_400(jp_fetch: Any) -> None:
    long_filter = " or ".join(f"params.p{i} = {i}" for i in range(300))
    refused(await call(jp_fetch, "GET", "runs", filter=long_filter))
    refused(await call(jp_fetch, "GET", "runs", filter="metrics.a > 1 and " * 2000 + "x"))
    refused(await call(jp_fetch, "GET", "runs", filter="(" * 500 + "metrics.a > 1" + ")" * 500))
    refused(await call(jp_fetch, "GET", "runs", limit=str(2**70)))
    refused(await call(jp_fetch, "GET", "runs", offset="9" * 50))
    refused(await call(jp_fetch, "GET", "runs", order_by=",".join(["name"] * 50)))
    refused(await call(jp_fetch, "GET", "pipelines", "runs", path="p" * 5000))
    refused(await call(jp_fetch, "GET", "datasets", "x" * 5000, "lineage"), 400)


# -- pipelines confined to the root --------------------------------------------------------------


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
async def test_given_a_step_notebook_outside_the_root_then_the_lab_cannot_run_it(
    jp_fetch: Any, jp_root_dir: Path, tmp_path: Path, where: str
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir(exist_ok=True)
    write_notebook(outside / "evil.ipynb", "rows = 3", "import os")
    folder = jp_root_dir / "p"
    folder.mkdir()
    notebook = {
        "parent": os.path.relpath(outside / "evil.ipynb", folder),
        "absolute": str(outside / "evil.ipynb"),
        "symlink": "link.ipynb",
    }[where]
    if where == "symlink":
        (folder / "link.ipynb").symlink_to(outside / "evil.ipynb")
    (folder / "pipeline.yaml").write_text(
        f"name: evil\nsteps:\n  - name: s\n    notebook: {notebook}\n"
    )
    listed = json.loads((await call(jp_fetch, "GET", "pipelines")).body)["pipelines"]
    [entry] = [p for p in listed if p["name"] == "evil"]
    assert any("outside the server's root" in e for e in entry["errors"])
    run = refused(
        await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "p/pipeline.yaml"})
    )
    assert "outside the server's root" in run["message"]
    schedule = refused(
        await call(
            jp_fetch, "POST", "schedules", body={"path": "p/pipeline.yaml", "cron": "0 3 * * *"}
        )
    )
    assert "outside the server's root" in schedule["message"]


# -- what the server says and logs --------------------------------------------------------------


async def test_given_a_refused_request_then_one_short_log_line_without_traceback(
    jp_fetch: Any, pipeline: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    huge = "x" * 500_000
    refused(await call(jp_fetch, "POST", "schedules", body={"path": huge, "cron": "0 3 * * *"}))
    refused(await call(jp_fetch, "GET", "runs", filter="metrics.acc > " + "9" * 15_000))
    ours = [r for r in caplog.records if "/mlops/api/v1/" in r.getMessage()]
    assert ours, [r.getMessage() for r in caplog.records]
    for record in ours:
        text = record.getMessage()
        assert record.exc_info is None and "Traceback" not in text
        assert "\n" not in text and len(text) < 2_000


async def test_given_a_blob_modified_on_disk_then_a_5xx_names_no_path(
    jp_fetch: Any, mlops_store: Path, tmp_path: Path
) -> None:
    client = Client(mlops_store)
    rid = client.create_run("e", "r")
    art = client.log_artifact_bytes(rid, b"original bytes", "report.txt")
    client.end_run(rid)
    client.close()
    blob = mlops_store / "artifacts" / "sha256" / art.sha256[:2] / art.sha256[2:]
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    response = await call(jp_fetch, "GET", "runs", rid, "artifacts", "report.txt")
    body = refused(response, 500)
    assert body["code"] == "INTEGRITY_ERROR" and art.sha256 in body["message"]
    assert str(mlops_store) not in response.body.decode() and "/sha256/" not in body["message"]


async def test_given_artifacts_then_downloads_carry_their_content_type(
    jp_fetch: Any, mlops_store: Path
) -> None:
    client = Client(mlops_store)
    rid = client.create_run("e", "r")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    client.log_artifact_bytes(rid, png, "plots/curve")  # no extension: sniffed
    client.log_artifact_bytes(rid, b"a,b\n1,2\n", "data/table.csv")
    client.log_artifact_bytes(rid, b'{"cells": []}', "notebooks/s.ipynb", "notebook")
    client.log_artifact_bytes(rid, b"\x80\x04\x95", "models/m/model.joblib", "model")
    client.end_run(rid)
    client.close()
    expected = {
        "plots/curve": "image/png",
        "data/table.csv": "text/csv; charset=utf-8",
        "notebooks/s.ipynb": "application/x-ipynb+json; charset=utf-8",
        "models/m/model.joblib": "application/octet-stream",
    }
    for path, mime in expected.items():
        response = await call(jp_fetch, "GET", "runs", rid, "artifacts", path)
        assert response.code == 200, response.body
        assert response.headers["Content-Type"] == mime
        assert response.headers["Content-Disposition"].startswith("attachment")


async def test_given_run_options_from_the_lab_then_the_launched_run_uses_them(
    jp_fetch: Any, pipeline: Path, mlops_store: Path
) -> None:
    body = {"path": "pipes/pipeline.yaml", "max_workers": 3, "force": True}
    response = await call(jp_fetch, "POST", "pipelines", "runs", body=body)
    assert response.code == 202, response.body
    run_id = json.loads(response.body)["run_id"]
    options = json.loads((mlops_store / "pipeline-logs" / f"{run_id}.options.json").read_text())
    assert options["max_workers"] == 3 and options["force"] is True
    assert options["executor"] == "local" and options["run_id"] == run_id
    assert options["root"] == str(pipeline.parents[1].resolve())


async def test_given_a_schedule_with_run_options_then_they_are_kept_and_shown(
    jp_fetch: Any, pipeline: Path
) -> None:
    body = {
        "path": "pipes/pipeline.yaml",
        "cron": "0 3 * * *",
        "executor": "dask",
        "scheduler_address": "tcp://127.0.0.1:8786",
        "max_workers": 4,
        "params": {"rows": 5},
    }
    response = await call(jp_fetch, "POST", "schedules", body=body)
    assert response.code == 201, response.body
    created = json.loads(response.body)
    assert created["options"] == {
        "executor": "dask",
        "scheduler_address": "tcp://127.0.0.1:8786",
        "max_workers": 4,
        "kernel_name": "python3",
    }
    assert created["params"] == {"rows": 5} and created["path"] == "pipes/pipeline.yaml"


async def test_given_many_requests_at_once_then_each_is_answered(
    jp_fetch: Any, mlops_store: Path
) -> None:
    client = Client(mlops_store)
    for i in range(5):
        client.end_run(client.create_run("e", f"r{i}"))
    client.close()
    replies = await asyncio.gather(*(call(jp_fetch, "GET", "runs") for _ in range(40)))
    assert {r.code for r in replies} == {200}
    assert {json.loads(r.body)["total"] for r in replies} == {5}
