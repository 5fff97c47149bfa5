"""``%mlops monitor NAME`` as ipywidgets + plotly: a served model's state at a glance, the
drifted columns as a table, and charts over the windows — drift per column, reference
against current for the drifted columns and the predictions, quality realised and estimated,
latency, load and errors.

Like ``%mlops compare``, each chart is a plain figure shown as plotly's mime type in an
``Output`` (no HTML, no JavaScript, nothing from a CDN); a frontend without widgets gets the
report as text.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..monitoring.render import report_text, window_time
from ..views import esc
from .compare import figure_output
from .html import table_html

if TYPE_CHECKING:
    from ..monitoring.check import WindowReport
    from ..monitoring.monitor import MonitorReport

MAX_DISTRIBUTIONS = 6  # drifted columns drawn side by side
MAX_HEATMAP_COLUMNS = 60
_HEIGHT = 360
_REFERENCE, _CURRENT = "#7f7f7f", "#d62728"


def _layout(title: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("margin", {"l": 60, "r": 30, "t": 60, "b": 50})
    kw.setdefault("height", _HEIGHT)
    return {"title": {"text": esc(title)}, "template": "plotly_white", **kw}


def _x(windows: list[WindowReport]) -> list[str]:
    return [window_time(w.start) for w in windows]


def drift_figure(report: MonitorReport) -> go.Figure:
    windows = report.windows
    columns: list[str] = []
    for w in windows:
        for d in w.drift:
            if d.column not in columns:
                columns.append(d.column)
    latest = {d.column: d for d in windows[-1].drift} if windows else {}
    # The most drifted columns of the latest window first.
    columns.sort(key=lambda c: -(latest[c].relative or 0) if c in latest else 0)
    columns = columns[:MAX_HEATMAP_COLUMNS]
    z, text = [], []
    for column in columns:
        row, hover = [], []
        for w in windows:
            found = next((d for d in w.drift if d.column == column), None)
            value = None if found is None else found.relative
            row.append(value)
            hover.append(
                "—" if found is None or found.score is None
                else f"{found.method} {found.score:.4g} (threshold {found.threshold:g})"
            )  # fmt: skip
        z.append(row)
        text.append(hover)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=_x(windows),
            y=[esc(c) for c in columns],
            text=text,
            hovertemplate="%{y} · %{x}<br>%{text}<extra></extra>",
            zmin=0,
            zmax=2,
            colorscale=[[0, "#f7fbff"], [0.5, "#fdd49e"], [0.5001, "#fc8d59"], [1, "#b30000"]],
            colorbar={"title": {"text": "× threshold"}},
        )
    )
    figure.update_layout(
        **_layout(
            "Drift per column over windows (above 1: drifted)",
            height=max(_HEIGHT, 22 * len(columns) + 120),
        )
    )
    return figure


def distributions_figure(window: WindowReport) -> go.Figure | None:
    shown = [k for k in window.distributions if k != "prediction"][:MAX_DISTRIBUTIONS]
    if "prediction" in window.distributions:
        shown.append("prediction")
    if not shown:
        return None
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=[esc(k) for k in shown])
    for i, name in enumerate(shown):
        data = window.distributions[name]
        if data["kind"] == "numeric":
            edges = data["edges"]
            x = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        else:
            x = [esc(label) for label in data["labels"]]
        for side, color, values in (
            ("reference", _REFERENCE, data["reference"]),
            ("current", _CURRENT, data["current"]),
        ):
            figure.add_trace(
                go.Bar(
                    x=x,
                    y=values,
                    name=side,
                    marker_color=color,
                    opacity=0.6,
                    showlegend=i == 0,
                    legendgroup=side,
                ),
                row=i // cols + 1,
                col=i % cols + 1,
            )
    figure.update_layout(
        **_layout(
            "Reference and latest window: the drifted columns and the predictions (shares)",
            height=260 * rows + 80,
            barmode="overlay",
        )
    )
    return figure


def _series(windows: list[WindowReport], *path: str) -> list[float | None]:
    out: list[float | None] = []
    for w in windows:
        value: Any = w.quality if path[0] == "quality" else w.operations or {}
        for key in path[1:] if path[0] == "quality" else path:
            value = value.get(key) if isinstance(value, dict) else None
        out.append(value)
    return out


def quality_figure(report: MonitorReport) -> go.Figure | None:
    windows = report.windows
    task = windows[-1].quality.get("task") if windows else None
    metrics = ("rmse", "mae") if task == "regression" else ("accuracy", "f1", "roc_auc")
    figure = go.Figure()
    for metric in metrics:
        realised = _series(windows, "quality", "realised", metric)
        if any(v is not None for v in realised):
            figure.add_trace(go.Scatter(x=_x(windows), y=realised, name=f"{metric} (labels)"))
        estimated = _series(windows, "quality", "estimated", metric)
        if any(v is not None for v in estimated):
            figure.add_trace(
                go.Scatter(
                    x=_x(windows), y=estimated, name=f"{metric} (estimated)", line={"dash": "dot"}
                )
            )
    if not figure.data:
        return None
    figure.update_layout(**_layout("Model quality: from labels, and estimated before labels"))
    return figure


def operations_figure(report: MonitorReport) -> go.Figure | None:
    windows = report.windows
    if not any(w.operations for w in windows):
        return None
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for key, dash in (("p50_ms", "dot"), ("p95_ms", "solid"), ("p99_ms", "dash")):
        figure.add_trace(
            go.Scatter(
                x=_x(windows), y=_series(windows, key), name=key[:3] + " latency (ms)",
                line={"dash": dash},
            ),
            secondary_y=False,
        )  # fmt: skip
    figure.add_trace(
        go.Bar(x=_x(windows), y=_series(windows, "requests"), name="requests", opacity=0.3),
        secondary_y=True,
    )
    errors = [None if v is None else 100 * v for v in _series(windows, "error_rate")]
    figure.add_trace(
        go.Scatter(x=_x(windows), y=errors, name="errors (%)", mode="lines+markers"),
        secondary_y=True,
    )
    figure.update_layout(**_layout("Latency, load and errors"))
    figure.update_yaxes(title_text="ms", secondary_y=False)
    figure.update_yaxes(title_text="requests · errors %", secondary_y=True)
    return figure


def _glance_html(report: MonitorReport) -> str:
    latest = report.latest
    if latest is None:
        notes = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
        return f"<p><b>{esc(report.name)}</b>: nothing to show yet.</p><ul>{notes}</ul>"
    dataset = latest.dataset_drift
    state = "drift" if dataset["drifted"] else "ok"
    colour = "#b30000" if dataset["drifted"] else "#1a7f37"
    estimated = (latest.quality.get("estimated") or {}).get("accuracy")
    realised = (latest.quality.get("realised") or {}).get("accuracy")
    ops = latest.operations or {}
    facts = [
        f"<b style='color:{colour}'>{state}</b>",
        f"{dataset['drifted_columns']} of {dataset['columns']} columns drifted",
        "prediction drift"
        if latest.prediction_drift is not None and latest.prediction_drift.drifted
        else "predictions steady",
        f"{latest.rows:,} rows in the latest window ({esc(window_time(latest.start))} UTC)",
    ]
    if estimated is not None:
        facts.append(f"estimated accuracy {estimated:.3f}")
    if realised is not None:
        facts.append(f"accuracy {realised:.3f} from labels")
    if ops.get("p95_ms") is not None:
        facts.append(f"p95 {ops['p95_ms']:.2f} ms, errors {100 * (ops['error_rate'] or 0):.1f}%")
    rows = [
        [
            esc(d.column),
            esc(d.method),
            f"{d.score:.4g}" if d.score is not None else "—",
            f"{d.threshold:g}",
        ]
        for d in latest.drifted_columns
    ]
    table = (
        table_html(["column", "method", "score", "threshold"], rows)
        if rows
        else "<p>No column drifted in the latest window.</p>"
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in [*report.notes, *latest.notes])
    return (
        f"<p><b>{esc(report.name)}</b> · " + " · ".join(facts) + "</p>"
        + table + (f"<ul>{notes}</ul>" if notes else "")
    )  # fmt: skip


class MonitorView(widgets.VBox):
    """A monitoring report in a notebook; ``.figures`` holds each chart by name."""

    def __init__(self, report: MonitorReport) -> None:
        self.report = report
        self.figures: dict[str, go.Figure] = {}
        if report.windows:
            self.figures["drift"] = drift_figure(report)
            for name, figure in (
                ("distributions", distributions_figure(report.windows[-1])),
                ("quality", quality_figure(report)),
                ("operations", operations_figure(report)),
            ):
                if figure is not None:
                    self.figures[name] = figure
        charts = []
        for name, figure in self.figures.items():
            output = widgets.Output()
            output.outputs = (figure_output(figure, f"{report.name}: {name}"),)
            charts.append(output)
        super().__init__([widgets.HTML(_glance_html(report)), *charts])

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = dict(super()._repr_mimebundle_(**kwargs) or {})
        data["text/plain"] = report_text(self.report)
        data["text/html"] = _glance_html(self.report)
        return data
