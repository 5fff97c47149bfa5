"""The REST API through a real Jupyter server (pytest-jupyter's jp_fetch)."""

from __future__ import annotations

import json
import math
import os

import pytest
from tornado.httpclient import HTTPClientError

import jupyter_mlops as mlops
from jupyter_mlops.client import Client
from jupyter_mlops.config import ARTIFACTS_ENV, STORE_ENV

API = ("mlops", "api", "v1")


@pytest.fixture
def jp_server_config(mlops_store):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}},
        "MlopsApp": {"store": str(mlops_store)},
    }


@pytest.fixture
def seeded(mlops_store, tmp_path):
    """Given a store with runs in two experiments, a dataset lineage and an artifact."""
    client = Client(mlops_store)
    ids = {}
    for i, (exp, model, acc) in enumerate(
        [
            ("churn", "rf", 0.91),
            ("churn", "lr", 0.85),
            ("churn", "rf", 0.95),
            ("vision", "cnn", 0.7),
        ]
    ):
        rid = client.create_run(exp, f"run{i}", tags={"stage": "dev"})
        client.log_params(rid, {"model": model, "n": 10 * (i + 1)})
        client.log_batch(rid, metrics=[("acc", acc, 0), ("loss", 1 - acc, 0)])
        client.end_run(rid)
        ids[f"run{i}"] = rid
    xss = client.create_run("churn", "<img src=x onerror=alert(1)>")
    client.log_params(xss, {"note": "<script>alert(1)</script>"})
    client.end_run(xss)
    ids["xss"] = xss
    long_run = client.create_run("churn", "long")
    values = [float(i % 50) for i in range(10_000)]
    values[7_777] = 1_000.0  # a spike the downsampled curve must keep
    client.log_batch(long_run, metrics=[("loss", v, i) for i, v in enumerate(values)])
    report = tmp_path / "report.txt"
    report.write_text("secret-free report")
    client.log_artifact(long_run, report, "reports/report.txt")
    client.end_run(long_run)
    ids["long"] = long_run
    import pandas as pd

    frame = pd.DataFrame({"a": [1.0, 2.0]})
    client.log_dataset(ids["run0"], frame, name="features", role="output")
    client.log_dataset(ids["run1"], frame, name="features", role="input")
    client.close()
    return ids


async def get(jp_fetch, *path, **params):
    response = await jp_fetch(*API, *path, params=params, method="GET")
    return json.loads(response.body)


async def error(jp_fetch, *path, headers=None, **params):
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(*API, *path, params=params, method="GET", headers=headers or {})
    return caught.value


async def test_given_server_when_started_then_extension_serves_its_store(
    jp_fetch, jp_serverapp, seeded, mlops_store
):
    info = await get(jp_fetch, "info")
    assert info["store"] == f"sqlite:///{(mlops_store / 'mlops.db').resolve()}"
    assert info["artifacts"] == str((mlops_store / "artifacts").resolve())
    # Kernels started for notebooks get the same store; the server's own environment is
    # left as it was.
    kernel_env = jp_serverapp.session_manager.get_kernel_env("a.ipynb")
    assert kernel_env[STORE_ENV] == info["store"]
    assert kernel_env[ARTIFACTS_ENV] == info["artifacts"]
    assert os.environ[STORE_ENV] == "" and os.environ[ARTIFACTS_ENV] == ""


async def test_given_runs_when_filtered_sorted_and_paged_then_sql_does_it(jp_fetch, seeded):
    page = await get(
        jp_fetch,
        "runs",
        experiment="churn",
        filter="params.model = 'rf' or metrics.acc < 0.9",
        order_by="metrics.acc DESC",
        limit="2",
        params="model",
        metrics="acc",
    )
    assert page["total"] == 3
    assert [r["name"] for r in page["runs"]] == ["run2", "run0"]
    assert page["runs"][0]["params"] == {"model": "rf"}
    assert page["runs"][0]["metrics"] == {"acc": 0.95}
    rest = await get(
        jp_fetch,
        "runs",
        experiment="churn",
        filter="params.model = 'rf' or metrics.acc < 0.9",
        order_by="metrics.acc DESC",
        limit="2",
        offset="2",
    )
    assert [r["name"] for r in rest["runs"]] == ["run1"]
    exps = await get(jp_fetch, "experiments")
    assert {e["name"]: e["run_count"] for e in exps["experiments"]} == {"churn": 5, "vision": 1}


