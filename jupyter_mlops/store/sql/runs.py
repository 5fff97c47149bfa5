"""Experiments, runs, params and tags in the SQL store (``store.base.RunStore``).

Needs from the class it is mixed into: ``engine``, ``_write`` and ``_upsert``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`), and the other domains' readers used to
assemble a whole run (``_run_datasets``, ``_run_models``, ``_artifacts``).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import DatasetVersion, Experiment, LoggedModel, Run, RunStatus
from ...exceptions import InvalidInput, NotFound, shown
from ...query import Node, OrderItem
from ..base import RunPage, dead_processes
from .base import SqlBase
from .runsql import RunningRun, RunQueries, chunks, experiment_of, run_info
from .schema import (
    artifacts,
    experiments,
    latest_metrics,
    logged_models,
    metric_chunks,
    params,
    run_datasets,
    runs,
    tags,
)
from .schema import tags as tags_table  # where a method's argument is called tags

if TYPE_CHECKING:
    from ...entities import Artifact


def as_number(text: str) -> float | None:
    """A param's numeric value (for numeric comparisons and sorting), if it has one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def run_queries(conn: Connection) -> RunQueries:
    """The run reads of :mod:`.runsql` (the SQLAlchemy-free text that plain ``sqlite3`` also
    runs) on ``conn``, in its driver's parameter style."""
    qmark = conn.dialect.paramstyle == "qmark"

    def execute(sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        text = sql if qmark else sql.replace("?", "%s")
        return list(conn.exec_driver_sql(text, tuple(params)).all())

    return RunQueries(execute)


class RunsMixin(SqlBase):
    if TYPE_CHECKING:

        def _run_datasets(self, conn: Connection, run_id: str) -> list[DatasetVersion]: ...

        def _run_models(self, conn: Connection, run_id: str) -> list[LoggedModel]: ...

        def _artifacts(self, conn: Connection, run_id: str) -> list[Artifact]: ...

    # Experiments -----------------------------------------------------------------------
    def get_or_create_experiment(self, name: str, now_ms: int) -> Experiment:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(experiments).where(experiments.c.name == name)).first()
        if row is not None:
            return experiment_of(row._mapping)

        def create(conn: Connection) -> Any:
            found = conn.execute(sa.select(experiments).where(experiments.c.name == name)).first()
            if found is not None:
                return found
            conn.execute(sa.insert(experiments).values(name=name, created_at=now_ms))
            return conn.execute(sa.select(experiments).where(experiments.c.name == name)).one()

        return experiment_of(self._write(create)._mapping)

    def get_experiment_by_name(self, name: str) -> Experiment:
        with self.engine.connect() as conn:
            return run_queries(conn).get_experiment_by_name(name)

    def running_runs(self) -> list[RunningRun]:
        with self.engine.connect() as conn:
            return run_queries(conn).running_runs()

    def list_experiments(self) -> list[Experiment]:
        counts = (
            sa.select(runs.c.experiment_id, sa.func.count().label("n"))
            .group_by(runs.c.experiment_id)
            .subquery()
        )
        stmt = (
            sa.select(experiments, sa.func.coalesce(counts.c.n, 0).label("run_count"))
            .select_from(experiments.outerjoin(counts, counts.c.experiment_id == experiments.c.id))
            .order_by(experiments.c.created_at.desc(), experiments.c.id.desc())
        )
        with self.engine.connect() as conn:
            return [experiment_of(r._mapping, r.run_count) for r in conn.execute(stmt)]

    # Runs ------------------------------------------------------------------------------
    def create_run(
        self, experiment_id: int, attrs: dict[str, Any], tags: dict[str, str] | None = None
    ) -> str:
        run_id = attrs.get("id") or uuid.uuid4().hex
        row = {
            "id": run_id,
            "experiment_id": experiment_id,
            "status": RunStatus.RUNNING.value,
            "heartbeat": attrs["start_time"],
            **attrs,
        }
        tag_rows = [{"run_id": run_id, "key": k, "value": v} for k, v in (tags or {}).items()]

        def insert(conn: Connection) -> None:
            conn.execute(sa.insert(runs).values(**row))
            if tag_rows:
                conn.execute(sa.insert(tags_table), tag_rows)

        self._write(insert)
        return str(run_id)

    def update_run(self, run_id: str, attrs: dict[str, Any]) -> None:
        unknown = set(attrs) - set(runs.c.keys())
        if unknown:
            raise InvalidInput(f"Unknown run attributes: {sorted(unknown)}")

        def update(conn: Connection) -> None:
            result = conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**attrs))
            if result.rowcount == 0:
                raise NotFound(f"No run with id {shown(run_id)}.")

        self._write(update)

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        if not run_ids:
            return
        stmt = (
            sa.update(runs)
            .where(runs.c.id.in_(list(run_ids)), runs.c.status == RunStatus.RUNNING.value)
            .values(heartbeat=now_ms)
        )
        self._write(lambda conn: conn.execute(stmt))

    def reconcile_dead_runs(
        self,
        stale_before_ms: int,
        host: str,
        is_alive: Callable[[int, int | None], bool],
        now_ms: int,
    ) -> list[str]:
        running = runs.c.status == RunStatus.RUNNING.value
        dead = dead_processes(self.running_runs(), host, is_alive, stale_before_ms)
        if not dead:
            return []

        def kill(conn: Connection) -> None:
            for run_id, last_beat in dead.items():
                conn.execute(
                    sa.update(runs)
                    .where(runs.c.id == run_id, running)
                    .values(
                        status=RunStatus.KILLED.value,
                        end_time=last_beat,
                        error_name="ProcessDied",
                        error_value="The process running this run stopped without ending it "
                        f"(last heartbeat at {last_beat} ms, detected at {now_ms} ms).",
                    )
                )

        self._write(kill)
        return list(dead)

    def resolve_run_id(self, prefix: str) -> str:
        prefix = prefix.strip().lower()
        if not prefix or len(prefix) > 32 or not all(ch in "0123456789abcdef" for ch in prefix):
            raise NotFound(f"No run with id {shown(prefix)}: run ids are 1-32 hexadecimal digits.")
        with self.engine.connect() as conn:
            if len(prefix) == 32:
                found = conn.execute(sa.select(runs.c.id).where(runs.c.id == prefix)).first()
                ids = [found.id] if found else []
            else:
                ids = list(
                    conn.execute(
                        sa.select(runs.c.id).where(runs.c.id.like(prefix + "%")).limit(2)
                    ).scalars()
                )
        if not ids:
            raise NotFound(f"No run with id {prefix!r}. List runs with `jupyter-mlops runs list`.")
        if len(ids) > 1:
            raise InvalidInput(f"Run id prefix {prefix!r} is ambiguous; give more characters.")
        return str(ids[0])

    def get_run(self, run_id: str) -> Run:
        with self.engine.connect() as conn:
            row: Any = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                raise NotFound(f"No run with id {shown(run_id)}.")
            queries = run_queries(conn)
            run = Run(info=run_info(row._mapping, queries.experiment_names()))
            run.environment = row.environment or {}
            queries.attach({run_id: run})
            for version in self._run_datasets(conn, run_id):
                (run.inputs if version.role == "input" else run.outputs).append(version)
            run.models = self._run_models(conn, run_id)
            run.artifacts = self._artifacts(conn, run_id)
        return run

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None,
        filter: Node | None,
        order_by: Sequence[OrderItem],
        limit: int,
        offset: int,
        with_total: bool = True,
    ) -> RunPage:
        with self.engine.connect() as conn:
            return run_queries(conn).search_runs(
                experiment_ids, filter, order_by, limit, offset, with_total
            )

    def delete_runs(self, run_ids: Sequence[str]) -> int:
        ids = list(run_ids)
        attached = (
            params,
            metric_chunks,
            latest_metrics,
            tags,
            run_datasets,
            artifacts,
            logged_models,
        )

        def delete(conn: Connection) -> int:
            n = 0
            for chunk in chunks(ids):
                for table in attached:
                    conn.execute(sa.delete(table).where(table.c.run_id.in_(chunk)))
                n += conn.execute(sa.delete(runs).where(runs.c.id.in_(chunk))).rowcount
            return n

        return int(self._write(delete))

    # Params and tags -------------------------------------------------------------------
    def log_params(self, run_id: str, values: dict[str, str]) -> None:
        rows = [
            {"run_id": run_id, "key": k, "value": v, "value_num": as_number(v)}
            for k, v in values.items()
        ]
        self._write(lambda conn: self._upsert(conn, params, rows))

    def set_tags(self, run_id: str, values: dict[str, str]) -> None:
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()]
        self._write(lambda conn: self._upsert(conn, tags, rows))

    def change_token(self) -> str:
        # Three aggregates over indexed columns: cheap enough to poll every second.
        stmt = sa.select(
            sa.func.count(),
            sa.func.max(runs.c.start_time),
            sa.func.max(runs.c.end_time),
        ).select_from(runs)
        with self.engine.connect() as conn:
            count, started, ended = conn.execute(stmt).one()
        return f"{count}-{started or 0}-{ended or 0}"

    def latest_run_with_tag(
        self, key: str, value: str, status: RunStatus | None = RunStatus.FINISHED
    ) -> str | None:
        """The newest run carrying tag ``key = value`` (and ``status``), through the
        ``(key, value, run_id)`` index."""
        stmt = (
            sa.select(runs.c.id)
            .join(tags, tags.c.run_id == runs.c.id)
            .where(tags.c.key == key, tags.c.value == value)
            .order_by(runs.c.start_time.desc(), runs.c.id.desc())
            .limit(1)
        )
        if status is not None:
            stmt = stmt.where(runs.c.status == status.value)
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()
