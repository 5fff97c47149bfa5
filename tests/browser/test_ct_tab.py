"""A model's continuous training in the Models tab, in a real JupyterLab driven in Chromium:
churn has a policy, a loop that retrained it after a drift alert (its pipeline run and
steps, the candidates, the decision, the stage move) and a newer loop whose candidate waits
for approval; fraud has a canary rollout under way. The panel edits the policy (and shows
the server's message for a bad one), shows the waiting candidate's gate report beside the
champion's with Approve, the rollout's figures with Cancel, and each loop's timeline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from notebook_helpers import write_notebook

from .conftest import ARTIFACTS, Lab, require_chromium, start_lab

PANEL_TAB = "[data-id='jupyter-mlops-panel']"
CT = "[data-testid='mlops-ct']"
SECTION = f"section.jp-mlops-PipelineSection:has({CT})"
TIMELINE = "[data-testid='mlops-ct-timeline']"
SECTION_SHOT = Path("/tmp/ct_section.png")
TIMELINE_SHOT = Path("/tmp/ct_timeline.png")
REVIEWER = "bob"
POLICY = """\
pipeline: retrain/pipeline.yaml
trigger:
  alerts: [drift]
data:
  dataset: churn-train
promote:
  mode: approval
  metric: accuracy
  to: Production
rollout:
  mode: canary
  share: 0.1
guardrails:
  cooldown: 1h
  dry_run: true
"""
PIPELINE = """\
name: churn-retrain
steps:
  - name: prepare
    notebook: prepare.ipynb
  - name: train
    notebook: train.ipynb
    upstream: [prepare]
