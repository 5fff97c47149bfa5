"""``jupyter-mlops pipelines ...`` and ``jupyter-mlops scheduler``: run, inspect, schedule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from notebook_helpers import write_notebook

from jupyter_mlops.cli import main
from jupyter_mlops.client import Client
from jupyter_mlops.config import ARTIFACTS_ENV, HOME_ENV, STORE_ENV

PIPELINE_YAML = """\
name: tiny
params:
  rows: 3
steps:
  - name: prepare
    notebook: prepare.ipynb
    parameters: {scale: 2.0}
  - name: train
    notebook: train.ipynb
    upstream: [prepare]
"""

# 'check' fails until the file 'marker' exists beside the pipeline (the kernels run there).
FLAKY_YAML = """\
name: flaky
steps:
  - name: first
    notebook: first.ipynb
  - name: check
    notebook: check.ipynb
    parameters: {n: 2}
    upstream: [first]
  - name: after
    notebook: after.ipynb
    upstream: [check]
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A 2-step pipeline: prepare -> train."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    write_notebook(folder / "prepare.ipynb", "rows = 1\nscale = 1.0", "total = rows * scale")
    write_notebook(folder / "train.ipynb", "rows = 1\nlr = 0.1", "score = rows * lr")
    (folder / "pipeline.yaml").write_text(PIPELINE_YAML)
    return folder / "pipeline.yaml"


@pytest.fixture
def flaky(tmp_path: Path) -> Path:
    """first -> check -> after, where check fails until 'marker' exists."""
    folder = tmp_path / "flaky"
    folder.mkdir()
    write_notebook(folder / "first.ipynb", "n = 1", "value = n + 1")
    write_notebook(
        folder / "check.ipynb",
        "n = 1",
        "x = n * 2",
        "import os\nif not os.path.exists('marker'):\n    raise RuntimeError('no marker yet')",
    )
    write_notebook(folder / "after.ipynb", "n = 1", "done = True")
    (folder / "pipeline.yaml").write_text(FLAKY_YAML)
    return folder / "pipeline.yaml"


