"""jupyter-mlops: the ML lifecycle inside JupyterLab.

``%load_ext jupyter_mlops`` enables ``%%track`` and ``%mlops``; the functions below are the
fluent API for code outside tracked cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .automation.promote import Decision
    from .client import Client
    from .client.ct_config import CtPolicy
    from .entities import (
        AlertState,
        DatasetVersion,
        Experiment,
        GateReport,
        LoggedModel,
        Metric,
        ModelVersion,
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
    from .monitoring.check import WindowReport
    from .monitoring.monitor import MonitorReport
    from .monitoring.reference import Reference
    from .serving import ServerHandle
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
            "evaluate_alerts",
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
    "build_reference",
    "check_dataset",
    "end_run",
    "evaluate_alerts",
    "fingerprint",
    "flush",
    "get_client",
    "load_model",
    "log_artifact",
    "log_dataset",
    "log_labels",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "monitor",
    "promote_best",
    "promote_model",
    "register_model",
    "serve",
    "set_ct_policy",
    "set_store",
    "set_tag",
    "set_tags",
    "start_run",
    "validate_model",
]


def fingerprint(obj: Any) -> str:
    """Content fingerprint ``"xxh3-128:<hex>"`` of in-memory data (pandas, numpy, pyarrow,
    polars, scipy sparse), bytes, a file or a folder (:func:`jupyter_mlops.data.fingerprint`)."""
    from .data import fingerprint as _fingerprint

    return _fingerprint(obj)


def load_model(ref: str) -> Any:
    """Load a model after checking its sha256: a logged model by id or
    ``runs:/<run_id>/<name>``, or a registered version by ``models:/churn@champion``,
    ``models:/churn/Production`` or ``models:/churn/3``."""
    from .tracking.fluent import get_client

    return get_client().load_model(ref)


def register_model(
    source: str,
    name: str,
    description: str | None = None,
    tags: dict[str, Any] | None = None,
) -> ModelVersion:
    """Register a logged model (``runs:/<run_id>/<model name>`` or a logged model's id) as
    the next version of ``name``, created when missing. In a notebook, ``%mlops register
    NAME`` registers the model the last tracked cell fitted."""
    from .tracking.fluent import get_client

    return get_client().register_model(source, name, description, tags)


def validate_model(name: str, version: int | str, holdout: Any = None) -> GateReport:
    """Run ``name``'s validation gates on ``version`` (``holdout``: a DataFrame instead of
    the configured dataset version) and store the report; shown as a table in a notebook."""
    from .registry import validate
    from .tracking.fluent import get_client

    return validate(get_client(), name, version, holdout=holdout, progress=True)


def promote_model(
    name: str,
    version: int | str,
    stage: str = "Production",
    *,
    reason: str | None = None,
    force: bool = False,
    archive_existing: bool = True,
    holdout: Any = None,
) -> ModelVersion:
    """Move ``version`` of ``name`` to ``stage``, running the gates first when the stage is
    guarded (a failure or missing approvals raise ``PromotionBlocked`` unless ``force`` with
    a ``reason``, which is audited)."""
    from .registry import promote
    from .tracking.fluent import get_client

    return promote(
        get_client(),
        name,
        version,
        stage,
        reason=reason,
        force=force,
        archive_existing=archive_existing,
        holdout=holdout,
        progress=True,
    )


def serve(target: str, **options: Any) -> ServerHandle:
    """Serve a registered version over HTTP in its own process (it outlives this kernel):
    ``mlops.serve("churn@champion")`` follows the alias, ``"churn/Production"`` the stage,
    ``"churn/3"`` one version. ``options`` are those of ``jupyter-mlops serve`` (``port``,
    ``host``, ``token``, ``workers``, ``idle_timeout``, ``max_batch``, ``max_wait_ms``,
    ``record``...). Returns a handle with ``url``, ``predict(data)`` and ``stop()``."""
    from .serving import ServeOptions, start_server
    from .tracking.fluent import get_client

    return start_server(get_client(), target, ServeOptions(**options))


def monitor(
    name: str,
    *,
    window: str | None = None,
    rows: int | None = None,
    windows: int = 24,
    version: int | None = None,
) -> MonitorReport:
    """Check ``name``'s recorded traffic against its reference, window by window: drift
    per column, data quality, quality from labels and estimated without them, latency and
    load. ``window``: each window's duration (``"1h"``, the model's default); ``rows``:
    windows of that many rows instead. ``%mlops monitor NAME`` shows it as a dashboard."""
    from .monitoring.monitor import monitor as run_monitor
    from .tracking.fluent import get_client

    return run_monitor(
        get_client(),
        name,
        window=window,
        rows=rows,
        windows=windows,
        version=version,
        progress=True,
    )


def evaluate_alerts(name: str) -> list[AlertState]:
    """Judge ``name``'s alert rules on its latest complete windows now (the scheduler does it
    every ``alerts.every``); each rule's state, a change stored as a ``monitor.alert`` event."""
    from .monitoring.alerts import evaluate_alerts as evaluate
    from .tracking.fluent import get_client

    return evaluate(get_client(), name)


