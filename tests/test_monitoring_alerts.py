"""Alert rules: hysteresis, each metric read from a window, states and ``monitor.alert``
events in the store (never twice for one change), the scheduler's job, a real scheduler
process after real HTTP traffic, and the webhook: refused addresses, a signed delivery to a
real HTTPS receiver, retries with backoff, failures recorded."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_helpers import call, frame, register_monitored, split_body
from sklearn.linear_model import LogisticRegression

from jupyter_mlops import Client
from jupyter_mlops.client.monitor_config import AlertRule, MonitorConfig, WebhookConfig
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.monitoring.alerts import MonitorJob, evaluate_alerts, next_state, rule_value
from jupyter_mlops.monitoring.check import check, window_of_frame
from jupyter_mlops.monitoring.reference import build_reference as reference_of
from jupyter_mlops.monitoring.webhook import check_target, deliver, signature
from jupyter_mlops.pipelines.scheduler import Scheduler
from jupyter_mlops.serving import ServeOptions, start_server
from jupyter_mlops.serving.recorder import tables_of

HOUR = 3_600_000


# -- hysteresis ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "levels", "expected"),
    [
        ("ok", ["ok", "ok", "alert"], "ok"),  # one loud window of three: not yet
        ("ok", ["ok", "alert", "alert"], "alert"),  # two of the last three
        ("ok", ["alert", "ok", "alert"], "alert"),
        ("ok", ["warn", "alert", "ok"], "warn"),  # two at warn or louder, one at alert
        ("alert", ["alert", "alert", "ok"], "alert"),  # one calm window: still alert
        ("alert", ["alert", "ok", "ok"], "ok"),  # two calm of three: cleared
        ("alert", ["alert", "warn", "ok"], "warn"),  # down to the loudest calm level
        ("warn", ["warn", "alert", "alert"], "alert"),
        ("ok", [], "ok"),
    ],
)
def test_next_state_raises_and_clears_on_m_of_n(current, levels, expected):
    assert next_state(current, levels, (2, 3), (2, 3)) == expected


def test_a_rule_levels_its_value_above_or_below_with_a_warning_band():
    latency = AlertRule("latency", "p95_ms", above=50, warn=30)
    assert [latency.level(v) for v in (10, 35, 60, None)] == ["ok", "warn", "alert", None]
    accuracy = AlertRule("accuracy", "estimated_accuracy", below=0.8, warn=0.85)
    assert [accuracy.level(v) for v in (0.9, 0.82, 0.7)] == ["ok", "warn", "alert"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"metric": "p95", "above": 1}, "unknown metric"),
        ({"metric": "p95_ms"}, "one of above or below"),
        ({"metric": "p95_ms", "above": 1, "below": 2}, "one of above or below"),
        ({"metric": "p95_ms", "above": 10, "warn": 20}, "milder"),
        ({"metric": "error_rate", "column": "x", "above": 0.1}, "not about one column"),
    ],
)
def test_given_a_bad_rule_then_it_is_refused_naming_it(rule, message):
    with pytest.raises(InvalidInput, match=message):
        MonitorConfig.from_dict({"alerts": {"rules": [rule]}})
    with pytest.raises(InvalidInput, match="M of the last N"):
        MonitorConfig.from_dict({"alerts": {"raise": [3, 2]}})
    with pytest.raises(InvalidInput, match="https"):
        MonitorConfig.from_dict({"alerts": {"webhook": {"url": "http://hooks.example.com"}}})


def test_each_metric_is_read_from_a_window():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(4_000, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int).to_numpy()
    model = LogisticRegression().fit(X, y)
    reference = reference_of(X, model, y)
    current = X.iloc[:1_000].copy()
    current["a"] += 1.0
    window = check(reference, window_of_frame(current, model, y[:1_000], reference))
    current.loc[:99, "b"] = np.nan
    refused = check(reference, window_of_frame(current, model, y[:1_000], reference))
    assert refused.quality["realised"] is None and "refused" in refused.notes[0]
    value = lambda metric, column=None: rule_value(AlertRule("r", metric, column, above=0), window)  # noqa: E731
    assert value("dataset_drift_share") == pytest.approx(1 / 3)
    assert value("dataset_drift") == 0.0
    assert value("column_drift", "a") > 1 > value("column_drift", "c")
    assert value("column_drift") == value("column_drift", "a")
    assert value("prediction_drift") > 1
    assert rule_value(AlertRule("r", "missing_share", "b", above=0), refused) == 0.1
    assert value("out_of_range_share", "a") > 0
    assert value("accuracy") == window.quality["realised"]["accuracy"]
    assert value("estimated_accuracy") == window.quality["estimated"]["accuracy"]
    assert value("roc_auc") is not None and value("rmse") is None
    assert value("p95_ms") is None  # a frame has no requests


# -- evaluation over recorded traffic -------------------------------------------------------


def _record(client: Client, model: Any, start: int, rows: int, shift: float, seed: int) -> None:
    X, _ = frame(rows, seed=seed)
    X["f0"] += shift

    def scorer(batch: Any) -> Any:  # as the server's recorder calls it, on the rows' array
        return model.predict_proba(pd.DataFrame(batch, columns=X.columns))

    step = HOUR // rows
    records = [
        (uuid.uuid4().hex, start + i * step, 1, 200, 0.5, list(X.columns), X.iloc[[i]].to_numpy(),
         "prediction", model.predict(X.iloc[[i]]), None, scorer)
        for i in range(rows)
    ]  # fmt: skip
    client.log_predictions(uuid.uuid4().hex, "churn", tables_of(records))


@pytest.fixture
def monitored(tmp_path: Any) -> Iterator[tuple[Client, Any, int]]:
    client = Client(f"sqlite:///{tmp_path / 'mlops.db'}")
    model = register_monitored(client)
    client.set_monitor_config(
        "churn",
        {"alerts": {"rules": [{"name": "drift", "metric": "column_drift", "column": "f0",
                               "above": 1}]}},
    )  # fmt: skip
    origin = (int(time.time() * 1000) // HOUR - 12) * HOUR
    yield client, model, origin
    client.close()


def test_given_drift_for_hours_then_the_alert_rises_after_two_windows_and_clears_after_two(
    monitored,
):
    client, model, origin = monitored
    shifts = [0, 0, 0, 2, 2, 2, 0, 0, 0]
    for hour, shift in enumerate(shifts):
        _record(client, model, origin + hour * HOUR, 200, shift, seed=hour + 1)
    states = []
    for hour in range(len(shifts)):
        (state,) = evaluate_alerts(client, "churn", now_ms=origin + (hour + 1) * HOUR + 1000)
        states.append(state.state)
    assert states == ["ok", "ok", "ok", "ok", "alert", "alert", "alert", "ok", "ok"]
    changes = client.alert_history("churn")
    assert [(e.payload["previous"], e.payload["state"]) for e in changes] == [
        ("ok", "alert"),
        ("alert", "ok"),
    ]
    raised = changes[0].payload
    assert raised["rule"] == "drift" and raised["value"] > 1 and raised["version"] == 1
    assert [c["column"] for c in raised["drifted_columns"]] == ["f0"]
    assert raised["window_end"] == origin + 5 * HOUR
    # The same windows again (another scheduler, a restart): nothing new is announced.
    evaluate_alerts(client, "churn", now_ms=origin + 9 * HOUR + 5000)
    assert len(client.alert_history("churn")) == 2
    (stored,) = client.list_alert_states("churn")
    assert stored.state == "ok" and stored.levels[-4:] == ["alert", "ok", "ok", "ok"]


def test_given_two_evaluators_at_once_then_one_change_is_one_event(monitored, tmp_path):
    client, model, origin = monitored
    for hour in range(3):
        _record(client, model, origin + hour * HOUR, 200, 2.0, seed=hour + 1)
    other = Client(client.location.db_url)
    now = origin + 3 * HOUR + 1000
    threads = [
        threading.Thread(target=evaluate_alerts, args=(c, "churn", now)) for c in (client, other)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert [e.payload["state"] for e in client.alert_history("churn")] == ["alert"]


def test_the_scheduler_job_evaluates_configured_and_served_models(monitored):
    client, model, origin = monitored
    for hour in range(3):
        _record(client, model, origin + hour * HOUR, 200, 2.0, seed=hour + 1)
    assert client.monitored_models() == ["churn"]
    job = MonitorJob(client)
    scheduler = Scheduler(client, launch=lambda *a: None, jobs=[job])
    scheduler.tick(now=origin + 3 * HOUR + 1000)
    assert [e.payload["state"] for e in client.alert_history("churn")] == ["alert"]
    scheduler.tick(now=origin + 3 * HOUR + 2000)  # not due again before alerts.every
    assert job.last_run["churn"] == origin + 3 * HOUR + 1000
    scheduler.release()


def test_given_a_served_model_and_a_real_scheduler_process_then_drift_raises_an_event(tmp_path):
    """Real HTTP traffic into a real server, windows of two seconds, and
    ``jupyter-mlops scheduler --once`` in its own process."""
    url = f"sqlite:///{tmp_path / 'mlops.db'}"
    client = Client(url)
    register_monitored(client)
    client.set_monitor_config(
        "churn",
        {"alerts": {"window": "2s", "raise": [1, 3], "clear": [3, 3],
                    "rules": [{"name": "f0", "metric": "column_drift", "column": "f0",
                               "above": 1}]}},
    )  # fmt: skip
    handle = start_server(client, "churn@champion", ServeOptions())
    try:
        shifted, _ = frame(400, seed=3)
        shifted["f0"] += 2.0
        deadline = time.monotonic() + 5.0
        i = 0
        while time.monotonic() < deadline:
            assert (
                call(handle.url, "/invocations", split_body(shifted.iloc[[i % 400]])).status == 200
            )
            i += 1
        # The recorder writes within a second, and the last window with traffic closes; the
        # rules look at the last three windows (6 s), which still hold the traffic.
        time.sleep(2.5)
        proc = subprocess.run(
            [sys.executable, "-m", "jupyter_mlops.cli", "--store", url, "scheduler", "--once"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        events = client.alert_history("churn")
        assert events and events[0].payload["state"] == "alert", proc.stderr
        assert events[0].payload["drifted_columns"][0]["column"] == "f0"
        shown = subprocess.run(
            [sys.executable, "-m", "jupyter_mlops.cli", "--store", url, "monitor", "alerts",
             "churn"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert shown.returncode == 0 and "ALERT" in shown.stdout and "ok -> alert" in shown.stdout
    finally:
        handle.stop()
        client.close()


# -- the webhook ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "addresses", "reason"),
    [
        ("http://hooks.example.com/x", ["93.184.216.34"], "https"),
        ("https://127.0.0.1/x", ["127.0.0.1"], "loopback"),
        ("https://localhost/x", ["::1"], "loopback"),
        ("https://hooks.example.com/x", ["93.184.216.34", "127.0.0.2"], "loopback"),
        ("https://[::ffff:127.0.0.1]/x", ["::ffff:127.0.0.1"], "loopback"),
        ("https://169.254.169.254/latest/meta-data", ["169.254.169.254"], "metadata"),
        ("https://[fd00:ec2::254]/", ["fd00:ec2::254"], "metadata"),
        ("https://metadata.google.internal/", ["169.254.169.254"], "metadata"),
        ("https://169.254.10.1/", ["169.254.10.1"], "link-local"),
        ("https://[fe80::1]/", ["fe80::1"], "link-local"),
        ("https://0.0.0.0/", ["0.0.0.0"], "unspecified"),
        ("https://224.0.0.1/", ["224.0.0.1"], "multicast"),
    ],
)
def test_the_webhook_refuses_forbidden_addresses(url, addresses, reason):
    with pytest.raises(InvalidInput, match=reason):
        check_target(url, resolve=lambda host, port: addresses)
    outcome = deliver(WebhookConfig(url=url), {"x": 1}, resolve=lambda h, p: addresses)
    assert outcome["attempts"] == 0 and reason in outcome["error"]


def test_the_webhook_allows_public_and_private_addresses():
    for address in ("93.184.216.34", "10.0.0.5", "2606:4700::1111"):
        host, port, path, pinned = check_target(
            "https://hooks.example.com:8443/in?x=1", resolve=lambda h, p, a=address: [a]
        )
        assert (host, port, path, pinned) == ("hooks.example.com", 8443, "/in?x=1", address)


def _outbound_address() -> str:
    """This machine's address on its default route (not loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return str(probe.getsockname()[0])


