"""Where the store lives, and settings read from the environment.

Resolution order (DESIGN.md): ``JUPYTER_MLOPS_STORE`` (a database URL) wins; else
``JUPYTER_MLOPS_HOME`` (a folder holding ``mlops.db`` and ``artifacts/``); else the nearest
``.mlops/`` folder walking up from the working directory; else ``<jupyter data dir>/mlops``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STORE_ENV = "JUPYTER_MLOPS_STORE"
HOME_ENV = "JUPYTER_MLOPS_HOME"
ARTIFACTS_ENV = "JUPYTER_MLOPS_ARTIFACTS"
# Set by the pipeline runner in a step's kernel: runs tracked there become its children.
PARENT_RUN_ENV = "JUPYTER_MLOPS_PARENT_RUN"
DB_FILENAME = "mlops.db"
LOCAL_DIRNAME = ".mlops"


@dataclass(frozen=True)
class StoreLocation:
    """A database URL plus the root of the artifact store."""

    db_url: str
    artifact_root: str
    source: str  # which rule chose it, shown by `jupyter-mlops info`

    @property
    def home(self) -> Path | None:
        """The folder of a SQLite store (None for a server database)."""
        if self.db_url.startswith("sqlite:///"):
            return Path(self.db_url[len("sqlite:///") :]).parent
        return None

    def logs_folder(self, name: str) -> Path:
        """Where processes started for this store write their output: ``<home>/<name>`` (a
        temp folder for a store without a home folder)."""
        home = self.home
        base = (
            home if home is not None else Path(os.environ.get("TMPDIR", "/tmp")) / "jupyter-mlops"
        )
        return base / name


def store_env(location: StoreLocation) -> dict[str, str]:
    """The environment variables that point a child process (a kernel, a pipeline run, a
    worker) at ``location``: it sees the same store as its parent, whatever its cwd."""
    return {STORE_ENV: location.db_url, ARTIFACTS_ENV: location.artifact_root}


def _home_location(home: Path, source: str) -> StoreLocation:
    home = home.expanduser().resolve()
    # A store named explicitly keeps its artifacts beside it; JUPYTER_MLOPS_ARTIFACTS applies
    # to stores found through the environment.
    env = None if source == "argument" else os.environ.get(ARTIFACTS_ENV)
    return StoreLocation(f"sqlite:///{home / DB_FILENAME}", env or str(home / "artifacts"), source)


def _find_local_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / LOCAL_DIRNAME
        if candidate.is_dir():
            return candidate
    return None


def default_data_dir() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mlops"


def resolve_location(
    target: str | os.PathLike[str] | None = None, *, cwd: str | os.PathLike[str] | None = None
) -> StoreLocation:
    """Resolve a store location.

    Args:
        target: a database URL (``sqlite:///…``, ``postgresql://…``), a folder to use as
            the store home, or None to follow the environment rules.
        cwd: where the ``.mlops/`` search starts (default: the working directory); a server
            passes its root folder, without changing its own working directory.
    """
    if target is not None:
        text = os.fspath(target)
        if "://" in text:
            return _url_location(text, "argument")
        if text.endswith(".db") or Path(text).is_file():
            # The database file itself, an easy thing to pass instead of its folder.
            return _url_location(f"sqlite:///{text}", "argument")
        return _home_location(Path(text), "argument")
    url = os.environ.get(STORE_ENV)
    if url:
        return _url_location(url, STORE_ENV)
    home = os.environ.get(HOME_ENV)
    if home:
        return _home_location(Path(home), HOME_ENV)
    local = _find_local_dir(Path(cwd).expanduser().resolve() if cwd is not None else Path.cwd())
    if local is not None:
        return _home_location(local, f"{local}")
    return _home_location(default_data_dir(), "jupyter data dir")


def _url_location(url: str, source: str) -> StoreLocation:
    if url.startswith("sqlite:///"):
        db_path = Path(url[len("sqlite:///") :]).expanduser().resolve()
        env = None if source == "argument" else os.environ.get(ARTIFACTS_ENV)
        return StoreLocation(
            f"sqlite:///{db_path}", env or str(db_path.parent / "artifacts"), source
        )
    artifacts = os.environ.get(ARTIFACTS_ENV) or str(default_data_dir() / "artifacts")
    return StoreLocation(url, artifacts, source)


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default
