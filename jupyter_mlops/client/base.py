"""What every domain module of the Client stands on: the location, the store, the artifact
store and the buffered writer, opened once per Client."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from ..config import StoreLocation, resolve_location
from ..store import open_records, open_store
from ..store.artifacts import LocalArtifactStore
from .writer import MetricWriter

if TYPE_CHECKING:
    from ..store.base import RecordStore, Store


class ClientBase:
    """Opens the store at a location. The domain mixins (``client/runs.py`` ...) use
    ``self.store`` only through the interface of their own domain (``store/base.py``).

    The store is opened here, so that a wrong URL, a database that is down or a schema to
    upgrade is met at once, and the first write does not wait for it. With ``lazy``, a SQLite
    file already at the current schema is opened on first use instead: runs are recorded
    and listed through :attr:`records` (plain ``sqlite3``), so a process that only records
    and lists them never loads SQLAlchemy (the CLI is such a process: ``runs list`` and a
    pipeline re-run from the cache start in a fraction of the time). Any other store is
    opened at once all the same.
    """

    def __init__(
        self, store: str | os.PathLike[str] | StoreLocation | None = None, *, lazy: bool = False
    ) -> None:
        self.location: StoreLocation = (
            store if isinstance(store, StoreLocation) else resolve_location(store)
        )
        home = self.location.home
        if home is not None:
            home.mkdir(parents=True, exist_ok=True)
        self._records = open_records(self.location.db_url) if lazy else None
        if self._records is None:
            self.store  # noqa: B018 - opened (created, upgraded) now, its errors raised here
        self.artifacts = LocalArtifactStore(self.location.artifact_root)
        self.writer = MetricWriter(lambda: self.records)

    @functools.cached_property
    def store(self) -> Store:
        return open_store(self.location.db_url)

    @property
    def records(self) -> RecordStore:
        """Where runs are recorded and read: the store once it is open (or when the backend
        has nothing lighter), else what was opened without it."""
        if self._records is None or "store" in self.__dict__:
            return self.store
        return self._records

    def close(self) -> None:
        """Write what is buffered, stop the writer and release the store's connections."""
        try:
            self.writer.close()
        finally:
            if "store" in self.__dict__:
                self.store.close()
            if self._records is not None:
                self._records.close()
