"""Bad input, generated: every route of a real Jupyter server (its own process) gets generated
methods, path segments, query strings and bodies, and must answer each with something other
than a 5xx, with a JSON ``{code, message}`` body when it refuses, and keep answering."""

from __future__ import annotations

import http.client
import json
import os
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notebook_helpers import write_notebook
from servers import jupyter_process

from jupyter_mlops.client import Client
from jupyter_mlops.server.app import API_PREFIX
from jupyter_mlops.server.ct_handlers import ct_routes
from jupyter_mlops.server.handlers import routes
from jupyter_mlops.server.monitoring_handlers import monitoring_routes
from jupyter_mlops.server.pipeline_handlers import pipeline_routes
from jupyter_mlops.server.registry_handlers import registry_routes
from jupyter_mlops.server.serving_handlers import serving_routes
from jupyter_mlops.serving.launch import stop_server

TOKEN = "mlops-fuzz"
METHODS = ("GET", "POST", "PATCH", "DELETE", "PUT")
# Every route of the server, with the methods its handler answers.
ROUTES = [
    (pattern, [m for m in METHODS if m.lower() in vars(handler)])
    for pattern, handler in routes(API_PREFIX)
    + pipeline_routes(API_PREFIX)
    + registry_routes(API_PREFIX)
    + serving_routes(API_PREFIX)
    + monitoring_routes(API_PREFIX)
    + ct_routes(API_PREFIX)
]
ARGS = ["filter", "order_by", "limit", "offset", "params", "metrics", "experiment", "runs",
        "path", "name", "max_points", "at", "reason", "model", "all",
        "window", "rows", "windows", "version", "loop"]  # fmt: skip
FIELDS = ["path", "params", "force", "from_step", "executor", "scheduler_address",
          "max_workers", "cron", "timezone", "dataset", "missed", "enabled"]  # fmt: skip
# The fields of the registry's bodies (register, patch, gates, stage, approve, alias).
REGISTRY_FIELDS = ["source", "name", "description", "tags", "required_approvals",
                   "intended_use", "limitations", "reason", "config", "yaml", "stage", "force",
                   "archive_existing", "version"]  # fmt: skip
# The fields of a continuous-training policy's body (PUT models/<name>/ct, the rollout's
# cancel), and policies: valid, refused field by field, or naming a pipeline outside the root.
CT_FIELDS = ["policy", "reason"]
CT_POLICIES = ["pipeline: pipes/pipeline.yaml", "pipeline: ../../etc/passwd",
               "pipeline: /etc/passwd", "pipeline: pipes", "pipeline: pipes/step.ipynb",
               "pipeline: pipes/pipeline.yaml\npromote: {mode: approval, to: '@champion'}",
               "pipeline: pipes/pipeline.yaml\ndata: {traffic: 24h}",
               "pipeline: pipes/pipeline.yaml\ntrigger: {schedule: '* * *', timezone: Mars}",
               "pipeline: pipes/pipeline.yaml\nrollout: {mode: canary, share: 0}",
               "pipeline: pipes/pipeline.yaml\nguardrails: {dry_run: yes, max_per_day: 1e9}",
               "pipeline: [", "- a\n- b", "pipeline: !!python/object:os.system x",
               "pipeline: 2020-01-01\nparams: {at: 2020-01-01}", "[" * 2000 + "]" * 2000,
               ]  # fmt: skip
# The fields of a model server's start body, and targets to serve: none names a version of the
# seeded store (an unknown model, alias, stage or number), so a start is refused before any
# process is spawned; the server fixture still stops (and reports) whatever was started.
SERVING_FIELDS = ["target", "options"]
SERVE_OPTIONS = ["host", "port", "token", "workers", "idle_timeout", "max_batch", "max_wait_ms",
                 "record", "max_body_mb", "allowed_hosts", "queue_rows", "token_set"]  # fmt: skip
# (The fuzz itself registers versions, moves stages and sets aliases of churn: no target may
# name one it can reach, such as churn/Production or churn@challenger.)
UNSERVABLE = ["nope@champion", "churn@no-such-alias", "churn/999999", "team a/churn@never",
              "models:/nope/1", "churn", "@", "/"]  # fmt: skip
