"""``demo lifecycle``: the whole loop, headless, with no glue code — train and register v1,
validate and promote it, serve it, send it traffic that drifts (with labels), and let the
scheduler do the rest: the drift alert fires, the retraining pipeline runs on the labelled
traffic, v2 passes the gates and is promoted, the server switches with no failed request and
the alert clears. Prints the timeline and the loop's time.

Everything runs in a store of its own (a new temporary folder unless ``--home``): a real
model-server process, a real ``jupyter-mlops scheduler`` process, real HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import store_env
from .common import errors

if TYPE_CHECKING:
    import pandas as pd

    from ..client import Client

LIFECYCLE_PIPELINE = "notebooks/lifecycle"
MODEL = "churn"
MONITORING = {
    "window": "5s",
    "alerts": {
        "window": "5s",
        "every": "5s",
        "raise": [3, 3],
        "clear": [2, 3],
        "rules": [{"name": "drift", "metric": "dataset_drift_share", "above": 0.3}],
    },
}
GATES = {
    "target": "churned",
    "metrics": {"accuracy": {"min": 0.6}},
    "champion": {"metric": "accuracy", "max_drop": 0.02},
}


@dataclass
class Traffic:
    """The demo's client: one-row requests at a steady rate, each labelled right after."""

    url: str
    rate: float
    drifted: bool = False
    sent: int = 0
    failed: int = 0
    first_drifted_at: float | None = None  # epoch seconds
    versions: dict[int, int] = field(default_factory=dict)
    last_version: int | None = None
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        from ..data.synthetic import FEATURES, TARGET, churn_frame

        seed = 100
        columns = list(FEATURES)
        while not self.stop.is_set():
            drifted = self.drifted
            frame = churn_frame(200, drift=1.5 if drifted else 0.0, new_rule=drifted, seed=seed)
            seed += 1
            feedback = []
            for row in frame.itertuples(index=False):
                if self.stop.is_set():
                    break
                started = time.perf_counter()
                values = [getattr(row, c) for c in columns]
                body = {"inputs": [{"name": "input-0", "shape": [1, len(columns)],
                                    "datatype": "FP64", "data": values}]}  # fmt: skip
                answer = self._post(f"/v2/models/{MODEL}/infer", body)
                if answer is not None:
                    if drifted and self.first_drifted_at is None:
                        self.first_drifted_at = time.time()
                    version = int(answer["model_version"])
                    self.versions[version] = self.versions.get(version, 0) + 1
                    self.last_version = version
                    rid = answer["parameters"]["request_id"]
                    feedback.append({"request_id": rid, "label": int(getattr(row, TARGET))})
                if len(feedback) >= 20:
                    self._post("/feedback", {"feedback": feedback})
                    feedback = []
                self.stop.wait(max(0.0, 1 / self.rate - (time.perf_counter() - started)))
            if feedback:
                self._post("/feedback", {"feedback": feedback})

    def _post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        if path != "/feedback":
            self.sent += 1
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if path != "/feedback":
                self.failed += 1
            self.errors.append(f"{path}: {exc}")
            return None


def _train_v1(client: Client, train: pd.DataFrame) -> int:
    from sklearn.linear_model import LogisticRegression

    from ..data.synthetic import TARGET
    from ..monitoring.monitor import build_reference

    x, y = train.drop(columns=TARGET), train[TARGET]
    run_id = client.create_run("churn-lifecycle", "v1: the first model")
    clf = LogisticRegression(max_iter=1000).fit(x, y)
    client.log_metric(run_id, "accuracy", float(clf.score(x, y)))
    client.log_model(run_id, clf, name="churn", input_example=x.head())
    client.end_run(run_id)
    version = client.register_model(f"runs:/{run_id}/churn", MODEL, "the first model").version
    build_reference(client, MODEL, version, x, y)
    return version


def _wait(what: str, check: Any, timeout: float, poll: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll)
    raise click.ClickException(f"{what} did not happen within {timeout:.0f} s")


@click.command("lifecycle")
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    help="The store folder (default: a new temporary folder).",
)
@click.option("--rollout", type=click.Choice(["direct", "shadow", "canary"]), default="direct",
              show_default=True, help="How the server switches to the new version.")  # fmt: skip