"""


def _report(client, name: str, version: int, accuracy: float, passed: bool) -> None:
    found = client.get_model_version(name, version)
    checks = [
        {"name": "accuracy", "value": accuracy, "threshold": ">= 0.7", "passed": passed},
        {"name": "f1", "value": accuracy - 0.05, "threshold": ">= 0.6", "passed": True},
    ]
    gates = [
        {"gate": "metrics", "passed": passed, "summary": f"accuracy {accuracy:.3f}",
         "checks": checks},
        {"gate": "champion", "passed": True, "summary": "no worse than the champion",
         "checks": []},
    ]  # fmt: skip
    doc = {"gates": gates, "holdout": {"ref": "churn-holdout@3", "rows": 400}, "duration_s": 1.2}
    client.save_gate_report(
        name, version, doc, model_sha256=found.sha256, config_sha256="0" * 64, actor="gates"
    )


def _register(client, name: str, times: int) -> None:
    for i in range(times):
        run = client.create_run("ct-browser", f"train {i}")
        client.log_model(run, {"weights": [i]}, name="clf")
        client.end_run(run)
        client.register_model(f"runs:/{run}/clf", name, actor="trainer")
    # The rule the policies below trigger on.
    client.set_monitor_config(
        name,
        {"alerts": {"rules": [{"name": "drift", "metric": "dataset_drift_share", "above": 0.3}]}},
    )


def _pipeline_run(client, run_id: str) -> str:
    """A finished pipeline run of two steps, as `pipelines run` records one."""
    top = client.create_run(
        "pipelines", "churn-retrain", tags={"mlops.pipeline": "churn-retrain"}, run_id=run_id
    )
    for step in ("prepare", "train"):
        child = client.create_run("pipelines", step, parent_run_id=top)
        time.sleep(0.3)
        client.end_run(child)
    client.end_run(top)
    return top


def _seed(root: Path, store: Path) -> dict[str, str]:
    from jupyter_mlops.automation.policy import set_policy
    from jupyter_mlops.client import Client
    from jupyter_mlops.entities import MONITOR_ALERT_EVENT

    (root / "retrain").mkdir()
    for step in ("prepare", "train"):
        write_notebook(root / "retrain" / f"{step}.ipynb", 'data = ""', "done = True")
    (root / "retrain" / "pipeline.yaml").write_text(PIPELINE)
    client = Client(store)
    try:
        _register(client, "churn", 3)
        client.transition_model_version_stage("churn", 1, "Production")
        set_policy(client, "churn", POLICY, base_dir=root)

        # The loop that retrained churn: alert, pipeline, candidates, decision, stage.
        alert = client.record_event(
            MONITOR_ALERT_EVENT,
            "churn",
            {"rule": "drift", "metric": "dataset_drift_share", "value": 0.42, "threshold": 0.3,
             "direction": "above", "state": "alert", "previous": "ok", "version": 1,
             "drifted_columns": [{"column": "tenure"}, {"column": "plan"}]},
        )  # fmt: skip
        time.sleep(0.4)
        run = uuid.uuid4().hex  # announced by the loop, as the controller does
        done = client.create_ct_loop(
            "churn",
            trigger={
                "kind": "alert",
                "event_id": alert.id,
                "at": alert.created_at,
                "rule": "drift",
                "version": 1,
            },
            pipeline_path=str(root / "retrain" / "pipeline.yaml"),
            params={"data": "churn-train.parquet"},
            pipeline_run_id=run,
            summary="alert drift on version 1: retraining with churn-retrain",
        )
        time.sleep(0.2)
        client.update_ct_loop(
            done.id, ("training",), step="pipeline_started",
            summary=f"pipeline churn-retrain started (run {run[:8]})",
            detail={"run_id": run, "pipeline": "churn-retrain"},
        )  # fmt: skip
        _pipeline_run(client, run)
        time.sleep(0.3)
        client.update_ct_loop(
            done.id, ("training",), step="candidates",
            summary="1 candidate(s) judged by the gates, 1 passed",
            detail={"metric": "accuracy", "candidates": [], "champion": 1},
        )  # fmt: skip
        time.sleep(0.3)
        client.transition_model_version_stage("churn", 2, "Production", actor="trainer")
        client.update_ct_loop(
            done.id, ("training",), step="decision",
            summary="version 2 (accuracy 0.8100) passed the gates and was promoted",
            state="done", outcome="promoted", candidate=2, champion=1,
            reason="version 2 (accuracy 0.8100) passed the gates and was promoted",
        )  # fmt: skip

        # A newer loop whose candidate, v3, waits for approval against v2 (Production).
        _report(client, "churn", 2, 0.81, True)
        _report(client, "churn", 3, 0.84, True)
        waiting = client.create_ct_loop(
            "churn",
            trigger={"kind": "schedule", "cron": "0 3 * * 1"},
            pipeline_path=str(root / "retrain" / "pipeline.yaml"),
            params={},
            summary="schedule 0 3 * * 1: retraining with churn-retrain",
        )
        client.update_ct_loop(
            waiting.id, ("training",), step="decision",
            summary="version 3 (accuracy 0.8400) passed the gates and waits for approval",
            state="approval", candidate=3, champion=2,
            reason="version 3 (accuracy 0.8400) passed the gates and waits for approval",
        )  # fmt: skip

        # fraud: a canary of v2 beside v1, with its figures so far.
        _register(client, "fraud", 2)
        rollout = client.start_rollout(
            "fraud", 2, mode="canary", share=0.1, target="Production",
            criteria={"min_requests": 200}, champion=1, reason="on trial",
        )  # fmt: skip
        client.save_rollout_stats(
            rollout.id,
            {"candidate": {"version": 2, "requests": 48, "errors": 1, "error_rate": 1 / 48,
                           "p95_ms": 14.2, "labelled": 30, "accuracy": 0.833},
             "champion": {"version": 1, "requests": 452, "errors": 2, "error_rate": 2 / 452,
                          "p95_ms": 11.8, "labelled": 300, "accuracy": 0.81},
             "verdict": "wait", "reason": "48 of 200 requests answered by the candidate"},
        )  # fmt: skip
        return {"done": done.id, "waiting": waiting.id, "run": run, "rollout": rollout.id}
    finally:
        client.close()


@pytest.fixture(scope="module")
def ct_lab(tmp_path_factory) -> Iterator[Lab]:
    require_chromium()
    root = tmp_path_factory.mktemp("ct-root")
    store = root / ".mlops"
    store.mkdir()
    ids = _seed(root, store)
    with start_lab(root, store, ids) as running:
        yield running


def _widen_panel(page, width: int = 620) -> None:
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


def open_ct(page, lab: Lab, name: str) -> None:
    """The Models tab with ``name`` open, its continuous training read."""
    page.goto(lab.open_url("lab?reset").replace("?reset?", "?reset&"))
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    page.click(PANEL_TAB)
    page.click("[data-testid='mlops-tab-models']")
    page.click(f"[data-testid='mlops-model'][data-model='{name}']")
    page.wait_for_selector(f"{CT}[data-policy]:not([data-policy=''])")
    _widen_panel(page)


def _shot(page, selector: str, path: Path) -> None:
    """A screenshot of one element, the page made tall enough to hold it whole."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.wait_for_timeout(300)
    element = page.locator(selector)
    element.scroll_into_view_if_needed()
    element.screenshot(path=str(path))
    element.screenshot(path=str(ARTIFACTS / path.name))
    page.set_viewport_size({"width": 1400, "height": 900})


