"""Drift of one column: a window of traffic against the reference's sketch.

Each method compares the reference, known only through its sketch (a fine histogram on
quantile edges, exact at the edges), with the window's values:

- ``ks``: two-sample Kolmogorov–Smirnov; the statistic is the largest CDF gap over the
  reference's edges (below the truth by at most one fine bin's share), its p-value
  scipy's asymptotic one (``kstwo`` at ``n·m/(n+m)``, as ``ks_2samp`` computes it for
  large samples).
- ``wasserstein``: the earth mover's distance divided by the reference's standard deviation
  (at least 0.001), integrating the gap between the two CDFs, each linear within a fine bin;
  the parts below the reference's minimum and above its maximum are exact.
- ``jensenshannon`` and ``psi``: over Sturges' equal-width bins spanning both samples for a
  numeric column of more than 20 distinct values, else per value (as Evidently bins them),
  the reference's share of each bin read from its CDF; for ``psi`` empty bins get a tiny
  share so logarithms stay finite.
- ``chisquare``: Pearson's test of the window's category counts against the reference's
  shares.
- ``z``: the two-proportion z-test, for a column of two values.

The default method follows Evidently's rule on the smaller of the two samples: a p-value
test up to 1,000 rows (``ks`` for a numeric column of more than five values, else
``chisquare``, or ``z`` for two values), a distance above (``wasserstein`` or
``jensenshannon``). P-values across a table's columns are corrected for multiple testing
(Benjamini–Hochberg) before they are compared with the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np

from ..client.monitor_config import DEFAULT_THRESHOLDS, METHODS, P_VALUE_METHODS
from ..data.sketch import CategoricalSketch, NumericSketch, Sketch

__all__ = [
    "ColumnDrift",
    "benjamini_hochberg",
    "column_drift",
    "default_method",
    "distinct_values",
    "p_drifted",
]

SMALL_SAMPLE: Final = 1000
# Methods that compare numbers' positions; the others compare shares of values.
NUMERIC_ONLY: Final = frozenset({"ks", "wasserstein"})
# Numeric columns of more distinct values are binned (Sturges) for jensenshannon and psi.
BINNED_ABOVE: Final = 20
MIN_NORM: Final = 0.001  # a constant reference column divides by this, not by zero
# Up to this many values, KS and Wasserstein also use each value of the window itself.
EXACT_WINDOW: Final = 20_000


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str  # numeric | categorical
    method: str
    threshold: float
    statistic: float | None = None  # the test statistic, or the distance
    p_value: float | None = None  # p-value methods only, before correction
    score: float | None = None  # what is compared with the threshold (corrected p, distance)
    drifted: bool = False
    reference_rows: int = 0
    current_rows: int = 0
    note: str | None = None  # why no score was computed

    @property
    def is_p_value(self) -> bool:
        return self.method in P_VALUE_METHODS

    @property
    def relative(self) -> float | None:
        """How far past its threshold the column is: 1 at the threshold, above 1 drifted. A
        p-value compares on a log scale (p = threshold² reads 2); None without a score."""
        score, limit = self.score, self.threshold
        if score is None:
            return None
        if self.is_p_value:
            if not 0 < limit < 1:
                return None
            return math.log(max(score, 1e-300)) / math.log(limit)
        return score / limit if limit > 0 else None

    def to_dict(self) -> dict[str, Any]:
        def finite(value: float | None) -> float | None:
            return value if value is not None and math.isfinite(value) else None

        return {
            "column": self.column,
            "kind": self.kind,
            "method": self.method,
            "threshold": self.threshold,
            "statistic": finite(self.statistic),
            "p_value": finite(self.p_value),
            "score": finite(self.score),
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "note": self.note,
        }


# -- shares -------------------------------------------------------------------------------


def _value_counts(sketch: Sketch) -> tuple[dict[Any, int], int]:
    """(counts per value, pooled rest) of a categorical or discrete numeric sketch."""
    if isinstance(sketch, CategoricalSketch):
        return sketch.counts, sketch.other
    if sketch.values is None:
        raise ValueError("a numeric sketch of many distinct values has no value counts")
    return sketch.values, 0


def distinct_values(reference: Sketch, current: Sketch) -> int:
    """Distinct values in both samples; a numeric sketch without value counts has more than
    any limit the rule uses."""
    if isinstance(reference, NumericSketch) and (
        reference.values is None or not isinstance(current, NumericSketch) or current.values is None
    ):
        return 1_000_000
    ref, ref_other = _value_counts(reference)
    cur, _ = _value_counts(current)
    return len(ref.keys() | cur.keys()) + (1 if ref_other else 0)


def _category_counts(reference: Sketch, current: Sketch) -> tuple[np.ndarray, np.ndarray]:
    """Counts over the union of values. When the reference pooled rare values as "other",
    the window's values it does not list are pooled the same way."""
    ref, ref_other = _value_counts(reference)
    cur, cur_other = _value_counts(current)
    keys = list(ref.keys())
    pooled = cur_other
    new = []
    for key, count in cur.items():
        if key not in ref:
            if ref_other:
                pooled += count
            else:
                new.append(key)
    keys += new
    ref_counts = [ref.get(k, 0) for k in keys]
    cur_counts = [cur.get(k, 0) for k in keys]
    if ref_other or pooled:
        ref_counts.append(ref_other)
        cur_counts.append(pooled)
    return np.asarray(ref_counts, dtype=np.float64), np.asarray(cur_counts, dtype=np.float64)