async def test_given_run_id_when_fetched_then_everything_and_user_text_untouched(jp_fetch, seeded):
    run = await get(jp_fetch, "runs", seeded["run0"])
    assert run["info"]["name"] == "run0" and run["params"]["model"] == "rf"
    assert run["outputs"][0]["name"] == "features"
    xss = await get(jp_fetch, "runs", seeded["xss"][:8])  # a unique prefix works
    assert xss["info"]["name"] == "<img src=x onerror=alert(1)>"  # JSON carries text as is
    assert xss["params"]["note"] == "<script>alert(1)</script>"


async def test_given_long_history_when_fetched_then_downsampled_with_spike_kept(jp_fetch, seeded):
    series = await get(jp_fetch, "runs", seeded["long"], "metrics", "loss", max_points="300")
    assert series["total"] == 10_000 and series["downsampled"]
    assert len(series["steps"]) <= 302
    assert 1_000.0 in series["values"] and series["steps"][-1] == 9_999
    assert series["steps"] == sorted(series["steps"])
    full = await get(jp_fetch, "runs", seeded["run0"], "metrics", "acc")
    assert full["values"] == [0.91] and not full["downsampled"]


async def test_given_two_runs_when_compared_then_differences_listed(jp_fetch, seeded):
    result = await get(jp_fetch, "compare", runs=f"{seeded['run0']},{seeded['run1']}")
    assert result["differing_params"] == ["model", "n"]
    assert [r["info"]["id"] for r in result["runs"]] == [seeded["run0"], seeded["run1"]]
    err = await error(jp_fetch, "compare", runs=seeded["run0"])
    assert err.code == 400


async def test_given_dataset_when_lineage_requested_then_producer_and_consumer(jp_fetch, seeded):
    datasets = await get(jp_fetch, "datasets")
    assert [d["name"] for d in datasets["datasets"]] == ["features"]
    lineage = await get(jp_fetch, "datasets", "features@1", "lineage")
    assert [e["run_id"] for e in lineage["produced_by"]] == [seeded["run0"]]
    assert [e["run_id"] for e in lineage["used_by"]] == [seeded["run1"]]


async def test_given_artifact_when_downloaded_then_bytes_as_attachment(jp_fetch, seeded):
    response = await jp_fetch(*API, "runs", seeded["long"], "artifacts", "reports/report.txt")
    assert response.body == b"secret-free report"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fmlops.db",
        "%252e%252e%252f%252e%252e%252fmlops.db",
        "reports%2F..%2F..%2F..%2Fmlops.db",
        "%2Fetc%2Fpasswd",
        "..%2Fartifacts-evil%2Fx",
        "%25252e%25252e%25252fmlops.db",
    ],
)
async def test_given_traversal_path_when_downloading_then_4xx_and_nothing_read(
    jp_fetch, seeded, path
):
    err = await error(jp_fetch, "runs", seeded["long"], "artifacts", path)
    assert 400 <= err.code < 500
    body = err.response.body.decode()
    assert "root:" not in body and "SQLite" not in body and "Traceback" not in body
    assert set(json.loads(body)) == {"code", "message"}


