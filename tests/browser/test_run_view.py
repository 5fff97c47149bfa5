"""The Run view in a real JupyterLab: Go to cell, its sections and metric charts."""

from __future__ import annotations

from jupyter_mlops.client import Client

from .conftest import ARTIFACTS
from .test_panel import open_panel


def open_run(page, lab, run_id: str):
    open_panel(page, lab)
    page.click(f"[data-testid='mlops-run-row'][data-run-id='{run_id}']")
    return page.wait_for_selector(f"[data-testid='mlops-run-view'][data-run-id='{run_id}']")


def test_given_first_model_run_when_go_to_cell_then_notebook_opens_at_its_cell(page, lab):
    open_run(page, lab, lab.ids["first model"])
    page.click("[data-testid='mlops-go-to-cell']")
    page.wait_for_selector(
        "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current:has-text('train.ipynb')"
    )
    # The editor's text is drawn once the cell is scrolled into view.
    page.wait_for_function(
        "() => (document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active .cm-content')"
        " || {}).textContent?.includes('# first model')",
        timeout=15_000,
    )
    text = page.inner_text(".jp-Notebook .jp-Cell.jp-mod-active .cm-content")
    assert "# first model" in text and "# second model" not in text
    assert page.query_selector("[data-testid='mlops-go-to-cell-error']") is None


def test_given_run_without_notebook_when_go_to_cell_then_error_is_shown(page, lab):
    client = Client(lab.store)
    run_id = client.create_run("browser", "no notebook")
    client.end_run(run_id)
    client.close()
    open_run(page, lab, run_id)
    page.click("[data-testid='mlops-go-to-cell']")
    error = page.wait_for_selector("[data-testid='mlops-go-to-cell-error']")
    assert "notebook" in error.inner_text()
    assert "train.ipynb" not in page.inner_text("#jp-main-dock-panel .lm-TabBar")


def test_given_run_view_then_sections_show_source_and_environment(page, lab):
    open_run(page, lab, lab.ids["first model"])
    source = page.wait_for_selector("[data-testid='mlops-run-source'] pre")
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='mlops-run-source'] pre span\") !== null"
    )
    assert "# first model" in source.inner_text()
    for section in ("inputs", "outputs", "models", "env"):
        assert page.query_selector(f"[data-testid='mlops-run-{section}']") is not None
    env = page.inner_text("[data-testid='mlops-run-env']")
    assert "package" in env


def test_given_first_model_run_then_loss_chart_has_its_20_steps(page, lab):
    open_run(page, lab, lab.ids["first model"])
    page.wait_for_selector(
        "[data-testid='mlops-metric-chart'][data-metric='loss'] .js-plotly-plot", timeout=30_000
    )
    points = page.evaluate(
        "() => document.querySelector(\"[data-metric='loss'] .js-plotly-plot\").data[0].x.length"
    )
    assert points == 20


def test_given_xss_run_when_viewed_then_nothing_runs(page, lab):
    open_run(page, lab, lab.ids["xss"])
    page.wait_for_selector("[data-testid='mlops-run-params']")
    assert "<script>window.__xss=2</script>" in page.inner_text("[data-testid='mlops-run-view']")
    assert page.evaluate("() => window.__xss") is None


def test_given_two_model_runs_ticked_when_compared_then_alpha_differs(page, lab):
    open_panel(page, lab)
    button = page.locator("[data-testid='mlops-compare-button']")
    assert button.is_disabled()
    for name in ("first model", "second model"):
        page.click(f"[data-run-id='{lab.ids[name]}'] [data-testid='mlops-run-select']")
    assert button.is_enabled()
    button.click()
    view = page.wait_for_selector("[data-testid='mlops-compare-view']")
    alpha = page.wait_for_selector("[data-testid='mlops-compare-view'] tr[data-param='alpha']")
    assert "mlops-diff" in (alpha.get_attribute("class") or "")
    text = view.inner_text()
    assert "first model" in text and "second model" in text
    # the ticks do not open the runs
    assert page.query_selector("[data-testid='mlops-run-view']") is None
    page.wait_for_selector("[data-testid='mlops-compare-parcoords'] .js-plotly-plot")
    page.wait_for_selector("[data-testid='mlops-compare-histories'] .js-plotly-plot")
    diff = page.inner_text("[data-testid='mlops-compare-source']")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for part in ("parcoords", "source"):
        page.locator(f"[data-testid='mlops-compare-{part}']").screenshot(
            path=str(ARTIFACTS / f"compare_view_{part}.png")
        )
    assert "- # first model" in diff and "+ # second model" in diff


def test_given_metric_with_one_value_then_run_view_shows_the_value_not_a_chart(page, lab):
    open_run(page, lab, lab.ids["first model"])
    value = page.wait_for_selector("[data-testid='mlops-metric-value'][data-metric='acc']")
    assert value.inner_text().split() == ["acc", "0.8"]
    page.wait_for_selector("[data-testid='mlops-metric-chart'][data-metric='loss'] .js-plotly-plot")
    assert page.query_selector("[data-testid='mlops-metric-chart'][data-metric='acc']") is None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("[data-testid='mlops-run-charts']").screenshot(
        path=str(ARTIFACTS / "run_view_metrics.png")
    )