# A registry route's path segments are quoted whole ("/" too): a model name may hold one.
WHOLE_SEGMENTS = ("name", "version", "alias", "sha256")


@dataclass
class Server:
    port: int
    ids: dict[str, str]
    log: Path

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Authorization": f"token {TOKEN}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read(), response.getheader("Content-Type") or ""
        finally:
            conn.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fuzz-root")
    store = root / ".mlops"
    (root / "pipes").mkdir()
    write_notebook(root / "pipes" / "step.ipynb", "rows = 3", "total = rows")
    (root / "pipes" / "pipeline.yaml").write_text(
        "name: fuzz\nsteps:\n  - name: only\n    notebook: step.ipynb\n"
    )
    client = Client(store)
    run = client.create_run("e", "seeded", tags={"stage": "dev"})
    client.log_params(run, {"model": "rf"})
    client.log_metrics(run, {"acc": 0.9})
    client.log_artifact_bytes(run, b"report", "reports/r.txt")
    client.log_model(run, {"weights": [1, 2, 3]}, name="clf")
    client.end_run(run)
    # A registered model (one of whose names holds a "/"), an alias and a gate report, so
    # the registry's routes reach past "no such model".
    for name in ("churn", "team a/churn"):
        client.register_model(f"runs:/{run}/clf", name)
    client.set_model_alias("churn", "champion", 1)
    gate = {"gate": "metrics", "passed": False, "summary": "accuracy 0.5 < 0.9", "checks": []}
    sha = client.get_model_version("churn", 1).sha256
    report = client.save_gate_report(
        "churn", 1, {"gates": [gate]}, model_sha256=sha, config_sha256="0" * 64
    )
    schedule = client.create_schedule(
        str(root / "pipes" / "pipeline.yaml"), "fuzz", cron="0 3 * * *"
    )
    # An ended server record, so the serving routes reach past "no such server".
    ended = client.create_model_server("churn", "/1", "http://127.0.0.1:9", pid=None)
    client.update_model_server(ended.id, status="STOPPED", reason="seeded")
    _seed_monitoring(client)
    _seed_ct(client, root)
    args = ["--MlopsApp.run_scheduler=False"]
    cache = {"JUPYTER_MLOPS_CACHE_DIR": os.environ.get("JUPYTER_MLOPS_CACHE_DIR", str(root / ".c"))}
    with jupyter_process("jupyter_server", root, TOKEN, args, cache) as url:
        port = int(urllib.parse.urlsplit(url).port or 0)
        ids = {"run": run, "schedule": schedule.id, "report": report.sha256, "server": ended.id}
        try:
            yield Server(port, ids, root.parent / f"{root.name}.log")
        finally:
            started = client.list_model_servers(active_only=True)
            for live in started:
                stop_server(client, live.id)
            client.close()
            assert not started, f"the fuzz started model servers: {started}"


def _seed_monitoring(client: Client) -> None:
    """churn's reference, two hours of its recorded traffic and an alert state, so the
    monitoring routes reach past "no traffic" into windows, drift and states."""
    import time
    import uuid

    import numpy as np
    import pandas as pd

    from jupyter_mlops.entities import AlertState
    from jupyter_mlops.monitoring.reference import build_reference
    from jupyter_mlops.serving.recorder import tables_of

    rng = np.random.default_rng(1)
    train = pd.DataFrame({"a": rng.normal(size=500), "b": rng.choice(["x", "y"], 500)})
    logged = client.get_model_version("churn", 1).logged_model_id
    client.save_reference(logged, build_reference(train).to_dict(), source="fuzz")
    now = int(time.time() * 1000)
    records = [
        (uuid.uuid4().hex, now - 7_200_000 + i * 30_000, 1, 200, 1.5, ["a", "b"],
         train.iloc[[i]], "prediction", np.array([i % 2]), None, None)
        for i in range(200)
    ]  # fmt: skip
    client.log_predictions(uuid.uuid4().hex, "churn", tables_of(records))
    client.save_alert_state(
        AlertState("churn", "drift", "warn", now, now, 0.4, now, ["warn"], 1), {"rule": "drift"}
    )


