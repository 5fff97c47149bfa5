"""Latency, load and errors of a window of recorded traffic, computed as the model server's
``/metrics`` computes them: request latencies counted in :data:`LATENCY_BUCKETS` and read
back by interpolation within a bucket (Prometheus' ``histogram_quantile``), so a window and
the server's own figures agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["LATENCY_BUCKETS", "bucket_counts", "bucket_quantile", "operations"]

# Request latency buckets, in seconds (fine below 20 ms, where a model server lives).
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03,
    0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


def bucket_quantile(counts: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (seconds) of latencies counted in :data:`LATENCY_BUCKETS`, by
    linear interpolation within the bucket that holds it (as Prometheus'
    ``histogram_quantile`` does); None without requests."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for i, count in enumerate(counts):
        if seen + count >= rank and count > 0:
            low = LATENCY_BUCKETS[i - 1] if i > 0 else 0.0
            high = LATENCY_BUCKETS[i] if i < len(LATENCY_BUCKETS) else LATENCY_BUCKETS[-1]
            return low + (high - low) * (rank - seen) / count
        seen += count
    return LATENCY_BUCKETS[-1]


def bucket_counts(seconds: np.ndarray) -> list[float]:
    """How many latencies fall in each bucket (``le`` semantics), plus the +Inf bucket."""
    index = np.searchsorted(np.asarray(LATENCY_BUCKETS), seconds, side="left")
    return np.bincount(index, minlength=len(LATENCY_BUCKETS) + 1).astype(float).tolist()


def operations(
    latency_ms: np.ndarray, status: np.ndarray, rows: int, span_ms: int | None
) -> dict[str, Any]:
    """Figures of one window: one latency and one status per request."""
    requests = int(latency_ms.size)
    counts = bucket_counts(np.asarray(latency_ms, dtype=np.float64) / 1000.0)

    def ms(q: float) -> float | None:
        value = bucket_quantile(counts, q)
        return None if value is None else round(value * 1000.0, 3)

    errors = int(np.sum(np.asarray(status) >= 400)) if requests else 0
    seconds = span_ms / 1000.0 if span_ms else None
    return {
        "requests": requests,
        "rows": rows,
        "errors": errors,
        "error_rate": errors / requests if requests else None,
        "server_errors": int(np.sum(np.asarray(status) >= 500)) if requests else 0,
        "request_rate": requests / seconds if seconds else None,
        "p50_ms": ms(0.50),
        "p95_ms": ms(0.95),
        "p99_ms": ms(0.99),
        "mean_ms": round(float(np.mean(latency_ms)), 3) if requests else None,
    }
