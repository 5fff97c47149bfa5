"""A served model's monitoring in the Models tab, in a real JupyterLab driven in Chromium: a
store holds churn's reference and six hours of its recorded traffic, whose inputs drift
after three; the tab shows its state at a glance, the alert rules the scheduler would judge,
the dashboard's charts (plotly), the drifted columns and the rules' history, and reads the
traffic again when the windows change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, Lab, require_chromium, start_lab

PANEL_TAB = "[data-id='jupyter-mlops-panel']"
SCREENSHOT = Path("/tmp/monitoring_tab.png")
DASHBOARD = "[data-testid='mlops-monitoring-dashboard']"


def _seed(store: Path) -> None:
    """churn v1 with its reference and drifting traffic (test_monitoring_api's), v2 with no
    reference; a rule on f0's drift, judged once: it alerts."""
    from test_monitoring_api import seed_churn

    from jupyter_mlops.client import Client
    from jupyter_mlops.monitoring.alerts import evaluate_alerts

    client = Client(store)
    try:
        seed_churn(client, hours=6, drift_from=3)
        client.set_monitor_config(
            "churn",
            {
                "alerts": {
                    "window": "1h",
                    "rules": [
                        {"name": "f0 drift", "metric": "column_drift", "column": "f0", "above": 1},
                        {"name": "latency", "metric": "p95_ms", "above": 500, "warn": 100},
                    ],
                }
            },
        )
        states = {s.rule: s.state for s in evaluate_alerts(client, "churn")}
        assert states == {"f0 drift": "alert", "latency": "ok"}, states
    finally:
        client.close()


@pytest.fixture(scope="module")
def monitor_lab(tmp_path_factory) -> Iterator[Lab]:
    require_chromium()
    root = tmp_path_factory.mktemp("monitoring-root")
    store = root / ".mlops"
    store.mkdir()
    _seed(store)
    with start_lab(root, store) as running:
        yield running


def open_churn(page, lab: Lab) -> None:
    """The Models tab with churn open, the sidebar widened for the dashboard."""
    page.goto(lab.open_url("lab?reset").replace("?reset?", "?reset&"))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    page.click(PANEL_TAB)
    page.click("[data-testid='mlops-tab-models']")
    page.click("[data-testid='mlops-model'][data-model='churn']")
    page.wait_for_selector("[data-testid='mlops-version-detail']")
    # Drag the sidebar's edge out: the dashboard is drawn for a wide panel too.
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box is not None:
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 200)
        page.mouse.down()
        page.mouse.move(760, box["y"] + 200, steps=8)
        page.mouse.up()


def wait_for_report(page, window: str, windows: int | None = None) -> None:
    """The dashboard shows a report cut into ``window`` (``1h``, ``rows:150``), read."""
    condition = f"[data-loading='false'][data-window='{window}']"
    if windows is not None:
        condition += f"[data-windows='{windows}']"
    page.wait_for_selector(f"{DASHBOARD}{condition}", timeout=60_000)