@pytest.fixture
def receiver(tmp_path: Any) -> Iterator[dict[str, Any]]:
    """A real HTTPS receiver on this machine's outbound address, with a throw-away CA; it
    answers with the statuses queued in ``answers`` (then 200) and keeps what it got."""
    import trustme

    ca = trustme.CA()
    address = _outbound_address()
    cert = ca.issue_cert(address)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    got: dict[str, Any] = {"requests": [], "answers": [], "gate": threading.Event()}
    got["gate"].set()  # a test clears it to hold the receiver's answers

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got["gate"].wait(30)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got["requests"].append((dict(self.headers), body))
            status = got["answers"].pop(0) if got["answers"] else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((address, 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    got["url"] = f"https://{address}:{server.server_address[1]}/hooks/mlops"
    got["ca_file"] = str(ca_file)
    yield got
    server.shutdown()


def test_a_delivery_is_signed_retried_with_backoff_and_its_outcome_kept(receiver, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    config = WebhookConfig(
        url=receiver["url"], secret_env="HOOK_SECRET", ca_file=receiver["ca_file"], retries=3
    )
    waits: list[float] = []
    receiver["answers"] = [500, 429]
    outcome = deliver(config, {"model": "churn", "state": "alert"}, sleep=waits.append)
    assert outcome["status"] == 200 and outcome["attempts"] == 3 and "error" not in outcome
    assert waits == [1.0, 2.0]
    headers, body = receiver["requests"][-1]
    assert json.loads(body) == {"model": "churn", "state": "alert"}
    stamp, mac = (part.split("=", 1)[1] for part in headers["X-Mlops-Signature"].split(","))
    expected = hmac.new(b"s3cret", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert mac == expected and signature("s3cret", int(stamp), body).endswith(expected)
    receiver["answers"] = [400]
    refused = deliver(config, {"x": 1}, sleep=waits.append)
    assert (refused["status"], refused["attempts"]) == (400, 1) and "400" in refused["error"]
    unsigned = deliver(
        WebhookConfig(
            url=receiver["url"], secret_env="NOT_SET_ANYWHERE", ca_file=receiver["ca_file"]
        ),
        {"x": 1},
    )
    assert unsigned["attempts"] == 0 and "NOT_SET_ANYWHERE" in unsigned["error"]
    untrusted = deliver(WebhookConfig(url=receiver["url"], retries=1), {"x": 1}, sleep=waits.append)
    assert untrusted["status"] is None and untrusted["attempts"] == 2
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted["error"]


def test_an_alert_change_goes_to_the_webhook_and_its_delivery_is_recorded(
    monitored, receiver, monkeypatch
):
    client, model, origin = monitored
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    client.set_monitor_config(
        "churn",
        {"alerts": {"raise": [1, 1], "rules": [{"name": "drift", "metric": "column_drift",
                                                "above": 1}],
                    "webhook": {"url": receiver["url"], "secret_env": "HOOK_SECRET",
                                "ca_file": receiver["ca_file"]}}},
    )  # fmt: skip
    _record(client, model, origin, 200, 2.0, seed=1)
    (state,) = evaluate_alerts(client, "churn", now_ms=origin + HOUR + 1000)
    assert state.state == "alert" and state.delivery["status"] == 200
    (_, body) = receiver["requests"][-1]
    sent = json.loads(body)
    assert (sent["model"], sent["rule"], sent["state"], sent["previous"]) == (
        "churn",
        "drift",
        "alert",
        "ok",
    )
    assert client.list_alert_states("churn")[0].delivery["status"] == 200


def test_the_scheduler_sends_webhooks_on_a_thread_so_a_slow_receiver_never_holds_its_tick(
    monitored, receiver, monkeypatch
):
    client, model, origin = monitored
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    client.set_monitor_config(
        "churn",
        {"alerts": {"raise": [1, 1], "rules": [{"name": "drift", "metric": "column_drift",
                                                "above": 1}],
                    "webhook": {"url": receiver["url"], "secret_env": "HOOK_SECRET",
                                "ca_file": receiver["ca_file"]}}},
    )  # fmt: skip
    _record(client, model, origin, 200, 2.0, seed=1)
    receiver["gate"].clear()  # the receiver holds its answer until the tick is over
    scheduler = Scheduler(client, launch=lambda *a: None, jobs=[MonitorJob(client)])
    tick = threading.Thread(target=scheduler.tick, kwargs={"now": origin + HOUR + 1000})
    tick.start()
    tick.join(20)
    assert not tick.is_alive(), "the tick waited for the webhook's receiver"
    assert [e.payload["state"] for e in client.alert_history("churn")] == ["alert"]
    assert client.list_alert_states("churn")[0].delivery is None
    receiver["gate"].set()
    deadline = time.monotonic() + 20
    while client.list_alert_states("churn")[0].delivery is None:
        assert time.monotonic() < deadline, "the delivery's outcome was never recorded"
        time.sleep(0.1)
    assert client.list_alert_states("churn")[0].delivery["status"] == 200
    scheduler.release()