def test_given_a_policy_when_edited_then_it_saves_and_a_bad_one_shows_the_servers_message(
    page, ct_lab
):
    open_ct(page, ct_lab, "churn")
    yaml_box = page.locator("[data-testid='mlops-ct-yaml']")
    text = yaml_box.input_value()
    assert "pipeline: retrain/pipeline.yaml" in text and "mode: approval" in text
    badges = page.eval_on_selector_all(
        "[data-testid='mlops-ct-badge']", "els => els.map(e => e.dataset.badge)"
    )
    assert badges == ["enabled", "dry-run"]
    assert page.is_disabled("[data-testid='mlops-ct-save']")  # nothing edited yet

    # Off with the dry run, and saved with a reason: the badge goes.
    yaml_box.fill(text.replace("dry_run: true", "dry_run: false"))
    page.fill("[data-testid='mlops-ct-reason']", "trusted after a week of dry runs")
    page.click("[data-testid='mlops-ct-save']")
    page.wait_for_selector("[data-testid='mlops-ct-done']")
    page.wait_for_selector("[data-testid='mlops-ct-badge'][data-badge='dry-run']", state="detached")
    assert "dry_run: false" in yaml_box.input_value()

    # An unknown field: the server's message, naming it; nothing saved.
    saved = yaml_box.input_value()
    yaml_box.fill(saved + "retrain_often: true\n")
    page.click("[data-testid='mlops-ct-save']")
    error = page.wait_for_selector("[data-testid='mlops-ct-error']")
    assert "retrain_often" in error.inner_text() and "unknown field" in error.inner_text()
    assert yaml_box.get_attribute("aria-invalid") == "true"

    # A pipeline outside the lab's root is refused too.
    yaml_box.fill(saved.replace("retrain/pipeline.yaml", "../../etc/pipeline.yaml"))
    page.click("[data-testid='mlops-ct-save']")
    page.wait_for_selector("[data-testid='mlops-ct-error']:has-text(\"outside the server's root\")")
    page.click("[data-testid='mlops-ct-revert']")
    assert yaml_box.input_value() == saved

    # The audit names the change.
    page.wait_for_selector(
        "[data-testid='mlops-audit-entry'][data-action='set_ct']"
        ":has-text('trusted after a week of dry runs')"
    )


def test_given_a_candidate_waiting_for_approval_then_its_report_is_beside_the_champions(
    page, ct_lab
):
    open_ct(page, ct_lab, "churn")
    pending = page.wait_for_selector(
        f"[data-testid='mlops-ct-pending'][data-loop='{ct_lab.ids['waiting']}']"
    )
    assert pending.get_attribute("data-candidate") == "3"
    assert "v3 waits for approval to take Production" in pending.inner_text()
    candidate = page.locator("[data-testid='mlops-ct-pending-candidate']")
    champion = page.locator("[data-testid='mlops-ct-pending-champion']")
    assert candidate.get_attribute("data-version") == "3"
    assert champion.get_attribute("data-version") == "2"
    reports = page.locator("[data-testid='mlops-ct-pending'] [data-testid='mlops-gate-report']")
    assert reports.count() == 2
    assert "v3" in candidate.locator("[data-testid='mlops-gate-report']").inner_text()
    assert "v2" in champion.locator("[data-testid='mlops-gate-report']").inner_text()
    # Side by side in a wide panel.
    left = candidate.bounding_box()
    right = champion.bounding_box()
    assert left and right and right["x"] > left["x"] + left["width"] - 1
    # A gate opens to its checks and their numbers.
    candidate.locator("[data-testid='mlops-gate'][data-gate='metrics'] summary").click()
    value = candidate.locator("[data-testid='mlops-gate-check'][data-check='accuracy'] td").nth(1)
    assert value.inner_text() == "0.84"

    _shot(page, SECTION, SECTION_SHOT)

    # The reviewer approves from here (the lab's user did not register v3).
    page.click("[data-testid='mlops-ct-approve']")
    page.fill("[data-testid='mlops-ct-pending'] [data-testid='mlops-reason']", "gates look right")
    page.click("[data-testid='mlops-ct-pending'] [data-testid='mlops-action-submit']")
    page.wait_for_selector("[data-testid='mlops-ct-approved']")
    page.wait_for_selector(
        "[data-testid='mlops-ct-approvals']:has-text('It has its approvals')", timeout=15_000
    )
    page.wait_for_selector(
        "[data-testid='mlops-audit-entry'][data-action='approve'][data-version='3']"
    )