def _seed_ct(client: Client, root: Path) -> None:
    """churn's continuous training: a policy, a loop whose candidate waits for approval,
    one that ended, and a rollout under way (the first cancel ends it), so the CT routes
    reach past "no policy", "no loop" and "no rollout"."""
    from jupyter_mlops.automation.policy import set_policy

    set_policy(client, "churn", "pipeline: pipes/pipeline.yaml", base_dir=root)
    trigger = {"kind": "alert", "rule": "drift", "version": 1}
    common = {"trigger": trigger, "pipeline_path": "x", "params": {}, "summary": "seeded"}
    client.create_ct_loop("churn", state="approval", candidate=1, champion=None, **common)
    done = client.create_ct_loop("churn", **common)
    client.update_ct_loop(done.id, ("training",), step="decision", summary="kept",
                          state="done", outcome="kept")  # fmt: skip
    client.start_rollout("churn", 1, mode="canary", share=0.1, target="Production",
                         criteria={"min_requests": 10}, champion=None)  # fmt: skip


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**80), max_value=2**80)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=30)
        | st.sampled_from(["local", "dask", "0 3 * * *", "UTC", "pipes/pipeline.yaml", "skip"])
        | st.sampled_from(["Staging", "production", "Archived", "churn", "team a/churn", "1"])
        | st.sampled_from(["stages: [Staging]\nrobustness: true", "metrics: {accuracy: {min: 2}}"])
        | st.sampled_from(UNSERVABLE)
        | st.sampled_from(CT_POLICIES)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    FIELDS + REGISTRY_FIELDS + SERVING_FIELDS + SERVE_OPTIONS + CT_FIELDS
                )
                | st.text(max_size=8),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )


def _bodies(server: Server) -> st.SearchStrategy[bytes | None]:
    objects = st.dictionaries(st.sampled_from(FIELDS), _json_values(), max_size=6)
    registry = st.dictionaries(st.sampled_from(REGISTRY_FIELDS), _json_values(), max_size=3)
    policies = st.fixed_dictionaries(
        {"policy": st.sampled_from(CT_POLICIES) | _json_values()},
        optional={"reason": _json_values()},
    )
    source = f"runs:/{server.ids['run']}/clf"
    return st.one_of(
        st.none(),
        st.binary(max_size=200),
        objects.map(lambda d: json.dumps(d).encode()),
        registry.map(lambda d: json.dumps(d).encode()),
        policies.map(lambda d: json.dumps(d).encode()),
        _json_values().map(lambda v: json.dumps(v).encode()),
        st.sampled_from(
            [
                b'{"params": {"x": NaN}}',
                b'{"path": "\\ud800"}',
                b"[" * 3000 + b"]" * 3000,
                b'{"path": "pipes/pipeline.yaml", "max_workers": 1' + b"0" * 40 + b"}",
                b'{"path": "../../etc/passwd", "cron": "0 3 * * *"}',
                b'{"path": "' + b"a/" * 3000 + b'", "cron": "* * * * *"}',
                b'{"enabled": true}',
                json.dumps({"source": source, "name": "churn"}).encode(),
                b'{"stage": "Staging", "reason": "fuzz"}',
                b'{"stage": "Production", "force": true, "reason": "fuzz"}',
                b'{"version": 1, "reason": "fuzz"}',
                b'{"required_approvals": 1, "tags": {"team": "risk"}}',
                b'{"yaml": "stages: [Staging]\\nrobustness: {rows: 2}"}',
                b'{"config": null}',
                b'{"target": "nope@champion", "options": {"port": "x", "workers": 0}}',
                b'{"target": "churn/999999", "options": {"allowed_hosts": 5, "record": "yes"}}',
                b'{"target": "churn@no-such-alias", "options": {"port": 0, "record": false}}',
                b"{}",
            ]
        ),
    )


