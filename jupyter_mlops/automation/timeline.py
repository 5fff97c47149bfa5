"""A model's continuous-training timeline: each loop from the alert that started it to the
server answering with the new version, every step with its time, so the loop's latency and
where it went are visible.

Drawn from the event log (the alert, the loop's ``ct.step`` events, registrations, stage and
alias moves, rollouts, server switches) and the pipeline run's own record (its steps and
their durations). Used by ``jupyter-mlops models timeline``, the REST API and the panel.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..entities import (
    CT_STEP_EVENT,
    MODEL_ALIAS_EVENT,
    MODEL_ROLLOUT_EVENT,
    MODEL_SERVER_EVENT,
    MODEL_VERSION_EVENT,
    MONITOR_ALERT_EVENT,
)
from ..exceptions import NotFound
from ..pipelines import records
from .data import alert_windows
from .promote import descendants

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import CtLoop, Event

# How long after a loop's decision its server switch is still looked for.
SWITCH_HORIZON_MS = 24 * 3_600_000


@dataclass
class Entry:
    at: int  # ms since the epoch
    kind: str  # alert, triggered, pipeline, step, candidates, decision, stage, rollout, server...
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoopTimeline:
    loop: dict[str, Any]
    entries: list[Entry]
    started_at: int  # the alert (or the trigger) that started it
    switched_at: int | None  # a server answered with the new version
    ended_at: int | None
    parts: dict[str, float | None]  # seconds: detection, pipeline, gates, trial, switch

    @property
    def total_s(self) -> float | None:
        end = self.switched_at or self.ended_at
        return None if end is None else (end - self.started_at) / 1000

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_s"] = self.total_s
        return out


def timelines(
    client: Client, name: str, *, loop_id: str | None = None, limit: int = 5
) -> list[LoopTimeline]:
    """The timelines of ``name``'s newest ``limit`` loops (or of one loop), newest first."""
    if loop_id is not None:
        loop = client.get_ct_loop(loop_id)
        if loop.name != name:
            raise NotFound(f"Loop {loop_id} is not one of model {name}'s.")
        loops = [loop]
    else:
        loops = client.list_ct_loops(name, limit=limit)
    if not loops:
        return []
    oldest = min(loop.created_at for loop in loops)
    alert_times = [int(loop.trigger.get("at") or loop.created_at) for loop in loops]
    events = client.timeline_events(name, since=max(0, min([oldest, *alert_times]) - 1000))
    return [_timeline(client, loop, events) for loop in loops]


def _timeline(client: Client, loop: CtLoop, events: list[Event]) -> LoopTimeline:
    entries: list[Entry] = []
    trigger = loop.trigger
    start = loop.created_at
    alert_id = trigger.get("event_id")
    for event in events:
        if event.type == MONITOR_ALERT_EVENT and event.id == alert_id:
            start = event.created_at
            entries.append(
                Entry(event.created_at, "alert", _alert_text(event.payload), dict(event.payload))
            )
    mine = [e for e in events if e.type == CT_STEP_EVENT and e.payload.get("loop_id") == loop.id]
    for event in mine:
        p = event.payload
        by = f" (by {p['by']})" if p.get("by") else ""
        entries.append(
            Entry(event.created_at, str(p.get("step")), str(p.get("summary", "")) + by,
                  {k: v for k, v in p.items() if k not in ("loop_id", "step", "summary")})
        )  # fmt: skip
    run_entries, pipeline_s = _pipeline(client, loop)
    entries += run_entries
    decided = next((e.created_at for e in mine if e.payload.get("step") == "decision"), None)
    window_end = (loop.ended_at or int(time.time() * 1000)) + SWITCH_HORIZON_MS
    switched_at = None
    chosen = loop.candidate
    # The stage or alias move that gave the chosen version its place (after any trial): a
    # server answering with it from then on is the switch.
    promoted_at = next(
        (
            e.created_at
            for e in events
            if e.type == MODEL_ALIAS_EVENT
            and chosen is not None
            and e.payload.get("version") == chosen
            and loop.created_at <= e.created_at <= window_end
            and (decided is None or e.created_at >= decided)
        ),
        None,
    )
    runs = descendants(client, loop.pipeline_run_id) if loop.pipeline_run_id else set()
    for event in events:
        if not loop.created_at <= event.created_at <= window_end:
            continue
        p = event.payload
        if event.type == MODEL_VERSION_EVENT and p.get("run_id") in runs:
            entries.append(
                Entry(
                    event.created_at,
                    "registered",
                    f"version {p.get('version')} registered",
                    dict(p),
                )
            )
        elif event.type == MODEL_ALIAS_EVENT and chosen is not None and p.get("version") == chosen:
            what = p.get("stage") or f"@{p.get('alias')}"
            entries.append(Entry(event.created_at, "stage", f"version {chosen} → {what}", dict(p)))
        elif (
            event.type == MODEL_ROLLOUT_EVENT
            and p.get("candidate") == chosen
            and chosen is not None
        ):
            entries.append(
                Entry(
                    event.created_at,
                    "rollout",
                    f"trial of version {chosen}: {p.get('state')}",
                    dict(p),
                )
            )
        elif (
            event.type == MODEL_SERVER_EVENT
            and chosen is not None
            and loop.outcome == "promoted"
            and p.get("version") == chosen
            and switched_at is None
            and event.created_at >= (promoted_at or decided or 0)
        ):
            switched_at = event.created_at
            server = str(p.get("server_id", ""))[:8]
            text = f"server {server} answers with version {chosen}"
            entries.append(Entry(event.created_at, "server", text, dict(p)))
    entries.sort(key=lambda e: e.at)
    parts: dict[str, float | None] = {
        "detection_s": _detection(trigger, start),
        "pipeline_s": pipeline_s,
        "gates_s": None,
        "trial_s": None,
        "switch_s": None,
    }
    tried = any(e.kind == "rollout" for e in entries)
    if tried and promoted_at is not None and decided is not None:
        parts["trial_s"] = round((promoted_at - decided) / 1000, 3)
    since = promoted_at or decided
    if switched_at is not None and since is not None:
        parts["switch_s"] = round((switched_at - since) / 1000, 3)
    judged = [e for e in entries if e.kind == "candidates"]
    if judged:
        parts["gates_s"] = _gates_seconds(client, judged[0])
    return LoopTimeline(loop.to_dict(), entries, start, switched_at, loop.ended_at, parts)


