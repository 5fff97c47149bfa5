"""A container build context that serves one registered version: ``models build-docker``.

The context holds the version's bundle (its bytes, checked against the registry's sha256
when written and again when the server loads them), this package's Python files, a
``requirements.txt`` and a ``Dockerfile``: Python of the training run's minor version, the
model's libraries pinned to the versions the training run imported (what the model was
fitted and saved with), the server's own libraries pinned to the versions installed here,
a non-root user, a health check on ``/ping``, and the server as the entry command.
Nothing is downloaded at run time; ``docker build`` fetches only the base image and the
pinned wheels.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..capture import installed_distributions
from ..exceptions import InvalidInput, shown
from .bundle import write_bundle

if TYPE_CHECKING:
    from ..client import Client

PORT = 8080
# What a model server process imports (tests/test_serving_docker.py checks this list against
# the modules a real server loads). The model's own libraries come from the training run.
SERVING_DISTRIBUTIONS = (
    "numpy",
    "pandas",
    "pyarrow",
    "SQLAlchemy",
    "alembic",
    "starlette",
    "anyio",
    "uvicorn",
    "uvloop",
    "httptools",
    "click",
    "xxhash",
    "jupyter_core",
    "platformdirs",
    "cloudpickle",
    "joblib",
    "skops",
    "PyYAML",
    "python-dateutil",
    "typing_extensions",
)
# The distributions a flavor's models need, pinned to what the training run imported.
FLAVOR_DISTRIBUTIONS = {
    "sklearn": ("scikit-learn", "scipy", "threadpoolctl"),
    "xgboost": ("xgboost", "scipy"),
    "lightgbm": ("lightgbm", "scipy", "scikit-learn"),
    "statsmodels": ("statsmodels", "scipy", "patsy"),
}
# Folders of the package a server never needs.
_SKIPPED = {"labextension", "__pycache__", "etc"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def requirements(trained_with: dict[str, str], flavor: str, model_class: str) -> list[str]:
    """Pinned requirement lines: the model's libraries at the training run's versions (else
    this machine's), the server's libraries at this machine's."""
    trained = {_norm(k): v for k, v in trained_with.items()}
    wanted = list(FLAVOR_DISTRIBUTIONS.get(flavor, ()))
    if flavor == "pickle":  # any object with predict: its own library, found by its class
        top = model_class.partition(".")[0]
        if top and top not in ("__main__", "builtins"):
            wanted.append(top)
    lines: dict[str, str] = {}
    for dist in (*wanted, *SERVING_DISTRIBUTIONS):
        pinned = trained.get(_norm(dist)) if dist in wanted else None
        pinned = pinned or installed_distributions().get(_norm(dist))
        if pinned is not None:
            lines.setdefault(_norm(dist), f"{dist}=={pinned}")
    return sorted(lines.values(), key=str.lower)


def _python_minor(environment: dict[str, Any] | None) -> str:
    text = str((environment or {}).get("python") or "")
    parts = text.split(".")
    if len(parts) >= 2 and parts[0] == "3" and parts[1].isdigit():
        return f"3.{parts[1]}"
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def dockerfile(python: str, port: int = PORT) -> str:
    return f"""\
# Serves one registered model version (see model/model.json); built by
# `jupyter-mlops models build-docker`. Predictions are recorded in $JUPYTER_MLOPS_STORE (a
# team's PostgreSQL, say) or, by default, in a SQLite store inside the container.
FROM python:{python}-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PYTHONPATH=/app \\
    JUPYTER_MLOPS_HOME=/var/lib/mlops

WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt

COPY app/ /app/
COPY model/ /app/model/
RUN useradd --create-home --uid 10001 mlops \\
    && mkdir -p /var/lib/mlops \\
    && chown mlops /var/lib/mlops
USER 10001

EXPOSE {port}
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \\
    CMD ["python", "-c", \
         "import urllib.request as u; u.urlopen('http://127.0.0.1:{port}/ping', timeout=2)"]
# Any Host: in a container the name clients use is not known here. Set
# JUPYTER_MLOPS_SERVE_TOKEN to require a bearer token.
ENTRYPOINT ["python", "-m", "jupyter_mlops.cli", "serve", "/app/model", \
            "--host", "0.0.0.0", "--port", "{port}", "--allow-host", "*"]
"""


def entry_command(context: Path, port: int = PORT) -> list[str]:
    """The image's entry command, pointed at the context's own folders (what a test runs)."""
    return [
        sys.executable,
        "-m",
        "jupyter_mlops.cli",
        "serve",
        str(context / "model"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--allow-host",
        "*",
    ]


def _copy_package(dest: Path) -> int:
    """This package's Python files (and its version file) into ``dest/jupyter_mlops``."""
    source = Path(__file__).resolve().parents[1]
    count = 0
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part in _SKIPPED for part in rel.parts) or not path.is_file():
            continue
        if path.suffix not in (".py", ".ini", ".mako", ".json", ".typed"):
            continue
        target = dest / "jupyter_mlops" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        count += 1
    return count


def build_context(
    client: Client, target: str, out: str | os.PathLike[str], *, port: int = PORT
) -> dict[str, Any]:
    """Write the build context for ``target`` (``churn@champion``...) into ``out``, which
    must be empty or not exist; returns what was written."""
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"{shown(str(folder))} is not empty: give a new or empty folder.")
    folder.mkdir(parents=True, exist_ok=True)
    meta = write_bundle(client, target, folder / "model")
    run = client.get_run(meta["run_id"]) if meta.get("run_id") else None
    environment = run.environment if run is not None else None
    trained_with = dict((environment or {}).get("packages") or {})
    reqs = requirements(trained_with, str(meta["flavor"]), str(meta["model_class"]))
    python = _python_minor(environment)
    (folder / "requirements.txt").write_text("\n".join(reqs) + "\n", encoding="utf-8")
    (folder / "Dockerfile").write_text(dockerfile(python, port), encoding="utf-8")
    (folder / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n", encoding="utf-8")
    files = _copy_package(folder / "app")
    return {
        "context": str(folder),
        "model": meta["name"],
        "version": meta["version"],
        "sha256": meta["sha256"],
        "python": python,
        "requirements": reqs,
        "package_files": files,
        "port": port,
    }
