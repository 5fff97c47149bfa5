"""Notebook views of runs as ipywidgets + plotly, for any frontend with widget support
(JupyterLab, Notebook 7, classic Notebook, VS Code): ``%mlops runs`` and ``%mlops compare``.

``CompareView`` is imported on first use: plotly takes a second or so to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .runs_table import RunsTable

if TYPE_CHECKING:
    from .compare import CompareView

__all__ = ["CompareView", "RunsTable"]


__getattr__ = lazy_exports(__name__, {"CompareView": "compare"})
