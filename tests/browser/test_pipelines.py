"""The Pipelines tab of the MLOps panel in a real JupyterLab: a real two-step pipeline run by
the server (real kernels), its graph, live steps, the cache on a second run, schedules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notebook_helpers import write_notebook

from .conftest import ARTIFACTS, Lab, require_chromium, start_lab

PANEL_TAB = "[data-id='jupyter-mlops-panel']"
PIPELINE_PATH = "pipes/demo/pipeline.yaml"
FLAKY_PATH = "pipes/flaky/pipeline.yaml"
# Kernels start slowly on a small CI machine; two steps run one after the other.
RUN_TIMEOUT = 150_000

PIPELINE_YAML = """\
name: browser-demo
params:
  rows: 5
steps:
  - name: prepare
    notebook: prepare.ipynb
    outputs: [train.csv]
  - name: train
    notebook: train.ipynb
    upstream: [prepare]
    parameters: {pause: 3}
    inputs: [train.csv]
"""

FLAKY_YAML = """\
name: flaky
steps:
  - name: prepare
    notebook: prepare.ipynb
  - name: train
    notebook: train.ipynb
    upstream: [prepare]
"""


@pytest.fixture(scope="module")
def pipeline_lab(tmp_path_factory) -> Iterator[Lab]:
    """A lab of its own (the step runs would show in the seeded lab's runs table) whose root
    holds one pipeline: prepare -> train."""
    require_chromium()
    root = tmp_path_factory.mktemp("pipeline-root")
    store = root / ".mlops"
    store.mkdir()
    folder = root / "pipes" / "demo"
    folder.mkdir(parents=True)
    write_notebook(
        folder / "prepare.ipynb",
        "rows = 3",
        "with open('train.csv', 'w') as fh:\n"
        "    fh.write('x,y\\n' + ''.join(f'{i},{2 * i}\\n' for i in range(rows)))",
    )
    write_notebook(
        folder / "train.ipynb",
        "pause = 0\nrows = 3",
        "import time\ntime.sleep(pause)",
        "with open('train.csv') as fh:\n    n = len(fh.read().splitlines()) - 1\nassert n == rows",
    )
    (folder / "pipeline.yaml").write_text(PIPELINE_YAML)
    # Its train step fails until a file named `fixed` exists beside it.
    flaky = root / "pipes" / "flaky"
    flaky.mkdir()
    write_notebook(flaky / "prepare.ipynb", "rows = 3", "x = rows * 2")
    write_notebook(
        flaky / "train.ipynb",
        "rows = 3",
        "import os",
        "if not os.path.exists('fixed'):\n    raise ValueError('no fix yet')",
    )
    (flaky / "pipeline.yaml").write_text(FLAKY_YAML)
    with pytest.MonkeyPatch.context() as mp:
        # The lab's runs inherit it: a Dask scheduler that is not there fails a run in
        # seconds rather than Dask's default 30 s.
        mp.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "5s")
        with start_lab(root, store) as running:
            yield running


def open_pipeline(page, lab: Lab, path: str = PIPELINE_PATH) -> None:
    page.goto(lab.open_url("lab?reset").replace("?reset?", "?reset&"))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    page.click(PANEL_TAB)
    page.wait_for_selector("[data-testid='mlops-panel']")
    page.click("[data-testid='mlops-tab-pipelines']")
    page.click(f"[data-testid='mlops-pipeline'][data-path='{path}']")
    page.wait_for_selector("[data-testid='mlops-pipeline-dag'] [data-testid='mlops-dag-node']")


def statuses(page, testid: str) -> dict[str, str]:
    return page.eval_on_selector_all(
        f"[data-testid='{testid}']",
        "els => Object.fromEntries(els.map(e => [e.dataset.step, e.dataset.status || '']))",
    )


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("[data-testid='mlops-panel']").screenshot(path=str(ARTIFACTS / name))


def run_and_wait(page, button: str = "[data-testid='mlops-pipeline-run-button']") -> str:
    """Click Run (or ``button``); the new run becomes the selected one and ends: its id."""
    before = set(
        page.eval_on_selector_all(
            "[data-testid='mlops-pipeline-run']", "rows => rows.map(r => r.dataset.runId)"
        )
    )
    page.click(button)
    page.wait_for_function(
        """before => [...document.querySelectorAll("[data-testid='mlops-pipeline-run']")]
            .some(r => !before.includes(r.dataset.runId))""",
        arg=sorted(before),
        timeout=30_000,
    )
    [run_id] = [
        r
        for r in page.eval_on_selector_all(
            "[data-testid='mlops-pipeline-run']", "rows => rows.map(r => r.dataset.runId)"
        )
        if r not in before
    ]
    row = f"[data-testid='mlops-pipeline-run'][data-run-id='{run_id}']"
    assert "jp-mod-selected" in (page.get_attribute(row, "class") or "")
    page.wait_for_selector(f"{row}:not([data-status='RUNNING'])", timeout=RUN_TIMEOUT)
    return run_id


def test_given_pipeline_in_root_when_tab_opens_then_dag_shows_steps_in_depth_order(
    page, pipeline_lab
):
    open_pipeline(page, pipeline_lab)
    # Experiments stays the first, default tab.
    assert page.get_attribute("[data-testid='mlops-tab-experiments']", "aria-selected") == "false"
    assert page.get_attribute("[data-testid='mlops-tab-pipelines']", "aria-selected") == "true"
    nodes = page.eval_on_selector_all(
        "[data-testid='mlops-dag-node']",
        "ns => ns.map(n => [n.dataset.step, n.getBoundingClientRect().x])",
    )
    xs = dict(nodes)
    assert set(xs) == {"prepare", "train"}
    assert xs["prepare"] < xs["train"]  # a column per depth, upstream first
    assert page.locator("[data-testid='mlops-pipeline-dag'] .jp-mlops-Dag-edge").count() == 1
    assert page.locator("[data-testid='mlops-pipeline-errors']").count() == 0
    param = page.locator("[data-testid='mlops-pipeline-param'][data-name='rows']")
    assert param.input_value() == "5"
    assert param.get_attribute("type") == "number"
    shot(page, "pipelines-dag.png")


def test_given_pipeline_when_run_then_steps_finish_and_second_run_is_cached(page, pipeline_lab):
    open_pipeline(page, pipeline_lab)
    # Remember whether a step was ever shown running with its progress (train sleeps 3 s).
    page.evaluate(
        """() => { window.__sawProgress = false; setInterval(() => {
            if (document.querySelector("[data-testid='mlops-step-progress']")) {
              window.__sawProgress = true; } }, 100); }"""
    )
    run_id = run_and_wait(page)
    row = f"[data-testid='mlops-pipeline-run'][data-run-id='{run_id}']"
    if page.get_attribute(row, "data-status") != "FINISHED":
        shot(page, "pipelines-run-failed.png")
        raise AssertionError(page.inner_text("[data-testid='mlops-pipeline-detail']"))
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='mlops-dag-node']")]
            .every(n => n.dataset.status === 'FINISHED')"""
    )
    assert statuses(page, "mlops-step") == {"prepare": "FINISHED", "train": "FINISHED"}
    assert statuses(page, "mlops-dag-node") == {"prepare": "FINISHED", "train": "FINISHED"}
    assert page.evaluate("() => window.__sawProgress")
    shot(page, "pipelines-finished.png")

    # Nothing changed: the second run reuses both steps.
    second = run_and_wait(page)
    assert second != run_id
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='mlops-step']")]
            .every(n => n.dataset.status === 'CACHED')"""
    )
    assert statuses(page, "mlops-dag-node") == {"prepare": "CACHED", "train": "CACHED"}
    assert (
        page.get_attribute(
            f"[data-testid='mlops-pipeline-run'][data-run-id='{second}']", "data-status"
        )
        == "FINISHED"
    )
    shot(page, "pipelines-cached.png")

    # Back to the first run: the graph follows the selected run.
    page.click(row)
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='mlops-dag-node']")]
            .every(n => n.dataset.status === 'FINISHED')"""
    )
    # A step's tracked run opens in the run view.
    page.click("[data-testid='mlops-step'][data-step='train'] [data-testid='mlops-step-open-run']")
    page.wait_for_selector("[data-testid='mlops-run-view']")


