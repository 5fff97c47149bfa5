"""Datasets, artifacts and logged models in the SQL store: what runs read, wrote and made.

A mixin of :class:`SqlStore`, kept apart so that each module stays about one thing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...entities import Artifact, DatasetVersion, LoggedModel
from ...exceptions import Conflict, InvalidInput, NotFound
from ..base import NewDataset
from .schema import artifacts, datasets, logged_models, run_datasets, runs

# The event a new dataset version records; pipeline triggers match on it.
DATASET_VERSION_EVENT = "dataset.version"


class LineageMixin:
    """Needs from the class it is mixed into: an engine and the write helpers below."""

    engine: Engine

    if TYPE_CHECKING:

        def _write(self, fn: Any) -> Any: ...

        def _upsert(
            self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]]
        ) -> None: ...

        @staticmethod
        def _insert_event(
            conn: Connection, type_: str, key: str, payload: Mapping[str, Any], now_ms: int
        ) -> None: ...

    # Datasets --------------------------------------------------------------------------
    def _dataset(self, row: Any, role: str | None = None) -> DatasetVersion:
        return DatasetVersion(
            id=row.id,
            name=row.name,
            version=row.version,
            fingerprint=row.fingerprint,
            kind=row.kind,
            shape=row.shape,
            schema=row.schema or [],
            profile=row.profile,
            source=row.source,
            nbytes=row.nbytes,
            created_at=row.created_at,
            role=role,
        )

    def _run_datasets(self, conn: Connection, run_id: str) -> list[DatasetVersion]:
        stmt = (
            sa.select(datasets, run_datasets.c.role)
            .join(run_datasets, run_datasets.c.dataset_id == datasets.c.id)
            .where(run_datasets.c.run_id == run_id)
            .order_by(datasets.c.name)
        )
        return [self._dataset(r, r.role) for r in conn.execute(stmt)]

    def log_datasets(
        self, run_id: str, items: Iterable[tuple[NewDataset, str]], now_ms: int
    ) -> list[DatasetVersion]:
        items = list(items)

        def log(conn: Connection) -> list[DatasetVersion]:
            out = []
            for new, role in items:
                row = conn.execute(
                    sa.select(datasets).where(
                        datasets.c.name == new.name, datasets.c.fingerprint == new.fingerprint
                    )
                ).first()
                if row is None:
                    version = conn.execute(
                        sa.select(sa.func.coalesce(sa.func.max(datasets.c.version), 0)).where(
                            datasets.c.name == new.name
                        )
                    ).scalar_one()
                    values = dict(vars(new), id=uuid.uuid4().hex, version=version + 1)
                    conn.execute(sa.insert(datasets).values(**values, created_at=now_ms))
                    row = conn.execute(
                        sa.select(datasets).where(datasets.c.id == values["id"])
                    ).one()
                    # In the same transaction: a version exists iff its event does.
                    self._insert_event(
                        conn,
                        DATASET_VERSION_EVENT,
                        new.name,
                        {
                            "dataset_id": row.id,
                            "version": row.version,
                            "fingerprint": row.fingerprint,
                            "run_id": run_id,
                        },
                        now_ms,
                    )
                self._upsert_link(conn, run_id, row.id, role)
                out.append(self._dataset(row, role))
            return out

        return list(self._write(log))

    def _upsert_link(self, conn: Connection, run_id: str, dataset_id: str, role: str) -> None:
        exists = conn.execute(
            sa.select(run_datasets.c.run_id).where(
                run_datasets.c.run_id == run_id,
                run_datasets.c.dataset_id == dataset_id,
                run_datasets.c.role == role,
            )
        ).first()
        if exists is None:
            conn.execute(
                sa.insert(run_datasets).values(run_id=run_id, dataset_id=dataset_id, role=role)
            )

    def find_dataset(self, name: str, fingerprint: str) -> DatasetVersion | None:
        stmt = sa.select(datasets).where(
            datasets.c.name == name, datasets.c.fingerprint == fingerprint
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else self._dataset(row)

    def list_datasets(self, name: str | None = None) -> list[DatasetVersion]:
        stmt = sa.select(datasets).order_by(datasets.c.created_at.desc(), datasets.c.name)
        if name is not None:
            stmt = stmt.where(datasets.c.name == name)
        with self.engine.connect() as conn:
            return [self._dataset(r) for r in conn.execute(stmt)]

    def get_dataset(self, ref: str) -> DatasetVersion:
        name, _, version = ref.partition("@")
        with self.engine.connect() as conn:
            if version:
                if not version.lstrip("v").isdigit():
                    raise InvalidInput(f"Bad dataset version {version!r}: use name@3.")
                stmt = sa.select(datasets).where(
                    datasets.c.name == name, datasets.c.version == int(version.lstrip("v"))
                )
            else:
                stmt = (
                    sa.select(datasets)
                    .where(
                        sa.or_(
                            datasets.c.id.like(ref + "%"),
                            datasets.c.fingerprint == ref,
                            datasets.c.name == ref,
                        )
                    )
                    .order_by(datasets.c.version.desc())
                )
            rows = conn.execute(stmt.limit(2)).all()
        if not rows:
            raise NotFound(f"No dataset version {ref!r}. List them with `jupyter-mlops data`.")
        if len(rows) > 1 and rows[0].name != rows[1].name:
            raise InvalidInput(f"Dataset reference {ref!r} is ambiguous; give more characters.")
        return self._dataset(rows[0])

    def dataset_runs(self, dataset_id: str) -> list[tuple[str, str]]:
        stmt = (
            sa.select(run_datasets.c.run_id, run_datasets.c.role)
            .join(runs, runs.c.id == run_datasets.c.run_id)
            .where(run_datasets.c.dataset_id == dataset_id)
            .order_by(runs.c.start_time)
        )
        with self.engine.connect() as conn:
            return [(r.run_id, r.role) for r in conn.execute(stmt)]

    # Artifacts and models --------------------------------------------------------------
    def record_artifact(self, run_id: str, artifact: Artifact) -> None:
        row = {"run_id": run_id, **vars(artifact)}
        self._write(lambda conn: self._upsert(conn, artifacts, [row]))

    def _artifacts(self, conn: Connection, run_id: str) -> list[Artifact]:
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

    def _model(self, r: Any) -> LoggedModel:
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

    def record_model(self, model: LoggedModel) -> None:
        def insert(conn: Connection) -> None:
            if conn.execute(
                sa.select(logged_models.c.id).where(logged_models.c.id == model.id)
            ).first():
                raise Conflict(f"Model {model.id} is already recorded.")
            conn.execute(sa.insert(logged_models).values(**vars(model)))

        self._write(insert)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(logged_models).where(logged_models.c.id.like(model_id + "%")).limit(2)
            ).all()
        if len(rows) != 1:
            raise NotFound(f"No logged model {model_id!r}.")
        return self._model(rows[0])