def _detection(trigger: dict[str, Any], alerted: int) -> float | None:
    """Seconds from the start of the windows that raised the alert (the drift's onset, as
    its rule saw it) to the alert."""
    windows = alert_windows(trigger) if trigger.get("kind") == "alert" else None
    if windows is None:
        return None
    return round(max(0, alerted - windows[0]) / 1000, 3)


def _gates_seconds(client: Client, entry: Entry) -> float | None:
    """How long the gates ran for this loop: the durations of the reports it made (one it
    reused ran for an earlier loop, and took no time here)."""
    total = 0.0
    found = False
    for candidate in entry.detail.get("candidates") or []:
        sha = candidate.get("report")
        if not sha:
            continue
        if candidate.get("reused"):
            found = True
            continue
        try:
            report = client.get_gate_report(sha)
        except NotFound:
            continue
        found = True
        total += float(report.report.get("duration_s") or 0.0)
    return round(total, 3) if found else None


def _pipeline(client: Client, loop: CtLoop) -> tuple[list[Entry], float | None]:
    """The pipeline run's start, each step's end with its duration, and the run's end."""
    if not loop.pipeline_run_id:
        return [], None
    try:
        run = client.get_run(loop.pipeline_run_id)
    except NotFound:
        return [], None
    name = records.pipeline_name(run) or run.info.experiment_name
    started = f"pipeline {name} run {run.id[:8]} started"
    entries = [Entry(run.info.start_time, "pipeline", started, {"run_id": run.id})]
    for step in sorted(client.child_runs(run.id), key=lambda r: r.info.start_time):
        if step.info.end_time is None:
            continue
        took = (step.info.duration_ms or 0) / 1000
        cached = " (cached)" if records.cached_from(step) else ""
        status = step.info.status.lower()
        detail = {"run_id": step.id, "status": step.info.status, "duration_s": took}
        text = f"step {step.info.name} {status}{cached} in {took:.1f} s"
        entries.append(Entry(step.info.end_time, "step", text, detail))
    if run.info.end_time is None:
        return entries, None
    total = round((run.info.duration_ms or 0) / 1000, 3)
    text = f"pipeline run {run.id[:8]} {run.info.status.lower()} in {total:.1f} s"
    detail = {"run_id": run.id, "status": run.info.status, "duration_s": total}
    entries.append(Entry(run.info.end_time, "pipeline", text, detail))
    return entries, total


def _alert_text(p: dict[str, Any]) -> str:
    value = p.get("value")
    shown = "n/a" if value is None else f"{value:.3g}"
    columns = [str(d.get("column")) for d in p.get("drifted_columns") or []]
    text = (
        f"alert {p.get('rule')}: {p.get('metric')} {shown} "
        f"{'>' if p.get('direction') == 'above' else '<'} {p.get('threshold')} "
        f"on version {p.get('version')} ({p.get('previous')} → {p.get('state')})"
    )
    if columns:
        text += f"; drifted: {', '.join(columns[:8])}{' …' if len(columns) > 8 else ''}"
    return text


def timeline_text(items: list[LoopTimeline]) -> str:
    """The timelines as a terminal shows them."""
    if not items:
        return "No continuous-training loop yet."
    blocks = []
    for item in items:
        loop = item.loop
        total = item.total_s
        head = (
            f"loop {loop['id'][:8]} · {loop['name']} · {loop['state']}"
            f"{' · ' + loop['outcome'] if loop.get('outcome') else ''}"
            f"{' · version ' + str(loop['candidate']) if loop.get('candidate') else ''}"
        )
        if total is not None:
            source = "alert" if item.entries and item.entries[0].kind == "alert" else "trigger"
            end = "the new version answering" if item.switched_at else "its end"
            head += f" · {total:.1f} s from {source} to {end}"
        lines = [head]
        for entry in item.entries:
            offset = (entry.at - item.started_at) / 1000
            clock = time.strftime("%H:%M:%S", time.localtime(entry.at / 1000))
            lines.append(f"  {offset:+8.1f} s  {clock}  {entry.kind:<16} {entry.summary}")
        parts = {k: v for k, v in item.parts.items() if v is not None}
        if parts:
            lines.append("  parts: " + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in parts.items()))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
