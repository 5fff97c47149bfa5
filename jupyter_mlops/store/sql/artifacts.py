"""The artifact index in the SQL store (:class:`~jupyter_mlops.store.base.ArtifactIndex`):
which blobs belong to which run, as files or as logged models.

Needs from the class it is mixed into: ``engine``, ``_write`` and ``_upsert``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import Artifact, LoggedModel
from ...exceptions import Conflict, NotFound, shown
from .base import SqlBase
from .schema import artifacts, logged_models


class ArtifactsMixin(SqlBase):
    def record_artifacts(self, run_id: str, items: Sequence[Artifact]) -> None:
        rows = [{"run_id": run_id, **vars(artifact)} for artifact in items]
        self._write(lambda conn: self._upsert(conn, artifacts, rows))

    @staticmethod
    def _artifacts(conn: Connection, run_id: str) -> list[Artifact]:
        stmt = sa.select(artifacts).where(artifacts.c.run_id == run_id).order_by(artifacts.c.path)
        return [
            Artifact(r.path, r.sha256, r.size, r.kind, r.created_at) for r in conn.execute(stmt)
        ]

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        with self.engine.connect() as conn:
            return self._artifacts(conn, run_id)

    def referenced_blobs(self) -> set[str]:
        with self.engine.connect() as conn:
            shas = set(conn.execute(sa.select(artifacts.c.sha256).distinct()).scalars())
            shas |= set(conn.execute(sa.select(logged_models.c.sha256).distinct()).scalars())
        return shas

    # Logged models ---------------------------------------------------------------------
    @staticmethod
    def _model(r: Any) -> LoggedModel:
        return LoggedModel(
            id=r.id,
            run_id=r.run_id,
            name=r.name,
            flavor=r.flavor,
            model_class=r.model_class,
            artifact_path=r.artifact_path,
            sha256=r.sha256,
            signature=r.signature,
            params=r.params or {},
            created_at=r.created_at,
        )

    def _run_models(self, conn: Connection, run_id: str) -> list[LoggedModel]:
        stmt = (
            sa.select(logged_models)
            .where(logged_models.c.run_id == run_id)
            .order_by(logged_models.c.created_at)
        )
        return [self._model(r) for r in conn.execute(stmt)]

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
        return self._model(rows[0])

    def latest_model_sha(self, name: str) -> str | None:
        stmt = (
            sa.select(logged_models.c.sha256)
            .where(logged_models.c.name == name)
            .order_by(logged_models.c.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()
