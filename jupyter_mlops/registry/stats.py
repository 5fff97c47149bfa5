"""The numbers behind the gates: metrics on a holdout, the paired bootstrap of a metric
difference, and fairness gaps, vectorised with numpy.

Every metric is written as a function of row weights ``W`` (one row of weights per resample):
the point estimate is ``W = 1``; a bootstrap resample is a row of counts (how often each row
was drawn). One matrix product per resample chunk then gives every resample's metric, and the
same ``W`` applied to two models gives the *paired* difference, which is what tells a real
regression from the noise of one holdout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

# Resample rows per chunk x holdout rows, kept under this many weights (~40 MB of float64).
_CHUNK_CELLS = 5_000_000


@dataclass
class Predictions:
    """One model's outputs on the holdout, with the labels they are judged against."""

    y: np.ndarray
    pred: np.ndarray
    proba: np.ndarray | None  # (rows, classes) for a classifier with predict_proba
    classes: np.ndarray | None
    positive: Any  # the positive class of a binary task (None: macro over classes)


def infer_positive(y: np.ndarray, configured: Any) -> Any:
    """The positive class: the configured one, else 1 / True of a binary 0-1 or bool label."""
    if configured is not None:
        return configured
    labels = set(np.unique(y).tolist())
    if len(labels) <= 2:
        for candidate in (True, 1, "1", "yes", "true"):
            if candidate in labels:
                return candidate
        return max(labels, key=str) if labels else None
    return None


def is_classifier(y: np.ndarray, pred: np.ndarray, classes: np.ndarray | None) -> bool:
    if classes is not None:
        return True
    if pred.dtype.kind in "OUSb" or y.dtype.kind in "OUSb":
        return True
    if pred.dtype.kind in "iu":
        return True
    return bool(np.all(np.equal(np.mod(pred, 1), 0)) and np.unique(y).size <= 50)


def _dot(W: np.ndarray, values: np.ndarray) -> np.ndarray:
    return W @ values.astype(float)


def _auc(W: np.ndarray, scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Weighted ROC AUC of each row of weights, ties counted half (the Mann-Whitney U)."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    pos = positive[order].astype(float)
    Wo = W[:, order]
    group_pos = np.add.reduceat(Wo * pos, starts, axis=1)
    group_neg = np.add.reduceat(Wo * (1.0 - pos), starts, axis=1)
    neg_before = np.cumsum(group_neg, axis=1) - group_neg
    wins = (group_pos * (neg_before + 0.5 * group_neg)).sum(axis=1)
    pairs = group_pos.sum(axis=1) * group_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / pairs, np.nan)


def _class_counts(W: np.ndarray, p: Predictions, label: Any) -> tuple[np.ndarray, ...]:
    truth, said = p.y == label, p.pred == label
    return _dot(W, truth & said), _dot(W, ~truth & said), _dot(W, truth & ~said)


def _prf(W: np.ndarray, p: Predictions, which: str) -> np.ndarray:
    labels = [p.positive] if p.positive is not None else np.unique(p.y).tolist()
    scores = []
    for label in labels:
        tp, fp, fn = _class_counts(W, p, label)
        with np.errstate(invalid="ignore", divide="ignore"):
            if which == "precision":
                value = tp / (tp + fp)
            elif which == "recall":
                value = tp / (tp + fn)
            else:
                value = 2 * tp / (2 * tp + fp + fn)
        scores.append(np.nan_to_num(value, nan=0.0))
    return np.mean(scores, axis=0)


def _proba_of(p: Predictions, label: Any) -> np.ndarray | None:
    if p.proba is None or p.classes is None:
        return None
    where = np.flatnonzero(p.classes == label)
    return None if where.size == 0 else p.proba[:, int(where[0])]


def metric(name: str, W: np.ndarray, p: Predictions) -> np.ndarray:
    """``name`` for each row of weights ``W`` (shape ``(resamples, rows)``)."""
    total = W.sum(axis=1)
    if name == "accuracy":
        return _dot(W, p.y == p.pred) / total
    if name in ("precision", "recall", "f1"):
        return _prf(W, p, name)
    if name == "roc_auc":
        labels = [p.positive] if p.positive is not None else np.unique(p.y).tolist()
        aucs = []
        for label in labels:
            scores = _proba_of(p, label)
            if scores is None:
                raise ValueError("roc_auc needs predict_proba and the model's classes")
            aucs.append(_auc(W, scores, p.y == label))
        return np.mean(aucs, axis=0)
    if name == "log_loss":
        if p.proba is None or p.classes is None:
            raise ValueError("log_loss needs predict_proba and the model's classes")
        index = {c: i for i, c in enumerate(p.classes.tolist())}
        rows = np.array([index.get(v, -1) for v in p.y.tolist()])
        picked = np.where(rows >= 0, p.proba[np.arange(len(rows)), np.maximum(rows, 0)], 0.0)
        losses = -np.log(np.clip(picked, 1e-15, 1.0))
        return _dot(W, losses) / total
    err = p.pred.astype(float) - p.y.astype(float)
    if name == "mae":
        return _dot(W, np.abs(err)) / total
    if name == "rmse":
        return np.sqrt(_dot(W, err * err) / total)
    if name == "r2":
        y = p.y.astype(float)
        ss_res = _dot(W, err * err)
        ss_tot = _dot(W, y * y) - _dot(W, y) ** 2 / total
        with np.errstate(invalid="ignore", divide="ignore"):
            return 1.0 - ss_res / ss_tot
    raise ValueError(f"unknown metric {name!r}")


def point(name: str, p: Predictions) -> float:
    return float(metric(name, np.ones((1, len(p.y))), p)[0])


def bootstrap_weights(rows: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Chunks of multinomial bootstrap counts: each row says how often each holdout row was
    drawn in one resample of ``rows`` draws with replacement."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, _CHUNK_CELLS // max(rows, 1)))
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        draws = rng.integers(0, rows, size=(size, rows)) + (np.arange(size) * rows)[:, None]
        yield np.bincount(draws.ravel(), minlength=size * rows).reshape(size, rows).astype(float)
        done += size


@dataclass
class Difference:
    """A paired bootstrap of ``metric(challenger) - metric(champion)``."""

    challenger: float
    champion: float
    diff: float
    low: float
    high: float
    resamples: int


def paired_difference(
    name: str, challenger: Predictions, champion: Predictions, resamples: int, confidence: float
) -> Difference:
    """The metric difference and its percentile bootstrap interval at ``confidence``."""
    rows = len(challenger.y)
    diffs = [
        metric(name, W, challenger) - metric(name, W, champion)
        for W in bootstrap_weights(rows, resamples, seed=rows)
    ]
    values = np.concatenate(diffs)
    values = values[np.isfinite(values)]
    alpha = (1.0 - confidence) / 2
    a, b = point(name, challenger), point(name, champion)
    low, high = (
        (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))
        if values.size
        else (float("nan"), float("nan"))
    )
    return Difference(a, b, a - b, low, high, int(values.size))


def group_rates(
    groups: np.ndarray, p: Predictions, metric_name: str
) -> dict[str, tuple[float, int]]:
    """Per group: the share of positive predictions (demographic parity) or the true
    positive rate (equal opportunity), with the rows it is computed on."""
    said = p.pred == p.positive
    out: dict[str, tuple[float, int]] = {}
    for group in np.unique(groups.astype(str)):
        rows = groups.astype(str) == group
        if metric_name == "equal_opportunity":
            rows = rows & (p.y == p.positive)
        n = int(rows.sum())
        out[str(group)] = (float(said[rows].mean()) if n else float("nan"), n)
    return out
