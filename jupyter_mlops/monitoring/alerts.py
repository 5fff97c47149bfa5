"""Alert rules judged window by window, with hysteresis, each change of state an event.

:func:`evaluate_alerts` checks a model's latest complete windows (the partial window now
filling is left for later, so a rule never flaps on a few requests), reads each rule's value
from each window it has not seen yet, and moves the rule's state:

- up (ok → warn → alert) when M of the last N windows with traffic are at that level or
  louder (``alerts.raise``);
- down when M of the last N are below the current state (``alerts.clear``), to the loudest
  level those windows still show.

A change of state is stored with a ``monitor.alert`` event in one transaction (what the
scheduler's triggers and the next issue's retraining read), and POSTed to the configured
webhook. The store refuses a window already evaluated, so two evaluators (the lab's
scheduler and a standalone one) never announce one change twice.

:class:`MonitorJob` is what a scheduler runs on each tick: each model with a monitoring
configuration is evaluated when its ``alerts.every`` has passed.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from ..client.monitor_config import AlertRule, AlertsConfig, WebhookConfig, parse_duration
from ..entities import ALERT_STATES, AlertState
from .check import WindowReport

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["MonitorJob", "evaluate_alerts", "next_state", "rule_value"]

log = logging.getLogger("jupyter_mlops.monitoring")

# Levels kept per rule: enough for any hysteresis configuration.
KEPT_LEVELS: Final = 100
_RANK: Final = {state: rank for rank, state in enumerate(ALERT_STATES)}


def _largest(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def rule_value(rule: AlertRule, window: WindowReport) -> float | None:
    """The value ``rule`` watches in ``window``; None when the window cannot tell."""
    metric = rule.metric
    if metric == "dataset_drift":
        return 1.0 if window.dataset_drift["drifted"] else 0.0
    if metric == "dataset_drift_share":
        return float(window.dataset_drift["share"]) if window.dataset_drift["columns"] else None
    if metric == "column_drift":
        drifts = [d for d in window.drift if rule.column is None or d.column == rule.column]
        return _largest([d.relative for d in drifts])
    if metric == "prediction_drift":
        return None if window.prediction_drift is None else window.prediction_drift.relative
    if metric in ("missing_share", "out_of_range_share", "unseen_share"):
        rows = [q for q in window.data_quality if rule.column is None or q["column"] == rule.column]
        return _largest([q.get(metric) for q in rows])
    ops = window.operations or {}
    if metric == "refused_share":
        total = window.rows + int(ops.get("refused_rows") or 0)
        return (ops.get("refused_rows") or 0) / total if total else None
    if metric in ("p50_ms", "p95_ms", "p99_ms", "error_rate", "request_rate"):
        value = ops.get(metric)
        return None if value is None else float(value)
    quality = window.quality
    if metric.startswith("estimated_"):
        value = (quality.get("estimated") or {}).get(metric.removeprefix("estimated_"))
    else:
        value = (quality.get("realised") or {}).get(metric)
    return None if value is None else float(value)


def next_state(
    current: str, levels: list[str], raise_after: tuple[int, int], clear_after: tuple[int, int]
) -> str:
    """The state after the windows' ``levels`` (oldest first, windows with a value only)."""
    m_raise, n_raise = raise_after
    recent = levels[-n_raise:]
    loud = current
    for state in ("alert", "warn"):
        if sum(_RANK[level] >= _RANK[state] for level in recent) >= m_raise:
            loud = state
            break
    if _RANK[loud] > _RANK[current]:
        return loud
    if current == "ok":
        return current
    m_clear, n_clear = clear_after
    recent = levels[-n_clear:]
    if sum(_RANK[level] < _RANK[current] for level in recent) < m_clear:
        return current
    # Down to the loudest level the calm windows still show.
    calm = [level for level in recent if _RANK[level] < _RANK[current]]
    return max(calm, key=lambda level: _RANK[level])


def _threshold(rule: AlertRule) -> float | None:
    return rule.above if rule.above is not None else rule.below


def _payload(
    rule: AlertRule,
    state: AlertState,
    previous: str,
    window: WindowReport,
    value: float | None,
) -> dict[str, Any]:
    drifted = [
        {"column": d.column, "method": d.method, "score": d.to_dict()["score"]}
        for d in window.drifted_columns
    ]
    return {
        "rule": rule.name,
        "metric": rule.metric,
        "column": rule.column,
        "state": state.state,
        "previous": previous,
        "value": value,
        "threshold": _threshold(rule),
        "direction": "above" if rule.above is not None else "below",
        "warn": rule.warn,
        "window_start": window.start,
        "window_end": window.end,
        "version": state.version,
        "levels": state.levels[-10:],
        "drifted_columns": drifted[:50],
    }


