"""How runs, experiments and datasets look in text and HTML: the one place for the CLI, the
``%%track`` summary, ``%mlops`` and the widget views (the lab draws its own, in TypeScript).

Every user string that goes into HTML passes through :func:`esc`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Sequence, Sized
from dataclasses import dataclass
from typing import Any

from .entities import (
    STAGES,
    DatasetVersion,
    Experiment,
    GateReport,
    ModelAlias,
    ModelServer,
    ModelVersion,
    RegisteredModel,
    Run,
    jsonable,
)

# Run statuses, coloured alike in the cell summary and the widget views.
STATUS_COLORS = {"FINISHED": "#1b7f3b", "FAILED": "#b00020", "KILLED": "#8a6d00"}
RUNNING_COLOR = "#1565c0"


def fmt_value(value: Any) -> str:
    """A param or metric as text: floats to 6 significant digits, missing values empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value).lower()
    return str(value)


def esc(value: Any) -> str:
    """User text (run names, params, sources...) made safe to put in HTML."""
    return html.escape(fmt_value(value), quote=True)


def status_html(status: str) -> str:
    color = STATUS_COLORS.get(status, RUNNING_COLOR)
    return f"<span style='color:{color};font-weight:600'>{esc(status)}</span>"


def frame(rows: list[dict[str, Any]], index: str | None = None) -> Any:
    """Rows as a pandas DataFrame, as the notebook's text views show them: missing values as
    empty cells, not NaN or None."""
    import pandas as pd

    out = pd.DataFrame(rows)
    if index and not out.empty:
        out = out.set_index(index)
    return out.astype(object).where(out.notna(), "")


