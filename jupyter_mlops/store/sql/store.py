"""The SQL store (SQLite by default, PostgreSQL for teams) behind :class:`Store`."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ...entities import (
    Experiment,
    Metric,
    Run,
    RunInfo,
    RunStatus,
)
from ...exceptions import InvalidInput, NotFound
from ..base import MetricRow, RunPage, Store
from . import filters
from .engine import create_engine, with_retry
from .lineage import LineageMixin
from .migrate import ensure_schema
from .scheduling import SchedulingMixin
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

_INFO_COLUMNS = [c for c in runs.c if c.name not in ("heartbeat", "pid_start", "environment")]
# SQLite caps bound parameters per statement; chunk IN (...) lists below it.
_IN_CHUNK = 500


def _chunks(seq: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _metric_value(value: float | None, is_nan: bool) -> float:
    return math.nan if is_nan or value is None else value


class SqlStore(LineageMixin, SchedulingMixin, Store):
    """A store in any SQLAlchemy database; the schema is created or upgraded on open."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.engine: Engine = create_engine(db_url)
        try:
            ensure_schema(self.engine)
        except sa.exc.OperationalError as exc:
            raise InvalidInput(
                f"Cannot open the store at {db_url!r}: {exc.orig or exc}. Check that the "
                "database server is running and the URL, user and password are right."
            ) from exc
        self._dialect = self.engine.dialect.name
        ph = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        values = ", ".join([ph] * 6)
        self._insert_chunk_sql = (
            "INSERT INTO metric_chunks (run_id, key, n, min_step, max_step, step_data, "
            f"value_data, time_data) VALUES ({', '.join([ph] * 8)})"
        )
        # One statement for both backends: keep the value with the highest (step, timestamp).
        self._upsert_latest_sql = (
            "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
            f"VALUES ({values}) ON CONFLICT (run_id, key) DO UPDATE SET "
            "value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, "
            "timestamp = excluded.timestamp WHERE excluded.step > latest_metrics.step OR "
            "(excluded.step = latest_metrics.step AND "
            "excluded.timestamp >= latest_metrics.timestamp)"
        )

    def close(self) -> None:
        self.engine.dispose()

    def _write(self, fn: Any) -> Any:
        return with_retry(self.engine, fn)

    def _upsert(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(table)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table)
        keys = [c.name for c in table.primary_key.columns]
        update = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update), rows)

    # Experiments -----------------------------------------------------------------------
    def _experiment(self, row: Any, run_count: int = 0) -> Experiment:
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
            known = ", ".join(sorted(names)) or "none yet"
            raise NotFound(f"No experiment named {name!r}. Known experiments: {known}.")
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
    def create_run(self, experiment_id: int, attrs: dict[str, Any]) -> str:
        run_id = attrs.get("id") or uuid.uuid4().hex
        row = {
            "id": run_id,
            "experiment_id": experiment_id,
            "status": RunStatus.RUNNING.value,
            "heartbeat": attrs["start_time"],
            **attrs,
        }

        def insert(conn: Connection) -> None:
            conn.execute(sa.insert(runs).values(**row))

        self._write(insert)
        return str(run_id)

    def update_run(self, run_id: str, attrs: dict[str, Any]) -> None:
        unknown = set(attrs) - set(runs.c.keys())
        if unknown:
            raise InvalidInput(f"Unknown run attributes: {sorted(unknown)}")

        def update(conn: Connection) -> None:
            result = conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**attrs))
            if result.rowcount == 0:
                raise NotFound(f"No run with id {run_id!r}.")

        self._write(update)

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        if not run_ids:
            return

        def beat(conn: Connection) -> None:
            conn.execute(
                sa.update(runs)
                .where(runs.c.id.in_(list(run_ids)), runs.c.status == RunStatus.RUNNING.value)
                .values(heartbeat=now_ms)
            )

        self._write(beat)

    def reconcile_dead_runs(
        self, stale_before_ms: int, host: str, is_alive: Any, now_ms: int
    ) -> list[str]:
        running = runs.c.status == RunStatus.RUNNING.value
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    runs.c.id, runs.c.heartbeat, runs.c.host, runs.c.pid, runs.c.pid_start
                ).where(running)
            ).all()
        # On this host the process table is the truth (a kernel busy in C code for minutes
        # cannot beat, yet lives); elsewhere only the heartbeat can tell.
        dead = {
            r.id: r.heartbeat
            for r in rows
            if (
                not is_alive(r.pid, r.pid_start)
                if r.host == host and r.pid is not None
                else r.heartbeat < stale_before_ms
            )
        }
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

    def _info(self, row: Any, exp_names: dict[int, str]) -> RunInfo:
        data = {c.name: getattr(row, c.name) for c in _INFO_COLUMNS}
        data["experiment_name"] = exp_names.get(row.experiment_id, "")
        return RunInfo(**data)

    def _exp_names(self, conn: Connection) -> dict[int, str]:
        return {r.id: r.name for r in conn.execute(sa.select(experiments.c.id, experiments.c.name))}

    def _attach(self, conn: Connection, by_id: dict[str, Run]) -> None:
        """Fill params, latest metrics and tags of many runs with three queries."""
        ids = list(by_id)
        r: Any
        for chunk in _chunks(ids):
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
                by_id[r.run_id].metrics[r.key] = _metric_value(r.value, r.is_nan)
            for r in conn.execute(
                sa.select(tags.c.run_id, tags.c.key, tags.c.value).where(tags.c.run_id.in_(chunk))
            ):
                by_id[r.run_id].tags[r.key] = r.value

    def resolve_run_id(self, prefix: str) -> str:
        prefix = prefix.strip().lower()
        if not prefix or not all(ch in "0123456789abcdef" for ch in prefix):
            raise NotFound(f"No run with id {prefix!r}: run ids are hexadecimal.")
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
                raise NotFound(f"No run with id {run_id!r}.")
            run = Run(info=self._info(row, self._exp_names(conn)))
            run.environment = row.environment or {}
            self._attach(conn, {run_id: run})
            for version in self._run_datasets(conn, run_id):
                (run.inputs if version.role == "input" else run.outputs).append(version)
            run.models = [
                self._model(r)
                for r in conn.execute(
                    sa.select(logged_models)
                    .where(logged_models.c.run_id == run_id)
                    .order_by(logged_models.c.created_at)
                )
            ]
            run.artifacts = self._artifacts(conn, run_id)
        return run

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None,
        filter_text: str | None,
        order_by: Sequence[str],
        limit: int,
        offset: int,
        with_total: bool = True,
    ) -> RunPage:
        where: list[Any] = []
        if experiment_ids is not None:
            where.append(self._experiment_clause(list(experiment_ids)))
        clause = filters.compile_filter(filter_text) if filter_text else None
        if clause is not None:
            where.append(clause)
        stmt = sa.select(*_INFO_COLUMNS).where(*where)
        stmt = filters.apply_order_by(stmt, list(order_by) or ["start_time DESC"])
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

        def delete(conn: Connection) -> int:
            n = 0
            for chunk in _chunks(ids):
                for table in (
                    params,
                    metric_chunks,
                    latest_metrics,
                    tags,
                    run_datasets,
                    artifacts,
                    logged_models,
                ):
                    conn.execute(sa.delete(table).where(table.c.run_id.in_(chunk)))
                n += conn.execute(sa.delete(runs).where(runs.c.id.in_(chunk))).rowcount
            return n

        return int(self._write(delete))

    # Params, metrics, tags -------------------------------------------------------------
    def log_params(self, run_id: str, values: dict[str, str]) -> None:
        rows = [
            {"run_id": run_id, "key": k, "value": v, "value_num": _as_number(v)}
            for k, v in values.items()
        ]
        self._write(lambda conn: self._upsert(conn, params, rows))

    def set_tags(self, run_id: str, values: dict[str, str]) -> None:
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()]
        self._write(lambda conn: self._upsert(conn, tags, rows))

    def log_metric_rows(self, rows: Sequence[MetricRow]) -> None:
        if not rows:
            return
        groups: dict[tuple[str, str], tuple[list[int], list[float], list[int]]] = {}
        for run_id, key, value, step, ts in rows:
            group = groups.get((run_id, key))
            if group is None:
                group = groups[(run_id, key)] = ([], [], [])
            group[0].append(step)
            group[1].append(value)
            group[2].append(ts)
        import numpy as np  # here, not at module level: opening a store needs no numpy

        chunks = []
        latest = []
        for (run_id, key), (steps, values, stamps) in groups.items():
            s = np.asarray(steps, dtype="<i8")
            v = np.asarray(values, dtype="<f8")
            t = np.asarray(stamps, dtype="<i8")
            chunks.append(
                (
                    run_id,
                    key,
                    len(s),
                    int(s.min()),
                    int(s.max()),
                    s.tobytes(),
                    v.tobytes(),
                    t.tobytes(),
                )
            )
            last = int(np.lexsort((t, s))[-1])  # highest step, then latest time
            value = float(v[last])
            nan = value != value
            latest.append((run_id, key, None if nan else value, nan, int(s[last]), int(t[last])))

        def insert(conn: Connection) -> None:
            # The DBAPI's executemany over plain tuples: the fastest path both drivers offer.
            conn.exec_driver_sql(self._insert_chunk_sql, chunks)
            conn.exec_driver_sql(self._upsert_latest_sql, latest)

        self._write(insert)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        steps, values, stamps = self.metric_arrays(run_id, key)
        return [
            Metric(key, v, s, t)
            for s, v, t in zip(steps.tolist(), values.tolist(), stamps.tolist(), strict=True)
        ]

    def metric_arrays(self, run_id: str, key: str) -> tuple[Any, Any, Any]:
        """A metric's whole history as (steps, values, timestamps) numpy arrays, in step
        order."""
        import numpy as np

        stmt = (
            sa.select(
                metric_chunks.c.step_data, metric_chunks.c.value_data, metric_chunks.c.time_data
            )
            .where(metric_chunks.c.run_id == run_id, metric_chunks.c.key == key)
            .order_by(metric_chunks.c.id)
        )
        with self.engine.connect() as conn:
            parts = conn.execute(stmt).all()
        if not parts:
            empty_i = np.empty(0, dtype=np.int64)
            return empty_i, np.empty(0, dtype=np.float64), empty_i
        steps = np.concatenate([np.frombuffer(p[0], dtype="<i8") for p in parts])
        values = np.concatenate([np.frombuffer(p[1], dtype="<f8") for p in parts])
        stamps = np.concatenate([np.frombuffer(p[2], dtype="<i8") for p in parts])
        order = np.lexsort((stamps, steps))  # stable: equal (step, time) keep logging order
        return steps[order], values[order], stamps[order]

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

    def metric_keys(self, run_id: str) -> list[str]:
        stmt = (
            sa.select(latest_metrics.c.key)
            .where(latest_metrics.c.run_id == run_id)
            .order_by(latest_metrics.c.key)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
