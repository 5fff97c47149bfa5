"""The Models tab of the MLOps panel and the run view's Register button, in a real JupyterLab
driven in Chromium, on a store whose registered models were made by a real notebook."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from .conftest import ARTIFACTS, Lab, require_chromium, start_lab

PANEL_TAB = "[data-id='jupyter-mlops-panel']"
# A holdout no model of this size gets 99.9% right: the gate fails with its numbers.
FAILING_GATES = {"target": "y", "metrics": {"accuracy": {"min": 0.999}}}
XSS = "<img src=x onerror=window.__xss=3>"

TRAIN = """%%track -e registry
# train {name}
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng({seed})
train = pd.DataFrame({{"a": rng.normal(size=300), "b": rng.normal(size=300)}})
train["y"] = (train.a + 0.8 * rng.normal(size=300) > 0).astype(int)
C = {c}
clf = LogisticRegression(C=C).fit(train[["a", "b"]], train.y)
"""


@dataclass
class RegistryLab:
    lab: Lab
    runs: dict[str, str]

    @property
    def store(self) -> Path:
        return self.lab.store


def _holdout() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = (frame.a + 0.8 * rng.normal(size=200) > 0).astype(int)
    return frame


def _seed(root: Path, store: Path) -> dict[str, str]:
    """Three tracked cells of a notebook, each fitting a LogisticRegression that %%track logs
    as "clf"; churn and fraud get versions 1 and 2 (from the first two cells). churn v2 is the
    champion, approved by alice; fraud has gates that its version 2 fails."""
    from jupyter_mlops import registry
    from jupyter_mlops.client import Client
    from jupyter_mlops.config import resolve_location, store_env
    from jupyter_mlops.pipelines.notebook import execute_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext jupyter_mlops")] + [
        nbformat.v4.new_code_cell(TRAIN.format(name=name, seed=seed, c=c))
        for name, seed, c in (("first", 0, 1.0), ("second", 1, 0.1), ("third", 2, 0.5))
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "train_models.ipynb")
    execute_notebook(root / "train_models.ipynb", env=store_env(resolve_location(str(store))))

    client = Client(store)
    try:
        runs = {
            line.removeprefix("# train "): r.id
            for r in client.search_runs(experiment="registry")
            for line in (r.info.source or "").splitlines()
            if line.startswith("# train ")
        }
        for name in ("churn", "fraud"):
            for run in ("first", "second"):
                client.register_model(f"runs:/{runs[run]}/clf", name, description=f"{run} fit")
        client.update_registered_model(
            "churn", description=f"Predicts churn. {XSS}", intended_use="Retention offers."
        )
        client.set_model_alias("churn", "champion", 2, reason="Best holdout AUC this week")
        client.approve_model_version("churn", 2, "Reviewed the features", actor="alice")
        client.set_model_gates("fraud", FAILING_GATES)
        report = registry.validate(client, "fraud", 2, holdout=_holdout())
        assert not report.passed
    finally:
        client.close()
    return runs


@pytest.fixture(scope="module")
def reg_lab(tmp_path_factory) -> Iterator[RegistryLab]:
    require_chromium()
    root = tmp_path_factory.mktemp("models-root")
    store = root / ".mlops"
    store.mkdir()
    runs = _seed(root, store)
    with start_lab(root, store) as running:
        yield RegistryLab(running, runs)


def _shot(page, name: str, selector: str | None = None) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = page.locator(selector) if selector else page
    target.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _widen_panel(page, width: int = 560) -> None:
    """Drag the left sidebar's edge so the panel is `width` pixels wide, as a user would."""
    panel = page.locator("#jupyter-mlops-panel").bounding_box()
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if not panel or not box:
        return
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(panel["x"] + width, y, steps=5)
    page.mouse.up()


def open_models(page, lab: Lab) -> None:
    page.goto(lab.open_url("lab?reset").replace("?reset?", "?reset&"))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    page.click(PANEL_TAB)
    page.wait_for_selector("[data-testid='mlops-panel']")
    page.click("[data-testid='mlops-tab-models']")
    page.wait_for_selector("[data-testid='mlops-model']")
    _widen_panel(page)


def open_model(page, name: str):
    page.click(f"[data-testid='mlops-model'][data-model='{name}']")
    return page.wait_for_selector(
        f"[data-testid='mlops-model-detail'][data-model='{name}'] [data-testid='mlops-version-row']"
    )


def version_row(page, version: int) -> str:
    return f"[data-testid='mlops-version-row'][data-version='{version}']"


def act(page, action: str, reason: str | None) -> None:
    page.click(f"[data-testid='mlops-action-{action}']")
    if reason is not None:
        page.fill("[data-testid='mlops-reason']", reason)
    page.click("[data-testid='mlops-action-submit']")


