"""A server's figures, shared by its worker processes, in Prometheus' text format.

Each worker counts into its own row of one shared array of doubles (no lock: a row has one
writer); ``/metrics`` and the supervisor's heartbeat sum the rows. So ``/metrics`` answers for
the whole server whichever worker serves it, and the figures survive a worker's restart.
"""

from __future__ import annotations

import bisect
import time
from typing import Any

from ..monitoring.operations import LATENCY_BUCKETS

# Rows per predict call (a micro-batch merges requests).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 10_000, 100_000)

COUNTERS = (
    "ok",  # 2xx answers
    "client_errors",  # 4xx
    "server_errors",  # 5xx
    "rows",  # rows predicted
    "predict_calls",
    "latency_sum",
    "batch_rows_sum",
    "recorded",  # rows written to the store
    "dropped",  # rows the recording queue had no room for
    "queued",  # rows waiting to be written (a gauge)
    "version",  # the version answering now (a gauge)
    "ready",  # 1 once the worker's model is loaded (a gauge)
    # When the worker last answered a prediction or feedback (epoch seconds, a gauge):
    # health checks and scrapes of /metrics do not keep an idle server alive.
    "last_request",
    "switches",  # versions switched to after the first
    "trial_answers",  # a candidate on trial answered (canary) or predicted a copy (shadow)
    "trial_errors",  # a candidate on trial failed (the served version answered)
)
_INDEX = {name: i for i, name in enumerate(COUNTERS)}
_LAT0 = len(COUNTERS)
_BATCH0 = _LAT0 + len(LATENCY_BUCKETS) + 1
SLOT = _BATCH0 + len(BATCH_BUCKETS) + 1


class Counters:
    """One worker's row of the shared array (``values`` holds ``slots * SLOT`` doubles)."""

    def __init__(self, values: Any, slot: int, slots: int) -> None:
        self.values = values
        self.base = slot * SLOT
        self.slots = slots

    def add(self, name: str, amount: float = 1.0) -> None:
        self.values[self.base + _INDEX[name]] += amount

    def set(self, name: str, value: float) -> None:
        self.values[self.base + _INDEX[name]] = value

    def observe_request(self, status: int, seconds: float, used: bool = True) -> None:
        v, base = self.values, self.base
        kind = "ok" if status < 400 else "client_errors" if status < 500 else "server_errors"
        v[base + _INDEX[kind]] += 1
        v[base + _INDEX["latency_sum"]] += seconds
        v[base + _LAT0 + bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        if used:
            v[base + _INDEX["last_request"]] = time.time()

    def observe_batch(self, rows: int) -> None:
        v, base = self.values, self.base
        v[base + _INDEX["rows"]] += rows
        v[base + _INDEX["predict_calls"]] += 1
        v[base + _INDEX["batch_rows_sum"]] += rows
        v[base + _BATCH0 + bisect.bisect_left(BATCH_BUCKETS, rows)] += 1


class Snapshot:
    """The sum over every worker's row at one moment."""

    def __init__(self, values: Any, slots: int) -> None:
        rows = [list(values[i * SLOT : (i + 1) * SLOT]) for i in range(slots)]
        self.rows = rows
        self.total = [sum(col) for col in zip(*rows, strict=True)] if rows else [0.0] * SLOT

    def get(self, name: str) -> float:
        return self.total[_INDEX[name]]

    def latest(self, name: str) -> float:
        """A gauge's largest value over the workers (a version, a time)."""
        return max((row[_INDEX[name]] for row in self.rows), default=0.0)

    def all_ready(self) -> bool:
        return all(row[_INDEX["ready"]] >= 1 for row in self.rows)

    @property
    def requests(self) -> float:
        return self.get("ok") + self.get("client_errors") + self.get("server_errors")

    def latency_counts(self) -> list[float]:
        return self.total[_LAT0 : _LAT0 + len(LATENCY_BUCKETS) + 1]

    def batch_counts(self) -> list[float]:
        return self.total[_BATCH0 : _BATCH0 + len(BATCH_BUCKETS) + 1]


def prometheus_text(snap: Snapshot, name: str, version: int | None) -> str:
    """The figures in Prometheus' text exposition format (version 0.0.4)."""
    model = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    label = f'model="{model}"'
    lines: list[str] = []

    def metric(metric_name: str, kind: str, help_text: str, samples: list[tuple[str, float]]):
        lines.append(f"# HELP {metric_name} {help_text}")
        lines.append(f"# TYPE {metric_name} {kind}")
        for labels, value in samples:
            lines.append(f"{metric_name}{{{labels}}} {_num(value)}")

    metric(
        "mlops_requests_total",
        "counter",
        "Requests answered, by status class.",
        [
            (f'{label},status="2xx"', snap.get("ok")),
            (f'{label},status="4xx"', snap.get("client_errors")),
            (f'{label},status="5xx"', snap.get("server_errors")),
        ],
    )
    metric(
        "mlops_request_errors_total",
        "counter",
        "Requests answered with an error (4xx or 5xx).",
        [(label, snap.get("client_errors") + snap.get("server_errors"))],
    )
    _histogram(
        lines,
        "mlops_request_duration_seconds",
        "Time from a request's arrival to its answer.",
        label,
        LATENCY_BUCKETS,
        snap.latency_counts(),
        snap.get("latency_sum"),
    )
    _histogram(
        lines,
        "mlops_batch_rows",
        "Rows per predict call (micro-batching merges requests).",
        label,
        BATCH_BUCKETS,
        snap.batch_counts(),
        snap.get("batch_rows_sum"),
    )
    metric("mlops_predictions_total", "counter", "Rows predicted.", [(label, snap.get("rows"))])
    metric(
        "mlops_model_version",
        "gauge",
        "The model version answering requests.",
        [(label, float(version or 0))],
    )
    metric(
        "mlops_model_switches_total",
        "counter",
        "Times the server switched to another version.",
        [(label, snap.get("switches"))],
    )
    metric(
        "mlops_trial_predictions_total",
        "counter",
        "Requests a candidate on trial (a shadow or canary rollout) predicted, by outcome.",
        [
            (f'{label},outcome="ok"', snap.get("trial_answers")),
            (f'{label},outcome="error"', snap.get("trial_errors")),
        ],
    )
    metric(
        "mlops_records_written_total",
        "counter",
        "Prediction records written to the store.",
        [(label, snap.get("recorded"))],
    )
    metric(
        "mlops_records_dropped_total",
        "counter",
        "Prediction records dropped because the recording queue was full.",
        [(label, snap.get("dropped"))],
    )
    metric(
        "mlops_record_queue_rows",
        "gauge",
        "Prediction records waiting to be written.",
        [(label, snap.get("queued"))],
    )
    return "\n".join(lines) + "\n"


def _histogram(
    lines: list[str],
    metric_name: str,
    help_text: str,
    label: str,
    bounds: tuple[float, ...],
    counts: list[float],
    total: float,
) -> None:
    lines.append(f"# HELP {metric_name} {help_text}")
    lines.append(f"# TYPE {metric_name} histogram")
    running = 0.0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        le = "+Inf" if bound == float("inf") else _num(bound)
        lines.append(f'{metric_name}_bucket{{{label},le="{le}"}} {_num(running)}')
    lines.append(f"{metric_name}_sum{{{label}}} {_num(total)}")
    lines.append(f"{metric_name}_count{{{label}}} {_num(running)}")


def _num(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))
