"""What every domain module of the Client stands on: the location, the store, the artifact
store and the buffered writer, opened once per Client."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..config import StoreLocation, resolve_location
from ..store import open_store
from ..store.artifacts import LocalArtifactStore
from .writer import MetricWriter

if TYPE_CHECKING:
    from ..store.base import Store


class ClientBase:
    """Opens the store at a location. The domain mixins (``client/runs.py`` ...) use
    ``self.store`` only through the interface of their own domain (``store/base.py``)."""

    def __init__(self, store: str | os.PathLike[str] | StoreLocation | None = None) -> None:
        self.location: StoreLocation = (
            store if isinstance(store, StoreLocation) else resolve_location(store)
        )
        home = self.location.home
        if home is not None:
            home.mkdir(parents=True, exist_ok=True)
        self.store: Store = open_store(self.location.db_url)
        self.artifacts = LocalArtifactStore(self.location.artifact_root)
        self.writer = MetricWriter(self.store)

    def close(self) -> None:
        """Write what is buffered, stop the writer and release the store's connections."""
        try:
            self.writer.close()
        finally:
            self.store.close()
