"""The MLOps side panel in a real JupyterLab, driven in Chromium."""

from __future__ import annotations

from jupyter_mlops.client import Client

PANEL_TAB = "[data-id='jupyter-mlops-panel']"


def open_panel(page, lab) -> None:
    page.goto(lab.open_url("lab?reset").replace("?reset?", "?reset&"))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    page.click(PANEL_TAB)
    page.wait_for_selector("[data-testid='mlops-panel']")
    page.wait_for_selector("[data-testid='mlops-run-row']")


def row_names(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid='mlops-run-row']", "rows => rows.map(r => r.dataset.runName || r.innerText)"
    )


def test_given_seeded_store_when_panel_opens_then_runs_are_listed(page, lab):
    open_panel(page, lab)
    ids = page.eval_on_selector_all(
        "[data-testid='mlops-run-row']", "rows => rows.map(r => r.dataset.runId)"
    )
    assert set(ids) == set(lab.ids.values())


def test_given_query_when_typed_then_rows_filter_and_malformed_query_explains(page, lab):
    open_panel(page, lab)
    box = page.locator("[data-testid='mlops-query']")
    box.fill("metrics.acc > 0.85")
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll(\"[data-testid='mlops-run-row']\").length === 1"
    )
    [only] = page.eval_on_selector_all(
        "[data-testid='mlops-run-row']", "rows => rows.map(r => r.dataset.runId)"
    )
    assert only == lab.ids["second model"]
    box.fill("metrics.acc >")
    box.press("Enter")
    error = page.wait_for_selector("[data-testid='mlops-query-error']")
    assert "column" in error.inner_text()


def test_given_xss_run_name_when_listed_then_shown_as_text_and_nothing_runs(page, lab):
    open_panel(page, lab)
    assert page.evaluate("() => window.__xss") is None
    text = page.inner_text("[data-testid='mlops-panel']")
    assert "<img src=x onerror=window.__xss=1>" in text
    assert page.evaluate("() => window.__xss") is None


def test_given_panel_open_when_a_run_is_made_then_it_appears_without_refresh(page, lab):
    open_panel(page, lab)
    before = len(row_names(page))
    client = Client(lab.store)
    run_id = client.create_run("browser", "made while watching")
    client.end_run(run_id)
    client.close()
    page.wait_for_selector(f"[data-run-id='{run_id}']", timeout=5_000)
    assert len(row_names(page)) == before + 1


def test_given_run_row_when_clicked_then_run_view_opens_with_params(page, lab):
    open_panel(page, lab)
    page.click(f"[data-run-id='{lab.ids['first model']}']")
    view = page.wait_for_selector("[data-testid='mlops-run-view']")
    text = view.inner_text()
    assert "alpha" in text and "0.1" in text
