"""A registered version's lineage and its model card, end to end: a notebook in a git work tree
trains a model from a CSV file in a real kernel (``%%track``), the model is registered,
validated by its gates, approved and promoted by different people, and the lineage, the card
and the ``lineage`` / ``card`` commands must tell all of it, from the cell to the promotion."""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import nbformat
import pandas as pd
import pytest
from click.testing import CliRunner, Result

import jupyter_mlops as mlops
from jupyter_mlops import registry
from jupyter_mlops.capture import user
from jupyter_mlops.cli.lineage import card, lineage
from jupyter_mlops.client import Client
from jupyter_mlops.exceptions import NotFound
from jupyter_mlops.pipelines.notebook import execute_notebook
from jupyter_mlops.registry.card import card_markdown, model_card_html, model_card_markdown

TRAIN_CELL = (
    "# train churn\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "C = 2.0\n"
    "frame = pd.read_csv('churn.csv')\n"
    "clf = LogisticRegression(C=C).fit(frame[['tenure', 'calls']], frame['churned'])\n"
    "accuracy = clf.score(frame[['tenure', 'calls']], frame['churned'])"
)
INTENDED_USE = "Rank **monthly** subscribers by churn risk for the retention team."
LIMITATIONS = "Trained on one region only. <script>alert('card')</script>"


def _churn_frame(rows: int, seed: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 60, rows)
    calls = rng.integers(0, 10, rows)
    churned = ((calls * 6 - tenure + rng.normal(0, 4, rows)) > 0).astype(int)
    return pd.DataFrame({"tenure": tenure, "calls": calls, "churned": churned})


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=ana", "-c", "user.email=ana@example.org", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@dataclass
class Trained:
    """What the scenario did, to compare the lineage with."""

    home: Path
    client: Client
    notebook: Path
    cell_id: str
    execution_count: int
    commit: str
    data_fingerprint: str
    accuracy: float
    report_sha256: str
    started: int  # ms: before the run
    promoted: int  # ms: after the last move


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """Given a git work tree with uncommitted changes, a notebook whose tracked cell trains a
    LogisticRegression on churn.csv in a real kernel; its model registered by ana as
    churn/1, validated, approved by bob, moved to Staging then Production and aliased
    champion by carol, who then moves champion on to churn/2."""
    work = tmp_path_factory.mktemp("lineage")
    home = work / ".store"
    _churn_frame(200, seed=1).to_csv(work / "churn.csv", index=False)
    (work / "README.md").write_text("churn model\n")
    _git(work, "init", "-q")
    _git(work, "add", "churn.csv", "README.md")
    _git(work, "commit", "-q", "-m", "data")
    commit = _git(work, "rev-parse", "HEAD")
    (work / "README.md").write_text("churn model, being retrained\n")  # tracked and changed

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_mlops\nimport pandas as pd"),
        nbformat.v4.new_code_cell(f"%%track -e churn\n{TRAIN_CELL}"),
    ]
    notebook = work / "train.ipynb"
    nbformat.write(nb, notebook)
    started = int(time.time() * 1000)
    executed = work / "executed.ipynb"
    execute_notebook(notebook, env={"JUPYTER_MLOPS_HOME": str(home)}, output_path=executed)
    [train_cell] = [
        c for c in nbformat.read(executed, as_version=4).cells if c.id == nb.cells[1].id
    ]

    client = Client(home)
    try:
        [run] = client.search_runs(experiment="churn")
        client.register_model(f"runs:/{run.id}/clf", "churn", actor="ana")
        client.register_model(f"runs:/{run.id}/clf", "churn", actor="ana")
        client.update_registered_model(
            "churn",
            description="Who is about to leave.",
            required_approvals=1,
            intended_use=INTENDED_USE,
            limitations=LIMITATIONS,
            actor="ana",
        )
        client.set_model_gates(
            "churn",
            {"stages": ["Production"], "target": "churned", "metrics": {"accuracy": {"min": 0.6}}},
            actor="ana",
        )
        report = registry.validate(client, "churn", 1, holdout=_churn_frame(100, seed=2))
        client.approve_model_version("churn", 1, "looked at the holdout", actor="bob")
        client.transition_model_version_stage("churn", 1, "Staging", reason="try it", actor="carol")
        client.transition_model_version_stage(
            "churn", 1, "Production", reason="beats the rules", actor="carol"
        )
        client.set_model_alias("churn", "champion", 1, actor="carol")
        client.set_model_alias("churn", "champion", 2, reason="retrained", actor="carol")
        promoted = int(time.time() * 1000)
        frame = pd.read_csv(work / "churn.csv")
        accuracy = float(run.metrics["accuracy"])
        assert math.isclose(accuracy, _fit_score(frame))
        yield Trained(
            home=home,
            client=client,
            notebook=notebook,
            cell_id=train_cell.id,
            execution_count=train_cell.execution_count,
            commit=commit,
            data_fingerprint=mlops.fingerprint(work / "churn.csv"),
            accuracy=accuracy,
            report_sha256=report.sha256,
            started=started,
            promoted=promoted,
        )
    finally:
        client.close()


