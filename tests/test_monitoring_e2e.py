"""Monitoring end to end: ``%%track`` builds a model's reference in a real IPython shell; a
real model server records traffic that drifts and labels that show the quality drop; the
monitor, the CLI process and the store (SQLite and PostgreSQL) agree on what happened."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_helpers import call, frame, register, register_monitored, split_body
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import Client
from jupyter_mlops.entities import AlertState
from jupyter_mlops.exceptions import InvalidInput, NotFound
from jupyter_mlops.monitoring.monitor import build_reference, monitor
from jupyter_mlops.monitoring.reference import Reference
from jupyter_mlops.serving import ServeOptions, start_server


def test_given_a_tracked_training_cell_then_its_model_gets_a_reference_with_calibration(ip, store):
    ip.user_ns["X"], ip.user_ns["y"] = frame(2_000)
    cell = (
        "from sklearn.linear_model import LogisticRegression\nclf = LogisticRegression().fit(X, y)"
    )
    assert ip.run_cell(f"%%track\n{cell}").success
    run = store.get_run(store.search_runs()[0].info.id)
    (logged,) = run.models
    reference = Reference.from_dict(store.get_reference(logged.id))
    assert reference.rows == 2_000 and list(reference.columns) == list(ip.user_ns["X"].columns)
    assert reference.task == "classification" and reference.classes == ["0", "1"]
    assert reference.calibration is not None and reference.scores is not None
    assert reference.source == "%%track X"
    ip.run_line_magic("config", "TrackMagics.reference_profiles = False")
    assert ip.run_cell(f"%%track\n{cell}").success
    newest = store.get_run(store.search_runs()[0].info.id).models[0]
    assert store.get_reference(newest.id) is None


def test_given_a_version_without_reference_then_monitoring_says_how_to_build_one(tmp_path):
    client = Client(f"sqlite:///{tmp_path / 'mlops.db'}")
    X, y = frame(300)
    register(client, "churn", LogisticRegression().fit(X, y), X.head(2))
    with pytest.raises(NotFound, match=r"mlops.build_reference\('churn', 1"):
        client.version_reference("churn", 1)
    reference = build_reference(client, "churn", 1, X.assign(label=y), target="label")
    assert reference.calibration is not None and "label" not in reference.columns
    assert client.version_reference("churn", 1)["rows"] == 300
    with pytest.raises(InvalidInput, match="not both or neither"):
        build_reference(client, "churn", 1)


def test_given_a_labelled_dataset_then_it_is_checked_as_one_window(tmp_path):
    from jupyter_mlops.monitoring.monitor import check_dataset

    client = Client(f"sqlite:///{tmp_path / 'mlops.db'}")
    register_monitored(client)
    held, labels = frame(1_000, seed=9)
    calm = check_dataset(client, "churn", 1, held.assign(label=labels), target="label")
    assert not calm.drifted_columns and calm.versions == [1]
    assert calm.quality["realised"]["accuracy"] > 0.9 and calm.quality["labelled_rows"] == 1_000
    moved = check_dataset(client, "churn", 1, held.assign(f2=held["f2"] * 3), labels)
    assert [d.column for d in moved.drifted_columns] == ["f2"]
    with pytest.raises(InvalidInput, match="no column"):
        check_dataset(client, "churn", 1, held, target="nope")
    client.close()


def test_given_recorded_file_datasets_then_the_cli_builds_a_reference_and_checks_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    client = Client(url)
    X, y = frame(2_000)
    register(client, "churn", LogisticRegression().fit(X, y), X.head(2))
    train, holdout = tmp_path / "train.csv", tmp_path / "holdout.csv"
    X.assign(churned=y).to_csv(train, index=False)
    held, held_y = frame(500, seed=4)
    held.assign(churned=held_y, f3=held["f3"] + 3).to_csv(holdout, index=False)
    run_id = client.create_run("data")
    for path in (train, holdout):
        client.log_dataset(run_id, str(path))
    client.end_run(run_id)
    client.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jupyter_mlops.cli", "--store", url, "monitor", *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    built = cli("reference", "churn/1", "--dataset", "train.csv@1", "--target", "churned")
    assert built.returncode == 0 and "2,000 rows, 4 columns, classification" in built.stdout
    checked = cli(
        "check", "churn/1", "--dataset", "holdout.csv@1", "--target", "churned", "--format", "json"
    )
    assert checked.returncode == 0, checked.stderr
    window = json.loads(checked.stdout)
    assert [d["column"] for d in window["drift"] if d["drifted"]] == ["f3"]
    # f3 moved under the labels (made from the old f3): the quality drop shows
    assert window["quality"]["labelled_rows"] == 500
    assert window["quality"]["realised"]["accuracy"] < 0.8
    missing = cli("check", "churn/1", "--dataset", "nope.csv@1")
    assert (
        missing.returncode != 0
        and "nope.csv" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_given_references_and_configurations_then_each_store_keeps_them(
    store_url: str,
    open_client: Callable[..., Client],
):
    client = open_client(store_url)
    X, y = frame(500)
    model = LogisticRegression().fit(X, y)
    register(client, "churn", model, X.head(2))
    logged_id = client.get_model_version("churn", 1).logged_model_id
    first = build_reference(client, "churn", 1, X, y)
    stored = client.reference_summaries([logged_id, "0" * 32])
    assert list(stored) == [logged_id] and stored[logged_id].rows == 500
    build_reference(client, "churn", 1, X.head(100), y[:100])  # a rebuild replaces it
    assert client.version_reference("churn", 1)["rows"] == 100
    assert first.rows == 500
    assert client.get_monitor_config("churn").drift.share == 0.5
    config = client.set_monitor_config("churn", "window: 15m\ndrift:\n  share: 0.3\n")
    assert (config.window, config.drift.share) == ("15m", 0.3)
    assert client.get_monitor_config("churn") == config
    with pytest.raises(NotFound):
        client.set_monitor_config("nobody", {})
    # A rule's state: a change is one event; the same window again writes nothing.
    state = AlertState("churn", "drift", "alert", 1_000, 1_000, 2.5, 3_600_000, ["alert"], 1)
    assert client.save_alert_state(state, {"state": "alert", "previous": "ok"}) is not None
    assert client.save_alert_state(state, {"state": "alert", "previous": "ok"}) is None
    calm = AlertState("churn", "drift", "alert", 1_000, 2_000, 0.5, 7_200_000, ["alert", "ok"], 1)
    assert client.save_alert_state(calm, {"state": "alert"}) is not None
    assert [e.payload["state"] for e in client.alert_history("churn")] == ["alert"]
    back = AlertState("churn", "drift", "ok", 3_000, 3_000, 0.1, 10_800_000, ["ok"], 1)
    client.save_alert_state(back, {"state": "ok"})
    newest = client.alert_history("churn", limit=1, newest=True)
    assert [e.payload["state"] for e in newest] == ["ok"]
    assert [e.payload["state"] for e in client.alert_history("churn", limit=5, newest=True)] == [
        "alert",
        "ok",
    ]
    client.record_alert_delivery("churn", "drift", {"status": 200, "attempts": 1})
    (stored,) = client.list_alert_states("churn")
    assert (stored.window_end, stored.levels, stored.delivery["status"]) == (
        10_800_000,
        ["ok"],
        200,
    )
    assert client.monitored_models() == ["churn"]


# -- a real server -------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[Client, Any, str]]:
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    client = Client(url)
    register_monitored(client, 5_000)
    handle = start_server(client, "churn@champion", ServeOptions())
    try:
        yield client, handle, url
    finally:
        handle.stop()
        client.close()


def _send(handle: Any, rows: pd.DataFrame, labels: np.ndarray | None) -> list[str]:
    ids = []
    for i in range(len(rows)):
        reply = call(handle.url, "/invocations", split_body(rows.iloc[[i]]))
        assert reply.status == 200, reply.body
        ids.append(reply.headers["x-request-id"])
    if labels is not None:
        feedback = [{"request_id": r, "label": int(v)} for r, v in zip(ids, labels, strict=True)]
        reply = call(handle.url, "/feedback", {"feedback": feedback})
        assert reply.status == 200, reply.body
    return ids


def _recorded(client: Client, rows: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while client.read_predictions("churn").num_rows < rows:
        assert time.monotonic() < deadline, "the server did not record the traffic"
        time.sleep(0.2)


def test_given_traffic_that_drifts_with_labels_then_the_monitor_sees_drift_and_the_drop(served):
    client, handle, url = served
    calm, calm_labels = frame(300, seed=11)
    _send(handle, calm, calm_labels)
    shifted, _ = frame(300, seed=12)
    shifted["f0"] += 2.0
    # The world changed, not only the inputs: the labels follow the old rule on old inputs.
    flipped = 1 - (shifted["f0"] - 2.0 + 0.5 * shifted["f1"] - shifted["f3"] > 0).astype(int)
    _send(handle, shifted, flipped.to_numpy())
    for _ in range(5):  # refused requests: counted, not checked
        reply = call(
            handle.url, "/invocations", {"dataframe_split": {"columns": ["f0"], "data": [["x"]]}}
        )
        assert reply.status == 400
    _recorded(client, 605)
    report = monitor(client, "churn", rows=300, windows=2)
    before, after = report.windows
    assert before.rows == 300 and not before.drifted_columns
    assert [d.column for d in after.drifted_columns] == ["f0"]
    assert after.prediction_drift is not None and after.prediction_drift.drifted
    assert before.quality["realised"]["accuracy"] > 0.9
    assert after.quality["realised"]["accuracy"] < 0.5
    # Without labels the estimate stays high: the scores cannot see that the rule changed.
    assert after.quality["estimated"]["accuracy"] > 0.8
    assert after.operations is not None and after.operations["errors"] == 5
    assert after.operations["refused_rows"] == 5
    f0 = next(q for q in after.data_quality if q["column"] == "f0")
    assert f0["out_of_range_share"] > 0.05
    metrics = call(handle.url, "/metrics").body.decode()
    assert "mlops_request_duration_seconds_bucket" in metrics

    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--store", url, "monitor", "churn",
         "--rows", "300", "--windows", "2", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert [[d["column"] for d in w["drift"] if d["drifted"]] for w in shown["windows"]] == [
        [],
        ["f0"],
    ]
    text = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--store", url, "monitor", "churn",
         "--window", "1h"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert "f0" in text.stdout and "dataset drift" in text.stdout and "estimated" in text.stdout


def test_given_the_cli_with_bad_arguments_then_it_says_what_is_wrong(served):
    _, _, url = served
    for args, message in (
        (["--window", "1h", "--rows", "10"], "not both"),
        (["--window", "soon"], "duration"),
        (["--rows", "0"], "rows must be"),
        (["--windows", "0"], "windows must be"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "jupyter_mlops.cli", "--store", url, "monitor", "churn", *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode != 0 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--store", url, "monitor", "nobody"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode != 0 and "nobody" in missing.stderr


def _recorded_hours(client: Client, model: Any, hours: int, drift_from: int) -> None:
    """``hours`` hours of one-row requests (200 an hour) as the server records them; the
    inputs drift from hour ``drift_from`` on."""
    import uuid

    from jupyter_mlops.serving.recorder import tables_of

    # Whole clock hours, so each hour's rows fall in one aligned window whatever the time.
    now = int(time.time() * 1000) // 3_600_000 * 3_600_000
    records = []

    def scorer(batch: Any) -> Any:  # as the server's recorder calls it, on the rows' array
        return model.predict_proba(pd.DataFrame(batch, columns=list(frame(1)[0].columns)))

    for hour in range(hours):
        X, _ = frame(200, seed=hour + 1)
        if hour >= drift_from:
            X["f0"] += 1.5
        for i in range(200):
            row = X.iloc[[i]]
            records.append(
                (uuid.uuid4().hex, now - (hours - hour) * 3_600_000 + i * 1000, 1, 200, 0.4,
                 list(X.columns), row.to_numpy(), "prediction", model.predict(row), None,
                 scorer)
            )  # fmt: skip
    client.log_predictions(uuid.uuid4().hex, "churn", tables_of(records))


def test_given_hours_of_traffic_then_the_notebook_dashboard_draws_each_chart(ip, store):
    import jupyter_mlops as mlops

    X, y = frame(3_000)
    model = LogisticRegression().fit(X, y)
    register(store, "churn", model, X.head(2), alias="champion")
    mlops.build_reference("churn", 1, X, y)
    _recorded_hours(store, model, hours=6, drift_from=3)
    view = ip.run_line_magic("mlops", "monitor churn --window 1h --windows 8")
    assert type(view).__name__ == "MonitorView"
    assert list(view.figures) == ["drift", "distributions", "quality", "operations"]
    heatmap = view.figures["drift"].data[0]
    assert next(iter(heatmap.y)) == "f0" and len(heatmap.x) == 6
    f0 = next(iter(heatmap.z))
    assert all(v < 1 for v in f0[:3]) and all(v > 1 for v in f0[3:])
    titles = [a.text for a in view.figures["distributions"].layout.annotations]
    assert titles == ["f0", "prediction"]
    bundle = view._repr_mimebundle_()
    assert "History (oldest first)" in bundle["text/plain"]
    assert "1 of 4 columns drifted" in bundle["text/html"]
    report = mlops.monitor("churn", window="1h", windows=8)
    assert len(report.windows) == 6 and "dataset drift" in str(report)
    with pytest.raises(Exception, match="nobody"):
        ip.run_line_magic("mlops", "monitor nobody")
