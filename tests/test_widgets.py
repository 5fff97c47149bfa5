"""%mlops runs / compare as ipywidgets + plotly, driven in a real IPython shell."""

from __future__ import annotations

import html
import json
import math

import ipywidgets as widgets
import plotly.graph_objects as go
import pytest
from IPython.core.error import UsageError
from ipywidgets import embed

from jupyter_mlops.client import Client
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.widgets import CompareView, RunsTable

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
CHARTS = ("bar", "history", "parcoords")
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_PARAM = "<script>alert(1)</script>"


def make_run(
    client: Client,
    name: str,
    experiment: str = "exp",
    params: dict | None = None,
    metrics: dict | None = None,
    history: dict[str, list[float]] | None = None,
    source: str | None = None,
) -> str:
    run_id = client.create_run(experiment, name, attrs={"source": source} if source else None)
    client.log_params(run_id, params or {})
    for key, values in (history or {}).items():
        for step, value in enumerate(values):
            client.log_metric(run_id, key, value, step)
    if metrics:
        client.log_metrics(run_id, metrics)
    client.end_run(run_id)
    return run_id


def html_values(widget) -> list[str]:
    """The value of every HTML widget under ``widget``."""
    found = []
    if isinstance(widget, widgets.HTML):
        found.append(widget.value)
    for child in getattr(widget, "children", ()):
        found += html_values(child)
    return found


def shown(view: CompareView, name: str) -> go.Figure:
    """The figure ``name`` of a compare view, checked to be exactly what its Output widget
    shows: one output with the figure's JSON under plotly's mime type and a line of text, no
    HTML or JavaScript (a frontend draws it with the plotly.js it has; nothing downloads)."""
    figure = view.figures[name]
    [output] = view.charts[name].outputs
    assert output["output_type"] == "display_data"
    assert set(output["data"]) == {PLOTLY_MIME, "text/plain"}
    assert output["data"][PLOTLY_MIME] == json.loads(figure.to_json())
    return figure


def assert_escaped(text: str) -> None:
    assert "<img" not in text and "<script" not in text, text


@pytest.fixture
def five(store):
    """Five runs in 'exp' (acc 0.1..0.5, lr varying, model fixed) and one in 'other'."""
    ids = [
        make_run(store, f"run{i}", params={"lr": i / 10, "model": "rf"}, metrics={"acc": i / 10})
        for i in range(1, 6)
    ]
    make_run(store, "elsewhere", experiment="other", metrics={"acc": 0.9})
    return ids


def test_given_runs_when_mlops_runs_then_widget_table_of_the_page(ip, five):
    table = ip.run_line_magic("mlops", "runs -e exp -o 'metrics.acc DESC'")
    assert isinstance(table, RunsTable) and isinstance(table, widgets.Widget)
    assert list(table.frame["name"]) == ["run5", "run4", "run3", "run2", "run1"]
    assert list(table.frame.index) == [rid[:8] for rid in reversed(five)]
    assert table.experiment_select.value == "exp"
    assert table.page_label.value == "rows 1–5 of 5"
    assert table.sort_by.value == "metrics.`acc`" and table.sort_direction.value == "DESC"
    shown = table.table.value
    assert all(f">run{i}<" in shown for i in range(1, 6))
    assert "params.lr" in shown and "metrics.acc ▼" in shown
    assert "params.model" not in shown  # the same on every run: not a column
    assert "elsewhere" not in shown and ">experiment<" not in shown

    table.experiment_select.value = ""  # All
    assert table.page_label.value == "rows 1–6 of 6"
    assert "elsewhere" in table.table.value and ">experiment<" in table.table.value


