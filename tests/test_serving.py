"""The model server over real HTTP: a real server process per module, started the way the CLI
and the lab start one, answering both protocols, refusing bad input with a 4xx that names
the problem, recording what it answered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from serving_helpers import FEATURES, call, frame, register, split_body
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import Client
from jupyter_mlops.serving import ServeOptions, ServerHandle, start_server

pytestmark = pytest.mark.slow

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = Client(tmp_path_factory.mktemp("serving") / "store")
    yield client
    client.close()


@pytest.fixture(scope="module")
def model(store: Client) -> LogisticRegression:
    X, y = frame()
    fitted = LogisticRegression().fit(X, y)
    register(store, "churn", fitted, X.head(3), alias="champion")
    return fitted


@pytest.fixture(scope="module")
def server(store: Client, model: LogisticRegression) -> Iterator[ServerHandle]:
    handle = start_server(store, "churn@champion", ServeOptions(token=TOKEN, max_body_mb=0.05))
    yield handle
    handle.stop()


def post(server: ServerHandle, path: str, body: object = None, **kw: object):  # type: ignore[no-untyped-def]
    headers = {**AUTH, **kw.pop("headers", {})}  # type: ignore[dict-item]
    return call(server.url, path, body, headers=headers, **kw)  # type: ignore[arg-type]


def expected(model: LogisticRegression, rows: int = 5) -> tuple[object, list[int]]:
    X, _ = frame(rows, seed=7)
    return X, model.predict(X).tolist()


# -- MLflow's protocol --------------------------------------------------------------------------


def test_given_dataframe_split_when_invoked_then_predictions_match_the_model(server, model):
    X, want = expected(model)
    reply = post(server, "/invocations", split_body(X))
    assert reply.status == 200, reply.body
    assert reply.json() == {"predictions": want}
    assert len(reply.headers["x-request-id"]) == 32


def test_given_columns_in_another_order_then_they_are_put_in_signature_order(server, model):
    X, want = expected(model)
    shuffled = X[list(reversed(FEATURES))]
    assert post(server, "/invocations", split_body(shuffled)).json()["predictions"] == want


def test_given_each_mlflow_body_format_then_each_answers_the_same(server, model):
    X, want = expected(model)
    rows = X.to_numpy().tolist()
    records = X.to_dict(orient="records")
    columns = {c: X[c].tolist() for c in X.columns}
    bodies = [
        {"dataframe_split": {"data": rows}},  # no columns: signature order
        {"dataframe_split": {"columns": FEATURES, "data": rows, "index": list(range(5))}},
        {"dataframe_records": records},
        {"instances": rows},
        {"instances": records},
        {"inputs": columns},
        {"inputs": rows},
    ]
    for body in bodies:
        reply = post(server, "/invocations", body)
        assert reply.status == 200, (body, reply.body)
        assert reply.json()["predictions"] == want, body


def test_given_csv_with_or_without_header_then_it_is_read(server, model):
    X, want = expected(model)
    with_header = X.to_csv(index=False).encode()
    without = X.to_csv(index=False, header=False).encode()
    for raw in (with_header, without):
        reply = post(server, "/invocations", raw=raw, content_type="text/csv")
        assert reply.status == 200, reply.body
        assert reply.json()["predictions"] == want


def test_given_predict_proba_param_then_probabilities_are_answered(server, model):
    X, _ = expected(model)
    want = model.predict_proba(X)
    for params in ({"predict_proba": True}, {"method": "predict_proba"}):
        got = post(server, "/invocations", split_body(X, params=params)).json()["predictions"]
        np.testing.assert_allclose(np.array(got), want, rtol=1e-12)


def test_given_the_health_routes_then_they_answer_without_the_token(server):
    assert call(server.url, "/ping").status == 200
    assert call(server.url, "/health").status == 200
    version = post(server, "/version").json()
    assert version["model"] == "churn" and version["version"] == 1
    assert version["following"] == "models:/churn@champion"


# -- Open Inference Protocol v2 -----------------------------------------------------------------


def test_given_v2_metadata_routes_then_they_describe_the_server_and_model(server):
    assert post(server, "/v2").json()["name"] == "jupyter-mlops"
    assert call(server.url, "/v2/health/live").json() == {"live": True}
    assert call(server.url, "/v2/health/ready").json() == {"ready": True}
    meta = post(server, "/v2/models/churn").json()
    assert meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]] == FEATURES
    assert {o["name"] for o in meta["outputs"]} == {"predict", "predict_proba"}
    assert post(server, "/v2/models/churn/versions/1").json()["name"] == "churn"
    assert post(server, "/v2/models/churn/ready").json() == {"name": "churn", "ready": True}
    assert post(server, "/v2/models/churn/versions/1/ready").status == 200


def test_given_v2_one_input_per_column_then_outputs_are_predictions(server, model):
    X, want = expected(model)
    body = {
        "id": "client-1",
        "inputs": [
            {"name": c, "shape": [len(X)], "datatype": "FP64", "data": X[c].tolist()}
            for c in FEATURES
        ],
    }
    reply = post(server, "/v2/models/churn/infer", body)
    assert reply.status == 200, reply.body
    data = reply.json()
    assert data["model_name"] == "churn" and data["model_version"] == "1"
    assert data["id"] == "client-1"
    (out,) = data["outputs"]
    assert out["name"] == "predict" and out["shape"] == [5] and out["datatype"] == "INT64"
    assert out["data"] == want


def test_given_v2_two_d_tensor_flat_or_nested_then_it_is_read_in_signature_order(server, model):
    X, want = expected(model)
    rows = X.to_numpy()
    for data in (rows.ravel().tolist(), rows.tolist()):
        body = {"inputs": [{"name": "input-0", "shape": [5, 4], "datatype": "FP32", "data": data}]}
        reply = post(server, "/v2/models/churn/versions/1/infer", body)
        assert reply.status == 200, reply.body
        assert reply.json()["outputs"][0]["data"] == want


def test_given_v2_predict_proba_output_then_probabilities_in_row_major_order(server, model):
    X, want = expected(model)
    body = {
        "inputs": [
            {"name": "x", "shape": [5, 4], "datatype": "FP64", "data": X.to_numpy().tolist()}
        ],
        "outputs": [{"name": "predict_proba"}, {"name": "predict"}],
    }
    outputs = post(server, "/v2/models/churn/infer", body).json()["outputs"]
    assert outputs[0]["shape"] == [5, 2] and outputs[0]["datatype"] == "FP64"
    np.testing.assert_allclose(
        np.array(outputs[0]["data"]).reshape(5, 2), model.predict_proba(X), rtol=1e-12
    )
    assert outputs[1]["data"] == want


def test_given_tritons_kserve_client_then_it_works_unchanged_binary_tensors_included(server, model):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
    headers = AUTH
    assert client.is_server_live(headers=headers) and client.is_model_ready(
        "churn", headers=headers
    )
    X, want = expected(model)
    values = X.to_numpy()
    for binary in (True, False):  # the client sends raw little-endian bytes by default
        tensor = httpclient.InferInput("input-0", list(values.shape), "FP64")
        tensor.set_data_from_numpy(values, binary_data=binary)
        asked = [
            httpclient.InferRequestedOutput("predict", binary_data=binary),
            httpclient.InferRequestedOutput("predict_proba", binary_data=binary),
        ]
        # (the client writes its binary header into the dict it is given: a fresh one each)
        result = client.infer("churn", [tensor], outputs=asked, headers=dict(AUTH))
        assert result.as_numpy("predict").tolist() == want
        np.testing.assert_allclose(result.as_numpy("predict_proba"), model.predict_proba(X))
    columns = []
    for name in FEATURES:  # one FP32 input per column, binary
        column = httpclient.InferInput(name, [len(X)], "FP32")
        column.set_data_from_numpy(X[name].to_numpy(np.float32))
        columns.append(column)
    got = client.infer("churn", columns, headers=dict(AUTH)).as_numpy("predict").tolist()
    assert got == model.predict(X.astype(np.float32)).tolist()


def test_given_a_binary_part_that_does_not_fit_then_400(server):
    import json

    header = json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64",
                     "parameters": {"binary_data_size": 32}}]}
    ).encode()  # fmt: skip
    for tail in (b"\0" * 31, b"\0" * 40):
        reply = post(
            server,
            "/v2/models/churn/infer",
            raw=header + tail,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
        assert reply.status == 400 and "binary" in reply.json()["error"]


def test_given_another_model_or_version_then_v2_answers_404_in_its_error_shape(server):
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [0, 0, 0, 0]}]}
    for path in ("/v2/models/other/infer", "/v2/models/churn/versions/7/infer"):
        reply = post(server, path, body)
        assert reply.status == 404
        assert set(reply.json()) == {"error"}


# -- bad input ----------------------------------------------------------------------------------

BAD = [
    ({"dataframe_split": {"columns": FEATURES[:3], "data": [[1, 2, 3]]}}, "lacks column(s) 'f3'"),
    (
        {"dataframe_split": {"columns": [*FEATURES, "zz"], "data": [[1, 2, 3, 4, 5]]}},
        "unknown column(s) 'zz'",
    ),
    ({"dataframe_split": {"columns": FEATURES, "data": [[1, "x", 3, 4]]}}, "Column 'f1', row 0"),
    ({"dataframe_split": {"data": [[1, 2, 3]]}}, "Row 0 has 3 values; the model takes 4"),
    ({"dataframe_records": [{"f0": 1, "f1": 2, "f2": None, "f3": 4}]}, "missing value"),
    ({"dataframe_split": {"columns": FEATURES, "data": [[1, 2, 3, 1e999]]}}, "infinite"),
    ({"instances": []}, "non-empty"),
    ({"dataframe_split": {"data": []}}, "no rows"),
    ({"dataframe_split": {"data": [[1, 2, 3, 4]]}, "instances": [[1, 2, 3, 4]]}, "exactly one"),
    ({"dataframe_split": {"data": [[1, 2, 3, 4]]}, "bogus": 1}, "Unknown field(s) 'bogus'"),
    ({"dataframe_split": {"data": [[1, 2, 3, 4]]}, "params": {"method": "fit"}}, "params.method"),
    ([1, 2, 3], "JSON object"),
]


@pytest.mark.parametrize(("body", "says"), BAD)
def test_given_bad_mlflow_body_then_400_names_the_problem(server, body, says):
    reply = post(server, "/invocations", body)
    assert reply.status == 400, reply.body
    message = reply.json()["message"]
    assert says in message
    assert reply.json()["error_code"] == "BAD_REQUEST"


def test_given_nan_literal_in_json_then_400_names_column_and_row(server):
    raw = (
        b'{"dataframe_split": {"columns": ["f0","f1","f2","f3"], '
        b'"data": [[1, 2, 3, 4], [1, NaN, 3, 4]]}}'
    )
    reply = post(server, "/invocations", raw=raw)
    assert reply.status == 400
    assert "Column 'f1', row 1: a missing value (NaN)" in reply.json()["message"]


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "says"),
    [
        (b'{"dataframe_split": ', "application/json", 400, "not valid JSON"),
        (b"\xff\xfe\x00garbage", "application/json", 400, "not"),
        (b"", "application/json", 400, "empty"),
        (b"f0,f1,f2,f3\n1,2,3\n", "text/csv", 400, "CSV row 0 has 3 values"),
        (b"f0,f1,f2,f3\n1,2,x,4\n", "text/csv", 400, "Column 'f2', row 0: expected a number"),
        (b"<xml/>", "application/xml", 415, "not supported"),
    ],
)
def test_given_malformed_body_then_4xx_names_it(server, raw, content_type, status, says):
    reply = post(server, "/invocations", raw=raw, content_type=content_type)
    assert reply.status == status, reply.body
    assert says in reply.json()["message"]


def test_given_body_over_the_limit_then_413_whether_declared_or_streamed(server):
    big = split_body(frame(2000)[0])
    reply = post(server, "/invocations", big)
    assert reply.status == 413
    assert "limit" in reply.json()["message"]
    # Chunked: no Content-Length to trust, the server counts what arrives.
    import http.client
    import json
    import urllib.parse

    parsed = urllib.parse.urlparse(server.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    payload = json.dumps(big).encode()
    chunks = (payload[i : i + 8192] for i in range(0, len(payload), 8192))
    conn.request(
        "POST",
        "/invocations",
        chunks,
        {**AUTH, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    assert conn.getresponse().status == 413
    conn.close()
    assert call(server.url, "/ping").status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3]}]},
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FLOAT", "data": [1, 2, 3, 4]}]},
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4.5]}]},
        {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
        {"inputs": [{"name": "f0", "shape": [1], "datatype": "FP64", "data": [1]}]},
        {"inputs": []},
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}],
         "outputs": [{"name": "explain"}]},
    ],
)  # fmt: skip
def test_given_bad_v2_body_then_400_in_v2_error_shape(server, body):
    reply = post(server, "/v2/models/churn/infer", body)
    assert reply.status == 400, reply.body
    assert set(reply.json()) == {"error"} and reply.json()["error"]


def test_given_wrong_method_or_route_then_405_or_404_json(server):
    assert post(server, "/invocations", method="GET").status == 405
    reply = post(server, "/nowhere")
    assert reply.status == 404 and "openapi" in reply.json()["message"]


# -- boundary: token, Host ----------------------------------------------------------------------


def test_given_no_or_wrong_token_then_401_and_the_right_one_passes(server):
    body = split_body(frame(1)[0])
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        reply = call(server.url, "/invocations", body, headers=headers)
        assert reply.status == 401
        assert reply.headers["www-authenticate"] == "Bearer"
    assert call(server.url, "/metrics").status == 401
    assert post(server, "/invocations", body).status == 200


def test_given_a_foreign_host_header_then_403_dns_rebinding_refused(server):
    port = server.url.rsplit(":", 1)[1]
    body = split_body(frame(1)[0])
    reply = post(server, "/invocations", body, headers={"Host": f"evil.example:{port}"})
    assert reply.status == 403
    assert "not one this server answers to" in reply.json()["message"]
    assert post(server, "/ping", headers={"Host": f"localhost:{port}"}).status == 200


# -- what the server records -----------------------------------------------------------------


def test_given_a_client_request_id_then_it_is_echoed_recorded_and_labels_join_it(
    server, store, model
):
    X, want = expected(model, 3)
    rid = "order-42"
    reply = post(server, "/invocations", split_body(X), headers={"X-Request-ID": rid})
    assert reply.headers["x-request-id"] == rid
    labelled = post(server, "/feedback", {"request_id": rid, "labels": [1, 0, 1]})
    assert labelled.json() == {"labelled_rows": 3}
    batch = post(server, "/feedback", {"feedback": [{"request_id": "other", "label": 0}]})
    assert batch.status == 200
    deadline = time.monotonic() + 15
    rows = None
    while time.monotonic() < deadline:
        table = store.read_predictions("churn").to_pandas()
        rows = table[table.request_id == rid]
        if len(rows) == 3:
            break
        time.sleep(0.2)
    assert rows is not None and len(rows) == 3
    assert rows["version"].tolist() == [1, 1, 1]
    assert rows["output.prediction"].tolist() == want
    np.testing.assert_allclose(rows["input.f2"].to_numpy(), X["f2"].to_numpy())
    labels = store.read_labels("churn").to_pandas()
    assert labels[labels.request_id == rid].sort_values("row")["label"].tolist() == [1, 0, 1]


def test_given_refused_requests_then_they_are_recorded_with_status_and_reason(server, store):
    rid = "bad-one"
    # Without the token it is nobody's traffic: not recorded.
    call(server.url, "/invocations", {"instances": [[1, 2]]}, headers={"X-Request-ID": "anon"})
    post(server, "/invocations", {"instances": [[1, 2]]}, headers={"X-Request-ID": rid})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        table = store.read_predictions("churn").to_pandas()
        rows = table[table.request_id == rid]
        if len(rows):
            break
        time.sleep(0.2)
    assert rows["status"].tolist() == [400]
    assert "the model takes 4" in rows["error"].iloc[0]
    assert "anon" not in set(table.request_id)


@pytest.mark.parametrize(
    "body",
    [
        {"request_id": "x"},
        {"request_id": "x", "label": 1, "labels": [1]},
        {"request_id": 3, "label": 1},
        {"request_id": "x", "label": [1]},
        {"feedback": []},
        {"request_id": "x", "label": float("inf")},
    ],
)
def test_given_bad_feedback_then_400(server, body):
    reply = post(server, "/feedback", raw=__import__("json").dumps(body).encode())
    assert reply.status == 400, reply.body


def test_given_requests_then_metrics_count_them_in_prometheus_format(server):
    post(server, "/invocations", split_body(frame(2)[0]))
    text = post(server, "/metrics").body.decode()
    for name in (
        "mlops_requests_total",
        "mlops_request_duration_seconds_bucket",
        "mlops_batch_rows_bucket",
        "mlops_model_version",
        "mlops_records_dropped_total",
        "mlops_predictions_total",
    ):
        assert f"# TYPE {name.removesuffix('_bucket')}" in text, name
    ok = next(
        line
        for line in text.splitlines()
        if line.startswith("mlops_requests_total") and "2xx" in line
    )
    assert float(ok.split()[-1]) >= 1
    assert 'mlops_model_version{model="churn"} 1' in text


def test_given_the_openapi_document_then_it_lists_every_route_and_the_columns(server):
    doc = post(server, "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ("/invocations", "/v2/models/{name}/infer", "/feedback", "/metrics", "/ping"):
        assert path in doc["paths"]
    split = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    assert "dataframe_split" in str(split)
    assert all(f in str(split) for f in FEATURES)


def test_given_the_server_then_its_record_and_lineage_say_where_the_version_is_served(
    server, store
):
    record = store.get_model_server(server.id)
    assert record.status == "RUNNING" and record.version == 1 and record.url == server.url
    assert record.options["token_set"] is True and "token" not in record.options
    served = store.model_lineage("churn", 1)["served"]
    assert [s["server_id"] for s in served] == [server.id]
    assert served[0]["serving_now"] is True


def test_given_a_model_that_raises_then_500_generic_and_the_traceback_only_in_the_log(
    store: Client, tmp_path: Path
):
    class Exploding:
        n_features_in_ = 4

        def predict(self, X):
            if float(X[0][0]) > 100:
                raise RuntimeError("secret internal detail /etc/passwd")
            if float(X[0][0]) < -100:
                raise ValueError("secret value check")
            return np.zeros(len(X))

    register(store, "exploding", Exploding(), None, alias="live")
    handle = start_server(store, "exploding@live", ServeOptions())
    try:
        ok = call(handle.url, "/invocations", {"instances": [[0, 0, 0, 0]]})
        assert ok.status == 200 and ok.json() == {"predictions": [0.0]}
        bad = call(handle.url, "/invocations", {"instances": [[1000, 0, 0, 0]]})
        assert bad.status == 500
        assert "secret" not in bad.body.decode() and "passwd" not in bad.body.decode()
        refused = call(handle.url, "/invocations", {"instances": [[-1000, 0, 0, 0]]})
        assert refused.status == 422, refused.body  # the model's own input check: 4xx
        assert "ValueError" in refused.json()["message"]
        assert "secret" not in refused.body.decode()
        assert call(handle.url, "/ping").status == 200
    finally:
        handle.stop()
    log = (store.location.home / "server-logs" / f"{handle.id}.log").read_text()
    assert "secret internal detail" in log


def test_given_an_unknown_model_or_alias_then_start_fails_fast_and_starts_nothing(store, model):
    from jupyter_mlops.exceptions import InvalidInput, NotFound

    before = len(store.list_model_servers(active_only=False))
    with pytest.raises(NotFound):
        start_server(store, "churn@nobody")
    with pytest.raises(NotFound):
        start_server(store, "nothing/1")
    with pytest.raises(InvalidInput):
        start_server(store, "churn")
    assert len(store.list_model_servers(active_only=False)) == before


def test_given_a_port_in_use_then_the_start_fails_with_the_reason(store, model, server):
    port = int(server.url.rsplit(":", 1)[1])
    from jupyter_mlops.exceptions import Conflict

    with pytest.raises(Conflict, match=f"Cannot listen on 127.0.0.1:{port}"):
        start_server(store, "churn@champion", ServeOptions(port=port), timeout=60)


def test_given_recording_off_then_nothing_is_recorded(store, model):
    handle = start_server(store, "churn/1", ServeOptions(record=False))
    try:
        rid = "unrecorded"
        reply = call(
            handle.url, "/invocations", split_body(frame(1)[0]), headers={"X-Request-ID": rid}
        )
        assert reply.status == 200
        time.sleep(1.5)
        table = store.read_predictions("churn").to_pandas()
        assert rid not in set(table.get("request_id", []))
        assert call(handle.url, "/feedback", {"request_id": rid, "label": 1}).status == 400
    finally:
        handle.stop()


def test_given_a_full_recording_queue_then_rows_are_dropped_and_counted_not_blocking(store, model):
    handle = start_server(store, "churn/1", ServeOptions(queue_rows=3))
    try:
        X = frame(2)[0]
        statuses = [call(handle.url, "/invocations", split_body(X)).status for _ in range(40)]
        assert statuses == [200] * 40
        text = call(handle.url, "/metrics").body.decode()
        dropped = next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("mlops_records_dropped_total{")
        )
        assert dropped > 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not store.get_model_server(handle.id).stats.get(
            "dropped"
        ):
            time.sleep(0.3)
        assert store.get_model_server(handle.id).stats["dropped"] > 0
    finally:
        handle.stop()


def test_given_micro_batching_then_concurrent_requests_share_predict_calls_correctly(store, model):
    from concurrent.futures import ThreadPoolExecutor

    handle = start_server(store, "churn/1", ServeOptions(max_batch=64, max_wait_ms=20))
    try:
        X, _ = frame(64, seed=3)
        want = model.predict(X).tolist()

        def one(i: int) -> list[int]:
            reply = call(handle.url, "/invocations", split_body(X.iloc[[i]]))
            assert reply.status == 200, reply.body
            return reply.json()["predictions"]

        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(one, range(64)))
        assert [g[0] for g in got] == want
        text = call(handle.url, "/metrics").body.decode()
        one_row = next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith('mlops_batch_rows_bucket{model="churn",le="1"}')
        )
        calls = next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("mlops_batch_rows_count")
        )
        assert calls < 64 and one_row < calls  # some calls merged several requests
    finally:
        handle.stop()


def test_given_two_workers_then_both_answer_and_metrics_sum_them(store, model):
    handle = start_server(store, "churn/1", ServeOptions(workers=2))
    try:
        for _ in range(30):
            assert call(handle.url, "/invocations", split_body(frame(1)[0])).status == 200
        text = call(handle.url, "/metrics").body.decode()
        ok = next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("mlops_requests_total") and "2xx" in line
        )
        assert ok >= 30
    finally:
        record = handle.stop()
    assert record.status == "STOPPED" and record.reason == "stopped by request"
