"""Downsampling long metric histories for charts without losing their extremes."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np


def minmax_downsample(values: Any, max_points: int) -> Any:
    """Indices of at most ~``max_points`` points: per bucket the first, the min and the max.

    Plain striding would drop a one-step spike in a loss curve; keeping each bucket's
    extremes keeps the curve's envelope, which is what a reader of the chart looks for.
    NaN values are kept visible through the bucket's first point.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 3)
    edges = np.linspace(0, n, buckets + 1, dtype=np.int64)
    keep: list[Any] = []
    for start, stop in itertools.pairwise(edges.tolist()):
        if stop <= start:
            continue
        chunk = values[start:stop]
        keep.append(start)
        if np.isnan(chunk).all():
            continue
        keep.append(start + int(np.nanargmin(chunk)))
        keep.append(start + int(np.nanargmax(chunk)))
    keep.append(n - 1)  # the last value is the one people read off the chart
    return np.unique(np.asarray(keep, dtype=np.int64))
