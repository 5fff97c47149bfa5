"""The model registry: named models whose versions are logged models, moved through stages
(None → Staging → Production → Archived) and pointed at by aliases, every decision on an
append-only, hash-chained audit record. The Client's registry domain.

Uses ``self.store`` as a :class:`~jupyter_mlops.store.base.RegistryStore`. Who acted is the
OS user unless the caller says otherwise (``actor=``: the server passes the Jupyter user).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..entities import (
    STAGES,
    AuditBreak,
    AuditEntry,
    GateReport,
    ModelAlias,
    ModelApproval,
    ModelVersion,
    RegisteredModel,
    canonical_sha256,
)
from ..exceptions import Conflict, InvalidInput, NotFound, shown
from .base import ClientBase
from .gates import config_sha256, parse_gates
from .validation import MAX_NAME, check_int, check_json, check_text, now_ms, validate_key

if TYPE_CHECKING:
    from ..entities import LoggedModel

MODELS_SCHEME = "models:/"
_HISTORY_ACTIONS = frozenset(
    {"register", "stage", "force", "set_alias", "delete_alias", "delete_version"}
)
_STAGE_BY_LOWER = {stage.lower(): stage for stage in STAGES}
MAX_REASON = 10_000
MAX_CARD_TEXT = 100_000
MAX_REPORT_BYTES = 4 * 1024 * 1024


class PromotionBlocked(Conflict):
    """A stage move that a gate or the approvals forbid; ``blockers`` says each reason. Pass
    ``force=True`` with a reason to override (audited)."""

    code = "PROMOTION_BLOCKED"

    def __init__(self, message: str, blockers: list[str], report: GateReport | None = None) -> None:
        super().__init__(message)
        self.blockers = blockers
        self.report = report  # the gate report the move would have relied on

    def to_dict(self) -> dict[str, Any]:
        """The 409 body: each blocker, and the gate report (with its numbers) it relied on."""
        return {
            **super().to_dict(),
            "blockers": list(self.blockers),
            "report": None if self.report is None else self.report.to_dict(),
        }


def shown_gate_report(
    model: RegisteredModel, version: ModelVersion, reports: list[GateReport]
) -> tuple[GateReport | None, bool]:
    """The report that speaks for ``version`` and whether it is current: the newest made for
    its bytes and ``model``'s gate configuration as they are now (what a stage move relies
    on), else its newest one. ``reports``: newest first; other versions' are skipped."""
    own = [r for r in reports if r.version == version.version]
    wanted = config_sha256(model.gates)
    for report in own:
        if report.model_sha256 == version.sha256 and report.config_sha256 == wanted:
            return report, True
    return (own[0] if own else None), False


def canonical_stage(stage: Any) -> str:
    """A stage in its canonical spelling, whatever the case it was given in."""
    found = _STAGE_BY_LOWER.get(stage.lower()) if isinstance(stage, str) else None
    if found is None:
        raise InvalidInput(f"Unknown stage {shown(stage)}: use one of {', '.join(STAGES)}.")
    return found


def validate_alias(alias: Any) -> str:
    """An alias: a valid key that cannot be read as a stage or a version number."""
    validate_key(alias, "alias")
    if alias.lower() in _STAGE_BY_LOWER or alias.lower() == "latest" or alias.isdigit():
        raise InvalidInput(
            f"Alias {shown(alias)} would be read as a stage or a version; choose a name "
            "such as champion or challenger."
        )
    return str(alias)


def _epoch_ms(at: Any) -> int:
    """A point in time as milliseconds since the epoch."""
    given = at
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(check_text(at, "A time", 64, empty=False))
        except ValueError:
            raise InvalidInput(
                f"Time {shown(at)} is not ISO 8601 (for example 2026-11-24T09:30)."
            ) from None
    if isinstance(at, datetime):
        try:
            return int(at.timestamp() * 1000)
        except (OverflowError, OSError, ValueError):  # before 1970 on some platforms, year 1
            raise InvalidInput(f"Time {shown(given)} is outside the range of the audit.") from None
    return check_int(at, "A time in milliseconds since the epoch", 0)