def _sturges_shares(reference: NumericSketch, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples' shares over Sturges' equal-width bins spanning both."""
    total = reference.n + values.size
    bins = max(1, math.ceil(math.log2(total) + 1))
    low = min(reference.min, float(values.min()))
    high = max(reference.max, float(values.max()))
    if not high > low:
        return np.ones(1), np.ones(1)
    edges = np.linspace(low, high, bins + 1)
    ref_cdf = reference.cdf(edges)
    ref_cdf[-1] = 1.0
    ref_share = np.diff(np.concatenate([[0.0], ref_cdf[1:]]))
    cur_share = np.histogram(values, edges)[0] / values.size
    return ref_share, cur_share


def _fill_zeros(shares: np.ndarray) -> np.ndarray:
    """Empty bins get a share far below any real one, so logarithms and ratios stay finite."""
    nonzero = shares[shares > 0]
    if nonzero.size == 0:
        return np.full_like(shares, 1.0 / max(shares.size, 1))
    smallest = float(nonzero.min())
    tiny = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    return np.where(shares == 0, tiny, shares)


def _shares(
    reference: Sketch, current: Sketch, values: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Both samples' shares: over Sturges' bins for a numeric column of more than
    ``BINNED_ABOVE`` distinct values, else per value."""
    if isinstance(reference, NumericSketch) and (
        reference.values is None or len(reference.values) > BINNED_ABOVE
    ):
        assert values is not None
        return _sturges_shares(reference, values)
    ref_counts, cur_counts = _category_counts(reference, current)
    return ref_counts / max(ref_counts.sum(), 1), cur_counts / max(cur_counts.sum(), 1)


# -- methods ------------------------------------------------------------------------------


def _ks(
    reference: NumericSketch, current: NumericSketch, values: np.ndarray | None
) -> tuple[float, float]:
    gap = float(np.abs(reference.cdf_at_edges() - current.cdf_at_edges()).max())
    if values is not None and current.min < reference.edges[0]:
        # Just below the reference's minimum its CDF is 0 while the window's is not.
        gap = max(gap, float((values < reference.edges[0]).sum()) / current.n)
    if values is not None and values.size <= EXACT_WINDOW:
        # A small window: also at each of its own values, on both sides of the step.
        ordered = np.sort(values)
        ref_cdf = reference.cdf(ordered)
        steps = np.arange(1, ordered.size + 1) / ordered.size
        gap = max(
            gap,
            float(np.abs(ref_cdf - steps).max()),
            float(np.abs(ref_cdf - steps + 1 / ordered.size).max()),
        )
    n, m = float(reference.n), float(current.n)
    effective = round(n * m / (n + m))
    from scipy.stats import kstwo  # only when a column is tested this way

    return gap, float(kstwo.sf(gap, effective))


def _integral_of_gap(points: np.ndarray, gap: np.ndarray) -> float:
    """The integral of |gap| over ``points``, ``gap`` linear between them."""
    width = np.diff(points)
    left, right = gap[:-1], gap[1:]
    absolute = np.abs(left) + np.abs(right)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = np.where(absolute > 0, (left * left + right * right) / (2 * absolute), 0.0)
    return float(np.sum(width * np.where(left * right >= 0, absolute / 2, crossing)))


def _wasserstein(
    reference: NumericSketch, current: NumericSketch, values: np.ndarray | None
) -> tuple[float, float]:
    if values is not None and values.size <= EXACT_WINDOW:
        # A small window's CDF is a staircase: integrate it step by step against the
        # reference's (linear between its edges), from the lowest to the highest value.
        ordered = np.sort(values)
        points = np.union1d(reference.edges, ordered)
        window_cdf = np.searchsorted(ordered, points, side="right") / ordered.size
        # Between two points the window's CDF is flat at its left value: split each
        # segment at its right end so the step is vertical.
        xs = np.repeat(points, 2)[1:]
        ys = np.repeat(window_cdf, 2)[:-1]
        gap = reference.cdf(xs) - ys
        distance = _integral_of_gap(xs, gap)
    else:
        gap = reference.cdf_at_edges() - current.cdf_at_edges()
        inside = _integral_of_gap(reference.edges, gap)
        distance = inside + (current.below + current.above) / current.n
    return distance, distance / max(reference.std, MIN_NORM)


def _jensenshannon(
    reference: Sketch, current: Sketch, values: np.ndarray | None
) -> tuple[float, float]:
    p, q = _shares(reference, current, values)
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2
    # Empty bins count for nothing (0 · log 0 = 0): no smoothing, as scipy and Evidently.
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / mid), 0.0)
        right = np.where(q > 0, q * np.log(q / mid), 0.0)
    divergence = (float(left.sum()) + float(right.sum())) / 2
    distance = math.sqrt(max(float(divergence), 0.0))
    return distance, distance