def test_given_malformed_filter_in_box_then_server_error_inline_and_rows_kept(ip, five, store):
    table = ip.run_line_magic("mlops", "runs -e exp")
    with pytest.raises(InvalidInput) as server:
        store.search_runs(filter="metrics.acc >")
    table.filter_text.value = "metrics.acc >"  # what Enter sends
    assert html.escape(server.value.message) in table.error.value
    assert "color:#b00020" in table.error.value
    assert len(table.frame) == 5  # the last good page stays
    assert table.query.filter is None

    table.filter_text.value = "metrics.acc > 0.35"
    table.apply_button.click()
    assert table.error.value == ""
    assert sorted(table.frame["name"]) == ["run4", "run5"]
    assert table.query.filter == "metrics.acc > 0.35"


def test_given_filter_error_with_markup_then_it_is_escaped(ip, five):
    table = ip.run_line_magic("mlops", "runs")
    table.filter_text.value = f"name = '{XSS_NAME}' and"
    table.apply_button.click()
    assert table.error.value
    assert_escaped(table.error.value)


def test_given_sort_choice_then_rows_reorder(ip, five):
    table = ip.run_line_magic("mlops", "runs -e exp")
    table.sort_by.value = "metrics.`acc`"
    table.sort_direction.value = "ASC"
    assert list(table.frame["name"]) == ["run1", "run2", "run3", "run4", "run5"]
    assert "metrics.acc ▲" in table.table.value
    table.sort_direction.value = "DESC"
    assert list(table.frame["name"]) == ["run5", "run4", "run3", "run2", "run1"]
    table.sort_by.value = "name"
    assert "name ▼" in table.table.value
    assert list(table.frame["name"]) == ["run5", "run4", "run3", "run2", "run1"]
    table.sort_by.value = "params.`lr`"
    table.sort_direction.value = "ASC"
    assert list(table.frame["params.lr"]) == ["0.1", "0.2", "0.3", "0.4", "0.5"]


def test_given_order_the_dropdown_cannot_show_then_it_is_kept_as_given(ip, five):
    table = ip.run_line_magic("mlops", "runs -e exp -o 'params.model' -o 'metrics.acc DESC'")
    assert table.sort_by.value == ""
    assert table.sort_by.label.startswith("as given: params.model, metrics.acc DESC")
    assert table.sort_direction.disabled
    assert table.frame["name"].iloc[0] == "run5"


def test_given_small_pages_then_prev_next_walk_the_runs(ip, five):
    table = ip.run_line_magic("mlops", "runs -e exp -n 2 -o 'metrics.acc'")
    assert table.page_label.value == "rows 1–2 of 5"
    assert list(table.frame["name"]) == ["run1", "run2"]
    assert table.prev_button.disabled and not table.next_button.disabled
    table.next_button.click()
    assert table.page_label.value == "rows 3–4 of 5"
    assert list(table.frame["name"]) == ["run3", "run4"]
    table.next_button.click()
    assert table.page_label.value == "rows 5–5 of 5"
    assert list(table.frame["name"]) == ["run5"]
    assert table.next_button.disabled and not table.prev_button.disabled
    table.prev_button.click()
    assert list(table.frame["name"]) == ["run3", "run4"]
    # A new sort starts again at the first page.
    table.sort_direction.value = "DESC"
    assert table.page_label.value == "rows 1–2 of 5"
    assert list(table.frame["name"]) == ["run5", "run4"]


def test_given_two_selected_runs_when_compare_pressed_then_compare_view_below(ip, five):
    table = ip.run_line_magic("mlops", "runs -e exp -o 'metrics.acc'")
    assert table.compare_button.disabled
    table.selection.value = (five[0],)
    assert table.compare_button.disabled
    table.compare_button.click()
    assert "at least two" in table.error.value and table.compare_view is None

    table.selection.value = (five[0], five[2])
    assert not table.compare_button.disabled
    table.compare_button.click()
    view = table.compare_view
    assert isinstance(view, CompareView)
    assert [r.id for r in view.runs] == [five[0], five[2]]
    assert table.compare_area.children == (view,)
    assert table.error.value == ""

    table.selection.value = (five[1], five[3])  # a second comparison replaces the first
    table.compare_button.click()
    assert table.compare_area.children == (table.compare_view,)
    assert [r.id for r in table.compare_view.runs] == [five[1], five[3]]


