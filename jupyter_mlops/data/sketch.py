"""Mergeable summaries of a table's columns: what a drift check compares, built once.

A numeric column becomes a :class:`NumericSketch`: a fine histogram on edges taken from the
data's own quantiles (so every bin holds about the same share of rows, and the CDF is exact
at each edge), exact moments (count, mean, sum of squared deviations), min and max, how far
values fall below the first and above the last edge, missing and infinite counts, and, when
the column holds few distinct values, each value's count. A categorical column becomes a
:class:`CategoricalSketch`: value counts, the rarest beyond ``CATEGORY_LIMIT`` pooled as
"other".

A sketch built ``like`` another uses that one's edges, so two sketches of parts of a table
built like the same sketch :meth:`merge` into exactly the sketch of the whole (counts, min,
max, missing; the moments to rounding). A window of live traffic is sketched like the
reference it is compared with.

Everything is vectorised: one ``searchsorted`` and one ``bincount`` per column, no Python
per row. :func:`to_dict` / :func:`from_dict` give plain JSON (no NaN or infinity).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from .profile import column_kind, table_columns

__all__ = [
    "CATEGORY_LIMIT",
    "DISCRETE_LIMIT",
    "FINE_BINS",
    "CategoricalSketch",
    "NumericSketch",
    "Sketch",
    "bin_positions",
    "from_dict",
    "numeric_values",
    "sketch_column",
    "sketch_numeric",
    "sketch_table",
    "to_dict",
]

FINE_BINS: Final = 1000
# A numeric column with at most this many distinct values also keeps each value's count.
DISCRETE_LIMIT: Final = 100
# A categorical column keeps this many most frequent values; the rest are counted as "other".
CATEGORY_LIMIT: Final = 1000


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class NumericSketch:
    """One numeric column. ``counts[0]`` counts values ``<= edges[0]``, ``counts[k]`` those in
    ``(edges[k-1], edges[k]]`` and ``counts[-1]`` those ``> edges[-1]``: the share of values
    ``<= edges[k]`` is exactly ``counts[: k + 1].sum() / n``."""

    edges: np.ndarray
    counts: np.ndarray
    n: int = 0  # finite values
    missing: int = 0  # NaN and None
    infinite: int = 0
    mean: float = math.nan
    m2: float = 0.0  # sum of squared deviations from the mean
    min: float = math.nan
    max: float = math.nan
    below: float = 0.0  # sum of (edges[0] - x) over values below the first edge
    above: float = 0.0  # sum of (x - edges[-1]) over values above the last edge
    values: dict[float, int] | None = None  # exact counts when few distinct values
    kind: str = field(default="numeric", init=False)

    @property
    def rows(self) -> int:
        return self.n + self.missing + self.infinite

    @property
    def std(self) -> float:
        """Standard deviation (ddof=0); NaN when there are no values."""
        return math.sqrt(self.m2 / self.n) if self.n else math.nan

    def cdf_at_edges(self) -> np.ndarray:
        """Share of finite values ``<= edges[k]`` for each edge."""
        cumulative = np.cumsum(self.counts[:-1], dtype=np.float64)
        return cumulative / self.n if self.n else cumulative

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The CDF anywhere: exact at the edges, linear between them, 0 below the minimum and
        1 above the maximum (for a reference, whose values all lie within its edges)."""
        x = np.asarray(x, dtype=np.float64)
        if not self.n:
            return np.zeros_like(x)
        result = np.interp(x, self.edges, self.cdf_at_edges())
        # The mass at the minimum (counts[0]) sits on the first edge, not spread below it.
        return np.where(x < self.edges[0], 0.0, result)

    def quantiles(self, qs: np.ndarray | list[float]) -> np.ndarray:
        """Approximate quantiles from the fine histogram (exact at the edges' shares)."""
        if not self.n:
            return np.full(len(qs), np.nan)
        share = self.cdf_at_edges()
        return np.interp(np.asarray(qs, dtype=np.float64), share, self.edges)

    def merge(self, other: NumericSketch) -> NumericSketch:
        if self.edges.shape != other.edges.shape or not np.array_equal(self.edges, other.edges):
            raise ValueError("Only sketches built on the same edges merge exactly")
        n = self.n + other.n
        if self.n == 0 or other.n == 0:
            mean, m2 = (other.mean, other.m2) if self.n == 0 else (self.mean, self.m2)
        else:
            delta = other.mean - self.mean
            mean = self.mean + delta * other.n / n
            m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        values: dict[float, int] | None = None
        if self.values is not None and other.values is not None:
            values = dict(self.values)
            for key, count in other.values.items():
                values[key] = values.get(key, 0) + count
            if len(values) > DISCRETE_LIMIT:
                values = None
        return NumericSketch(
            edges=self.edges,
            counts=self.counts + other.counts,
            n=n,
            missing=self.missing + other.missing,
            infinite=self.infinite + other.infinite,
            mean=mean,
            m2=m2,
            min=float(np.fmin(self.min, other.min)),
            max=float(np.fmax(self.max, other.max)),
            below=self.below + other.below,
            above=self.above + other.above,
            values=values,
        )


