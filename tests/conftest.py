"""Shared fixtures: a fresh store folder per test, wired into the environment and fluent API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

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
