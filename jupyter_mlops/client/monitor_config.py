"""How a model is monitored: drift methods and thresholds, the dataset-drift rule, windows.

The Client checks a configuration here, field by field, when it is set (naming the field),
and stores it per registered model name; ``monitoring/`` applies it. As YAML or a dict
(every field optional)::

    window: 1h                  # the default window (15m, 1h, 1d, ...)
    drift:
      methods: {age: psi}       # a column's method; others by kind and sample size
      thresholds: {wasserstein: 0.15, income: 0.2}   # per method, or per column
      share: 0.5                # dataset drift: at least this share of columns drifted
      correction: bh            # p-values corrected for multiple testing (bh or none)
      weighted: false           # weigh columns by the model's feature importance
      prediction_method: null   # the method for the predictions' drift
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from ..exceptions import InvalidInput, shown

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DEFAULT_WINDOW",
    "METHODS",
    "P_VALUE_METHODS",
    "DriftConfig",
    "MonitorConfig",
    "parse_duration",
]

P_VALUE_METHODS: Final = frozenset({"ks", "chisquare", "z"})
DISTANCE_METHODS: Final = frozenset({"wasserstein", "jensenshannon", "psi"})
METHODS: Final = P_VALUE_METHODS | DISTANCE_METHODS
# What each method's score is compared with: a p-value below it, or a distance at or above it.
DEFAULT_THRESHOLDS: Final[Mapping[str, float]] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}

DEFAULT_WINDOW: Final = "1h"
CORRECTIONS: Final = ("bh", "none")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)\s*$")
_UNIT_MS: Final = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}
MAX_WINDOWS: Final = 10_000


def parse_duration(text: Any, what: str = "A window") -> int:
    """Milliseconds of ``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"1w"`` (or a number of
    seconds)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text) * 1000
    else:
        match = _DURATION.match(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(f"{what} must be a duration like 15m, 1h or 7d, not {shown(text)}.")
        value = float(match.group(1)) * _UNIT_MS[match.group(2)]
    if not math.isfinite(value) or value < 1000 or value > 366 * 86_400_000:
        raise InvalidInput(f"{what} must be between 1 s and 366 days, not {shown(text)}.")
    return int(value)


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a number, not {shown(value)}.")
    if not low <= value <= high:
        raise InvalidInput(f"{what} must be between {low} and {high}, not {value}.")
    return float(value)


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(f"{what} must be a mapping of names to values.")
    return value


def _known(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(
            f"{what} has unknown field(s) {', '.join(map(shown, unknown))}; known: "
            f"{', '.join(sorted(allowed))}."
        )


@dataclass(frozen=True)
class DriftConfig:
    # A column's method (ks, chisquare, z, wasserstein, jensenshannon, psi); others default
    # by kind and sample size.
    methods: dict[str, str] = field(default_factory=dict)
    # A threshold per method name, or per column (a column's wins).
    thresholds: dict[str, float] = field(default_factory=dict)
    # Dataset drift: at least this share of columns drifted.
    share: float = 0.5
    # Multiple-testing correction of p-values across columns: bh (Benjamini–Hochberg) or none.
    correction: str = "bh"
    # Weigh each column by the model's feature importance in the drifted share.
    weighted: bool = False
    prediction_method: str | None = None

    def thresholds_for(self, column: str) -> dict[str, float]:
        """Each method's threshold for ``column``: the column's own, else the method's."""
        if column in self.thresholds:
            return dict.fromkeys(METHODS, self.thresholds[column])
        return {m: self.thresholds.get(m, DEFAULT_THRESHOLDS[m]) for m in METHODS}

    @classmethod
    def from_dict(cls, data: Any) -> DriftConfig:
        data = _mapping(data, "drift")
        _known(data, {f for f in cls.__dataclass_fields__}, "drift")
        methods = {}
        for column, method in _mapping(data.get("methods"), "drift.methods").items():
            if method not in METHODS:
                raise InvalidInput(
                    f"drift.methods.{column}: unknown method {shown(method)}; known: "
                    f"{', '.join(sorted(METHODS))}."
                )
            methods[column] = method
        thresholds = {
            key: _number(value, f"drift.thresholds.{key}", 0.0, 1e6)
            for key, value in _mapping(data.get("thresholds"), "drift.thresholds").items()
        }
        correction = data.get("correction", "bh")
        if correction not in CORRECTIONS:
            raise InvalidInput(f"drift.correction must be bh or none, not {shown(correction)}.")
        weighted = data.get("weighted", False)
        if not isinstance(weighted, bool):
            raise InvalidInput(f"drift.weighted must be true or false, not {shown(weighted)}.")
        prediction = data.get("prediction_method")
        if prediction is not None and prediction not in METHODS:
            raise InvalidInput(f"drift.prediction_method: unknown method {shown(prediction)}.")
        return cls(
            methods=methods,
            thresholds=thresholds,
            share=_number(data.get("share", 0.5), "drift.share", 0.0, 1.0),
            correction=correction,
            weighted=weighted,
            prediction_method=prediction,
        )


@dataclass(frozen=True)
class MonitorConfig:
    drift: DriftConfig = field(default_factory=DriftConfig)
    window: str = DEFAULT_WINDOW  # the default window: a duration

    @property
    def window_ms(self) -> int:
        return parse_duration(self.window)

    @classmethod
    def from_dict(cls, data: Any) -> MonitorConfig:
        """Check a configuration (a mapping, YAML text, or None for the defaults)."""
        if isinstance(data, str):
            import yaml

            try:
                data = yaml.safe_load(data)
            except yaml.YAMLError as exc:
                raise InvalidInput(
                    f"The monitoring configuration is not valid YAML: {exc}"
                ) from exc
        data = _mapping(data, "The monitoring configuration")
        _known(data, {"drift", "window"}, "The monitoring configuration")
        window = data.get("window", DEFAULT_WINDOW)
        parse_duration(window, "window")
        return cls(drift=DriftConfig.from_dict(data.get("drift")), window=str(window))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