def cli(store: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--store", str(store), *args], catch_exceptions=False)


def ok(store: Path, *args: str) -> str:
    result = cli(store, *args)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def table(text: str) -> dict[str, list[str]]:
    """Rows of a table (after its header and dashes), by their first column."""
    lines = text.splitlines()
    dashes = next(i for i, line in enumerate(lines) if line and set(line.replace(" ", "")) == {"-"})
    rows = [line for line in lines[dashes + 1 :] if line.strip()]
    return {line.split()[0]: line.split() for line in rows if not line.startswith("pipeline run")}


def pipeline_runs(store: Path, *args: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads(
        ok(store, "pipelines", "runs", "--format", "json", *args)
    )
    return runs


def steps_of(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in run["steps"]}


# -- validate --------------------------------------------------------------------------------


def test_given_a_valid_pipeline_when_validated_then_its_order_is_printed(
    store_dir: Path, tiny: Path
) -> None:
    out = ok(store_dir, "pipelines", "validate", str(tiny))

    assert out.strip() == "tiny: 2 steps, valid: prepare -> train"


def test_given_a_broken_pipeline_when_validated_then_exit_2_and_one_line_per_problem(
    store_dir: Path, tiny: Path
) -> None:
    broken = tiny.parent / "broken.yaml"
    broken.write_text(
        "name: broken\n"
        "steps:\n"
        "  - name: prepare\n"
        "    notebook: prepare.ipynb\n"
        "    upstream: [ghost]\n"
        "    parameters: {epochs: 3}\n"
        "  - name: train\n"
        "    notebook: missing.ipynb\n"
        "    upstream: [prepare]\n"
    )

    result = cli(store_dir, "pipelines", "validate", str(broken))

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("Error: ")
    text = result.stderr
    assert "'prepare'" in text and "ghost" in text
    assert "'epochs'" in text
    assert "missing.ipynb" in text and "'train'" in text
    # Each problem on its own line: three problems, each line names its step.
    problem_lines = [line for line in lines if "step '" in line]
    assert len(problem_lines) == 3, lines
    assert sum("ghost" in line for line in problem_lines) == 1
    assert sum("epochs" in line for line in problem_lines) == 1
    assert sum("missing.ipynb" in line for line in problem_lines) == 1


def test_given_no_such_file_when_validated_then_exit_1(store_dir: Path, tmp_path: Path) -> None:
    result = cli(store_dir, "pipelines", "validate", str(tmp_path / "nope.yaml"))

    assert result.exit_code == 1
    assert "nope.yaml" in result.stderr and "Traceback" not in result.stderr


# -- run -------------------------------------------------------------------------------------


@pytest.mark.kernel
def test_given_a_pipeline_when_run_twice_then_finished_then_reused_from_the_cache(
    store_dir: Path, tiny: Path, client: Client
) -> None:
    out = ok(store_dir, "pipelines", "run", str(tiny), "--no-progress")

    rows = table(out)
    assert set(rows) == {"prepare", "train"}, out
    assert rows["prepare"][1] == "FINISHED" and rows["train"][1] == "FINISHED"
    assert "FINISHED in" in out.splitlines()[-1]
    [first] = pipeline_runs(store_dir, str(tiny))
    assert first["status"] == "FINISHED"
    first_steps = steps_of(first)

    again = ok(store_dir, "pipelines", "run", str(tiny), "--no-progress")

    rows = table(again)
    for name in ("prepare", "train"):
        assert rows[name][1] == "CACHED", again
        line = " ".join(rows[name])
        assert f"reused {first_steps[name]['run_id'][:8]}" in line, again
    second = pipeline_runs(store_dir, str(tiny))[0]
    assert {s["status"] for s in second["steps"]} == {"CACHED"}

    # -p changes a pipeline parameter: every step that declares it runs again with it.
    changed = ok(store_dir, "pipelines", "run", str(tiny), "-p", "rows=5", "--no-progress")
    rows = table(changed)
    assert rows["prepare"][1] == "FINISHED" and rows["train"][1] == "FINISHED", changed
    latest = pipeline_runs(store_dir, str(tiny))[0]
    assert latest["params"] == {"rows": "5"}
    prepare = client.get_run(steps_of(latest)["prepare"]["run_id"])
    assert prepare.params["rows"] == "5" and prepare.params["scale"] == "2.0"
    assert client.get_run(steps_of(latest)["train"]["run_id"]).params["rows"] == "5"
    assert client.get_run(first_steps["prepare"]["run_id"]).params["rows"] == "3"

    # --force runs every step although nothing changed.
    forced = ok(store_dir, "pipelines", "run", str(tiny), "--force", "--no-progress")
    rows = table(forced)
    assert rows["prepare"][1] == "FINISHED" and rows["train"][1] == "FINISHED", forced

    # The history: newest first, one line per run.
    listed = ok(store_dir, "pipelines", "runs", str(tiny))
    runs = pipeline_runs(store_dir, str(tiny))
    assert len(runs) == 4
    assert [r["run_id"][:8] for r in runs] == list(table(listed))
    assert table(listed)[runs[1]["run_id"][:8]][-2:] == ["prepare:FINISHED", "train:FINISHED"]
    assert "prepare:CACHED train:CACHED" in listed
    assert len(pipeline_runs(store_dir, str(tiny), "--limit", "2")) == 2
    assert len(pipeline_runs(store_dir)) == 4  # all pipelines

    shown = ok(store_dir, "pipelines", "show", second["run_id"][:8])
    assert shown.splitlines()[0].startswith(f"tiny run {second['run_id'][:8]}: FINISHED (manual,")
    assert table(shown)["prepare"][1] == "CACHED" and "reused" in shown
    [as_json] = json.loads(ok(store_dir, "pipelines", "show", second["run_id"], "--format", "json"))
    assert as_json["run_id"] == second["run_id"]
    assert [s["status"] for s in as_json["steps"]] == ["CACHED", "CACHED"]
    assert as_json["steps"][0]["cached_from"] == first_steps["prepare"]["run_id"]


@pytest.mark.kernel
def test_given_a_failing_step_when_run_then_exit_1_traceback_and_resume_after_the_fix(
    store_dir: Path, flaky: Path, client: Client
) -> None:
    result = cli(store_dir, "pipelines", "run", str(flaky), "--no-progress")

    assert result.exit_code == 1, (result.stdout, result.stderr)
    rows = table(result.stdout)
    assert rows["first"][1] == "FINISHED"
    assert rows["check"][1] == "FAILED"
    assert "cell 3: RuntimeError: no marker yet" in " ".join(rows["check"])
    assert rows["after"][1] == "SKIPPED"
    assert "FAILED in" in result.stdout.splitlines()[-1]
    assert "RuntimeError" in result.stderr and "no marker yet" in result.stderr
    [failed] = pipeline_runs(store_dir, str(flaky))
    assert failed["status"] == "FAILED"
    assert steps_of(failed)["after"]["status"] == "SKIPPED"
    shown = ok(store_dir, "pipelines", "show", failed["run_id"])
    assert "FAILED" in shown.splitlines()[0]
    assert "no marker yet" in table(shown)["check"][-1] or "no marker yet" in shown

    (flaky.parent / "marker").touch()
    resumed = ok(store_dir, "pipelines", "run", str(flaky), "--resume", "--no-progress")

    rows = table(resumed)
    assert rows["first"][1] == "CACHED"
    assert rows["check"][1] == "FINISHED" and rows["after"][1] == "FINISHED", resumed
    latest = pipeline_runs(store_dir, str(flaky))[0]
    assert latest["status"] == "FINISHED" and latest["run_id"] != failed["run_id"]
    parent = client.get_run(latest["run_id"])
    assert parent.tags["mlops.resumed_from"] == failed["run_id"]
    # Nothing is left to resume.
    again = cli(store_dir, "pipelines", "run", str(flaky), "--resume", "--no-progress")
    assert again.exit_code == 2 and again.stderr.startswith("Error: ")


def test_given_bad_options_when_running_then_exit_2_without_a_kernel(
    store_dir: Path, tiny: Path
) -> None:
    for args, words in (
        (["-p", "epochs=3"], ["epochs"]),
        (["-p", "rows=many"], ["'rows'", "int"]),
        (["-p", "noequals"], ["name=value"]),
        (["--params-json", "[1]"], ["JSON object"]),
        (["--force", "--resume"], ["at most one"]),
    ):
        result = cli(store_dir, "pipelines", "run", str(tiny), "--no-progress", *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
        for word in words:
            assert word in result.stderr, (args, result.stderr)
    assert pipeline_runs(store_dir) == []
    nothing = cli(store_dir, "pipelines", "run", str(tiny), "--resume", "--no-progress")
    assert nothing.exit_code == 1 and "no run to resume" in nothing.stderr


def test_given_a_run_that_is_not_a_pipeline_run_when_shown_then_exit_2(
    store_dir: Path, client: Client
) -> None:
    plain = client.create_run("exp", "plain")
    client.end_run(plain)

    result = cli(store_dir, "pipelines", "show", plain)

    assert result.exit_code == 2 and "not a pipeline run" in result.stderr
    assert cli(store_dir, "pipelines", "show", "ffffffff").exit_code == 1
    assert ok(store_dir, "pipelines", "runs").strip() == "(none)"


# -- schedules -------------------------------------------------------------------------------


def schedules(store: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(store, "pipelines", "schedules", "--format", "json"))
    return rows


def test_given_a_cron_schedule_when_managed_from_the_cli_then_listed_toggled_and_deleted(
    store_dir: Path, tiny: Path
) -> None:
    out = ok(
        store_dir, "pipelines", "schedule", str(tiny), "0 3 * * *", "--timezone", "Europe/Paris"
    )

    assert "0 3 * * * (Europe/Paris)" in out and "tiny" in out
    [row] = schedules(store_dir)
    assert row["kind"] == "cron" and row["cron"] == "0 3 * * *"
    assert row["timezone"] == "Europe/Paris" and row["enabled"] is True
    assert row["path"] == str(tiny.resolve()) and row["pipeline"] == "tiny"
    assert row["missed"] == "skip" and row["params"] == {}
    fire = datetime.fromtimestamp(row["next_run_time"] / 1000, ZoneInfo("Europe/Paris"))
    assert (fire.hour, fire.minute) == (3, 0)
    assert row["id"][:8] in table(out)
    listed = ok(store_dir, "pipelines", "schedules")
    assert table(listed)[row["id"][:8]][1] == "tiny"

    disabled = ok(store_dir, "pipelines", "disable", row["id"][:8])
    assert "False" in table(disabled)[row["id"][:8]]
    [row2] = schedules(store_dir)
    assert row2["enabled"] is False and row2["next_run_time"] is None

    enabled = ok(store_dir, "pipelines", "enable", row["id"][:6])
    assert "True" in table(enabled)[row["id"][:8]]
    [row3] = schedules(store_dir)
    assert row3["enabled"] is True and row3["next_run_time"] is not None

    deleted = ok(store_dir, "pipelines", "unschedule", row["id"][:8])
    assert deleted.strip() == f"deleted schedule {row['id'][:8]}"
    assert schedules(store_dir) == []
    assert ok(store_dir, "pipelines", "schedules").strip() == "(none)"
    gone = cli(store_dir, "pipelines", "unschedule", row["id"][:8])
    assert gone.exit_code == 1 and "No schedule" in gone.stderr


def test_given_a_dataset_trigger_when_scheduled_then_an_event_schedule_with_params(
    store_dir: Path, tiny: Path
) -> None:
    out = ok(store_dir, "pipelines", "schedule", str(tiny), "--dataset", "train", "-p", "rows=7")

    assert "new version of dataset train" in out
    [row] = schedules(store_dir)
    assert row["kind"] == "event" and row["event"]["key"] == "train"
    assert row["cron"] is None and row["next_run_time"] is None
    assert row["params"] == {"rows": 7}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["not cron"], ["cron", "5 fields"]),
        (["61 3 * * *"], ["invalid cron"]),
        (["0 3 * * *", "--timezone", "Mars/Olympus"], ["unknown timezone", "Mars/Olympus"]),
        (["0 3 * * *", "--dataset", "train"], ["not both"]),
        ([], ["cron", "dataset"]),
        (["0 3 * * *", "-p", "epochs=1"], ["epochs"]),
    ],
)
def test_given_a_bad_schedule_when_created_then_exit_2_and_one_error_line(
    store_dir: Path, tiny: Path, args: list[str], words: list[str]
) -> None:
    result = cli(store_dir, "pipelines", "schedule", str(tiny), *args)

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    for word in words:
        assert word in lines[0], lines
    assert schedules(store_dir) == []


