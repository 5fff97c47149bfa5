"""Whole processes, as a user at a shell waits for them: ``jupyter-mlops --help``,
``jupyter-mlops runs list`` on a store of 200 runs (also with an experiment, a filter and an
order), and ``jupyter-mlops pipelines run`` of the
demo pipeline when nothing changed (every step from the cache), against the papermill CLI
running the demo's four notebooks one after another.

Each command runs once untimed (so that the interpreter's bytecode caches and jupyter-mlops'
disk caches exist, as on any machine after the first use), then REPEATS times, timed from
process start to exit; the median is reported, with p95. Run with the project venv (.venv).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, ms, summary_ms

REPEATS = 15
ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "notebooks" / "pipeline"


def timed(argv: list[str], cwd: Path, env: dict[str, str], repeats: int = REPEATS) -> list[float]:
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)  # warm-up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - t0)
    return samples


def main() -> None:
    cli = str(Path(sys.executable).parent / "jupyter-mlops")
    papermill = str(Path(sys.executable).parent / "papermill")
    folder = Path(tempfile.mkdtemp(prefix="mlops-bench-cli-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up writes bytecode, as on any machine
        env["JUPYTER_MLOPS_HOME"] = str(folder / "store")
        env["JUPYTER_MLOPS_CACHE_DIR"] = str(folder / "cache")
        env["TQDM_DISABLE"] = "1"
        # A store of 200 finished runs (2 params, 2 metrics each).
        seed = (
            "import jupyter_mlops as m\n"
            "c = m.Client()\n"
            "for i in range(200):\n"
            "    r = c.create_run('bench', f'run-{i}')\n"
            "    c.log_params(r, {'lr': 0.01 * i, 'model': 'rf' if i % 2 else 'lr'})\n"
            "    c.log_metrics(r, {'acc': i / 200, 'loss': 1 - i / 200})\n"
            "    c.end_run(r)\n"
        )
        subprocess.run([sys.executable, "-c", seed], env=env, check=True, cwd=folder)
        shutil.copytree(DEMO, folder / "pipeline", ignore=shutil.ignore_patterns("output", "*.csv"))
        pipeline = folder / "pipeline" / "pipeline.yaml"
        t0 = time.perf_counter()
        subprocess.run(
            [cli, "pipelines", "run", str(pipeline), "--no-progress"],
            env=env, cwd=folder, capture_output=True, check=True,
        )  # fmt: skip
        first_run = time.perf_counter() - t0
        help_s = timed([cli, "--help"], folder, env)
        list_s = timed([cli, "runs", "list"], folder, env)
        search = [
            "-e",
            "bench",
            "-f",
            "metrics.acc > 0.5 and params.model = 'rf'",
            "-o",
            "params.lr DESC",
        ]
        search_s = timed([cli, "runs", "list", *search], folder, env)
        rerun_s = timed([cli, "pipelines", "run", str(pipeline)], folder, env)
        statuses = subprocess.run(
            [cli, "pipelines", "run", str(pipeline), "--format", "json"],
            env=env, cwd=folder, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        # The peer: the same four notebooks run one after another with papermill's CLI.
        out = folder / "papermill-out"
        out.mkdir()
        order = ["prepare", "train", "train", "evaluate"]
        papermill_s = []
        for _ in range(2):
            t0 = time.perf_counter()
            for i, name in enumerate(order):
                subprocess.run(
                    [papermill, "-k", "python3", str(folder / "pipeline" / f"{name}.ipynb"),
                     str(out / f"{i}-{name}.ipynb")],
                    env=env, cwd=folder / "pipeline", capture_output=True, check=True,
                )  # fmt: skip
            papermill_s.append(time.perf_counter() - t0)
        emit(
            {
                "tool": "jupyter-mlops CLI",
                "repeats": REPEATS,
                "help": summary_ms(help_s),
                "runs_list_200": summary_ms(list_s),
                "runs_search_200": summary_ms(search_s),
                "pipeline_first_run_ms": ms(first_run),
                "pipeline_rerun": summary_ms(rerun_s),
                "pipeline_rerun_all_cached": statuses.count('"CACHED"') == 4,
                "papermill_demo_notebooks_ms": ms(statistics.median(papermill_s)),
            }
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
