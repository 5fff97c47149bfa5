"""The pipeline workload with jupyter-mlops: a -> (b, c) -> d -> e, five 2-cell notebooks.

``run_pipeline`` with its defaults (2 workers, cache on) against a new store in a temp folder:
first the cold run (nothing cached; the process has imported jupyter_mlops but not papermill
or nbclient, which the first run imports), then RERUNS re-runs of the unchanged pipeline, each
timed around the whole ``run_pipeline`` call, reported as their median. Every step of a re-run
should come back CACHED. Run with the project venv (.venv); one JSON object on stdout.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import warnings
from collections import Counter

from _common import emit, make_pipeline_notebooks, ms, summary_ms

RERUNS = 5


def main() -> None:
    warnings.simplefilter("ignore")
    for name in ("JUPYTER_MLOPS_STORE", "JUPYTER_MLOPS_HOME", "JUPYTER_MLOPS_ARTIFACTS"):
        os.environ.pop(name, None)
    os.environ["TQDM_DISABLE"] = "1"
    folder = tempfile.mkdtemp(prefix="mlops-bench-pipeline-")
    try:
        import jupyter_mlops as mlops
        from jupyter_mlops.pipelines import Pipeline, run_pipeline

        make_pipeline_notebooks(os.path.join(folder, "nb"))
        pipeline = Pipeline.from_yaml(os.path.join(folder, "nb", "pipeline.yaml"))
        client = mlops.Client(os.path.join(folder, "store"))

        def timed() -> tuple[float, dict[str, str], dict[str, float]]:
            t0 = time.perf_counter()
            result = run_pipeline(pipeline, client=client)
            elapsed = time.perf_counter() - t0
            if not result.ok and not all(
                s.status.value in ("FINISHED", "CACHED") for s in result.steps.values()
            ):
                failed = [s for s in result.steps.values() if s.status.value == "FAILED"]
                raise SystemExit(
                    f"pipeline failed: {[(s.name, s.error_name, s.error_value) for s in failed]}"
                )
            statuses = {name: s.status.value for name, s in result.steps.items()}
            durations = {name: ms(s.duration) for name, s in result.steps.items()}
            return elapsed, statuses, durations

        first, first_statuses, first_steps = timed()
        reruns, rerun_statuses = [], Counter()
        for _ in range(RERUNS):
            elapsed, statuses, _ = timed()
            reruns.append(elapsed)
            rerun_statuses.update(statuses.values())
        waves = pipeline.order()
        # The run's critical path through its steps; the rest is the runner's own time.
        critical_path = sum(max(first_steps[name] for name in wave) for wave in waves)
        emit(
            {
                "tool": "jupyter-mlops run_pipeline",
                "version": mlops.__version__,
                "steps": len(pipeline.steps),
                "waves": waves,
                "max_workers": 2,
                "first_run_ms": ms(first),
                "first_run_statuses": first_statuses,
                "first_run_step_ms": first_steps,
                "first_run_outside_steps_ms": round(first * 1000 - critical_path, 1),
                "rerun_median_ms": ms(statistics.median(reruns)),
                "reruns": summary_ms(reruns),
                "rerun_statuses": dict(rerun_statuses),
                "cached": rerun_statuses.get("CACHED", 0) == RERUNS * len(pipeline.steps),
            }
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