def test_given_selection_then_it_survives_a_refresh(ip, five):
    table = ip.run_line_magic("mlops", "runs -e exp")
    table.selection.value = (five[0], five[1])
    table.refresh()
    assert set(table.selection.value) == {five[0], five[1]}


@pytest.fixture
def pair(store):
    a = make_run(
        store,
        "small",
        params={"lr": 0.1, "model": "rf", "seed": 1},
        history={"loss": [1.0, 0.5, 0.25], "acc": [0.5, 0.6]},
        source="lr = 0.1\nmodel = 'rf'\nfit()",
    )
    b = make_run(
        store,
        "large",
        params={"lr": 0.2, "model": "gbm", "seed": 1},
        history={"loss": [2.0, 1.0], "acc": [0.7, 0.8]},
        metrics={"f1": math.nan},
        source="lr = 0.2\nmodel = 'gbm'\nfit()",
    )
    return a, b


def test_given_two_runs_when_compare_then_params_highlighted_where_they_differ(ip, pair):
    a, b = pair
    view = ip.run_line_magic("mlops", f"compare {a[:8]} {b}")
    assert isinstance(view, CompareView)
    assert bool(view.frame.loc["params.lr", "differs"])
    assert not bool(view.frame.loc["params.seed", "differs"])
    rows = view.params_html.value.split("<tr")
    lr_row = next(r for r in rows if ">params.lr<" in r)
    seed_row = next(r for r in rows if ">params.seed<" in r)
    assert "class='differs'" in lr_row and "#fff3cd" in lr_row
    assert "differs" not in seed_row
    view.only_differences.value = True
    assert ">params.lr<" in view.params_html.value
    assert ">params.seed<" not in view.params_html.value


def test_given_compare_then_bar_chart_has_a_trace_per_run_and_a_group_per_metric(ip, pair):
    a, b = pair
    view = ip.run_line_magic("mlops", f"compare {a} {b}")
    bars = shown(view, "bar").data
    assert [t.type for t in bars] == ["bar", "bar"]
    assert [t.name for t in bars] == [f"small ({a[:8]})", f"large ({b[:8]})"]
    assert list(bars[0].x) == ["acc", "f1", "loss"]
    assert list(bars[0].y) == [0.6, None, 0.25]  # small logged no f1
    assert list(bars[1].y) == [0.8, None, 1.0]  # NaN has no bar (and JSON has no NaN)
    assert shown(view, "bar").layout.barmode == "group"


def test_given_compare_then_history_lines_per_run_for_the_chosen_metric(ip, pair):
    a, b = pair
    view = ip.run_line_magic("mlops", f"compare {a} {b}")
    assert view.history_metric.options == ("acc", "f1", "loss")
    assert view.history_metric.value == "acc"
    lines = shown(view, "history").data
    assert [(t.type, list(t.x), list(t.y)) for t in lines] == [
        ("scatter", [0, 1], [0.5, 0.6]),
        ("scatter", [0, 1], [0.7, 0.8]),
    ]
    view.history_metric.value = "loss"
    lines = shown(view, "history").data
    assert [list(t.y) for t in lines] == [[1.0, 0.5, 0.25], [2.0, 1.0]]
    assert [t.name for t in lines] == [f"small ({a[:8]})", f"large ({b[:8]})"]
    assert "loss" in shown(view, "history").layout.title.text
    view.history_metric.value = "f1"  # only one run has it
    assert [t.name for t in shown(view, "history").data] == [f"large ({b[:8]})"]


def test_given_long_history_then_it_is_downsampled_and_said_so(ip, store):
    a = make_run(store, "long", history={"loss": [1 / (i + 1) for i in range(5000)]})
    b = make_run(store, "short", history={"loss": [1.0, 0.5]})
    view = CompareView(store, [a, b], max_points=200)
    long_line = shown(view, "history").data[0]
    assert 100 <= len(long_line.x) <= 400
    assert "of 5000 points" in view.history_note.value


