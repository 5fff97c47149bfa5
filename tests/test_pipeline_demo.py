"""The demo pipeline (notebooks/pipeline/) and the pipeline part of `jupyter-mlops demo`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jupyter_mlops.cli.demo import run_pipeline_demo
from jupyter_mlops.client import Client
from jupyter_mlops.pipelines import Pipeline

DEMO = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline"


def test_demo_pipeline_validates_with_two_parallel_train_steps() -> None:
    # Given the demo pipeline, When it is loaded and validated, Then the two train steps
    # share a wave between prepare and evaluate.
    pipeline = Pipeline.from_yaml(DEMO / "pipeline.yaml")
    pipeline.validate()
    assert pipeline.order() == [["prepare"], ["train_forest", "train_logreg"], ["evaluate"]]


@pytest.mark.kernel
def test_pipeline_demo_runs_then_reuses_every_step(
    tmp_path: Path, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a copy of the demo pipeline (its data/ stays out of the checkout)
    folder = tmp_path / "pipeline"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("data", "models", "output"))

    # When the demo runs it twice
    run_pipeline_demo(client, str(folder / "pipeline.yaml"))

    # Then the second run reused all four steps and the evaluation picked a candidate
    out = capsys.readouterr().out
    second = out.split("second run, nothing changed")[1].split("total")[0]
    assert second.count("CACHED") == 4, out
    assert "FAILED" not in out
    evaluated = client.search_runs(filter="params.best_model is not null")
    assert len(evaluated) == 1
    run = client.get_run(evaluated[0].id)
    assert run.params["best_model"] in ("logreg", "forest")
    assert run.metrics["test_accuracy"] > 0.8
    assert {"test_accuracy_logreg", "test_accuracy_forest"} <= set(run.metrics)
    assert (folder / "data" / "test.csv").is_file()
