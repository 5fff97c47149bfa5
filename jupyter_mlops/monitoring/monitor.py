"""Monitoring a registered model: references built and kept, windows of traffic checked.

- :func:`reference_from_training` builds a logged model's reference while ``%%track`` still
  holds its training data; :func:`build_reference` (re)builds a version's on demand, from a
  frame or a recorded file dataset.
- :func:`monitor` reads a model's recorded traffic (and its labels) once, cuts it into
  windows — by time, aligned to the clock, or by row count — and checks each window against
  the reference of the version that served most of it, so a history runs on across a
  version switch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ..client.monitor_config import MonitorConfig, parse_duration
from ..exceptions import InvalidInput, NotFound, shown
from ..progress import progress_bar
from .check import WindowReport, check, window_of_frame, window_of_traffic
from .reference import Reference
from .reference import build_reference as build_reference_of

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import LoggedModel

__all__ = [
    "DEFAULT_WINDOWS",
    "MonitorReport",
    "build_reference",
    "check_dataset",
    "load_reference",
    "monitor",
    "reference_from_training",
]

DEFAULT_WINDOWS: Final = 24
PROGRESS_FROM: Final = 12  # windows: fewer are checked before a bar would draw
MAX_WINDOWS: Final = 2_000
MAX_ROWS_PER_WINDOW: Final = 10_000_000
# Rows mode reads this far back when no start is given.
ROWS_LOOKBACK_MS: Final = 7 * 86_400_000

_cache: dict[tuple[str, str], Reference] = {}


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class MonitorReport:
    name: str
    windows: list[WindowReport]
    references: dict[int, dict[str, Any]]  # version -> rows, source, created_at
    config: MonitorConfig
    window: str | None = None  # the windows' duration, in time mode
    rows_per_window: int | None = None  # in rows mode
    since: int | None = None
    until: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def latest(self) -> WindowReport | None:
        return self.windows[-1] if self.windows else None

    def __str__(self) -> str:
        from .render import report_text

        return report_text(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "window": self.window,
            "rows_per_window": self.rows_per_window,
            "since": self.since,
            "until": self.until,
            "config": self.config.to_dict(),
            "references": {str(k): v for k, v in self.references.items()},
            "windows": [w.to_dict() for w in self.windows],
            "notes": self.notes,
        }


# -- references ---------------------------------------------------------------------------


def reference_from_training(
    client: Client, logged: LoggedModel, model: Any, data: Any, labels: Any = None, source: str = ""
) -> Reference:
    """Build and store the reference of a model just logged, from the data it was fitted on."""
    reference = build_reference_of(data, model, labels, source=source)
    client.save_reference(logged.id, reference.to_dict(), source=source)
    return reference


def load_reference(client: Client, name: str, version: int) -> Reference:
    """A version's reference (read once per process per logged model and build time)."""
    found = client.get_model_version(name, version)
    summary = client.reference_summaries([found.logged_model_id]).get(found.logged_model_id)
    key = (found.logged_model_id, str(summary.created_at if summary else ""))
    cached = _cache.get(key)
    if cached is None:
        cached = Reference.from_dict(client.version_reference(name, version))
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = cached
    return cached


def _table(
    client: Client, what: str, data: Any, labels: Any, dataset: str | None, target: str | None
) -> tuple[Any, Any]:
    """(table, labels) from a frame or a recorded file dataset, the ``target`` column (when
    named) taken out as the labels."""
    if (data is None) == (dataset is None):
        raise InvalidInput(f"Give {what} as a frame or as a dataset, not both or neither.")
    if dataset is not None:
        data, _ = client.read_dataset_frame(dataset, what, "pass the frame")
    if target is not None:
        if not hasattr(data, "columns") or target not in data.columns:
            raise InvalidInput(f"{what[0].upper()}{what[1:]} has no column {shown(target)}.")
        labels = data[target].to_numpy()
        data = data.drop(columns=[target])
    return data, labels


def build_reference(
    client: Client,
    name: str,
    version: int | str,
    data: Any = None,
    labels: Any = None,
    *,
    dataset: str | None = None,
    target: str | None = None,
) -> Reference:
    """(Re)build a version's reference from ``data`` (its training frame) or ``dataset`` (a
    recorded file dataset, ``name@version``), with ``labels`` (or the ``target`` column,
    taken out of the frame) for the score calibration that estimates quality."""
    found = client.get_model_version(name, version)
    data, labels = _table(client, "the training data", data, labels, dataset, target)
    source = "frame" if dataset is None else f"dataset {dataset}"
    model = client.load_model(f"models:/{found.name}/{found.version}")
    reference = build_reference_of(data, model, labels, source=source)
    client.save_reference(found.logged_model_id, reference.to_dict(), source=source)
    return reference


def check_dataset(
    client: Client,
    name: str,
    version: int | str,
    data: Any = None,
    labels: Any = None,
    *,
    dataset: str | None = None,
    target: str | None = None,
) -> WindowReport:
    """A labelled (or unlabelled) table checked against a version's reference as one window:
    drift, data quality, and the model's quality on it (it predicts the table). ``dataset``:
    a recorded file dataset instead of a frame; ``target``: its label column."""
    found = client.get_model_version(name, version)
    data, labels = _table(client, "the data to check", data, labels, dataset, target)
    reference = load_reference(client, found.name, found.version)
    model = client.load_model(f"models:/{found.name}/{found.version}")
    window = window_of_frame(data, model, labels, reference)
    window.versions = [found.version]
    return check(reference, window, client.get_monitor_config(found.name))


