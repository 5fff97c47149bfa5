"""Shared fixtures: a fresh store folder per test, wired into the environment and fluent API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.testing import globalipapp

import jupyter_mlops as mlops
from jupyter_mlops.client import Client
from jupyter_mlops.config import ARTIFACTS_ENV, HOME_ENV, STORE_ENV
from jupyter_mlops.tracking import fluent


def _reset_fluent() -> None:
    """Forget the fluent API's active runs and shared clients, stopping their writers."""
    with fluent._lock:
        fluent._stack.clear()
    with Client._shared_lock:
        shared = list(Client._shared.values())
        Client._shared.clear()
    for old in shared:
        with contextlib.suppress(Exception):
            old.writer.close()
        with contextlib.suppress(Exception):
            old.store.close()
    fluent._client_target = None


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh store folder: JUPYTER_MLOPS_HOME points at it and the fluent API uses it."""
    folder = tmp_path / "store"
    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.delenv(ARTIFACTS_ENV, raising=False)
    monkeypatch.setenv(HOME_ENV, str(folder))
    _reset_fluent()
    fluent.set_store(folder)
    yield folder
    _reset_fluent()


@pytest.fixture
def client(store_dir: Path) -> Iterator[Client]:
    """A Client of the test's own store."""
    c = Client(store_dir)
    yield c
    with contextlib.suppress(Exception):
        c.writer.close()
    with contextlib.suppress(Exception):
        c.store.close()


# A real IPython shell with the extension loaded, on a fresh store (magics and widget views).
@pytest.fixture
def store(tmp_path, monkeypatch):
    home = tmp_path / "store"
    monkeypatch.setenv("JUPYTER_MLOPS_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    Client._shared.clear()
    client = fluent.set_store(home)
    yield client
    fluent.end_run()
    Client._shared.clear()
    fluent.set_store(None)


@pytest.fixture
def ip(store):
    # The first call creates the test shell; later calls return None, so keep it.
    shell = globalipapp.start_ipython() or globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "jupyter_mlops")
    shell.user_ns.update({"pd": pd, "np": np, "mlops": mlops})
    yield shell
    shell.run_line_magic("unload_ext", "jupyter_mlops")
    for name in list(shell.user_ns):
        if not name.startswith("_") and name not in ("In", "Out", "exit", "quit", "get_ipython"):
            shell.user_ns.pop(name, None)
