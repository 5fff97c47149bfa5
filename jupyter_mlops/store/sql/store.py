"""The SQL store (SQLite by default, PostgreSQL for teams): every domain's interface of
:class:`~jupyter_mlops.store.base.Store`, one mixin per domain."""

from __future__ import annotations

import sqlalchemy as sa

from ...exceptions import InvalidInput
from ..base import Store
from .artifacts import ArtifactsMixin
from .ct import ContinuousTrainingMixin
from .datasets import DatasetsMixin
from .engine import create_engine
from .events import EventsMixin
from .leases import LeasesMixin
from .metrics import MetricsMixin
from .migrate import ensure_schema
from .monitoring import MonitoringMixin
from .registry import RegistryMixin
from .runs import RunsMixin
from .schedules import SchedulesMixin
from .serving import ServingMixin


class SqlStore(
    RunsMixin,
    MetricsMixin,
    DatasetsMixin,
    ArtifactsMixin,
    EventsMixin,
    SchedulesMixin,
    LeasesMixin,
    ContinuousTrainingMixin,  # extends RegistryMixin (its lock and audit)
    RegistryMixin,
    ServingMixin,
    MonitoringMixin,
    Store,
):
    """A store in any SQLAlchemy database; the schema is created or upgraded on open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        try:
            ensure_schema(self.engine)
        except sa.exc.OperationalError as exc:
            self.engine.dispose()
            raise InvalidInput(
                f"Cannot open the store at {url!r}: {exc.orig or exc}. Check that the "
                "database server is running and the URL, user and password are right."
            ) from exc
        self.dialect = self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()
