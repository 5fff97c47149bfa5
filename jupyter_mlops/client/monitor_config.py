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
    alerts:
      window: 1h                # the windows rules are judged on (default: window above)
      every: 15m                # how often the scheduler evaluates them (default: window)
      raise: [2, 3]             # raise when 2 of the last 3 windows cross the threshold
      clear: [2, 3]             # clear when 2 of the last 3 windows are back under it
      rules:                    # default: one rule, dataset_drift above 0.5
        - {name: drift, metric: dataset_drift_share, above: 0.5, warn: 0.3}
        - {name: income, metric: column_drift, column: income, above: 1}
        - {name: quality, metric: estimated_accuracy, below: 0.8}
        - {name: latency, metric: p95_ms, above: 50}
      webhook:                  # optional: each change of state is POSTed here
        url: https://hooks.example.com/mlops
        secret_env: MLOPS_WEBHOOK_SECRET   # the shared secret (HMAC-SHA256), from this variable
        ca_file: null           # a CA bundle to verify the receiver with (default: the system's)
        timeout_s: 5
        retries: 3              # after the first try, with backoff (1 s, 2 s, 4 s, ...)

A rule's metric is read from each window: ``dataset_drift`` (1 when the dataset drifted,
else 0), ``dataset_drift_share``, ``column_drift`` and ``prediction_drift`` (the score as a
multiple of its threshold: 1 at the threshold), ``missing_share``, ``out_of_range_share``,
``unseen_share`` (of ``column``, else the largest of any column), ``refused_share`` (requests
the server refused as bad input), ``accuracy``, ``f1``, ``roc_auc``, ``rmse``, ``mae`` (from
labels), ``estimated_accuracy``, ``estimated_f1`` (without labels), ``p50_ms``, ``p95_ms``,
``p99_ms``, ``error_rate``, ``request_rate``. ``above``: alert when the value is greater;
``below``: when it is smaller; ``warn``: the same test at a milder level.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from ..exceptions import InvalidInput, shown
from .validation import load_yaml

__all__ = [
    "ALERT_METRICS",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_WINDOW",
    "METHODS",
    "P_VALUE_METHODS",
    "AlertRule",
    "AlertsConfig",
    "DriftConfig",
    "MonitorConfig",
    "WebhookConfig",
    "as_mapping",
    "check_fields",
    "check_name_text",
    "check_number",
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
# What a rule can watch, and whether it can name a column.
ALERT_METRICS: Final[Mapping[str, bool]] = {
    "dataset_drift": False,
    "dataset_drift_share": False,
    "column_drift": True,
    "prediction_drift": False,
    "missing_share": True,
    "out_of_range_share": True,
    "unseen_share": True,
    "refused_share": False,
    "accuracy": False,
    "f1": False,
    "roc_auc": False,
    "rmse": False,
    "mae": False,
    "estimated_accuracy": False,
    "estimated_f1": False,
    "p50_ms": False,
    "p95_ms": False,
    "p99_ms": False,
    "error_rate": False,
    "request_rate": False,
}
MAX_RULES: Final = 100
MAX_HYSTERESIS: Final = 100
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


def check_number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a number, not {shown(value)}.")
    if not low <= value <= high:
        raise InvalidInput(f"{what} must be between {low} and {high}, not {value}.")
    return float(value)


def as_mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInput(f"{what} must be a mapping of names to values.")
    return value


def check_fields(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
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
        data = as_mapping(data, "drift")
        check_fields(data, {f for f in cls.__dataclass_fields__}, "drift")
        methods = {}
        for column, method in as_mapping(data.get("methods"), "drift.methods").items():
            if method not in METHODS:
                raise InvalidInput(
                    f"drift.methods.{column}: unknown method {shown(method)}; known: "
                    f"{', '.join(sorted(METHODS))}."
                )
            methods[column] = method
        thresholds = {
            key: check_number(value, f"drift.thresholds.{key}", 0.0, 1e6)
            for key, value in as_mapping(data.get("thresholds"), "drift.thresholds").items()
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
            share=check_number(data.get("share", 0.5), "drift.share", 0.0, 1.0),
            correction=correction,
            weighted=weighted,
            prediction_method=prediction,
        )


def check_name_text(value: Any, what: str, limit: int = 256) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"{what} must be text of 1 to {limit} characters, not {shown(value)}.")
    return value


def _m_of_n(value: Any, what: str) -> tuple[int, int]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not 1 <= value[0] <= value[1] <= MAX_HYSTERESIS
    ):
        raise InvalidInput(
            f"{what} must be [M, N]: M of the last N windows, 1 <= M <= N <= {MAX_HYSTERESIS}; "
            f"not {shown(value)}."
        )
    return int(value[0]), int(value[1])


