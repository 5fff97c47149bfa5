"""A model's continuous-training policy: what starts a retrain, what it trains on, how its
candidates are chosen and promoted, how the server switches, and the guardrails.

The Client checks a policy here, field by field (naming the field), and stores it with the
registered model; ``automation/`` runs it. As YAML or a dict (only ``pipeline`` is
required)::

    pipeline: retrain/pipeline.yaml   # the retraining pipeline (relative to the policy file)
    params: {epochs: 20}              # its parameters, over the pipeline's own
    trigger:
      alerts: [drift, quality]        # the monitoring rules whose alert starts a retrain
                                      #   (default: any rule of the model)
      schedule: "0 3 * * 1"           # and/or a cron schedule (in timezone, default UTC)
      timezone: Europe/Paris
    data:                             # what it trains on, given as pipeline parameter `param`
      dataset: churn-train            #   the newest version of a named dataset (its file)
      # traffic: 24h                  #   or the traffic of the last 24 h joined with labels,
                                      #   or `alert`: of the windows that raised the alert
                                      #   (but the first, which may straddle the onset)
      # target: churned               #   the label column's name there (default: the gates')
      param: data
    promote:
      mode: auto                      # auto, or approval: waits for the registry's approvals
      metric: f1                      # the best passing candidate by this metric on the
                                      #   holdout (default: the gates' champion metric)
      to: Production                  # a stage, or an alias: "@champion"
    rollout:
      mode: canary                    # direct, shadow (a copy of the traffic) or canary
      share: 0.1                      # canary: the share of requests the candidate answers
      min_requests: 200               # requests the candidate must answer before a verdict
      timeout: 1h                     # no verdict by then: rolled back (or on_timeout)
      max_error_rate_increase: 0.01   # rolled back when worse than the champion by more
      max_latency_increase: 0.5       #   (p95, relative: 0.5 is 50 % slower)
      max_quality_drop: 0.02          #   (accuracy or 1 - error, once min_labels arrive)
      min_labels: 50
    guardrails:
      cooldown: 1h                    # no retrain within this long after one ended
      max_per_day: 3                  # at most this many retrains in 24 h
      dry_run: false                  # record what would have happened, do nothing
    enabled: true

A second trigger while a retrain runs joins it; an alert raised by the version a retrain just
promoted, within the cooldown, is recorded as a suspected loop and starts nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ..entities import STAGES
from ..exceptions import InvalidInput, shown
from .monitor_config import (
    as_mapping,
    check_fields,
    check_name_text,
    check_number,
    parse_duration,
)
from .validation import check_json_object, load_yaml, validate_key

__all__ = [
    "PROMOTE_MODES",
    "ROLLOUT_MODES",
    "CtPolicy",
    "DataSource",
    "Guardrails",
    "PromotePolicy",
    "RolloutPolicy",
    "Trigger",
]

PROMOTE_MODES: Final = ("auto", "approval")
ROLLOUT_MODES: Final = ("direct", "shadow", "canary")
ON_TIMEOUT: Final = ("rollback", "promote")
TRIGGER_LEVELS: Final = ("alert", "warn")
MAX_PER_DAY: Final = 1000
# data.traffic: the windows whose values raised the alert (from the drift's onset), not a
# fixed span; a schedule's retrain then takes the last day.
ALERT_WINDOWS: Final = "alert"


def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            f"{what} must be a whole number from {low} to {high}, not {shown(value)}."
        )
    return int(value)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false, not {shown(value)}.")
    return value


def _choice(value: Any, what: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInput(f"{what} must be one of {', '.join(choices)}, not {shown(value)}.")
    return str(value)


def _duration(value: Any, what: str) -> str:
    parse_duration(value, what)
    return str(value)


@dataclass(frozen=True)
class Trigger:
    alerts: tuple[str, ...] = ()  # rule names; empty: any rule of the model
    level: str = "alert"  # the level that triggers: alert, or warn (warn and alert)
    schedule: str | None = None  # a cron expression
    timezone: str = "UTC"

    def matches(self, rule: str, state: str) -> bool:
        """Whether a rule entering ``state`` starts a retrain."""
        loud = state == "alert" or (self.level == "warn" and state == "warn")
        return loud and (not self.alerts or rule in self.alerts)

    @classmethod
    def from_dict(cls, data: Any) -> Trigger:
        data = as_mapping(data, "trigger")
        check_fields(data, {"alerts", "level", "schedule", "timezone"}, "trigger")
        alerts = data.get("alerts") or []
        if isinstance(alerts, str):
            alerts = [alerts]
        if not isinstance(alerts, list) or len(alerts) > 100:
            raise InvalidInput(
                f"trigger.alerts must be a list of monitoring rule names, not {shown(alerts)}."
            )
        schedule = data.get("schedule")
        timezone = data.get("timezone", "UTC")
        if schedule is not None:
            from .schedules import next_fire_time

            next_fire_time(check_name_text(schedule, "trigger.schedule"), timezone, 0)
        return cls(
            alerts=tuple(check_name_text(a, "trigger.alerts[]") for a in alerts),
            level=_choice(data.get("level", "alert"), "trigger.level", TRIGGER_LEVELS),
            schedule=None if schedule is None else " ".join(str(schedule).split()),
            timezone=check_name_text(timezone, "trigger.timezone", 64),
        )


@dataclass(frozen=True)
class DataSource:
    dataset: str | None = None  # the newest version of this dataset
    # or the recorded traffic of this window (or "alert": of the windows that raised the
    # alert), joined with labels
    traffic: str | None = None
    target: str | None = None  # the label column in the traffic's table
    param: str = "data"  # the pipeline parameter that receives the file's path

    @classmethod
    def from_dict(cls, data: Any) -> DataSource | None:
        if data is None:
            return None
        data = as_mapping(data, "data")
        check_fields(data, {"dataset", "traffic", "target", "param"}, "data")
        dataset, traffic = data.get("dataset"), data.get("traffic")
        if (dataset is None) == (traffic is None):
            raise InvalidInput(
                "data needs one of dataset (the newest version of a named dataset) or traffic "
                "(a window of recorded requests joined with their labels, e.g. traffic: 24h)."
            )
        if dataset is not None:
            validate_key(dataset, "dataset")
        target = data.get("target")
        return cls(
            dataset=dataset,
            traffic=None
            if traffic is None
            else traffic
            if traffic == ALERT_WINDOWS
            else _duration(traffic, "data.traffic"),
            target=None if target is None else check_name_text(target, "data.target"),
            param=validate_key(data.get("param", "data"), "pipeline parameter"),
        )


@dataclass(frozen=True)
class PromotePolicy:
    mode: str = "auto"
    metric: str | None = None
    to: str = "Production"  # a stage, or "@alias"

    @property
    def alias(self) -> str | None:
        return self.to[1:] if self.to.startswith("@") else None

    @classmethod
    def from_dict(cls, data: Any) -> PromotePolicy:
        data = as_mapping(data, "promote")
        check_fields(data, {"mode", "metric", "to"}, "promote")
        metric = data.get("metric")
        if metric is not None:
            from .gates import METRICS

            metric = _choice(metric, "promote.metric", tuple(METRICS))
        to = data.get("to", "Production")
        if isinstance(to, str) and to.startswith("@"):
            from .registry import validate_alias

            validate_alias(to[1:])
        else:
            stages = {s.lower(): s for s in STAGES if s not in ("None", "Archived")}
            if not isinstance(to, str) or to.lower() not in stages:
                raise InvalidInput(
                    f"promote.to must be Staging, Production or an alias (@champion), not "
                    f"{shown(to)}."
                )
            to = stages[to.lower()]
        return cls(
            mode=_choice(data.get("mode", "auto"), "promote.mode", PROMOTE_MODES),
            metric=metric,
            to=to,
        )


@dataclass(frozen=True)
class RolloutPolicy:
    mode: str = "direct"
    share: float = 0.1
    min_requests: int = 200
    timeout: str = "1h"
    on_timeout: str = "rollback"
    max_error_rate_increase: float = 0.01
    max_latency_increase: float = 0.5
    max_quality_drop: float = 0.02
    min_labels: int = 50

    @property
    def timeout_ms(self) -> int:
        return parse_duration(self.timeout)

    @classmethod
    def from_dict(cls, data: Any) -> RolloutPolicy:
        data = as_mapping(data, "rollout")
        check_fields(data, set(cls.__dataclass_fields__), "rollout")
        d = cls()
        return cls(
            mode=_choice(data.get("mode", d.mode), "rollout.mode", ROLLOUT_MODES),
            share=check_number(data.get("share", d.share), "rollout.share", 0.001, 1.0),
            min_requests=_whole(
                data.get("min_requests", d.min_requests), "rollout.min_requests", 1, 10**9
            ),
            timeout=_duration(data.get("timeout", d.timeout), "rollout.timeout"),
            on_timeout=_choice(
                data.get("on_timeout", d.on_timeout), "rollout.on_timeout", ON_TIMEOUT
            ),
            max_error_rate_increase=check_number(
                data.get("max_error_rate_increase", d.max_error_rate_increase),
                "rollout.max_error_rate_increase",
                0.0,
                1.0,
            ),
            max_latency_increase=check_number(
                data.get("max_latency_increase", d.max_latency_increase),
                "rollout.max_latency_increase",
                0.0,
                1000.0,
            ),
            max_quality_drop=check_number(
                data.get("max_quality_drop", d.max_quality_drop),
                "rollout.max_quality_drop",
                0.0,
                1.0,
            ),
            min_labels=_whole(data.get("min_labels", d.min_labels), "rollout.min_labels", 1, 10**9),
        )


@dataclass(frozen=True)
class Guardrails:
    cooldown: str = "1h"
    max_per_day: int = 3
    dry_run: bool = False

    @property
    def cooldown_ms(self) -> int:
        return parse_duration(self.cooldown)

    @classmethod
    def from_dict(cls, data: Any) -> Guardrails:
        data = as_mapping(data, "guardrails")
        check_fields(data, set(cls.__dataclass_fields__), "guardrails")
        return cls(
            cooldown=_duration(data.get("cooldown", "1h"), "guardrails.cooldown"),
            max_per_day=_whole(
                data.get("max_per_day", 3), "guardrails.max_per_day", 1, MAX_PER_DAY
            ),
            dry_run=_flag(data.get("dry_run", False), "guardrails.dry_run"),
        )


@dataclass(frozen=True)
class CtPolicy:
    pipeline: str
    params: dict[str, Any] = field(default_factory=dict)
    trigger: Trigger = field(default_factory=Trigger)
    data: DataSource | None = None
    promote: PromotePolicy = field(default_factory=PromotePolicy)
    rollout: RolloutPolicy = field(default_factory=RolloutPolicy)
    guardrails: Guardrails = field(default_factory=Guardrails)
    enabled: bool = True

    @classmethod
    def from_dict(cls, data: Any) -> CtPolicy:
        """Check a policy (a mapping or YAML text), naming the first field that is wrong."""
        if isinstance(data, str):
            data = load_yaml(data, "The continuous-training policy")
        data = as_mapping(data, "The continuous-training policy")
        check_fields(data, set(cls.__dataclass_fields__), "The continuous-training policy")
        if data.get("pipeline") is None:
            raise InvalidInput(
                "The continuous-training policy needs the retraining pipeline: "
                "pipeline: path/to/pipeline.yaml."
            )
        source = DataSource.from_dict(data.get("data"))
        params = check_json_object(dict(as_mapping(data.get("params"), "params")), "params")
        if source is not None and source.param in params:
            raise InvalidInput(
                f"params.{source.param} is also the parameter data fills in; remove one."
            )
        return cls(
            pipeline=check_name_text(data["pipeline"], "pipeline", 4096),
            params=params,
            trigger=Trigger.from_dict(data.get("trigger")),
            data=source,
            promote=PromotePolicy.from_dict(data.get("promote")),
            rollout=RolloutPolicy.from_dict(data.get("rollout")),
            guardrails=Guardrails.from_dict(data.get("guardrails")),
            enabled=_flag(data.get("enabled", True), "enabled"),
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["trigger"]["alerts"] = list(self.trigger.alerts)
        if self.data is None:
            out["data"] = None
        return out

    def resolved(self, base_dir: str | os.PathLike[str] | None = None) -> CtPolicy:
        """The same policy with its pipeline's path absolute: a relative one is relative to
        ``base_dir`` (the policy file's folder; default: the working folder)."""
        path = Path(self.pipeline).expanduser()
        if not path.is_absolute():
            path = Path(base_dir or Path.cwd()) / path
        return replace(self, pipeline=str(path.resolve()))

    def to_yaml(self) -> str:
        """The policy as YAML, its unset fields left out (what ``models ct NAME`` shows)."""
        import yaml

        return yaml.safe_dump(compact(self.to_dict()), sort_keys=False, allow_unicode=True)


def compact(value: Any) -> Any:
    """``value`` without the fields that are null or empty, as a person writes a policy."""
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items() if v is not None and v != {} and v != []}
    return value


def parse_policy(config: Mapping[str, Any] | str | None) -> CtPolicy | None:
    """A policy in canonical form (None removes it)."""
    return None if config is None else CtPolicy.from_dict(config)
