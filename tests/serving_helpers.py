"""Helpers for the model-server tests: models registered in a real store, and plain HTTP
(``http.client``, so a test controls every header, the Host one included)."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jupyter_mlops import Client

FEATURES = [f"f{i}" for i in range(4)]


def frame(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    y = (X["f0"] + 0.5 * X["f1"] - X["f3"] > 0).astype(int).to_numpy()
    return X, y


def register(client: Client, name: str, model: Any, example: Any, alias: str | None = None) -> int:
    """Log ``model`` in a run and register it as a new version of ``name``."""
    run_id = client.create_run("serving-tests")
    client.log_model(run_id, model, "model", input_example=example)
    client.end_run(run_id)
    version = client.register_model(f"runs:/{run_id}/model", name).version
    if alias is not None:
        client.set_model_alias(name, alias, version)
    return version


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    url: str,
    path: str,
    body: Any = None,
    *,
    method: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 30.0,
) -> Reply:
    """One request to the server at ``url``; a JSON ``body`` or ``raw`` bytes."""
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": content_type} if data is not None else {}
    sent.update(headers or {})
    try:
        conn.request(method or ("POST" if data is not None else "GET"), path, data, sent)
        response = conn.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def split_body(X: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    return {
        "dataframe_split": {"columns": list(X.columns), "data": X.to_numpy().tolist()},
        **extra,
    }


def register_monitored(client: Client, rows: int = 3_000) -> Any:
    """A LogisticRegression on ``frame(rows)`` registered as ``churn`` version 1 (alias
    ``champion``) with its monitoring reference built from that frame; the model."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.monitoring.monitor import build_reference

    X, y = frame(rows)
    model = LogisticRegression().fit(X, y)
    register(client, "churn", model, X.head(2), alias="champion")
    build_reference(client, "churn", 1, X, y)
    return model


def wait_for(
    predicate: Callable[[], Any], timeout: float = 60.0, every: float = 0.1, what: str = ""
) -> Any:
    """``predicate()``'s first value that is neither None nor False, polled every ``every``
    seconds; an AssertionError (saying ``what``) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value is not None and value is not False:
            return value
        time.sleep(every)
    raise AssertionError(f"{what or 'condition'} not met within {timeout:g} s")
