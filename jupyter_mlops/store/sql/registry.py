"""The model registry in the SQL store (:class:`~jupyter_mlops.store.base.RegistryStore`).

Every write takes the registry's write lock first, then changes rows, appends its audit entry
and writes its events, all in one transaction. The lock is what numbers versions 1, 2, 3...
with no gap or duplicate, and what keeps the audit one chain (each entry's ``prev_hash`` is
the hash of the entry before it, so two writers must never append at once):

- SQLite: ``_write`` opens ``BEGIN IMMEDIATE``, which already holds the database's one write
  lock.
- PostgreSQL: ``LOCK TABLE registry_audit IN EXCLUSIVE MODE``. A ``SELECT ... FOR UPDATE`` on
  the registered model's row would number one model's versions, but writers of two models
  would then append to the audit chain at once and fork it; readers are not blocked.

``registry_audit`` is append-only in the database itself: triggers refuse UPDATE and DELETE
(:data:`AUDIT_GUARDS`, created by migration 0005 and by :func:`create_guards` for a new
store). A change made behind the triggers' back (dropping them first) is found by
:meth:`RegistryMixin.verify_audit`.

Needs from the class it is mixed into: ``engine``, ``dialect`` and ``_write``
(:class:`~jupyter_mlops.store.sql.base.SqlBase`), and ``_insert_event`` (the events mixin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...entities import (
    AUDIT_GENESIS,
    MODEL_ALIAS_EVENT,
    MODEL_VERSION_EVENT,
    AuditBreak,
    AuditEntry,
    GateReport,
    LoggedModel,
    ModelAlias,
    ModelApproval,
    ModelVersion,
    RegisteredModel,
    canonical_json,
)
from ...exceptions import Conflict, NotFound, shown
from .base import SqlBase
from .records import alias_of, no_version, registered_of, report_of, version_of
from .schema import (
    gate_reports,
    model_aliases,
    model_approvals,
    model_versions,
    registered_models,
    registry_audit,
    registry_head,
)

# The registered model's fields ``update_registered_model`` may change.
MODEL_FIELDS = ("description", "tags", "required_approvals", "gates", "intended_use", "limitations")

# The triggers that make registry_audit append-only, per dialect. Migration 0005 holds its own
# frozen copy; a test checks that a new store and a migrated one have the same triggers.
AUDIT_GUARDS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER registry_audit_no_update BEFORE UPDATE ON registry_audit "
        "BEGIN SELECT RAISE(ABORT, 'registry_audit is append-only: UPDATE refused'); END",
        "CREATE TRIGGER registry_audit_no_delete BEFORE DELETE ON registry_audit "
        "BEGIN SELECT RAISE(ABORT, 'registry_audit is append-only: DELETE refused'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION registry_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION USING MESSAGE = "
        "'registry_audit is append-only: ' || TG_OP || ' refused'; END $$",
        "CREATE TRIGGER registry_audit_no_change BEFORE UPDATE OR DELETE ON registry_audit "
        "FOR EACH ROW EXECUTE FUNCTION registry_audit_refuse()",
        "CREATE TRIGGER registry_audit_no_truncate BEFORE TRUNCATE ON registry_audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_refuse()",
    ),
}


def create_guards(conn: Connection) -> None:
    """Create the append-only triggers of ``registry_audit`` (a store created directly)."""
    for statement in AUDIT_GUARDS.get(conn.dialect.name, ()):
        conn.exec_driver_sql(statement)


def _registered(row: Any) -> RegisteredModel:
    return registered_of(row._mapping)


def _version(row: Any) -> ModelVersion:
    return version_of(row._mapping)


def _alias(row: Any) -> ModelAlias:
    return alias_of(row._mapping)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        name=row.name,
        version=row.version,
        alias=row.alias,
        from_value=row.from_value,
        to_value=row.to_value,
        reason=row.reason,
        report_sha256=row.report_sha256,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class RegistryMixin(SqlBase):
    if TYPE_CHECKING:

        def _insert_event(
            self, conn: Connection, type_: str, key: str, payload: Mapping[str, Any], now_ms: int
        ) -> int: ...

    def _lock_registry(self, conn: Connection) -> None:
        """Serialise registry writes (see the module's docstring); SQLite already is."""
        if self.dialect == "postgresql":
            conn.exec_driver_sql("LOCK TABLE registry_audit IN EXCLUSIVE MODE")

    @staticmethod
    def _audit(
        conn: Connection,
        now_ms: int,
        actor: str,
        action: str,
        name: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        from_value: str | None = None,
        to_value: str | None = None,
        reason: str | None = None,
        report_sha256: str | None = None,
    ) -> AuditEntry:
        """Append an entry to the chain and move the chain's head to it (the caller holds
        the registry's write lock)."""
        last = conn.execute(
            sa.select(registry_audit.c.seq, registry_audit.c.hash)
            .order_by(registry_audit.c.seq.desc())
            .limit(1)
        ).first()
        entry = AuditEntry(
            seq=1 if last is None else last.seq + 1,
            at=now_ms,
            actor=actor,
            action=action,
            name=name,
            version=version,
            alias=alias,
            from_value=from_value,
            to_value=to_value,
            reason=reason,
            report_sha256=report_sha256,
            prev_hash=AUDIT_GENESIS if last is None else last.hash,
            hash="",
        )
        entry.hash = entry.expected_hash()
        conn.execute(sa.insert(registry_audit).values(**vars(entry)))
        head = {"seq": entry.seq, "hash": entry.hash}
        if not conn.execute(
            sa.update(registry_head).where(registry_head.c.id == 1).values(head)
        ).rowcount:
            conn.execute(sa.insert(registry_head).values(id=1, **head))
        return entry

    @staticmethod
    def _model_row(conn: Connection, name: str) -> Any:
        return conn.execute(
            sa.select(registered_models).where(registered_models.c.name == name)
        ).first()

    @staticmethod
    def _version_row(conn: Connection, name: str, version: int) -> Any:
        row = conn.execute(
            sa.select(model_versions).where(
                model_versions.c.name == name, model_versions.c.version == version
            )
        ).first()
        if row is None or row.deleted_at is not None:
            raise no_version(name, version, row is not None)
        return row

    def _insert_model(
        self,
        conn: Connection,
        name: str,
        description: str,
        tags: Mapping[str, str],
        required_approvals: int,
        actor: str,
        now_ms: int,
    ) -> None:
        conn.execute(
            sa.insert(registered_models).values(
                name=name,
                description=description,
                tags=dict(tags),
                required_approvals=required_approvals,
                created_at=now_ms,
                updated_at=now_ms,
            )
        )
        self._audit(conn, now_ms, actor, "create_model", name)

    def create_registered_model(
        self,
        name: str,
        description: str,
        tags: Mapping[str, str],
        required_approvals: int,
        actor: str,
        now_ms: int,
    ) -> RegisteredModel:
        def create(conn: Connection) -> RegisteredModel:
            self._lock_registry(conn)
            if self._model_row(conn, name) is not None:
                raise Conflict(f"A registered model named {shown(name)} already exists.")
            self._insert_model(conn, name, description, tags, required_approvals, actor, now_ms)
            return _registered(self._model_row(conn, name))

        return self._write(create)

    def list_registered_models(self) -> list[RegisteredModel]:
        stmt = sa.select(registered_models).order_by(registered_models.c.name)
        with self.engine.connect() as conn:
            return [_registered(r) for r in conn.execute(stmt)]

    def create_model_version(
        self,
        name: str,
        model: LoggedModel,
        description: str,
        tags: Mapping[str, str],
        actor: str,
        now_ms: int,
    ) -> ModelVersion:
        def create(conn: Connection) -> ModelVersion:
            self._lock_registry(conn)
            row = self._model_row(conn, name)
            if row is None:
                self._insert_model(conn, name, "", tags, 0, actor, now_ms)
            elif tags and dict(row.tags or {}, **tags) != (row.tags or {}):
                conn.execute(
                    sa.update(registered_models)
                    .where(registered_models.c.name == name)
                    .values(tags=dict(row.tags or {}, **tags), updated_at=now_ms)
                )
            version = (
                1
                + conn.execute(
                    sa.select(sa.func.coalesce(sa.func.max(model_versions.c.version), 0)).where(
                        model_versions.c.name == name
                    )
                ).scalar_one()
            )
            values = {
                "name": name,
                "version": version,
                "logged_model_id": model.id,
                "run_id": model.run_id,
                "stage": "None",
                "sha256": model.sha256,
                "description": description,
                "created_at": now_ms,
                "created_by": actor,
            }
            conn.execute(sa.insert(model_versions).values(**values))
            self._audit(conn, now_ms, actor, "register", name, version=version, to_value=model.id)
            self._insert_event(
                conn,
                MODEL_VERSION_EVENT,
                name,
                {
                    "version": version,
                    "logged_model_id": model.id,
                    "run_id": model.run_id,
                    "sha256": model.sha256,
                },
                now_ms,
            )
            return ModelVersion(**values)

        return self._write(create)

    def _move_stage(
        self,
        conn: Connection,
        row: Any,
        stage: str,
        actor: str,
        reason: str | None,
        now_ms: int,
        report_sha256: str | None = None,
    ) -> None:
        conn.execute(
            sa.update(model_versions)
            .where(model_versions.c.name == row.name, model_versions.c.version == row.version)
            .values(stage=stage)
        )
        self._audit(
            conn,
            now_ms,
            actor,
            "stage",
            row.name,
            version=row.version,
            from_value=row.stage,
            to_value=stage,
            reason=reason,
            report_sha256=report_sha256,
        )
        self._insert_event(
            conn,
            MODEL_ALIAS_EVENT,
            row.name,
            {"stage": stage, "version": row.version, "from_stage": row.stage},
            now_ms,
        )

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing: bool,
        actor: str,
        reason: str | None,
        now_ms: int,
        report_sha256: str | None = None,
        forced: str | None = None,
    ) -> ModelVersion:
        def move(conn: Connection) -> ModelVersion:
            self._lock_registry(conn)
            row = self._version_row(conn, name, version)
            if row.stage == stage:
                return _version(row)
            if forced is not None:
                self._audit(
                    conn,
                    now_ms,
                    actor,
                    "force",
                    name,
                    version=version,
                    from_value=row.stage,
                    to_value=stage,
                    reason=forced,
                    report_sha256=report_sha256,
                )
            if stage == "Production" and archive_existing:
                current = conn.execute(
                    sa.select(model_versions)
                    .where(
                        model_versions.c.name == name,
                        model_versions.c.stage == stage,
                        model_versions.c.deleted_at.is_(None),
                    )
                    .order_by(model_versions.c.version)
                ).all()
                for old in current:
                    why = f"version {version} moved to Production"
                    self._move_stage(conn, old, "Archived", actor, why, now_ms)
            self._move_stage(conn, row, stage, actor, reason, now_ms, report_sha256)
            return _version(self._version_row(conn, name, version))

        return self._write(move)

    def set_alias(
        self, name: str, alias: str, version: int, actor: str, reason: str | None, now_ms: int
    ) -> ModelAlias:
        def set_(conn: Connection) -> ModelAlias:
            self._lock_registry(conn)
            self._version_row(conn, name, version)
            old = self._alias_row(conn, name, alias)
            if old is not None and old.version == version:
                return _alias(old)
            new = ModelAlias(name, alias, version, now_ms, actor)
            if old is None:
                conn.execute(sa.insert(model_aliases).values(**vars(new)))
            else:
                conn.execute(
                    sa.update(model_aliases)
                    .where(model_aliases.c.name == name, model_aliases.c.alias == alias)
                    .values(version=version, updated_at=now_ms, updated_by=actor)
                )
            self._alias_changed(conn, name, alias, old, version, actor, reason, now_ms, "set_alias")
            return new

        return self._write(set_)

    def record_integrity_failure(
        self, name: str, version: int, actor: str, detail: str, now_ms: int
    ) -> AuditEntry:
        def record(conn: Connection) -> AuditEntry:
            self._lock_registry(conn)
            return self._audit(
                conn, now_ms, actor, "integrity_failure", name, version=version, reason=detail
            )

        return self._write(record)

    def delete_alias(
        self, name: str, alias: str, actor: str, reason: str | None, now_ms: int
    ) -> None:
        def delete(conn: Connection) -> None:
            self._lock_registry(conn)
            old = self._alias_row(conn, name, alias)
            if old is None:
                raise NotFound(f"Model {shown(name)} has no alias {shown(alias)}.")
            conn.execute(
                sa.delete(model_aliases).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            )
            self._alias_changed(conn, name, alias, old, None, actor, reason, now_ms, "delete_alias")

        self._write(delete)

    def _alias_changed(
        self,
        conn: Connection,
        name: str,
        alias: str,
        old: Any,
        version: int | None,
        actor: str,
        reason: str | None,
        now_ms: int,
        action: str,
    ) -> None:
        """The audit entry and the event of an alias set, moved or deleted."""
        from_version = None if old is None else old.version
        self._audit(
            conn,
            now_ms,
            actor,
            action,
            name,
            version=version if version is not None else from_version,
            alias=alias,
            from_value=None if from_version is None else str(from_version),
            to_value=None if version is None else str(version),
            reason=reason,
        )
        self._insert_event(
            conn,
            MODEL_ALIAS_EVENT,
            name,
            {"alias": alias, "version": version, "from_version": from_version},
            now_ms,
        )

    @staticmethod
    def _alias_row(conn: Connection, name: str, alias: str) -> Any:
        return conn.execute(
            sa.select(model_aliases).where(
                model_aliases.c.name == name, model_aliases.c.alias == alias
            )
        ).first()

    def list_aliases(self, name: str) -> list[ModelAlias]:
        stmt = (
            sa.select(model_aliases)
            .where(model_aliases.c.name == name)
            .order_by(model_aliases.c.alias)
        )
        with self.engine.connect() as conn:
            return [_alias(r) for r in conn.execute(stmt)]

    def audit_entries(self, name: str | None = None) -> list[AuditEntry]:
        stmt = sa.select(registry_audit).order_by(registry_audit.c.seq)
        if name is not None:
            stmt = stmt.where(registry_audit.c.name == name)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(stmt)]

    def audit_heads(self) -> dict[str, int]:
        stmt = sa.select(registry_audit.c.name, sa.func.max(registry_audit.c.seq)).group_by(
            registry_audit.c.name
        )
        with self.engine.connect() as conn:
            return {name: int(seq) for name, seq in conn.execute(stmt)}

    def verify_audit(self) -> AuditBreak | None:
        stmt = sa.select(registry_audit).order_by(registry_audit.c.seq)
        expected_seq, prev_hash = 1, AUDIT_GENESIS
        with self.engine.connect() as conn:
            head = conn.execute(sa.select(registry_head)).first()
            for row in conn.execution_options(yield_per=1000).execute(stmt):
                entry = _entry(row)
                if entry.hash != entry.expected_hash():
                    return AuditBreak(entry.seq, "this entry was edited", entry)
                if entry.seq != expected_seq or entry.prev_hash != prev_hash:
                    return AuditBreak(
                        entry.seq, "the entry before this one was edited or removed", entry
                    )
                expected_seq, prev_hash = entry.seq + 1, entry.hash
        last = expected_seq - 1
        if head is not None and (head.seq != last or head.hash != prev_hash):
            if head.seq > last:
                return AuditBreak(
                    last + 1, f"entries {last + 1} to {head.seq} were removed from the end", None
                )
            return AuditBreak(head.seq, "the chain's head was rewritten", None)
        if head is None and last:
            return AuditBreak(last, "the chain's head was removed", None)
        return None

    def update_registered_model(
        self, name: str, changes: Mapping[str, Any], actor: str, reason: str | None, now_ms: int
    ) -> RegisteredModel:
        def update(conn: Connection) -> RegisteredModel:
            self._lock_registry(conn)
            row = self._model_row(conn, name)
            if row is None:
                raise NotFound(f"No registered model named {shown(name)}.")
            before = vars(_registered(row))
            changed = {k: v for k, v in changes.items() if before[k] != v}
            if not changed:
                return _registered(row)
            conn.execute(
                sa.update(registered_models)
                .where(registered_models.c.name == name)
                .values(**changed, updated_at=now_ms)
            )
            if "gates" in changed:
                self._audit(
                    conn,
                    now_ms,
                    actor,
                    "set_gates",
                    name,
                    from_value=_json_or_none(before["gates"]),
                    to_value=_json_or_none(changed.pop("gates")),
                    reason=reason,
                )
            if changed:
                self._audit(
                    conn,
                    now_ms,
                    actor,
                    "update_model",
                    name,
                    from_value=canonical_json({k: before[k] for k in changed}),
                    to_value=canonical_json(changed),
                    reason=reason,
                )
            return _registered(self._model_row(conn, name))

        return self._write(update)

    def approve_version(
        self, name: str, version: int, actor: str, reason: str | None, now_ms: int
    ) -> ModelApproval:
        def approve(conn: Connection) -> ModelApproval:
            self._lock_registry(conn)
            row = self._version_row(conn, name, version)
            if row.created_by == actor:
                raise Conflict(
                    f"{actor} registered {name}/{version}: an approval by the person who "
                    "registered a version does not count; ask someone else to approve it."
                )
            done = conn.execute(
                sa.select(model_approvals.c.at).where(
                    model_approvals.c.name == name,
                    model_approvals.c.version == version,
                    model_approvals.c.actor == actor,
                )
            ).first()
            if done is not None:
                raise Conflict(f"{actor} has already approved {name}/{version}.")
            approval = ModelApproval(name, version, actor, now_ms, reason)
            conn.execute(sa.insert(model_approvals).values(**vars(approval)))
            self._audit(conn, now_ms, actor, "approve", name, version=version, reason=reason)
            return approval

        return self._write(approve)

    def list_approvals(self, name: str, version: int | None = None) -> list[ModelApproval]:
        stmt = sa.select(model_approvals).where(model_approvals.c.name == name)
        if version is not None:
            stmt = stmt.where(model_approvals.c.version == version)
        stmt = stmt.order_by(model_approvals.c.version, model_approvals.c.at)
        with self.engine.connect() as conn:
            return [
                ModelApproval(r.name, r.version, r.actor, r.at, r.reason)
                for r in conn.execute(stmt)
            ]

    def save_gate_report(self, report: GateReport) -> GateReport:
        def save(conn: Connection) -> GateReport:
            self._lock_registry(conn)
            self._version_row(conn, report.name, report.version)
            if conn.execute(
                sa.select(gate_reports.c.sha256).where(gate_reports.c.sha256 == report.sha256)
            ).first():
                return report
            conn.execute(sa.insert(gate_reports).values(**vars(report)))
            failed = report.failed
            self._audit(
                conn,
                report.created_at,
                report.created_by,
                "validate",
                report.name,
                version=report.version,
                to_value="passed" if report.passed else "failed: " + ", ".join(failed),
                report_sha256=report.sha256,
            )
            return report

        return self._write(save)

    def get_gate_report(self, sha256: str) -> GateReport:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(gate_reports).where(gate_reports.c.sha256 == sha256)
            ).first()
        if row is None:
            raise NotFound(f"No gate report with sha256 {shown(sha256)}.")
        return _report(row)

    def delete_version(
        self, name: str, version: int, actor: str, reason: str | None, now_ms: int
    ) -> None:
        def delete(conn: Connection) -> None:
            self._lock_registry(conn)
            row = self._version_row(conn, name, version)
            if row.stage == "Production":
                raise Conflict(
                    f"{name}/{version} is in Production: archive it (or promote another "
                    "version) before deleting it."
                )
            held = [
                r.alias
                for r in conn.execute(
                    sa.select(model_aliases.c.alias).where(
                        model_aliases.c.name == name, model_aliases.c.version == version
                    )
                )
            ]
            if held:
                raise Conflict(
                    f"Alias(es) {', '.join(held)} point at {name}/{version}: move or delete "
                    "them before deleting it."
                )
            conn.execute(
                sa.update(model_versions)
                .where(model_versions.c.name == name, model_versions.c.version == version)
                .values(deleted_at=now_ms)
            )
            self._audit(
                conn,
                now_ms,
                actor,
                "delete_version",
                name,
                version=version,
                from_value=row.stage,
                reason=reason,
            )
            self._insert_event(
                conn,
                MODEL_VERSION_EVENT,
                name,
                {"version": version, "deleted": True, "sha256": row.sha256},
                now_ms,
            )

        self._write(delete)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else canonical_json(value)


def _report(row: Any) -> GateReport:
    return report_of(row._mapping)