def _fit_score(frame: pd.DataFrame) -> float:
    from sklearn.linear_model import LogisticRegression

    X, y = frame[["tenure", "calls"]], frame["churned"]
    return float(LogisticRegression(C=2.0).fit(X, y).score(X, y))


@pytest.fixture(scope="module")
def lineage_1(trained: Trained) -> dict[str, Any]:
    return trained.client.model_lineage("churn", 1)


# -- the lineage -----------------------------------------------------------------------------


def test_given_a_tracked_cell_then_the_lineage_names_its_notebook_cell_and_source(
    trained, lineage_1
):
    assert lineage_1["notebook"]["path"] == str(trained.notebook.resolve())
    assert lineage_1["notebook"]["cell_id"] == trained.cell_id
    assert lineage_1["notebook"]["source"].strip() == TRAIN_CELL
    # The number the notebook shows for the cell, In [n].
    assert lineage_1["notebook"]["execution_count"] == trained.execution_count
    assert lineage_1["run"]["name"] == "train churn"
    assert lineage_1["run"]["experiment"] == "churn"
    assert lineage_1["run"]["status"] == "FINISHED"


def test_given_a_dirty_work_tree_then_the_lineage_has_its_commit_and_the_dirty_flag(
    trained, lineage_1
):
    assert lineage_1["git"] == {"commit": trained.commit, "dirty": True}


def test_given_a_csv_read_by_the_cell_then_its_fingerprint_is_the_recorded_one(trained, lineage_1):
    [data] = [d for d in lineage_1["inputs"] if d["name"] == "churn.csv"]
    recorded = trained.client.get_dataset(data["id"])
    assert data["fingerprint"] == recorded.fingerprint == trained.data_fingerprint
    assert (data["version"], data["kind"]) == (recorded.version, "file")
    assert data["source"].endswith("churn.csv")
    assert "frame" in {d["name"] for d in lineage_1["outputs"]}


def test_given_the_run_then_params_final_metrics_environment_and_model_are_in_the_lineage(
    trained, lineage_1
):
    assert lineage_1["params"]["C"] == "2.0"
    assert lineage_1["params"]["clf.C"] == "2.0"
    assert lineage_1["metrics"]["accuracy"] == pytest.approx(trained.accuracy)
    env = lineage_1["environment"]
    assert env["python"] and env["platform"] and env["host"]
    assert env["packages"]["pandas"]  # imported before the run started
    model = lineage_1["logged_model"]
    assert model["name"] == "clf" and model["model_class"].endswith("LogisticRegression")
    assert model["sha256"] == lineage_1["version"]["sha256"]
    assert [c["name"] for c in model["signature"]["inputs"]["columns"]] == ["tenure", "calls"]


def test_given_decisions_then_the_lineage_says_who_trained_registered_approved_and_when(
    trained, lineage_1
):
    assert lineage_1["run"]["user"] == user()
    assert trained.started <= lineage_1["run"]["start_time"] <= trained.promoted
    assert lineage_1["version"]["created_by"] == "ana"
    [approval] = lineage_1["approvals"]
    assert (approval["actor"], approval["reason"]) == ("bob", "looked at the holdout")
    assert lineage_1["version"]["created_at"] <= approval["at"] <= trained.promoted
    assert lineage_1["model"]["required_approvals"] == 1
    assert lineage_1["model"]["intended_use"] == INTENDED_USE
    assert lineage_1["model"]["limitations"] == LIMITATIONS


