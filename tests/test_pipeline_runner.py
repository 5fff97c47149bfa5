"""The local pipeline runner, with real kernels through papermill."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from jupyter_mlops.client import Client
from jupyter_mlops.exceptions import ExecutionError
from jupyter_mlops.pipelines import Pipeline, Step, StepStatus, run_pipeline

pytestmark = pytest.mark.kernel

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

# Every step records what its kernel saw: where it ran, its env and its parameters.
RECORD = """\
import json, os, time
seen = {k: os.environ.get(k) for k in (
    "JUPYTER_MLOPS_STORE", "JUPYTER_MLOPS_ARTIFACTS", "JUPYTER_MLOPS_PARENT_RUN",
    "JPY_SESSION_NAME")}
seen["cwd"] = os.getcwd()
from ipykernel.kernelapp import IPKernelApp
seen["transport"] = IPKernelApp.instance().transport
seen["start"] = time.time()
time.sleep(sleep)
seen["end"] = time.time()
with open(f"seen-{tag}.json", "w") as fh:
    json.dump(seen, fh)
"""


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def diamond(tmp_path: Path) -> Pipeline:
    folder = tmp_path / "proj"
    folder.mkdir()
    write_notebook(folder / "prepare.ipynb", "rows = 1\ntag = 'x'\nsleep = 0.0", RECORD)
    write_notebook(folder / "train.ipynb", "lr = 0.1\ntag = 'x'\nsleep = 0.0", RECORD)
    write_notebook(folder / "evaluate.ipynb", "tag = 'x'\nsleep = 0.0", RECORD)
    return Pipeline(
        "diamond",
        [
            Step("prepare", "prepare.ipynb", {"rows": 10, "tag": "prepare"}),
            Step(
                "train_a",
                "train.ipynb",
                {"lr": 0.5, "tag": "a", "sleep": 1.5},
                upstream=["prepare"],
            ),
            Step(
                "train_b",
                "train.ipynb",
                {"lr": 0.01, "tag": "b", "sleep": 1.5},
                upstream=["prepare"],
            ),
            Step("evaluate", "evaluate.ipynb", {"tag": "eval"}, upstream=["train_a", "train_b"]),
        ],
        base_dir=folder,
    )


def seen(pipeline: Pipeline, tag: str) -> dict[str, object]:
    assert pipeline.base_dir is not None
    return json.loads((pipeline.base_dir / f"seen-{tag}.json").read_text())


def test_given_a_diamond_when_run_then_every_step_is_a_child_run_and_the_trains_overlap(
    diamond: Pipeline, client: Client, tmp_path: Path
) -> None:
    sources = {p: p.read_bytes() for p in diamond.base_dir.glob("*.ipynb")}  # type: ignore[union-attr]

    result = run_pipeline(diamond, client=client, output_dir=tmp_path / "out")

    assert result.ok, {n: (s.error_name, s.error_value) for n, s in result.steps.items()}
    assert list(result.steps) == ["prepare", "train_a", "train_b", "evaluate"]
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.info.name == "pipeline:diamond"
    assert parent.tags["mlops.pipeline"] == "diamond"
    for name, step in result.steps.items():
        assert step.status is StepStatus.FINISHED and step.attempts == 1
        run = client.get_run(step.run_id)  # type: ignore[arg-type]
        assert run.info.status == "FINISHED"
        assert run.info.parent_run_id == result.run_id
        assert run.info.name == name
        assert run.tags["mlops.step"] == name
        stored = nbformat.reads(
            client.read_artifact(run.id, f"notebooks/{name}.ipynb").decode(), as_version=4
        )
        injected = [c for c in stored.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1
        assert (tmp_path / "out" / f"{name}.ipynb").is_file()
    assert client.get_run(result["train_a"].run_id).params["lr"] == "0.5"  # type: ignore[arg-type]
    assert client.get_run(result["train_b"].run_id).params["lr"] == "0.01"  # type: ignore[arg-type]
    assert "lr = 0.5" in (tmp_path / "out" / "train_a.ipynb").read_text()

    # The kernels saw the store, their own run, their notebook, and ran in its folder.
    a, b = seen(diamond, "a"), seen(diamond, "b")
    assert a["JUPYTER_MLOPS_STORE"] == client.location.db_url
    assert a["JUPYTER_MLOPS_ARTIFACTS"] == client.location.artifact_root
    assert a["JUPYTER_MLOPS_PARENT_RUN"] == result["train_a"].run_id
    assert a["JPY_SESSION_NAME"] == str(diamond.notebook_path("train_a"))
    assert a["cwd"] == str(diamond.base_dir)
    # Private Unix sockets, not TCP ports, so parallel kernels cannot race for a port.
    if os.name == "posix":
        assert a["transport"] == b["transport"] == "ipc"
    # Both parallel kernels started and their work overlapped in time.
    assert a["start"] < b["end"] and b["start"] < a["end"]  # type: ignore[operator]
    # The sources were never touched.
    assert {p: p.read_bytes() for p in sources} == sources


def test_given_a_failing_step_then_it_fails_with_papermill_fields_and_downstream_is_skipped(
    tmp_path: Path, client: Client
) -> None:
    write_notebook(tmp_path / "boom.ipynb", "x = 1", "y = x + 1", "raise ValueError(f'bad {x}')")
    write_notebook(tmp_path / "after.ipynb", "x = 1", "pass")
    pipeline = Pipeline(
        "failing",
        [
            Step("boom", "boom.ipynb", {"x": 7}),
            Step("after", "after.ipynb", upstream=["boom"]),
        ],
        base_dir=tmp_path,
    )

    result = run_pipeline(pipeline, client=client)

    assert not result.ok
    boom = result["boom"]
    assert boom.status is StepStatus.FAILED
    assert (boom.error_name, boom.error_value) == ("ValueError", "bad 7")
    # Cell 0: parameters, 1: injected parameters, 2: y = x + 1, 3: the raise.
    assert boom.failed_cell == 3
    assert "ValueError" in (boom.traceback or "") and "\x1b[" not in (boom.traceback or "")
    run = client.get_run(boom.run_id)  # type: ignore[arg-type]
    assert run.info.status == "FAILED"
    assert run.info.error_name == "ValueError" and run.info.error_value == "bad 7"
    assert run.tags["mlops.failed_cell"] == "3"
    partial = client.read_artifact(run.id, "notebooks/boom.ipynb").decode()
    assert "bad 7" in partial
    assert result["after"].status is StepStatus.SKIPPED and result["after"].run_ids == []
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FAILED"
    assert parent.tags["mlops.skipped"] == "after"
    assert len(client.search_runs(experiment="failing")) == 2  # the pipeline and boom
    with pytest.raises(ExecutionError) as info:
        result.raise_for_failure()
    assert (info.value.cell_index, info.value.ename, info.value.evalue) == (
        3,
        "ValueError",
        "bad 7",
    )


def test_given_a_step_that_fails_once_when_retried_then_the_second_attempt_finishes(
    tmp_path: Path, client: Client
) -> None:
    code = (
        "import os\n"
        "if not os.path.exists('marker'):\n"
        "    open('marker', 'w').close()\n"
        "    raise RuntimeError('first attempt')\n"
    )
    write_notebook(tmp_path / "flaky.ipynb", "n = 1", code)
    pipeline = Pipeline(
        "flaky", [Step("flaky", "flaky.ipynb", retries=2, retry_backoff=0)], base_dir=tmp_path
    )

    result = run_pipeline(pipeline, client=client)

    step = result["flaky"]
    assert result.ok and step.attempts == 2 and len(step.run_ids) == 2
    first, second = (client.get_run(r) for r in step.run_ids)
    assert first.info.status == "FAILED" and first.info.error_value == "first attempt"
    assert second.info.status == "FINISHED"
    assert (first.tags["mlops.attempt"], second.tags["mlops.attempt"]) == ("1", "2")


def test_given_a_step_slower_than_its_timeout_then_it_fails_with_timeout_error(
    tmp_path: Path, client: Client
) -> None:
    write_notebook(tmp_path / "slow.ipynb", "n = 1", "import time\ntime.sleep(60)")
    pipeline = Pipeline("slow", [Step("slow", "slow.ipynb", timeout=1)], base_dir=tmp_path)

    result = run_pipeline(pipeline, client=client)

    step = result["slow"]
    assert step.status is StepStatus.FAILED and step.error_name == "TimeoutError"
    assert step.failed_cell == 1
    run = client.get_run(step.run_id)  # type: ignore[arg-type]
    assert run.info.status == "FAILED" and run.info.error_name == "TimeoutError"
    assert client.get_run(result.run_id).info.status == "FAILED"


def test_given_from_step_then_only_it_and_its_downstream_run(
    diamond: Pipeline, client: Client
) -> None:
    result = run_pipeline(diamond, client=client, from_step="train_b")

    assert result.ok
    assert list(result.steps) == ["train_b", "evaluate"]
    names = {r.info.name for r in client.search_runs(experiment="diamond")}
    assert names == {"pipeline:diamond", "train_b", "evaluate"}
    assert client.get_run(result.run_id).tags["mlops.from_step"] == "train_b"
