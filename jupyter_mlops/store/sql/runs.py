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

from ...entities import DatasetVersion, Experiment, LoggedModel, Run, RunInfo, RunStatus
from ...exceptions import InvalidInput, NotFound, shown
from ...query import Field, Node, OrderItem
from ..base import RunPage
from . import filters
from .base import SqlBase, chunks, dead_processes
from .metrics import metric_value
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

_INFO_COLUMNS = [c for c in runs.c if c.name not in ("heartbeat", "pid_start", "environment")]
_NEWEST_FIRST = [OrderItem(Field("attribute", "start_time"), descending=True)]


def as_number(text: str) -> float | None:
    """A param's numeric value (for numeric comparisons and sorting), if it has one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class RunsMixin(SqlBase):
    if TYPE_CHECKING:

        def _run_datasets(self, conn: Connection, run_id: str) -> list[DatasetVersion]: ...

        def _run_models(self, conn: Connection, run_id: str) -> list[LoggedModel]: ...

        def _artifacts(self, conn: Connection, run_id: str) -> list[Artifact]: ...

    # Experiments -----------------------------------------------------------------------
    @staticmethod
    def _experiment(row: Any, run_count: int = 0) -> Experiment:
        return Experiment(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            description=row.description or "",
            run_count=run_count,
        )

    def get_or_create_experiment(self, name: str, now_ms: int) -> Experiment:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(experiments).where(experiments.c.name == name)).first()
        if row is not None:
            return self._experiment(row)

        def create(conn: Connection) -> Any:
            found = conn.execute(sa.select(experiments).where(experiments.c.name == name)).first()
            if found is not None:
                return found
            conn.execute(sa.insert(experiments).values(name=name, created_at=now_ms))
            return conn.execute(sa.select(experiments).where(experiments.c.name == name)).one()

        return self._experiment(self._write(create))

    def get_experiment_by_name(self, name: str) -> Experiment:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(experiments).where(experiments.c.name == name)).first()
            if row is None:
                names = conn.execute(sa.select(experiments.c.name)).scalars().all()
        if row is None:
            known = ", ".join(sorted(names)[:50]) or "none yet"
            raise NotFound(f"No experiment named {shown(name)}. Known experiments: {known}.")
        return self._experiment(row)

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
            return [self._experiment(r, r.run_count) for r in conn.execute(stmt)]

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
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    runs.c.id, runs.c.heartbeat, runs.c.host, runs.c.pid, runs.c.pid_start
                ).where(running)
            ).all()
        dead = dead_processes(rows, host, is_alive, stale_before_ms)
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

    @staticmethod
    def _info(row: Any, exp_names: dict[int, str]) -> RunInfo:
        data = {c.name: getattr(row, c.name) for c in _INFO_COLUMNS}
        data["experiment_name"] = exp_names.get(row.experiment_id, "")
        return RunInfo(**data)

    @staticmethod
    def _exp_names(conn: Connection) -> dict[int, str]:
        return {r.id: r.name for r in conn.execute(sa.select(experiments.c.id, experiments.c.name))}

    @staticmethod
    def _attach(conn: Connection, by_id: dict[str, Run]) -> None:
        """Fill params, latest metrics and tags of many runs with three queries."""
        ids = list(by_id)
        r: Any
        for chunk in chunks(ids):
            for r in conn.execute(
                sa.select(params.c.run_id, params.c.key, params.c.value).where(
                    params.c.run_id.in_(chunk)
                )
            ):
                by_id[r.run_id].params[r.key] = r.value
            for r in conn.execute(
                sa.select(
                    latest_metrics.c.run_id,
                    latest_metrics.c.key,
                    latest_metrics.c.value,
                    latest_metrics.c.is_nan,
                ).where(latest_metrics.c.run_id.in_(chunk))
            ):
                by_id[r.run_id].metrics[r.key] = metric_value(r.value, r.is_nan)
            for r in conn.execute(
                sa.select(tags.c.run_id, tags.c.key, tags.c.value).where(tags.c.run_id.in_(chunk))
            ):
                by_id[r.run_id].tags[r.key] = r.value

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
            run = Run(info=self._info(row, self._exp_names(conn)))
            run.environment = row.environment or {}
            self._attach(conn, {run_id: run})
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
        where: list[Any] = []
        if experiment_ids is not None:
            where.append(self._experiment_clause(list(experiment_ids)))
        clause = filters.compile_filter(filter)
        if clause is not None:
            where.append(clause)
        stmt = sa.select(*_INFO_COLUMNS).where(*where)
        stmt = filters.apply_order_by(stmt, list(order_by) or _NEWEST_FIRST)
        stmt = stmt.limit(limit).offset(offset)
        with self.engine.connect() as conn:
            exp_names = self._exp_names(conn)
            page = [Run(info=self._info(r, exp_names)) for r in conn.execute(stmt)]
            self._attach(conn, {run.id: run for run in page})
            total = len(page) + offset
            if with_total and (len(page) == limit or offset):
                count = sa.select(sa.func.count()).select_from(runs).where(*where)
                total = int(conn.execute(count).scalar_one())
        return RunPage(runs=page, total=total, offset=offset, limit=limit)

    def _experiment_clause(self, ids: list[int]) -> Any:
        """Restrict to experiments without steering the planner onto the experiment index.

        Without statistics SQLite takes ``experiment_id IN (...)`` as very selective, reads
        every run of those experiments and sorts them. Naming every experiment is no
        restriction at all; for a few of many, ``+ 0`` keeps the predicate but leaves the
        choice of index to the sort and the filter. One experiment keeps its index, which
        serves ``ORDER BY start_time`` directly.
        """
        if len(ids) == 1:
            return runs.c.experiment_id == ids[0]
        with self.engine.connect() as conn:
            known = set(conn.execute(sa.select(experiments.c.id)).scalars())
        if known <= set(ids):
            return sa.true()
        return (runs.c.experiment_id + 0).in_(ids)

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