def test_given_registered_models_when_models_tab_opens_then_each_shows_stages_and_aliases(
    page, reg_lab
):
    open_models(page, reg_lab.lab)
    names = page.eval_on_selector_all(
        "[data-testid='mlops-model']", "items => items.map(i => i.dataset.model)"
    )
    assert {"churn", "fraud"} <= set(names)
    churn = page.locator("[data-testid='mlops-model'][data-model='churn']")
    assert "2 versions" in churn.inner_text()
    assert churn.locator("[data-testid='mlops-alias-chip']").inner_text() == "@champion v2"
    open_model(page, "churn")
    rows = page.eval_on_selector_all(
        "[data-testid='mlops-version-row']", "rows => rows.map(r => r.dataset.version)"
    )
    assert rows == ["2", "1"]
    # No approval is required: the count stands alone.
    approvals = page.inner_text(f"{version_row(page, 2)} [data-testid='mlops-version-approvals']")
    assert approvals == "1"
    # The description holds markup: it is shown as text and nothing runs.
    assert XSS in page.inner_text("[data-testid='mlops-model-detail']")
    assert page.evaluate("() => window.__xss") is None


def test_given_version_1_when_promoted_to_production_with_a_reason_then_badge_and_audit_show_it(
    page, reg_lab
):
    open_models(page, reg_lab.lab)
    open_model(page, "churn")
    page.click(version_row(page, 1))
    reason = "Baseline beats the heuristic on last month's churners"
    act(page, "promote-production", reason)

    page.wait_for_selector(f"{version_row(page, 1)}[data-stage='Production']")
    page.wait_for_selector(
        "[data-testid='mlops-model'][data-model='churn'] "
        "[data-testid='mlops-stage-badge'][data-stage='Production']:has-text('Production v1')"
    )
    entry = page.wait_for_selector(
        "[data-testid='mlops-audit-entry'][data-action='stage'][data-version='1']"
    )
    text = entry.inner_text()
    assert reason in text and "None → Production" in text
    _shot(page, "models_tab_promoted", "#jupyter-mlops-panel")


def test_given_failing_gate_when_promoting_then_numbers_show_and_stage_stays_until_forced(
    page, reg_lab
):
    open_models(page, reg_lab.lab)
    open_model(page, "fraud")
    page.click(version_row(page, 2))
    # The versions table names the failed gate.
    verdict = page.inner_text(f"{version_row(page, 2)} [data-testid='mlops-gate-verdict']")
    assert verdict == "failed: metrics"

    act(page, "promote-production", "Try the new fit")
    blockers = page.wait_for_selector("[data-testid='mlops-blockers']")
    assert "gate metrics failed" in blockers.inner_text()
    check = page.wait_for_selector(
        "[data-testid='mlops-blockers'] [data-testid='mlops-gate-check'][data-check='accuracy']"
    )
    cells = check.eval_on_selector_all("td", "tds => tds.map(t => t.innerText)")
    accuracy = float(cells[1])
    assert 0.5 < accuracy < 0.999 and "0.999" in cells[2] and cells[3] == "fail"
    _shot(page, "models_tab_blocked", "#jupyter-mlops-panel")
    # Refused: the version stays where it was.
    assert page.get_attribute(version_row(page, 2), "data-stage") == "None"

    # Forcing needs a reason: the button waits for one.
    page.fill("[data-testid='mlops-reason']", "")
    page.check("[data-testid='mlops-force']")
    assert page.is_disabled("[data-testid='mlops-action-submit']")
    reason = "Hotfix for the card-testing wave; risk team signed off"
    page.fill("[data-testid='mlops-reason']", reason)
    page.click("[data-testid='mlops-action-submit']")

    page.wait_for_selector(f"{version_row(page, 2)}[data-stage='Production']")
    forced = page.wait_for_selector(
        "[data-testid='mlops-audit-entry'][data-action='force'][data-version='2']"
    )
    assert reason in forced.inner_text()
    _shot(page, "models_tab_forced", "#jupyter-mlops-panel")


def test_given_run_view_when_register_is_clicked_then_the_new_version_uri_shows(page, reg_lab):
    lab = reg_lab.lab
    run_id = reg_lab.runs["third"]
    page.goto(lab.open_url("lab?reset").replace("?reset?", "?reset&"))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    page.click(PANEL_TAB)
    page.click(f"[data-testid='mlops-run-row'][data-run-id='{run_id}']")
    page.wait_for_selector(f"[data-testid='mlops-run-view'][data-run-id='{run_id}']")

    page.click("[data-testid='mlops-register-model'][data-model='clf']")
    page.fill("[data-testid='mlops-register-name']", "team/churn model")
    page.fill("[data-testid='mlops-register-description']", "registered from the run view")
    page.click("[data-testid='mlops-register-submit']")
    result = page.wait_for_selector("[data-testid='mlops-register-result']")
    assert result.inner_text() == "models:/team/churn model/1"
    page.locator("[data-testid='mlops-run-models']").scroll_into_view_if_needed()
    _shot(page, "run_view_register", "[data-testid='mlops-run-models']")

    # A bad name is refused inline, with the server's sentence.
    page.fill("[data-testid='mlops-register-name']", "no*stars")
    page.click("[data-testid='mlops-register-submit']")
    error = page.wait_for_selector("[data-testid='mlops-register-error']")
    assert "Invalid model name" in error.inner_text()

    page.click("[data-testid='mlops-tab-models']")
    page.wait_for_selector("[data-testid='mlops-model'][data-model='team/churn model']")


