"""The serving domain of the Client on SQLite and PostgreSQL: server records that end once and
for good, recorded predictions read back as one Arrow table, labels joined by request id —
and a real server recording into PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest
from serving_helpers import call, frame, register, split_body
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import Client
from jupyter_mlops.exceptions import InvalidInput, NotFound


@pytest.fixture
def served(store_url: str, open_client: Callable[..., Client]) -> Client:
    return open_client(store_url)


def _table(ids: list[str], at: list[int], version: int, columns: dict[str, list[float]]):  # type: ignore[no-untyped-def]
    n = len(ids)
    data = {
        "request_id": pa.array(ids),
        "row": pa.array(np.zeros(n, dtype=np.int32)),
        "at": pa.array(np.array(at, dtype=np.int64)),
        "version": pa.array(np.full(n, version, dtype=np.int32)),
        "status": pa.array(np.full(n, 200, dtype=np.int16)),
        "latency_ms": pa.array(np.ones(n, dtype=np.float32)),
    }
    data.update({f"input.{k}": pa.array(v) for k, v in columns.items()})
    data["output.prediction"] = pa.array(np.arange(n))
    return pa.table(data)


def test_given_a_server_record_then_it_changes_while_live_and_never_after_it_ended(served):
    record = served.create_model_server("churn", "@champion", "http://127.0.0.1:1", pid=None)
    assert record.status == "STARTING" and record.version is None
    running = served.update_model_server(record.id, status="RUNNING", version=2, stats={"rate": 3})
    assert (running.status, running.version, running.stats) == ("RUNNING", 2, {"rate": 3})
    assert served.request_model_server_stop(record.id[:6]).stop_requested is True
    ended = served.update_model_server(record.id, status="STOPPED", reason="asked")
    assert ended.ended_at is not None and ended.reason == "asked"
    late = served.update_model_server(record.id, status="RUNNING", stats={"rate": 9})
    assert late.status == "STOPPED" and late.stats == {"rate": 3}
    assert served.list_model_servers(active_only=True) == []
    assert [s.id for s in served.list_model_servers("churn")] == [record.id]
    events = served.events_after(0, "model.server", "churn")
    assert [e.payload["status"] for e in events] == ["STARTING", "RUNNING", "STOPPED"]


def test_given_a_live_record_whose_process_is_gone_then_it_reads_killed(served):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    record = served.create_model_server("churn", "/1", "http://127.0.0.1:1", pid=gone.pid)
    served.update_model_server(record.id, status="RUNNING", version=1)
    assert served.reconcile_model_servers(force=True) == [record.id]
    killed = served.get_model_server(record.id)
    assert killed.status == "KILLED" and "stopped without ending its record" in killed.reason
    alive = served.create_model_server("churn", "/1", "http://127.0.0.1:2", pid=os.getpid())
    assert served.reconcile_model_servers(force=True) == []
    assert served.get_model_server(alive.id).status == "STARTING"


def test_given_unknown_or_ambiguous_server_ids_then_not_found_or_invalid(served):
    with pytest.raises(NotFound):
        served.get_model_server("ffff")
    with pytest.raises(NotFound):
        served.get_model_server("not-hex")
    for _ in range(17):  # 17 ids, 16 hex digits: two share their first one
        served.create_model_server("churn", "/1", "http://127.0.0.1:1", pid=None)
    firsts = [s.id[0] for s in served.list_model_servers()]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(InvalidInput, match="ambiguous"):
        served.get_model_server(shared)


def test_given_batches_of_two_versions_then_one_table_with_the_union_of_columns_and_filters(
    served,
):
    first = _table(["a", "b"], [1000, 2000], 1, {"x": [1.0, 2.0], "y": [3.0, 4.0]})
    second = _table(["c"], [3000], 2, {"x": [5.0], "z": [6.0]})
    assert served.log_predictions("s1", "churn", [first, second]) == 3
    table = served.read_predictions("churn")
    assert table.column("request_id").to_pylist() == ["a", "b", "c"]
    assert table.column("input.y").to_pylist() == [3.0, 4.0, None]
    assert table.column("input.z").to_pylist() == [None, None, 6.0]
    assert served.read_predictions("churn", since=2000).column("request_id").to_pylist() == [
        "b",
        "c",
    ]
    assert served.read_predictions("churn", until=2000).num_rows == 1
    assert served.read_predictions("churn", version=2).num_rows == 1
    assert served.read_predictions("churn", server_id="other").num_rows == 0
    assert served.read_predictions("fraud").num_rows == 0


def test_given_labels_then_they_are_kept_per_row_and_a_second_label_replaces_the_first(served):
    assert served.log_labels("churn", {"a": 1, "b": [0, 1]}) == 3
    assert served.log_labels("churn", [("a", 0)]) == 1
    labels = served.read_labels("churn").to_pandas().sort_values(["request_id", "row"])
    assert labels[["request_id", "row", "label"]].values.tolist() == [
        ["a", 0, 0],
        ["b", 0, 0],
        ["b", 1, 1],
    ]
    for bad in ({"a": float("nan")}, {"a": {"x": 1}}, {}, {"": 1}):
        with pytest.raises(InvalidInput):
            served.log_labels("churn", bad)


@pytest.mark.postgres
@pytest.mark.slow
def test_given_a_postgresql_store_then_a_real_server_records_there(
    postgres_url: str, open_client: Callable[..., Client], tmp_path, monkeypatch
):
    import sqlalchemy as sa

    from jupyter_mlops import config
    from jupyter_mlops.serving import start_server

    monkeypatch.setenv(config.ARTIFACTS_ENV, str(tmp_path / "artifacts"))
    database = f"mlops_serving_{os.getpid()}"
    admin = sa.create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    try:
        client = open_client(postgres_url.rsplit("/", 1)[0] + "/" + database)
        X, y = frame()
        model = LogisticRegression().fit(X, y)
        register(client, "churn", model, X.head(2), alias="champion")
        handle = start_server(client, "churn@champion")
        try:
            reply = call(handle.url, "/invocations", split_body(X.head(3)))
            assert reply.json()["predictions"] == model.predict(X.head(3)).tolist()
            rid = reply.headers["x-request-id"]
            assert (
                call(handle.url, "/feedback", {"request_id": rid, "labels": [1, 0, 1]}).status
                == 200
            )
            deadline = time.monotonic() + 15
            while client.read_predictions("churn").num_rows < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            handle.stop()
        assert client.read_predictions("churn").column("request_id").to_pylist() == [rid] * 3
        assert client.read_labels("churn").num_rows == 3
        assert client.get_model_server(handle.id).status == "STOPPED"
        client.close()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.dispose()
