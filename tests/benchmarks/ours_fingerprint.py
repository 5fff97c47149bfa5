"""Fingerprinting a 2M x 20 float64 DataFrame (320 MB), against the usual ways to hash it.

All in one process on the same frame: warm-up once, then best of 3 for each method.
Run with the project venv (.venv). Prints one JSON object on stdout.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Callable
from typing import Any

from _common import emit, ms

ROWS = 2_000_000
COLS = 20
REPEATS = 3


def best_of(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    fn()  # warm-up
    best, value = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def strided_fingerprint(df: Any, fingerprint: Callable[[Any], str]) -> tuple[float, str]:
    import numpy as np
    import pandas as pd

    strided = pd.DataFrame(np.ascontiguousarray(df.to_numpy()), columns=df.columns, copy=False)
    return best_of(lambda: fingerprint(strided))


def main() -> None:
    warnings.simplefilter("ignore")
    import joblib
    import numpy as np
    import pandas as pd

    import jupyter_mlops as mlops

    rng = np.random.default_rng(0)
    # The DataFrame constructor copies the array into one block where each column is
    # contiguous, the layout read_csv/read_parquet and dict-of-columns frames have too.
    df = pd.DataFrame(rng.standard_normal((ROWS, COLS)), columns=[f"c{i}" for i in range(COLS)])
    # Each column as the 1-D array pandas holds (views, no copies).
    columns = [np.ascontiguousarray(df[c].to_numpy()) for c in df.columns]
    nbytes = int(df.memory_usage(index=True, deep=True).sum())

    def md5_columns() -> str:  # DVC-style: md5 over the raw bytes
        h = hashlib.md5()
        for col in columns:
            h.update(col)
        return h.hexdigest()

    def numpy_sum() -> float:  # reads every byte once: the memory-read reference
        return float(sum(np.sum(col) for col in columns))

    methods: dict[str, Callable[[], Any]] = {
        "jupyter_mlops.fingerprint": lambda: mlops.fingerprint(df),
        "pandas.util.hash_pandas_object": lambda: pd.util.hash_pandas_object(df, index=True),
        "joblib.hash": lambda: joblib.hash(df),
        "md5 per column": md5_columns,
        "numpy.sum": numpy_sum,
    }
    results: dict[str, dict[str, float]] = {}
    fingerprints = set()
    for name, fn in methods.items():
        seconds, value = best_of(fn)
        if name == "jupyter_mlops.fingerprint":
            fingerprints.add(value)
        results[name] = {"seconds": seconds, "ms": ms(seconds), "gb_per_s": nbytes / seconds / 1e9}

    # Guard against timing a no-op: one changed value must change the fingerprint.
    changed = df.copy()
    changed.iloc[ROWS // 2, COLS // 2] += 1.0
    sensitive = mlops.fingerprint(changed) not in fingerprints
    del changed

    # For information: a frame over a C-ordered (rows, cols) array, as
    # ``DataFrame(array, copy=False)`` builds it, where every column is strided.
    seconds, value = strided_fingerprint(df, mlops.fingerprint)
    results["jupyter_mlops.fingerprint (strided columns)"] = {
        "seconds": seconds,
        "ms": ms(seconds),
        "gb_per_s": nbytes / seconds / 1e9,
    }
    same_as_contiguous = value in fingerprints

    emit(
        {
            "tool": "fingerprint",
            "rows": ROWS,
            "cols": COLS,
            "nbytes": nbytes,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "joblib": joblib.__version__,
            "fingerprint": sorted(fingerprints),
            "fingerprint_changes_with_data": sensitive,
            "strided_layout_same_fingerprint": same_as_contiguous,
            "methods": results,
        }
    )


if __name__ == "__main__":
    main()
