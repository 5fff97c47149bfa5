"""Fingerprinting DataFrames against the usual ways to hash them.

1. A 2M x 20 float64 DataFrame (320 MB) against pandas, joblib, md5 and numpy.sum.
2. Mixed 1M-row frames, two string columns and a float column, against
   ``pd.util.hash_pandas_object``, once per string storage: pandas' default ``str`` (Arrow),
   the python-backed ``pd.StringDtype("python")``, and plain ``object`` columns.

All in one process, peer and ours on the same frame: warm-up once, then best of 3 for each
method. The caches of string digests (Arrow columns by identity, object columns of str by
the objects they hold) are emptied before every timed fingerprint, so each one hashes
everything; the cached figure (a second fingerprint of an unchanged frame, as %%track takes
after a cell that only reads it) is reported apart.
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
MIXED_ROWS = 1_000_000


def best_of(
    fn: Callable[[], Any], repeats: int = REPEATS, setup: Callable[[], Any] | None = None
) -> tuple[float, Any]:
    """Best time of ``repeats`` calls after one warm-up; ``setup`` runs untimed before each."""
    fn()  # warm-up
    best, value = float("inf"), None
    for _ in range(repeats):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def string_columns(rows: int, seed: int = 1) -> dict[str, list[str]]:
    """String columns as in a users table: ids (``user<n>``, ~63 % distinct) and e-mail
    addresses of 30-60 characters (almost all distinct); for the low-cardinality case, a
    ``city`` of 100 and a ``plan`` of 5 distinct values, where pandas hashes each distinct
    value once (``categorize=True``) and so is at its fastest."""
    import numpy as np

    rng = np.random.default_rng(seed)
    first = [f"firstname{i}" for i in range(200)]
    last = [f"lastname-{i}" for i in range(500)]
    domains = [f"mail{i}.example.com" for i in range(50)]
    picks = zip(
        rng.integers(0, len(first), rows).tolist(),
        rng.integers(0, len(last), rows).tolist(),
        rng.integers(0, len(domains), rows).tolist(),
        rng.integers(0, 10**6, rows).tolist(),
        strict=True,
    )
    emails = [f"{first[a]}.{last[b]}{n}@{domains[c]}" for a, b, c, n in picks]
    return {
        "user": [f"user{n}" for n in rng.integers(0, rows, rows).tolist()],
        "email": emails,
        "city": [f"city-{n}" for n in rng.integers(0, 100, rows).tolist()],
        "plan": [
            ("free", "basic", "pro", "team", "enterprise")[n] for n in rng.integers(0, 5, rows)
        ],
    }


def mixed_frames(fingerprint: Callable[[Any], str]) -> dict[str, Any]:
    """Ours and pandas on [string, string, float64] frames, one per string storage."""
    import numpy as np
    import pandas as pd

    from jupyter_mlops.data.arrow import IDENTITY_CACHE
    from jupyter_mlops.data.objects import STR_ROWS

    def forget() -> None:
        IDENTITY_CACHE.clear()
        STR_ROWS.clear()

    columns = string_columns(MIXED_ROWS)
    score = np.random.default_rng(2).standard_normal(MIXED_ROWS)
    lengths = [len(e) for e in columns["email"]]
    storages: dict[str, Any] = {
        "str (default, Arrow)": "str",
        "string (python-backed)": pd.StringDtype("python"),
        "object": object,
    }
    cases = [(name, dtype, ("user", "email")) for name, dtype in storages.items()]
    cases.append(("object, low cardinality", object, ("city", "plan")))
    out: dict[str, Any] = {}
    for name, dtype, (a, b) in cases:
        df = pd.DataFrame(
            {a: pd.Series(columns[a], dtype=dtype), b: pd.Series(columns[b], dtype=dtype)}
        )
        df["score"] = score
        peer_s, _ = best_of(lambda df=df: pd.util.hash_pandas_object(df, index=True))
        ours_s, value = best_of(lambda df=df: fingerprint(df), setup=forget)
        cached_s, cached = best_of(lambda df=df: fingerprint(df))
        changed = df.copy()
        changed.loc[MIXED_ROWS // 2, b] = "someone.else"
        out[name] = {
            "columns": [a, b, "score"],
            "dtypes": [str(t) for t in df.dtypes],
            "pandas_ms": ms(peer_s),
            "ours_ms": ms(ours_s),
            "ours_cached_ms": ms(cached_s),
            "ratio": peer_s / ours_s,
            "fingerprint_changes_with_data": fingerprint(changed) != value,
            "cached_equals_uncached": cached == value,
        }
        del df, changed
    return {
        "rows": MIXED_ROWS,
        "email_chars": [min(lengths), max(lengths)],
        "distinct": {key: len(set(values)) for key, values in columns.items()},
        "kinds": out,
    }


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

    mixed = mixed_frames(mlops.fingerprint)  # first: its frames are freed before the big one
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
            "mixed": mixed,
        }
    )


if __name__ == "__main__":
    main()
