"""``%%track`` overhead: a tracked cell against the same cell without the magic.

Runs an IPython shell in-process (IPython.testing.globalipapp), loads the extension, then
alternates tracked and plain cells: an empty cell (IPython refuses a cell magic with an empty
body, so "empty" means ``pass``), and a read-only cell over a 1M-row frame with two string
columns (pandas' default string dtype), a float and an int column, which %%track fingerprints
before and after. Then ``%load_ext jupyter_mlops`` as the user waits for it: the cell's reply
from a real kernel, in fresh kernels. The store is a temp folder given by JUPYTER_MLOPS_HOME.
Run with the project venv (.venv); one JSON object on stdout.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import statistics
import tempfile
import time
import warnings

from _common import emit, ms, summary_ms

CELLS = 300
TRACKED = "%%track\npass"
PLAIN = "pass"
FRAME_ROWS = 1_000_000
FRAME_CELLS = 15
READ_ONLY = "share_high = float((df['amount'] > 0.5).mean())"
KERNELS = 3


def realistic_frame(strings: str) -> object:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    cities = np.array([f"city_{i:03d}" for i in range(300)], dtype=object)
    users = np.array([f"user_{i:06d}@example.com" for i in range(50_000)], dtype=object)
    return pd.DataFrame(
        {
            "city": pd.Series(cities[rng.integers(0, 300, FRAME_ROWS)], dtype=strings),
            "email": pd.Series(users[rng.integers(0, 50_000, FRAME_ROWS)], dtype=strings),
            "amount": rng.random(FRAME_ROWS),
            "items": rng.integers(0, 20, FRAME_ROWS),
        }
    )


def load_ext_in_kernels(home: str) -> list[float]:
    """``%load_ext jupyter_mlops`` in fresh kernels: from the request to the kernel's reply."""
    from jupyter_client.manager import start_new_kernel

    times = []
    for _ in range(KERNELS):
        km, kc = start_new_kernel(
            kernel_name="python3", env={**os.environ, "JUPYTER_MLOPS_HOME": home}
        )
        try:
            kc.execute_interactive("import sys", timeout=60)
            t0 = time.perf_counter()
            reply = kc.execute_interactive("%load_ext jupyter_mlops", timeout=60)
            times.append(time.perf_counter() - t0)
            assert reply["content"]["status"] == "ok", reply["content"]
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return times


def main() -> None:
    warnings.simplefilter("ignore")
    home = tempfile.mkdtemp(prefix="mlops-bench-track-")
    os.environ["JUPYTER_MLOPS_HOME"] = home
    os.environ.pop("JUPYTER_MLOPS_STORE", None)
    try:
        from IPython.testing.globalipapp import start_ipython

        ip = start_ipython()
        failures: list[str] = []

        def run(cell: str) -> float:
            t0 = time.perf_counter()
            result = ip.run_cell(cell)
            elapsed = time.perf_counter() - t0
            if not result.success and len(failures) < 5:
                failures.append(repr(result.error_before_exec or result.error_in_exec))
            return elapsed

        # The summary each tracked cell displays goes to stdout; keep stdout for the JSON.
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            load_ext = run("%load_ext jupyter_mlops")  # its post-run hook opens the store
            first = run(TRACKED)
            tracked, plain = [], []
            for _ in range(CELLS):
                tracked.append(run(TRACKED))
                plain.append(run(PLAIN))
            frames = {}
            for strings in ("str", "object"):
                ip.user_ns["df"] = realistic_frame(strings)
                frame_first = run("%%track\n" + READ_ONLY)
                frame_tracked, frame_plain = [], []
                for _ in range(FRAME_CELLS):
                    frame_tracked.append(run("%%track\n" + READ_ONLY))
                    frame_plain.append(run(READ_ONLY))
                frames[strings] = {
                    "rows": FRAME_ROWS,
                    "cell": READ_ONLY,
                    "dtypes": [str(t) for t in ip.user_ns["df"].dtypes],
                    "first_tracked_ms": ms(frame_first),
                    "tracked": summary_ms(frame_tracked),
                    "plain": summary_ms(frame_plain),
                    "overhead_median_ms": ms(
                        statistics.median(frame_tracked) - statistics.median(frame_plain)
                    ),
                }
        kernel_load_ext = load_ext_in_kernels(home)

        import jupyter_mlops as mlops

        runs = mlops.Client(home).search_runs(limit=CELLS + 2 * FRAME_CELLS + 10)
        result = {
            "tool": "jupyter-mlops %%track",
            "cells": CELLS,
            "load_ext_ms": ms(load_ext),
            "first_tracked_ms": ms(first),
            "tracked": summary_ms(tracked),
            "plain": summary_ms(plain),
            "overhead_median_ms": ms(statistics.median(tracked) - statistics.median(plain)),
            "frame": frames["str"],
            "frame_object": frames["object"],
            "kernel_load_ext": summary_ms(kernel_load_ext),
            "runs_recorded": len(runs),
            "failures": failures,
            "summary_chars_displayed": len(sink.getvalue()),
        }
        emit(result)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
