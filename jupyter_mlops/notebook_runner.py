"""Execute a notebook headless in a real kernel, as the lab would run it.

Two things the lab gives a kernel that nbclient does not: the notebook's path (Jupyter
Server's ``JPY_SESSION_NAME``) and each cell's id (``metadata.cellId`` on the execute
request). We add both, so runs made headless record the same notebook and cell as runs made
interactively.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .exceptions import ExecutionError, NotFound

DEMO_NOTEBOOK = "notebooks/demo.ipynb"
DEMO_PIPELINE = "notebooks/pipeline/pipeline.yaml"


def _send_cell_ids(client: NotebookClient) -> None:
    current: dict[str, Any] = {"id": None}

    def on_cell_execute(cell: Any, cell_index: int) -> None:
        current["id"] = cell.get("id")

    def execute(
        code: str,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool | None = None,
        stop_on_error: bool = True,
    ) -> str:
        kc: Any = client.kc
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": user_expressions or {},
            "allow_stdin": kc.allow_stdin if allow_stdin is None else allow_stdin,
            "stop_on_error": stop_on_error,
        }
        msg = kc.session.msg("execute_request", content, metadata={"cellId": current["id"]})
        kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def on_notebook_start(notebook: Any) -> None:
        client.kc.execute = execute  # type: ignore[union-attr,method-assign]

    client.on_cell_execute = on_cell_execute
    client.on_notebook_start = on_notebook_start


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
    """
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
    _send_cell_ids(client)
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


def run_demo(client: Any, notebook: str | None = None) -> None:
    """Execute the demo notebook against ``client``'s store and print what it recorded."""
    from . import views
    from .cli import emit

    path = Path(notebook or DEMO_NOTEBOOK)
    loc = client.location
    env = {"JUPYTER_MLOPS_STORE": loc.db_url, "JUPYTER_MLOPS_ARTIFACTS": loc.artifact_root}
    print(f"store: {loc.db_url}")
    print(f"executing {path} in a real kernel ...", flush=True)
    started = time.perf_counter()
    before = {r.id for r in client.iter_runs()}
    execute_notebook(path, env=env)
    print(f"done in {time.perf_counter() - started:.1f}s\n")
    new_runs = [r for r in client.iter_runs(order_by=["start_time"]) if r.id not in before]
    print(f"runs recorded by {path.name}:")
    emit(views.run_rows(new_runs, views.varying_params(new_runs)), "table")
    for run in new_runs:
        full = client.get_run(run.id)
        data = ", ".join(f"{d.role}:{d.name}" for d in [*full.inputs, *full.outputs])
        models = ", ".join(m.name for m in full.models)
        print(f"  {run.id[:8]} {run.info.name[:40]:40} data[{data}] models[{models}]")
    sys.stdout.flush()


def run_pipeline_demo(client: Any, path: str | None = None) -> None:
    """Run the demo pipeline twice against ``client``'s store and print what happened.

    The first run is forced (every step executes, even if an earlier demo filled the cache);
    the second changes nothing, so every step comes from the cache (CACHED: no kernel starts;
    its step run points at the run it reuses). Then the runs both made are listed as
    a tree: pipeline run, step runs, and the tracked cells inside each step.
    """
    from . import views
    from .cli import emit
    from .pipelines import Pipeline, run_pipeline

    pipeline = Pipeline.from_yaml(path or DEMO_PIPELINE)
    graph = " -> ".join(", ".join(wave) for wave in pipeline.order())
    print(f"\npipeline {pipeline.name} ({path or DEMO_PIPELINE}): {graph}")
    before = {r.id for r in client.iter_runs()}
    # The first run is forced so that the demo shows real work even when an earlier demo
    # already filled the cache of this store.
    for label, force in (
        ("first run (force: every step executes)", True),
        ("second run, nothing changed", False),
    ):
        print(f"{label} ...", flush=True)
        started = time.perf_counter()
        result = run_pipeline(pipeline, client=client, force=force)
        elapsed = time.perf_counter() - started
        rows = views.step_rows([step.to_dict() for step in result.steps.values()])
        emit(rows, "table")
        print(f"total {elapsed:.2f}s (pipeline run {result.run_id[:8]}, {result.status.value})\n")
        if not result.ok:
            sys.stdout.flush()
            result.raise_for_failure()
    new_runs = [r for r in client.iter_runs(order_by=["start_time"]) if r.id not in before]
    print(f"runs recorded by the two pipeline runs ({len(new_runs)}):")
    tree = _run_tree(new_runs)
    rows = views.run_rows(
        [run for _, run in tree],
        params=["model", "best_model"],
        metrics=["accuracy", "f1", "test_accuracy"],
    )
    for row, (depth, run) in zip(rows, tree, strict=True):
        for key in ("experiment", "user", "start"):
            row.pop(key, None)
        row["name"] = "  " * depth + run.info.name
        row["reused_run"] = run.tags.get("mlops.cached", "")[:8]
    emit(rows, "table")
    sys.stdout.flush()


def _run_tree(runs: list[Any]) -> list[tuple[int, Any]]:
    """Runs in tree order with their depth: pipeline run, its step runs, and under each
    step the tracked cells of its kernel."""
    by_id = {run.id: run for run in runs}
    children: dict[str, list[Any]] = {}
    roots = []
    for run in runs:
        parent = run.info.parent_run_id
        if parent in by_id:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    ordered: list[tuple[int, Any]] = []

    def walk(run: Any, depth: int) -> None:
        ordered.append((depth, run))
        for child in children.get(run.id, []):
            walk(child, depth + 1)

    for run in roots:
        walk(run, 0)
    return ordered