def table_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every key of ``rows``, in the order first seen."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def table_cell(value: Any, width: int = 40) -> str:
    text = fmt_value(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def table_text(rows: Sequence[dict[str, Any]], width: int = 40) -> str:
    """Rows as an aligned text table (a header, a rule, one line per row)."""
    if not rows:
        return "(none)\n"
    columns = table_columns(rows)
    cells = [[table_cell(row.get(c), width) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "".join(line.rstrip() + "\n" for line in lines)


def short_fingerprint(fp: str) -> str:
    return fp.split(":", 1)[-1][:12]


def dataset_shape(d: DatasetVersion) -> str:
    return "×".join(map(str, d.shape or [])) or d.kind


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
                values.append(short_fingerprint(found[0].fingerprint) if found else None)
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


# -- the summary under a tracked cell --------------------------------------------------------

# A notebook keeps a summary of each tracked cell's run, not the run: the .ipynb is saved,
# diffed and shared, and full records (a profile of every column, hundreds of params) once
# made a 6 KB notebook weigh 400 KB. The lab's card fetches the rest from the store by the
# run's id; other front ends show what is here. The three parts together (JSON, text, HTML)
# stay under SUMMARY_BYTES as nbformat saves them: under 2 KiB with the output's own fields.
SUMMARY_BYTES = 2000
# What a summary counts, in the order it names them.
SUMMARY_KINDS = ("params", "metrics", "inputs", "outputs", "models", "notes")


@dataclass(frozen=True)
class SummaryLimits:
    """How much of a run a cell's summary names; the first limits whose output fits win."""

    metrics: int  # metrics named with their values
    params: int  # params likewise
    datasets: int  # datasets of each role, and models
    notes: int
    text: int  # characters of a name, key or value
    long: int  # characters of an error message or a note


SUMMARY_LIMITS = (
    # A note says what was not recorded: it is the last thing given up.
    SummaryLimits(metrics=3, params=2, datasets=2, notes=1, text=24, long=80),
    SummaryLimits(metrics=2, params=1, datasets=1, notes=1, text=20, long=64),
    SummaryLimits(metrics=1, params=0, datasets=1, notes=1, text=16, long=48),
    SummaryLimits(metrics=0, params=0, datasets=0, notes=1, text=16, long=48),
    # Names of control characters or emoji, escaped to six bytes each: still under 2 KiB.
    SummaryLimits(metrics=0, params=0, datasets=0, notes=0, text=8, long=0),
)


def clip(text: str, most: int) -> str:
    """``text`` in at most ``most`` characters, an ellipsis marking the cut."""
    if len(text) <= most:
        return text
    return text[: most - 1] + "…" if most > 0 else ""


def cell_summary(
    run: Run, duration: float, notes: Sequence[str], limits: SummaryLimits = SUMMARY_LIMITS[0]
) -> dict[str, Any]:
    """The run as its cell keeps it: who it is, how it ended, how many of each thing it
    recorded (``counts``, none when zero) and the first few of them, clipped. Empty parts
    are left out."""
    info = run.info
    text = limits.text

    def first(values: dict[str, Any], most: int) -> dict[str, Any]:
        return {
            clip(k, text): clip(v, text) if isinstance(v, str) else v
            for k, v in list(values.items())[:most]
        }

    def datasets(items: list[DatasetVersion]) -> list[str]:
        return [
            f"{clip(d.name, text)} [{dataset_shape(d)}] {short_fingerprint(d.fingerprint)[:8]}"
            for d in items[: limits.datasets]
        ]

    head: dict[str, Any] = {
        "id": info.id,
        "experiment_name": clip(info.experiment_name, text),
        "name": clip(info.name, 2 * text - 8),
        "status": info.status,
    }
    if info.error_name:
        head["error_name"] = clip(info.error_name, text)
        head["error_value"] = clip(str(info.error_value or ""), limits.long)
    sizes: tuple[Sized, ...] = (run.params, run.metrics, run.inputs, run.outputs, run.models, notes)
    parts = {
        "params": first(run.params, limits.params),
        "metrics": first(run.metrics, limits.metrics),
        "inputs": datasets(run.inputs),
        "outputs": datasets(run.outputs),
        "models": [
            f"{clip(m.name, text)} ({clip(m.model_class.rsplit('.', 1)[-1], text)})"
            for m in run.models[: limits.datasets]
        ],
        "notes": [clip(n, limits.long) for n in notes[: limits.notes]],
    }
    return jsonable(
        {
            "info": head,
            "duration_s": round(duration, 3),
            "counts": {k: len(v) for k, v in zip(SUMMARY_KINDS, sizes, strict=True) if v},
            **{k: v for k, v in parts.items() if v},
        }
    )


def _counted(summary: dict[str, Any], kind: str) -> str:
    """``301 params``, ``1 input``; empty when there are none."""
    total = summary["counts"].get(kind, 0)
    return f"{total} {kind[:-1] if total == 1 else kind}" if total else ""


def _listed(summary: dict[str, Any], kind: str) -> str:
    """What a summary names of a kind, and how many it leaves out: ``a=1, b=2 … +298``."""
    shown = summary.get(kind, [])
    items = [f"{k}={fmt_value(v)}" for k, v in shown.items()] if isinstance(shown, dict) else shown
    more = summary["counts"].get(kind, 0) - len(items)
    return ", ".join(items) + (f" … +{more}" if items and more > 0 else "")


def _summary_title(summary: dict[str, Any]) -> tuple[str, str, str]:
    info = summary["info"]
    return (
        info["id"][:8],
        f"{summary['duration_s']:.3f}s",
        f"{info['experiment_name']} / {info['name']}",
    )


def _error(summary: dict[str, Any]) -> str:
    info = summary["info"]
    return ": ".join(part for part in (info["error_name"], info.get("error_value")) if part)


def run_summary_text(summary: dict[str, Any]) -> str:
    """A cell's summary (:func:`cell_summary`) in a few lines, for terminal front ends: the
    metrics it names, how many of the rest, the error."""
    run_id, duration, title = _summary_title(summary)
    info = summary["info"]
    lines = [f"run {run_id} · {info['status']} · {duration} · {title}"]
    counted, listed = _counted(summary, "metrics"), _listed(summary, "metrics")
    if counted:
        lines.append(f"{counted}: {listed}" if listed else counted)
    rest = [_counted(summary, k) for k in SUMMARY_KINDS if k != "metrics"]
    if any(rest):
        lines.append(" · ".join(r for r in rest if r))
    # A note says what was not recorded, so it is written out, not only counted.
    lines += [f"note: {note}" for note in summary.get("notes", [])]
    if info.get("error_name"):
        lines.append(f"error: {_error(summary)}")
    return "\n".join(lines)


def run_summary_html(summary: dict[str, Any]) -> str:
    """The same as HTML, naming the first few of each kind, for front ends without the lab's
    card (VS Code, GitHub)."""
    e = esc
    run_id, duration, title = _summary_title(summary)
    info = summary["info"]
    rows = [f"<code>{e(run_id)}</code> {status_html(info['status'])} · {e(duration)} · {e(title)}"]
    for kind in SUMMARY_KINDS:
        if summary["counts"].get(kind):
            listed = _listed(summary, kind)
            rows.append(
                f"<b>{e(_counted(summary, kind))}</b>" + (f": {e(listed)}" if listed else "")
            )
    if info.get("error_name"):
        rows.insert(1, f"<b>error</b>: {e(_error(summary))}")
    return f"<div style='font-size:12px'>{'<br>'.join(rows)}</div>"


def saved_size(bundle: dict[str, Any]) -> int:
    """Bytes a display output of ``bundle`` takes in an .ipynb: nbformat writes JSON with
    ``indent=1``, texts as lists of lines, an output four levels deep."""
    data = {k: v.splitlines(True) if isinstance(v, str) else v for k, v in bundle.items()}
    saved = json.dumps(
        {"data": data, "metadata": {}, "output_type": "display_data"},
        indent=1,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ": "),
    )
    return len(saved.encode()) + 4 * (saved.count("\n") + 1) + 2


def cell_summary_bundle(
    run: Run, duration: float, notes: Sequence[str], mime: str
) -> dict[str, Any]:
    """The output under a tracked cell: its summary as ``mime`` (JSON, which the lab draws as
    a card), text and HTML, naming as much as fits in SUMMARY_BYTES."""
    for limits in SUMMARY_LIMITS:
        summary = cell_summary(run, duration, notes, limits)
        bundle = {
            "text/plain": run_summary_text(summary),
            "text/html": run_summary_html(summary),
            mime: summary,
        }
        if saved_size(bundle) < SUMMARY_BYTES:
            break
    return bundle


# -- one run ---------------------------------------------------------------------------------


def run_detail_text(run: Run) -> str:
    """Everything recorded about a run, as ``jupyter-mlops runs show`` prints it."""
    info = run.info
    lines = [
        f"run        {info.id}",
        f"name       {info.name}",
        f"experiment {info.experiment_name}",
        f"status     {info.status}",
        f"start      {fmt_time(info.start_time)}   duration {fmt_duration(info.duration_ms)}",
        f"user       {info.user}@{info.host}",
        f"notebook   {info.notebook_path or '-'}   cell {info.cell_id or '-'}   "
        f"[{info.execution_count or '-'}]",
        f"git        {info.git_commit or '-'}{' (dirty)' if info.git_dirty else ''}",
        f"python     {info.python_version}",
    ]

    def dataset(d: DatasetVersion) -> str:
        return f"{d.name} v{d.version} {d.kind} {d.shape or ''} {d.fingerprint}"

    sections = [
        ("params", [f"{k} = {v}" for k, v in run.params.items()]),
        ("metrics", [f"{k} = {fmt_value(v)}" for k, v in run.metrics.items()]),
        ("tags", [f"{k} = {v}" for k, v in run.tags.items()]),
        ("inputs", [dataset(d) for d in run.inputs]),
        ("outputs", [dataset(d) for d in run.outputs]),
        (
            "models",
            [f"{m.name} {m.model_class} id={m.id} sha256={m.sha256[:12]}" for m in run.models],
        ),
        ("artifacts", [f"{a.path} ({a.size} bytes) sha256={a.sha256[:12]}" for a in run.artifacts]),
    ]
    for title, items in sections:
        if items:
            lines.append(f"\n{title}:")
            lines += [f"  {item}" for item in items]
    if info.error_name:
        lines += ["\nerror:", f"  {info.error_name}: {info.error_value}"]
        if info.traceback:
            lines += ["  " + line for line in info.traceback.rstrip().splitlines()]
    if info.source:
        lines += ["\nsource:"] + ["  " + line for line in info.source.splitlines()]
    return "\n".join(lines)


def run_fields(run: Run) -> list[dict[str, Any]]:
    """A run as (field, value) rows, as ``%mlops show`` shows it."""
    rows = [{"field": k, "value": v} for k, v in run_rows([run])[0].items()]
    rows += [{"field": "source", "value": run.info.source}]
    rows += [
        {"field": f"{d.role}.{d.name}", "value": f"v{d.version} {d.fingerprint}"}
        for d in [*run.inputs, *run.outputs]
    ]
    rows += [{"field": f"model.{m.name}", "value": m.model_class} for m in run.models]
    return rows


# The registry -------------------------------------------------------------------------------
def aliases_by_version(aliases: Sequence[ModelAlias]) -> dict[int, list[str]]:
    by_version: dict[int, list[str]] = {}
    for alias in aliases:
        by_version.setdefault(alias.version, []).append(alias.alias)
    return by_version


def registered_model_row(
    model: RegisteredModel,
    versions: Sequence[ModelVersion],
    aliases: Sequence[ModelAlias],
    raw: bool = False,
) -> dict[str, Any]:
    """A registered model at a glance: the newest version in each stage, and its aliases."""
    latest = {v.stage: v.version for v in versions}  # oldest first: the newest wins
    row: dict[str, Any] = {"name": model.name, "versions": len(versions)}
    row.update({stage: latest.get(stage) for stage in STAGES})
    if raw:
        row["aliases"] = {a.alias: a.version for a in aliases}
    else:
        row["aliases"] = " ".join(f"{a.alias}={a.version}" for a in aliases)
    row["description"] = model.description
    return row


def version_row(version: ModelVersion, aliases: list[str], raw: bool) -> dict[str, Any]:
    return {
        "version": version.version,
        "stage": version.stage,
        "aliases": aliases if raw else " ".join(aliases),
        "run_id": version.run_id,
        "logged_model_id": version.logged_model_id,
        "sha256": version.sha256 if raw else version.sha256[:12],
        "created": version.created_at if raw else fmt_time(version.created_at),
        "created_by": version.created_by,
        "description": version.description,
    }


def server_row(server: ModelServer) -> dict[str, Any]:
    """A model server as the notebook's table and ``serve list`` show it."""
    return {
        "id": server.id[:8],
        "model": server.name + server.ref,
        "version": server.version,
        "status": server.status,
        "url": server.url,
        "req/s": server.stats.get("rate"),
        "p95_ms": server.stats.get("p95_ms"),
        "requests": server.stats.get("requests"),
        "started": fmt_time(server.started_at),
        "by": server.started_by,
        "reason": server.reason,
    }


# Gate reports ---------------------------------------------------------------------------------
def gate_report_rows(report: GateReport, brief: bool = False) -> list[dict[str, Any]]:
    """One row per check of every gate: the numbers behind each verdict. ``brief`` leaves
    out the robustness probes that passed (the gate's summary counts them)."""
    rows = []
    for gate in report.gates:
        for check in gate.get("checks", []):
            if brief and gate["gate"] == "robustness" and check.get("passed"):
                continue
            rows.append(
                {
                    "gate": gate["gate"],
                    "check": check.get("name"),
                    "value": check.get("value"),
                    "threshold": check.get("threshold"),
                    "verdict": _verdict(check),
                    "note": check.get("note", ""),
                }
            )
    return rows


def _verdict(check: dict[str, Any]) -> str:
    """pass / FAIL for a check against a threshold; nothing for a figure shown for context."""
    if not check.get("passed"):
        return "FAIL"
    return "pass" if check.get("threshold") else ""


def gate_report_title(report: GateReport) -> str:
    failed = report.failed
    verdict = "PASSED" if report.passed else f"FAILED ({', '.join(failed)})"
    holdout = report.report.get("holdout") or {}
    on = holdout.get("ref") or (f"a DataFrame of {holdout['rows']} rows" if holdout else "")
    return (
        f"{report.name}/{report.version}: {verdict}"
        + (f" on {on}" if on else "")
        + f", report {report.sha256[:12]}"
    )


def gate_report_text(report: GateReport) -> str:
    """The report as a terminal shows it: a verdict line, one line per gate, then the checks
    (robustness probes only when they failed)."""
    lines = [gate_report_title(report)]
    for gate in report.gates:
        mark = "pass" if gate.get("passed") else "FAIL"
        lines.append(f"  {mark:4}  {gate['gate']:10}  {gate.get('summary', '')}")
    return "\n".join(lines) + "\n\n" + table_text(gate_report_rows(report, brief=True), width=60)


def gate_report_html(report: GateReport) -> str:
    """The report as a notebook shows it: a verdict per gate, then its checks."""
    ok, bad = STATUS_COLORS["FINISHED"], STATUS_COLORS["FAILED"]
    parts = [f"<div><b>{esc(gate_report_title(report))}</b>"]
    for gate in report.gates:
        color = ok if gate.get("passed") else bad
        verdict = "pass" if gate.get("passed") else "FAIL"
        parts.append(
            f"<details{'' if gate.get('passed') else ' open'}><summary>"
            f"<span style='color:{color};font-weight:600'>{verdict}</span> "
            f"<b>{esc(gate['gate'])}</b>: {esc(gate.get('summary', ''))}</summary><table>"
            "<tr><th>check</th><th>value</th><th>threshold</th><th>verdict</th><th>note</th></tr>"
        )
        for check in gate.get("checks", []):
            mark = _verdict(check)
            parts.append(
                f"<tr><td>{esc(check.get('name'))}</td><td>{esc(check.get('value'))}</td>"
                f"<td>{esc(check.get('threshold'))}</td><td>{mark}</td>"
                f"<td>{esc(check.get('note', ''))}</td></tr>"
            )
        parts.append("</table></details>")
    return "".join(parts) + "</div>"
