"""Run options, declared once (RunOptions): checked the same way from Python, the CLI, a
launched process and REST; large parameters travel intact to a launched run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from notebook_helpers import write_notebook

from jupyter_mlops.cli import main
from jupyter_mlops.client import Client
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.pipelines import RunOptions
from jupyter_mlops.pipelines.launch import launch_pipeline, logs_folder
from jupyter_mlops.pipelines.options import cli_fields, rest_fields


def test_given_every_plain_option_then_the_cli_has_its_flag_with_its_help() -> None:
    text = CliRunner().invoke(main, ["pipelines", "run", "--help"], terminal_width=200).output
    for field in cli_fields():
        for flag in field.metadata["cli"]:
            assert flag in text, flag
        assert field.metadata["help"].split(";")[0][:30] in " ".join(text.split())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_workers": "4"}, "max_workers' must be int"),
        ({"max_workers": True}, "max_workers' must be int"),
        ({"force": 1}, "force' must be bool"),
        ({"params": []}, "params' must be an object"),
        ({"executor": 5}, "executor' must be str"),
        ({"surprise": 1}, "unknown run option 'surprise'"),
        ({"run_id": "x", "kernel_name": "python3"}, "unknown run option 'run_id'"),
    ],
)
def test_given_wrong_types_or_fields_then_from_json_names_them(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        RunOptions.from_json(data, allowed=rest_fields())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_workers": 0}, "max_workers must be a whole number from 1 to 64"),
        ({"max_workers": 65}, "max_workers must be a whole number from 1 to 64"),
        ({"executor": "dask"}, "needs a scheduler address"),
        ({"force": True, "from_step": "a"}, "at most one of force, from_step and resume"),
        ({"resume": "not-an-id"}, "resume must be true, false or a run id"),
        ({"run_id": "ABC"}, "run_id must be 32 lowercase hex digits"),
        ({"params": {"x": float("nan")}}, "JSON cannot carry"),
        ({"params": {"x": 2**64}}, "from -9223372036854775808"),
        ({"params": {"x": "a" * 70_000}}, "at most 65,536 are accepted"),
        ({"trigger": ""}, "trigger must not be empty"),
    ],
)
def test_given_a_bad_option_then_validate_refuses_it_with_the_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        RunOptions(**changes).validate(["local", "dask"])


def test_given_options_then_json_round_trips_them() -> None:
    options = RunOptions(params={"a": [1, 2], "b": {"c": None}}, force=True, max_workers=3)
    again = RunOptions.from_json(json.loads(json.dumps(options.to_json())))
    assert again == options


@pytest.mark.kernel
def test_given_long_awkward_parameters_then_a_launched_run_gets_them_intact(
    tmp_path: Path, client: Client, open_client: Any
) -> None:
    write_notebook(
        tmp_path / "nb.ipynb",
        "text = ''",
        "open('got.txt', 'w').write(text)",
    )
    (tmp_path / "pipeline.yaml").write_text(
        "name: long\nsteps:\n  - name: only\n    notebook: nb.ipynb\n"
    )
    # 25,000 characters with quotes, newlines and non-ASCII: they travel in the options file,
    # not on the command line (larger parameters are refused: 64 KiB of JSON at most).
    text = ("a'b\"c\n ünï " * 2_500)[:25_000]
    run_id = launch_pipeline(client, tmp_path / "pipeline.yaml", RunOptions(params={"text": text}))

    options = json.loads((logs_folder(client) / f"{run_id}.options.json").read_text())
    assert options["params"] == {"text": text} and options["run_id"] == run_id
    reader = open_client(client.location)
    deadline = time.monotonic() + 120
    while True:
        runs = reader.search_runs(filter=f"id = '{run_id}' and status != 'RUNNING'")
        if runs or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    log = (logs_folder(client) / f"{run_id}.log").read_text(errors="replace")
    assert runs and runs[0].info.status == "FINISHED", log
    assert (tmp_path / "got.txt").read_text() == text


def test_given_nulls_then_from_json_takes_the_defaults() -> None:
    nulls = dict.fromkeys(rest_fields())
    assert RunOptions.from_json(nulls, allowed=rest_fields()) == RunOptions()
