"""Experiments and runs in the SQL store (``store.base.RunStore``): what a run's life
records is the SQL text of :mod:`.records` (:class:`~.records.TextRecords`), shared with
the plain-``sqlite3`` store of :mod:`.lite`; here is the rest (listing experiments, ending
dead runs, resolving id prefixes, deleting runs), in SQLAlchemy Core.

Needs from the class it is mixed into: ``engine`` and ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import Experiment, RunStatus
from ...exceptions import InvalidInput, NotFound, shown
from ..base import dead_processes
from .base import SqlBase
from .records import TextRecords
from .runsql import chunks, experiment_of
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


class RunsMixin(SqlBase, TextRecords):
    # Experiments -----------------------------------------------------------------------
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