def test_given_a_missing_pipeline_file_when_scheduled_then_usage_error(
    store_dir: Path, tmp_path: Path
) -> None:
    result = cli(store_dir, "pipelines", "schedule", str(tmp_path / "nope.yaml"), "0 3 * * *")

    assert result.exit_code == 2 and "nope.yaml" in result.stderr


# -- the standalone scheduler ----------------------------------------------------------------


def test_given_nothing_due_when_the_scheduler_runs_once_then_it_fires_nothing_and_exits_0(
    store_dir: Path, tiny: Path, tmp_path: Path
) -> None:
    ok(store_dir, "pipelines", "schedule", str(tiny), "0 3 * * *")
    env = {k: v for k, v in os.environ.items() if k not in (STORE_ENV, ARTIFACTS_ENV, HOME_ENV)}

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_mlops.cli",
            "--store",
            str(store_dir),
            "scheduler",
            "--once",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, (done.stdout, done.stderr)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("scheduler ") and str(store_dir.resolve()) in lines[0]
    assert not any(line.startswith("started ") for line in lines), lines
    assert "Traceback" not in done.stderr
    # It let the lease go: a second one-shot scheduler leads at once.
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_mlops.cli",
            "--store",
            str(store_dir),
            "scheduler",
            "--once",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0
    assert "another scheduler holds the lease" not in again.stdout
    [row] = schedules(store_dir)
    assert row["last_run_id"] is None
