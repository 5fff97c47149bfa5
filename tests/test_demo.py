"""The notebook and registry parts of `jupyter-mlops demo`: the demo notebook runs in a real
kernel, then the better of its models is registered, validated on the holdout file the
notebook wrote, promoted, and its lineage and card printed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jupyter_mlops.cli.demo import DEMO_MODEL, run_demo, run_registry_demo, run_serving_demo
from jupyter_mlops.client import Client

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "demo.ipynb"


@pytest.mark.kernel
def test_demo_registers_the_best_model_validates_promotes_and_prints_lineage_and_card(
    tmp_path: Path, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a copy of the demo notebook (the tables it writes stay out of the checkout)
    notebook = tmp_path / "demo.ipynb"
    shutil.copy(NOTEBOOK, notebook)

    # When the notebook part, then the registry part of the demo run
    runs = run_demo(client, str(notebook))
    run_registry_demo(client, runs)

    # Then the model with the best AUC is in Production as the champion, on a passing report
    out = capsys.readouterr().out
    scored = [client.get_run(r.id) for r in runs]
    best = max((r for r in scored if "auc" in r.metrics), key=lambda r: r.metrics["auc"])
    champion = client.resolve_model_uri(f"models:/{DEMO_MODEL}@champion")
    assert champion.run_id == best.id and champion.stage == "Production"
    report = client.reusable_gate_report(DEMO_MODEL, champion.version)
    assert report is not None and report.passed
    assert report.report["holdout"]["ref"] == "holdout.csv@1"
    assert {g["gate"] for g in report.gates} == {
        "metrics",
        "champion",
        "robustness",
        "latency",
        "fairness",
    }
    # and the runner-up was judged against it, and the lineage and card were printed
    runner_up = client.get_gate_reports(DEMO_MODEL, champion.version + 1)[0]
    assert "champion" not in runner_up.failed or "significantly worse" in out
    assert f"lineage of models:/{DEMO_MODEL}/{champion.version}" in out
    assert f"# Model card: {DEMO_MODEL} version {champion.version}" in out
    assert str(notebook) in out  # the lineage names the notebook the model came from

    # When the serving part runs, Then the champion answered, was labelled and recorded
    run_serving_demo(client, requests=20)
    out = capsys.readouterr().out
    assert "20 one-row requests to POST /invocations" in out
    assert "POST /feedback: 20 labels" in out
    (server,) = client.list_model_servers(DEMO_MODEL, active_only=False)
    assert server.status == "STOPPED" and server.version == champion.version
    assert client.read_predictions(DEMO_MODEL).num_rows == 20
    assert "recorded: 20 predictions" in out
    # and monitoring checked that traffic against the reference %%track built for it
    assert "20 rows against the reference of version" in out
    assert "accuracy from labels" in out and "estimated without labels" in out


@pytest.mark.kernel
def test_registry_notebook_runs_and_leaves_a_champion_and_a_refused_challenger(
    tmp_path: Path, client: Client
) -> None:
    # Given a copy of the registry notebook, When it runs in a real kernel on the store
    notebook = tmp_path / "registry.ipynb"
    shutil.copy(NOTEBOOK.parent / "registry.ipynb", notebook)
    from jupyter_mlops.config import store_env
    from jupyter_mlops.pipelines.notebook import execute_notebook

    execute_notebook(notebook, output_path=tmp_path / "out.ipynb", env=store_env(client.location))

    # Then the forest is the champion in Production, the logistic regression was refused
    champion = client.resolve_model_uri("models:/churn@champion")
    assert champion.stage == "Production" and champion.description == "random forest"
    challenger = client.get_model_version("churn", champion.version + 1)
    assert challenger.stage == "None"
    assert client.get_gate_reports("churn", challenger.version)[0].failed == ["champion"]
    out = (tmp_path / "out.ipynb").read_text()
    assert "may not enter Production: gate champion failed" in out
    assert "# Model card: churn version 1" in out
    # and the champion was served over HTTP, recorded, and stopped
    (server,) = client.list_model_servers("churn", active_only=False)
    assert server.status == "STOPPED" and server.ref == "@champion"
    # (20 rows, then a calm batch of 300 and a batch of 300 with f1 shifted)
    assert client.read_predictions("churn").num_rows == 620
    # and the monitoring dashboard found f1 drifted in the second window only
    assert "reference of version 1" in out
    text = next(
        "".join(o["data"]["text/plain"])
        for c in json.loads(out)["cells"]
        for o in c.get("outputs", [])
        if "History (oldest first)" in "".join(o.get("data", {}).get("text/plain", ""))
    )
    history = text.split("History (oldest first):")[1].splitlines()[2:4]
    assert [row.split()[3] for row in history] == ["0/9", "1/9"], text
