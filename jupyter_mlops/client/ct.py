"""Continuous training's records: the Client's continuous-training domain.

A policy (:mod:`.ct_config`) belongs to a registered model. A loop is one retrain from its
trigger to its end; every step it takes is a ``ct.step`` event (``{"loop_id", "step",
"summary", ...}``), written with the change it records, so a model's timeline is read back
from the event log beside the alerts, stage moves and server switches it interleaves with.
A rollout is a candidate on trial beside the champion (shadow or canary); servers follow its
``model.rollout`` events. ``automation/`` decides; this module records and checks.

Uses ``self.store`` as a :class:`~jupyter_mlops.store.base.ContinuousTrainingStore`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import (
    CT_STEP_EVENT,
    LOOP_STATES,
    MODEL_ALIAS_EVENT,
    MODEL_ROLLOUT_EVENT,
    MODEL_SERVER_EVENT,
    MODEL_VERSION_EVENT,
    MONITOR_ALERT_EVENT,
    ROLLOUT_STATES,
    CtLoop,
    Event,
    Rollout,
)
from ..exceptions import InvalidInput, NotFound, shown
from ..store.base import StoredPolicy
from .base import ClientBase
from .ct_config import CtPolicy
from .validation import (
    check_int,
    check_json_object,
    check_text,
    id_prefix,
    now_ms,
    validate_key,
)

if TYPE_CHECKING:
    from ..entities import RegisteredModel

# What a model's timeline interleaves.
TIMELINE_EVENTS = (
    MONITOR_ALERT_EVENT,
    CT_STEP_EVENT,
    MODEL_VERSION_EVENT,
    MODEL_ALIAS_EVENT,
    MODEL_ROLLOUT_EVENT,
    MODEL_SERVER_EVENT,
)
MAX_LOOPS = 1000
MAX_TIMELINE_EVENTS = 10_000


def _loop_id(loop_id: Any) -> str:
    return id_prefix(loop_id, "loop")


class ContinuousTrainingMixin(ClientBase):
    if TYPE_CHECKING:

        def get_registered_model(self, name: str) -> RegisteredModel: ...

        def last_event_id(self) -> int: ...

        def record_event(
            self, type_: str, key: str, payload: Mapping[str, Any] | None = None
        ) -> Event: ...

        @staticmethod
        def _actor(actor: str | None) -> str: ...

    # -- policies ---------------------------------------------------------------------------

    def set_ct_policy(
        self,
        name: str,
        policy: CtPolicy | Mapping[str, Any] | str | None,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> CtPolicy | None:
        """Store ``name``'s continuous-training policy (a :class:`CtPolicy`, a mapping or
        YAML text; see :mod:`.ct_config`), or remove it with None. Its pipeline path is made
        absolute from ``base_dir`` (the policy file's folder; default: the working folder)
        and must exist. Triggers see only the alerts raised from now on. Audited."""
        validate_key(name, "model")
        if policy is None:
            self.store.set_ct_policy(name, None, 0, None, self._actor(actor), reason, now_ms())
            return None
        parsed = policy if isinstance(policy, CtPolicy) else CtPolicy.from_dict(policy)
        parsed = parsed.resolved(base_dir)
        if not Path(parsed.pipeline).is_file():
            raise NotFound(f"The policy's pipeline {shown(parsed.pipeline)} does not exist.")
        now = now_ms()
        due = None
        if parsed.trigger.schedule is not None:
            from .schedules import next_fire_time

            due = next_fire_time(parsed.trigger.schedule, parsed.trigger.timezone, now)
        self.store.set_ct_policy(
            name,
            parsed.to_dict(),
            self.last_event_id(),
            due,
            self._actor(actor),
            None if reason is None else check_text(reason, "A reason", 10_000),
            now,
        )
        return parsed

    def get_ct_policy(self, name: str) -> CtPolicy | None:
        """``name``'s continuous-training policy, or None."""
        stored = self.records.get_ct_policy(validate_key(name, "model"))
        return None if stored is None else CtPolicy.from_dict(stored.config)

    def ct_policy_record(self, name: str) -> StoredPolicy | None:
        """The stored policy with where its triggers stand (event cursor, next due time)."""
        return self.records.get_ct_policy(validate_key(name, "model"))

    def ct_policies(self) -> list[StoredPolicy]:
        """Every model's stored policy, by model name."""
        return self.store.list_ct_policies()

    def claim_ct_events(self, record: StoredPolicy, cursor: int) -> bool:
        """Move a policy's event cursor on (compare-and-set): True for the one caller that
        handles the events up to ``cursor``."""
        return self.store.claim_ct_policy(record.name, "event_cursor", record.event_cursor, cursor)

    def claim_ct_schedule(self, record: StoredPolicy, next_run_time: int) -> bool:
        """Move a due policy schedule on (compare-and-set), as :meth:`claim_ct_events`."""
        return self.store.claim_ct_policy(
            record.name, "next_run_time", record.next_run_time, next_run_time
        )

    # -- loops ------------------------------------------------------------------------------

    def create_ct_loop(
        self,
        name: str,
        *,
        trigger: Mapping[str, Any],
        pipeline_path: str,
        params: Mapping[str, Any],
        state: str = "training",
        dry_run: bool = False,
        pipeline_run_id: str | None = None,
        reason: str = "",
        summary: str,
        loop_id: str | None = None,
        **outcome: Any,
    ) -> CtLoop:
        """Record a new loop (``loop_id``: chosen by the caller, else a new one) and its
        first step (``triggered``)."""
        validate_key(name, "model")
        if state not in LOOP_STATES:
            raise InvalidInput(f"A loop's state is one of {', '.join(LOOP_STATES)}.")
        now = now_ms()
        loop = CtLoop(
            id=loop_id or uuid.uuid4().hex,
            name=name,
            state=state,
            trigger=check_json_object(dict(trigger), "A loop's trigger"),
            pipeline_path=check_text(pipeline_path, "A pipeline path", 4096),
            pipeline_run_id=pipeline_run_id,
            params=check_json_object(dict(params), "A loop's parameters"),
            dry_run=dry_run,
            created_at=now,
            updated_at=now,
            ended_at=None if state in ("training", "approval", "rollout") else now,
            reason=reason,
            **outcome,
        )
        step = {"step": "triggered", "summary": summary, "trigger": loop.trigger}
        return self.store.create_loop(loop, step, now)

    def update_ct_loop(
        self,
        loop_id: str,
        states: Sequence[str],
        *,
        step: str | None = None,
        summary: str = "",
        detail: Mapping[str, Any] | None = None,
        audit: Mapping[str, Any] | None = None,
        **values: Any,
    ) -> CtLoop | None:
        """Move a loop that is in one of ``states`` (compare-and-set: None when another
        process moved it first), recording ``step`` on its timeline and, when given, an
        audit entry (``action``, ``version``, ``reason``; the actor defaults to the user)."""
        now = now_ms()
        if values.get("state") in ("done", "failed", "dry_run"):
            values.setdefault("ended_at", now)
        entry = None
        if audit is not None:
            entry = {**audit, "actor": self._actor(audit.get("actor"))}
        event = None
        if step is not None:
            event = {
                "step": step,
                "summary": summary,
                **check_json_object(dict(detail or {}), "A step's detail"),
            }
            if entry is not None:  # a decision: who or what made it
                event["by"] = entry["actor"]
        return self.store.update_loop(_loop_id(loop_id), states, values, event, entry, now)

    def record_ct_step(
        self, name: str, loop_id: str | None, step: str, summary: str, **detail: Any
    ) -> Event:
        """A step on ``name``'s timeline that changes no loop (a trigger skipped, a
        manual promotion)."""
        body = check_json_object(
            {"loop_id": loop_id, "step": step, "summary": summary, **detail}, "A step"
        )
        return self.record_event(CT_STEP_EVENT, name, body)

    def get_ct_loop(self, loop_id: str) -> CtLoop:
        """A loop by id or unique id prefix."""
        return self.store.get_loop(_loop_id(loop_id))

    def list_ct_loops(
        self,
        name: str | None = None,
        *,
        limit: int = 50,
        since: int | None = None,
        active: bool = False,
    ) -> list[CtLoop]:
        """Loops, newest first: all, or ``name``'s; started at or after ``since`` (ms);
        only those still under way when ``active``."""
        if name is not None:
            validate_key(name, "model")
        check_int(limit, "limit", 1, MAX_LOOPS)
        return self.store.list_loops(name, limit, since, active)

    def ct_loop_of_run(self, pipeline_run_id: str) -> CtLoop | None:
        """The loop that started this pipeline run, if any."""
        return self.records.loop_of_run(check_text(pipeline_run_id, "A run id", 32))

    # -- rollouts ---------------------------------------------------------------------------

    def start_rollout(
        self,
        name: str,
        candidate: int,
        *,
        mode: str,
        share: float,
        target: str,
        criteria: Mapping[str, Any],
        champion: int | None,
        loop_id: str | None = None,
        reason: str = "",
        actor: str | None = None,
    ) -> Rollout:
        """Put ``candidate`` on trial beside the champion (shadow or canary): every server
        of ``name`` loads it at once. Audited; Conflict while another rollout is active."""
        validate_key(name, "model")
        if mode not in ("shadow", "canary"):
            raise InvalidInput(f"A rollout is shadow or canary, not {shown(mode)}.")
        if mode == "canary" and (
            isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1
        ):
            raise InvalidInput(f"A canary's share is above 0 and at most 1, not {shown(share)}.")
        rollout = Rollout(
            id=uuid.uuid4().hex,
            name=name,
            candidate=check_int(candidate, "A candidate version", 1),
            champion=champion,
            mode=mode,
            share=float(share) if mode == "canary" else 0.0,
            target=check_text(target, "A rollout's target", 300, empty=False),
            criteria=check_json_object(dict(criteria), "A rollout's criteria"),
            state="active",
            started_at=now_ms(),
            started_by=self._actor(actor),
            loop_id=loop_id,
            reason=check_text(reason, "A reason", 10_000),
        )
        what = f"{mode} {share:.0%}" if mode == "canary" else mode
        step = {
            "step": "rollout_started",
            "summary": f"version {candidate} on trial ({what}) beside version {champion}",
            "rollout_id": rollout.id,
            "candidate": candidate,
            "champion": champion,
            "mode": mode,
            "share": rollout.share,
        }
        return self.store.start_rollout(rollout, step)

    def end_rollout(
        self,
        rollout_id: str,
        state: str,
        reason: str,
        *,
        stats: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Rollout | None:
        """End an active rollout (``promoted``, ``rolled_back`` or ``cancelled``); None when
        it had already ended. Audited; servers drop the candidate at once."""
        if state not in ROLLOUT_STATES or state == "active":
            raise InvalidInput(
                f"A rollout ends promoted, rolled_back or cancelled, not {shown(state)}."
            )
        why = check_text(reason, "A reason", 10_000)
        who = self._actor(actor)
        step = {"step": f"rollout_{state}", "summary": why, "rollout_id": rollout_id,
                "stats": dict(stats or {}), "by": who}  # fmt: skip
        return self.store.end_rollout(
            check_text(rollout_id, "A rollout id", 32), state, why, who,
            None if stats is None else check_json_object(dict(stats), "A rollout's figures"),
            check_json_object(step, "A step"), now_ms(),
        )  # fmt: skip

    def save_rollout_stats(self, rollout_id: str, stats: Mapping[str, Any]) -> None:
        self.store.save_rollout_stats(rollout_id, check_json_object(dict(stats), "Figures"))

    def active_rollout(self, name: str) -> Rollout | None:
        """``name``'s rollout under way, if any."""
        return self.store.active_rollout(validate_key(name, "model"))

    def list_rollouts(self, name: str, limit: int = 50) -> list[Rollout]:
        """``name``'s rollouts, newest first."""
        check_int(limit, "limit", 1, MAX_LOOPS)
        return self.store.list_rollouts(validate_key(name, "model"), limit)

    def timeline_events(self, name: str, since: int = 0) -> list[Event]:
        """The events a model's timeline is drawn from (alerts, loop steps, registrations,
        stage and alias moves, rollouts, server changes) from ``since`` (ms), oldest first."""
        check_int(since, "since", 0)
        return self.store.events_of(
            TIMELINE_EVENTS, validate_key(name, "model"), since, MAX_TIMELINE_EVENTS
        )
