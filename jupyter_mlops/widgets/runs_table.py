"""``%mlops runs`` as ipywidgets: experiment, filter, sort, pages, selection and compare."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .. import views
from ..client import RunPage
from ..views import esc, status_html
from .html import close_tree, error_html, note_html, table_html

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import Run
    from .compare import CompareView

ALL = ""  # the experiment Dropdown's value for "all experiments" (names are never empty)
AS_GIVEN = ""  # the sort Dropdown's value for an order given on the magic line as is
FILTER_EXAMPLE = "metrics.acc > 0.9 and params.model = 'rf'"
# (label, order-by field) of the run attributes a table can be sorted by.
ATTRIBUTE_SORTS = [
    ("start time", "start_time"),
    ("end time", "end_time"),
    ("duration", "duration"),
    ("name", "name"),
    ("status", "status"),
    ("user", "user"),
    ("experiment", "experiment"),
]
# Table column -> the order-by field that sorts by it.
_COLUMN_SORTS = {
    "status": "status",
    "name": "name",
    "experiment": "experiment",
    "start": "start_time",
    "duration": "duration",
    "user": "user",
}
_KEYED = re.compile(r"^(params?|metrics?)\.(?:`([^`]+)`|\"([^\"]+)\"|(\S+))$", re.IGNORECASE)
_DIRECTION = re.compile(r"^(.*?)(?:\s+(asc|desc))?$", re.IGNORECASE | re.DOTALL)


def sort_field(kind: str, key: str) -> str:
    """The order-by field of a param or metric key (quoted: keys may hold spaces)."""
    return f"{kind}.`{key}`"


def parse_order(item: str) -> tuple[str, str] | None:
    """``"metrics.acc DESC"`` -> ``("metrics.`acc`", "DESC")``; None for what the sort
    Dropdown cannot show (the server still validates and applies it)."""
    match = _DIRECTION.match(item.strip())
    if match is None:
        return None
    field, direction = match.group(1).strip(), (match.group(2) or "ASC").upper()
    if field.lower() in {value for _, value in ATTRIBUTE_SORTS}:
        return field.lower(), direction
    keyed = _KEYED.match(field)
    if keyed is None:
        return None
    kind = "params" if keyed.group(1).lower().startswith("param") else "metrics"
    key = next(g for g in keyed.groups()[1:] if g is not None)
    return sort_field(kind, key), direction


@dataclass(frozen=True)
class Query:
    """What the table shows: one page of the runs of an experiment matching a filter."""

    experiment: str | None
    filter: str | None
    order_by: tuple[str, ...]
    offset: int


class RunsTable(widgets.VBox):
    """A page of runs with an experiment picker, a filter box, sorting, paging and a
    "Compare selected" button; ``.frame`` is the page as a DataFrame.

    The first query runs in the constructor, so a bad experiment, filter or order raises
    (``%mlops`` turns it into a UsageError); later ones show their error above the table.
    """

    def __init__(
        self,
        client: Client,
        experiment: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 50,
    ) -> None:
        self._client = client
        self._limit = limit
        self._quiet = False  # set while options change in code: their events are not the user's
        self._params_seen: set[str] = set()
        self._metrics_seen: set[str] = set()
        order = tuple(order_by or ())
        self.page: RunPage = client.search_runs_page(
            experiment, filter or None, list(order), limit, 0
        )
        self._query = Query(experiment, filter or None, order, 0)
        self.compare_view: CompareView | None = None

        names = sorted(e.name for e in client.list_experiments())
        self.experiment_select = widgets.Dropdown(
            options=[("All experiments", ALL), *((n, n) for n in names)],
            value=experiment if experiment in names else ALL,
            description="Experiment",
            layout=widgets.Layout(width="auto"),
        )
        self.filter_text = widgets.Text(
            value=filter or "",
            placeholder=FILTER_EXAMPLE,
            description="Filter",
            continuous_update=False,  # the value arrives on Enter (or leaving the box)
            layout=widgets.Layout(flex="1 1 auto", width="auto"),
        )
        self.apply_button = widgets.Button(description="Apply", icon="filter")
        self.error = widgets.HTML("")
        self.sort_by = widgets.Dropdown(description="Sort by", layout=widgets.Layout(width="auto"))
        self.sort_direction = widgets.ToggleButtons(
            options=[("↓ desc", "DESC"), ("↑ asc", "ASC")],
            style={"button_width": "84px"},
        )
        self.prev_button = widgets.Button(
            description="Prev", icon="chevron-left", layout=widgets.Layout(width="90px")
        )
        self.next_button = widgets.Button(
            description="Next", icon="chevron-right", layout=widgets.Layout(width="90px")
        )
        self.page_label = widgets.HTML("", layout=widgets.Layout(margin="0 8px"))
        self.table = widgets.HTML("")
        self.selection = widgets.SelectMultiple(
            description="Select",
            layout=widgets.Layout(width="auto", min_width="320px"),
        )
        self.compare_button = widgets.Button(
            description="Compare selected",
            icon="columns",
            disabled=True,
            layout=widgets.Layout(width="auto", min_width="170px"),
        )
        self.compare_area = widgets.VBox()

        self._render()

        self.experiment_select.observe(self._on_experiment, names="value")
        self.filter_text.observe(self._on_filter, names="value")
        self.apply_button.on_click(self._on_apply)
        self.sort_by.observe(self._on_sort, names="value")
        self.sort_direction.observe(self._on_sort, names="value")
        self.prev_button.on_click(lambda _: self._turn(-1))
        self.next_button.on_click(lambda _: self._turn(+1))
        self.selection.observe(self._on_select, names="value")
        self.compare_button.on_click(self._on_compare)

        super().__init__(
            children=[
                widgets.HBox([self.experiment_select, self.filter_text, self.apply_button]),
                self.error,
                widgets.HBox(
                    [
                        self.sort_by,
                        self.sort_direction,
                        self.prev_button,
                        self.page_label,
                        self.next_button,
                    ],
                    layout=widgets.Layout(align_items="center"),
                ),
                self.table,
                widgets.HBox([self.selection, self.compare_button]),
                self.compare_area,
            ]
        )

    # Data ------------------------------------------------------------------------------
    @property
    def query(self) -> Query:
        return self._query

    @property
    def runs(self) -> list[Run]:
        return self.page.runs

    @property
    def frame(self) -> Any:
        """The page shown, as a pandas DataFrame indexed by short run id."""
        runs = self.page.runs
        return views.frame(views.run_rows(runs, views.varying_params(runs, most=20)), "run_id")

    def refresh(self) -> None:
        """Query the store again (new runs and experiments appear); errors show inline."""
        names = sorted(e.name for e in self._client.list_experiments())
        self._quiet = True
        try:
            value = self.experiment_select.value
            self.experiment_select.options = [("All experiments", ALL), *((n, n) for n in names)]
            self.experiment_select.value = value if value in names else ALL
        finally:
            self._quiet = False
        self._show(self._query)

    def close(self) -> None:
        """Close the view and every widget in it (the compare view too)."""
        for child in getattr(self, "children", ()):
            close_tree(child)
        super().close()

    # Events ----------------------------------------------------------------------------
    def _on_experiment(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._show(replace(self._query, experiment=change["new"] or None, offset=0))

    def _on_filter(self, _change: dict[str, Any]) -> None:
        if not self._quiet:
            self._on_apply(None)

    def _on_apply(self, _button: Any) -> None:
        text = self.filter_text.value.strip() or None
        self._show(replace(self._query, filter=text, offset=0))

    def _on_sort(self, _change: dict[str, Any]) -> None:
        if self._quiet:
            return
        field = self.sort_by.value
        self.sort_direction.disabled = field == AS_GIVEN
        if field == AS_GIVEN:
            return
        order = (f"{field} {self.sort_direction.value}",)
        self._show(replace(self._query, order_by=order, offset=0))

    def _turn(self, pages: int) -> None:
        offset = max(0, self._query.offset + pages * self._limit)
        self._show(replace(self._query, offset=offset))

    def _on_select(self, _change: dict[str, Any]) -> None:
        self.compare_button.disabled = len(self.selection.value) < 2

    def _on_compare(self, _button: Any) -> None:
        ids = list(self.selection.value)
        if len(ids) < 2:
            self.error.value = error_html("Select at least two runs to compare.")
            return
        from .compare import CompareView

        view = self._guard(lambda: CompareView(self._client, ids))
        if view is None:
            return
        if self.compare_view is not None:
            close_tree(self.compare_view)
        self.compare_view = view
        self.compare_area.children = (view,)

    def _guard(self, action: Callable[[], Any]) -> Any:
        """Run ``action``; its error, if any, is shown inline (a callback has nowhere to raise)."""
        try:
            result = action()
        except Exception as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self.error.value = error_html(message)
            return None
        self.error.value = ""
        return result

    def _show(self, query: Query) -> None:
        page = self._guard(
            lambda: self._client.search_runs_page(
                query.experiment, query.filter, list(query.order_by), self._limit, query.offset
            )
        )
        if page is None:
            return
        self.page, self._query = page, query
        self._render()

    # Rendering -------------------------------------------------------------------------
    def _set_sort_options(self, order: Sequence[str]) -> None:
        """Sort keys: the attributes, then every param and metric key seen so far."""
        runs = self.page.runs
        self._params_seen.update(k for r in runs for k in r.params)
        self._metrics_seen.update(k for r in runs for k in r.metrics)
        options = [
            *ATTRIBUTE_SORTS,
            *((f"params.{k}", sort_field("params", k)) for k in sorted(self._params_seen)),
            *((f"metrics.{k}", sort_field("metrics", k)) for k in sorted(self._metrics_seen)),
        ]
        parsed = parse_order(order[0]) if len(order) == 1 else None
        if order and (parsed is None or parsed[0] not in {v for _, v in options}):
            options.insert(0, (f"as given: {', '.join(order)}", AS_GIVEN))
            field, direction = AS_GIVEN, self.sort_direction.value
        else:
            field, direction = parsed or ("start_time", "DESC")  # the store's default order
        self._quiet = True
        try:
            self.sort_by.options = options
            self.sort_by.value = field
            self.sort_direction.value = direction
            self.sort_direction.disabled = field == AS_GIVEN
        finally:
            self._quiet = False

    def _render(self) -> None:
        page, runs = self.page, self.page.runs
        self._set_sort_options(self._query.order_by)
        self.table.value = self._table_html()
        if runs:
            first, last = page.offset + 1, page.offset + len(runs)
            self.page_label.value = f"rows {first}–{last} of {page.total}"
        else:
            self.page_label.value = "no runs" if page.offset == 0 else "no more runs"
        self.prev_button.disabled = page.offset == 0
        self.next_button.disabled = page.offset + len(runs) >= page.total
        chosen = set(self.selection.value)
        self._quiet = True
        try:
            self.selection.options = [(f"{r.info.name} · {r.info.id[:8]}", r.info.id) for r in runs]
            self.selection.rows = max(2, min(8, len(runs)))
            self.selection.value = tuple(r.info.id for r in runs if r.info.id in chosen)
        finally:
            self._quiet = False
        self.compare_button.disabled = len(self.selection.value) < 2

    def _columns(self) -> list[str]:
        runs = self.page.runs
        columns = ["status", "name", "run"]
        if self._query.experiment is None:
            columns.append("experiment")
        columns += ["start", "duration", "user"]
        columns += [f"params.{k}" for k in views.varying_params(runs, most=20)]
        columns += [f"metrics.{k}" for k in sorted({k for r in runs for k in r.metrics})]
        return columns

    def _table_html(self) -> str:
        runs = self.page.runs
        if not runs:
            return note_html("No runs match." if self.page.offset == 0 else "No more runs.")
        columns = self._columns()
        params = [c.removeprefix("params.") for c in columns if c.startswith("params.")]
        rows = views.run_rows(runs, params)
        sorted_by = parse_order(self._query.order_by[0]) if len(self._query.order_by) == 1 else None
        if not self._query.order_by:
            sorted_by = ("start_time", "DESC")
        header = []
        for column in columns:
            label = esc(column)
            if sorted_by and sorted_by[0] == _column_sort(column):
                label += " ▼" if sorted_by[1] == "DESC" else " ▲"
            header.append(label)
        body = []
        for run, row in zip(runs, rows, strict=True):
            cells = []
            for column in columns:
                if column == "status":
                    cells.append(status_html(run.info.status))
                elif column == "run":
                    cells.append(f"<code title='{esc(run.info.id)}'>{esc(run.info.id[:8])}</code>")
                else:
                    cells.append(esc(row.get(column)))
            body.append(cells)
        return table_html(header, body, css_class="jp-mlops-runs")

    # Display ---------------------------------------------------------------------------
    def _describe(self) -> str:
        q, page = self._query, self.page
        parts = [f"experiment {q.experiment!r}" if q.experiment else "all experiments"]
        if q.filter:
            parts.append(f"filter {q.filter!r}")
        if q.order_by:
            parts.append(f"order {', '.join(q.order_by)}")
        shown = (
            f"rows {page.offset + 1}–{page.offset + len(page.runs)} of {page.total}"
            if page.runs
            else "no runs"
        )
        return f"Runs ({'; '.join(parts)}): {shown}"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget, plus the table as text and HTML for a frontend without widgets."""
        data = dict(super()._repr_mimebundle_(**kwargs) or {})
        frame = self.frame
        text = frame.to_string(max_colwidth=40) if len(frame) else "No runs match."
        data["text/plain"] = f"{self._describe()}\n{text}"
        data["text/html"] = f"<p>{esc(self._describe())}</p>{self._table_html()}"
        return data


def _column_sort(column: str) -> str | None:
    if column.startswith("params."):
        return sort_field("params", column.removeprefix("params."))
    if column.startswith("metrics."):
        return sort_field("metrics", column.removeprefix("metrics."))
    return _COLUMN_SORTS.get(column)
