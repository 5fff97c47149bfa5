"""A monitoring report as text: the CLI prints it, a notebook shows it above the dashboard."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..entities import AlertState, Event
    from .check import WindowReport
    from .drift import ColumnDrift
    from .monitor import MonitorReport

__all__ = ["alerts_text", "report_text", "window_text", "window_time"]


def window_time(ms: int | None, with_date: bool = True) -> str:
    if ms is None:
        return "—"
    stamp = time.gmtime(ms / 1000)
    return time.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M", stamp)


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if value != 0 and (abs(value) < 10**-digits or abs(value) >= 1e6):
        return f"{value:.2e}"
    return f"{value:.{digits}f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i])
        for i in range(len(head))
    ]
    return [
        ("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
        for r in [head, *rows]
    ]


def _drift_line(drift: ColumnDrift) -> str:
    if drift.score is None:
        return f"{drift.method or 'no method'}: {drift.note}"
    verdict = "drifted" if drift.drifted else "no drift"
    what = "p" if drift.is_p_value else "distance"
    return f"{drift.method} {what} {_num(drift.score)} (threshold {drift.threshold:g}): {verdict}"


def _quality_text(quality: dict[str, Any]) -> str:
    parts = []
    realised = quality.get("realised")
    if realised:
        figures = ", ".join(
            f"{key} {_num(realised[key])}"
            for key in ("accuracy", "f1", "roc_auc", "rmse", "mae")
            if key in realised
        )
        parts.append(f"realised {figures} ({realised['rows']:,} labelled rows)")
    estimated = quality.get("estimated")
    if estimated:
        accuracy, f1 = _num(estimated["accuracy"]), _num(estimated["f1"])
        parts.append(f"estimated without labels accuracy {accuracy}, f1 {f1}")
    return "; ".join(parts) if parts else "no labels and no scores in this window"


def _operations_text(ops: dict[str, Any] | None) -> str:
    if not ops:
        return "—"
    rate = ops.get("request_rate")
    return (
        f"{ops['requests']:,} requests ({'—' if rate is None else f'{rate:.1f}/s'}), "
        f"p50 {_num(ops['p50_ms'], 2)} ms, p95 {_num(ops['p95_ms'], 2)} ms, "
        f"p99 {_num(ops['p99_ms'], 2)} ms, errors {_share(ops['error_rate'])}"
        + (f" ({ops['refused_rows']:,} rows refused)" if ops.get("refused_rows") else "")
    )


def window_text(window: WindowReport) -> list[str]:
    dataset = window.dataset_drift
    versions = ", ".join(map(str, window.versions)) or "—"
    span = (
        f"Window {window_time(window.start)} – {window_time(window.end, False)} UTC: "
        if window.start is not None
        else ""
    )
    lines = [
        f"{span}{window.rows:,} rows, version {versions}",
        f"  dataset drift: {dataset['drifted_columns']} of {dataset['columns']} columns "
        f"({_share(dataset['share'])}{', weighted by importance' if dataset['weighted'] else ''}; "
        f"drift at ≥ {_share(dataset['threshold'])}): {'DRIFT' if dataset['drifted'] else 'no'}",
    ]
    quality = {q["column"]: q for q in window.data_quality}
    rows = []
    for drift in sorted(window.drift, key=lambda d: (not d.drifted, d.column)):
        q = quality.get(drift.column, {})
        issues = []
        if q.get("out_of_range_share"):
            issues.append(f"{_share(q['out_of_range_share'])} out of range")
        if q.get("unseen_share"):
            issues.append(f"{_share(q['unseen_share'])} unseen")
        if q.get("type_errors"):
            issues.append(f"{q['type_errors']} not numbers")
        rows.append(
            [
                drift.column,
                drift.method or "—",
                _num(drift.score),
                f"{drift.threshold:g}",
                "yes" if drift.drifted else "no" if drift.score is not None else "—",
                _share(q.get("missing_share")),
                ", ".join(issues) or (drift.note or ""),
            ]
        )
    lines += _table(
        ["column", "method", "score", "threshold", "drifted", "missing", "data quality"], rows
    )
    if window.prediction_drift is not None:
        lines.append(f"  prediction drift: {_drift_line(window.prediction_drift)}")
    lines.append(f"  quality: {_quality_text(window.quality)}")
    lines.append(f"  operations: {_operations_text(window.operations)}")
    if window.missing_columns:
        lines.append(f"  not in the traffic: {', '.join(window.missing_columns)}")
    lines += [f"  note: {note}" for note in window.notes]
    return lines


def report_text(report: MonitorReport) -> str:
    span = (
        f"windows of {report.window}"
        if report.window
        else f"windows of {report.rows_per_window:,} rows"
    )
    lines = [
        f"{report.name}: {len(report.windows)} {span} from {window_time(report.since)} to "
        f"{window_time(report.until)} UTC"
    ]
    for version, ref in sorted(report.references.items()):
        source = ref["source"] or "unknown source"
        lines.append(f"  reference of version {version}: {ref['rows']:,} rows ({source})")
    lines += [f"  {note}" for note in report.notes]
    latest = report.latest
    if latest is None:
        return "\n".join(lines)
    lines.append("")
    lines += window_text(latest)
    if len(report.windows) > 1:
        lines += ["", "History (oldest first):"]
        rows = []
        for w in report.windows:
            quality = w.quality
            realised = (quality.get("realised") or {}).get("accuracy")
            estimated = (quality.get("estimated") or {}).get("accuracy")
            ops = w.operations or {}
            rows.append(
                [
                    window_time(w.start),
                    f"{w.rows:,}",
                    f"{w.dataset_drift['drifted_columns']}/{w.dataset_drift['columns']}",
                    "yes"
                    if w.prediction_drift is not None and w.prediction_drift.drifted
                    else "no",
                    _num(estimated),
                    _num(realised),
                    _num(ops.get("p95_ms"), 2),
                    _share(ops.get("error_rate")),
                ]
            )
        lines += _table(
            [
                "window (UTC)",
                "rows",
                "drifted",
                "pred. drift",
                "est. acc",
                "accuracy",
                "p95 ms",
                "errors",
            ],
            rows,
        )
    return "\n".join(lines)


def alerts_text(name: str, states: list[AlertState], changes: list[Event]) -> str:
    """Each rule's state, then the latest changes, oldest first."""
    if not states:
        return f"{name}: no alert rule has been evaluated yet."
    rows = [
        [
            s.rule,
            s.state.upper() if s.state != "ok" else "ok",
            _num(s.value),
            f"{window_time(s.since)} UTC",
            " ".join(level[0] for level in s.levels[-10:]),
            "" if not s.delivery else (
                f"webhook {s.delivery.get('status') or '—'}"
                + (f": {s.delivery['error']}" if s.delivery.get("error") else "")
            ),
        ]
        for s in states
    ]  # fmt: skip
    lines = [f"{name}: alert rules"]
    lines += _table(["rule", "state", "value", "since", "last windows", "delivery"], rows)
    if changes:
        lines += ["", "Changes (oldest first):"]
        for event in changes:
            p = event.payload
            lines.append(
                f"  {window_time(event.created_at)} UTC  {p.get('rule')}: {p.get('previous')} -> "
                f"{p.get('state')} (value {_num(p.get('value'))}, {p.get('direction')} "
                f"{p.get('threshold')}, window to {window_time(p.get('window_end'), False)})"
            )
    return "\n".join(lines)
