"""Helpers shared by the benchmark scripts (standard library only: they run in both venvs)."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 4)


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """first / median / p95 / min / max of durations given in seconds, in milliseconds."""
    return {
        "n": len(samples_s),
        "first_ms": ms(samples_s[0]),
        "median_ms": ms(statistics.median(samples_s)),
        "p95_ms": ms(percentile(samples_s, 95)),
        "min_ms": ms(min(samples_s)),
        "max_ms": ms(max(samples_s)),
    }


def run_json(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    """Run a child process that prints one JSON object as its last stdout line."""
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {proc.returncode}:\n{proc.stderr[-4000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{argv[0]} printed nothing; stderr:\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def emit(result: dict[str, Any]) -> None:
    """Print the result as one JSON line on the real stdout."""
    result.setdefault("python", sys.version.split()[0])
    result.setdefault("executable", sys.executable)
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()


# -- the notebook pipeline workload (ours_pipeline.py, peer_papermill.py) -------------------

# a -> (b, c) -> d -> e: b and c are independent, so a runner can run them side by side.
PIPELINE_STEPS = (("a", ()), ("b", ("a",)), ("c", ("a",)), ("d", ("b", "c")), ("e", ("d",)))


def _notebook(step: str) -> dict[str, Any]:
    """A 2-cell notebook: papermill's ``parameters`` cell and a trivial computation."""

    def cell(index: int, source: str, tags: list[str] | None = None) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "id": f"{step}-{index}",
            "metadata": {"tags": tags} if tags else {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }

    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            cell(0, "x = 0", ["parameters"]),
            cell(1, f"y = sum(i * x for i in range(1000))\nprint({step!r}, y)"),
        ],
    }


def make_pipeline_notebooks(folder: str) -> dict[str, str]:
    """Write the five step notebooks and ``pipeline.yaml`` into ``folder``.

    Returns the notebook path of each step, in run order (a, b, c, d, e). Every step gets
    the parameter ``x = 1``, as ``papermill ... -p x 1`` gives it.
    """
    os.makedirs(folder, exist_ok=True)
    paths: dict[str, str] = {}
    lines = ["name: bench", "steps:"]
    for step, upstream in PIPELINE_STEPS:
        path = os.path.join(folder, f"{step}.ipynb")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_notebook(step), fh, indent=1)
        paths[step] = path
        lines += [f"  - name: {step}", f"    notebook: {step}.ipynb", "    parameters: {x: 1}"]
        if upstream:
            lines.append(f"    upstream: [{', '.join(upstream)}]")
    with open(os.path.join(folder, "pipeline.yaml"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return paths


def timed(n: int, call: Callable[[int], Any]) -> list[float]:
    """``call(i)`` for i in range(n), each timed."""
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - t0)
    return samples


def holdout_frame(x: Any, y: Any, rows: int) -> Any:
    """``rows`` rows drawn from a data set with 1 % noise, and its ``target`` column; seeded,
    so the peer's and our registry benchmarks judge the same frame (numpy is imported here
    only when called: the other helpers need the standard library alone)."""
    import numpy as np

    rng = np.random.default_rng(0)
    picked = rng.integers(0, len(x), rows)
    frame = x.iloc[picked].reset_index(drop=True) * rng.normal(1.0, 0.01, (rows, x.shape[1]))
    frame["target"] = y.iloc[picked].to_numpy()
    return frame
