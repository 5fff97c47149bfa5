"""Shared fixtures: a fresh store folder per test, wired into the environment and fluent API."""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from IPython.testing import globalipapp

import jupyter_mlops as mlops
from jupyter_mlops.client import Client
from jupyter_mlops.config import ARTIFACTS_ENV, HOME_ENV, STORE_ENV
from jupyter_mlops.diskcache import CACHE_DIR_ENV
from jupyter_mlops.tracking import fluent


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The disk caches (jupyter_mlops.diskcache) of this test session, not the user's; kernels
    and processes the tests start inherit it."""
    previous = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("mlops-cache"))
    yield
    if previous is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = previous


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh store folder: JUPYTER_MLOPS_HOME points at it and the fluent API uses it."""
    folder = tmp_path / "store"
    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.delenv(ARTIFACTS_ENV, raising=False)
    monkeypatch.setenv(HOME_ENV, str(folder))
    fluent.reset()
    fluent.set_store(folder)
    yield folder
    fluent.reset()


@pytest.fixture
def mlops_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store folder of a test's Jupyter server (its ``jp_server_config`` names it). The
    extension exports its store to the kernels it starts through the environment: the
    variables are restored after the test (set to empty, which reads as unset: monkeypatch
    would record nothing to undo if ``delenv`` found them absent)."""
    for name in (STORE_ENV, ARTIFACTS_ENV, HOME_ENV):
        monkeypatch.setenv(name, "")
    return tmp_path / "mlops-store"


@pytest.fixture
def client(store_dir: Path) -> Iterator[Client]:
    """A Client of the test's own store."""
    c = Client(store_dir)
    yield c
    with contextlib.suppress(Exception):
        c.close()


NO_POSTGRES = (
    "no PostgreSQL for the tests: JUPYTER_MLOPS_TEST_PG is unset (make test starts a "
    "throw-away one when PostgreSQL is installed, and installs it when run as root)"
)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server of the test run (.ci/with-services starts one), else a skip."""
    url = os.environ.get("JUPYTER_MLOPS_TEST_PG")
    if not url:
        pytest.skip(NO_POSTGRES)
    return url


@pytest.fixture
def direct_and_migrated(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two SQLite stores: one whose schema a new store creates directly (the fast path), one
    built by running every migration from the first; their engines are disposed after."""
    from alembic import command
    from alembic.config import Config

    from jupyter_mlops.store.sql.engine import create_engine
    from jupyter_mlops.store.sql.migrate import MIGRATIONS_DIR, ensure_schema

    direct = create_engine(f"sqlite:///{tmp_path / 'direct.db'}")
    ensure_schema(direct)
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with migrated.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    yield direct, migrated
    direct.dispose()
    migrated.dispose()


@pytest.fixture
def open_client() -> Iterator[Callable[..., Client]]:
    """Open Clients on any store; each is closed after the test (its writer flushed and
    stopped, its connections released)."""
    opened: list[Client] = []

    def open_(store: Any = None, lazy: bool = False) -> Client:
        client = Client(store, lazy=lazy)
        opened.append(client)
        return client

    yield open_
    for client in opened:
        with contextlib.suppress(Exception):
            client.close()


# A real IPython shell with the extension loaded, on a fresh store (magics and widget views).
@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    home = tmp_path / "store"
    monkeypatch.setenv("JUPYTER_MLOPS_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    fluent.reset()
    client = fluent.set_store(home)
    yield client
    fluent.end_run()
    fluent.reset()


@pytest.fixture
def ip(store: Client) -> Iterator[Any]:
    # The first call creates the test shell; later calls return None, so keep it.
    shell = globalipapp.start_ipython() or globalipapp.get_ipython()
    # %config changes the shell's config, which outlives this test: restore it after.
    saved = copy.deepcopy(shell.config)
    shell.run_line_magic("load_ext", "jupyter_mlops")
    shell.user_ns.update({"pd": pd, "np": np, "mlops": mlops})
    yield shell
    shell.run_line_magic("unload_ext", "jupyter_mlops")
    for name in list(shell.user_ns):
        if not name.startswith("_") and name not in ("In", "Out", "exit", "quit", "get_ipython"):
            shell.user_ns.pop(name, None)
    shell.config.clear()
    shell.config.update(saved)


@pytest.fixture
def served_store(tmp_path: Path) -> Iterator[Client]:
    """A Client of a store in a temporary folder; every model server still running on it is
    stopped after the test."""
    from jupyter_mlops.serving import stop_server

    c = Client(tmp_path / "store")
    yield c
    for server in c.list_model_servers(active_only=True):
        stop_server(c, server.id)
    c.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The URL of a fresh store: a SQLite file, or a new PostgreSQL database (named after the
    test module) dropped after the test."""
    import sqlalchemy as sa

    monkeypatch.setenv(ARTIFACTS_ENV, str(tmp_path / "artifacts"))
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mlops.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    database = f"mlops_{module}_{os.getpid()}"
    admin = sa.create_engine(
        server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    try:
        yield server.rsplit("/", 1)[0] + "/" + database
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.dispose()
