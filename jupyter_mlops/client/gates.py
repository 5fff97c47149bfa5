"""The validation gates' configuration: what a registered model's versions must pass before
they may enter a guarded stage. The Client checks a configuration here and stores it with the
model in canonical form; ``registry/gates.py`` runs it.

A configuration, as YAML or as a dict (every section is optional; a missing one is no gate)::

    stages: [Production]        # the stages a version enters only after passing (default)
    holdout: holdout@3          # a dataset version (a file recorded by %%track or a step);
    target: churned             #   or a DataFrame passed to validate(); its label column
    positive: 1                 # the positive class (binary F1, precision, recall, ROC AUC)
    metrics:                    # thresholds on the holdout
      accuracy: {min: 0.80}
      roc_auc: {min: 0.85}
    champion:                   # no regression against the version now in Production
      metric: accuracy
      max_drop: 0.0             # the drop tolerated before the difference counts
      confidence: 0.95          # of the bootstrap interval of (challenger - champion)
      resamples: 1000
    robustness: {rows: 20, timeout_s: 10}   # or `robustness: true`
    latency: {batch_size: 1, p95_ms: 50, repeats: 100}
    fairness: {column: gender, metric: demographic_parity, max_gap: 0.1}

The configuration's sha256 (of its canonical form) is part of every report, so a report is
reused only for the configuration it was made with.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from ..entities import STAGES, canonical_sha256
from ..exceptions import InvalidInput, shown
from .validation import MAX_NAME, check_json, check_text, load_yaml, validate_key

# Each metric and whether higher is better.
METRICS: dict[str, bool] = {
    "accuracy": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}
CLASSIFICATION_METRICS = frozenset({"accuracy", "f1", "precision", "recall", "roc_auc", "log_loss"})
PROBES = ("missing", "out_of_range", "unseen_category", "wrong_dtype")
FAIRNESS_METRICS = ("demographic_parity", "equal_opportunity")
GATE_NAMES = ("metrics", "champion", "robustness", "latency", "fairness")

_TOP = frozenset({"stages", "holdout", "target", "positive", *GATE_NAMES})
_DEFAULTS: dict[str, dict[str, Any]] = {
    "champion": {"metric": None, "max_drop": 0.0, "confidence": 0.95, "resamples": 1000},
    "robustness": {"probes": list(PROBES), "rows": 20, "timeout_s": 10.0},
    "latency": {"batch_size": 1, "p95_ms": None, "repeats": 100},
    "fairness": {"column": None, "metric": "demographic_parity", "max_gap": 0.1},
}


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"{what} must be a number from {low} to {high}, got {shown(value)}.")
    number = float(value)
    if not low <= number <= high:
        raise InvalidInput(f"{what} must be a number from {low} to {high}, got {shown(value)}.")
    return number


def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(
            f"{what} must be a whole number from {low} to {high}, got {shown(value)}."
        )
    number = int(value)
    if not low <= number <= high:
        raise InvalidInput(
            f"{what} must be a whole number from {low} to {high}, got {shown(value)}."
        )
    return number


def _metric(value: Any, where: str) -> str:
    if value not in METRICS:
        raise InvalidInput(
            f"{where}: unknown metric {shown(value)}; use one of {', '.join(METRICS)}."
        )
    return str(value)


def _section(config: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """A gate's section with its defaults filled in (``true`` is all defaults)."""
    raw = config.get(name)
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"Gate {name!r} must be a mapping of settings, got {shown(raw)}.")
    unknown = sorted(set(raw) - set(_DEFAULTS[name]))
    if unknown:
        raise InvalidInput(
            f"Gate {name!r} has no setting {shown(unknown[0])}; its settings are "
            f"{', '.join(_DEFAULTS[name])}."
        )
    return {**_DEFAULTS[name], **raw}


