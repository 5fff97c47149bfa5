"""Metric histories in the SQL store: one row per (run, key) per write, values as arrays.

A write of many values of one key is one ``metric_chunks`` row holding int64 steps, float64
values and int64 timestamps as little-endian bytes, plus an upsert of the key's latest value
into ``latest_metrics`` (what filters and sorting read). A million-point loss curve is then a
few hundred rows, read back with ``numpy.frombuffer``.

Needs from the class it is mixed into: ``engine``, ``dialect`` and ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

import functools
import sys
from array import array
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import Metric
from ..base import MetricRow
from .base import SqlBase
from .schema import latest_metrics, metric_chunks


def _little_endian(kind: str, items: list[Any]) -> bytes:
    """int64 (``q``) or float64 (``d``) items as little-endian bytes, as they are stored;
    the standard library's array, so that a write needs no numpy (a process that only
    copies a few metrics, such as a cached pipeline run, never imports it)."""
    packed = array(kind, items)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


class MetricsMixin(SqlBase):
    @functools.cached_property
    def _metric_statements(self) -> tuple[str, str]:
        """The two statements of a metric write, in the driver's parameter style (built
        once per store: a write loop calls them thousands of times a second)."""
        ph = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        insert_chunk = (
            "INSERT INTO metric_chunks (run_id, key, n, min_step, max_step, step_data, "
            f"value_data, time_data) VALUES ({', '.join([ph] * 8)})"
        )
        # One statement for both backends: keep the value with the highest (step, timestamp).
        upsert_latest = (
            "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) "
            f"VALUES ({', '.join([ph] * 6)}) ON CONFLICT (run_id, key) DO UPDATE SET "
            "value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, "
            "timestamp = excluded.timestamp WHERE excluded.step > latest_metrics.step OR "
            "(excluded.step = latest_metrics.step AND "
            "excluded.timestamp >= latest_metrics.timestamp)"
        )
        return insert_chunk, upsert_latest

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
        chunks = []
        latest = []
        for (run_id, key), (steps, values, stamps) in groups.items():
            top = max(steps)
            # The latest value: the highest step, then the latest time, then the last logged.
            # Usually one value has the highest step: found at C speed, no Python loop.
            if steps.count(top) == 1:
                last = steps.index(top)
            else:
                last = max(
                    (i for i, step in enumerate(steps) if step == top),
                    key=lambda i: (stamps[i], i),
                )
            chunks.append(
                (
                    run_id,
                    key,
                    len(steps),
                    min(steps),
                    top,
                    _little_endian("q", steps),
                    _little_endian("d", values),
                    _little_endian("q", stamps),
                )
            )
            value = values[last]
            nan = value != value
            latest.append((run_id, key, None if nan else value, nan, top, stamps[last]))
        insert_chunk, upsert_latest = self._metric_statements

        def insert(conn: Connection) -> None:
            # The DBAPI's executemany over plain tuples: the fastest path both drivers offer.
            conn.exec_driver_sql(insert_chunk, chunks)
            conn.exec_driver_sql(upsert_latest, latest)

        self._write(insert)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        steps, values, stamps = self.metric_arrays(run_id, key)
        return [
            Metric(key, v, s, t)
            for s, v, t in zip(steps.tolist(), values.tolist(), stamps.tolist(), strict=True)
        ]

    def metric_arrays(self, run_id: str, key: str) -> tuple[Any, Any, Any]:
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

    def metric_keys(self, run_id: str) -> list[str]:
        stmt = (
            sa.select(latest_metrics.c.key)
            .where(latest_metrics.c.run_id == run_id)
            .order_by(latest_metrics.c.key)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())
