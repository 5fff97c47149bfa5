"""jupyter-mlops: the ML lifecycle inside JupyterLab.

``%load_ext jupyter_mlops`` enables ``%%track`` and ``%mlops``; the functions below are the
fluent API for code outside tracked cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .client import Client
    from .entities import (
        DatasetVersion,
        Experiment,
        LoggedModel,
        Metric,
        Run,
        RunInfo,
        RunStatus,
    )
    from .exceptions import (
        Conflict,
        ExecutionError,
        IntegrityError,
        InvalidInput,
        MlopsError,
        MlopsWarning,
        NotFound,
    )
    from .tracking.fluent import (
        ActiveRun,
        active_run,
        end_run,
        flush,
        get_client,
        log_artifact,
        log_dataset,
        log_metric,
        log_metrics,
        log_model,
        log_param,
        log_params,
        set_store,
        set_tag,
        set_tags,
        start_run,
    )

# The public names, imported on first use: a process that only needs part of the package
# (the CLI, a server extension) does not pay for the rest.
_LAZY = {
    "Client": "client",
    **dict.fromkeys(
        ["DatasetVersion", "Experiment", "LoggedModel", "Metric", "Run", "RunInfo", "RunStatus"],
        "entities",
    ),
    **dict.fromkeys(
        [
            "Conflict",
            "ExecutionError",
            "IntegrityError",
            "InvalidInput",
            "MlopsError",
            "MlopsWarning",
            "NotFound",
        ],
        "exceptions",
    ),
    **dict.fromkeys(
        [
            "ActiveRun",
            "active_run",
            "end_run",
            "flush",
            "get_client",
            "log_artifact",
            "log_dataset",
            "log_metric",
            "log_metrics",
            "log_model",
            "log_param",
            "log_params",
            "set_store",
            "set_tag",
            "set_tags",
            "start_run",
        ],
        "tracking.fluent",
    ),
}


__getattr__ = lazy_exports(__name__, _LAZY)


try:  # written by the build from labextension/package.json, the one version source
    from .version import __version__
except ImportError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ActiveRun",
    "Client",
    "Conflict",
    "DatasetVersion",
    "ExecutionError",
    "Experiment",
    "IntegrityError",
    "InvalidInput",
    "LoggedModel",
    "Metric",
    "MlopsError",
    "MlopsWarning",
    "NotFound",
    "Run",
    "RunInfo",
    "RunStatus",
    "active_run",
    "end_run",
    "fingerprint",
    "flush",
    "get_client",
    "load_model",
    "log_artifact",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "set_store",
    "set_tag",
    "set_tags",
    "start_run",
]


def fingerprint(obj: Any) -> str:
    """Content fingerprint ``"xxh3-128:<hex>"`` of in-memory data (pandas, numpy, pyarrow,
    polars, scipy sparse), bytes, a file or a folder (:func:`jupyter_mlops.data.fingerprint`)."""
    from .data import fingerprint as _fingerprint

    return _fingerprint(obj)


def load_model(ref: str) -> Any:
    """Load a logged model by id or ``runs:/<run_id>/<name>`` (sha256-verified)."""
    from .tracking.fluent import get_client

    return get_client().load_model(ref)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server import MlopsApp

    return [{"module": "jupyter_mlops", "app": MlopsApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built JupyterLab extension is (``jupyter labextension develop`` reads it)."""
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def load_ipython_extension(ipython: Any) -> None:
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