@dataclass
class CategoricalSketch:
    """One categorical column: value counts (as text), the rest pooled in ``other``."""

    counts: dict[str, int]
    other: int = 0
    missing: int = 0
    kind: str = field(default="categorical", init=False)

    @property
    def n(self) -> int:
        return sum(self.counts.values()) + self.other

    @property
    def rows(self) -> int:
        return self.n + self.missing

    def merge(self, other: CategoricalSketch) -> CategoricalSketch:
        counts = dict(self.counts)
        for key, count in other.counts.items():
            counts[key] = counts.get(key, 0) + count
        kept, pooled = _keep_top(counts)
        return CategoricalSketch(
            kept, self.other + other.other + pooled, self.missing + other.missing
        )


Sketch = NumericSketch | CategoricalSketch


def _keep_top(counts: dict[str, int]) -> tuple[dict[str, int], int]:
    if len(counts) <= CATEGORY_LIMIT:
        return counts, 0
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ordered[:CATEGORY_LIMIT])
    return kept, sum(count for _, count in ordered[CATEGORY_LIMIT:])


# The shares of the data below each edge: evenly spaced, and finer in both tails, where a
# fine bin of 1/1000 of the rows would span a wide range thinly (binned statistics over
# equal-width bins read the tails' shape from here).
_TAIL: Final = np.array([1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 2e-4, 4e-4, 6e-4, 8e-4])
_EDGE_SHARES: Final = np.unique(
    np.concatenate([np.linspace(0.0, 1.0, FINE_BINS + 1), _TAIL, 1.0 - _TAIL])
)


def _edges_of(finite: np.ndarray) -> np.ndarray:
    """Up to ``FINE_BINS + 1`` distinct edges at the data's quantiles (values of the data
    itself, so a column of few distinct values gets one edge per value)."""
    if finite.size == 0:
        return np.zeros(1)
    return np.unique(np.quantile(finite, _EDGE_SHARES, method="inverted_cdf"))


# bin_positions: grid cells per edge, and the most one-step passes worth making.
_CELLS_PER_EDGE: Final = 4
_MAX_STEPS: Final = 6


def bin_positions(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, values, side="left")`` (how many edges lie below each
    value), two to three times faster for a table's worth of values.

    A binary search costs a chain of dependent, unpredictable comparisons per value. Here a
    uniform grid over the edges' range first gives each value a lower bound (how many edges
    lie below the cell before its own, from a table built with one small search); then each
    vectorised pass moves every value up one edge while its edge is still below it. Quantile
    edges put few edges in any cell, so a few passes settle every value; edges crowded in a
    heavy tail would need many, and then the binary search runs instead.
    """
    count = edges.size
    if count < 8 or values.size < 4 * count:
        return np.searchsorted(edges, values, side="left")
    low, high = float(edges[0]), float(edges[-1])
    cells = _CELLS_PER_EDGE * count
    width = (high - low) / cells
    if not (width > 0 and np.isfinite(width)):
        return np.searchsorted(edges, values, side="left")
    starts = np.searchsorted(edges, low + width * np.arange(cells + 1), side="left")
    per_cell = np.diff(starts)
    # A value may sit past every edge of its own cell and of the cell before (rounding of
    # its cell), plus one step to find that it has arrived.
    steps = int((per_cell[1:] + per_cell[:-1]).max()) + 1 if cells > 1 else count
    if steps > _MAX_STEPS:
        return np.searchsorted(edges, values, side="left")
    lower = np.concatenate([[0], starts[:-2]])  # edges below the previous cell's start
    cell = np.clip((values - low) / width, 0, cells - 1).astype(np.int64)
    positions = lower[cell]
    stops = np.append(edges, np.inf)
    for _ in range(steps + 1):
        positions += values > stops[positions]
    return positions


def sketch_numeric(values: np.ndarray, like: NumericSketch | None = None) -> NumericSketch:
    """The sketch of float64 ``values`` (NaN: missing), on ``like``'s edges when given."""
    finite_mask = np.isfinite(values)
    nan = int(np.isnan(values).sum())
    finite = values if finite_mask.all() else values[finite_mask]
    edges = like.edges if like is not None else _edges_of(finite)
    sketch = NumericSketch(
        edges=edges,
        counts=np.zeros(edges.size + 1, dtype=np.int64),
        missing=nan,
        infinite=int(values.size - finite.size - nan),
    )
    if finite.size == 0:
        return sketch
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(finite.mean())
        deviations = finite - mean
        sketch.m2 = float(np.dot(deviations, deviations))
    sketch.n, sketch.mean = int(finite.size), mean
    sketch.min, sketch.max = float(finite.min()), float(finite.max())
    positions = bin_positions(edges, finite)
    sketch.counts = np.bincount(positions, minlength=edges.size + 1).astype(np.int64)
    if sketch.min < edges[0]:
        low = finite[finite < edges[0]]
        sketch.below = float((edges[0] - low).sum())
    if sketch.max > edges[-1]:
        high = finite[finite > edges[-1]]
        sketch.above = float((high - edges[-1]).sum())
    # Few distinct edges mean few distinct values (the edges are values): count each one.
    discrete = like.values is not None if like is not None else edges.size <= DISCRETE_LIMIT
    if discrete:
        distinct, counts = np.unique(finite, return_counts=True)
        if distinct.size <= DISCRETE_LIMIT:
            sketch.values = {float(v): int(c) for v, c in zip(distinct, counts, strict=True)}
    return sketch


