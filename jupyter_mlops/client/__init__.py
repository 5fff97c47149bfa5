"""The Client: the one door to the stores, where every rule and validation lives.

One module per domain (``runs``, ``datasets``, ``artifacts``, ``models``, ``registry``,
``events``, ``schedules``, ``serving``, ``monitoring``, ``ct``; ``validation`` holds the checks they
share); :class:`Client` joins them, so ``Client(...).log_metric(...)`` and every other method
stay where users find them. Features (tracking, pipelines, ...) use the Client, never
``client.store``: when they need a new query, the Client grows a method.
"""

from __future__ import annotations

import os
import threading

from ..store.base import NewDataset, RunPage
from .artifacts import ArtifactsMixin
from .ct import ContinuousTrainingMixin
from .datasets import DatasetsMixin
from .events import EventsMixin
from .lineage import LineageMixin
from .models import ModelsMixin
from .monitoring import MonitoringMixin
from .registry import RegistryMixin
from .runs import DEFAULT_EXPERIMENT, MAX_PAGE, STALE_AFTER_S, RunsMixin
from .schedules import SchedulesMixin
from .serving import ServingMixin
from .validation import metric_row, now_ms, param_text, validate_artifact_path, validate_key

__all__ = [
    "DEFAULT_EXPERIMENT",
    "MAX_PAGE",
    "STALE_AFTER_S",
    "Client",
    "NewDataset",
    "RunPage",
    "metric_row",
    "now_ms",
    "param_text",
    "validate_artifact_path",
    "validate_key",
]


class Client(
    RunsMixin,
    DatasetsMixin,
    ArtifactsMixin,
    ModelsMixin,
    RegistryMixin,
    LineageMixin,
    EventsMixin,
    SchedulesMixin,
    ServingMixin,
    MonitoringMixin,
    ContinuousTrainingMixin,
):
    """Programmatic access to a store.

    Args:
        store: a database URL, a store folder, or None to use the configured location
            (``JUPYTER_MLOPS_STORE``, ``JUPYTER_MLOPS_HOME``, ``.mlops/``, the Jupyter data dir).
        lazy: open an existing SQLite store on first use, listing its runs meanwhile without
            loading SQLAlchemy (for a short process that may only read; see ``ClientBase``).
    """

    _shared: dict[str, Client] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls, store: str | os.PathLike[str] | None = None) -> Client:
        """One Client per location per process, so the fluent API and magics share a writer."""
        from ..config import resolve_location

        key = str(resolve_location(store).db_url)
        with cls._shared_lock:
            client = cls._shared.get(key)
            if client is None:
                client = cls._shared[key] = cls(store)
            return client

    @classmethod
    def close_shared(cls) -> None:
        """Close every shared Client of this process (their writers flush first)."""
        with cls._shared_lock:
            clients = list(cls._shared.values())
            cls._shared.clear()
        for client in clients:
            client.close()

    @classmethod
    def flush_shared(cls) -> None:
        """Write the buffered metrics of every shared Client now."""
        with cls._shared_lock:
            clients = list(cls._shared.values())
        for client in clients:
            client.writer.flush()