def test_given_pipeline_when_schedule_added_then_listed_toggled_and_deleted(page, pipeline_lab):
    open_pipeline(page, pipeline_lab)
    form = page.locator("[data-testid='mlops-schedule-form']")
    form.scroll_into_view_if_needed()
    # A malformed cron line: the server's message, inline.
    page.fill("[data-testid='mlops-schedule-cron']", "every day")
    page.click("[data-testid='mlops-schedule-add']")
    error = page.wait_for_selector("[data-testid='mlops-schedule-error']")
    assert error.inner_text().strip()
    assert page.locator("[data-testid='mlops-schedule']").count() == 0

    page.fill("[data-testid='mlops-schedule-cron']", "0 3 * * *")
    page.click("[data-testid='mlops-schedule-add']")
    schedule = page.wait_for_selector("[data-testid='mlops-schedule'][data-enabled='true']")
    schedule_id = schedule.get_attribute("data-id")
    assert "0 3 * * *" in schedule.inner_text()
    assert page.locator("[data-testid='mlops-schedule-error']").count() == 0

    page.fill("[data-testid='mlops-schedule-dataset']", "train")
    page.click("[data-testid='mlops-schedule-add']")
    page.wait_for_function(
        "() => document.querySelectorAll(\"[data-testid='mlops-schedule']\").length === 2"
    )
    assert "dataset train" in page.inner_text("[data-testid='mlops-pipeline-detail']")

    mine = f"[data-testid='mlops-schedule'][data-id='{schedule_id}']"
    page.click(f"{mine} [data-testid='mlops-schedule-toggle']")
    page.wait_for_selector(f"{mine}[data-enabled='false']")
    shot(page, "pipelines-schedules.png")
    page.click(f"{mine} [data-testid='mlops-schedule-delete']")
    page.wait_for_selector(mine, state="detached")
    assert page.locator("[data-testid='mlops-schedule']").count() == 1


