"""HTML snippets of the widget views; every user string goes through :func:`views.esc`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..views import esc

HIGHLIGHT = "#fff3cd"  # differing rows, as in the pandas Styler of the text view
ERROR_COLOR = "#b00020"
_CELL = "padding:2px 8px;border-bottom:1px solid #e0e0e0;text-align:left;white-space:nowrap"


def finite(value: Any) -> float | None:
    """A float plotly can carry (JSON has no NaN or infinity), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def error_html(message: str) -> str:
    return f"<div style='color:{ERROR_COLOR};white-space:pre-wrap'>{esc(message)}</div>"


def note_html(message: str) -> str:
    return f"<div style='color:#666;font-style:italic'>{esc(message)}</div>"


def table_html(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    highlight: Sequence[bool] | None = None,
    css_class: str = "jp-mlops-table",
) -> str:
    """An HTML table; ``header`` and ``rows`` are HTML already (escape user text first)."""
    head = "".join(f"<th style='{_CELL};font-weight:600'>{h}</th>" for h in header)
    body = []
    for i, cells in enumerate(rows):
        marked = bool(highlight and highlight[i])
        attrs = f" class='differs' style='background-color:{HIGHLIGHT}'" if marked else ""
        tds = "".join(f"<td style='{_CELL}'>{c}</td>" for c in cells)
        body.append(f"<tr{attrs}>{tds}</tr>")
    return (
        "<div style='overflow:auto;max-height:520px'>"
        f"<table class='{css_class}' style='border-collapse:collapse;font-size:12px'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def close_tree(widget: Any) -> None:
    """Close a widget and everything inside it (a Box's close leaves its children open)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()