def test_given_a_one_point_metric_first_then_the_history_shown_first_is_a_curve(ip, store):
    a = make_run(store, "a", metrics={"acc": 0.5}, history={"loss": [3.0, 2.0, 1.0]})
    b = make_run(store, "b", metrics={"acc": 0.6}, history={"loss": [2.0, 1.0]})
    view = ip.run_line_magic("mlops", f"compare {a} {b}")
    assert view.history_metric.value == "loss"
    assert [len(t.x) for t in shown(view, "history").data] == [3, 2]


def test_given_compare_then_parcoords_of_params_against_the_chosen_metric(ip, pair):
    a, b = pair
    view = ip.run_line_magic("mlops", f"compare {a} {b}")
    [trace] = shown(view, "parcoords").data
    assert trace.type == "parcoords"
    dims = {d.label: d for d in trace.dimensions}
    assert list(dims) == ["lr", "model", "acc"]  # seed is the same everywhere: left out
    assert list(dims["lr"].values) == [0.1, 0.2]
    assert list(dims["model"].ticktext) == ["gbm", "rf"]
    assert list(dims["model"].tickvals) == [0, 1]
    assert list(dims["model"].values) == [1, 0]
    assert list(dims["acc"].values) == [0.6, 0.8]
    assert list(trace.line.color) == [0.6, 0.8]

    view.parcoords_metric.value = "loss"
    [trace] = shown(view, "parcoords").data
    assert trace.dimensions[-1].label == "loss"
    assert list(trace.dimensions[-1].values) == [0.25, 1.0]

    view.parcoords_metric.value = "f1"  # NaN for one run, missing for the other
    assert shown(view, "parcoords").data == ()
    assert "Left out" in view.parcoords_note.value


def test_given_compare_then_charts_are_plotly_json_in_outputs_and_state_is_small(ip, pair):
    a, b = pair
    view = ip.run_line_magic("mlops", f"compare {a} {b}")
    for name in CHARTS:
        assert shown(view, name).data  # every chart is shown, and has something to show
    assert [child for child in view.children if isinstance(child, widgets.Output)] == [
        view.charts[name] for name in CHARTS
    ]
    # What the frontend receives: stock ipywidgets models only (no anywidget carrying the
    # ~5 MB plotly.js bundle), a few kB of state in all.
    state = embed.dependency_state(view)
    assert {s["model_module"] for s in state.values()} <= {
        "@jupyter-widgets/base",
        "@jupyter-widgets/controls",
        "@jupyter-widgets/output",
    }
    assert len(json.dumps(state)) < 200_000
    assert "<script" not in json.dumps(state)


def test_given_compare_then_unified_diff_of_cell_sources(ip, pair):
    a, b = pair
    view = ip.run_line_magic("mlops", f"compare {a} {b}")
    diff = view.diff_html.value
    assert "<pre" in diff
    assert f"--- small ({a[:8]})" in diff and f"+++ large ({b[:8]})" in diff
    assert ">-lr = 0.1<" in diff and ">+lr = 0.2<" in diff
    assert "-model = &#x27;rf&#x27;" in diff  # escaped, quotes included
    assert "\n fit()" in diff  # context line


