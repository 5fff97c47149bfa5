"""A papermill engine for pipeline steps, registered through papermill's engine registry.

Three things papermill does not do for parallel steps in one process:

- **Environment.** ``papermill.execute_notebook`` has no ``env``; the engine hands the kernel
  its environment (store location, ``JUPYTER_MLOPS_PARENT_RUN``, ``JPY_SESSION_NAME``) through
  ``NotebookClient.execute(env=...)``, so ``os.environ`` is never changed.
- **Working directory.** papermill's ``cwd=`` does a process-wide ``os.chdir``, which parallel
  threads would race on; the engine gives the kernel its ``cwd`` at start instead.
- **Ports.** On POSIX each kernel talks over the IPC transport (Unix sockets in a private
  temp folder), so no TCP port can be taken by another kernel or process between being picked
  and being bound. Elsewhere jupyter_client's ``LocalPortCache`` keeps ports unique within
  the process.

It also sends each cell's id with its execute request, as the lab does (so ``%%track`` in a
step records its cell), and reports each cell as it starts (live progress). Everything here
imports papermill and nbclient only when a notebook really runs: a cached pipeline needs
neither.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

ENGINE_NAME = "jupyter_mlops"


def send_cell_ids(client: Any) -> None:
    """Make an nbclient ``NotebookClient`` send ``metadata.cellId`` with every execute
    request, as JupyterLab does, so kernels know which cell runs."""
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
        client.kc.execute = execute

    client.on_cell_execute = on_cell_execute
    client.on_notebook_start = on_notebook_start


@functools.cache
def register_engine() -> None:
    """Register the engine with papermill (once per process; a Dask worker calls it too)."""
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, step_engine())


@functools.cache
def step_engine() -> type:
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger
    from papermill.utils import remove_args
    from traitlets.config import Config

    class StepEngine(NBClientEngine):
        """papermill's nbclient engine, plus the kernel's env and cwd and private sockets."""

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            kernel_env: dict[str, str] | None = None,
            kernel_cwd: str | None = None,
            on_cell: Callable[[int, int, str], None] | None = None,
            **kwargs: Any,
        ) -> Any:
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            config = Config()
            ipc_dir = None
            if os.name == "posix":
                ipc_dir = tempfile.mkdtemp(prefix="mlops-k-")
                config.KernelManager.transport = "ipc"
                config.KernelManager.ip = os.path.join(ipc_dir, "k")
            nb_client = PapermillNotebookClient(
                nb_man,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                config=config,
                **kwargs,
            )
            send_cell_ids(nb_client)
            if on_cell is not None:
                report_cells(nb_man, on_cell)
            start: dict[str, Any] = {}
            if kernel_env is not None:
                start["env"] = kernel_env
            if kernel_cwd is not None:
                start["cwd"] = kernel_cwd
            try:
                return nb_client.execute(**start)
            finally:
                if ipc_dir is not None:
                    shutil.rmtree(ipc_dir, ignore_errors=True)

    return StepEngine


def report_cells(nb_man: Any, on_cell: Callable[[int, int, str], None]) -> None:
    """Call ``on_cell(index, count, source)`` as each cell starts, after papermill has saved
    the notebook; progress is a convenience, so a failing report never stops the step."""
    start = nb_man.cell_start

    def cell_start(cell: Any, cell_index: int | None = None, **kwargs: Any) -> Any:
        out = start(cell, cell_index, **kwargs)
        try:
            on_cell(cell_index or 0, len(nb_man.nb.cells), cell.get("source", ""))
        except Exception as exc:
            from papermill.log import logger

            logger.warning("jupyter-mlops: could not record progress: %s", exc)
        return out

    nb_man.cell_start = cell_start
