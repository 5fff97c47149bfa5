"""Helpers shared by the benchmark scripts. They run in every venv (project, MLflow, Evidently):
standard library at import time; the helpers that need numpy (every venv has it) import it when
called."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


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


# -- the data drift workload (peer_evidently.py, ours_monitor.py) --------------------------

# What drift_data changes in the current sample, column by column (f0, f1, ...); the columns
# after these are unchanged. Mean shifts are in reference standard deviations (1). Chosen around
# Evidently's default for numeric columns of more than 1,000 rows, a Wasserstein distance over
# the reference's std of 0.1 or more: a shift of d sd gives a distance of about d, a std of 1.1
# about 0.08, the outliers about 0.2. A K-S test (p-value < 0.05) on 200,000 rows flags every
# changed column, from the shift of 0.02 sd on (p around 1e-7 with the default seed).
_DRIFT_SPEC: tuple[tuple[str, float], ...] = (
    ("shift", 0.02),
    ("shift", 0.05),
    ("shift", 0.08),
    ("shift", 0.1),
    ("shift", 0.12),
    ("shift", 0.15),
    ("shift", 0.2),
    ("shift", 0.5),
    ("scale", 1.1),
    ("scale", 1.5),
    ("outliers", 0.01),
)
# Where the outliers of the "outliers" column are drawn: N(20, 1), far beyond any value of
# 200,000 standard normals (|x| < 5.5 with near certainty).
DRIFT_OUTLIER_MEAN = 20.0
DRIFT_COLUMNS = tuple(f"f{i}" for i in range(20))


def _drift_change(index: int) -> str:
    if index >= len(_DRIFT_SPEC):
        return "unchanged: N(0, 1) in both"
    kind, value = _DRIFT_SPEC[index]
    if kind == "shift":
        return f"mean shifted by +{value:g} sd: N({value:g}, 1)"
    if kind == "scale":
        return f"std {value:g} instead of 1: N(0, {value:g}²)"
    return (
        f"{value:.0%} of the values replaced by draws of N({DRIFT_OUTLIER_MEAN:g}, 1), far out "
        "of the reference's range; the rest N(0, 1)"
    )


DRIFT_CHANGES: dict[str, str] = {
    name: _drift_change(index) for index, name in enumerate(DRIFT_COLUMNS)
}


def drift_data(
    rows: int = 200_000, columns: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(reference, current)``: two float64 arrays of shape ``(rows, columns)``, columns named
    ``f0`` ... (``DRIFT_COLUMNS`` for the default 20), seeded.

    Reference: independent standard normals. Current: drawn independently of it, with the change
    of ``DRIFT_CHANGES`` in each column (f0–f7 mean shifts of 0.02–0.5 sd, f8 and f9 a std of
    1.1 and 1.5, f10 1 % of far outliers, f11 onward unchanged)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    reference = rng.standard_normal((rows, columns))
    current = rng.standard_normal((rows, columns))
    for index, (kind, value) in enumerate(_DRIFT_SPEC[:columns]):
        column = current[:, index]  # a view: the changes land in ``current``
        if kind == "shift":
            column += value
        elif kind == "scale":
            column *= value
        else:
            picked = rng.choice(rows, size=round(rows * value), replace=False)
            column[picked] = DRIFT_OUTLIER_MEAN + rng.standard_normal(len(picked))
    return reference, current


# -- HTTP load (peer_mlflow_serve.py, asgi_choice.py, ours_serve.py) ----------------------

AB = "/usr/bin/ab"  # ApacheBench (Debian's apache2-utils)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[Any] | None = None) -> float:
    """Poll ``GET url`` until it answers 200; return the seconds waited.

    Raises ``TimeoutError`` after ``timeout`` seconds, or ``RuntimeError`` as soon as ``proc``
    (the server's process, if given) has exited.
    """
    import urllib.error
    import urllib.request

    t0 = time.perf_counter()
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if response.status == 200:
                    response.read()
                    return time.perf_counter() - t0
        except (OSError, urllib.error.URLError):
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before {url} answered")
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{url} did not answer 200 within {timeout} s")
        time.sleep(0.02)


def _ab_number(text: str, label: str) -> float | None:
    for line in text.splitlines():
        if line.strip().startswith(label):
            value = line.split(":", 1)[1].split()
            return float(value[0]) if value else None
    return None


def ab_load(
    url: str,
    body: bytes,
    content_type: str,
    n: int,
    c: int,
    headers: dict[str, str] | None = None,
    timeout: float = 300.0,
    keep_alive: bool = False,
) -> dict[str, Any]:
    """POST ``body`` ``n`` times, ``c`` at a time, with ApacheBench; 127.0.0.1 only.

    Returns ``rps``, ``p50_ms``, ``p95_ms``, ``p99_ms`` (from ab's CSV of percentiles, to the
    microsecond; ab's printed table rounds to whole milliseconds), ``failed`` (ab's "Failed
    requests", with its ``failed_length`` part: a response whose length differs from the first
    one's), ``non2xx``, ``n``, ``c``, ``keep_alive`` and how many requests ab sent on a kept
    connection. Without ``keep_alive`` every request opens its own connection, as a client
    without a session (``requests.post``, ``urllib``) does.
    """
    import tempfile
    import urllib.parse

    host = urllib.parse.urlsplit(url).hostname
    if host != "127.0.0.1":
        raise ValueError(f"ab_load only loads 127.0.0.1, not {host!r}")
    with tempfile.TemporaryDirectory(prefix="mlops-ab-") as tmp:
        body_path, csv_path = os.path.join(tmp, "body"), os.path.join(tmp, "percentiles.csv")
        with open(body_path, "wb") as fh:
            fh.write(body)
        argv = [AB, "-q", "-n", str(n), "-c", str(c), "-s", str(int(timeout)), "-e", csv_path]
        if keep_alive:
            argv.append("-k")
        argv += ["-p", body_path, "-T", content_type]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(url)
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout + 30, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"ab exited with {proc.returncode}:\n{proc.stderr[-2000:]}")
        percentiles: dict[int, float] = {}
        if os.path.exists(csv_path):
            with open(csv_path, encoding="utf-8") as fh:
                for line in fh.read().splitlines()[1:]:
                    share, _, value = line.partition(",")
                    if share.strip().isdigit() and value:
                        percentiles[int(share)] = float(value)
    text = proc.stdout
    table: dict[int, float] = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith("Percentage of the requests served"):
            in_table = True
        elif in_table and "%" in line:
            share, _, value = line.strip().partition("%")
            if share.isdigit() and value.split():
                table[int(share)] = float(value.split()[0])
    failed_line = next((ln for ln in text.splitlines() if ln.startswith("Failed requests")), "")
    breakdown = next((ln for ln in text.splitlines() if ln.strip().startswith("(Connect:")), "")
    failed_length = 0
    if "Length:" in breakdown:
        failed_length = int(breakdown.split("Length:")[1].split(",")[0])

    def pick(share: int) -> float | None:
        value = percentiles.get(share, table.get(share))
        return round(value, 3) if value is not None else None

    return {
        "rps": _ab_number(text, "Requests per second"),
        "p50_ms": pick(50),
        "p95_ms": pick(95),
        "p99_ms": pick(99),
        "max_ms": pick(100),
        "failed": int(failed_line.split(":", 1)[1]) if failed_line else None,
        "failed_length": failed_length,
        "non2xx": int(_ab_number(text, "Non-2xx responses") or 0),
        "complete": int(_ab_number(text, "Complete requests") or 0),
        "keep_alive_requests": int(_ab_number(text, "Keep-Alive requests") or 0),
        "n": n,
        "c": c,
        "keep_alive": keep_alive,
    }


# -- the serving workload (peer_mlflow_serve.py, asgi_choice.py, ours_serve.py) -------------

SERVING_FEATURES = tuple(f"f{i}" for i in range(20))


def serving_model_data(seed: int = 0, rows: int = 5000) -> tuple[list[list[float]], list[int]]:
    """``rows`` rows of the 20 numeric features f0..f19 and a binary target (a linear logit
    with noise), as plain lists: seeded and standard library only, so every venv fits its
    ``LogisticRegression(max_iter=1000)`` on the very same numbers."""
    import random

    rng = random.Random(seed)
    weights = [rng.gauss(0.0, 1.0) for _ in SERVING_FEATURES]
    x: list[list[float]] = []
    y: list[int] = []
    for _ in range(rows):
        row = [round(rng.gauss(0.0, 1.0), 6) for _ in SERVING_FEATURES]
        logit = 0.3 + sum(w * v for w, v in zip(weights, row, strict=True)) + rng.gauss(0.0, 1.0)
        x.append(row)
        y.append(1 if logit > 0 else 0)
    return x, y


def serving_body(rows: Sequence[Sequence[float]]) -> bytes:
    """The ``/invocations`` request MLflow's scoring server takes: ``dataframe_split``."""
    payload = {
        "dataframe_split": {"columns": list(SERVING_FEATURES), "data": [list(r) for r in rows]}
    }
    return json.dumps(payload).encode()
