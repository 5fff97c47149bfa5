"""One window checked against a reference: drift, data quality, model quality, operations.

A :class:`Window` is the data of one window, from a model server's recorded traffic
(:func:`window_of_traffic`) or from a labelled table (:func:`window_of_frame`).
:func:`check` compares it with a :class:`~.reference.Reference` and returns a
:class:`WindowReport`: plain data, the same in a notebook, the CLI's JSON and the panel.

Every column is sketched like its reference column (one pass each), then every statistic is
read from the two sketches; nothing here reads the training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from ..client.monitor_config import DriftConfig, MonitorConfig
from ..client.serving import INPUT_PREFIX, OUTPUT_PREFIX
from ..data import sketch as sk
from .drift import ColumnDrift, benjamini_hochberg, column_drift, p_drifted
from .operations import operations
from .quality import as_text, classification_quality, estimated_quality, regression_quality
from .reference import Reference, predictions_of

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "INPUT_PREFIX",
    "OUTPUT_PREFIX",
    "Window",
    "WindowReport",
    "check",
    "window_of_frame",
    "window_of_traffic",
]

PREDICTION: Final = OUTPUT_PREFIX + "prediction"
PROBA_PREFIX: Final = OUTPUT_PREFIX + "proba."


@dataclass
class Window:
    inputs: pd.DataFrame
    predictions: np.ndarray | None = None
    scores: np.ndarray | None = None  # rows × classes, in the reference's class order
    labels: np.ndarray | None = None  # object array, None where no label is known yet
    start: int | None = None  # ms
    end: int | None = None
    latency_ms: np.ndarray | None = None  # one per request
    status: np.ndarray | None = None  # one per request
    refused_rows: int = 0  # requests the server refused (bad input)
    versions: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class WindowReport:
    start: int | None
    end: int | None
    rows: int
    versions: list[int]
    drift: list[ColumnDrift]
    dataset_drift: dict[str, Any]
    prediction_drift: ColumnDrift | None
    data_quality: list[dict[str, Any]]
    quality: dict[str, Any]
    operations: dict[str, Any] | None
    missing_columns: list[str]
    notes: list[str]
    # Reference and window side by side, for the drifted columns and the predictions: what
    # a dashboard draws ({"kind", "labels" or "edges", "reference", "current"} shares).
    distributions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[ColumnDrift]:
        return [d for d in self.drift if d.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "rows": self.rows,
            "versions": self.versions,
            "drift": [d.to_dict() for d in self.drift],
            "dataset_drift": self.dataset_drift,
            "prediction_drift": None
            if self.prediction_drift is None
            else self.prediction_drift.to_dict(),
            "data_quality": self.data_quality,
            "quality": self.quality,
            "operations": self.operations,
            "missing_columns": self.missing_columns,
            "notes": self.notes,
            "distributions": self.distributions,
        }


# -- windows ------------------------------------------------------------------------------


def _labels_by_row(table: pa.Table, labels: pa.Table | None) -> np.ndarray | None:
    if labels is None or labels.num_rows == 0:
        return None
    known = {
        (rid, row): label
        for rid, row, label in zip(
            labels.column("request_id").to_pylist(),
            labels.column("row").to_pylist(),
            labels.column("label").to_pylist(),
            strict=True,
        )
    }
    keys = zip(table.column("request_id").to_pylist(), table.column("row").to_pylist(), strict=True)
    out = np.empty(table.num_rows, dtype=object)
    out[:] = [known.get(key) for key in keys]
    return out


def window_of_traffic(
    table: pa.Table,
    reference: Reference,
    labels: pa.Table | None = None,
    start: int | None = None,
    end: int | None = None,
) -> Window:
    """The window of recorded traffic ``table`` (what ``Client.read_predictions`` returns),
    with ``labels`` (what ``Client.read_labels`` returns) joined by request id and row."""
    import pyarrow.compute as pc

    names = table.column_names
    served = table.filter(pc.equal(table.column("status"), 200)) if "status" in names else table
    # One latency and status per request: the first row of each.
    first = table.filter(pc.equal(table.column("row"), 0)) if "row" in names else table
    refused = table.filter(pc.not_equal(table.column("status"), 200)) if "status" in names else None
    inputs = pd.DataFrame(
        {
            name[len(INPUT_PREFIX) :]: served.column(name).to_numpy(zero_copy_only=False)
            for name in names
            if name.startswith(INPUT_PREFIX)
        }
    )
    predictions = None
    if PREDICTION in names:
        predictions = served.column(PREDICTION).to_numpy(zero_copy_only=False)
    scores = None
    classes = reference.classes or []
    proba = [f"{PROBA_PREFIX}{j}" for j in range(len(classes))]
    if classes and all(p in names for p in proba):
        scores = np.column_stack(
            [served.column(p).to_numpy(zero_copy_only=False).astype(np.float64) for p in proba]
        )
        if predictions is not None:
            # Requests that asked for scores recorded no prediction: the top class is it.
            missing = pd.isna(predictions)
            if missing.any():
                top = np.asarray(classes, dtype=object)[
                    np.nanargmax(np.nan_to_num(scores, nan=-1), axis=1)
                ]
                predictions = np.where(missing, top, predictions)
        else:
            predictions = np.asarray(classes, dtype=object)[
                np.argmax(np.nan_to_num(scores, nan=-1), axis=1)
            ]
    versions = sorted(set(table.column("version").to_pylist())) if "version" in names else []
    return Window(
        inputs=inputs,
        predictions=predictions,
        scores=scores,
        labels=_labels_by_row(served, labels),
        start=start,
        end=end,
        latency_ms=first.column("latency_ms").to_numpy(zero_copy_only=False)
        if "latency_ms" in names
        else None,
        status=first.column("status").to_numpy(zero_copy_only=False) if "status" in names else None,
        refused_rows=0 if refused is None else refused.num_rows,
        versions=versions,
    )


def window_of_frame(
    frame: Any, model: Any = None, labels: Any = None, reference: Reference | None = None
) -> Window:
    """A labelled (or unlabelled) table as a window: the model predicts it when given."""
    rows_frame = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(np.asarray(frame))
    rows_frame.columns = [str(c) for c in rows_frame.columns]
    predictions = scores = None
    notes = []
    if model is not None:
        try:
            predictions = predictions_of(model, frame)
            if (
                reference is not None
                and reference.task == "classification"
                and callable(getattr(model, "predict_proba", None))
            ):
                scores = np.asarray(model.predict_proba(frame), dtype=np.float64)
        except (ValueError, TypeError, KeyError) as exc:  # the model refuses these rows
            predictions = scores = None
            notes.append(f"the model refused the rows ({type(exc).__name__}: {exc}); no quality")
    label_array = None
    if labels is not None:
        label_array = np.empty(len(rows_frame), dtype=object)
        label_array[:] = list(np.asarray(labels).tolist())
    return Window(
        inputs=rows_frame, predictions=predictions, scores=scores, labels=label_array, notes=notes
    )


# -- the check ----------------------------------------------------------------------------


def _sketch_like(
    series: pd.Series, reference: sk.Sketch
) -> tuple[sk.Sketch, np.ndarray | None, int]:
    """The window's sketch of one column, its finite values (numeric columns) and how many
    of its values were not numbers where the reference had numbers."""
    if isinstance(reference, sk.NumericSketch):
        raw, type_errors = sk.numeric_values(series)
        return sk.sketch_numeric(raw, reference), raw[np.isfinite(raw)], type_errors
    return sk.sketch_column(series, reference), None, 0


def _data_quality(
    name: str,
    reference: sk.Sketch,
    current: sk.Sketch,
    rows: int,
    values: np.ndarray | None,
    type_errors: int,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "column": name,
        "rows": rows,
        "missing_share": (current.missing - type_errors) / rows if rows else None,
        "reference_missing_share": reference.missing / reference.rows if reference.rows else None,
        "type_errors": type_errors,
        "out_of_range_share": None,
        "unseen_share": None,
        "unseen_values": [],
    }
    if isinstance(reference, sk.NumericSketch) and isinstance(current, sk.NumericSketch):
        if current.n and reference.n and values is not None:
            outside = int(np.sum((values < reference.min) | (values > reference.max)))
            entry["out_of_range_share"] = outside / current.n
        entry["infinite"] = current.infinite
    elif (
        isinstance(reference, sk.CategoricalSketch)
        and isinstance(current, sk.CategoricalSketch)
        and current.n
        and not reference.other
    ):
        unseen = {k: c for k, c in current.counts.items() if k not in reference.counts}
        entry["unseen_share"] = (sum(unseen.values()) + current.other) / current.n
        entry["unseen_values"] = sorted(unseen, key=lambda k: -unseen[k])[:10]
    return entry


DISTRIBUTION_BINS: Final = 30
DISTRIBUTION_CATEGORIES: Final = 15


def _distribution(
    reference: sk.Sketch, current: sk.Sketch, values: np.ndarray | None
) -> dict[str, Any] | None:
    """Both sides' shares over one set of bins (numbers: equal widths over the middle 99 % of
    both; categories: the most frequent of both)."""
    if isinstance(reference, sk.NumericSketch) and isinstance(current, sk.NumericSketch):
        if not reference.n or values is None or not values.size:
            return None
        low = min(float(reference.quantiles([0.005])[0]), float(np.quantile(values, 0.005)))
        high = max(float(reference.quantiles([0.995])[0]), float(np.quantile(values, 0.995)))
        if not high > low:
            high = low + 1.0
        edges = np.linspace(low, high, DISTRIBUTION_BINS + 1)
        ref_cdf = reference.cdf(edges)
        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "reference": np.diff(ref_cdf).tolist(),
            "current": (np.histogram(values, edges)[0] / values.size).tolist(),
        }
    if isinstance(reference, sk.CategoricalSketch) and isinstance(current, sk.CategoricalSketch):
        ref_total, cur_total = max(reference.n, 1), max(current.n, 1)
        keys = set(reference.counts) | set(current.counts)
        top = sorted(
            keys,
            key=lambda k: (
                -(reference.counts.get(k, 0) / ref_total + current.counts.get(k, 0) / cur_total)
            ),
        )[:DISTRIBUTION_CATEGORIES]
        return {
            "kind": "categorical",
            "labels": top,
            "reference": [reference.counts.get(k, 0) / ref_total for k in top],
            "current": [current.counts.get(k, 0) / cur_total for k in top],
        }
    return None


def _judge_p_values(drifts: list[ColumnDrift], correction: str) -> list[ColumnDrift]:
    """Correct the p-values of the tested columns together, then judge each again."""
    from dataclasses import replace

    tested = [i for i, d in enumerate(drifts) if d.is_p_value and d.p_value is not None]
    if correction != "bh" or len(tested) < 2:
        return drifts
    adjusted = benjamini_hochberg(np.array([drifts[i].p_value for i in tested]))
    result = list(drifts)
    for i, p in zip(tested, adjusted.tolist(), strict=True):
        result[i] = replace(
            drifts[i], score=p, drifted=p_drifted(drifts[i].method, p, drifts[i].threshold)
        )
    return result


def _dataset_drift(
    drifts: list[ColumnDrift], config: DriftConfig, reference: Reference
) -> dict[str, Any]:
    judged = [d for d in drifts if d.score is not None]
    weights = None
    if config.weighted and reference.importance:
        weights = np.array([reference.importance.get(d.column, 0.0) for d in judged])
        if weights.sum() <= 0:
            weights = None
    flags = np.array([d.drifted for d in judged], dtype=float)
    if not judged:
        share = 0.0
    elif weights is not None:
        share = float(np.dot(flags, weights) / weights.sum())
    else:
        share = float(flags.mean())
    return {
        "columns": len(judged),
        "drifted_columns": int(flags.sum()) if judged else 0,
        "share": share,
        "threshold": config.share,
        "weighted": weights is not None,
        "drifted": bool(judged) and share >= config.share,
    }


def _quality(reference: Reference, window: Window) -> dict[str, Any]:
    result: dict[str, Any] = {
        "task": reference.task,
        "realised": None,
        "estimated": None,
        "labelled_rows": 0,
    }
    predictions = window.predictions
    if predictions is None:
        return result
    scores = window.scores
    scored = None if scores is None else np.isfinite(scores).all(axis=1)
    if reference.task == "classification" and reference.classes and scored is not None:
        # Rows without scores (recorded before scores were, or refused by predict_proba)
        # are left out of the estimate, never counted as a guess.
        assert scores is not None
        result["estimated"] = estimated_quality(
            scores[scored], predictions[scored], reference.classes, reference.calibration
        )
        result["estimated"]["calibrated"] = reference.calibration is not None
    if window.labels is not None:
        known = np.array([v is not None for v in window.labels.tolist()], dtype=bool)
        result["labelled_rows"] = int(known.sum())
        if known.any():
            if reference.task == "classification" and reference.classes:
                # ROC AUC only when every labelled row has its scores.
                labelled_scores = (
                    scores[known]
                    if scores is not None and scored is not None and scored[known].all()
                    else None
                )
                result["realised"] = classification_quality(
                    window.labels[known], predictions[known], reference.classes, labelled_scores
                )
            elif reference.task == "regression":
                result["realised"] = regression_quality(window.labels[known], predictions[known])
    return result


def _prediction_drift(
    reference: Reference, window: Window, config: DriftConfig
) -> tuple[ColumnDrift | None, tuple[sk.Sketch, sk.Sketch, np.ndarray | None] | None]:
    if reference.prediction is None or window.predictions is None:
        return None, None
    series = pd.Series(window.predictions)
    if isinstance(reference.prediction, sk.CategoricalSketch):
        series = pd.Series(as_text(window.predictions))
    current, values, _ = _sketch_like(series, reference.prediction)
    drift = column_drift(
        "prediction",
        reference.prediction,
        current,
        values,
        config.prediction_method,
        config.thresholds_for("prediction"),
    )
    return drift, (reference.prediction, current, values)


def check(
    reference: Reference, window: Window, config: MonitorConfig | None = None
) -> WindowReport:
    """Everything one window says about the model, against its reference."""
    config = config or MonitorConfig()
    drift_config = config.drift
    notes: list[str] = list(window.notes)
    missing = [name for name in reference.columns if name not in window.inputs.columns]
    drifts: list[ColumnDrift] = []
    quality_rows: list[dict[str, Any]] = []
    sketched: dict[str, tuple[sk.Sketch, sk.Sketch, np.ndarray | None]] = {}
    for name, ref_sketch in reference.columns.items():
        if name in missing:
            continue
        current, values, type_errors = _sketch_like(window.inputs[name], ref_sketch)
        sketched[name] = (ref_sketch, current, values)
        method = drift_config.methods.get(name)
        try:
            drift = column_drift(
                name, ref_sketch, current, values, method, drift_config.thresholds_for(name)
            )
        except ValueError as exc:  # a method that cannot apply to this column
            drift = ColumnDrift(name, ref_sketch.kind, method or "", 0.0, note=str(exc))
        drifts.append(drift)
        quality_rows.append(
            _data_quality(name, ref_sketch, current, len(window.inputs), values, type_errors)
        )
    drifts = _judge_p_values(drifts, drift_config.correction)
    if missing:
        shown_missing = ", ".join(missing[:10])
        notes.append(f"{len(missing)} reference column(s) not in the window: {shown_missing}")
    ops = None
    if window.latency_ms is not None and window.status is not None:
        span = (
            (window.end - window.start)
            if window.start is not None and window.end is not None
            else None
        )
        ops = operations(window.latency_ms, window.status, len(window.inputs), span)
        ops["refused_rows"] = window.refused_rows
    prediction_drift, prediction_sides = _prediction_drift(reference, window, drift_config)
    distributions = {
        d.column: shown
        for d in drifts
        if d.drifted and (shown := _distribution(*sketched[d.column])) is not None
    }
    if prediction_sides is not None and (shown := _distribution(*prediction_sides)) is not None:
        distributions["prediction"] = shown
    return WindowReport(
        start=window.start,
        end=window.end,
        rows=len(window.inputs),
        versions=window.versions,
        drift=drifts,
        dataset_drift=_dataset_drift(drifts, drift_config, reference),
        prediction_drift=prediction_drift,
        data_quality=quality_rows,
        quality=_quality(reference, window),
        operations=ops,
        missing_columns=missing,
        notes=notes,
        distributions=distributions,
    )
