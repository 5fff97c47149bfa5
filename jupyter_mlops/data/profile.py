"""Schema and per-column summaries of tabular data, for display and as a drift reference.

Everything here is vectorised (numpy/pandas reductions); no Python code runs per row.
The output is plain JSON: non-finite floats become ``None`` so ``json.dumps(...,
allow_nan=False)`` always succeeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import islice
from typing import Any, Final

import numpy as np
import pandas as pd

from . import kinds

__all__ = ["column_kind", "column_schema", "profile_frame", "table_columns"]

_QUANTILES: Final = (0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99)
_QUANTILE_KEYS: Final = ("p01", "p05", "p25", "p50", "p75", "p95", "p99")
_HISTOGRAM_BINS: Final = 20
_TOP_VALUES: Final = 10
# Fixed so a profile (and any drift test against it) is reproducible.
_SAMPLE_SEED: Final = 20_240_601


def _series_name(series: pd.Series) -> str:
    return "" if series.name is None else str(series.name)


def column_schema(obj: Any) -> list[dict[str, str]]:
    """Lists column names and dtypes.

    Args:
        obj: A DataFrame (one entry per column), a Series (one entry, named after the
            Series or ``""``), an ndarray (2-D: one entry per column named ``"0"``,
            ``"1"``, ...; otherwise a single entry named ``""``), a pyarrow Table or
            RecordBatch or a polars DataFrame (one entry per column, with the library's
            type names), a pyarrow Array or ChunkedArray or a polars Series (one entry), or
            a scipy sparse matrix (one entry ``{"name": "", "dtype": "csr_matrix[float64]"}``:
            sparse matrices are typically too wide to list a column each).

    Returns:
        ``[{"name": str, "dtype": str}, ...]`` in column order.

    Raises:
        TypeError: ``obj`` is none of the above.
    """
    kind = kinds.kind_of(obj)
    data: Any = obj
    if kind == kinds.PANDAS_FRAME:
        return [
            {"name": str(name), "dtype": str(dtype)}
            for name, dtype in zip(data.columns, data.dtypes, strict=True)
        ]
    if kind == kinds.PANDAS_SERIES:
        return [{"name": _series_name(data), "dtype": str(data.dtype)}]
    if kind == kinds.NUMPY_ARRAY:
        if data.ndim == 2:
            return [{"name": str(i), "dtype": str(data.dtype)} for i in range(data.shape[1])]
        return [{"name": "", "dtype": str(data.dtype)}]
    if kind in (kinds.ARROW_TABLE, kinds.ARROW_BATCH):
        return [{"name": field.name, "dtype": str(field.type)} for field in data.schema]
    if kind in (kinds.ARROW_ARRAY, kinds.ARROW_CHUNKED):
        return [{"name": "", "dtype": str(data.type)}]
    if kind == kinds.POLARS_FRAME:
        return [{"name": name, "dtype": str(dtype)} for name, dtype in data.schema.items()]
    if kind == kinds.POLARS_SERIES:
        return [{"name": str(data.name), "dtype": str(data.dtype)}]
    if kind == kinds.SCIPY_SPARSE:
        return [{"name": "", "dtype": f"{type(data).__name__}[{data.dtype}]"}]
    kinds.check_materialized(obj)
    raise TypeError(f"column_schema expects a table or an array, not {type(obj)!r}")


def _arrow_series(values: Any, name: str) -> pd.Series:
    """One Arrow column as pandas converts it (numbers to numpy, strings to ``str``)."""
    return pd.Series(values.to_pandas(), name=name, copy=False)


def _sparse_columns(matrix: Any) -> Iterator[tuple[str, pd.Series]]:
    """Columns of a 2-D sparse matrix made dense one at a time, as they are profiled."""
    columns = matrix.tocsc()
    for i in range(matrix.shape[1]):
        dense = np.asarray(columns[:, [i]].toarray()).reshape(-1)
        yield str(i), pd.Series(dense, copy=False)


def table_columns(obj: Any) -> tuple[int, int, Iterator[tuple[str, pd.Series]]]:
    """(rows, columns, lazy iterator of (name, Series)).

    Columns are converted to pandas one at a time, as the iterator is consumed, so only
    the ``max_columns`` profiled are ever converted.
    """
    kind = kinds.kind_of(obj)
    if kind == kinds.PANDAS_FRAME:
        items = ((str(name), column) for name, column in obj.items())
        return len(obj), obj.shape[1], items
    if kind == kinds.PANDAS_SERIES:
        return len(obj), 1, iter([(_series_name(obj), obj)])
    if kind == kinds.NUMPY_ARRAY:
        if obj.ndim == 1:
            return len(obj), 1, iter([("", pd.Series(obj, copy=False))])
        if obj.ndim == 2:
            array = obj
            items = ((str(i), pd.Series(array[:, i], copy=False)) for i in range(obj.shape[1]))
            return obj.shape[0], obj.shape[1], items
        raise TypeError(f"profile_frame expects a 1-D or 2-D array, got {obj.ndim}-D")
    if kind in (kinds.ARROW_TABLE, kinds.ARROW_BATCH):
        table = obj
        items = (
            (name, _arrow_series(table.column(i), name))
            for i, name in enumerate(table.column_names)
        )
        return table.num_rows, table.num_columns, items
    if kind in (kinds.ARROW_ARRAY, kinds.ARROW_CHUNKED):
        return len(obj), 1, iter([("", _arrow_series(obj, ""))])
    if kind == kinds.POLARS_FRAME:
        frame = obj
        items = (
            (name, _arrow_series(frame.get_column(name).to_arrow(), name)) for name in frame.columns
        )
        return frame.height, frame.width, items
    if kind == kinds.POLARS_SERIES:
        name = str(obj.name)
        return len(obj), 1, iter([(name, _arrow_series(obj.to_arrow(), name))])
    if kind == kinds.SCIPY_SPARSE:
        if obj.ndim == 2:
            return obj.shape[0], obj.shape[1], _sparse_columns(obj)
        if obj.ndim == 1:
            dense = np.asarray(obj.toarray()).reshape(-1)
            return len(dense), 1, iter([("", pd.Series(dense, copy=False))])
        raise TypeError(f"profile_frame expects a 1-D or 2-D sparse array, got {obj.ndim}-D")
    kinds.check_materialized(obj)
    raise TypeError(f"profile_frame expects a table or an array, not {type(obj)!r}")


def _finite_or_none(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def column_kind(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or pd.api.types.is_object_dtype(
        dtype
    ):
        return "categorical"
    return "other"


def _numeric_stats(series: pd.Series, sample: np.ndarray | None) -> dict[str, Any]:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite_mask = np.isfinite(values)
    finite = values[finite_mask]
    stats: dict[str, Any] = {"inf": int(np.isinf(values).sum())}
    empty_histogram: dict[str, list[Any]] = {"edges": [], "counts": []}
    if finite.size == 0:
        stats.update(mean=None, std=None, min=None, max=None, histogram=empty_histogram)
        stats["quantiles"] = dict.fromkeys(_QUANTILE_KEYS)
        return stats
    # Overflow (e.g. the mean of values near 1e308) yields inf, reported as None.
    with np.errstate(over="ignore", invalid="ignore"):
        low, high = float(finite.min()), float(finite.max())
        stats["mean"] = _finite_or_none(finite.mean())
        stats["std"] = _finite_or_none(finite.std(ddof=1)) if finite.size > 1 else None
        stats["min"], stats["max"] = low, high
        # Quantiles and histogram are the costly part, hence computed on the sample.
        source = finite if sample is None else values[sample][finite_mask[sample]]
        if source.size == 0:
            source = finite[:1]
        stats["quantiles"] = {
            key: _finite_or_none(q)
            for key, q in zip(_QUANTILE_KEYS, np.quantile(source, _QUANTILES), strict=True)
        }
        try:
            counts, edges = np.histogram(source, bins=_HISTOGRAM_BINS, range=(low, high))
        except ValueError:  # range too wide to split into finite bins
            stats["histogram"] = empty_histogram
        else:
            stats["histogram"] = {
                "edges": [_finite_or_none(edge) for edge in edges],
                "counts": [int(count) for count in counts],
            }
    return stats


def _categorical_stats(series: pd.Series) -> dict[str, Any]:
    # sort=False keeps first-appearance order, so the stable sort breaks ties by it.
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]  # a Categorical reports unused categories with 0
    counts = counts.sort_values(ascending=False, kind="stable")
    return {
        "n_unique": len(counts),
        "top": [
            {"value": str(value), "count": int(count)}
            for value, count in counts.head(_TOP_VALUES).items()
        ],
    }


def _datetime_stats(series: pd.Series) -> dict[str, Any]:
    low, high = series.min(), series.max()
    return {
        "min": None if pd.isna(low) else pd.Timestamp(low).isoformat(),
        "max": None if pd.isna(high) else pd.Timestamp(high).isoformat(),
    }


def _bool_stats(series: pd.Series) -> dict[str, Any]:
    present = series.dropna().astype(bool)
    true = int(present.sum())
    return {"true": true, "false": len(present) - true}


def _profile_column(name: str, series: pd.Series, sample: np.ndarray | None) -> dict[str, Any]:
    nulls = int(series.isna().sum())
    kind = column_kind(series.dtype)
    extra: dict[str, Any] = {}
    if kind == "numeric":
        extra = _numeric_stats(series, sample)
    elif kind == "bool":
        extra = _bool_stats(series)
    elif kind == "datetime":
        extra = _datetime_stats(series)
    elif kind == "categorical":
        try:
            extra = _categorical_stats(series)
        except TypeError:  # unhashable objects (lists, dicts) cannot be counted
            kind = "other"
    return {
        "name": name,
        "dtype": str(series.dtype),
        "kind": kind,
        "count": len(series) - nulls,
        "nulls": nulls,
        **extra,
    }


def _sample_positions(rows: int, sample_rows: int | None) -> np.ndarray | None:
    if sample_rows is None or rows <= sample_rows:
        return None
    rng = np.random.default_rng(_SAMPLE_SEED)
    return np.sort(rng.choice(rows, size=sample_rows, replace=False))


def profile_frame(
    obj: Any,
    *,
    max_columns: int = 200,
    sample_rows: int | None = 1_000_000,
) -> dict[str, Any]:
    """Summarises each column of a table as JSON-serialisable data.

    Every column gets ``name``, ``dtype``, ``kind`` (``"numeric"``, ``"categorical"``,
    ``"datetime"``, ``"bool"`` or ``"other"``), ``count`` (non-missing) and ``nulls``.
    Then, by kind:

    * numeric: ``inf`` (count of +/-inf, included in ``count``), and over the finite
      values ``mean``, ``std`` (ddof=1), ``min``, ``max``, ``quantiles``
      (``{"p01": ..., "p99": ...}``) and a 20-bin ``histogram``
      (``{"edges": [21 floats], "counts": [20 ints]}``, edges spanning min..max);
    * categorical (category, string and object columns): ``n_unique`` and ``top``, the 10
      most frequent values as ``{"value": str, "count": int}``;
    * datetime: ``min`` / ``max`` as ISO-8601 strings;
    * bool: ``true`` / ``false`` counts.

    Non-finite floats in the output are replaced by ``None``.

    Args:
        obj: DataFrame, Series, 1-D/2-D ndarray (2-D columns are named "0", "1", ...),
            pyarrow Table, RecordBatch, Array or ChunkedArray, polars DataFrame or Series,
            or 1-D/2-D scipy sparse matrix (columns named like an ndarray's). Columns of
            the non-pandas kinds are converted to pandas one at a time, and only the
            ``max_columns`` profiled; a sparse column is made dense while it is profiled.
        max_columns: Only the first ``max_columns`` columns are profiled; ``"truncated"``
            tells whether some were left out.
        sample_rows: When there are more rows, quantiles and histograms use a
            deterministic random sample of this many rows and ``"sampled"`` is True.
            Counts, mean, std, min and max always use every row. ``None``: never sample.

    Returns:
        ``{"rows", "n_columns", "truncated", "sampled", "columns": [...]}``.

    Raises:
        TypeError: ``obj`` is not a supported table.
        ValueError: ``max_columns`` is negative or ``sample_rows`` is below 1.
    """
    if max_columns < 0:
        raise ValueError(f"max_columns must be >= 0, got {max_columns}")
    if sample_rows is not None and sample_rows < 1:
        raise ValueError(f"sample_rows must be >= 1 or None, got {sample_rows}")
    rows, n_columns, items = table_columns(obj)
    sample = _sample_positions(rows, sample_rows)
    columns = [_profile_column(name, series, sample) for name, series in islice(items, max_columns)]
    return {
        "rows": rows,
        "n_columns": n_columns,
        "truncated": n_columns > max_columns,
        "sampled": sample is not None,
        "columns": columns,
    }
