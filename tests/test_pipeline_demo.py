"""The demo pipeline (notebooks/pipeline/) and the pipeline part of `jupyter-mlops demo`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops.cli.demo import run_pipeline_demo
from jupyter_mlops.client import Client
from jupyter_mlops.pipelines import Pipeline

DEMO = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline"


def test_demo_pipeline_validates_with_two_parallel_train_steps() -> None:
    # Given the demo pipeline, When it is loaded and validated, Then the two train steps
    # share a wave between prepare and evaluate (and the promote step, an action).
    pipeline = Pipeline.from_yaml(DEMO / "pipeline.yaml")
    pipeline.validate()
    assert pipeline.order() == [
        ["prepare"],
        ["train_forest", "train_logreg"],
        ["evaluate", "promote"],
    ]
    assert pipeline.step("promote").action == (
        "promote",
        {
            "model": "churn-pipeline",
            "metric": "f1",
            "holdout": "data/test.csv",
            "gates": {
                "target": "churned",
                "metrics": {"f1": {"min": 0.5}},
                "champion": {"metric": "f1"},
            },
        },
    )


@pytest.mark.kernel
def test_pipeline_demo_runs_then_reuses_every_step(
    tmp_path: Path, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a copy of the demo pipeline (its data/ stays out of the checkout)
    folder = tmp_path / "pipeline"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("data", "models", "output"))

    # When the demo runs it twice
    run_pipeline_demo(client, str(folder / "pipeline.yaml"))

    # Then the second run reused all four notebook steps and the evaluation picked a
    # candidate; the promote step ran both times: the first promoted the better model, the
    # second judged again (from the stored reports) and kept it
    out = capsys.readouterr().out
    second = out.split("second run, nothing changed")[1].split("total")[0]
    assert second.count("CACHED") == 4, out
    assert "FAILED" not in out
    production = client.resolve_model_uri("models:/churn-pipeline/Production")
    assert {v.version for v in client.search_model_versions("churn-pipeline")} == {1, 2}
    loops = client.list_ct_loops("churn-pipeline")
    assert [loop.outcome for loop in loops] == ["kept", "promoted"]
    assert loops[1].candidate == production.version
    evaluated = client.search_runs(filter="params.best_model is not null")
    assert len(evaluated) == 1
    run = client.get_run(evaluated[0].id)
    assert run.params["best_model"] in ("logreg", "forest")
    assert run.metrics["test_accuracy"] > 0.8
    assert {"test_accuracy_logreg", "test_accuracy_forest"} <= set(run.metrics)
    assert (folder / "data" / "test.csv").is_file()

    # And a third run from a shell, nothing changed, reuses every step and judges nothing
    # afresh: it records the pipeline run through plain sqlite3, never importing SQLAlchemy
    # (nor papermill or nbformat), and adds no loop to the model's timeline
    probe = (
        "import sys\n"
        "from jupyter_mlops.cli import main\n"
        "try:\n"
        f"    main(['pipelines', 'run', {str(folder / 'pipeline.yaml')!r}, '--format', 'json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ('sqlalchemy', 'papermill', 'nbformat')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
    third = {row["step"]: row for row in json.loads(done.stdout)}
    cached = ["prepare", "train_logreg", "train_forest", "evaluate"]
    assert {name: row["status"] for name, row in third.items()} == {
        **dict.fromkeys(cached, "CACHED"),
        "promote": "FINISHED",
    }
    assert [loop.id for loop in client.list_ct_loops("churn-pipeline")] == [x.id for x in loops]
    # (the whole store reads what sqlite3 wrote)
    promote = client.get_run(client.resolve_run_id(third["promote"]["run_id"]))
    assert promote.info.status == "FINISHED" and promote.info.parent_run_id
    pipeline_run = client.get_run(promote.info.parent_run_id)
    assert pipeline_run.info.status == "FINISHED" and pipeline_run.info.end_time