def parse_gates(config: Any) -> dict[str, Any] | None:
    """A gate configuration (a mapping or YAML text) in canonical form; None for no gate.

    Raises InvalidInput naming the first setting that is wrong and what it accepts."""
    if config is None:
        return None
    if isinstance(config, str):
        config = load_yaml(config, "The gate configuration")
        if config is None:
            return None
    if not isinstance(config, Mapping):
        raise InvalidInput(f"A gate configuration must be a mapping, got {shown(config)}.")
    unknown = sorted(str(k) for k in set(config) - _TOP)
    if unknown:
        raise InvalidInput(
            f"Unknown gate setting {shown(unknown[0])}; the settings are {', '.join(sorted(_TOP))}."
        )
    out: dict[str, Any] = {}
    stages = config.get("stages", ["Production"])
    if isinstance(stages, str):
        stages = [stages]
    if not isinstance(stages, list) or not stages:
        raise InvalidInput(f"Gate stages must be a list of stages, got {shown(stages)}.")
    by_lower = {s.lower(): s for s in STAGES if s != "None"}
    try:
        out["stages"] = sorted({by_lower[str(s).lower()] for s in stages}, key=STAGES.index)
    except KeyError as exc:
        raise InvalidInput(
            f"Gate stage {shown(exc.args[0])} is not one of Staging, Production, Archived."
        ) from None
    holdout = config.get("holdout")
    out["holdout"] = None if holdout is None else check_text(holdout, "holdout", 512, empty=False)
    target = config.get("target")
    out["target"] = None if target is None else check_text(target, "target", MAX_NAME, empty=False)
    positive = config.get("positive")
    if positive is not None and not isinstance(positive, str | int | float | bool):
        raise InvalidInput(f"positive must be a class label, got {shown(positive)}.")
    out["positive"] = positive

    metrics = config.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        raise InvalidInput(f"Gate 'metrics' must map metric: {{min: x}}, got {shown(metrics)}.")
    thresholds: dict[str, dict[str, float]] = {}
    for name, bound in metrics.items():
        _metric(name, "Gate 'metrics'")
        if isinstance(bound, numbers.Real) and not isinstance(bound, bool):
            bound = {"min" if METRICS[name] else "max": bound}
        if not isinstance(bound, Mapping) or not bound or set(bound) - {"min", "max"}:
            raise InvalidInput(
                f"Gate 'metrics' {name}: give min and/or max (e.g. {name}: {{min: 0.8}}), "
                f"got {shown(bound)}."
            )
        thresholds[name] = {
            k: _number(v, f"{name} {k}", -1e12, 1e12) for k, v in sorted(bound.items())
        }
    out["metrics"] = thresholds or None

    champion = _section(config, "champion")
    if champion is not None:
        metric = champion["metric"] or next(iter(thresholds), None)
        if metric is None:
            raise InvalidInput(
                "Gate 'champion' needs a metric (e.g. champion: {metric: accuracy})."
            )
        champion["metric"] = _metric(metric, "Gate 'champion'")
        champion["max_drop"] = _number(champion["max_drop"], "champion max_drop", 0, 1e12)
        champion["confidence"] = _number(champion["confidence"], "champion confidence", 0.5, 0.999)
        champion["resamples"] = _whole(champion["resamples"], "champion resamples", 100, 100_000)
    out["champion"] = champion

    robustness = _section(config, "robustness")
    if robustness is not None:
        probes = robustness["probes"]
        if isinstance(probes, str):
            probes = [probes]
        if not isinstance(probes, list) or not probes or set(probes) - set(PROBES):
            raise InvalidInput(
                f"Gate 'robustness' probes must be a list of {', '.join(PROBES)}, got "
                f"{shown(probes)}."
            )
        robustness["probes"] = [p for p in PROBES if p in probes]
        robustness["rows"] = _whole(robustness["rows"], "robustness rows", 1, 10_000)
        robustness["timeout_s"] = _number(
            robustness["timeout_s"], "robustness timeout_s", 0.1, 3600
        )
    out["robustness"] = robustness

    latency = _section(config, "latency")
    if latency is not None:
        if latency["p95_ms"] is None:
            raise InvalidInput("Gate 'latency' needs a budget: latency: {p95_ms: 50}.")
        latency["p95_ms"] = _number(latency["p95_ms"], "latency p95_ms", 0.001, 3_600_000)
        latency["batch_size"] = _whole(latency["batch_size"], "latency batch_size", 1, 1_000_000)
        latency["repeats"] = _whole(latency["repeats"], "latency repeats", 5, 100_000)
    out["latency"] = latency

    fairness = _section(config, "fairness")
    if fairness is not None:
        if fairness["column"] is None:
            raise InvalidInput("Gate 'fairness' needs the column of the groups: {column: gender}.")
        fairness["column"] = check_text(
            fairness["column"], "fairness column", MAX_NAME, empty=False
        )
        if fairness["metric"] not in FAIRNESS_METRICS:
            raise InvalidInput(
                f"Gate 'fairness' metric must be one of {', '.join(FAIRNESS_METRICS)}, got "
                f"{shown(fairness['metric'])}."
            )
        fairness["max_gap"] = _number(fairness["max_gap"], "fairness max_gap", 0, 1)
    out["fairness"] = fairness

    needs_data = thresholds or champion or robustness or latency or fairness
    if not needs_data:
        raise InvalidInput(
            "The gate configuration has no gate: add metrics, champion, robustness, latency "
            "or fairness (or set no configuration to remove the gates)."
        )
    needs_target = (
        thresholds or champion or (fairness and fairness["metric"] == "equal_opportunity")
    )
    if needs_target and out["target"] is None:
        raise InvalidInput(
            "The gates compare predictions with labels: name the holdout's target column "
            "(target: churned)."
        )
    if out["holdout"] is not None:
        validate_key(out["holdout"].partition("@")[0], "dataset")
    canonical: dict[str, Any] = check_json(out, "A gate configuration")
    return canonical


def config_sha256(config: Mapping[str, Any] | None) -> str:
    """The sha256 of a canonical configuration (of none: of ``null``)."""
    return canonical_sha256(config)
