"""Dataset versions in the SQL store (:class:`~jupyter_mlops.store.base.DatasetStore`): what
runs read and wrote.

Needs from the class it is mixed into: ``engine`` and ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`), and ``_insert_event`` (the events mixin), so
that a new version and its ``dataset.version`` event are one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import DATASET_VERSION_EVENT, DatasetVersion
from ...exceptions import InvalidInput, NotFound, shown
from ..base import NewDataset
from .base import SqlBase
from .records import dataset_of
from .schema import datasets, run_datasets, runs


class DatasetsMixin(SqlBase):
    if TYPE_CHECKING:

        def _insert_event(
            self, conn: Connection, type_: str, key: str, payload: Mapping[str, Any], now_ms: int
        ) -> int: ...

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
                self._link(conn, run_id, row.id, role)
                out.append(dataset_of(row._mapping, role))
            return out

        return list(self._write(log))

    @staticmethod
    def _link(conn: Connection, run_id: str, dataset_id: str, role: str) -> None:
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
        return None if row is None else dataset_of(row._mapping)

    def list_datasets(self, name: str | None = None) -> list[DatasetVersion]:
        stmt = sa.select(datasets).order_by(datasets.c.created_at.desc(), datasets.c.name)
        if name is not None:
            stmt = stmt.where(datasets.c.name == name)
        with self.engine.connect() as conn:
            return [dataset_of(r._mapping) for r in conn.execute(stmt)]

    def get_dataset(self, ref: str) -> DatasetVersion:
        name, _, version = ref.partition("@")
        with self.engine.connect() as conn:
            if version:
                number = version.removeprefix("v")
                if not number.isdigit() or len(number) > 18:
                    raise InvalidInput(f"Bad dataset version {shown(version)}: use name@3.")
                stmt = sa.select(datasets).where(
                    datasets.c.name == name, datasets.c.version == int(number)
                )
            else:
                stmt = (
                    sa.select(datasets)
                    .where(
                        sa.or_(
                            datasets.c.id.startswith(ref, autoescape=True),
                            datasets.c.fingerprint == ref,
                            datasets.c.name == ref,
                        )
                    )
                    .order_by(datasets.c.version.desc())
                )
            rows = conn.execute(stmt.limit(2)).all()
        if not rows:
            raise NotFound(f"No dataset version {shown(ref)}. List them with `jupyter-mlops data`.")
        if len(rows) > 1 and rows[0].name != rows[1].name:
            raise InvalidInput(
                f"Dataset reference {shown(ref)} is ambiguous; give more characters."
            )
        return dataset_of(rows[0]._mapping)

    def dataset_runs(self, dataset_id: str) -> list[tuple[str, str]]:
        stmt = (
            sa.select(run_datasets.c.run_id, run_datasets.c.role)
            .join(runs, runs.c.id == run_datasets.c.run_id)
            .where(run_datasets.c.dataset_id == dataset_id)
            .order_by(runs.c.start_time)
        )
        with self.engine.connect() as conn:
            return [(r.run_id, r.role) for r in conn.execute(stmt)]