def test_given_a_version_when_lineage_and_card_open_then_run_cell_data_and_card_render(
    page, reg_lab
):
    open_models(page, reg_lab.lab)
    open_model(page, "churn")
    page.click(version_row(page, 2))
    page.click("[data-testid='mlops-lineage-section'] > summary")
    lineage = page.wait_for_selector("[data-testid='mlops-lineage']")
    run = page.wait_for_selector("[data-testid='mlops-lineage-run']")
    assert run.get_attribute("data-run-id") == reg_lab.runs["second"]
    assert "0.1" in page.inner_text("[data-testid='mlops-lineage-params']")
    assert page.inner_text("[data-testid='mlops-lineage-uri']") == "models:/churn/2"
    datasets = page.inner_text("[data-testid='mlops-lineage-datasets']")
    assert "train" in datasets and "xxh3-128:" in datasets
    assert "alice" in page.inner_text("[data-testid='mlops-lineage-approvals']")
    promotions = page.inner_text("[data-testid='mlops-lineage-promotions']")
    assert "@champion" in promotions and "Best holdout AUC this week" in promotions
    assert "train_models.ipynb" in lineage.inner_text()

    page.click("[data-testid='mlops-card-section'] > summary")
    card = page.wait_for_selector("[data-testid='mlops-model-card'] .jp-RenderedMarkdown h1")
    assert "churn" in card.inner_text()
    assert page.evaluate("() => window.__xss") is None
    assert page.query_selector("[data-testid='mlops-model-card'] img[onerror]") is None
    # Tall enough that the whole card is drawn for its picture.
    page.set_viewport_size({"width": 1400, "height": 2400})
    _shot(page, "models_tab_lineage", "[data-testid='mlops-lineage-section']")
    _shot(page, "models_tab_card", "[data-testid='mlops-card-section']")
    page.set_viewport_size({"width": 1400, "height": 900})

    # The cell link opens the notebook at the cell that trained version 2.
    page.click("[data-testid='mlops-lineage-cell']")
    page.wait_for_selector(
        "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current:has-text('train_models.ipynb')"
    )
    page.wait_for_function(
        "() => (document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active .cm-content')"
        " || {}).textContent?.includes('# train second')",
        timeout=15_000,
    )

    # The run link opens the run view of the run that trained it.
    page.click("[data-testid='mlops-lineage-run']")
    page.wait_for_selector(
        f"[data-testid='mlops-run-view'][data-run-id='{reg_lab.runs['second']}']"
    )


def test_given_champion_on_v2_when_set_on_v1_with_a_reason_then_it_moves_and_is_audited(
    page, reg_lab
):
    open_models(page, reg_lab.lab)
    open_model(page, "churn")
    page.click(version_row(page, 1))
    page.click("[data-testid='mlops-action-set-alias']")
    page.fill("[data-testid='mlops-alias-name']", "champion")
    assert "Moves @champion from v2" in page.inner_text("[data-testid='mlops-reason-form']")
    reason = "v1 holds up better on the new cohort"
    page.fill("[data-testid='mlops-reason']", reason)
    page.click("[data-testid='mlops-action-submit']")

    page.wait_for_selector(f"{version_row(page, 1)} [data-testid='mlops-alias-chip']")
    assert page.query_selector(f"{version_row(page, 2)} [data-testid='mlops-alias-chip']") is None
    entry = page.wait_for_selector(
        "[data-testid='mlops-audit-entry'][data-action='set_alias'][data-version='1']"
    )
    assert reason in entry.inner_text() and "2 → 1" in entry.inner_text()
    page.wait_for_selector(
        "[data-testid='mlops-model'][data-model='churn'] "
        "[data-testid='mlops-alias-chip']:has-text('@champion v1')"
    )


def test_given_a_model_open_when_someone_approves_elsewhere_then_the_tab_shows_it(page, reg_lab):
    open_models(page, reg_lab.lab)
    open_model(page, "fraud")
    approvals = f"{version_row(page, 1)} [data-testid='mlops-version-approvals']"
    assert page.inner_text(approvals) == "0"

    from jupyter_mlops.client import Client

    client = Client(reg_lab.store)
    try:  # a colleague approves from a notebook: nothing in the model's row but its audit
        client.approve_model_version("fraud", 1, "checked the data", actor="carol")
    finally:
        client.close()

    # The tab polls the list; the model's audit seq moved, so it reads the model again.
    page.wait_for_function(
        "s => document.querySelector(s)?.textContent === '1'", arg=approvals, timeout=30_000
    )