def check_dataset(
    name: str,
    version: int | str,
    data: Any = None,
    labels: Any = None,
    *,
    dataset: str | None = None,
    target: str | None = None,
) -> WindowReport:
    """Check a table against ``name``'s ``version``'s reference as one window: drift, data
    quality, and the model's quality on it from ``labels`` (or the ``target`` column); the
    table is a frame (``data``) or a recorded file dataset (``dataset="holdout.csv@3"``)."""
    from .monitoring.monitor import check_dataset as check
    from .tracking.fluent import get_client

    return check(get_client(), name, version, data, labels, dataset=dataset, target=target)


def build_reference(
    name: str,
    version: int | str,
    data: Any = None,
    labels: Any = None,
    *,
    dataset: str | None = None,
    target: str | None = None,
) -> Reference:
    """(Re)build the monitoring reference of ``name``'s ``version`` from its training data:
    a frame (``data``, with ``labels`` or a ``target`` column) or a recorded file dataset
    (``dataset="train@2"``). ``%%track`` builds it already when a cell fits the model."""
    from .monitoring.monitor import build_reference as build
    from .tracking.fluent import get_client

    return build(get_client(), name, version, data, labels, dataset=dataset, target=target)


def log_labels(name: str, labels: dict[str, Any]) -> int:
    """Record the true outcome of served predictions: ``{request_id: label}`` (a list of
    labels for a request of several rows); monitoring's quality reads them."""
    from .tracking.fluent import get_client

    return get_client().log_labels(name, labels)


def promote_best(
    name: str,
    versions: list[int] | None = None,
    *,
    run_id: str | None = None,
    metric: str | None = None,
    holdout: Any = None,
    mode: str | None = None,
    to: str | None = None,
    rollout: dict[str, Any] | None = None,
) -> Decision:
    """Validate ``name``'s candidate versions with its gates and promote the best that passes
    by ``metric``, as its continuous-training policy says (auto or approval; at once, or
    through a shadow or canary trial). Candidates: ``versions``, else those registered by
    the pipeline run this notebook is a step of (or ``run_id``'s). The champion is kept when
    none passes; the decision is on the model's timeline and the registry's audit."""
    from .automation.promote import promote_best as best
    from .tracking.fluent import get_client

    return best(
        get_client(), name, versions, run_id=run_id, metric=metric, holdout=holdout,
        mode=mode, to=to, rollout=rollout,
    )  # fmt: skip


def set_ct_policy(name: str, policy: dict[str, Any] | str) -> CtPolicy:
    """Set ``name``'s continuous-training policy (a dict or YAML; see the README): what
    triggers a retrain, which pipeline retrains on what data, how the best candidate is
    promoted and rolled out, and the guardrails. Its pipeline is validated first."""
    from .automation.policy import set_policy
    from .tracking.fluent import get_client

    return set_policy(get_client(), name, policy)


def timeline(name: str, limit: int = 3) -> str:
    """``name``'s newest continuous-training loops, step by step with their times."""
    from .automation.timeline import timeline_text, timelines
    from .tracking.fluent import get_client

    return timeline_text(timelines(get_client(), name, limit=limit))


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