def _version_number(version: Any) -> int:
    if isinstance(version, str) and version.isdigit() and len(version) <= 18:
        version = int(version)
    return check_int(version, "A model version", 1)


def _reason(reason: Any) -> str | None:
    return None if reason is None else check_text(reason, "A reason", MAX_REASON)


def _tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"Model tags must be a mapping of name: text, got {shown(tags)}.")
    return {
        validate_key(k, "tag"): check_text(v, f"Tag {k!r}", MAX_NAME * 4) for k, v in tags.items()
    }


class RegistryMixin(ClientBase):
    if TYPE_CHECKING:

        def get_logged_model(self, ref: str) -> LoggedModel: ...

    @staticmethod
    def _actor(actor: str | None) -> str:
        if actor is None:
            from ..capture import user

            return user()
        return check_text(actor, "An actor", MAX_NAME, empty=False)

    def create_registered_model(
        self,
        name: str,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        required_approvals: int = 0,
        *,
        actor: str | None = None,
    ) -> RegisteredModel:
        """Create a registered model (Conflict when the name exists); ``register_model``
        creates one by itself when it is missing."""
        return self.store.create_registered_model(
            validate_key(name, "model"),
            check_text(description or "", "A model description"),
            _tags(tags),
            check_int(required_approvals, "required_approvals", 0, 100),
            self._actor(actor),
            now_ms(),
        )

    def update_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        required_approvals: int | None = None,
        intended_use: str | None = None,
        limitations: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> RegisteredModel:
        """Change a registered model's description, tags (replaced), the approvals it needs
        before Production, or its model card's intended use and limitations. Audited."""
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = check_text(description, "A model description")
        if tags is not None:
            changes["tags"] = _tags(tags)
        if required_approvals is not None:
            changes["required_approvals"] = check_int(
                required_approvals, "required_approvals", 0, 100
            )
        if intended_use is not None:
            changes["intended_use"] = check_text(intended_use, "intended_use", MAX_CARD_TEXT)
        if limitations is not None:
            changes["limitations"] = check_text(limitations, "limitations", MAX_CARD_TEXT)
        return self.store.update_registered_model(
            validate_key(name, "model"), changes, self._actor(actor), _reason(reason), now_ms()
        )

    def set_model_gates(
        self, name: str, config: Any, *, reason: str | None = None, actor: str | None = None
    ) -> RegisteredModel:
        """Configure ``name``'s validation gates (a mapping or YAML text; see
        :mod:`jupyter_mlops.client.gates`), or remove them with None. Audited."""
        gates = parse_gates(config)
        return self.store.update_registered_model(
            validate_key(name, "model"),
            {"gates": gates},
            self._actor(actor),
            _reason(reason),
            now_ms(),
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.records.get_registered_model(validate_key(name, "model"))

    def list_registered_models(self) -> list[RegisteredModel]:
        return self.store.list_registered_models()

    def register_model(
        self,
        source: str,
        name: str,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register a logged model (``runs:/<run_id>/<model name>`` or a logged-model id) as
        the next version of ``name``, which is created when missing. ``description`` is the
        version's; ``tags`` are merged into the registered model's."""
        validate_key(name, "model")
        logged = self.get_logged_model(source)
        return self.store.create_model_version(
            name,
            logged,
            check_text(description or "", "A version description"),
            _tags(tags),
            self._actor(actor),
            now_ms(),
        )

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self.records.get_model_version(validate_key(name, "model"), _version_number(version))

    def search_model_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first (NotFound for an unknown name)."""
        self.get_registered_model(name)
        return self.records.list_model_versions(name)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The newest version of ``name`` in each stage (of ``stages``, when given)."""
        wanted = None if stages is None else {canonical_stage(s) for s in stages}
        latest: dict[str, ModelVersion] = {}
        for version in self.search_model_versions(name):
            if wanted is None or version.stage in wanted:
                latest[version.stage] = version
        return sorted(latest.values(), key=lambda v: v.version)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        *,
        archive_existing: bool = True,
        reason: str | None = None,
        force: bool = False,
        actor: str | None = None,
    ) -> ModelVersion:
        """Move a version to ``stage`` (any case). Into Production, the version(s) already
        there are archived unless ``archive_existing`` is False.

        A stage guarded by gates needs a passing report for the version's bytes and the
        current configuration (``jupyter_mlops.registry.validate`` makes one, and
        ``registry.promote`` validates then moves); Production needs the model's required
        approvals. Otherwise :class:`PromotionBlocked` is raised, unless ``force`` is True
        with a ``reason``: the override is audited with the report it overrode."""
        name = validate_key(name, "model")
        number = _version_number(version)
        stage = canonical_stage(stage)
        why = _reason(reason)
        current = self.get_model_version(name, number)
        if current.stage == stage:  # nothing moves, so nothing needs allowing
            return current
        blockers, report = self.promotion_blockers(name, number, stage)
        if blockers and not force:
            raise PromotionBlocked(
                f"{name}/{number} may not enter {stage}: "
                + " ".join(b if b.endswith(".") else f"{b}." for b in blockers)
                + " To override, force it with a reason (audited).",
                blockers,
                report,
            )
        if blockers and not (why and why.strip()):
            raise InvalidInput("A forced stage move needs a reason: it is written on the audit.")
        return self.store.transition_stage(
            name,
            number,
            stage,
            bool(archive_existing),
            self._actor(actor),
            why,
            now_ms(),
            report_sha256=None if report is None else report.sha256,
            forced=why if blockers else None,
        )

    def set_model_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        reason: str | None = None,
        *,
        actor: str | None = None,
    ) -> ModelAlias:
        """Point ``alias`` at ``version`` of ``name``, creating or moving it."""
        return self.store.set_alias(
            validate_key(name, "model"),
            validate_alias(alias),
            _version_number(version),
            self._actor(actor),
            _reason(reason),
            now_ms(),
        )

    def delete_model_alias(
        self, name: str, alias: str, reason: str | None = None, *, actor: str | None = None
    ) -> None:
        self.store.delete_alias(
            validate_key(name, "model"),
            validate_alias(alias),
            self._actor(actor),
            _reason(reason),
            now_ms(),
        )

    def delete_model_version(
        self, name: str, version: int | str, reason: str | None = None, *, actor: str | None = None
    ) -> None:
        """Delete a version (not while it is in Production or an alias points at it). Its
        number is not reused and its audit entries and gate reports stay. Audited."""
        self.store.delete_version(
            validate_key(name, "model"),
            _version_number(version),
            self._actor(actor),
            _reason(reason),
            now_ms(),
        )

    def get_model_aliases(self, name: str) -> list[ModelAlias]:
        return self.store.list_aliases(validate_key(name, "model"))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        found = self.records.get_alias(validate_key(name, "model"), validate_alias(alias))
        return self.records.get_model_version(name, found.version)

    def resolve_model_uri(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names: ``models:/churn@champion`` (an alias),
        ``models:/churn/Production`` (the newest version in a stage), ``models:/churn/3``
        or ``models:/churn/latest``."""
        check_text(uri, "A model URI", 1024, empty=False)
        if not uri.startswith(MODELS_SCHEME):
            raise InvalidInput(
                f"Model URI {shown(uri)} must start with models:/ (models:/churn@champion, "
                "models:/churn/Production or models:/churn/3)."
            )
        rest = uri[len(MODELS_SCHEME) :]
        if "@" in rest:
            name, _, alias = rest.rpartition("@")
            return self.get_model_version_by_alias(name, alias)
        name, _, ref = rest.rpartition("/")
        if not name or not ref:
            raise InvalidInput(
                f"Model URI {shown(uri)} names no version: add @alias, /stage or /number "
                "(models:/churn@champion, models:/churn/Production, models:/churn/3)."
            )
        validate_key(name, "model")
        if ref.isdigit():
            return self.get_model_version(name, ref)
        if ref.lower() == "latest":
            versions = self.search_model_versions(name)
            if not versions:
                raise NotFound(f"Model {shown(name)} has no version yet.")
            return versions[-1]
        stage = canonical_stage(ref)
        found = self.records.latest_in_stage(name, stage)
        if found is None:
            self.get_registered_model(name)
            raise NotFound(f"Model {shown(name)} has no version in stage {stage}.")
        return found

    def model_history(self, name: str) -> list[AuditEntry]:
        """What moved ``name``'s stages and aliases, oldest first: its registrations, stage
        moves and alias changes, from the audit."""
        self.get_registered_model(name)
        return [e for e in self.model_audit(name) if e.action in _HISTORY_ACTIONS]

    def holders_at(self, name: str, at: Any) -> dict[str, int | None]:
        """Every stage, and every alias ``name`` ever had, with the version that held it at
        time ``at`` (None: nothing did), from one replay of the audit. A stage is held by the
        newest version in it, as ``models:/name/Stage`` resolves. ``at``: milliseconds since
        the epoch, a datetime (a naive one is local time) or ISO 8601 text."""
        when = _epoch_ms(at)
        history = self.model_history(name)
        stages: dict[int, str] = {}
        held: dict[str, int | None] = {e.alias: None for e in history if e.alias}
        for entry in history:
            if entry.at > when:
                break
            if entry.action == "register" and entry.version is not None:
                stages[entry.version] = "None"
            elif entry.action == "stage" and entry.version is not None and entry.to_value:
                stages[entry.version] = entry.to_value
            elif entry.action == "delete_version" and entry.version is not None:
                stages.pop(entry.version, None)
            elif entry.alias and entry.action in ("set_alias", "delete_alias"):
                held[entry.alias] = int(entry.to_value) if entry.to_value else None
        for stage in STAGES:
            versions = [version for version, now in stages.items() if now == stage]
            held[stage] = max(versions) if versions else None
        return held

    def model_at(self, name: str, stage_or_alias: str, at: Any) -> ModelVersion | None:
        """The version of ``name`` that held a stage or an alias at time ``at`` (see
        :meth:`holders_at`); None when nothing held it then. The version is returned as it
        is now (its stage may have moved on since)."""
        stage = (
            _STAGE_BY_LOWER.get(stage_or_alias.lower()) if isinstance(stage_or_alias, str) else None
        )
        what = stage if stage is not None else validate_alias(stage_or_alias)
        version = self.holders_at(name, at).get(what)
        return None if version is None else self.get_model_version(name, version)

    def model_audit_heads(self) -> dict[str, int]:
        """Each model's newest audit ``seq``: it changes with every registration, move,
        approval, gate run or edit of that model, so a view knows when to read it again."""
        return self.store.audit_heads()

    def model_audit(self, name: str | None = None) -> list[AuditEntry]:
        """The registry's audit entries (of one model, when given), oldest first."""
        return self.store.audit_entries(None if name is None else validate_key(name, "model"))

    def verify_model_audit(self) -> AuditBreak | None:
        """Where the audit's hash chain is broken: the first entry edited or following a
        removed one, or entries removed from its end; None when it is intact."""
        return self.store.verify_audit()

    # Approvals ------------------------------------------------------------------------------
    def approve_model_version(
        self, name: str, version: int | str, reason: str | None = None, *, actor: str | None = None
    ) -> ModelApproval:
        """Approve a version for Production. Refused (Conflict) for the person who
        registered it, whose approval would not count, and for a second approval by the same
        person."""
        return self.store.approve_version(
            validate_key(name, "model"),
            _version_number(version),
            self._actor(actor),
            _reason(reason),
            now_ms(),
        )

    def get_model_approvals(
        self, name: str, version: int | str | None = None
    ) -> list[ModelApproval]:
        """The approvals of ``name``'s versions (of one, when given), oldest first."""
        number = None if version is None else _version_number(version)
        return self.store.list_approvals(validate_key(name, "model"), number)

    # Gate reports ---------------------------------------------------------------------------
    def save_gate_report(
        self,
        name: str,
        version: int | str,
        report: Mapping[str, Any],
        *,
        model_sha256: str,
        config_sha256: str,
        actor: str | None = None,
    ) -> GateReport:
        """Store the report of a gate run with its version (``registry.validate`` makes it).
        It passed when every gate in ``report["gates"]`` passed; an audit entry cites its
        sha256."""
        doc = check_json(report, "A gate report", max_bytes=MAX_REPORT_BYTES)
        gates = doc.get("gates") if isinstance(doc, dict) else None
        if not isinstance(gates, list) or not all(
            isinstance(g, dict) and isinstance(g.get("gate"), str) and "passed" in g for g in gates
        ):
            raise InvalidInput("A gate report holds gates: [{gate, passed, ...}, ...].")
        found = self.get_model_version(name, version)
        return self.store.save_gate_report(
            GateReport(
                sha256=canonical_sha256(doc),
                name=found.name,
                version=found.version,
                model_sha256=check_text(model_sha256, "model_sha256", 64, empty=False),
                config_sha256=check_text(config_sha256, "config_sha256", 64, empty=False),
                passed=all(bool(g["passed"]) for g in gates),
                created_at=now_ms(),
                created_by=self._actor(actor),
                report=doc,
            )
        )

    def get_gate_reports(self, name: str, version: int | str | None = None) -> list[GateReport]:
        """The gate reports of ``name``'s versions (of one, when given), newest first."""
        number = None if version is None else _version_number(version)
        return self.records.gate_reports(validate_key(name, "model"), number)

    def get_gate_report(self, sha256: str) -> GateReport:
        return self.store.get_gate_report(check_text(sha256, "A report sha256", 64, empty=False))

    def reusable_gate_report(self, name: str, version: int | str) -> GateReport | None:
        """The newest report made for this version's bytes and ``name``'s current gate
        configuration: what a stage move relies on instead of running the gates again."""
        model = self.get_registered_model(name)
        found = self.get_model_version(name, version)
        report, current = shown_gate_report(
            model, found, self.records.gate_reports(found.name, found.version)
        )
        return report if current else None

    def promotion_blockers(
        self, name: str, version: int | str, stage: str
    ) -> tuple[list[str], GateReport | None]:
        """Why ``version`` may not enter ``stage`` now (empty: it may), and the gate report
        the move would rely on."""
        model = self.get_registered_model(name)
        found = self.get_model_version(name, version)
        stage = canonical_stage(stage)
        blockers: list[str] = []
        report = None
        if model.gates and stage in model.gates["stages"]:
            report = self.reusable_gate_report(name, found.version)
            ref = f"{found.name}/{found.version}"
            if report is None:
                blockers.append(
                    f"{stage} is guarded by gates and {ref} has no report for its current "
                    f"bytes and gate configuration: validate it first (jupyter-mlops models "
                    f"validate {ref})."
                )
            elif not report.passed:
                blockers.extend(
                    f"gate {g['gate']} failed: {g.get('summary', '')}".rstrip(": ")
                    for g in report.gates
                    if not g.get("passed")
                )
        if stage == "Production" and model.required_approvals:
            approvers = {a.actor for a in self.store.list_approvals(found.name, found.version)}
            approvers.discard(found.created_by)
            if len(approvers) < model.required_approvals:
                blockers.append(
                    f"Production needs {model.required_approvals} approval(s) by someone other "
                    f"than {found.created_by}, who registered it; it has {len(approvers)}."
                )
        return blockers, report
