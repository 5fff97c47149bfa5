"""The continuous-training loop's latency: ``jupyter-mlops demo lifecycle`` end to end (a real
model server, a real scheduler process, papermill kernels for the retraining pipeline), once
with the direct switch and once through a canary trial. Reported: the time from the first
drifted request to the new version answering, and its parts as the loop's timeline measures
them (detection: the drift's onset to the alert; the pipeline; the gates; the switch: the
decision to a server answering with the new version), plus the failed requests (must be 0).

No peer closes this loop by itself (MLflow, KServe and SageMaker each give a piece and leave
the wiring), so there is nothing to divide by. Prints one JSON object; asserts nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

ROOT = Path(__file__).resolve().parents[2]


def one(rollout: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as tmp:
        out = Path(tmp) / "summary.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "jupyter_mlops.cli", "demo", "lifecycle", "--home",
             str(Path(tmp) / "store"), "--rollout", rollout, "--json-out", str(out)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if done.returncode != 0:
            return {"error": (done.stdout + done.stderr)[-2000:]}
        summary = json.loads(out.read_text())
        summary["demo_s"] = round(time.perf_counter() - started, 2)
        return summary


def main() -> None:
    result = {name: one(name) for name in ("direct", "canary")}
    emit(result)


if __name__ == "__main__":
    main()