def test_given_stage_and_alias_moves_then_each_is_a_promotion_with_who_when_and_why(
    trained, lineage_1
):
    moves = [
        (m["action"], m["alias"], m["from"], m["to"], m["actor"], m["reason"])
        for m in lineage_1["promotions"]
    ]
    assert moves == [
        ("stage", None, "None", "Staging", "carol", "try it"),
        ("stage", None, "Staging", "Production", "carol", "beats the rules"),
        ("set_alias", "champion", None, "1", "carol", None),
        ("set_alias", "champion", "1", "2", "carol", "retrained"),  # moved away from 1
    ]
    times = [m["at"] for m in lineage_1["promotions"]]
    assert times == sorted(times)
    assert trained.started <= times[0] and times[-1] <= trained.promoted
    into_production = lineage_1["promotions"][1]
    assert into_production["report_sha256"] == trained.report_sha256
    assert into_production["forced"] is None
    assert lineage_1["version"]["stage"] == "Production"
    assert lineage_1["version"]["aliases"] == []
    assert trained.client.model_lineage("churn", 2)["version"]["aliases"] == ["champion"]


def test_given_a_validated_version_then_the_lineage_summarises_its_gate_report(trained, lineage_1):
    report = lineage_1["gate_report"]
    assert report["sha256"] == trained.report_sha256
    assert (report["passed"], report["current"]) == (True, True)
    [gate] = report["gates"]
    assert (gate["gate"], gate["passed"]) == ("metrics", True)
    assert gate["checks"][0]["name"] == "accuracy"
    assert report["holdout"]["rows"] == 100
    assert lineage_1["served"] == []


def test_given_a_version_without_report_then_its_gate_report_is_none(trained):
    assert trained.client.model_lineage("churn", 2)["gate_report"] is None


def test_given_a_forced_move_then_the_promotion_carries_the_override_reason(client):
    run_id = client.create_run("forced", "train")
    client.log_model(run_id, {"weights": [1, 2]}, name="clf")
    client.end_run(run_id)
    client.register_model(f"runs:/{run_id}/clf", "fraud", actor="ana")
    client.update_registered_model("fraud", required_approvals=1, actor="ana")
    client.transition_model_version_stage(
        "fraud", 1, "Production", force=True, reason="incident 42", actor="carol"
    )
    [move] = client.model_lineage("fraud", 1)["promotions"]
    assert (move["to"], move["forced"], move["actor"]) == ("Production", "incident 42", "carol")
    assert "FORCED past its blockers: incident 42" in model_card_markdown(client, "fraud", 1)


def test_given_an_unknown_version_then_lineage_is_not_found(trained):
    with pytest.raises(NotFound):
        trained.client.model_lineage("churn", 9)
    with pytest.raises(NotFound):
        trained.client.model_lineage("nope", 1)


# -- the model card --------------------------------------------------------------------------


SECTIONS = [
    "# Model card: churn version 1",
    "## Model details",
    "## Intended use",
    "## Limitations",
    "## Training data",
    "## Training procedure",
    "## Evaluation",
    "## Approvals and promotions",
    "## Serving",
]


def test_given_a_lineage_then_the_card_has_every_section_in_order(trained):
    text = model_card_markdown(trained.client, "churn", 1)
    at = [text.index(section) for section in SECTIONS]
    assert at == sorted(at)


def test_given_card_fields_written_then_the_card_shows_them_as_written(trained):
    text = model_card_markdown(trained.client, "churn", 1)
    assert INTENDED_USE in text
    assert LIMITATIONS in text
    assert "Not written yet" not in text


