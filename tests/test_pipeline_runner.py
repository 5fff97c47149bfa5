"""The local pipeline runner, with real kernels through papermill."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from notebook_helpers import write_notebook

from jupyter_mlops.client import Client
from jupyter_mlops.exceptions import ExecutionError, InvalidInput
from jupyter_mlops.pipelines import Pipeline, Step, StepStatus, run_pipeline

pytestmark = pytest.mark.kernel


# Every step records what its kernel saw: where it ran, its env and its parameters. A step
# given `touch` creates that file; one given `wait_for` waits (up to 120 s, then fails) until
# that file exists: two steps that wait for each other's file can only both finish if they
# run at the same time, whatever the load of the machine (a barrier, not a timing).
RECORD = """\
import json, os, time
seen = {k: os.environ.get(k) for k in (
    "JUPYTER_MLOPS_STORE", "JUPYTER_MLOPS_ARTIFACTS", "JUPYTER_MLOPS_PARENT_RUN",
    "JPY_SESSION_NAME")}
seen["cwd"] = os.getcwd()
from ipykernel.kernelapp import IPKernelApp
seen["transport"] = IPKernelApp.instance().transport
if touch:
    open(touch, "w").close()
deadline = time.monotonic() + 120
while wait_for and not os.path.exists(wait_for):
    if time.monotonic() > deadline:
        raise TimeoutError(f"{tag}: {wait_for} never appeared: the steps did not overlap")
    time.sleep(0.05)
with open(f"seen-{tag}.json", "w") as fh:
    json.dump(seen, fh)
"""
STEP_PARAMS = "tag = 'x'\ntouch = ''\nwait_for = ''"


@pytest.fixture
def diamond(tmp_path: Path) -> Pipeline:
    folder = tmp_path / "proj"
    folder.mkdir()
    write_notebook(folder / "prepare.ipynb", f"rows = 1\n{STEP_PARAMS}", RECORD)
    write_notebook(folder / "train.ipynb", f"lr = 0.1\n{STEP_PARAMS}", RECORD)
    write_notebook(folder / "evaluate.ipynb", STEP_PARAMS, RECORD)
    return Pipeline(
        "diamond",
        [
            Step("prepare", "prepare.ipynb", {"rows": 10, "tag": "prepare"}),
            Step(
                "train_a",
                "train.ipynb",
                # The two trains wait for each other: they must run at once.
                {"lr": 0.5, "tag": "a", "touch": "arrived-a", "wait_for": "arrived-b"},
                upstream=["prepare"],
            ),
            Step(
                "train_b",
                "train.ipynb",
                {"lr": 0.01, "tag": "b", "touch": "arrived-b", "wait_for": "arrived-a"},
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
    # Both trains finished, so each saw the other's file: they ran at the same time.
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


# -- the cache -----------------------------------------------------------------------------

PREPARE = """\
import numpy as np, pandas as pd
frame = pd.DataFrame({"x": np.arange(rows) % 7})
frame.to_csv("data.csv", index=False)
"""
TRAIN = """\
import pandas as pd, time
frame = pd.read_csv("data.csv")
with open(f"trained-{time.time_ns()}", "w") as fh:
    fh.write(str(frame.x.sum() * lr))
