"""``%mlops compare`` as ipywidgets + plotly: params, metrics, histories, parallel coordinates
and the diff of the cell sources.

Each chart is a plain ``go.Figure`` (``view.figures``) shown in an ``ipywidgets.Output``
(``view.charts``) as one output of plotly's mime type, ``application/vnd.plotly.v1+json``: the
figure's JSON only, no HTML and no JavaScript. JupyterLab draws it with the ``jupyterlab-plotly``
extension that comes in the plotly wheel (plotly.js served by the lab server), VS Code and
Notebook 7 natively, so nothing is fetched from a CDN, and the widget state stays a few kB where
a ``FigureWidget`` (an anywidget under plotly>=6) carries the whole ~5 MB plotly.js bundle.
A Dropdown change redraws a figure and replaces the Output's outputs in one go.
Plotly turns a few HTML-like tags in titles, legends and axis labels into markup, so run names
and keys are escaped there too (plotly shows ``&lt;`` as ``<``). Parallel-coordinates ticks are
plain text nodes (``&lt;`` would show as is), so param values go there unescaped.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from .. import views
from ..exceptions import InvalidInput, NotFound
from ..views import esc
from .html import close_tree, finite, note_html, table_html

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import Run

MAX_POINTS = 1000  # per history line, downsampled by the store (min-max, spikes kept)
MAX_DIMENSIONS = 30  # params on the parallel-coordinates plot
PROBED_METRICS = 5  # metrics looked at to choose the history shown first
_LINES_AND_MARKERS_UP_TO = 50  # points; longer histories are drawn as plain lines
_CHART_HEIGHT = 380  # px
PLOTLY_MIME = "application/vnd.plotly.v1+json"
_DIFF_STYLES = {
    "+": "background-color:#e6ffed",
    "-": "background-color:#ffeef0",
    "@": "color:#6f42c1",
}


def run_label(run: Run) -> str:
    return f"{run.info.name} ({run.info.id[:8]})"


def param_number(text: str | None) -> float | None:
    """A param's value as a finite number, or None (it is then a categorical dimension)."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _layout(title: str, **kw: Any) -> go.Layout:
    kw.setdefault("margin", {"l": 60, "r": 30, "t": 60, "b": 50})
    return go.Layout(title={"text": title}, template="plotly_white", height=_CHART_HEIGHT, **kw)


def figure_output(figure: go.Figure, text: str) -> dict[str, Any]:
    """A figure as an Output widget's one output: its JSON under plotly's mime type, and a
    line of text for a frontend that cannot draw it. No HTML, no JavaScript, no CDN."""
    return {
        "output_type": "display_data",
        "data": {PLOTLY_MIME: json.loads(figure.to_json()), "text/plain": text},
        "metadata": {},
    }


def _diff_line(line: str) -> str:
    text = esc(line)
    if line.startswith(("+++", "---")):
        return f"<b>{text}</b>"
    style = _DIFF_STYLES.get(line[:1])
    return f"<span style='{style}'>{text}</span>" if style else text