def test_given_the_lineage_then_the_card_names_data_procedure_evaluation_and_people(
    trained, lineage_1
):
    text = card_markdown(lineage_1)
    assert trained.data_fingerprint in text
    assert trained.commit in text and "uncommitted changes" in text
    assert trained.cell_id in text and TRAIN_CELL in text
    assert "| `C` | `2.0` |" in text
    assert f"| `accuracy` | {mlops.views.fmt_value(trained.accuracy)} |" in text
    check = lineage_1["gate_report"]["gates"][0]["checks"][0]
    assert f"| accuracy | {mlops.views.fmt_value(check['value'])} |" in text
    assert "**PASSED**" in text and trained.report_sha256[:12] in text
    assert "| bob |" in text and "looked at the holdout" in text
    assert "| carol | stage Staging → Production | beats the rules |" in text
    assert "Registered by | ana" in text and f"Trained by | {user()}" in text
    assert "- `tenure`\n- `calls`" in text and "Classes it predicts: `0`, `1`." in text
    assert "Not served." in text


def test_given_empty_card_fields_then_the_card_asks_for_them(client):
    run_id = client.create_run("plain", "train")
    client.log_model(run_id, {"weights": [1]}, name="clf")
    client.end_run(run_id)
    client.register_model(f"runs:/{run_id}/clf", "plain")
    text = model_card_markdown(client, "plain", 1)
    assert (
        '_Not written yet: set it with `jupyter-mlops models update plain --intended-use "..."`._'
        in text
    )
    assert '`jupyter-mlops models update plain --limitations "..."`' in text
    assert "models validate plain/1" in text


def test_given_recorded_text_with_markdown_then_the_card_escapes_it(client):
    run_id = client.create_run("plain", "**bold** | pipe")
    client.log_model(run_id, {"weights": [1]}, name="clf")
    client.end_run(run_id)
    client.register_model(f"runs:/{run_id}/clf", "plain")
    text = model_card_markdown(client, "plain", 1)
    assert r"\*\*bold\*\* \| pipe" in text
    assert "**bold**" not in text


def test_given_a_card_with_raw_html_then_its_html_escapes_it(trained):
    html = model_card_html(model_card_markdown(trained.client, "churn", 1))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<strong>monthly</strong>" in html  # the user's Markdown is rendered
    assert "<h2>Training data</h2>" in html and "<table>" in html


# -- the commands ----------------------------------------------------------------------------


@click.group()
@click.option("--store")
def root(store: str | None) -> None:
    """Stands for ``jupyter-mlops models``: the commands read ``--store`` from their root."""


root.add_command(lineage)
root.add_command(card)


def cli(trained: Trained, *args: str) -> Result:
    return CliRunner().invoke(root, ["--store", str(trained.home), *args], catch_exceptions=False)


def test_given_card_with_output_then_the_file_holds_the_card(trained, tmp_path):
    target = tmp_path / "card.md"
    result = cli(trained, "card", "churn/1", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8") == model_card_markdown(trained.client, "churn", 1)
    assert [p.name for p in tmp_path.iterdir()] == ["card.md"]  # no temp file left


def test_given_card_without_output_then_it_is_printed(trained):
    result = cli(trained, "card", "churn/1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == model_card_markdown(trained.client, "churn", 1)


def test_given_format_json_then_lineage_prints_the_lineage_as_json(trained, lineage_1):
    result = cli(trained, "lineage", "churn/1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(json.dumps(lineage_1))


def test_given_text_format_then_lineage_prints_each_link_of_the_chain(trained):
    result = cli(trained, "lineage", "churn/1")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for expected in (
        "models:/churn/1   Production",
        f"notebook    {trained.notebook.resolve()}   cell {trained.cell_id}   [",
        f"git         {trained.commit} (dirty: uncommitted changes)",
        trained.data_fingerprint,
        "C = 2.0",
        "bob  looked at the holdout",
        "carol  stage Staging → Production  (beats the rules)",
        "alias champion moved 1 → 2",
        "pass  metrics",
        "not served",
    ):
        assert expected in text, expected


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["lineage", "churn/9"], 1, "no version 9"),
        (["card", "churn/9", "-o", "never.md"], 1, "no version 9"),
        (["lineage", "nope/1"], 1, "nope"),
        (["lineage", "churn"], 2, "NAME/VERSION"),
        (["card", "churn/x"], 2, "version"),
    ],
)
def test_given_a_missing_or_bad_version_then_one_error_line_and_no_traceback(
    trained, tmp_path, monkeypatch, args, code, message
):
    monkeypatch.chdir(tmp_path)
    result = cli(trained, *args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert not (tmp_path / "never.md").exists()