def test_given_drifting_traffic_when_the_dashboard_opens_then_it_shows_the_drift_and_charts(
    page, monitor_lab
):
    open_churn(page, monitor_lab)

    # The list and the version rows say it before anything is opened.
    assert (
        page.get_attribute(
            "[data-testid='mlops-model'][data-model='churn'] [data-testid='mlops-alert-badge']",
            "data-state",
        )
        == "alert"
    )
    page.wait_for_selector(
        "[data-testid='mlops-version-row'][data-version='1'] "
        "[data-testid='mlops-version-monitoring'][data-reference='yes'][data-state='alert']"
    )
    page.wait_for_selector(
        "[data-testid='mlops-version-row'][data-version='2'] "
        "[data-testid='mlops-version-monitoring'][data-reference='no'][data-state='']"
    )
    assert page.get_attribute("[data-testid='mlops-monitoring']", "data-state") == "alert"

    page.click("[data-testid='mlops-monitoring-toggle']")
    wait_for_report(page, "1h", 6)

    # At a glance, from the latest window: one of four columns, the predictions too.
    def fact(name: str) -> tuple[str, str]:
        el = page.locator(f"[data-testid='mlops-glance-{name}']")
        return el.get_attribute("data-value") or "", el.inner_text()

    assert fact("dataset-drift")[0] == "false"
    assert fact("drifted-columns") == ("1", fact("drifted-columns")[1])
    assert "1 / 4" in fact("drifted-columns")[1]
    assert fact("prediction-drift")[0] == "true"
    assert float(fact("estimated")[0]) > 0.7
    assert float(fact("realised")[0]) < 0.5
    assert float(fact("p95")[0]) > 0 and "ms" in fact("p95")[1]
    assert float(fact("error-rate")[0]) > 0

    # Each rule's state, coloured by it.
    rule = page.locator("[data-testid='mlops-alert-rule'][data-rule='f0 drift']")
    assert rule.get_attribute("data-state") == "alert"
    badge = rule.locator("[data-testid='mlops-alert-badge']")
    colour = badge.evaluate("el => getComputedStyle(el).backgroundColor")
    ok_colour = page.locator(
        "[data-testid='mlops-alert-rule'][data-rule='latency'] [data-testid='mlops-alert-badge']"
    ).evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour != ok_colour and colour not in ("", "rgba(0, 0, 0, 0)")

    # The charts, drawn by plotly.
    for chart in ("drift", "distributions", "quality", "latency", "load"):
        page.wait_for_selector(
            f"[data-testid='mlops-monitoring-chart'][data-chart='{chart}'] svg.main-svg",
            timeout=60_000,
        )
    # The heatmap's rows from top to bottom: the latest window's most drifted first.
    heatmap_rows = page.eval_on_selector_all(
        "[data-chart='drift'] .ytick text",
        """ticks => ticks
            .map(t => [t.getBoundingClientRect().top, t.textContent])
            .sort((a, b) => a[0] - b[0])
            .map(t => t[1])""",
    )
    assert heatmap_rows[0] == "f0" and sorted(heatmap_rows) == ["f0", "f1", "f2", "f3"]
    assert page.eval_on_selector_all(
        "[data-testid='mlops-distribution']", "els => els.map(e => e.dataset.column)"
    ) == ["f0", "prediction"]

    # The drifted columns of the latest window, and the rules' history.
    drifted = page.eval_on_selector_all(
        "[data-testid='mlops-drifted-column']", "rows => rows.map(r => r.dataset.column)"
    )
    assert drifted == ["f0"]
    row = page.inner_text("[data-testid='mlops-drifted-column'][data-column='f0']")
    assert "wasserstein" in row or "ks" in row
    events = page.locator("[data-testid='mlops-alert-event']")
    assert events.count() == 1
    assert events.first.get_attribute("data-rule") == "f0 drift"
    assert events.first.get_attribute("data-state") == "alert"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 2900})
    page.wait_for_timeout(500)  # plotly follows the new size
    page.locator("#jupyter-mlops-panel").screenshot(path=str(SCREENSHOT))
    page.set_viewport_size({"width": 1400, "height": 900})


def test_given_the_dashboard_when_the_windows_change_then_the_traffic_is_cut_again(
    page, monitor_lab
):
    open_churn(page, monitor_lab)
    page.click("[data-testid='mlops-monitoring-toggle']")
    wait_for_report(page, "1h", 6)

    page.select_option("[data-testid='mlops-monitoring-window']", "rows")
    wait_for_report(page, f"rows:{500}", 1)
    page.fill("[data-testid='mlops-monitoring-rows']", "150")
    page.press("[data-testid='mlops-monitoring-rows']", "Enter")
    wait_for_report(page, "rows:150", 4)
    assert page.eval_on_selector_all(
        "[data-testid='mlops-drifted-column']", "rows => rows.map(r => r.dataset.column)"
    ) == ["f0"]
    page.wait_for_selector("[data-chart='drift'] svg.main-svg")

    page.select_option("[data-testid='mlops-monitoring-window']", "1d")
    wait_for_report(page, "1d")
    days = int(page.get_attribute(DASHBOARD, "data-windows") or 0)
    assert days in (1, 2)  # six hours may straddle midnight (UTC)

    # Only v2's traffic: it served none.
    page.select_option("[data-testid='mlops-monitoring-version']", "2")
    wait_for_report(page, "1d", 0)
    assert "No traffic" in page.inner_text("[data-testid='mlops-monitoring-notes']")
    page.select_option("[data-testid='mlops-monitoring-version']", "")
    wait_for_report(page, "1d", days)


def test_given_the_dashboard_when_evaluated_again_then_the_rules_stand_and_no_event_is_added(
    page, monitor_lab
):
    open_churn(page, monitor_lab)
    page.click("[data-testid='mlops-monitoring-toggle']")
    wait_for_report(page, "1h", 6)

    page.click("[data-testid='mlops-monitoring-evaluate']")
    page.wait_for_selector(
        "[data-testid='mlops-monitoring-evaluate']:not([disabled])", timeout=60_000
    )
    wait_for_report(page, "1h", 6)

    assert page.locator("[data-testid='mlops-monitoring-error']").count() == 0
    assert page.locator("[data-testid='mlops-alert-event']").count() == 1
    assert (
        page.get_attribute("[data-testid='mlops-alert-rule'][data-rule='f0 drift']", "data-state")
        == "alert"
    )