@dataclass(frozen=True)
class AlertRule:
    name: str
    metric: str
    column: str | None = None
    above: float | None = None
    below: float | None = None
    warn: float | None = None

    def level(self, value: float | None) -> str | None:
        """ok, warn or alert for one window's value; None without a value."""
        if value is None:
            return None

        def crossed(limit: float | None) -> bool:
            if limit is None:
                return False
            return value > limit if self.above is not None else value < limit

        threshold = self.above if self.above is not None else self.below
        if crossed(threshold):
            return "alert"
        return "warn" if crossed(self.warn) else "ok"

    @classmethod
    def from_dict(cls, data: Any, where: str) -> AlertRule:
        data = as_mapping(data, where)
        check_fields(data, {f for f in cls.__dataclass_fields__}, where)
        metric = data.get("metric")
        if metric not in ALERT_METRICS:
            raise InvalidInput(
                f"{where}.metric: unknown metric {shown(metric)}; known: "
                f"{', '.join(ALERT_METRICS)}."
            )
        column = data.get("column")
        if column is not None:
            if not ALERT_METRICS[metric]:
                raise InvalidInput(f"{where}: {metric} is not about one column.")
            column = check_name_text(column, f"{where}.column")
        if ("above" in data) == ("below" in data):
            raise InvalidInput(f"{where} needs one of above or below.")
        above = data.get("above")
        below = data.get("below")
        limit = check_number(
            above if above is not None else below, f"{where}.threshold", -1e12, 1e12
        )
        warn = data.get("warn")
        if warn is not None:
            warn = check_number(warn, f"{where}.warn", -1e12, 1e12)
            if (above is not None and warn > limit) or (below is not None and warn < limit):
                raise InvalidInput(f"{where}.warn must be milder than its threshold.")
        return cls(
            name=check_name_text(
                data.get("name", metric if column is None else f"{metric}:{column}"),
                f"{where}.name",
            ),
            metric=metric,
            column=column,
            above=limit if above is not None else None,
            below=limit if below is not None else None,
            warn=warn,
        )


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret_env: str | None = None
    ca_file: str | None = None
    timeout_s: float = 5.0
    retries: int = 3

    @classmethod
    def from_dict(cls, data: Any) -> WebhookConfig:
        data = as_mapping(data, "alerts.webhook")
        check_fields(data, {f for f in cls.__dataclass_fields__}, "alerts.webhook")
        url = check_name_text(data.get("url"), "alerts.webhook.url", 2048)
        if not url.lower().startswith("https://"):
            raise InvalidInput("alerts.webhook.url must be an https:// URL.")
        secret_env = data.get("secret_env")
        if secret_env is not None and not re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]{0,127}", str(secret_env)
        ):
            raise InvalidInput(
                "alerts.webhook.secret_env must name an environment variable, not "
                f"{shown(secret_env)}."
            )
        ca_file = data.get("ca_file")
        if ca_file is not None:
            ca_file = check_name_text(ca_file, "alerts.webhook.ca_file", 4096)
        retries = data.get("retries", 3)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise InvalidInput(f"alerts.webhook.retries must be 0 to 10, not {shown(retries)}.")
        return cls(
            url=url,
            secret_env=secret_env,
            ca_file=ca_file,
            timeout_s=check_number(data.get("timeout_s", 5.0), "alerts.webhook.timeout_s", 0.1, 60),
            retries=retries,
        )


@dataclass(frozen=True)
class AlertsConfig:
    rules: tuple[AlertRule, ...] = (AlertRule("dataset_drift", "dataset_drift", above=0.5),)
    window: str | None = None
    every: str | None = None
    raise_after: tuple[int, int] = (2, 3)
    clear_after: tuple[int, int] = (2, 3)
    webhook: WebhookConfig | None = None

    @classmethod
    def from_dict(cls, data: Any) -> AlertsConfig:
        data = as_mapping(data, "alerts")
        check_fields(data, {"rules", "window", "every", "raise", "clear", "webhook"}, "alerts")
        rules_data = data.get("rules")
        rules = cls().rules
        if rules_data is not None:
            if not isinstance(rules_data, list) or len(rules_data) > MAX_RULES:
                raise InvalidInput(f"alerts.rules must be a list of at most {MAX_RULES} rules.")
            rules = tuple(
                AlertRule.from_dict(r, f"alerts.rules[{i}]") for i, r in enumerate(rules_data)
            )
            names = [r.name for r in rules]
            if len(set(names)) != len(names):
                raise InvalidInput("alerts.rules: two rules have one name.")
        window = data.get("window")
        every = data.get("every")
        for key, value in (("window", window), ("every", every)):
            if value is not None:
                parse_duration(value, f"alerts.{key}")
        webhook = data.get("webhook")
        return cls(
            rules=rules,
            window=None if window is None else str(window),
            every=None if every is None else str(every),
            raise_after=_m_of_n(data.get("raise", [2, 3]), "alerts.raise"),
            clear_after=_m_of_n(data.get("clear", [2, 3]), "alerts.clear"),
            webhook=None if webhook is None else WebhookConfig.from_dict(webhook),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": [{k: v for k, v in asdict(r).items() if v is not None} for r in self.rules],
            "window": self.window,
            "every": self.every,
            "raise": list(self.raise_after),
            "clear": list(self.clear_after),
            "webhook": None if self.webhook is None else asdict(self.webhook),
        }


@dataclass(frozen=True)
class MonitorConfig:
    drift: DriftConfig = field(default_factory=DriftConfig)
    window: str = DEFAULT_WINDOW  # the default window: a duration
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

    @property
    def window_ms(self) -> int:
        return parse_duration(self.window)

    @classmethod
    def from_dict(cls, data: Any) -> MonitorConfig:
        """Check a configuration (a mapping, YAML text, or None for the defaults)."""
        if isinstance(data, str):
            data = load_yaml(data, "The monitoring configuration")
        data = as_mapping(data, "The monitoring configuration")
        check_fields(data, {"drift", "window", "alerts"}, "The monitoring configuration")
        window = data.get("window", DEFAULT_WINDOW)
        parse_duration(window, "window")
        return cls(
            drift=DriftConfig.from_dict(data.get("drift")),
            window=str(window),
            alerts=AlertsConfig.from_dict(data.get("alerts")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "drift": asdict(self.drift),
            "window": self.window,
            "alerts": self.alerts.to_dict(),
        }
