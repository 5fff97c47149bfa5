"""Model quality per window: realised from labels, estimated from scores before labels come.

Realised: accuracy, F1 (the positive class of a binary model, else the mean over classes)
and ROC AUC (from the scores, by ranks) for a classifier; RMSE and MAE for a regressor.

Estimated (confidence-based performance estimation, as NannyML's CBPE does): the model's
score for each class is first calibrated — a map from score to the share of rows of that
score that truly were of the class, learnt where labels were known (the reference) and made
monotone (pool-adjacent-violators over score bins). A calibrated score is then the chance
that the row is of that class, so the expected confusion matrix of a window is the sum of
those chances, with no label needed: expected accuracy is the mean calibrated score of the
predicted class; expected F1 comes from the expected true positives, false positives and
false negatives. It holds while the relation of features to labels stays the same (covariate
shift), which is what drift in the inputs usually is.

Everything is numpy; neither scikit-learn's metrics nor scipy are imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

__all__ = [
    "SCORE_BINS",
    "Calibration",
    "as_text",
    "classification_quality",
    "estimated_quality",
    "regression_quality",
    "roc_auc",
]

SCORE_BINS: Final = 20


@dataclass
class Calibration:
    """Per class, over ``SCORE_BINS`` equal bins of the score in [0, 1]: how many rows had a
    score in the bin, and how many of them were of the class. Mergeable: sums."""

    counts: np.ndarray  # (classes, bins)
    positives: np.ndarray  # (classes, bins)

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray, classes: list[Any]) -> Calibration:
        """From scores (rows × classes, in ``classes`` order) and the true labels."""
        scores = np.asarray(scores, dtype=np.float64)
        bins = _bin_of(scores)
        counts = np.zeros((len(classes), SCORE_BINS), dtype=np.int64)
        positives = np.zeros_like(counts)
        truth = as_text(labels)
        for j, klass in enumerate(classes):
            is_class = truth == str(klass)
            counts[j] = np.bincount(bins[:, j], minlength=SCORE_BINS)
            positives[j] = np.bincount(bins[:, j], weights=is_class, minlength=SCORE_BINS)
        return cls(counts, positives)

    def merge(self, other: Calibration) -> Calibration:
        return Calibration(self.counts + other.counts, self.positives + other.positives)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated scores (rows × classes); rows sum to 1 when there are several classes."""
        scores = np.asarray(scores, dtype=np.float64)
        result = np.empty_like(scores)
        centres = (np.arange(SCORE_BINS) + 0.5) / SCORE_BINS
        for j in range(scores.shape[1]):
            seen = self.counts[j] > 0
            if not seen.any():
                result[:, j] = scores[:, j]
                continue
            rate = _monotone(self.positives[j][seen] / self.counts[j][seen], self.counts[j][seen])
            # Bin centres carry the calibrated rate; between them it is interpolated, and a
            # score outside the seen bins takes the nearest seen bin's rate.
            result[:, j] = np.interp(scores[:, j], centres[seen], rate)
        if scores.shape[1] > 1:
            total = result.sum(axis=1, keepdims=True)
            result = np.divide(
                result, total, out=np.full_like(result, 1 / scores.shape[1]), where=total > 0
            )
        return result

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts.tolist(), "positives": self.positives.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            np.asarray(data["counts"], dtype=np.int64),
            np.asarray(data["positives"], dtype=np.float64),
        )


def _bin_of(scores: np.ndarray) -> np.ndarray:
    return np.clip((np.nan_to_num(scores) * SCORE_BINS).astype(np.int64), 0, SCORE_BINS - 1)


