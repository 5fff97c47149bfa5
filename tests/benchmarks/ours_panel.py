"""Time to first rows in the MLOps side panel on 100,000 runs: a real JupyterLab in Chromium.

The store is seeded as in ours_search.py. For each repetition a fresh page loads the lab,
clicks the MLOps tab and waits for the first run row (the panel asks the API for one page);
then a filter is typed and the wait is for the filtered rows. Prints one JSON object.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import emit
from ours_search import FILTER, N_RUNS, free_port, seed_store

CHROMIUM = os.environ.get("JUPYTER_MLOPS_CHROMIUM", "/usr/bin/chromium")
REPEATS = int(os.environ.get("MLOPS_BENCH_PANEL_REPEATS", "5"))
TOKEN = "bench"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROW = "[data-testid='mlops-run-row']"


def start_lab(store: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (tmp / "lab.log").open("wb")
    argv = [
        sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
        f"--port={port}", f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={tmp}",
        f"--MlopsApp.store={store}", "--ServerApp.ip=127.0.0.1",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}api/status?token={TOKEN}", timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((tmp / "lab.log").read_text()[-2000:]) from None
            time.sleep(0.3)


def measure(url: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    first_rows: list[float] = []
    filtered: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(REPEATS):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(f"{url}lab?reset&token={TOKEN}")
            page.wait_for_selector("[data-id='jupyter-mlops-panel']")
            t0 = time.perf_counter()
            page.click("[data-id='jupyter-mlops-panel']")
            page.wait_for_selector(ROW)
            first_rows.append((time.perf_counter() - t0) * 1000)
            rows = page.locator(ROW).count()
            box = page.locator("[data-testid='mlops-query']")
            box.fill(FILTER)
            t1 = time.perf_counter()
            box.press("Enter")
            page.wait_for_function(
                "(n) => document.querySelector(\"[data-testid='mlops-run-count']\")"
                ".innerText.replace(/[^0-9]/g, '') !== n",
                arg=str(N_RUNS),
            )
            page.wait_for_selector(ROW)
            filtered.append((time.perf_counter() - t1) * 1000)
            page.close()
        browser.close()
    return {
        "first_rows_ms": {"p50": statistics.median(first_rows), "samples": first_rows},
        "filtered_rows_ms": {"p50": statistics.median(filtered), "samples": filtered},
        "rows_in_dom": rows,
    }


def main() -> None:
    if not Path(CHROMIUM).exists():
        emit({"skipped": f"{CHROMIUM} missing (apt-get install chromium)"})
        return
    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-panel-"))
    proc = None
    try:
        store = tmp / "store"
        seed = seed_store(store)
        proc, url = start_lab(store, tmp)
        result = {"n_runs": N_RUNS, "repeats": REPEATS, "seed": seed, **measure(url)}
        emit(result)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
