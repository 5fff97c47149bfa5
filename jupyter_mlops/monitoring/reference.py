"""The reference a model's traffic is compared with, built once from its training data.

A :class:`Reference` holds a sketch of each input column (:mod:`jupyter_mlops.data.sketch`),
of the model's predictions on that data and, for a classifier, of its score for each class,
of the labels, a score calibration (for estimating quality without labels) and the model's
feature importances when it exposes them. It is built when ``%%track`` logs a fitted model
(while its training data is in memory), or on demand from a frame or a recorded file
dataset, and stored with the logged model: checking a window never reads the training data.

Two references of parts of one table built ``like`` the same reference merge into the
reference of the whole (:meth:`Reference.merge`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from ..data import sketch as sk
from .quality import Calibration, as_text

__all__ = [
    "FORMAT",
    "PREDICTION_SAMPLE",
    "Reference",
    "build_reference",
    "model_task",
    "predictions_of",
]

FORMAT: Final = 1
# The model predicts on at most this many training rows (a fixed random sample) for the
# prediction and score distributions; the input sketches use every row.
PREDICTION_SAMPLE: Final = 100_000
_SEED: Final = 20_261_128


@dataclass
class Reference:
    rows: int
    columns: dict[str, sk.Sketch]
    task: str = "unknown"  # classification | regression | unknown
    classes: list[str] | None = None
    prediction: sk.Sketch | None = None
    scores: list[sk.NumericSketch] | None = None  # one per class, in ``classes`` order
    labels: sk.Sketch | None = None
    calibration: Calibration | None = None
    importance: dict[str, float] | None = None
    predicted_rows: int = 0
    source: str = ""
    created_at: int = 0
    notes: list[str] = field(default_factory=list)

    def merge(self, other: Reference) -> Reference:
        """The reference of both parts' rows (sketches built like the same reference)."""
        if self.columns.keys() != other.columns.keys():
            raise ValueError("references of different columns do not merge")

        def both(a: Any, b: Any) -> Any:
            return a.merge(b) if a is not None and b is not None else a if b is None else b

        return Reference(
            rows=self.rows + other.rows,
            columns={k: self.columns[k].merge(other.columns[k]) for k in self.columns},  # type: ignore[arg-type]
            task=self.task,
            classes=self.classes,
            prediction=both(self.prediction, other.prediction),
            scores=None
            if self.scores is None or other.scores is None
            else [a.merge(b) for a, b in zip(self.scores, other.scores, strict=True)],
            labels=both(self.labels, other.labels),
            calibration=both(self.calibration, other.calibration),
            importance=self.importance,
            predicted_rows=self.predicted_rows + other.predicted_rows,
            source=self.source,
            created_at=max(self.created_at, other.created_at),
            notes=self.notes,
        )

    def to_dict(self) -> dict[str, Any]:
        def one(sketch: sk.Sketch | None) -> dict[str, Any] | None:
            return None if sketch is None else sk.to_dict(sketch)

        return {
            "format": FORMAT,
            "rows": self.rows,
            "columns": {name: sk.to_dict(s) for name, s in self.columns.items()},
            "task": self.task,
            "classes": self.classes,
            "prediction": one(self.prediction),
            "scores": None if self.scores is None else [sk.to_dict(s) for s in self.scores],
            "labels": one(self.labels),
            "calibration": None if self.calibration is None else self.calibration.to_dict(),
            "importance": self.importance,
            "predicted_rows": self.predicted_rows,
            "source": self.source,
            "created_at": self.created_at,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        def one(value: dict[str, Any] | None) -> sk.Sketch | None:
            return None if value is None else sk.from_dict(value)

        scores = data.get("scores")
        calibration = data.get("calibration")
        return cls(
            rows=int(data["rows"]),
            columns={name: sk.from_dict(s) for name, s in data["columns"].items()},
            task=data.get("task", "unknown"),
            classes=data.get("classes"),
            prediction=one(data.get("prediction")),
            scores=None
            if scores is None
            else [s for s in (sk.from_dict(x) for x in scores) if isinstance(s, sk.NumericSketch)],
            labels=one(data.get("labels")),
            calibration=None if calibration is None else Calibration.from_dict(calibration),
            importance=data.get("importance"),
            predicted_rows=int(data.get("predicted_rows", 0)),
            source=data.get("source", ""),
            created_at=int(data.get("created_at", 0)),
            notes=list(data.get("notes", [])),
        )


def model_task(model: Any) -> str:
    """classification (has classes and scores), regression, or unknown (decided by the
    predictions later)."""
    if getattr(model, "classes_", None) is not None and callable(
        getattr(model, "predict_proba", None)
    ):
        return "classification"
    estimator_type = getattr(model, "_estimator_type", None)
    if estimator_type == "regressor":
        return "regression"
    try:
        tags = model.__sklearn_tags__()
        return {"classifier": "classification", "regressor": "regression"}.get(
            tags.estimator_type, "unknown"
        )
    except Exception:  # not a scikit-learn estimator, or an old one
        return "unknown"


def predictions_of(model: Any, data: Any) -> np.ndarray:
    """The model's predictions for ``data`` by its flavor, one column as a 1-D array."""
    from ..models.flavors import flavor_of

    predicted = np.asarray(flavor_of(model).predict(model, data))
    if predicted.ndim == 2 and predicted.shape[1] == 1:
        predicted = predicted.reshape(-1)
    return predicted


def _rows(obj: Any, positions: np.ndarray | None) -> Any:
    if positions is None:
        return obj
    if isinstance(obj, pd.DataFrame | pd.Series):
        return obj.iloc[positions]
    return obj[positions]


def _importance(model: Any, names: list[str]) -> dict[str, float] | None:
    """Feature importances normalised to sum 1: ``feature_importances_`` or the absolute
    coefficients of a linear model (averaged over classes)."""
    values = getattr(model, "feature_importances_", None)
    if values is None:
        coef = getattr(model, "coef_", None)
        if coef is None:
            return None
        values = np.abs(np.asarray(coef, dtype=np.float64))
        if values.ndim == 2:
            values = values.mean(axis=0)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size != len(names) or not np.isfinite(values).all() or values.sum() <= 0:
        return None
    values = values / values.sum()
    return {name: float(v) for name, v in zip(names, values, strict=True)}


def build_reference(
    data: Any,
    model: Any = None,
    labels: Any = None,
    *,
    source: str = "",
    like: Reference | None = None,
) -> Reference:
    """The reference of ``data`` (a table the model was trained on), with the model's
    predictions on it when ``model`` is given and ``labels`` (one per row) when known.

    ``like``: build on that reference's bins, so the result merges with it.

    What cannot be done (a model that refuses the data, labels of another length) becomes a
    note in the reference, not an error: the input sketches alone already serve drift.
    """
    rows, columns = sk.sketch_table(data, like.columns if like is not None else None)
    reference = Reference(
        rows=rows, columns=columns, source=source, created_at=int(time.time() * 1000)
    )
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != rows:
            reference.notes.append(
                f"labels left out: {labels.shape[0] if labels.ndim else 0} labels for {rows} rows"
            )
            labels = None
    if model is None:
        if labels is not None:
            reference.labels = sk.sketch_column(pd.Series(labels), like.labels if like else None)
        return reference
    positions = None
    if rows > PREDICTION_SAMPLE:
        rng = np.random.default_rng(_SEED)
        positions = np.sort(rng.choice(rows, size=PREDICTION_SAMPLE, replace=False))
    sample = _rows(data, positions)
    sample_labels = None if labels is None else _rows(labels, positions)
    try:
        predicted = predictions_of(model, sample)
    except Exception as exc:  # the model's own error: the reference keeps its inputs
        reference.notes.append(f"predictions left out: {type(exc).__name__}: {exc}")
        return reference
    task = model_task(model)
    if task == "unknown" and predicted.ndim == 1:
        task = "regression" if predicted.dtype.kind == "f" else "classification"
    reference.task = task
    reference.predicted_rows = int(predicted.shape[0])
    if predicted.ndim == 1:
        series = pd.Series(as_text(predicted) if task == "classification" else predicted)
        reference.prediction = sk.sketch_column(series, like.prediction if like else None)
    if sample_labels is not None:
        label_series = pd.Series(
            as_text(sample_labels) if task == "classification" else sample_labels
        )
        reference.labels = sk.sketch_column(label_series, like.labels if like else None)
    names = list(columns)
    reference.importance = _importance(model, names)
    if task == "classification":
        classes = getattr(model, "classes_", None)
        reference.classes = (
            None if classes is None else [str(c) for c in np.asarray(classes).tolist()]
        )
        try:
            scores = np.asarray(model.predict_proba(sample), dtype=np.float64)
        except Exception as exc:
            reference.notes.append(f"scores left out: {type(exc).__name__}: {exc}")
            return reference
        if reference.classes is not None and scores.shape == (
            predicted.shape[0],
            len(reference.classes),
        ):
            reference.scores = [
                sk.sketch_column(
                    pd.Series(scores[:, j]), like.scores[j] if like and like.scores else None
                )  # type: ignore[misc]
                for j in range(scores.shape[1])
            ]
            if sample_labels is not None:
                reference.calibration = Calibration.fit(scores, sample_labels, reference.classes)
    return reference
