"""Start a pipeline run in its own process: how the lab and the scheduler run pipelines, so
a long pipeline never blocks them and goes on when they stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.config import store_env

from .options import RunOptions

if TYPE_CHECKING:
    from jupyter_mlops.client import Client


def logs_folder(client: Client) -> Path:
    """Where launched runs write their output: ``<store home>/pipeline-logs`` (a temp folder
    for a store without a home folder)."""
    return client.location.logs_folder("pipeline-logs")


def launch_pipeline(
    client: Client, path: str | os.PathLike[str], options: RunOptions | None = None
) -> str:
    """Start ``jupyter-mlops pipelines run`` on ``path`` with ``options`` in its own process
    and session; returns the pipeline run's id (``options.run_id``, or one chosen here), so
    the caller can follow the run at once.

    The options travel as a JSON file beside the run's log,
    ``<logs>/<run id>.options.json``, so parameters of any accepted size reach the process
    intact and typed. Its output goes to ``<logs>/<run id>.log``; the executed notebooks to
    ``options.output_dir`` (default: ``output/<run id>/`` beside the pipeline file).
    """
    options = (options or RunOptions()).replace(progress=False)
    run_id = options.run_id or uuid.uuid4().hex
    file = Path(path).expanduser().resolve()
    out = options.output_dir or str(file.parent / "output" / run_id[:8])
    options = options.replace(run_id=run_id, output_dir=out).validate()
    logs = logs_folder(client)
    logs.mkdir(parents=True, exist_ok=True)
    options_file = logs / f"{run_id}.options.json"
    options_file.write_text(json.dumps(options.to_json()), encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "jupyter_mlops.cli",
        "pipelines",
        "run",
        str(file),
        "--options-file",
        str(options_file),
    ]
    with open(logs / f"{run_id}.log", "ab") as fh:
        subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **store_env(client.location)},
            cwd=str(file.parent),
            start_new_session=True,  # outlives the scheduler or server that started it
            close_fds=True,
        )
    return run_id