@click.option("--rate", default=40.0, show_default=True, help="Requests per second.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the loop.")
@click.option("--json-out", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
@errors
def lifecycle(
    home: str | None, rollout: str, rate: float, timeout: float, json_out: str | None
) -> None:
    """Run the continuous-training loop end to end and print its timeline: serve v1, drift,
    alert, retrain, gates, promotion, switch — with no failed request."""
    from .. import registry
    from ..automation.policy import set_policy
    from ..automation.timeline import timeline_text, timelines
    from ..client import Client
    from ..data.synthetic import churn_frame
    from ..serving import ServeOptions, start_server

    folder = Path(home or tempfile.mkdtemp(prefix="mlops-lifecycle-")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    work = folder / "retrain"
    shutil.copytree(
        LIFECYCLE_PIPELINE,
        work,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("data", "output"),
    )
    client = Client(str(folder))
    env = {**os.environ, **store_env(client.location)}
    print(f"store: {client.location.db_url}")
    began = time.perf_counter()

    train, holdout = churn_frame(3000, seed=1), churn_frame(1000, seed=2)
    version = _train_v1(client, train)
    client.set_model_gates(MODEL, GATES, reason="the lifecycle demo's gates")
    registry.promote(
        client, MODEL, version, "Production", holdout=holdout, reason="the first model"
    )
    print(f"v{version} trained, registered, validated and promoted to Production")
    client.set_monitor_config(MODEL, MONITORING)
    policy = {
        "pipeline": str(work / "pipeline.yaml"),
        "trigger": {"alerts": ["drift"]},
        "data": {"traffic": "alert", "target": "churned"},
        "promote": {"mode": "auto", "metric": "accuracy", "to": "Production"},
        "rollout": {"mode": rollout, "share": 0.3, "min_requests": 100, "timeout": "2m"},
        "guardrails": {"cooldown": "2m", "max_per_day": 5},
    }
    set_policy(client, MODEL, policy)
    print(
        f"policy: when the drift alert fires, retrain with {work / 'pipeline.yaml'} on the "
        f"labelled traffic since the drift began; promote the best by accuracy; rollout {rollout}"
    )

    server = start_server(client, f"{MODEL}/Production", ServeOptions())
    print(f"serving models:/{MODEL}/Production at {server.url} (version {server.version})")
    logs = folder / "scheduler.log"
    with open(logs, "ab") as log:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlops.cli", "scheduler", "--poll", "1"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    print(f"scheduler process {scheduler.pid} (its log: {logs})")
    traffic = Traffic(server.url, rate)
    sender = threading.Thread(target=traffic.run, name="traffic", daemon=True)
    sender.start()
    summary: dict[str, Any] = {}
    try:
        time.sleep(8)
        print(
            f"{traffic.sent} calm requests answered by v{traffic.last_version}; now the "
            "customers change (f0, f1 shift by 1.5 sd) and so does what makes them churn"
        )
        traffic.drifted = True
        loop = _wait("a drift alert starting a retrain", lambda: _first_loop(client), timeout)
        columns = ", ".join(loop.trigger.get("drifted_columns") or []) or "none named"
        print(
            f"alert → loop {loop.id[:8]} started: {loop.trigger.get('rule')} on "
            f"v{loop.trigger.get('version')}, drifted columns: {columns}"
        )
        done = _wait("the loop's end", lambda: _ended(client, loop.id), timeout)
        print(f"loop {done.id[:8]}: {done.state}, {done.outcome}: {done.reason}")
        if done.outcome != "promoted" or done.candidate is None:
            raise click.ClickException(f"the loop ended {done.outcome}: {done.reason}")
        new = done.candidate
        _wait(f"the server answering with v{new}", lambda: traffic.last_version == new, 60, 0.1)
        switched = time.time()
        print(f"the server answers with v{new}; waiting for the drift alert to clear ...")
        _wait("the drift alert clearing", lambda: _cleared(client), timeout)
        print("the drift alert cleared on the new version's traffic")
    finally:
        traffic.stop.set()
        sender.join(30)
        scheduler.terminate()
        try:
            scheduler.wait(30)
        except subprocess.TimeoutExpired:
            scheduler.kill()
        server.stop()
    items = timelines(client, MODEL, loop_id=loop.id)
    print("\n" + timeline_text(items) + "\n")
    item = items[0]
    first = traffic.first_drifted_at or 0.0
    answered = switched - first
    answers = ", ".join(f"v{v} {n}" for v, n in sorted(traffic.versions.items()))
    print(f"requests: {traffic.sent} sent, {traffic.failed} failed; answered by {answers}")
    print(f"loop time from the first drifted request to v{new} answering: {answered:.1f} s")
    parts = {k: v for k, v in item.parts.items() if v is not None}
    print("  of which " + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in parts.items()))
    print(f"the whole demo took {time.perf_counter() - began:.1f} s")
    summary = {
        "sent": traffic.sent,
        "failed": traffic.failed,
        "versions": traffic.versions,
        "first_drifted_to_new_version_s": round(answered, 3),
        "alert_to_switch_s": item.total_s,
        "parts": item.parts,
        "rollout": rollout,
        "loop": item.loop,
        "timeline": item.to_dict(),
    }
    if json_out:
        Path(json_out).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    if traffic.failed:
        raise click.ClickException(f"{traffic.failed} requests failed: {traffic.errors[:3]}")


def _first_loop(client: Client) -> Any:
    loops = client.list_ct_loops(MODEL, limit=1)
    return loops[0] if loops else None


def _ended(client: Client, loop_id: str) -> Any:
    loop = client.get_ct_loop(loop_id)
    return None if loop.active else loop


def _cleared(client: Client) -> bool:
    states = client.list_alert_states(MODEL)
    return bool(states) and all(s.state == "ok" for s in states)