def test_given_failing_step_when_run_then_error_shows_and_rerun_from_failed_step_finishes(
    page, pipeline_lab
):
    open_pipeline(page, pipeline_lab, FLAKY_PATH)
    first = run_and_wait(page)
    row = f"[data-testid='mlops-pipeline-run'][data-run-id='{first}']"
    assert page.get_attribute(row, "data-status") == "FAILED"
    page.wait_for_selector("[data-testid='mlops-step'][data-step='train'][data-status='FAILED']")
    assert statuses(page, "mlops-dag-node") == {"prepare": "FINISHED", "train": "FAILED"}
    error = page.locator("[data-testid='mlops-step-error']")
    assert "ValueError" in error.inner_text() and "no fix yet" in error.inner_text()
    assert "Cell 3" in error.inner_text()  # the third cell of the notebook, counted from 1
    error.locator("summary").click()
    traceback = error.locator("pre")
    traceback.wait_for()
    assert "no fix yet" in traceback.inner_text()
    assert "\x1b[" not in traceback.inner_text()  # terminal colours stripped
    shot(page, "pipelines-failed.png")

    (pipeline_lab.root / "pipes" / "flaky" / "fixed").write_text("yes")
    second = run_and_wait(page, "[data-testid='mlops-resume-button']")
    assert second != first
    assert (
        page.get_attribute(
            f"[data-testid='mlops-pipeline-run'][data-run-id='{second}']", "data-status"
        )
        == "FINISHED"
    )
    page.wait_for_selector("[data-testid='mlops-step'][data-step='train'][data-status='FINISHED']")
    assert page.locator("[data-testid='mlops-resume-button']").count() == 0
    shot(page, "pipelines-resumed.png")

    # The step's executed notebook opens in the lab.
    page.click(
        "[data-testid='mlops-step'][data-step='train'] [data-testid='mlops-step-open-notebook']"
    )
    page.wait_for_selector(
        "#jp-main-dock-panel .lm-TabBar-tab:has-text('train.ipynb')", timeout=30_000
    )


def is_launch(request) -> bool:
    return request.method == "POST" and request.url.split("?")[0].endswith(
        "/mlops/api/v1/pipelines/runs"
    )