def test_given_loops_when_the_timeline_opens_then_a_loop_shows_its_entries_in_order(page, ct_lab):
    open_ct(page, ct_lab, "churn")
    loops = page.eval_on_selector_all(
        "[data-testid='mlops-ct-loop']", "rows => rows.map(r => r.dataset.loop)"
    )
    assert loops == [ct_lab.ids["waiting"], ct_lab.ids["done"]]

    # The newest loops, newest first, the newest open.
    page.click("[data-testid='mlops-ct-timeline-toggle']")
    page.wait_for_selector(f"{TIMELINE}[data-loaded='true']")
    shown = page.eval_on_selector_all(
        "[data-testid='mlops-timeline-loop']", "els => els.map(e => [e.dataset.loop, e.open])"
    )
    assert shown == [[ct_lab.ids["waiting"], True], [ct_lab.ids["done"], False]]

    # One loop: picked in the list.
    page.click(f"[data-testid='mlops-ct-loop'][data-loop='{ct_lab.ids['done']}']")
    loop = page.wait_for_selector(
        f"[data-testid='mlops-timeline-loop'][data-loop='{ct_lab.ids['done']}'][open]"
    )
    assert page.locator("[data-testid='mlops-timeline-loop']").count() == 1
    assert loop.get_attribute("data-outcome") == "promoted"
    kinds = page.eval_on_selector_all(
        "[data-testid='mlops-timeline-entry']", "els => els.map(e => e.dataset.kind)"
    )
    assert kinds[:4] == ["alert", "triggered", "pipeline_started", "pipeline"]
    assert {"step", "candidates", "decision", "stage"} <= set(kinds)
    assert kinds.count("step") == 2 and kinds.count("pipeline") == 2
    first = page.locator("[data-testid='mlops-timeline-entry']").first.inner_text()
    assert "+0.0 s" in first and "drift" in first and "tenure" in first
    total = page.get_attribute("[data-testid='mlops-timeline-total']", "data-seconds")
    assert total and float(total) > 0
    parts = page.eval_on_selector_all(
        "[data-testid='mlops-timeline-parts'] [data-part]", "els => els.map(e => e.dataset.part)"
    )
    assert parts == ["detection", "pipeline", "gates", "switch"]
    pipeline = page.get_attribute(
        "[data-testid='mlops-timeline-parts'] [data-part='pipeline']", "data-seconds"
    )
    assert pipeline and float(pipeline) > 0.5

    _shot(page, TIMELINE, TIMELINE_SHOT)

    # The pipeline entry opens its run in the run view.
    run = ct_lab.ids["run"]
    page.click(
        f"[data-testid='mlops-timeline-entry'][data-kind='pipeline'] "
        f"[data-testid='mlops-timeline-run'][data-run='{run}'] >> nth=0"
    )
    page.wait_for_selector(f"#jupyter-mlops-run-{run}", state="attached")


def test_given_a_rollout_under_way_then_its_figures_show_and_cancel_ends_it(page, ct_lab):
    open_ct(page, ct_lab, "fraud")
    rollout = page.wait_for_selector(
        f"[data-testid='mlops-ct-rollout'][data-rollout='{ct_lab.ids['rollout']}']"
    )
    assert rollout.get_attribute("data-mode") == "canary"
    assert "10% of requests" in page.inner_text("[data-testid='mlops-ct-rollout-mode']")

    def figure(name: str, arm: str) -> str:
        return page.inner_text(
            f"[data-testid='mlops-ct-rollout-figure'][data-figure='{name}'] [data-arm='{arm}']"
        )

    assert (figure("requests", "candidate"), figure("requests", "champion")) == ("48", "452")
    assert figure("error_rate", "candidate") == "2.08 %"
    assert figure("p95_ms", "champion") == "11.8 ms"
    assert figure("accuracy", "candidate") == "0.833"
    assert page.locator("[data-testid='mlops-ct'][data-policy='no']").count() == 1
    _shot(page, SECTION, Path("/tmp/ct_rollout.png"))

    page.click("[data-testid='mlops-ct-rollout-cancel']")
    page.fill("[data-testid='mlops-ct-rollout'] [data-testid='mlops-reason']", "wrong features")
    page.click("[data-testid='mlops-ct-rollout'] [data-testid='mlops-action-submit']")
    page.wait_for_selector("[data-testid='mlops-ct-rollout']", state="detached")
    page.wait_for_selector(
        "[data-testid='mlops-audit-entry']:has-text('wrong features')", timeout=15_000
    )