def _complete_windows_until(now_ms: int, size_ms: int) -> int:
    return now_ms - now_ms % size_ms


def evaluate_alerts(
    client: Client, name: str, now_ms: int | None = None, *, background: bool = False
) -> list[AlertState]:
    """Judge ``name``'s alert rules on its complete windows not judged yet; the rules'
    states after it (changes stored with their events and sent to the webhook).

    ``background``: send webhooks on a thread of their own (the scheduler's way: a slow or
    retried receiver must not hold up its tick, and with it the lease it renews); the
    outcome is recorded when the delivery ends. Otherwise each state returned carries its
    delivery's outcome."""
    from .monitor import monitor

    config = client.get_monitor_config(name)
    alerts = config.alerts
    size = parse_duration(alerts.window or config.window, "alerts.window")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    until = _complete_windows_until(now, size)
    span = max(alerts.raise_after[1], alerts.clear_after[1])
    report = monitor(client, name, window=f"{size // 1000}s", windows=span, until=until)
    known = {s.rule: s for s in client.list_alert_states(name)}
    result: list[AlertState] = []
    for rule in alerts.rules:
        current = known.get(rule.name)
        fresh = [
            w
            for w in report.windows
            if w.end is not None
            and (current is None or current.window_end is None or w.end > current.window_end)
        ]
        if not fresh:
            if current is not None:
                result.append(current)
            continue
        result.append(_judge(client, name, rule, alerts, current, fresh, now, background))
    return result


def _judge(
    client: Client,
    name: str,
    rule: AlertRule,
    alerts: AlertsConfig,
    current: AlertState | None,
    fresh: list[WindowReport],
    now: int,
    background: bool = False,
) -> AlertState:
    levels = list(current.levels) if current is not None else []
    value = None
    for window in fresh:
        value = rule_value(rule, window)
        level = rule.level(value)
        if level is not None:
            levels.append(level)
    levels = levels[-KEPT_LEVELS:]
    previous = current.state if current is not None else "ok"
    state_name = next_state(previous, levels, alerts.raise_after, alerts.clear_after)
    last = fresh[-1]
    state = AlertState(
        name=name,
        rule=rule.name,
        state=state_name,
        since=current.since if current is not None and state_name == previous else now,
        updated_at=now,
        value=value,
        window_end=last.end,
        levels=levels,
        version=last.versions[-1] if last.versions else None,
        delivery=current.delivery if current is not None else None,
    )
    payload = _payload(rule, state, previous, last, value)
    saved = client.save_alert_state(state, payload)
    if saved is None:  # another evaluator judged these windows first
        return next((s for s in client.list_alert_states(name) if s.rule == rule.name), state)
    if state_name != previous:
        log.info("%s: rule %s %s -> %s (value %s)", name, rule.name, previous, state_name, value)
        if alerts.webhook is not None:
            send = functools.partial(_send, client, alerts.webhook, name, rule.name, payload)
            if background:
                threading.Thread(target=send, name="mlops-webhook", daemon=True).start()
            else:
                state.delivery = send()
    return state


def _send(
    client: Client, webhook: WebhookConfig, name: str, rule: str, payload: dict[str, Any]
) -> dict[str, Any]:
    from .webhook import deliver

    outcome = deliver(webhook, {"model": name, **payload})
    try:
        client.record_alert_delivery(name, rule, outcome)
    except Exception:  # the store is away: the outcome is in the log at least
        log.exception("recording the webhook delivery of %s/%s failed", name, rule)
    if outcome.get("error"):
        log.warning("webhook for %s/%s: %s", name, rule, outcome["error"])
    return outcome


class MonitorJob:
    """A scheduler's periodic job: evaluate each configured model's alerts when due."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.last_run: dict[str, int] = {}

    def __call__(self, now_ms: int) -> None:
        for name in self.client.monitored_models():
            try:
                config = self.client.get_monitor_config(name)
                every = parse_duration(
                    config.alerts.every or config.alerts.window or config.window, "alerts.every"
                )
                if now_ms - self.last_run.get(name, 0) < every:
                    continue
                self.last_run[name] = now_ms
                evaluate_alerts(self.client, name, now_ms, background=True)
            except Exception:  # one model's trouble must not stop the others
                log.exception("evaluating the alerts of %s failed", name)
