"""``jupyter-mlops`` (also ``jupyter mlops``): the store, pipelines and scheduler from the
terminal. One module per command group; each imports what it needs when it runs, so that
``--help`` and ``runs list`` start fast."""

from __future__ import annotations

import click

from . import data, demo, pipelines, runs, scheduler, store


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar=None,
    help="Store URL or folder (default: JUPYTER_MLOPS_STORE, JUPYTER_MLOPS_HOME, .mlops/, "
    "the Jupyter data dir).",
)
@click.version_option(package_name="jupyter-mlops")
def main(store: str | None) -> None:
    """Cell-level experiment tracking for Jupyter: runs, data, models, pipelines."""


for module in (store, runs, data, pipelines, scheduler, demo):
    for command in module.COMMANDS:
        main.add_command(command)

__all__ = ["main"]