"""


@pytest.fixture
def chain(tmp_path: Path) -> Pipeline:
    """prepare writes data.csv (a declared output); train reads it."""
    folder = tmp_path / "chain"
    folder.mkdir()
    write_notebook(folder / "prepare.ipynb", "rows = 10", PREPARE)
    write_notebook(folder / "train.ipynb", "lr = 0.1", TRAIN)
    return Pipeline(
        "chain",
        [
            Step("prepare", "prepare.ipynb", {"rows": 20}, outputs=["data.csv"]),
            Step("train", "train.ipynb", {"lr": 0.5}, upstream=["prepare"], inputs=["data.csv"]),
        ],
        base_dir=folder,
    )


def statuses(result: object) -> dict[str, str]:
    return {n: s.status.value for n, s in result.steps.items()}  # type: ignore[attr-defined]


def trained(pipeline: Pipeline) -> int:
    assert pipeline.base_dir is not None
    return len(list(pipeline.base_dir.glob("trained-*")))


def edit_cell(path: Path, index: int, source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[index].source = source
    nbformat.write(nb, path)


def test_given_unchanged_pipeline_when_rerun_then_every_step_is_cached_and_no_kernel_runs(
    chain: Pipeline, client: Client
) -> None:
    first = run_pipeline(chain, client=client)
    assert statuses(first) == {"prepare": "FINISHED", "train": "FINISHED"}
    assert trained(chain) == 1

    again = run_pipeline(chain, client=client)

    assert again.ok and statuses(again) == {"prepare": "CACHED", "train": "CACHED"}
    assert trained(chain) == 1  # no notebook was executed
    for name in ("prepare", "train"):
        step = again[name]
        assert step.cached_from == first[name].run_id and step.attempts == 0
        run = client.get_run(step.run_id)  # type: ignore[arg-type]
        assert run.info.status == "FINISHED" and run.info.parent_run_id == again.run_id
        assert run.tags["mlops.cached"] == first[name].run_id
        assert run.params == client.get_run(first[name].run_id).params  # type: ignore[arg-type]
    assert client.get_run(again.run_id).info.status == "FINISHED"
    # A cached run of a cached run points to the run that really executed.
    third = run_pipeline(chain, client=client)
    assert third["train"].cached_from == first["train"].run_id


def test_given_markdown_edit_then_cached_and_given_comment_edit_then_that_step_reruns(
    chain: Pipeline, client: Client
) -> None:
    run_pipeline(chain, client=client)
    train_nb = chain.notebook_path("train")
    nb = nbformat.read(train_nb, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("# Notes\nthe model is linear"))
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="old output")]
    nb.cells[1].execution_count = 42
    nbformat.write(nb, train_nb)

    after_markdown = run_pipeline(chain, client=client)
    assert statuses(after_markdown) == {"prepare": "CACHED", "train": "CACHED"}

    edit_cell(train_nb, 1, "# a comment only\n" + TRAIN)
    after_comment = run_pipeline(chain, client=client)
    assert statuses(after_comment) == {"prepare": "CACHED", "train": "FINISHED"}
    assert trained(chain) == 2


def test_given_upstream_data_change_then_downstream_misses_and_same_bytes_keep_it_cached(
    chain: Pipeline, client: Client
) -> None:
    import dataclasses

    run_pipeline(chain, client=client)
    more_rows = dataclasses.replace(
        chain,
        steps=[dataclasses.replace(chain.steps[0], parameters={"rows": 30}), chain.steps[1]],
    )
    changed = run_pipeline(more_rows, client=client)
    assert statuses(changed) == {"prepare": "FINISHED", "train": "FINISHED"}
    assert trained(chain) == 2

    # prepare's code changes (so it re-runs) but it writes the same bytes: train is reused.
    edit_cell(chain.notebook_path("prepare"), 1, PREPARE + "# same data, new comment\n")
    same_data = run_pipeline(more_rows, client=client)
    assert statuses(same_data) == {"prepare": "FINISHED", "train": "CACHED"}
    assert trained(chain) == 2


def test_given_a_declared_output_deleted_then_its_step_reruns(
    chain: Pipeline, client: Client
) -> None:
    run_pipeline(chain, client=client)
    assert chain.base_dir is not None
    (chain.base_dir / "data.csv").unlink()

    result = run_pipeline(chain, client=client)

    assert result["prepare"].status is StepStatus.FINISHED
    assert (chain.base_dir / "data.csv").is_file()
    # Same bytes written again: train's inputs are unchanged.
    assert result["train"].status is StepStatus.CACHED


def test_given_force_then_every_step_runs(chain: Pipeline, client: Client) -> None:
    run_pipeline(chain, client=client)
    result = run_pipeline(chain, client=client, force=True)
    assert statuses(result) == {"prepare": "FINISHED", "train": "FINISHED"}
    assert trained(chain) == 2


def test_given_from_step_then_it_and_its_downstream_run_and_the_rest_is_reused(
    diamond: Pipeline, client: Client
) -> None:
    with pytest.raises(InvalidInput, match="never finished"):
        run_pipeline(diamond, client=client, from_step="train_b")
    first = run_pipeline(diamond, client=client)

    result = run_pipeline(diamond, client=client, from_step="train_b")

    assert result.ok
    assert statuses(result) == {
        "prepare": "CACHED",
        "train_a": "CACHED",
        "train_b": "FINISHED",
        "evaluate": "FINISHED",
    }
    assert result["prepare"].cached_from == first["prepare"].run_id
    assert client.get_run(result.run_id).tags["mlops.from_step"] == "train_b"


def test_given_failed_run_when_resumed_then_it_reruns_from_the_failed_step(
    tmp_path: Path, client: Client
) -> None:
    write_notebook(tmp_path / "one.ipynb", "n = 1", "open(f'ran-one-{n}', 'a').close()")
    write_notebook(
        tmp_path / "two.ipynb",
        "n = 1",
        "import os\nif not os.path.exists('fixed'):\n    raise RuntimeError('not fixed')",
    )
    write_notebook(tmp_path / "three.ipynb", "n = 1", "pass")
    pipeline = Pipeline(
        "resumable",
        [
            Step("one", "one.ipynb"),
            Step("two", "two.ipynb", upstream=["one"]),
            Step("three", "three.ipynb", upstream=["two"]),
        ],
        base_dir=tmp_path,
    )
    failed = run_pipeline(pipeline, client=client)
    assert statuses(failed) == {"one": "FINISHED", "two": "FAILED", "three": "SKIPPED"}
    (tmp_path / "fixed").touch()

    resumed = run_pipeline(pipeline, client=client, resume=True)

    assert statuses(resumed) == {"one": "CACHED", "two": "FINISHED", "three": "FINISHED"}
    assert resumed["one"].cached_from == failed["one"].run_id
    assert client.get_run(resumed.run_id).tags["mlops.resumed_from"] == failed.run_id
    with pytest.raises(InvalidInput, match="FINISHED"):
        run_pipeline(pipeline, client=client, resume=True)
    with pytest.raises(InvalidInput, match="at most one"):
        run_pipeline(pipeline, client=client, resume=True, force=True)


# -- scheduling, progress, dead kernels ------------------------------------------------------


def test_given_a_fast_branch_then_its_downstream_starts_before_the_slow_branch_ends(
    tmp_path: Path, client: Client
) -> None:
    write_notebook(tmp_path / "nb.ipynb", STEP_PARAMS, RECORD)
    pipeline = Pipeline(
        "branches",
        [
            Step("fast", "nb.ipynb", {"tag": "fast"}),
            # slow cannot end before after_fast has run.
            Step("slow", "nb.ipynb", {"tag": "slow", "wait_for": "after-fast-ran"}),
            Step(
                "after_fast",
                "nb.ipynb",
                {"tag": "after_fast", "touch": "after-fast-ran"},
                upstream=["fast"],
            ),
        ],
        base_dir=tmp_path,
    )

    result = run_pipeline(pipeline, client=client, max_workers=2)

    # Not wave by wave: after_fast ran while slow was still running (or slow would have
    # waited for it in vain and failed).
    assert result.ok, {n: (s.error_name, s.error_value) for n, s in result.steps.items()}


def test_given_a_running_step_then_its_cell_progress_and_partial_notebook_are_visible(
    tmp_path: Path, client: Client
) -> None:
    import threading
    import time

    write_notebook(
        tmp_path / "slow.ipynb",
        "n = 1",
        "x = 41",
        "import time\nwhile not __import__('os').path.exists('go'):\n    time.sleep(0.1)",
        "x += 1",
    )
    pipeline = Pipeline("live", [Step("slow", "slow.ipynb")], base_dir=tmp_path)
    out = tmp_path / "out"
    holder: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: holder.update(r=run_pipeline(pipeline, client=client, output_dir=out))
    )
    thread.start()
    try:
        deadline = time.monotonic() + 120
        tags: dict[str, str] = {}
        while time.monotonic() < deadline:
            runs = client.search_runs(filter="tags.`mlops.pipeline_step` = 'live/slow'")
            tags = runs[0].tags if runs else {}
            if tags.get("mlops.cell") == "2":
                break
            time.sleep(0.1)
        # 0 parameters, 1 x = 41, 2 the waiting loop, 3 x += 1 (no parameters: none injected).
        assert tags["mlops.cell"] == "2" and tags["mlops.cells"] == "4"
        assert tags["mlops.cell_source"] == "import time"
        partial = nbformat.read(tags["mlops.output_path"], as_version=4)
        assert partial.cells[1].metadata.papermill.status == "completed"
        assert partial.cells[2].metadata.papermill.status == "running"
    finally:
        (tmp_path / "go").touch()
        thread.join(120)
    assert holder["r"].ok  # type: ignore[attr-defined]


def test_given_a_kernel_killed_by_sigkill_then_the_step_fails_instead_of_hanging(
    tmp_path: Path, client: Client
) -> None:
    write_notebook(
        tmp_path / "oom.ipynb",
        "n = 1",
        "x = 1",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "print('never')",
    )
    write_notebook(tmp_path / "after.ipynb", "n = 1", "pass")
    pipeline = Pipeline(
        "killed",
        [Step("oom", "oom.ipynb"), Step("after", "after.ipynb", upstream=["oom"])],
        base_dir=tmp_path,
    )

    result = run_pipeline(pipeline, client=client)

    step = result["oom"]
    assert step.status is StepStatus.FAILED
    assert step.error_name == "DeadKernelError", (step.error_name, step.error_value)
    assert step.failed_cell == 2  # 0 parameters, 1 x = 1, 2 the kill (nothing injected)
    assert result["after"].status is StepStatus.SKIPPED
    run = client.get_run(step.run_id)  # type: ignore[arg-type]
    assert run.info.status == "FAILED" and run.tags["mlops.failed_cell"] == "2"
    assert "notebooks/oom.ipynb" in {a.path for a in run.artifacts}  # the partial notebook


def test_given_a_dask_local_cluster_then_steps_run_on_its_workers(
    diamond: Pipeline, client: Client
) -> None:
    import dask
    from distributed import LocalCluster

    # Without this the scheduler queues up to 2 tasks per 1-thread worker (saturation 1.1),
    # and both trains could wait on one worker.
    with (
        dask.config.set({"distributed.scheduler.worker-saturation": 1.0}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
    ):
        result = run_pipeline(
            diamond,
            client=client,
            executor="dask",
            scheduler_address=cluster.scheduler_address,
            progress=False,
        )

    assert result.ok, {n: (s.error_name, s.error_value) for n, s in result.steps.items()}
    assert statuses(result) == dict.fromkeys(
        ["prepare", "train_a", "train_b", "evaluate"], "FINISHED"
    )
    pids = {client.get_run(s.run_id).info.pid for s in result.steps.values()}  # type: ignore[arg-type]
    assert os.getpid() not in pids  # the step runs were made by the worker processes
    # The two trains waited for each other's file, so they ran at once, on both workers.
    trains = {client.get_run(result[n].run_id).info.pid for n in ("train_a", "train_b")}  # type: ignore[arg-type]
    assert len(trains) == 2
    # The cache does not care where a step ran: the same pipeline run locally is reused.
    again = run_pipeline(diamond, client=client, progress=False)
    assert set(statuses(again).values()) == {"CACHED"}