class CompareView(widgets.VBox):
    """Runs side by side: params (differing rows highlighted), a bar chart of the latest
    metrics, the history of a chosen metric, a parallel-coordinates plot of the params against
    a chosen metric, and a unified diff of the cell sources. ``.frame`` is the params table.
    """

    def __init__(
        self, client: Client, run_ids: Sequence[str], max_points: int = MAX_POINTS
    ) -> None:
        runs: list[Run] = []
        for ref in run_ids:
            run = client.get_run(ref)
            if all(r.id != run.id for r in runs):
                runs.append(run)
        if len(runs) < 2:
            raise InvalidInput("compare needs at least two different runs.")
        self._client = client
        self._max_points = max_points
        self.runs = runs
        self._labels = [run_label(r) for r in runs]
        metrics = sorted({k for r in runs for k in r.metrics})

        self.header = widgets.HTML(
            f"<b>Comparing {len(runs)} runs:</b> " + ", ".join(esc(x) for x in self._labels)
        )
        self.only_differences = widgets.Checkbox(
            value=False, description="Only differing rows", indent=False
        )
        self.params_html = widgets.HTML(self._params_html())
        self.only_differences.observe(self._on_only_differences, names="value")

        # The figures as plotly objects, and the Output widgets that show them.
        self.figures: dict[str, go.Figure] = {}
        self.charts: dict[str, widgets.Output] = {
            name: widgets.Output(layout={"min_height": f"{_CHART_HEIGHT}px"})
            for name in ("bar", "history", "parcoords")
        }
        self.figures["bar"] = go.Figure(
            [
                go.Bar(
                    name=esc(label),
                    x=[esc(k) for k in metrics],
                    y=[finite(run.metrics.get(k)) for k in metrics],
                )
                for run, label in zip(runs, self._labels, strict=True)
            ],
            layout=_layout("Latest metric values", barmode="group", legend={"orientation": "h"}),
        )
        self._show("bar", f"Bar chart: latest values of {len(metrics)} metrics, {len(runs)} runs")

        self._series: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.history_metric = widgets.Dropdown(
            options=metrics, value=self._default_history(metrics), description="History of"
        )
        self.history_note = widgets.HTML("")
        self.draw_history()
        self.history_metric.observe(lambda _: self.draw_history(), names="value")

        self.parcoords_metric = widgets.Dropdown(
            options=metrics, value=metrics[0] if metrics else None, description="Color by"
        )
        self.parcoords_note = widgets.HTML("")
        self.draw_parcoords()
        self.parcoords_metric.observe(lambda _: self.draw_parcoords(), names="value")

        self.diff_html = widgets.HTML(self._diff_html())

        if metrics:
            metric_charts: list[Any] = [
                self.charts["bar"],
                self.history_metric,
                self.history_note,
                self.charts["history"],
            ]
        else:
            metric_charts = [widgets.HTML(note_html("None of these runs logged a metric."))]
        super().__init__(
            children=[
                self.header,
                widgets.HTML("<h4>Params and metrics</h4>"),
                self.only_differences,
                self.params_html,
                widgets.HTML("<h4>Metrics</h4>"),
                *metric_charts,
                widgets.HTML("<h4>Parallel coordinates</h4>"),
                self.parcoords_metric,
                self.parcoords_note,
                self.charts["parcoords"],
                widgets.HTML("<h4>Cell source diff</h4>"),
                self.diff_html,
            ]
        )

    # Data ------------------------------------------------------------------------------
    @property
    def frame(self) -> Any:
        """One row per field (name, params, metrics, data), one column per run, ``differs``."""
        return views.frame(views.compare_rows(self.runs), "field")

    def close(self) -> None:
        """Close the view and every widget in it (charts not shown, for want of metrics, too)."""
        for child in [*getattr(self, "children", ()), *getattr(self, "charts", {}).values()]:
            close_tree(child)
        super().close()

    def _show(self, name: str, text: str) -> None:
        """(Re)draw a chart: its Output's outputs become the figure, replaced in one go (no
        kernel needed, so it works from any callback and in tests alike)."""
        self.charts[name].outputs = (figure_output(self.figures[name], text),)

    # Params ----------------------------------------------------------------------------
    def _on_only_differences(self, _change: dict[str, Any]) -> None:
        self.params_html.value = self._params_html()

    def _params_html(self) -> str:
        rows = views.compare_rows(self.runs)
        if self.only_differences.value:
            rows = [row for row in rows if row["differs"]]
        header = ["field"] + [
            f"{esc(r.info.name)}<br><code>{esc(r.info.id[:8])}</code>" for r in self.runs
        ]
        body = [[esc(row["field"]), *(esc(row[r.info.id[:8]]) for r in self.runs)] for row in rows]
        return table_html(header, body, [bool(row["differs"]) for row in rows], "jp-mlops-compare")

    # Histories -------------------------------------------------------------------------
    def series(self, run: Run, key: str) -> dict[str, Any] | None:
        """A run's history of a metric, downsampled (None if it has none); kept once read."""
        if (run.id, key) not in self._series:
            try:
                found = self._client.get_metric_series(run.id, key, max_points=self._max_points)
            except NotFound:
                found = None
            self._series[run.id, key] = found
        return self._series[run.id, key]

    def _default_history(self, metrics: Sequence[str]) -> str | None:
        """The first metric logged at more than one step (a curve, not a dot), looking at a
        few only (each look reads a history), else the first metric."""
        for key in metrics[:PROBED_METRICS]:
            run = next(r for r in self.runs if key in r.metrics)
            found = self.series(run, key)
            if found is not None and found["total"] > 1:
                return key
        return metrics[0] if metrics else None

    def draw_history(self) -> None:
        """One line per run for the chosen metric (runs without it are left out)."""
        key = self.history_metric.value
        traces = []
        notes = []
        for run, label in zip(self.runs, self._labels, strict=True):
            series = self.series(run, key) if key is not None and key in run.metrics else None
            if series is None:
                continue
            steps = series["steps"]
            traces.append(
                go.Scatter(
                    x=steps,
                    y=[finite(v) for v in series["values"]],
                    name=esc(label),
                    mode="lines+markers" if len(steps) <= _LINES_AND_MARKERS_UP_TO else "lines",
                )
            )
            if series["downsampled"]:
                notes.append(f"{label}: {len(steps)} of {series['total']} points shown")
        self.figures["history"] = go.Figure(
            traces,
            layout=_layout(
                f"History of {esc(key)}" if key else "",
                xaxis={"title": {"text": "step"}},
                legend={"orientation": "h"},
            ),
        )
        self._show("history", f"Line chart: history of {key}, {len(traces)} runs" if key else "")
        self.history_note.value = note_html("; ".join(notes)) if notes else ""

    # Parallel coordinates --------------------------------------------------------------
    def parcoords_dimensions(self, runs: Sequence[Run]) -> list[dict[str, Any]]:
        """The params that differ (all of them if none does) as dimensions: numbers as they
        are, anything else as integer codes with the values as tick labels."""
        keys = views.differing_params(runs) or sorted({k for r in runs for k in r.params})
        dimensions: list[dict[str, Any]] = []
        for key in keys[:MAX_DIMENSIONS]:
            texts = [r.params.get(key) for r in runs]
            numbers = [param_number(t) for t in texts]
            if all(n is not None for n in numbers):
                dimensions.append({"label": esc(key), "values": numbers})
                continue
            categories = sorted({t or "" for t in texts}, key=lambda t: (t == "", t))
            codes = {c: i for i, c in enumerate(categories)}
            dimension: dict[str, Any] = {
                "label": esc(key),
                "values": [codes[t or ""] for t in texts],
                "tickvals": list(range(len(categories))),
                # Plain text nodes in plotly.js (d3 axis ticks): safe unescaped, and shown as is.
                "ticktext": [c if c else "(unset)" for c in categories],
            }
            if len(categories) == 1:
                dimension["range"] = [-0.5, 0.5]  # one value: mid-axis, not at an end
            dimensions.append(dimension)
        return dimensions

    def draw_parcoords(self) -> None:
        metric = self.parcoords_metric.value
        runs = self.runs
        left_out: list[str] = []
        if metric is not None:
            runs = [r for r in self.runs if finite(r.metrics.get(metric)) is not None]
            kept = {r.id for r in runs}
            left_out = [run_label(r) for r in self.runs if r.id not in kept]
        dimensions = self.parcoords_dimensions(runs)
        line: dict[str, Any] = {"color": "#1f77b4"}
        if metric is not None and runs:
            values = [finite(r.metrics.get(metric)) for r in runs]
            dimensions.append({"label": esc(metric), "values": values})
            line = {
                "color": values,
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": esc(metric)}},
            }
        self.figures["parcoords"] = go.Figure(
            [go.Parcoords(dimensions=dimensions, line=line)] if dimensions and runs else [],
            layout=_layout("Params against a metric", margin={"l": 60, "r": 30, "t": 100, "b": 40}),
        )
        against = f"against {metric}" if metric is not None else "(no metric)"
        self._show("parcoords", f"Parallel coordinates: params {against}, {len(runs)} runs")
        notes = []
        if left_out:
            notes.append(f"Left out, no finite {metric}: {', '.join(left_out)}")
        if not dimensions:
            notes.append("These runs have no params or metrics to plot.")
        self.parcoords_note.value = note_html(". ".join(notes)) if notes else ""

    # Sources ---------------------------------------------------------------------------
    def _diff_html(self) -> str:
        base, base_label = self.runs[0], self._labels[0]
        parts = []
        for other, label in zip(self.runs[1:], self._labels[1:], strict=True):
            a, b = base.info.source or "", other.info.source or ""
            if not a and not b:
                parts.append(note_html(f"No cell source recorded for {base_label} or {label}."))
                continue
            lines = list(
                difflib.unified_diff(
                    a.splitlines(), b.splitlines(), fromfile=base_label, tofile=label, lineterm=""
                )
            )
            if not lines:
                parts.append(note_html(f"{label} ran the same cell source as {base_label}."))
                continue
            body = "\n".join(_diff_line(line) for line in lines)
            parts.append(
                "<pre class='jp-mlops-diff' style='font-size:12px;line-height:1.35;"
                f"padding:6px;border:1px solid #e0e0e0;overflow:auto'>{body}</pre>"
            )
        return "".join(parts)

    # Display ---------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget, plus the params table as text and HTML for a frontend without widgets."""
        data = dict(super()._repr_mimebundle_(**kwargs) or {})
        title = f"Comparing {len(self.runs)} runs: {', '.join(self._labels)}"
        data["text/plain"] = f"{title}\n{self.frame.to_string(max_colwidth=40)}"
        data["text/html"] = f"<p>{esc(title)}</p>{self._params_html()}{self._diff_html()}"
        return data
