"""papermill: the five notebooks of the pipeline workload, one after another, with its CLI.

Each notebook is run as a user would without a pipeline runner,
``papermill -k python3 <step>.ipynb <out>.ipynb -p x 1``, one subprocess after another in the
order a, b, c, d, e (the pipeline's topological order). The figure is the total wall time;
median of 3 passes. papermill is a dependency of jupyter-mlops (its runner drives it), so this
runs with the project venv's papermill CLI and the same ``python3`` kernel the pipeline uses.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, make_pipeline_notebooks, ms

PASSES = 3


def papermill_cli() -> str:
    here = Path(sys.executable).parent / "papermill"
    found = str(here) if here.exists() else shutil.which("papermill")
    if not found:
        raise SystemExit(f"no papermill CLI next to {sys.executable} or on PATH")
    return found


def main() -> None:
    cli = papermill_cli()
    version = subprocess.run(
        [cli, "--version"], capture_output=True, text=True, check=True
    ).stdout.split()
    folder = tempfile.mkdtemp(prefix="mlops-bench-papermill-")
    try:
        notebooks = make_pipeline_notebooks(folder)
        out = Path(folder) / "out"
        out.mkdir()
        passes: list[float] = []
        per_notebook: dict[str, list[float]] = {step: [] for step in notebooks}
        for _ in range(PASSES):
            t_pass = time.perf_counter()
            for step, path in notebooks.items():
                t0 = time.perf_counter()
                subprocess.run(
                    [cli, "-k", "python3", path, str(out / f"{step}.ipynb"), "-p", "x", "1"],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=folder,
                )
                per_notebook[step].append(time.perf_counter() - t0)
            passes.append(time.perf_counter() - t_pass)
        each = [t for times in per_notebook.values() for t in times]
        emit(
            {
                "tool": "papermill CLI",
                "version": version[0] if version else "",
                "notebooks": len(notebooks),
                "passes": PASSES,
                "sequential_total_ms": ms(statistics.median(passes)),
                "passes_ms": [ms(t) for t in passes],
                "per_notebook_median_ms": ms(statistics.median(each)),
                "per_step_median_ms": {
                    step: ms(statistics.median(times)) for step, times in per_notebook.items()
                },
            }
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