def _categorical(series: pd.Series) -> CategoricalSketch:
    missing = int(series.isna().sum())
    try:
        counted = series.value_counts(dropna=True, sort=False)
    except TypeError:  # unhashable values (lists, dicts): counted by their text
        counted = series.dropna().map(str).value_counts(sort=False)
    counts: dict[str, int] = {}
    for value, count in counted.items():
        if count:
            key = str(value)
            counts[key] = counts.get(key, 0) + int(count)
    kept, pooled = _keep_top(counts)
    return CategoricalSketch(kept, pooled, missing)


def numeric_values(series: pd.Series) -> tuple[np.ndarray, int]:
    """A column as float64, and how many present values are not numbers (text in a numeric
    column: a type error, counted, and treated as missing)."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), 0
    coerced = pd.to_numeric(series, errors="coerce")
    bad = int((coerced.isna() & series.notna()).sum())
    return coerced.to_numpy(dtype=np.float64, na_value=np.nan), bad


def sketch_column(series: pd.Series, like: Sketch | None = None) -> Sketch:
    """The sketch of one column; ``like``: a sketch whose kind and edges to use."""
    if like is None:
        kind = "numeric" if column_kind(series.dtype) == "numeric" else "categorical"
    else:
        kind = like.kind
    if kind == "numeric":
        values, _ = numeric_values(series)
        return sketch_numeric(values, like if isinstance(like, NumericSketch) else None)
    if pd.api.types.is_float_dtype(series.dtype):
        # Whole numbers read back as floats (1.0) are the categories they were (1).
        as_int = series.dropna()
        if (as_int == np.floor(as_int)).all():
            series = series.astype("Int64")
    return _categorical(series)


def sketch_table(
    obj: Any, like: Mapping[str, Sketch] | None = None
) -> tuple[int, dict[str, Sketch]]:
    """(rows, {column: sketch}) for a table (any kind :func:`profile.table_columns` reads).
    With ``like``, only its columns are sketched, each like its counterpart; columns of
    ``like`` missing from the table are left out (the caller reports them)."""
    rows, _, items = table_columns(obj)
    sketches: dict[str, Sketch] = {}
    for name, series in items:
        if like is not None and name not in like:
            continue
        sketches[name] = sketch_column(series, like[name] if like is not None else None)
    return rows, sketches


# -- JSON ---------------------------------------------------------------------------------------


def to_dict(sketch: Sketch) -> dict[str, Any]:
    if isinstance(sketch, CategoricalSketch):
        return {
            "kind": "categorical",
            "counts": sketch.counts,
            "other": sketch.other,
            "missing": sketch.missing,
        }
    return {
        "kind": "numeric",
        "edges": sketch.edges.tolist(),
        "counts": sketch.counts.tolist(),
        "n": sketch.n,
        "missing": sketch.missing,
        "infinite": sketch.infinite,
        "mean": _finite(sketch.mean),
        "m2": _finite(sketch.m2),
        "min": _finite(sketch.min),
        "max": _finite(sketch.max),
        "below": _finite(sketch.below),
        "above": _finite(sketch.above),
        "values": None
        if sketch.values is None
        else [[value, count] for value, count in sketch.values.items()],
    }


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def from_dict(data: Mapping[str, Any]) -> Sketch:
    if data["kind"] == "categorical":
        return CategoricalSketch(
            {str(k): int(v) for k, v in data["counts"].items()},
            int(data["other"]),
            int(data["missing"]),
        )
    values = data.get("values")
    return NumericSketch(
        edges=np.asarray(data["edges"], dtype=np.float64),
        counts=np.asarray(data["counts"], dtype=np.int64),
        n=int(data["n"]),
        missing=int(data["missing"]),
        infinite=int(data["infinite"]),
        mean=_number(data["mean"]),
        m2=_number(data["m2"]),
        min=_number(data["min"]),
        max=_number(data["max"]),
        below=_number(data["below"]) if data["below"] is not None else 0.0,
        above=_number(data["above"]) if data["above"] is not None else 0.0,
        values=None if values is None else {float(v): int(c) for v, c in values},
    )