def _psi(reference: Sketch, current: Sketch, values: np.ndarray | None) -> tuple[float, float]:
    p, q = _shares(reference, current, values)
    p, q = _fill_zeros(p), _fill_zeros(q)
    index = float(np.sum((p - q) * np.log(p / q)))
    return index, index


def _chisquare(
    reference: Sketch, current: Sketch, _values: np.ndarray | None
) -> tuple[float, float]:
    from scipy.special import chdtrc

    ref_counts, cur_counts = _category_counts(reference, current)
    expected = ref_counts / max(ref_counts.sum(), 1) * cur_counts.sum()
    observed = cur_counts
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(
            expected > 0, (observed - expected) ** 2 / expected, np.where(observed > 0, np.inf, 0.0)
        )
    statistic = float(terms.sum())
    dof = max(len(observed) - 1, 1)
    return statistic, float(chdtrc(dof, statistic))


def _z(reference: Sketch, current: Sketch, _values: np.ndarray | None) -> tuple[float, float]:
    ref_counts, cur_counts = _category_counts(reference, current)
    n, m = ref_counts.sum(), cur_counts.sum()
    p1, p2 = ref_counts[0] / n, cur_counts[0] / m
    pooled = (ref_counts[0] + cur_counts[0]) / (n + m)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
    if spread == 0:
        return 0.0, 1.0
    z = (p1 - p2) / spread
    return z, math.erfc(abs(z) / math.sqrt(2))


_FUNCTIONS: Final[Mapping[str, Callable[..., tuple[float, float]]]] = {
    "ks": _ks,
    "wasserstein": _wasserstein,
    "jensenshannon": _jensenshannon,
    "psi": _psi,
    "chisquare": _chisquare,
    "z": _z,
}


def default_method(kind: str, distinct: int, reference_rows: int, current_rows: int) -> str:
    if min(reference_rows, current_rows) <= SMALL_SAMPLE:
        if kind == "numeric" and distinct > 5:
            return "ks"
        return "chisquare" if distinct > 2 else "z"
    return "wasserstein" if kind == "numeric" and distinct > 5 else "jensenshannon"


def column_drift(
    column: str,
    reference: Sketch,
    current: Sketch,
    values: np.ndarray | None,
    method: str | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> ColumnDrift:
    """Compare one column. ``values``: the window's finite values of a numeric column (the
    binned methods and the exact tails need them); ``method`` and ``threshold`` default by
    the column's kind and the samples' sizes. A p-value is judged here uncorrected; a table
    corrects its p-values with :func:`benjamini_hochberg` and judges again."""
    ref_rows, cur_rows = reference.n, current.n
    distinct = distinct_values(reference, current)
    chosen = method or default_method(reference.kind, distinct, ref_rows, cur_rows)
    if chosen not in METHODS:
        raise ValueError(f"unknown drift method {chosen!r}; known: {', '.join(sorted(METHODS))}")
    limit = (thresholds or DEFAULT_THRESHOLDS).get(chosen, DEFAULT_THRESHOLDS[chosen])
    base = ColumnDrift(
        column, reference.kind, chosen, limit, reference_rows=ref_rows, current_rows=cur_rows
    )
    note = None
    if ref_rows == 0:
        note = "the reference has no values in this column"
    elif cur_rows == 0:
        note = "the window has no values in this column"
    elif chosen in NUMERIC_ONLY and not isinstance(reference, NumericSketch):
        note = f"{chosen} compares numbers; this column is categorical"
    elif chosen == "z" and distinct > 2:
        note = "the z-test compares two values; this column has more"
    elif (
        chosen in ("chisquare", "z")
        and isinstance(reference, NumericSketch)
        and reference.values is None
    ):
        note = f"{chosen} compares values; this column has too many distinct values"
    if note is not None:
        return replace(base, note=note)
    statistic, result = _FUNCTIONS[chosen](reference, current, values)
    if chosen in P_VALUE_METHODS:
        return replace(
            base,
            statistic=statistic,
            p_value=result,
            score=result,
            drifted=p_drifted(chosen, result, limit),
        )
    return replace(base, statistic=statistic, score=result, drifted=result >= limit)


def p_drifted(method: str, p_value: float, threshold: float) -> bool:
    """A p-value test's verdict: KS at or below the threshold, the others below it (as
    Evidently judges them)."""
    return p_value <= threshold if method == "ks" else p_value < threshold


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (the false discovery rate at which each test
    would just be rejected), in the input's order."""
    p = np.asarray(p_values, dtype=np.float64)
    count = p.size
    if count == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * count / np.arange(1, count + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty_like(p)
    result[order] = np.minimum(adjusted, 1.0)
    return result