def test_given_run_options_when_executor_chosen_then_checked_inline_and_run_follows_them(
    page, pipeline_lab
):
    open_pipeline(page, pipeline_lab)
    launches: list[object] = []
    page.on("request", lambda r: launches.append(r) if is_launch(r) else None)
    error = "[data-testid='mlops-pipeline-run-error']"
    rows = "[data-testid='mlops-pipeline-run']"
    # Folded by default: the default executor and workers, said in the summary.
    options = page.locator("[data-testid='mlops-pipeline-run-options']")
    assert options.get_attribute("open") is None
    hint = page.locator("[data-testid='mlops-pipeline-run-options-hint']")
    assert hint.inner_text() == "local · 2 workers"
    options.locator("summary").click()
    executor = page.locator("[data-testid='mlops-pipeline-executor']")
    workers = page.locator("[data-testid='mlops-pipeline-workers']")
    address = page.locator("[data-testid='mlops-pipeline-scheduler-address']")
    assert executor.input_value() == "local"
    assert workers.input_value() == "2"
    assert address.count() == 0  # only for dask

    # (a) dask without a scheduler address: refused here, inline; no run starts.
    executor.select_option("dask")
    assert workers.count() == 0
    assert address.get_attribute("placeholder") == "tcp://host:8786"
    page.click("[data-testid='mlops-pipeline-run-button']")
    assert "scheduler address" in page.wait_for_selector(error).inner_text()
    assert address.get_attribute("aria-invalid") == "true"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pipelines-run-options.png"))
    shot(page, "pipelines-run-options-panel.png")
    # Workers out of 1..64 or not whole: refused too.
    executor.select_option("local")
    page.wait_for_selector(error, state="detached")  # the message went with the field
    for bad in ("0", "65", "2.5"):
        workers.fill(bad)
        page.click("[data-testid='mlops-pipeline-run-button']")
        assert "whole number from 1 to 64" in page.wait_for_selector(error).inner_text()
    assert launches == []  # no POST pipelines/runs was sent

    # (b) local with one worker, forced so both steps really run on it: they finish.
    workers.fill("1")
    assert hint.inner_text() == "local · 1 worker"
    page.check("[data-testid='mlops-pipeline-force']")
    shot(page, "pipelines-run-options-local.png")
    with page.expect_response(lambda r: is_launch(r.request)) as launched:
        local_run = run_and_wait(page)
    assert launched.value.status == 202
    body = launched.value.request.post_data_json
    assert {k: body[k] for k in ("executor", "scheduler_address", "max_workers", "force")} == {
        "executor": "local",
        "scheduler_address": None,
        "max_workers": 1,
        "force": True,
    }
    assert page.locator(error).count() == 0
    assert page.get_attribute(f"{rows}[data-run-id='{local_run}']", "data-status") == "FINISHED"
    page.wait_for_function(
        """() => [...document.querySelectorAll("[data-testid='mlops-step']")]
            .every(n => ['FINISHED', 'CACHED'].includes(n.dataset.status))"""
    )
    assert set(statuses(page, "mlops-step")) == {"prepare", "train"}

    # (c) dask on a scheduler that is not there: accepted, then the run fails and says why.
    executor.select_option("dask")
    address.fill("tcp://127.0.0.1:9")
    assert hint.inner_text() == "dask · tcp://127.0.0.1:9"
    with page.expect_response(lambda r: is_launch(r.request)) as launched:
        dask_run = run_and_wait(page)
    assert launched.value.status == 202
    body = launched.value.request.post_data_json
    assert (body["executor"], body["scheduler_address"]) == ("dask", "tcp://127.0.0.1:9")
    assert dask_run != local_run
    assert page.get_attribute(f"{rows}[data-run-id='{dask_run}']", "data-status") == "FAILED"
    failure = page.wait_for_selector("[data-testid='mlops-pipeline-run-failure']")
    assert "127.0.0.1:9" in failure.inner_text()
    assert "FINISHED" not in statuses(page, "mlops-step").values()
    shot(page, "pipelines-run-options-dask-failed.png")
