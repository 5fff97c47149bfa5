"""Model servers from the Models tab, in a real JupyterLab driven in Chromium: Serve starts a
real server (its own process) whose address the panel shows; the test calls it over HTTP
as any client would, watches its figures move in the panel, and stops it from there."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from .conftest import ARTIFACTS, Lab, require_chromium, start_lab

PANEL_TAB = "[data-id='jupyter-mlops-panel']"
SCREENSHOT = Path("/tmp/serving_tab.png")
SERVER = "[data-testid='mlops-server']"
ROWS = [[2.0, 1.5], [-2.0, -1.5]]


def _seed(store: Path) -> None:
    """churn v1: a LogisticRegression on columns a and b, logged with an input example (its
    signature), as @champion; churn v2 the same fit, as @challenger."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.client import Client

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (frame.a + frame.b > 0).astype(int)
    client = Client(store)
    try:
        run = client.create_run("serving", "train")
        client.log_model(run, LogisticRegression().fit(frame, y), "clf", frame.head(3))
        client.end_run(run)
        for _ in range(2):
            client.register_model(f"runs:/{run}/clf", "churn", description="a and b")
        client.set_model_alias("churn", "champion", 1)
        client.set_model_alias("churn", "challenger", 2)
    finally:
        client.close()


def _stop_all(store: Path) -> None:
    from jupyter_mlops.client import Client
    from jupyter_mlops.serving.launch import stop_server

    client = Client(store)
    try:
        for server in client.list_model_servers(active_only=True):
            with contextlib.suppress(Exception):
                stop_server(client, server.id)
    finally:
        client.close()


@pytest.fixture(scope="module")
def serve_lab(tmp_path_factory) -> Iterator[Lab]:
    require_chromium()
    root = tmp_path_factory.mktemp("serving-root")
    store = root / ".mlops"
    store.mkdir()
    _seed(store)
    try:
        with start_lab(root, store) as running:
            yield running
    finally:
        _stop_all(store)


@pytest.fixture
def store_client(serve_lab: Lab) -> Iterator[Any]:
    """A Client of the lab's store; every server a test leaves running is stopped after it."""
    from jupyter_mlops.client import Client

    client = Client(serve_lab.store)
    yield client
    client.close()
    _stop_all(serve_lab.store)


def open_churn(page, lab: Lab) -> None:
    """The Models tab with churn open, the sidebar at its default width."""
    page.goto(lab.open_url("lab?reset").replace("?reset?", "?reset&"))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    page.click(PANEL_TAB)
    page.click("[data-testid='mlops-tab-models']")
    page.click("[data-testid='mlops-model'][data-model='churn']")
    page.wait_for_selector("[data-testid='mlops-version-detail']")
    page.wait_for_selector("[data-testid='mlops-no-servers']")


def invoke(url: str, rows: list[list[float]]) -> list[Any]:
    body = {"dataframe_split": {"columns": ["a", "b"], "data": rows}}
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        predictions: list[Any] = json.loads(response.read())["predictions"]
        return predictions


