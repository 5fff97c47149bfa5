"""The seams a later backend or executor plugs into: stores chosen by URL scheme (built in,
registered, or declared by an installed package), executors chosen by name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from notebook_helpers import write_notebook

from jupyter_mlops import store as stores
from jupyter_mlops.client import Client
from jupyter_mlops.config import ARTIFACTS_ENV
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.pipelines import Pipeline, RunOptions, Step, run_pipeline
from jupyter_mlops.pipelines import executors as executor_registry
from jupyter_mlops.pipelines.records import StepResult
from jupyter_mlops.pipelines.steps import StepJob, run_step

PLUGIN = '''
from pathlib import Path
from jupyter_mlops.store.sql.store import SqlStore

OPENED = []


class FolderStore(SqlStore):
    """A store named folder:///<path>: a SQLite file in that folder."""

    def __init__(self, url):
        folder = Path(url[len("folder://"):])
        folder.mkdir(parents=True, exist_ok=True)
        OPENED.append(url)
        super().__init__(f"sqlite:///{folder / 'plugin.db'}")
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A package on sys.path that declares a store under the jupyter_mlops.stores group, as
    `pip install` would leave it: its module and its dist-info with entry_points.txt."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "mlops_folder_store.py").write_text(PLUGIN)
    info = site / "mlops_folder_store-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mlops-folder-store\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[jupyter_mlops.stores]\nfolder = mlops_folder_store:FolderStore\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(ARTIFACTS_ENV, str(tmp_path / "artifacts"))
    yield
    sys.modules.pop("mlops_folder_store", None)


def test_given_a_package_declaring_a_store_scheme_then_clients_open_it_by_url(
    installed_plugin: Any, tmp_path: Path, open_client: Any
) -> None:
    url = f"folder://{tmp_path / 'team'}"
    client = open_client(url)
    run = client.create_run("plugged", "first")
    client.log_metrics(run, {"acc": 0.5})
    client.end_run(run)

    import mlops_folder_store

    assert [url] == mlops_folder_store.OPENED
    assert type(client.store).__name__ == "FolderStore"
    assert (tmp_path / "team" / "plugin.db").is_file()
    assert open_client(url).get_run(run).metrics == {"acc": 0.5}


def test_given_an_unknown_scheme_then_the_error_lists_the_known_ones(
    installed_plugin: Any,
) -> None:
    with pytest.raises(InvalidInput, match=r"nosuch.*folder.*postgresql.*sqlite"):
        stores.store_factory("nosuch://x")
    with pytest.raises(InvalidInput, match="no scheme"):
        stores.store_factory("just-a-name")


def test_given_a_registered_store_then_it_wins_over_the_built_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.store.sql.store import SqlStore

    seen: list[str] = []

    def factory(url: str) -> SqlStore:
        seen.append(url)
        return SqlStore(url)

    monkeypatch.setattr(stores, "_registered", {})
    stores.register_store("sqlite", factory)
    client = Client(tmp_path / "store")
    client.close()
    assert seen == [client.location.db_url]


class InlineExecutor:
    """Steps run one at a time in the calling thread, counted."""

    jobs: list[str] = []

    def __init__(self, options: RunOptions, client: Client, steps: int) -> None:
        self.client = client

    def submit(self, job: StepJob) -> Future[StepResult]:
        InlineExecutor.jobs.append(job.step)
        future: Future[StepResult] = Future()
        future.set_result(run_step(job, client=self.client))
        return future

    def close(self, wait: bool = True) -> None:
        pass


@pytest.mark.kernel
def test_given_a_registered_executor_then_a_pipeline_runs_its_steps_on_it(
    tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(executor_registry, "_EXECUTORS", dict(executor_registry._EXECUTORS))
    executor_registry.register_executor("inline", InlineExecutor)
    InlineExecutor.jobs = []
    write_notebook(tmp_path / "nb.ipynb", "n = 1", "m = n * 2")
    pipeline = Pipeline("plugged", [Step("only", "nb.ipynb", {"n": 3})], base_dir=tmp_path)

    result = run_pipeline(pipeline, client=client, executor="inline", progress=False)

    assert result.ok and InlineExecutor.jobs == ["only"]
    assert "inline" in executor_registry.executor_names()
    with pytest.raises(InvalidInput, match=r"unknown executor 'nowhere'.*inline"):
        run_pipeline(pipeline, client=client, executor="nowhere")
