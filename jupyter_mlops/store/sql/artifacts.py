"""The artifact index in the SQL store (:class:`~jupyter_mlops.store.base.ArtifactIndex`):
which blobs belong to which run, as files or as logged models. A run's artifact links and
models are recorded and read with the run (:class:`~.records.TextRecords`).

Needs from the class it is mixed into: ``engine`` and ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import LoggedModel
from ...exceptions import Conflict, NotFound, shown
from .base import SqlBase
from .records import model_of
from .schema import artifacts, logged_models


class ArtifactsMixin(SqlBase):
    def referenced_blobs(self) -> set[str]:
        with self.engine.connect() as conn:
            shas = set(conn.execute(sa.select(artifacts.c.sha256).distinct()).scalars())
            shas |= set(conn.execute(sa.select(logged_models.c.sha256).distinct()).scalars())
        return shas

    # Logged models ---------------------------------------------------------------------
    def record_model(self, model: LoggedModel) -> None:
        def insert(conn: Connection) -> None:
            if conn.execute(
                sa.select(logged_models.c.id).where(logged_models.c.id == model.id)
            ).first():
                raise Conflict(f"Model {model.id} is already recorded.")
            conn.execute(sa.insert(logged_models).values(**vars(model)))

        self._write(insert)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        stmt = sa.select(logged_models).where(
            logged_models.c.id.startswith(model_id, autoescape=True)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.limit(2)).all()
        if len(rows) != 1:
            raise NotFound(f"No logged model {shown(model_id)}.")
        return model_of(rows[0]._mapping)
