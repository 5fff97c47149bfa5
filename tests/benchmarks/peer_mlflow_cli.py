"""MLflow's CLI as whole processes: ``mlflow --help`` and ``mlflow runs list`` on a SQLite
store of 200 runs (2 params, 2 metrics each), as ours_cli.py times jupyter-mlops. Each command
runs once untimed, then REPEATS times; median and p95. Run with the peer venv (.venv-bench).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, summary_ms

REPEATS = 15


def timed(argv: list[str], env: dict[str, str]) -> list[float]:
    subprocess.run(argv, env=env, capture_output=True, check=True)  # warm-up
    samples = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        samples.append(time.perf_counter() - t0)
    return samples


def main() -> None:
    cli = str(Path(sys.executable).parent / "mlflow")
    folder = Path(tempfile.mkdtemp(prefix="mlops-bench-mlflow-cli-"))
    try:
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true")
        seed = (
            "import logging, warnings\n"
            "warnings.simplefilter('ignore')\n"
            "logging.disable(logging.WARNING)\n"
            "import mlflow\n"
            "for i in range(200):\n"
            "    with mlflow.start_run(run_name=f'run-{i}'):\n"
            "        mlflow.log_params({'lr': 0.01 * i, 'model': 'rf' if i % 2 else 'lr'})\n"
            "        mlflow.log_metrics({'acc': i / 200, 'loss': 1 - i / 200})\n"
        )
        subprocess.run([sys.executable, "-c", seed], env=env, check=True, capture_output=True)
        import mlflow

        emit(
            {
                "tool": "mlflow CLI",
                "version": mlflow.__version__,
                "repeats": REPEATS,
                "help": summary_ms(timed([cli, "--help"], env)),
                "runs_list_200": summary_ms(
                    timed([cli, "runs", "list", "--experiment-id", "0"], env)
                ),
            }
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
