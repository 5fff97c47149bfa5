"""Small notebooks for tests of pipelines: a cell tagged ``parameters``, then code cells."""

from __future__ import annotations

from pathlib import Path

import nbformat

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """Write a notebook whose first cell (tagged ``parameters``) is ``parameters``."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
    nbformat.write(nb, path)
    return path