def test_given_runs_with_markup_in_names_params_and_sources_then_everything_is_escaped(ip, store):
    evil = make_run(
        store,
        XSS_NAME,
        experiment="xss",
        params={"model": XSS_PARAM, "lr": 0.1},
        metrics={"acc": 0.5},
        source=f"model = '{XSS_PARAM}'\n# {XSS_NAME}",
    )
    plain = make_run(
        store,
        "plain",
        experiment="xss",
        params={"model": "rf", "lr": 0.2},
        metrics={"acc": 0.6},
        source="model = 'rf'",
    )
    table = ip.run_line_magic("mlops", "runs -e xss")
    assert "&lt;img src=x onerror=alert(1)&gt;" in table.table.value
    assert "&lt;script&gt;" in table.table.value
    table.selection.value = (evil, plain)
    table.compare_button.click()
    view = table.compare_view
    assert view is not None
    values = html_values(table)
    assert len(values) >= 8
    for value in values:
        assert_escaped(value)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in view.params_html.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in view.diff_html.value
    # plotly turns some tags in legends and titles into markup: run names are escaped there.
    for name in ("bar", "history"):
        traces = shown(view, name).data
        assert len(traces) == 2
        for trace in traces:
            assert_escaped(trace.name)
    # Parallel-coordinates ticks are text nodes: the value as is (escaped it would show &lt;).
    dimensions = shown(view, "parcoords").data[0].dimensions
    ticks = [t for d in dimensions for t in (d.ticktext or ())]
    assert XSS_PARAM in ticks
    for bundle in (table._repr_mimebundle_(), view._repr_mimebundle_()):
        assert_escaped(bundle["text/html"])
        assert XSS_NAME in bundle["text/plain"]  # plain text is text


def test_given_frontend_without_widgets_then_bundle_has_a_meaningful_table(ip, five):
    table = ip.run_line_magic("mlops", "runs -e exp -o 'metrics.acc DESC'")
    data, _meta = ip.display_formatter.format(table)
    assert WIDGET_MIME in data
    text = data["text/plain"]
    assert text.startswith("Runs (experiment 'exp'; order metrics.acc DESC): rows 1–5 of 5")
    assert "run5" in text and "params.lr" in text
    assert "<table" in data["text/html"] and "run1" in data["text/html"]

    view = ip.run_line_magic("mlops", f"compare {five[0]} {five[1]}")
    data, _meta = ip.display_formatter.format(view)
    assert WIDGET_MIME in data
    assert data["text/plain"].startswith("Comparing 2 runs: run1")
    assert "params.lr" in data["text/plain"] and "differs" in data["text/plain"]


def test_given_bad_input_on_the_magic_line_then_usage_errors(ip, five):
    with pytest.raises(UsageError, match="No experiment named 'nope'"):
        ip.run_line_magic("mlops", "runs -e nope")
    with pytest.raises(UsageError, match="column"):
        ip.run_line_magic("mlops", "runs -f 'metrics.acc >'")
    with pytest.raises(UsageError, match="order_by"):
        ip.run_line_magic("mlops", "runs -o 'metrics.acc SIDEWAYS'")
    with pytest.raises(UsageError, match="No run"):
        ip.run_line_magic("mlops", f"compare {five[0]} ffffffff")
    with pytest.raises(UsageError, match="two different runs"):
        ip.run_line_magic("mlops", f"compare {five[0]} {five[0][:8]}")
    with pytest.raises(UsageError, match="at least two"):
        ip.run_line_magic("mlops", f"compare {five[0]}")


def test_given_empty_store_then_table_says_so(ip, store):
    table = ip.run_line_magic("mlops", "runs")
    assert table.page_label.value == "no runs"
    assert "No runs match." in table.table.value
    assert table.prev_button.disabled and table.next_button.disabled
    assert table.frame.empty


def test_given_new_runs_when_refreshed_then_they_and_their_experiment_appear(ip, five, store):
    table = ip.run_line_magic("mlops", "runs")
    make_run(store, "newcomer", experiment="fresh")
    assert "fresh" not in table.experiment_select.options
    table.refresh()
    assert ("fresh", "fresh") in [
        (label, value) for label, value in table.experiment_select.options
    ]
    assert "newcomer" in list(table.frame["name"])
    table.experiment_select.value = "fresh"
    assert list(table.frame["name"]) == ["newcomer"]


def test_given_table_when_closed_then_its_widgets_are_closed(ip, five):
    table = ip.run_line_magic("mlops", "runs -e exp")
    table.selection.value = (five[0], five[1])
    table.compare_button.click()
    inner = [table.filter_text, table.compare_view, *table.compare_view.charts.values()]
    table.close()
    assert all(w.comm is None for w in [table, *inner])
