"""The continuous-training controller: the scheduler's job that closes the loop.

On each tick of the scheduler that leads (so one process acts), for every model with a
policy:

1. **Triggers.** New ``monitor.alert`` events of the model (read past the policy's cursor,
   claimed by compare-and-set as schedule triggers are) whose rule and level the policy
   names, and the policy's own cron schedule, each ask for a retrain. The guardrails answer,
   in this order: a loop already under way is *joined* (one retrain in flight per model); an
   alert raised by the version a loop just promoted, within the cooldown, is a *suspected
   loop* (recorded, surfaced, nothing started: the retrained model did not fix it); a retrain
   within the cooldown, or the day's cap reached, *skips* it; a dry-run policy records what
   would have run. Otherwise the data is resolved, a loop recorded, and the retraining
   pipeline launched in its own process with a run id chosen here.
2. **Loops under way.** A loop whose pipeline failed ends ``failed`` (the alert stays; the
   cooldown applies; nothing is promoted). One whose pipeline finished without deciding
   (no ``promote:`` step) has its candidates judged here (:func:`.promote.promote_best`). A
   candidate waiting for approval is deployed once it has them. A pipeline that never
   appeared (the scheduler stopped between recording the loop and launching it) is launched
   again under the same run id, once: a second process cannot create the run twice.
3. **Rollouts.** A candidate on trial is judged (:mod:`.rollout`) and promoted — the
   server follows its stage or alias and switches by itself — or rolled back.

Every step is a ``ct.step`` event on the model's timeline; decisions and rollouts are on the
registry's audit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..client.ct_config import CtPolicy
from ..entities import MONITOR_ALERT_EVENT, CtLoop, RunStatus
from ..exceptions import MlopsError, NotFound
from ..pipelines.launch import launch_pipeline
from ..pipelines.options import RunOptions
from ..pipelines.spec import Pipeline
from .data import drifted_summary, resolve_data
from .promote import ACTOR, Candidate, Decision, approvals_missing, deploy, move_to, promote_best
from .rollout import judge

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import Event
    from ..store.base import StoredPolicy

log = logging.getLogger("jupyter_mlops.ct")

DAY_MS = 86_400_000
# A launched pipeline writes its run within seconds; after this long without it, the
# launch is taken as lost (the scheduler stopped in between) and done again, once.
START_GRACE_MS = 120_000

Launcher = Callable[[str, RunOptions], object]


def _launch(client: Client) -> Launcher:
    def launch(path: str, options: RunOptions) -> object:
        return launch_pipeline(client, path, options)

    return launch


class ContinuousTraining:
    """The scheduler job (``job(now_ms)``) that runs every model's continuous-training
    policy. ``launch`` starts a pipeline run ``(path, options)``; by default its own
    ``jupyter-mlops pipelines run`` process."""

    def __init__(self, client: Client, *, launch: Launcher | None = None) -> None:
        self.client = client
        self.launch = launch or _launch(client)

    def __call__(self, now: int) -> None:
        self.tick(now)

    def tick(self, now: int) -> None:
        for record in self.client.ct_policies():
            try:
                policy = CtPolicy.from_dict(record.config)
                if policy.enabled:
                    self._triggers(record, policy, now)
            except Exception:  # one model's broken policy must not stop the others
                log.exception("continuous training of %s failed", record.name)
        for loop in self.client.list_ct_loops(active=True, limit=1000):
            try:
                self._progress(loop, now)
            except Exception:
                log.exception("loop %s of %s failed to move on", loop.id, loop.name)

    # -- triggers ---------------------------------------------------------------------------

    def _triggers(self, record: StoredPolicy, policy: CtPolicy, now: int) -> None:
        client = self.client
        found = client.events_after(record.event_cursor, MONITOR_ALERT_EVENT, record.name)
        if found and client.claim_ct_events(record, found[-1].id):
            for event in found:
                payload = event.payload
                if policy.trigger.matches(str(payload.get("rule")), str(payload.get("state"))):
                    self.trigger(record.name, policy, _alert_trigger(event), now)
        due = record.next_run_time
        if policy.trigger.schedule and due is not None and due <= now:
            from ..client.schedules import next_fire_time

            after = next_fire_time(policy.trigger.schedule, policy.trigger.timezone, now)
            if client.claim_ct_schedule(record, after):  # its due time, as this tick read it
                trigger = {"kind": "schedule", "cron": policy.trigger.schedule, "due": due}
                self.trigger(record.name, policy, trigger, now)

    def trigger(
        self, name: str, policy: CtPolicy, trigger: dict[str, Any], now: int
    ) -> CtLoop | None:
        """Ask for a retrain of ``name``; the guardrails decide. The loop started, or None
        when the request was joined, skipped or suppressed (each recorded)."""
        client = self.client
        what = _describe(trigger)
        guard = policy.guardrails
        active = client.list_ct_loops(name, active=True, limit=1)
        if active:
            loop = active[0]
            client.update_ct_loop(
                loop.id,
                (loop.state,),
                step="joined",
                summary=f"{what} joined the retrain under way",
                detail={"trigger": trigger},
                joined=loop.joined + 1,
            )
            return None
        recent = [
            loop
            for loop in client.list_ct_loops(
                name, limit=200, since=now - max(DAY_MS, guard.cooldown_ms)
            )
            if not loop.dry_run and loop.trigger.get("kind") != "manual"
        ]
        version = trigger.get("version")
        for loop in recent:
            if (
                trigger.get("kind") == "alert"
                and loop.outcome == "promoted"
                and version is not None
                and loop.candidate == version
                and loop.ended_at is not None
                and now - loop.ended_at < guard.cooldown_ms
            ):
                client.record_ct_step(
                    name,
                    loop.id,
                    "loop_suspected",
                    f"{what} was raised by version {version}, which this loop promoted "
                    f"{(now - loop.ended_at) / 1000:.0f} s ago: retraining again would "
                    "likely not fix it, so nothing was started",
                    trigger=trigger,
                )
                log.warning("%s: suspected retraining loop (version %s)", name, version)
                return None
        last = next((loop for loop in recent if loop.ended_at is not None), None)
        if (
            last is not None
            and last.ended_at is not None
            and now - last.ended_at < guard.cooldown_ms
        ):
            left = (guard.cooldown_ms - (now - last.ended_at)) / 1000
            client.record_ct_step(
                name, None, "skipped",
                f"{what} skipped: cooldown of {guard.cooldown} after the last retrain "
                f"({left:.0f} s left)",
                trigger=trigger, reason="cooldown",
            )  # fmt: skip
            return None
        today = [loop for loop in recent if loop.created_at >= now - DAY_MS]
        if len(today) >= guard.max_per_day:
            client.record_ct_step(
                name, None, "skipped",
                f"{what} skipped: {len(today)} retrains in the last 24 h, the most allowed "
                f"({guard.max_per_day})",
                trigger=trigger, reason="daily_cap",
            )  # fmt: skip
            return None
        return self._start(name, policy, trigger, what, now)

    def _start(
        self, name: str, policy: CtPolicy, trigger: dict[str, Any], what: str, now: int
    ) -> CtLoop:
        client = self.client
        loop_id = uuid.uuid4().hex
        params = dict(policy.params)
        data: dict[str, Any] = {}
        try:
            if policy.data is not None:
                path, data = resolve_data(client, name, policy.data, loop_id, now, trigger)
                params[policy.data.param] = path
            pipeline = Pipeline.from_yaml(policy.pipeline).with_params(params)
            pipeline.validate()
        except MlopsError as exc:
            return client.create_ct_loop(
                name, trigger=trigger, pipeline_path=policy.pipeline, params=params,
                loop_id=loop_id, state="failed", outcome="failed", reason=exc.message,
                summary=f"{what}: the retrain could not start: {exc.message}",
            )  # fmt: skip
        if policy.guardrails.dry_run:
            return client.create_ct_loop(
                name, trigger=trigger, pipeline_path=policy.pipeline, params=params,
                loop_id=loop_id, state="dry_run", dry_run=True, outcome="would_retrain",
                reason="dry run",
                summary=f"{what}: dry run: would run {pipeline.name} ({_data_text(data)})",
            )  # fmt: skip
        run_id = uuid.uuid4().hex
        loop = client.create_ct_loop(
            name, trigger=trigger, pipeline_path=policy.pipeline, params=params,
            loop_id=loop_id, pipeline_run_id=run_id,
            summary=f"{what}: retraining with {pipeline.name} ({_data_text(data)})",
        )  # fmt: skip
        self._run_pipeline(loop, pipeline.name)
        return loop

    def _run_pipeline(self, loop: CtLoop, pipeline_name: str) -> None:
        assert loop.pipeline_run_id is not None
        options = RunOptions(
            params=loop.params, run_id=loop.pipeline_run_id, trigger=f"ct:{loop.id}"
        )
        try:
            self.launch(loop.pipeline_path, options)
        except Exception as exc:
            message = exc.message if isinstance(exc, MlopsError) else str(exc)
            self._fail(loop, "pipeline_failed", f"the pipeline could not be started: {message}",
                       message)  # fmt: skip
            return
        self.client.update_ct_loop(
            loop.id, ("training",), step="pipeline_started",
            summary=f"pipeline {pipeline_name} started (run {loop.pipeline_run_id[:8]})",
            detail={"run_id": loop.pipeline_run_id, "pipeline": pipeline_name},
        )  # fmt: skip

    def _fail(self, loop: CtLoop, step: str, summary: str, reason: str, **more: Any) -> None:
        """End a loop still training as ``failed``: the alert stays, the cooldown applies."""
        self.client.update_ct_loop(
            loop.id, ("training",), step=step, summary=summary, state="failed",
            outcome="failed", reason=reason, **more,
        )  # fmt: skip

    # -- loops under way --------------------------------------------------------------------

    def _progress(self, loop: CtLoop, now: int) -> None:
        if loop.state == "training":
            self._training(loop, now)
        elif loop.state == "approval":
            self._approval(loop)
        elif loop.state == "rollout":
            self._rollout(loop, now)

    def _training(self, loop: CtLoop, now: int) -> None:
        client = self.client
        if loop.pipeline_run_id is None:  # a manual promotion deciding right now
            return
        try:
            run = client.get_run(loop.pipeline_run_id)
        except NotFound:
            if now - loop.updated_at < START_GRACE_MS:
                return
            if loop.trigger.get("relaunched"):
                self._fail(loop, "pipeline_failed",
                           "the pipeline never started (twice); see the pipeline logs",
                           "the pipeline never started")  # fmt: skip
                return
            moved = client.update_ct_loop(
                loop.id, ("training",), step="resumed",
                summary="the pipeline had not started (the scheduler stopped?): launching it again",
                trigger={**loop.trigger, "relaunched": True},
            )  # fmt: skip
            if moved is not None:
                self._run_pipeline(moved, "the retraining pipeline")
            return
        status = run.info.status
        if status == RunStatus.RUNNING.value:
            return
        seconds = (run.info.duration_ms or 0) / 1000
        if status != RunStatus.FINISHED.value:
            error = run.info.error_value
            reason = f"pipeline run {run.id[:8]} {status.lower()} after {seconds:.1f} s" + (
                f": {error}" if error else ""
            )
            self._fail(loop, "pipeline_failed", reason, reason,
                       detail={"run_id": run.id, "status": status},
                       audit={"action": "ct_decision", "to_value": "failed", "reason": reason,
                              "actor": ACTOR})  # fmt: skip
            return
        moved = client.update_ct_loop(
            loop.id, ("training",), step="pipeline_finished",
            summary=f"pipeline run {run.id[:8]} finished in {seconds:.1f} s without a promote "
            "step: judging its candidates",
            detail={"run_id": run.id},
        )  # fmt: skip
        if moved is None:
            return
        try:
            promote_best(client, loop.name, run_id=run.id, loop=moved)
        except MlopsError as exc:
            self._fail(loop, "decision", f"no decision: {exc.message}", exc.message)

    def _approval(self, loop: CtLoop) -> None:
        client = self.client
        if loop.candidate is None or approvals_missing(client, loop.name, loop.candidate):
            return
        policy = client.get_ct_policy(loop.name)
        if policy is None:
            return
        report = client.reusable_gate_report(loop.name, loop.candidate)
        decision = Decision(
            name=loop.name, action="approved", metric=policy.promote.metric or "",
            chosen=loop.candidate, champion=loop.champion, candidates=[], reason="",
            loop_id=loop.id,
        )  # fmt: skip
        best = Candidate(loop.candidate, True, None, None if report is None else report.sha256)
        client.update_ct_loop(
            loop.id, ("approval",), step="approved",
            summary=f"version {loop.candidate} has its approvals",
        )  # fmt: skip
        deploy(client, loop, decision, best, policy.promote, policy.rollout, "approved", None)

    def _rollout(self, loop: CtLoop, now: int) -> None:
        client = self.client
        rollout = client.active_rollout(loop.name)
        if rollout is None or rollout.loop_id != loop.id:
            ended = next(
                (r for r in client.list_rollouts(loop.name, 20) if r.loop_id == loop.id), None
            )
            outcome = (
                "promoted" if ended is not None and ended.state == "promoted" else "rolled_back"
            )
            client.update_ct_loop(
                loop.id, ("rollout",), step="ended",
                summary=f"the rollout ended elsewhere ({ended.state if ended else 'gone'})",
                state="done", outcome=outcome,
            )  # fmt: skip
            return
        verdict = judge(client, rollout, now)
        stats = verdict.stats()
        if verdict.action == "wait":
            client.save_rollout_stats(rollout.id, stats)
            return
        if verdict.action == "rollback":
            client.end_rollout(rollout.id, "rolled_back", verdict.reason, stats=stats, actor=ACTOR)
            client.update_ct_loop(
                loop.id, ("rollout",), step="rolled_back",
                summary=f"version {rollout.candidate} rolled back: {verdict.reason}",
                state="done", outcome="rolled_back", reason=verdict.reason,
                audit={"action": "ct_decision", "version": rollout.candidate,
                       "to_value": "rolled_back", "reason": verdict.reason, "actor": ACTOR},
            )  # fmt: skip
            return
        move_to(client, loop.name, rollout.candidate, rollout.target, verdict.reason, ACTOR)
        client.end_rollout(rollout.id, "promoted", verdict.reason, stats=stats, actor=ACTOR)
        client.update_ct_loop(
            loop.id, ("rollout",), step="promoted",
            summary=f"version {rollout.candidate} took {rollout.target}: {verdict.reason}",
            state="done", outcome="promoted", reason=verdict.reason,
        )  # fmt: skip


def _alert_trigger(event: Event) -> dict[str, Any]:
    p = event.payload
    return {
        "kind": "alert",
        "event_id": event.id,
        "at": event.created_at,
        "rule": p.get("rule"),
        "metric": p.get("metric"),
        "state": p.get("state"),
        "value": p.get("value"),
        "threshold": p.get("threshold"),
        "version": p.get("version"),
        "window_start": p.get("window_start"),
        "window_end": p.get("window_end"),
        "levels": p.get("levels"),
        "drifted_columns": drifted_summary(p)[:20],
    }


def _describe(trigger: dict[str, Any]) -> str:
    kind = trigger.get("kind")
    if kind == "alert":
        value = trigger.get("value")
        shown = "n/a" if value is None else f"{value:.3g}"
        text = f"alert {trigger.get('rule')} ({trigger.get('metric')} {shown})"
        if trigger.get("version") is not None:
            text += f" on version {trigger['version']}"
        return text
    if kind == "schedule":
        return f"schedule {trigger.get('cron')}"
    return str(kind or "a request")


def _data_text(data: dict[str, Any]) -> str:
    if "dataset" in data:
        return f"dataset {data['dataset']}"
    if "traffic" in data:
        return f"{data['rows']} labelled rows of the last {data['traffic']} of traffic"
    return "its own data"
