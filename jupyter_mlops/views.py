"""Tables of runs, experiments and datasets, shared by the CLI and the ``%mlops`` magic."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .entities import DatasetVersion, Experiment, Run


def relative_to_root(path: str | os.PathLike[str] | None, root: Path | None) -> str | None:
    """``path`` as the lab names it: relative to the server's ``root``, '/'-separated (a
    relative ``path`` starts at ``root``); None when it is elsewhere or unknown."""
    if not path or root is None:
        return None
    full = Path(path)
    full = full if full.is_absolute() else root / full
    try:
        return full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def fmt_time(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    return f"{ms // 60_000}m{(ms % 60_000) // 1000:02d}s"


def differing_params(runs: Sequence[Run]) -> list[str]:
    """The param keys, sorted, whose value (or absence) is not the same in every run."""
    keys = sorted({k for r in runs for k in r.params})
    return [k for k in keys if len({r.params.get(k) for r in runs}) > 1]


def varying_params(runs: Sequence[Run], most: int = 8) -> list[str]:
    """The param keys whose values differ between runs (the ones worth a column), at most
    ``most`` of them, those set on the most runs first."""
    varying = differing_params(runs)
    varying.sort(key=lambda k: (-sum(k in r.params for r in runs), k))
    return sorted(varying[:most])


def run_rows(
    runs: Sequence[Run],
    params: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    raw: bool = False,
) -> list[dict[str, Any]]:
    """One row per run; all params and metrics unless columns are chosen."""
    if params is None:
        params = sorted({k for r in runs for k in r.params})
    if metrics is None:
        metrics = sorted({k for r in runs for k in r.metrics})
    rows = []
    for run in runs:
        info = run.info
        row: dict[str, Any] = {
            "run_id": info.id if raw else info.id[:8],
            "experiment": info.experiment_name,
            "name": info.name,
            "status": info.status,
            "start": info.start_time if raw else fmt_time(info.start_time),
            "duration": info.duration_ms if raw else fmt_duration(info.duration_ms),
            "user": info.user,
        }
        for key in params:
            row[f"params.{key}"] = run.params.get(key)
        for key in metrics:
            row[f"metrics.{key}"] = run.metrics.get(key)
        rows.append(row)
    return rows


def experiment_rows(experiments: Sequence[Experiment]) -> list[dict[str, Any]]:
    return [
        {"id": e.id, "name": e.name, "runs": e.run_count, "created": fmt_time(e.created_at)}
        for e in experiments
    ]


def dataset_rows(versions: Sequence[DatasetVersion]) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id[:8],
            "name": d.name,
            "version": d.version,
            "kind": d.kind,
            "shape": "×".join(map(str, d.shape)) if d.shape else "",
            "fingerprint": d.fingerprint,
            "created": fmt_time(d.created_at),
        }
        for d in versions
    ]


def compare_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per field (param, metric, attribute), one column per run, and whether they differ."""
    fields: list[tuple[str, list[Any]]] = [
        ("name", [r.info.name for r in runs]),
        ("status", [r.info.status for r in runs]),
        ("duration", [fmt_duration(r.info.duration_ms) for r in runs]),
        ("git_commit", [(r.info.git_commit or "")[:10] for r in runs]),
    ]
    for key in sorted({k for r in runs for k in r.params}):
        fields.append((f"params.{key}", [r.params.get(key) for r in runs]))
    for key in sorted({k for r in runs for k in r.metrics}):
        fields.append((f"metrics.{key}", [r.metrics.get(key) for r in runs]))
    for role in ("inputs", "outputs"):
        names = sorted({d.name for r in runs for d in getattr(r, role)})
        for name in names:
            values = []
            for r in runs:
                found = [d for d in getattr(r, role) if d.name == name]
                values.append(found[0].fingerprint.split(":")[-1][:12] if found else None)
            fields.append((f"{role}.{name}", values))
    rows = []
    for label, values in fields:
        row: dict[str, Any] = {"field": label}
        for run, value in zip(runs, values, strict=True):
            row[run.info.id[:8]] = value
        row["differs"] = len({repr(v) for v in values}) > 1
        rows.append(row)
    return rows


def step_rows(steps: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps (a StepResult as a dict, or a step of the API's pipeline run) as table rows."""
    rows = []
    for st in steps:
        duration = st.get("duration")
        detail = ""
        if st.get("error_name"):
            cell = st.get("failed_cell")
            where = f"cell {cell}: " if cell is not None else ""
            detail = f"{where}{st['error_name']}: {st.get('error_value')}"
        elif st.get("cached_from"):
            detail = f"reused {st['cached_from'][:8]}"
        rows.append(
            {
                "step": st["name"],
                "status": st["status"],
                "attempts": st.get("attempts"),
                "duration": fmt_duration(round(duration * 1000)) if duration is not None else "",
                "run_id": (st.get("run_id") or "")[:8],
                "detail": detail,
            }
        )
    return rows
