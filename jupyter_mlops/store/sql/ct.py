"""Continuous training in the SQL store
(:class:`~jupyter_mlops.store.base.ContinuousTrainingStore`): policies, loops, rollouts.

A loop changes state only by compare-and-set (``UPDATE ... WHERE state IN (:seen)``), so two
schedulers that both believe they lead never act on one loop twice; each change writes its
``ct.step`` event in the same transaction, so the timeline is exactly what happened. Policy
changes, decisions and rollouts also append to the registry's audit chain, under the
registry's write lock.

It extends :class:`~jupyter_mlops.store.sql.registry.RegistryMixin` (its write lock, its
audit chain, its model rows); needs ``_insert_event``
(:class:`~jupyter_mlops.store.sql.events.EventsMixin`) from the class it is mixed into.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import (
    CT_STEP_EVENT,
    LOOP_ACTIVE_STATES,
    MODEL_ROLLOUT_EVENT,
    CtLoop,
    Event,
    Rollout,
)
from ...exceptions import Conflict, InvalidInput, NotFound, shown
from ..base import StoredPolicy
from .records import loop_of, policy_of
from .registry import RegistryMixin
from .schema import ct_loops, ct_policies, events, model_rollouts

_LOOP_FIELDS = tuple(CtLoop.__dataclass_fields__)
_ROLLOUT_FIELDS = tuple(Rollout.__dataclass_fields__)


def _policy(row: Any) -> StoredPolicy:
    return policy_of(row._mapping)


def _loop(row: Any) -> CtLoop:
    return loop_of(row._mapping)


def _rollout(row: Any) -> Rollout:
    values = {f: getattr(row, f) for f in _ROLLOUT_FIELDS}
    values["criteria"] = dict(row.criteria or {})
    values["stats"] = dict(row.stats or {})
    return Rollout(**values)


class ContinuousTrainingMixin(RegistryMixin):
    """Needs the registry's write lock and audit chain (it extends the registry mixin)."""

    # -- policies ---------------------------------------------------------------------------

    def set_ct_policy(
        self,
        name: str,
        config: Mapping[str, Any] | None,
        cursor: int,
        next_run_time: int | None,
        actor: str,
        reason: str | None,
        now_ms: int,
    ) -> StoredPolicy | None:
        t = ct_policies

        def write(conn: Connection) -> StoredPolicy | None:
            self._lock_registry(conn)
            if self._model_row(conn, name) is None:
                raise NotFound(f"No registered model named {shown(name)}.")
            old = conn.execute(sa.select(t).where(t.c.name == name)).first()
            if config is None:
                if old is None:
                    return None
                conn.execute(sa.delete(t).where(t.c.name == name))
                self._audit(conn, now_ms, actor, "set_ct", name, reason=reason)
                return None
            values = {
                "config": dict(config),
                "event_cursor": cursor,
                "next_run_time": next_run_time,
                "updated_at": now_ms,
                "updated_by": actor,
            }
            if old is None:
                conn.execute(sa.insert(t).values(name=name, **values))
            else:
                conn.execute(sa.update(t).where(t.c.name == name).values(**values))
            self._audit(conn, now_ms, actor, "set_ct", name, to_value=_short(config), reason=reason)
            return _policy(conn.execute(sa.select(t).where(t.c.name == name)).one())

        return self._write(write)

    def list_ct_policies(self) -> list[StoredPolicy]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(ct_policies).order_by(ct_policies.c.name)).all()
        return [_policy(r) for r in rows]

    def claim_ct_policy(self, name: str, column: str, seen: Any, value: Any) -> bool:
        if column not in ("event_cursor", "next_run_time"):
            raise InvalidInput(f"cannot claim a policy by {column!r}")
        col = ct_policies.c[column]
        cond = col.is_(None) if seen is None else col == seen
        stmt = (
            sa.update(ct_policies).where(ct_policies.c.name == name, cond).values({column: value})
        )
        return bool(self._write(lambda conn: conn.execute(stmt).rowcount) == 1)

    # -- loops ------------------------------------------------------------------------------

    def create_loop(self, loop: CtLoop, step: Mapping[str, Any], now_ms: int) -> CtLoop:
        def write(conn: Connection) -> None:
            conn.execute(sa.insert(ct_loops).values(**vars(loop)))
            self._insert_event(conn, CT_STEP_EVENT, loop.name, _step(loop.id, step), now_ms)

        self._write(write)
        return loop

    def update_loop(
        self,
        loop_id: str,
        states: Sequence[str],
        values: Mapping[str, Any],
        step: Mapping[str, Any] | None,
        audit: Mapping[str, Any] | None,
        now_ms: int,
    ) -> CtLoop | None:
        unknown = set(values) - set(_LOOP_FIELDS)
        if unknown:
            raise InvalidInput(f"a loop has no field {sorted(unknown)[0]!r}")

        def write(conn: Connection) -> CtLoop | None:
            if audit is not None:
                self._lock_registry(conn)
            stmt = (
                sa.update(ct_loops)
                .where(ct_loops.c.id == loop_id, ct_loops.c.state.in_(list(states)))
                .values(**values, updated_at=now_ms)
            )
            if conn.execute(stmt).rowcount != 1:
                return None
            row = conn.execute(sa.select(ct_loops).where(ct_loops.c.id == loop_id)).one()
            if step is not None:
                self._insert_event(conn, CT_STEP_EVENT, row.name, _step(loop_id, step), now_ms)
            if audit is not None:
                self._audit(
                    conn,
                    now_ms,
                    str(audit["actor"]),
                    str(audit["action"]),
                    row.name,
                    version=audit.get("version"),
                    to_value=audit.get("to_value"),
                    reason=audit.get("reason"),
                    report_sha256=audit.get("report_sha256"),
                )
            return _loop(row)

        return self._write(write)

    def get_loop(self, loop_id: str) -> CtLoop:
        return _loop(self._by_id_prefix(ct_loops, loop_id, "continuous-training loop", "Loop"))

    def list_loops(
        self, name: str | None, limit: int, since: int | None = None, active: bool = False
    ) -> list[CtLoop]:
        t = ct_loops
        stmt = sa.select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
        if name is not None:
            stmt = stmt.where(t.c.name == name)
        if since is not None:
            stmt = stmt.where(t.c.created_at >= since)
        if active:
            stmt = stmt.where(t.c.state.in_(LOOP_ACTIVE_STATES))
        with self.engine.connect() as conn:
            return [_loop(r) for r in conn.execute(stmt)]

    # -- rollouts ---------------------------------------------------------------------------

    def start_rollout(self, rollout: Rollout, step: Mapping[str, Any]) -> Rollout:
        t = model_rollouts

        def write(conn: Connection) -> None:
            self._lock_registry(conn)
            active = conn.execute(
                sa.select(t.c.id, t.c.candidate).where(
                    t.c.name == rollout.name, t.c.state == "active"
                )
            ).first()
            if active is not None:
                raise Conflict(
                    f"Model {shown(rollout.name)} already has a rollout of version "
                    f"{active.candidate} under way ({active.id[:8]}); end it first."
                )
            conn.execute(sa.insert(t).values(**vars(rollout)))
            self._audit(
                conn,
                rollout.started_at,
                rollout.started_by,
                "rollout_start",
                rollout.name,
                version=rollout.candidate,
                to_value=f"{rollout.mode} {rollout.share:g}"
                if rollout.mode == "canary"
                else rollout.mode,
                reason=rollout.reason or None,
            )
            payload = _rollout_event(rollout, "active")
            self._insert_event(conn, MODEL_ROLLOUT_EVENT, rollout.name, payload, rollout.started_at)
            self._insert_event(
                conn, CT_STEP_EVENT, rollout.name, _step(rollout.loop_id, step), rollout.started_at
            )

        self._write(write)
        return rollout

    def end_rollout(
        self,
        rollout_id: str,
        state: str,
        reason: str,
        actor: str,
        stats: Mapping[str, Any] | None,
        step: Mapping[str, Any],
        now_ms: int,
    ) -> Rollout | None:
        t = model_rollouts

        def write(conn: Connection) -> Rollout | None:
            self._lock_registry(conn)
            values: dict[str, Any] = {"state": state, "reason": reason, "ended_at": now_ms}
            if stats is not None:
                values["stats"] = dict(stats)
            stmt = sa.update(t).where(t.c.id == rollout_id, t.c.state == "active").values(values)
            if conn.execute(stmt).rowcount != 1:
                return None
            row = conn.execute(sa.select(t).where(t.c.id == rollout_id)).one()
            self._audit(
                conn, now_ms, actor, "rollout_end", row.name, version=row.candidate,
                to_value=state, reason=reason,
            )  # fmt: skip
            self._insert_event(
                conn, MODEL_ROLLOUT_EVENT, row.name, _rollout_event(row, state), now_ms
            )
            self._insert_event(conn, CT_STEP_EVENT, row.name, _step(row.loop_id, step), now_ms)
            return _rollout(row)

        return self._write(write)

    def save_rollout_stats(self, rollout_id: str, stats: Mapping[str, Any]) -> None:
        t = model_rollouts
        stmt = sa.update(t).where(t.c.id == rollout_id).values(stats=dict(stats))
        self._write(lambda conn: conn.execute(stmt))

    def active_rollout(self, name: str) -> Rollout | None:
        t = model_rollouts
        stmt = sa.select(t).where(t.c.name == name, t.c.state == "active").limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _rollout(row)

    def list_rollouts(self, name: str, limit: int) -> list[Rollout]:
        t = model_rollouts
        stmt = (
            sa.select(t)
            .where(t.c.name == name)
            .order_by(t.c.started_at.desc(), t.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_rollout(r) for r in conn.execute(stmt)]

    def events_of(self, types: Sequence[str], key: str, since: int, limit: int) -> list[Event]:
        stmt = (
            sa.select(events)
            .where(
                events.c.type.in_(list(types)), events.c.key == key, events.c.created_at >= since
            )
            .order_by(events.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                Event(r.id, r.type, r.key, r.payload or {}, r.created_at)
                for r in conn.execute(stmt)
            ]


def _rollout_event(rollout: Any, state: str) -> dict[str, Any]:
    """The ``model.rollout`` event of a rollout (an entity or its row) entering ``state``."""
    return {"rollout_id": rollout.id, "state": state, "candidate": rollout.candidate,
            "mode": rollout.mode, "share": rollout.share}  # fmt: skip


def _step(loop_id: str | None, step: Mapping[str, Any]) -> dict[str, Any]:
    return {"loop_id": loop_id, **step}


def _short(config: Mapping[str, Any]) -> str:
    """What an audit entry says a policy is: its pipeline, promotion and rollout modes."""
    promote = config.get("promote") or {}
    rollout = config.get("rollout") or {}
    guard = config.get("guardrails") or {}
    return (
        f"{config.get('pipeline')}; promote {promote.get('mode')} to {promote.get('to')}; "
        f"rollout {rollout.get('mode')}{'; dry run' if guard.get('dry_run') else ''}"
        f"{'' if config.get('enabled', True) else '; disabled'}"
    )[:2000]
