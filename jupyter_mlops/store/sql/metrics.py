"""Metric histories in the SQL store: one row per (run, key) per write, values as arrays.

A write of many values of one key is one ``metric_chunks`` row holding int64 steps, float64
values and int64 timestamps as little-endian bytes, plus an upsert of the key's latest value
into ``latest_metrics`` (what filters and sorting read). A million-point loss curve is then a
few hundred rows, read back with ``numpy.frombuffer``.

The writes are SQL text shared with the plain-``sqlite3`` store
(:meth:`.records.TextRecords.log_metric_rows`); here are the reads. Needs ``engine`` from the
class it is mixed into (:class:`~jupyter_mlops.store.sql.base.SqlBase`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ...entities import Metric
from .base import SqlBase
from .schema import latest_metrics, metric_chunks


class MetricsMixin(SqlBase):
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