def _monotone(rate: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Pool adjacent violators: the closest non-decreasing sequence (weighted least squares)."""
    values: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for r, w in zip(rate.tolist(), weight.tolist(), strict=True):
        values.append(r)
        weights.append(w)
        sizes.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            w2 = weights[-2] + weights[-1]
            v2 = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w2
            s2 = sizes[-2] + sizes[-1]
            del values[-1], weights[-1], sizes[-1]
            values[-1], weights[-1], sizes[-1] = v2, w2, s2
    return np.repeat(values, sizes)


def as_text(values: Any) -> np.ndarray:
    """Labels compared as text, so 1, 1.0 and "1" are one class (labels arrive as JSON);
    vectorised for the arrays a window holds (whole numbers, text), a loop otherwise."""
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        return array.astype(np.int64 if array.dtype.kind != "b" else bool).astype(str)
    if array.dtype.kind == "f" and np.all(np.isfinite(array) & (array == np.floor(array))):
        return array.astype(np.int64).astype(str)
    if array.dtype.kind in "US":
        return array.astype(str)
    out = []
    for value in array.tolist():
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out.append("" if value is None else str(value))
    return np.asarray(out, dtype=str)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def roc_auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve by ranks (Mann–Whitney), ties counted as half; None when
    only one class is present."""
    truth = np.asarray(truth, dtype=bool)
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    ordered = np.asarray(score)[order]
    ranks = np.empty(truth.size, dtype=np.float64)
    # Average rank of each run of equal scores.
    _, starts, counts = np.unique(ordered, return_index=True, return_counts=True)
    average = starts + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    rank_sum = float(ranks[truth].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(
        2 * tp, denominator, out=np.zeros_like(denominator, dtype=np.float64), where=denominator > 0
    )


def _f1_of(classes: list[str], tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    """The positive class's F1 for two classes (the second, as scikit-learn orders them);
    the unweighted mean over classes otherwise."""
    scores = _f1(tp, fp, fn)
    return float(scores[1]) if len(classes) == 2 else float(scores.mean())


def classification_quality(
    truth: Any, predicted: Any, classes: list[Any], scores: np.ndarray | None = None
) -> dict[str, Any]:
    """accuracy, f1 and roc_auc (None without scores) of labelled rows."""
    names = [str(c) for c in classes]
    truth_text, predicted_text = as_text(truth), as_text(predicted)
    rows = truth_text.size
    if rows == 0:
        return {"rows": 0, "accuracy": None, "f1": None, "roc_auc": None}
    tp = np.array([np.sum((predicted_text == c) & (truth_text == c)) for c in names], dtype=float)
    fp = np.array([np.sum((predicted_text == c) & (truth_text != c)) for c in names], dtype=float)
    fn = np.array([np.sum((predicted_text != c) & (truth_text == c)) for c in names], dtype=float)
    auc: float | None = None
    if scores is not None and len(names) >= 2:
        if len(names) == 2:
            auc = roc_auc(truth_text == names[1], scores[:, 1])
        else:
            per_class = [roc_auc(truth_text == c, scores[:, j]) for j, c in enumerate(names)]
            known = [a for a in per_class if a is not None]
            auc = float(np.mean(known)) if known else None
    return {
        "rows": rows,
        "accuracy": float(np.mean(truth_text == predicted_text)),
        "f1": _f1_of(names, tp, fp, fn),
        "roc_auc": auc,
    }


def regression_quality(truth: Any, predicted: Any) -> dict[str, Any]:
    """rmse and mae of labelled rows (labels that are not numbers are left out)."""
    y = np.asarray(truth, dtype=object)
    keep = np.array([isinstance(v, int | float) and not isinstance(v, bool) for v in y.tolist()])
    y_true = np.asarray(y[keep], dtype=np.float64) if keep.any() else np.empty(0)
    y_pred = np.asarray(predicted, dtype=np.float64)[keep] if keep.any() else np.empty(0)
    if y_true.size == 0:
        return {"rows": 0, "rmse": None, "mae": None}
    error = y_pred - y_true
    return {
        "rows": int(y_true.size),
        "rmse": _finite(float(np.sqrt(np.mean(error * error)))),
        "mae": _finite(float(np.mean(np.abs(error)))),
    }


def estimated_quality(
    scores: np.ndarray, predicted: Any, classes: list[Any], calibration: Calibration | None
) -> dict[str, Any]:
    """Expected accuracy and F1 of a window from its scores alone (CBPE)."""
    scores = np.asarray(scores, dtype=np.float64)
    rows = scores.shape[0]
    if rows == 0:
        return {"rows": 0, "accuracy": None, "f1": None}
    chance = calibration.apply(scores) if calibration is not None else scores
    names = [str(c) for c in classes]
    predicted_text = as_text(predicted)
    is_predicted = np.stack([predicted_text == c for c in names], axis=1)
    accuracy = float(np.mean(np.sum(chance * is_predicted, axis=1)))
    tp = np.sum(chance * is_predicted, axis=0)
    fp = np.sum((1 - chance) * is_predicted, axis=0)
    fn = np.sum(chance * ~is_predicted, axis=0)
    return {"rows": rows, "accuracy": accuracy, "f1": _f1_of(names, tp, fp, fn)}
