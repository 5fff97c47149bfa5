"""Execute a notebook headless in a real kernel, as the lab would run it.

Two things the lab gives a kernel that nbclient does not: the notebook's path (Jupyter
Server's ``JPY_SESSION_NAME``) and each cell's id (``metadata.cellId`` on the execute
request). We add both, so runs made headless record the same notebook and cell as runs made
interactively.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_mlops.exceptions import ExecutionError, NotFound

from .engine import send_cell_ids


def execute_notebook(
    path: str | os.PathLike[str],
    *,
    output_path: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: int = 600,
    kernel_name: str = "python3",
    cwd: str | os.PathLike[str] | None = None,
) -> Any:
    """Run every cell; raises :class:`ExecutionError` (papermill's fields) on a failing cell.

    The notebook is read from ``path`` and never modified; the executed copy is written to
    ``output_path`` when given (also on failure, with the outputs up to the failing cell).
    The kernel gets this process's environment plus ``env``, and runs in ``cwd`` (default:
    the notebook's folder).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    src = Path(path)
    if not src.is_file():
        raise NotFound(f"Notebook {str(src)!r} does not exist.")
    nb = nbformat.read(src, as_version=4)
    workdir = Path(cwd) if cwd else src.resolve().parent
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(workdir)}},
    )
    send_cell_ids(client)
    kernel_env = {**os.environ, **(env or {}), "JPY_SESSION_NAME": str(src.resolve())}
    try:
        client.execute(env=kernel_env)
    except CellExecutionError as exc:
        index = next(
            (
                i
                for i, cell in enumerate(nb.cells)
                if any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            ),
            None,
        )
        raise ExecutionError(
            f"Cell {index} of {src} failed: {exc.ename}: {exc.evalue}",
            cell_index=index,
            ename=exc.ename,
            evalue=exc.evalue,
            traceback=str(exc),
        ) from exc
    finally:
        if output_path is not None:
            nbformat.write(nb, output_path)
    return nb