def _serve_bodies() -> st.SearchStrategy[bytes]:
    """Bodies of a model server's start: a target none of which the store can serve, and
    options of every kind (each may be refused, or all be fine: then the target is)."""
    options = st.dictionaries(st.sampled_from(SERVE_OPTIONS), _json_values(), max_size=3)
    serving = st.fixed_dictionaries(
        {"target": st.sampled_from(UNSERVABLE) | _json_values(), "options": options}
    ) | st.fixed_dictionaries(
        {"target": st.sampled_from(UNSERVABLE)}, optional={"options": _json_values()}
    )
    return serving.map(lambda d: json.dumps(d).encode())


def _segment(server: Server, group: str) -> st.SearchStrategy[str]:
    """A path segment for a route's group: mostly of the shape the route takes (so the
    request reaches its handler), sometimes anything."""
    anything = st.text(min_size=1, max_size=40) | st.just("x" * 3000)
    if group in ("run_id", "schedule_id", "server_id"):
        known = server.ids[group.removesuffix("_id")]
        shaped = st.sampled_from([known, known[:6], "f" * 32]) | st.text(
            alphabet="0123456789abcdefABCDEF", min_size=1, max_size=32
        )
    elif group == "path":
        shaped = st.sampled_from(["reports/r.txt", "../../etc/passwd", "%2e%2e/x", "a" * 300])
    # A registry segment: half the time one the seeded store has, else one it refuses.
    elif group == "name":
        shaped = st.sampled_from(["churn", "team a/churn"]) | st.sampled_from(
            ["nope", "bad|name", "a" * 300]
        )
    elif group == "version":
        shaped = st.sampled_from(["1", "2"]) | st.sampled_from(["0", "-1", "latest", "9" * 30])
    elif group == "alias":
        shaped = st.sampled_from(["champion", "challenger"]) | st.sampled_from(["production", "7"])
    elif group == "sha256":
        known = server.ids["report"]
        shaped = st.just(known) | st.sampled_from([known[:8], "0" * 64, "f" * 65])
    else:  # a metric key, a dataset reference
        shaped = st.sampled_from(["acc", "nope", "features@1", "x@v99999999999999999999"])
    return st.one_of(shaped, shaped, shaped, anything)


@st.composite
def requests(draw: st.DrawFn, server: Server) -> tuple[str, str, bytes | None]:
    pattern, allowed = draw(st.sampled_from(ROUTES))

    def fill(match: re.Match[str]) -> str:
        group = re.match(r"\(\?P<(\w+)>", match.group(0))
        assert group is not None
        safe = "%" if group.group(1) in WHOLE_SEGMENTS else "/%"
        return urllib.parse.quote(draw(_segment(server, group.group(1))), safe=safe)

    path = re.sub(r"\(\?P<\w+>[^)]*\)", fill, pattern)
    query = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ARGS), st.text(max_size=60) | st.sampled_from(["-1", "9" * 40])
            ),
            max_size=4,
        )
    )
    method = draw(st.sampled_from(allowed) | st.sampled_from(allowed) | st.sampled_from(METHODS))
    # A start of a model server half the time on its route (the only body it takes).
    shaped_start = pattern.endswith("/servers") and draw(st.booleans())
    bodies = _serve_bodies() if shaped_start else _bodies(server)
    body = draw(bodies) if method in ("POST", "PATCH", "PUT") else None
    url = path + ("?" + urllib.parse.urlencode(query) if query else "")
    return method, url, body


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("MLOPS_FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_given_any_request_to_any_route_then_no_5xx_and_the_server_keeps_answering(
    server: Server, data: st.DataObject
) -> None:
    method, url, body = data.draw(requests(server))
    status, payload, content_type = server.request(method, url, body)
    assert status < 500, (method, url[:300], body[:300] if body else None, payload[:500])
    if status >= 400 and "mlops/api/v1" in url and content_type.startswith("application/json"):
        refusal = json.loads(payload)
        assert {"code", "message"} <= set(refusal), payload[:300]
        assert "Traceback" not in payload.decode("utf-8", "replace")
    assert server.request("GET", "/api/status")[0] == 200