# -- windows ------------------------------------------------------------------------------


def _duration_text(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"


def _time_windows(
    at: np.ndarray, size_ms: int, since: int, until: int
) -> list[tuple[int, int, np.ndarray]]:
    """(start, end, row positions) of each clock-aligned window holding rows."""
    first = since - since % size_ms
    index = (at - first) // size_ms
    order = np.argsort(index, kind="stable")
    keys, starts = np.unique(index[order], return_index=True)
    bounds = np.append(starts, order.size)
    out = []
    for k, key in enumerate(keys.tolist()):
        start = first + key * size_ms
        out.append((start, min(start + size_ms, until), order[bounds[k] : bounds[k + 1]]))
    return out


def _row_windows(at: np.ndarray, size: int, count: int) -> list[tuple[int, int, np.ndarray]]:
    """(start, end, row positions) of the last ``count`` whole windows of ``size`` rows,
    oldest first: the newest row ends the last window, and older rows short of a whole
    window are left out."""
    total = at.size
    whole = min(total // size, count)
    out = []
    for k in range(whole, 0, -1):
        positions = np.arange(total - k * size, total - (k - 1) * size)
        out.append((int(at[positions[0]]), int(at[positions[-1]]) + 1, positions))
    return out


def monitor(
    client: Client,
    name: str,
    *,
    window: str | int | None = None,
    rows: int | None = None,
    windows: int = DEFAULT_WINDOWS,
    since: int | None = None,
    until: int | None = None,
    version: int | None = None,
    progress: bool = False,
) -> MonitorReport:
    """Check ``name``'s recorded traffic window by window.

    ``window``: each window's duration (``"1h"``; the configured default); ``rows``: windows
    of that many rows instead. ``windows``: how many windows back from ``until`` (now).
    ``version``: only that version's traffic. ``progress``: a bar over the windows (a widget
    in a notebook, text on a terminal) when there are more than a few.
    """
    client.get_registered_model(name)
    config = client.get_monitor_config(name)
    if not 1 <= windows <= MAX_WINDOWS:
        raise InvalidInput(f"windows must be between 1 and {MAX_WINDOWS}, not {windows}.")
    if rows is not None and window is not None:
        raise InvalidInput("Windows are cut by time or by rows, not both.")
    until = _now_ms() if until is None else until
    size_ms = None
    if rows is not None:
        if (
            isinstance(rows, bool)
            or not isinstance(rows, int)
            or not 1 <= rows <= MAX_ROWS_PER_WINDOW
        ):
            raise InvalidInput(
                f"rows must be a whole number from 1 to {MAX_ROWS_PER_WINDOW}, not {shown(rows)}."
            )
        since = until - ROWS_LOOKBACK_MS if since is None else since
    else:
        size_ms = parse_duration(window if window is not None else config.window, "window")
        since = until - windows * size_ms if since is None else since
    if since >= until:
        raise InvalidInput("The start of the monitored range must come before its end.")
    traffic = client.read_predictions(name, since=since, until=until, version=version)
    report = MonitorReport(
        name=name,
        windows=[],
        references={},
        config=config,
        window=None if size_ms is None else _duration_text(size_ms),
        rows_per_window=rows,
        since=since,
        until=until,
    )
    if traffic.num_rows == 0:
        report.notes.append(f"No traffic was recorded for {name} in this range.")
        return report
    at = traffic.column("at").to_numpy()
    cut = (
        _row_windows(at, rows, windows)
        if rows is not None
        else _time_windows(at, size_ms or 1, since, until)
    )
    if rows is not None and not cut:
        report.notes.append(f"Fewer than {rows} rows were recorded: no whole window yet.")
    labels = client.read_labels(name, since=since)
    versions = traffic.column("version").to_numpy()
    # Each version's reference, read once for all the windows it served.
    loaded: dict[int, Reference | None] = {}
    bar = progress_bar(
        progress and len(cut) > PROGRESS_FROM, len(cut), f"monitoring {name}", "window"
    )
    for start, end, positions in cut:
        bar.update(1)
        part = traffic.take(positions)
        served = versions[positions]
        counts = np.bincount(served[served > 0]) if (served > 0).any() else None
        if counts is None:
            report.notes.append(f"The window from {start} holds only refused requests.")
            continue
        dominant = int(np.argmax(counts))
        if dominant not in loaded:
            try:
                loaded[dominant] = load_reference(client, name, dominant)
            except NotFound as exc:
                loaded[dominant] = None
                report.notes.append(str(exc))
        reference = loaded[dominant]
        if reference is None:
            continue
        if dominant not in report.references:
            report.references[dominant] = {
                "rows": reference.rows,
                "source": reference.source,
                "created_at": reference.created_at,
            }
        if len(counts.nonzero()[0]) > 1:
            import pyarrow.compute as pc

            mask = pc.or_(
                pc.equal(part.column("version"), dominant), pc.not_equal(part.column("status"), 200)
            )
            part = part.filter(mask)
        window_data = window_of_traffic(part, reference, labels, start, end)
        report.windows.append(check(reference, window_data, config))
    bar.close()
    return report