def test_given_a_version_when_served_from_the_tab_then_it_answers_its_figures_move_and_it_stops(
    page, serve_lab, store_client
):
    open_churn(page, serve_lab)
    page.click("[data-testid='mlops-version-row'][data-version='1']")
    page.wait_for_selector("[data-testid='mlops-version-detail'][data-version='1']")

    # Serve v1 (not its alias): on a free port, recording predictions.
    page.click("[data-testid='mlops-action-serve']")
    form = page.locator("[data-testid='mlops-serve-form']")
    assert form.get_attribute("data-target") == "churn/1"
    assert page.is_checked("[data-testid='mlops-serve-record']")
    # v1 is also @champion: the form offers to follow the alias instead.
    choices = page.eval_on_selector_all(
        "[data-testid='mlops-serve-target'] option", "options => options.map(o => o.textContent)"
    )
    assert choices == ["v1", "@champion"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    form.screenshot(path=str(ARTIFACTS / "serving_form.png"))
    page.click("[data-testid='mlops-serve-submit']")
    page.wait_for_selector("[data-testid='mlops-serve-starting']")
    assert "Starting…" in page.inner_text("[data-testid='mlops-serve-submit']")

    address = page.wait_for_selector(
        "[data-testid='mlops-served'] [data-testid='mlops-server-address']", timeout=120_000
    )
    href = address.get_attribute("href") or ""
    assert href.startswith("http://127.0.0.1:") and href.endswith("/openapi.json")
    assert address.get_attribute("target") == "_blank"
    url = href.removesuffix("/openapi.json")

    # A real client's requests, answered with the model's predictions.
    for _ in range(25):
        assert invoke(url, ROWS) == [1, 0]

    # The panel lists it, and its figures move at the next heartbeat and poll.
    item = page.wait_for_selector(f"{SERVER}[data-status='RUNNING']")
    assert item.inner_text().count("v1") >= 1
    assert page.inner_text(f"{SERVER} [data-testid='mlops-server-follows']") == "v1"
    page.wait_for_function(
        """() => {
            const s = document.querySelector("[data-testid='mlops-server']");
            const n = s && s.querySelector("[data-testid='mlops-server-requests']");
            const r = s && s.querySelector("[data-testid='mlops-server-rate']");
            return n && r && Number(n.dataset.value) >= 25 && Number(r.dataset.value) > 0;
        }""",
        timeout=30_000,
    )
    figures = page.inner_text(f"{SERVER} .jp-mlops-Server-figures")
    assert "req/s" in figures and "p95" in figures and "25 requests" in figures

    # The version's lineage says where it is served.
    page.click("[data-testid='mlops-lineage-section'] > summary")
    served = page.wait_for_selector("[data-testid='mlops-lineage-served']")
    assert url in served.inner_text() and "serving now" in served.inner_text()
    page.click("[data-testid='mlops-lineage-section'] > summary")
    page.locator(SERVER).scroll_into_view_if_needed()
    page.locator("#jupyter-mlops-panel").screenshot(path=str(SCREENSHOT))

    # Stop asks first; then the server leaves the live list and its record ends STOPPED.
    page.click(f"{SERVER} [data-testid='mlops-server-stop']")
    page.wait_for_selector("[data-testid='mlops-server-confirm']")
    page.click("[data-testid='mlops-server-stop-confirm']")
    page.wait_for_selector(SERVER, state="detached", timeout=60_000)
    page.wait_for_selector("[data-testid='mlops-no-servers']")

    records = store_client.list_model_servers("churn")
    assert [(r.ref, r.status) for r in records] == [("/1", "STOPPED")]
    assert records[0].stats["requests"] >= 25
    with pytest.raises(OSError):
        invoke(url, ROWS)


def test_given_an_alias_when_served_then_the_server_follows_it_and_keep_running_keeps_it(
    page, serve_lab, store_client
):
    open_churn(page, serve_lab)
    page.click("[data-testid='mlops-serve-alias'][data-alias='challenger']")
    assert (
        page.get_attribute("[data-testid='mlops-serve-form']", "data-target") == "churn@challenger"
    )
    page.click("[data-testid='mlops-serve-submit']")

    page.wait_for_selector("[data-testid='mlops-served']", timeout=120_000)
    item = page.wait_for_selector(f"{SERVER}[data-status='RUNNING']")
    assert page.inner_text(f"{SERVER} [data-testid='mlops-server-follows']") == "@challenger"
    assert item.get_attribute("data-version") == "2"

    # Stop, then think better of it: the server keeps running.
    page.click(f"{SERVER} [data-testid='mlops-server-stop']")
    page.click("[data-testid='mlops-server-stop-cancel']")
    time.sleep(1)
    (live,) = store_client.list_model_servers("churn", active_only=True)
    assert (live.ref, live.status) == ("@challenger", "RUNNING")


def test_given_an_alias_removed_elsewhere_when_served_then_the_servers_message_shows(
    page, serve_lab, store_client
):
    open_churn(page, serve_lab)
    page.click("[data-testid='mlops-serve-alias'][data-alias='champion']")
    store_client.delete_model_alias("churn", "champion", "moved to a new pipeline")
    try:
        page.click("[data-testid='mlops-serve-submit']")

        error = page.wait_for_selector("[data-testid='mlops-serve-error']")
        assert "champion" in error.inner_text()
        assert store_client.list_model_servers("churn", active_only=True) == []
    finally:
        store_client.set_model_alias("churn", "champion", 1)
