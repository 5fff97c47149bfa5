"""The ``jupyter-mlops`` command line, in process (CliRunner) and as real executables."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from jupyter_mlops.cli import main
from jupyter_mlops.client import Client

BIN = Path(sys.executable).parent


@dataclass
class Seeded:
    """Four runs in two experiments (ids a, b, c, d) and the store they live in."""

    store: Path
    client: Client
    a: str  # churn/rf-baseline: rf, 100 trees, acc 0.81, loss NaN, stage dev, writes features
    b: str  # churn/rf-tuned: rf, 300 trees, acc 0.92, loss 0.2, stage prod, reads features
    c: str  # vision/cnn: cnn, acc 0.75, stage dev, FAILED
    d: str  # vision/cnn-big: cnn, acc 0.88, loss 0.3, stage staging

    @property
    def ids(self) -> set[str]:
        return {self.a, self.b, self.c, self.d}


@pytest.fixture
def seeded(store_dir: Path, client: Client, tmp_path: Path) -> Seeded:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, 5.0, 6.0]})

    a = client.create_run("churn", "rf-baseline", tags={"stage": "dev"})
    client.log_params(a, {"model": "rf", "n_estimators": 100})
    client.log_metrics(a, {"acc": 0.81, "loss": math.nan})
    client.log_dataset(a, frame, "features", role="output")
    client.end_run(a)

    b = client.create_run("churn", "rf-tuned", tags={"stage": "prod"})
    client.log_params(b, {"model": "rf", "n_estimators": 300})
    client.log_metrics(b, {"acc": 0.92, "loss": 0.2})
    client.log_dataset(b, frame, "features", role="input")
    report = tmp_path / "report.txt"
    report.write_text("accuracy report\n")
    client.log_artifact(b, report)
    client.end_run(b)

    c = client.create_run("vision", "cnn", tags={"stage": "dev"})
    client.log_params(c, {"model": "cnn"})
    client.log_metrics(c, {"acc": 0.75})
    client.end_run(c, "FAILED")

    d = client.create_run("vision", "cnn-big", tags={"stage": "staging"})
    client.log_params(d, {"model": "cnn", "lr": 0.01})
    client.log_metrics(d, {"acc": 0.88, "loss": 0.3})
    client.end_run(d)
    return Seeded(store_dir, client, a, b, c, d)


def cli(seeded: Seeded, *args: str) -> Result:
    """Run the CLI in process on the seeded store."""
    return CliRunner().invoke(main, ["--store", str(seeded.store), *args], catch_exceptions=False)


def ok(seeded: Seeded, *args: str) -> str:
    result = cli(seeded, *args)
    assert result.exit_code == 0, (result.exit_code, result.output, result.stderr)
    return result.stdout


def listed_ids(seeded: Seeded, *args: str) -> list[str]:
    rows = json.loads(ok(seeded, "runs", "list", "--format", "json", *args))
    return [row["run_id"] for row in rows]


def table_lines(text: str) -> list[str]:
    """The data rows of a table (after the header and its dashes)."""
    lines = text.splitlines()
    assert set(lines[1].replace(" ", "")) == {"-"}, lines[:2]
    return lines[2:]


# runs list ------------------------------------------------------------------------------------
def test_given_seeded_store_when_runs_list_then_table_shows_every_run(seeded: Seeded) -> None:
    out = ok(seeded, "runs", "list")

    header = out.splitlines()[0].split()
    assert header[:7] == ["run_id", "experiment", "name", "status", "start", "duration", "user"]
    assert "params.n_estimators" in header and "metrics.acc" in header
    rows = table_lines(out)
    assert len(rows) == 4
    for run_id in seeded.ids:
        assert sum(row.startswith(run_id[:8]) for row in rows) == 1
    (baseline,) = [row for row in rows if row.startswith(seeded.a[:8])]
    assert "rf-baseline" in baseline and "FINISHED" in baseline and "nan" in baseline
    (failed,) = [row for row in rows if row.startswith(seeded.c[:8])]
    assert "FAILED" in failed


def test_given_seeded_store_when_runs_list_as_json_then_it_parses_with_every_run(
    seeded: Seeded,
) -> None:
    rows = json.loads(ok(seeded, "runs", "list", "--format", "json"))

    by_id = {row["run_id"]: row for row in rows}
    assert set(by_id) == seeded.ids
    a = by_id[seeded.a]
    assert a["experiment"] == "churn" and a["name"] == "rf-baseline"
    assert a["status"] == "FINISHED"
    assert a["params.model"] == "rf" and a["params.n_estimators"] == "100"
    assert a["metrics.acc"] == 0.81
    assert str(a["metrics.loss"]).lower() == "nan"  # NaN is not JSON: it is written as text
    assert by_id[seeded.c]["metrics.loss"] is None
    assert by_id[seeded.c]["status"] == "FAILED"


def test_given_seeded_store_when_runs_list_as_csv_then_one_row_per_run(seeded: Seeded) -> None:
    rows = list(csv.DictReader(io.StringIO(ok(seeded, "runs", "list", "--format", "csv"))))

    by_id = {row["run_id"]: row for row in rows}
    assert set(by_id) == seeded.ids
    assert by_id[seeded.b]["metrics.acc"] == "0.92"
    assert by_id[seeded.b]["params.n_estimators"] == "300"
    assert by_id[seeded.a]["metrics.loss"].lower() == "nan"
    assert by_id[seeded.d]["params.lr"] == "0.01"
    assert by_id[seeded.c]["params.lr"] == ""


def test_given_column_options_when_runs_list_then_only_those_columns(seeded: Seeded) -> None:
    out = ok(seeded, "runs", "list", "--params", "model", "--metrics", "acc", "--format", "csv")

    reader = csv.DictReader(io.StringIO(out))
    assert reader.fieldnames is not None
    assert [f for f in reader.fieldnames if "." in f] == ["params.model", "metrics.acc"]
    assert {row["run_id"]: row["metrics.acc"] for row in reader}[seeded.d] == "0.88"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("params.model = 'rf' and metrics.acc > 0.85", "b"),
        ("params.model = 'cnn' or tags.stage = 'prod'", "bcd"),
        ("(params.model = 'rf' or name like 'cnn-%') and metrics.acc > 0.85", "bd"),
        ("params.model = 'rf' or (name like 'cnn-%' and metrics.acc > 0.85)", "abd"),
        ("tags.stage in ('prod', 'staging')", "bd"),
        ("name like 'rf-%'", "ab"),
        ("status = 'FAILED' or experiment = 'churn' and params.n_estimators > 200", "bc"),
        ("not (tags.stage = 'dev')", "bd"),
        ("metrics.loss = nan", "a"),
    ],
)
def test_given_filter_when_runs_list_then_only_matching_runs(
    seeded: Seeded, expression: str, expected: str
) -> None:
    ids = listed_ids(seeded, "-f", expression)

    assert sorted(ids) == sorted(getattr(seeded, letter) for letter in expected)


def test_given_order_by_metric_desc_when_runs_list_then_runs_are_sorted(seeded: Seeded) -> None:
    ids = listed_ids(seeded, "-o", "metrics.acc DESC")

    assert ids == [seeded.b, seeded.d, seeded.a, seeded.c]


def test_given_limit_and_offset_when_runs_list_then_that_page(seeded: Seeded) -> None:
    ids = listed_ids(seeded, "-o", "metrics.acc DESC", "--limit", "2", "--offset", "1")
    assert ids == [seeded.d, seeded.a]

    table = ok(seeded, "runs", "list", "-o", "metrics.acc DESC", "-n", "2")
    assert [row[:8] for row in table_lines(table)[:2]] == [seeded.b[:8], seeded.d[:8]]
    assert "(2 of 4 runs" in table


@pytest.mark.parametrize(
    "expression",
    ["metrics.acc >", "metrics.acc > 0.9 and (params.model = 'rf'", "params.model = = 'rf'"],
)
def test_given_malformed_filter_when_runs_list_then_exit_2_and_one_line_error(
    seeded: Seeded, expression: str
) -> None:
    result = cli(seeded, "runs", "list", "-f", expression)

    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "column" in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


# runs show / compare --------------------------------------------------------------------------
def test_given_id_prefix_when_runs_show_then_everything_about_the_run(seeded: Seeded) -> None:
    out = ok(seeded, "runs", "show", seeded.b[:6])

    assert f"run        {seeded.b}" in out
    assert "rf-tuned" in out and "churn" in out and "FINISHED" in out
    assert "n_estimators = 300" in out
    assert "acc = 0.92" in out
    assert "stage = prod" in out
    assert "inputs:" in out and "features v1" in out
    assert "artifacts:" in out and "report.txt" in out


def test_given_run_with_nan_when_runs_show_as_json_then_it_parses(seeded: Seeded) -> None:
    data = json.loads(ok(seeded, "runs", "show", seeded.a[:10], "--format", "json"))

    assert data["info"]["id"] == seeded.a
    assert data["info"]["experiment_name"] == "churn"
    assert data["params"] == {"model": "rf", "n_estimators": "100"}
    assert data["metrics"]["acc"] == 0.81
    assert str(data["metrics"]["loss"]).lower() == "nan"
    assert data["tags"] == {"stage": "dev"}
    assert [d["name"] for d in data["outputs"]] == ["features"]
    assert data["inputs"] == []


@pytest.mark.parametrize("run_id", ["0" * 32, "0123abc", "not-hex"])
def test_given_unknown_run_when_runs_show_then_exit_1_and_clear_message(
    seeded: Seeded, run_id: str
) -> None:
    result = cli(seeded, "runs", "show", run_id)

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No run with id")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_given_two_runs_when_compare_then_table_marks_differing_fields(seeded: Seeded) -> None:
    out = ok(seeded, "runs", "compare", seeded.a, seeded.b[:8])

    header = out.splitlines()[0].split()
    assert header == ["field", seeded.a[:8], seeded.b[:8], "differs"]
    rows = {line.split()[0]: line for line in table_lines(out)}
    for field in ("name", "params.n_estimators", "metrics.acc", "metrics.loss"):
        assert rows[field].rstrip().endswith("*"), rows[field]
    for field in ("status", "params.model"):
        assert not rows[field].rstrip().endswith("*"), rows[field]
    assert "inputs.features" in rows and "outputs.features" in rows


def test_given_two_runs_when_compare_as_json_then_differs_is_a_boolean(seeded: Seeded) -> None:
    rows = json.loads(ok(seeded, "runs", "compare", seeded.a, seeded.b, "--format", "json"))

    by_field = {row["field"]: row for row in rows}
    assert by_field["params.n_estimators"] == {
        "field": "params.n_estimators",
        seeded.a[:8]: "100",
        seeded.b[:8]: "300",
        "differs": True,
    }
    assert by_field["params.model"]["differs"] is False
    assert by_field["status"]["differs"] is False
    assert by_field["metrics.acc"]["differs"] is True


# experiments / data ---------------------------------------------------------------------------
def test_given_two_experiments_when_listed_then_all_formats_agree(seeded: Seeded) -> None:
    table = ok(seeded, "experiments")
    rows = {line.split()[1]: line.split() for line in table_lines(table)}
    assert rows["churn"][2] == "2" and rows["vision"][2] == "2"

    as_json = json.loads(ok(seeded, "experiments", "--format", "json"))
    assert {(e["name"], e["runs"]) for e in as_json} == {("churn", 2), ("vision", 2)}

    as_csv = list(csv.DictReader(io.StringIO(ok(seeded, "experiments", "--format", "csv"))))
    assert {(e["name"], e["runs"]) for e in as_csv} == {("churn", "2"), ("vision", "2")}


def test_given_logged_dataset_when_data_then_its_version_is_listed(seeded: Seeded) -> None:
    table = ok(seeded, "data")
    (row,) = table_lines(table)
    assert "features" in row and "dataframe" in row and "3×2" in row

    (version,) = json.loads(ok(seeded, "data", "--format", "json"))
    assert version["name"] == "features" and version["version"] == 1
    assert version["fingerprint"].startswith("xxh3-128:")
    assert json.loads(ok(seeded, "data", "--name", "nothing", "--format", "json")) == []


def test_given_dataset_written_and_read_when_lineage_then_producer_and_consumer(
    seeded: Seeded,
) -> None:
    text = ok(seeded, "data", "lineage", "features")
    produced, used = text.split("used by:")
    assert "produced by:" in produced
    assert seeded.a[:8] in produced and "churn/rf-baseline" in produced
    assert seeded.b[:8] in used and "churn/rf-tuned" in used

    lineage = json.loads(ok(seeded, "data", "lineage", "features@1", "--format", "json"))
    assert lineage["dataset"]["name"] == "features"
    assert [e["run_id"] for e in lineage["produced_by"]] == [seeded.a]
    assert [e["run_id"] for e in lineage["used_by"]] == [seeded.b]
    assert lineage["used_by"][0]["status"] == "FINISHED"


def test_given_unknown_dataset_when_lineage_then_exit_1(seeded: Seeded) -> None:
    result = cli(seeded, "data", "lineage", "no-such-data")

    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No dataset version")


# gc / export / info / version -----------------------------------------------------------------
def test_given_unreferenced_blob_when_gc_then_dry_run_reports_and_gc_deletes_only_it(
    seeded: Seeded,
) -> None:
    orphan = b"bytes no run refers to"
    sha, size = seeded.client.artifacts.put_bytes(orphan)
    (kept,) = seeded.client.get_run(seeded.b).artifacts

    dry = ok(seeded, "gc", "--dry-run")
    assert f"would delete 1 unreferenced blob(s), {size} bytes" in dry
    assert seeded.client.artifacts.exists(sha)

    done = ok(seeded, "gc")
    assert f"deleted 1 unreferenced blob(s), {size} bytes" in done
    assert not seeded.client.artifacts.exists(sha)
    assert seeded.client.artifacts.exists(kept.sha256)
    assert seeded.client.read_artifact(seeded.b, "report.txt") == b"accuracy report\n"

    again = ok(seeded, "gc", "--dry-run")
    assert "would delete 0 unreferenced blob(s), 0 bytes" in again


def test_given_runs_when_exported_to_csv_file_then_every_run_is_a_row(
    seeded: Seeded, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "runs.csv"
    target.parent.mkdir()

    result = cli(seeded, "export", "--format", "csv", "-O", str(target))

    assert result.exit_code == 0, result.stderr
    assert "exported 4 run(s)" in result.stderr
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert {row["run_id"] for row in rows} == seeded.ids
    by_id = {row["run_id"]: row for row in rows}
    assert by_id[seeded.b]["params.n_estimators"] == "300"
    assert by_id[seeded.d]["metrics.loss"] == "0.3"


def test_given_runs_when_exported_as_json_to_stdout_then_every_run_is_present(
    seeded: Seeded,
) -> None:
    rows = json.loads(ok(seeded, "export", "--format", "json"))

    assert {row["run_id"] for row in rows} == seeded.ids
    assert {row["experiment"] for row in rows} == {"churn", "vision"}

    filtered = json.loads(ok(seeded, "export", "--format", "json", "-f", "experiment = 'vision'"))
    assert {row["run_id"] for row in filtered} == {seeded.c, seeded.d}


def test_given_store_option_when_info_then_database_and_artifacts_are_shown(
    seeded: Seeded,
) -> None:
    out = ok(seeded, "info")

    root = seeded.store.resolve()
    assert f"database:  sqlite:///{root / 'mlops.db'}" in out
    assert f"artifacts: {root / 'artifacts'}" in out
    assert "chosen by: argument" in out


def test_given_no_store_option_when_info_then_jupyter_mlops_home_is_used(
    store_dir: Path,
) -> None:
    result = CliRunner().invoke(main, ["info"], catch_exceptions=False)

    assert result.exit_code == 0
    assert f"sqlite:///{store_dir.resolve() / 'mlops.db'}" in result.stdout
    assert "chosen by: JUPYTER_MLOPS_HOME" in result.stdout


def test_given_version_flag_then_package_version_is_printed() -> None:
    result = CliRunner().invoke(main, ["--version"])

    assert result.exit_code == 0
    assert version("jupyter-mlops") in result.stdout


# Real executables -----------------------------------------------------------------------------
def test_given_installed_entry_point_when_runs_list_then_json_of_every_run(
    seeded: Seeded,
) -> None:
    result = subprocess.run(
        [str(BIN / "jupyter-mlops"), "--store", str(seeded.store), "runs", "list", "-f",
         "metrics.acc >", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and "column" in result.stderr
    assert "Traceback" not in result.stderr

    result = subprocess.run(
        [str(BIN / "jupyter-mlops"), "--store", str(seeded.store), "runs", "list", "--format",
         "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {row["run_id"] for row in json.loads(result.stdout)} == seeded.ids


def test_given_jupyter_on_path_when_jupyter_mlops_then_subcommand_dispatches(
    seeded: Seeded,
) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}

    help_result = subprocess.run(
        [str(BIN / "jupyter"), "mlops", "--help"], capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert help_result.returncode == 0, help_result.stderr
    assert "Usage:" in help_result.stdout
    for command in ("runs", "experiments", "data", "gc", "export", "info"):
        assert command in help_result.stdout

    exps = subprocess.run(
        [str(BIN / "jupyter"), "mlops", "--store", str(seeded.store), "experiments", "--format",
         "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )  # fmt: skip
    assert exps.returncode == 0, exps.stderr
    assert {e["name"] for e in json.loads(exps.stdout)} == {"churn", "vision"}


@pytest.mark.parametrize(
    "mistake",
    ["export into a missing folder", "--store under a file, where no folder can be made"],
)
def test_given_unusable_path_when_cli_runs_then_one_line_error_without_traceback(
    seeded: Seeded, tmp_path: Path, mistake: str
) -> None:
    if mistake.startswith("export"):
        args = ["--store", str(seeded.store), "export", "-O", str(tmp_path / "nope" / "r.csv")]
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        args = ["--store", str(blocker / "store"), "runs", "list"]

    result = subprocess.run(
        [str(BIN / "jupyter-mlops"), *args], capture_output=True, text=True, timeout=60
    )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


def test_given_a_reader_that_leaves_early_when_listing_then_the_cli_stops_quietly(
    store_dir: Path, client: Client
) -> None:
    for i in range(400):  # JSON well beyond a pipe's buffer
        client.end_run(client.create_run("many", f"run-{i}", attrs={"source": "x = 1\n" * 40}))
    proc = subprocess.Popen(
        [str(BIN / "jupyter-mlops"), "--store", str(store_dir), "runs", "list", "-n", "400",
         "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == b"["  # as `| head -1` does
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141  # as a shell reports SIGPIPE
    assert stderr == ""  # no "Error: Broken pipe", no traceback


def test_given_the_database_file_as_store_when_listing_then_that_store_is_used(
    seeded: Seeded,
) -> None:
    result = subprocess.run(
        [
            str(BIN / "jupyter-mlops"),
            "--store",
            str(seeded.store / "mlops.db"),
            "runs",
            "list",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert {r["run_id"] for r in json.loads(result.stdout)} == seeded.ids


def test_given_the_command_table_then_each_command_is_where_it_says_with_its_own_help() -> None:
    import importlib

    from jupyter_mlops.cli import COMMANDS

    assert sorted(COMMANDS) == [
        "data", "demo", "experiments", "export", "gc", "info", "models", "monitor",
        "pipelines", "runs", "scheduler", "serve",
    ]  # fmt: skip
    for name, (module_name, help_text) in COMMANDS.items():
        command = getattr(importlib.import_module(f"jupyter_mlops.cli.{module_name}"), name)
        assert command.name == name
        assert command.get_short_help_str(limit=200) == help_text


def test_given_help_then_every_command_is_listed_without_importing_the_others() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from jupyter_mlops.cli import main\n"
        "out = CliRunner().invoke(main, ['--help']).output\n"
        "loaded = [m for m in sys.modules if m.startswith('jupyter_mlops.cli.')]\n"
        "heavy = [m for m in ('sqlalchemy', 'pandas', 'numpy', 'papermill', 'nbformat')"
        " if m in sys.modules]\n"
        "print(out)\nprint(sorted(loaded), heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    for name in ("data", "demo", "models", "pipelines", "runs", "scheduler", "gc", "info"):
        assert f"  {name} " in out
    assert out.strip().splitlines()[-1] == "[] []"
