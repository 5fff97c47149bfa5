"""How runs, experiments and datasets look in text and HTML: the one place for the CLI, the
``%%track`` summary, ``%mlops`` and the widget views (the lab draws its own, in TypeScript).

Every user string that goes into HTML passes through :func:`esc`.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from typing import Any

from .entities import DatasetVersion, Experiment, Run

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


def short_fingerprint(fp: str) -> str:
    return fp.split(":", 1)[-1][:12]


def dataset_shape(d: DatasetVersion) -> str:
    return "×".join(map(str, d.shape or [])) or d.kind


def dataset_label(d: DatasetVersion) -> str:
    return f"{d.name} [{dataset_shape(d)}] {short_fingerprint(d.fingerprint)} v{d.version}"


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


# -- one run ---------------------------------------------------------------------------------


def run_summary_text(run: Run, duration: float, notes: Sequence[str] = ()) -> str:
    """A run in a few lines, as under a tracked cell in a terminal front end."""
    info = run.info
    lines = [f"run {info.id[:8]} · {info.status} · {duration:.3f}s · {info.experiment_name}"]
    if run.params:
        lines.append("params:  " + ", ".join(f"{k}={fmt_value(v)}" for k, v in run.params.items()))
    if run.metrics:
        lines.append("metrics: " + ", ".join(f"{k}={fmt_value(v)}" for k, v in run.metrics.items()))
    for role, items in (("inputs", run.inputs), ("outputs", run.outputs)):
        if items:
            lines.append(f"{role}: " + ", ".join(dataset_label(d) for d in items))
    for m in run.models:
        lines.append(f" model:  {m.name} ({m.model_class.rsplit('.', 1)[-1]}) {m.id[:8]}")
    if info.error_name:
        lines.append(f" error:  {info.error_name}: {info.error_value}")
    lines += [f"  note:  {n}" for n in notes]
    return "\n".join(lines)


def run_summary_html(run: Run, duration: float, notes: Sequence[str] = ()) -> str:
    """The same summary as HTML, as under a tracked cell in a notebook."""
    e = esc
    info = run.info

    def row(label: str, body: str) -> str:
        return (
            f"<tr><th style='text-align:left;padding-right:1em;vertical-align:top'>{e(label)}</th>"
            f"<td style='text-align:left'>{body}</td></tr>"
        )

    rows = [
        row(
            "run",
            f"<code>{e(info.id[:8])}</code> <b>{status_html(info.status)}</b> "
            f"· {duration:.3f}s · {e(info.experiment_name)} / {e(info.name)}",
        )
    ]
    if run.params:
        rows.append(row("params", ", ".join(f"{e(k)}={e(v)}" for k, v in run.params.items())))
    if run.metrics:
        rows.append(
            row("metrics", ", ".join(f"<b>{e(k)}</b>={e(v)}" for k, v in run.metrics.items()))
        )
    for role, items in (("inputs", run.inputs), ("outputs", run.outputs)):
        if items:
            rows.append(
                row(
                    role,
                    "<br>".join(
                        f"{e(d.name)} [{e(dataset_shape(d))}] <code title='{e(d.fingerprint)}'>"
                        f"{e(short_fingerprint(d.fingerprint))}</code> v{d.version}"
                        for d in items
                    ),
                )
            )
    for m in run.models:
        rows.append(row("model", f"{e(m.name)} ({e(m.model_class)}) <code>{e(m.id[:8])}</code>"))
    if info.error_name:
        rows.append(row("error", f"{e(info.error_name)}: {e(str(info.error_value))}"))
    rows += [row("note", e(n)) for n in notes]
    return (
        "<div class='jp-mlops-run-summary'><table style='font-size:12px;border-collapse:collapse'>"
        + "".join(rows)
        + "</table></div>"
    )


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
