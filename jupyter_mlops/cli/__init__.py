"""``jupyter-mlops`` (also ``jupyter mlops``): the store, pipelines and scheduler from the
terminal. One module per command group, imported only when its command runs (``--help``
lists them from the table below), so that ``--help`` and ``runs list`` start fast."""

from __future__ import annotations

import gc
import importlib
from typing import Any

import click

# Command -> (module of this package that defines it, its short help as the listing shows
# it: the first sentence of its docstring; a test keeps the two equal).
COMMANDS = {
    "data": ("data", "Dataset versions (and `data lineage REF`)."),
    "demo": (
        "demo",
        "The demos, headless: `demo` (notebook, registry, serving, pipeline) and `demo "
        "lifecycle` (the continuous-training loop).",
    ),
    "experiments": ("runs", "Experiments and how many runs each has."),
    "export": ("runs", "Export every matching run (params and metrics as columns) to CSV or JSON."),
    "gc": ("store", "Delete artifact blobs that no run or model references any more."),
    "info": ("store", "Where the store is."),
    "models": ("models", "Registered models: versions, stages, aliases and their audit."),
    "monitor": (
        "monitor",
        "Monitor a served model: `monitor churn [--window 1h | --rows 10000] [--format json]`.",
    ),
    "pipelines": ("pipelines", "Notebook pipelines: run, inspect, schedule."),
    "runs": ("runs", "List, show, compare and delete runs."),
    "scheduler": ("scheduler", "Run due schedules and triggers until stopped (Ctrl-C / SIGTERM)."),
    "serve": (
        "serve",
        "Serve a registered model over HTTP: `serve churn@champion | churn/Production | churn/3`.",
    ),
}


class Commands(click.Group):
    """A group whose commands are imported when they run, not when the program starts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"{__name__}.{COMMANDS[name][0]}")
        command: click.Command = getattr(module, name)
        return command

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar=None,
    help="Store URL or folder (default: JUPYTER_MLOPS_STORE, JUPYTER_MLOPS_HOME, .mlops/, "
    "the Jupyter data dir).",
)
@click.version_option(package_name="jupyter-mlops")
def main(store: str | None) -> None:
    """Cell-level experiment tracking for Jupyter: runs, data, models, pipelines."""


# The executable's first-generation collector threshold (Python's default is 700): above the
# net allocations of a command's start-up, so that loading it triggers no collection at all.
GC_THRESHOLD = 200_000


def run() -> None:
    """The ``jupyter-mlops`` executable: :data:`main`, in a process that ends when it does.

    A command imports several hundred modules whose objects all live until exit (about
    100,000 tracked objects for a cached ``pipelines run``, two thirds of them SQLAlchemy's).
    With the default thresholds the garbage collector walks them again and again while they
    load: 25 ms of a ``runs list``, 70 ms of a cached
    ``pipelines run`` here. The first generation's threshold is raised instead, for the life
    of the process: start-up triggers no collection, and cycles are still collected later, in
    fewer and larger passes, so a long-running command (``scheduler``) keeps a bounded heap.
    (Model-server workers are fresh interpreters, with Python's defaults.)

    At exit, objects are frozen out of the garbage collector (``gc.freeze``), so the
    interpreter does not walk everything one last time before it quits (about 70 ms here);
    exit handlers still run and streams are flushed as usual.
    """
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    try:
        main()
    finally:
        gc.freeze()


__all__ = ["COMMANDS", "main", "run"]
