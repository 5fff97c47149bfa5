"""``%%track`` overhead: an empty tracked cell against the same cell without the magic.

Runs an IPython shell in-process (IPython.testing.globalipapp), loads the extension, then
alternates tracked and plain cells. The store is a temp folder given by JUPYTER_MLOPS_HOME.
IPython refuses a cell magic with an empty body, so "empty" means a body of ``pass``; the
plain cell is the same ``pass``. Run with the project venv (.venv); one JSON object on stdout.
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

        import jupyter_mlops as mlops

        runs = mlops.Client(home).search_runs(limit=CELLS + 10)
        result = {
            "tool": "jupyter-mlops %%track",
            "cells": CELLS,
            "load_ext_ms": ms(load_ext),
            "first_tracked_ms": ms(first),
            "tracked": summary_ms(tracked),
            "plain": summary_ms(plain),
            "overhead_median_ms": ms(statistics.median(tracked) - statistics.median(plain)),
            "runs_recorded": len(runs),
            "failures": failures,
            "summary_chars_displayed": len(sink.getvalue()),
        }
        emit(result)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
