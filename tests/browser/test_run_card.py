"""The card under a %%track cell in a real JupyterLab: the summary saved with the notebook at
once, then the run's details fetched from the store; a run the store does not know keeps its
summary, with a note."""

from __future__ import annotations

import copy
import re

import nbformat
import pytest
from notebook_helpers import KERNELSPEC

from jupyter_mlops.magics import RUN_MIME
from jupyter_mlops.pipelines.notebook import execute_notebook

from .conftest import ARTIFACTS

CARD = "[data-testid='mlops-run-card']"
TWELVE_METRICS = "\n".join(f"score_{i:02d} = {0.5 + i / 100}" for i in range(12))


@pytest.fixture(scope="module")
def cards(lab):
    """A notebook executed against the lab's store: one tracked cell with twelve metrics (the
    summary names three), a frame read and one written; plus a copy of it whose output names
    a run no store has."""
    src = lab.root / "cards-src.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = [
        nbformat.v4.new_code_cell(
            "%load_ext jupyter_mlops\nimport pandas as pd\n"
            "raw = pd.DataFrame({f'c{i}': range(30) for i in range(40)})"
        ),
        nbformat.v4.new_code_cell(
            f"%%track -e cards\n# card model\nalpha = 0.3\n{TWELVE_METRICS}\nwide = raw * alpha"
        ),
    ]
    nbformat.write(nb, src)
    out = lab.root / "cards.ipynb"
    execute_notebook(
        src, env={"JUPYTER_MLOPS_STORE": f"sqlite:///{lab.store / 'mlops.db'}"}, output_path=out
    )
    executed = nbformat.read(out, as_version=4)
    [summary] = [o for o in executed.cells[1].outputs if RUN_MIME in o.get("data", {})]
    run_id = summary.data[RUN_MIME]["info"]["id"]
    stranger = copy.deepcopy(executed)
    [foreign] = [o for o in stranger.cells[1].outputs if RUN_MIME in o.get("data", {})]
    foreign.data[RUN_MIME]["info"]["id"] = "0" * 32
    nbformat.write(stranger, lab.root / "elsewhere.ipynb")
    return {"run_id": run_id, "summary": summary.data[RUN_MIME]}


def open_notebook(page, lab, name: str):
    page.goto(lab.open_url(f"lab/tree/{name}?reset").replace("?reset?", "?reset&"))
    return page.wait_for_selector(CARD, timeout=60_000)


def metric_keys(page) -> list[str]:
    return page.eval_on_selector_all(
        f"{CARD} .jp-mlops-RunCard-metricKey", "keys => keys.map(k => k.textContent)"
    )


def test_given_saved_summary_when_opened_then_card_shows_it_then_the_fetched_details(
    page, lab, cards
):
    held = []
    run_url = re.compile(rf"/mlops/api/v1/runs/{cards['run_id']}(\?|$)")
    page.route(run_url, lambda route: held.append(route))  # answered below
    with page.expect_request(lambda request: bool(run_url.search(request.url))):
        card = open_notebook(page, lab, "cards.ipynb")

    # The server has not answered yet: what the notebook keeps.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert card.get_attribute("data-details") == "loading"
    assert metric_keys(page) == list(cards["summary"]["metrics"])
    assert metric_keys(page) == ["score_00", "score_01", "score_02"]
    assert "+9 more" in card.inner_text()
    assert "12 metrics" in page.inner_text("[data-testid='mlops-run-card-counts']")
    assert page.inner_text(f"{CARD} [data-role='output'] [data-dataset='wide']").startswith("wide")
    card.screenshot(path=str(ARTIFACTS / "run_card_summary.png"))

    assert held
    for route in held:
        route.continue_()
    page.unroute(run_url)  # the Run view opened below asks for the run too
    page.wait_for_selector(f"{CARD}[data-details='loaded']")
    # The run itself: eight metrics named, the columns of each frame in the tooltip.
    assert len(metric_keys(page)) == 8
    assert "+4 more" in card.inner_text()
    assert page.query_selector("[data-testid='mlops-run-card-details']") is None
    wide = page.locator(f"{CARD} [data-role='output'] [data-dataset='wide']")
    assert "30×40" in wide.inner_text()
    assert "40 columns (profiled)" in wide.get_attribute("title")
    card.screenshot(path=str(ARTIFACTS / "run_card_details.png"))

    page.click(f"{CARD} [data-testid='mlops-open-run']")
    page.wait_for_selector(f"[data-testid='mlops-run-view'][data-run-id='{cards['run_id']}']")


def test_given_summary_of_a_run_another_store_has_then_card_keeps_it_with_a_note(page, lab, cards):
    card = open_notebook(page, lab, "elsewhere.ipynb")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_selector(f"{CARD}[data-details='missing']")
    note = page.inner_text("[data-testid='mlops-run-card-details']")
    assert "not in this lab's store" in note
    assert metric_keys(page) == ["score_00", "score_01", "score_02"]
    assert "12 metrics" in page.inner_text("[data-testid='mlops-run-card-counts']")
    assert page.query_selector(f"{CARD} [data-testid='mlops-open-run']") is None
    card.screenshot(path=str(ARTIFACTS / "run_card_missing.png"))