async def test_given_bad_input_when_requested_then_json_4xx_without_traceback(jp_fetch, seeded):
    bad = await error(jp_fetch, "runs", filter="metrics.acc >")
    assert bad.code == 400
    body = json.loads(bad.response.body)
    assert body["code"] == "INVALID_INPUT" and "column" in body["message"]
    assert "Traceback" not in bad.response.body.decode()
    missing = await error(jp_fetch, "runs", "ffffffffffffffffffffffffffffffff")
    assert missing.code == 404 and json.loads(missing.response.body)["code"] == "NOT_FOUND"
    assert (await error(jp_fetch, "runs", experiment="nope")).code == 404
    assert (await error(jp_fetch, "runs", limit="zero")).code == 400
    assert (await error(jp_fetch, "runs", limit="100000")).code == 400
    no_metric = await error(jp_fetch, "runs", seeded["run0"], "metrics", "nope")
    assert no_metric.code == 404
    assert (await error(jp_fetch, "datasets", "nope", "lineage")).code == 404


@pytest.mark.parametrize(
    "path",
    [("info",), ("experiments",), ("runs",), ("compare",), ("datasets",), ("changes",)],
)
async def test_given_no_token_when_requesting_then_refused(jp_fetch, seeded, path):
    err = await error(jp_fetch, *path, headers={"Authorization": "token wrong"})
    assert err.code == 403


async def test_given_no_token_when_fetching_run_or_artifact_then_refused(jp_fetch, seeded):
    for path in (
        ("runs", seeded["run0"]),
        ("runs", seeded["run0"], "metrics", "acc"),
        ("runs", seeded["long"], "artifacts", "reports/report.txt"),
        ("datasets", "features", "lineage"),
    ):
        err = await error(jp_fetch, *path, headers={"Authorization": "token wrong"})
        assert err.code == 403
        assert b"secret-free" not in (err.response.body or b"")


async def test_given_new_run_when_polling_changes_then_token_moves(jp_fetch, seeded, mlops_store):
    before = (await get(jp_fetch, "changes"))["token"]
    assert (await get(jp_fetch, "changes"))["token"] == before
    client = Client(mlops_store)
    rid = client.create_run("churn", "fresh")
    after_start = (await get(jp_fetch, "changes"))["token"]
    assert after_start != before
    client.log_metric(rid, "acc", math.pi)
    client.end_run(rid)
    assert (await get(jp_fetch, "changes"))["token"] != after_start
    client.close()


def test_extension_point_names_the_app():
    [point] = mlops._jupyter_server_extension_points()
    assert point["module"] == "jupyter_mlops" and point["app"].name == "jupyter_mlops"


@pytest.mark.kernel
async def test_given_server_when_it_starts_a_kernel_then_the_kernel_uses_its_store(
    jp_fetch, jp_serverapp, jp_root_dir, seeded, mlops_store
):
    # As the lab does it: a session for a notebook starts the kernel.
    session = await jp_serverapp.session_manager.create_session(
        path="nb.ipynb", name="nb.ipynb", type="notebook", kernel_name="python3"
    )
    km = jp_serverapp.kernel_manager
    kernel_id = session["kernel"]["id"]
    try:
        client = km.get_kernel(kernel_id).client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        outputs = []
        await client.execute_interactive(
            "import jupyter_mlops as m; print(m.Client().location.db_url)",
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
            timeout=60,
        )
        client.stop_channels()
        info = await get(jp_fetch, "info")
        assert "".join(outputs).strip() == info["store"]
    finally:
        await km.shutdown_kernel(kernel_id, now=True)


async def test_given_run_from_a_notebook_under_the_root_then_its_lab_path_is_given(
    jp_fetch, jp_root_dir, mlops_store
):
    client = Client(mlops_store)
    inside = client.create_run(
        "nb", "in", attrs={"notebook_path": str(jp_root_dir / "a" / "t.ipynb")}
    )
    outside = client.create_run("nb", "out", attrs={"notebook_path": "/elsewhere/t.ipynb"})
    client.close()
    assert (await get(jp_fetch, "runs", inside))["info"]["notebook_api_path"] == "a/t.ipynb"
    assert (await get(jp_fetch, "runs", outside))["info"]["notebook_api_path"] is None
