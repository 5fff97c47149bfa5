"""REST routes of the model registry's panel: registered models, their versions, stages,
aliases, approvals, validation gates and reports, the model card, and the audit.

Every write is one call of the Client's registry domain (or of ``jupyter_mlops.registry`` for
a stage move and a validation), so the checks and the audit entry are those of a notebook or
the CLI; the actor is the Jupyter user. A model name may hold ``/`` and spaces: clients send
it percent-encoded, the routes take one path segment and tornado decodes it once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from tornado import web

from .. import capture
from ..client.registry import shown_gate_report
from ..entities import ID_RE
from ..exceptions import InvalidInput, NotFound, shown
from .base import MlopsHandler

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import GateReport, ModelAlias

# The stages the model list says which version holds (the newest one in it).
_LISTED_STAGES = ("Staging", "Production")
_MAX_AT = 64


def _report_summary(report: GateReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "sha256": report.sha256,
        "passed": report.passed,
        "created_at": report.created_at,
        "failed": report.failed,
    }


def _aliases_of(aliases: list[ModelAlias], version: int) -> list[str]:
    return [a.alias for a in aliases if a.version == version]


class RegistryHandler(MlopsHandler):
    @property
    def actor(self) -> str:
        """Who acts: the Jupyter user of the request. A shared token names nobody (Jupyter
        Server makes up an "Anonymous <moon>" user with a random id per browser), so then
        it is the account the server runs as, which holds the token: the audit names a
        person either way, and the registrant of a version cannot approve it from a second
        browser."""
        user = self.current_user
        username = str(user.username)
        if str(getattr(user, "name", "")).startswith("Anonymous ") and ID_RE.fullmatch(username):
            return capture.user()
        return username

    def fields(self, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        """The request body, holding only ``allowed`` fields and every ``required`` one."""
        data = self.json_body()
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise InvalidInput(
                f"unknown field(s) {', '.join(shown(k, 40) for k in unknown[:5])}; send "
                f"{', '.join(allowed) if allowed else 'nothing ({})'}"
            )
        missing = [k for k in required if data.get(k) is None]
        if missing:
            raise InvalidInput(f"missing field(s) {', '.join(missing)}")
        return data

    @staticmethod
    def text(data: dict[str, Any], key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{key!r} must be text, got {shown(value)}")
        return value

    @staticmethod
    def flag(data: dict[str, Any], key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise InvalidInput(f"{key!r} must be true or false, got {shown(value)}")
        return value


class ModelsHandler(RegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        def listing(client: Client) -> list[dict[str, Any]]:
            rows = []
            # The newest audit entry of each model: any decision about it (an approval,
            # a gate run) changes its row, so the panel re-reads the model it shows.
            heads = client.model_audit_heads()
            for model in client.list_registered_models():
                versions = client.search_model_versions(model.name)
                # Oldest first: the last one seen in a stage is the newest there.
                newest = {v.stage: v.version for v in versions}
                aliases = client.get_model_aliases(model.name)
                rows.append(
                    {
                        **model.to_dict(),
                        "versions": len(versions),
                        "stages": {stage: newest.get(stage) for stage in _LISTED_STAGES},
                        "aliases": {a.alias: a.version for a in aliases},
                        "audit_seq": heads.get(model.name, 0),
                    }
                )
            return rows

        self.reply({"models": await self.call(listing, self.client)})

    @web.authenticated
    async def post(self) -> None:
        data = self.fields(("source", "name", "description", "tags"), ("source", "name"))
        version = await self.call(
            self.client.register_model,
            self.text(data, "source"),
            self.text(data, "name"),
            self.text(data, "description"),
            data.get("tags"),
            actor=self.actor,
        )
        self.reply(version.to_dict(), status=201)


class ModelHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        def detail(client: Client) -> dict[str, Any]:
            model = client.get_registered_model(name)
            aliases = client.get_model_aliases(model.name)
            approvals = client.get_model_approvals(model.name)
            reports = client.get_gate_reports(model.name)
            versions = [
                {
                    **v.to_dict(),
                    "aliases": _aliases_of(aliases, v.version),
                    "approvals": [a.to_dict() for a in approvals if a.version == v.version],
                    "report": _report_summary(shown_gate_report(model, v, reports)[0]),
                }
                for v in client.search_model_versions(model.name)
            ]
            return {
                "model": model.to_dict(),
                "aliases": [a.to_dict() for a in aliases],
                "versions": versions,
            }

        self.reply(await self.call(detail, self.client))

    @web.authenticated
    async def patch(self, name: str) -> None:
        data = self.fields(
            ("description", "tags", "required_approvals", "intended_use", "limitations", "reason")
        )
        model = await self.call(
            self.client.update_registered_model,
            name,
            description=self.text(data, "description"),
            tags=data.get("tags"),
            required_approvals=data.get("required_approvals"),
            intended_use=self.text(data, "intended_use"),
            limitations=self.text(data, "limitations"),
            reason=self.text(data, "reason"),
            actor=self.actor,
        )
        self.reply(model.to_dict())


class GatesHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        model = await self.call(self.client.get_registered_model, name)
        self.reply({"config": model.gates})

    @web.authenticated
    async def put(self, name: str) -> None:
        data = self.fields(("config", "yaml", "reason"))
        if ("config" in data) == ("yaml" in data):
            raise InvalidInput("send the gates as {config: object|null} or as {yaml: text}")
        config: Any
        if "yaml" in data:
            config = data["yaml"]
            if not isinstance(config, str):
                raise InvalidInput(f"'yaml' must be text, got {shown(config)}")
        else:
            config = data["config"]
            if config is not None and not isinstance(config, dict):
                raise InvalidInput(f"'config' must be an object or null, got {shown(config)}")
        model = await self.call(
            self.client.set_model_gates,
            name,
            config,
            reason=self.text(data, "reason"),
            actor=self.actor,
        )
        self.reply(model.to_dict())


class VersionHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str, version: str) -> None:
        def detail(client: Client) -> dict[str, Any]:
            found = client.get_model_version(name, version)
            return {
                **found.to_dict(),
                "aliases": _aliases_of(client.get_model_aliases(found.name), found.version),
                "approvals": [
                    a.to_dict() for a in client.get_model_approvals(found.name, found.version)
                ],
                "reports": [
                    r.to_dict() for r in client.get_gate_reports(found.name, found.version)
                ],
            }

        self.reply(await self.call(detail, self.client))

    @web.authenticated
    async def delete(self, name: str, version: str) -> None:
        reason = self.text_arg("reason", 10_000)
        await self.call(self.client.delete_model_version, name, version, reason, actor=self.actor)
        self.set_status(204)
        self.finish()


class StageHandler(RegistryHandler):
    @web.authenticated
    async def post(self, name: str, version: str) -> None:
        from ..registry import promote

        data = self.fields(("stage", "reason", "force", "archive_existing"), ("stage",))
        stage = self.text(data, "stage") or ""
        reason = self.text(data, "reason")
        force = self.flag(data, "force", False)
        archive_existing = self.flag(data, "archive_existing", True)
        moved = await self.call(
            promote,
            self.client,
            name,
            version,
            stage,
            archive_existing=archive_existing,
            reason=reason,
            force=force,
            actor=self.actor,
        )
        self.reply(moved.to_dict())


class ApproveHandler(RegistryHandler):
    @web.authenticated
    async def post(self, name: str, version: str) -> None:
        data = self.fields(("reason",))
        approval = await self.call(
            self.client.approve_model_version,
            name,
            version,
            self.text(data, "reason"),
            actor=self.actor,
        )
        self.reply(approval.to_dict(), status=201)


class ValidateHandler(RegistryHandler):
    @web.authenticated
    async def post(self, name: str, version: str) -> None:
        from ..registry import validate

        self.fields(())

        def run(client: Client, actor: str) -> GateReport:
            found = client.get_model_version(name, version)
            if not client.get_registered_model(found.name).gates:
                raise InvalidInput(
                    f"Model {shown(found.name)} has no validation gates: configure them first."
                )
            return validate(client, found.name, found.version, actor=actor)

        report = await self.call(run, self.client, self.actor)
        self.reply(report.to_dict())


class LineageHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str, version: str) -> None:
        self.reply(await self.call(self.client.model_lineage, name, version))


class CardHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str, version: str) -> None:
        from ..registry.card import model_card_markdown

        self.reply({"markdown": await self.call(model_card_markdown, self.client, name, version)})


class ReportHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str, sha256: str) -> None:
        def report(client: Client) -> GateReport:
            model = client.get_registered_model(name)
            found = client.get_gate_report(sha256)
            if found.name != model.name:
                raise NotFound(f"Model {shown(model.name)} has no gate report {shown(sha256)}.")
            return found

        self.reply((await self.call(report, self.client)).to_dict())


class AliasHandler(RegistryHandler):
    @web.authenticated
    async def put(self, name: str, alias: str) -> None:
        data = self.fields(("version", "reason"), ("version",))
        found = await self.call(
            self.client.set_model_alias,
            name,
            alias,
            data["version"],
            self.text(data, "reason"),
            actor=self.actor,
        )
        self.reply(found.to_dict())

    @web.authenticated
    async def delete(self, name: str, alias: str) -> None:
        reason = self.text_arg("reason", 10_000)
        await self.call(self.client.delete_model_alias, name, alias, reason, actor=self.actor)
        self.set_status(204)
        self.finish()


class ModelAuditHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        def entries(client: Client) -> list[dict[str, Any]]:
            model = client.get_registered_model(name)
            return [e.to_dict() for e in client.model_audit(model.name)]

        self.reply({"entries": await self.call(entries, self.client)})


def _epoch_ms(text: str) -> int:
    """``?at=``: milliseconds since the epoch, or ISO 8601 text (a naive time is local)."""
    if text.isdigit() and len(text) <= 18:
        return int(text)
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(
            f"Time {shown(text)} is neither milliseconds since the epoch nor ISO 8601 "
            "(for example 2026-11-24T09:30)."
        ) from None


class HistoryHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        at = self.text_arg("at", _MAX_AT)
        if at is None:
            entries = await self.call(self.client.model_history, name)
            self.reply({"entries": [e.to_dict() for e in entries]})
            return
        self.reply({"holders": await self.call(self.client.holders_at, name, _epoch_ms(at))})


class AuditHandler(RegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        entries = await self.call(self.client.model_audit)
        self.reply({"entries": [e.to_dict() for e in entries]})


class VerifyHandler(RegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        def verify(client: Client) -> dict[str, Any]:
            # Counted first: an entry appended in between is then checked but not counted.
            count = len(client.model_audit())
            broken = client.verify_model_audit()
            return {
                "intact": broken is None,
                "break": None if broken is None else broken.to_dict(),
                "entries": count,
            }

        self.reply(await self.call(verify, self.client))


def registry_routes(prefix: str) -> list[tuple[str, type[MlopsHandler]]]:
    model = rf"/{prefix}/models/(?P<name>[^/]+)"
    version = rf"{model}/versions/(?P<version>[^/]+)"
    return [
        (rf"/{prefix}/models", ModelsHandler),
        (model, ModelHandler),
        (rf"{model}/gates", GatesHandler),
        (version, VersionHandler),
        (rf"{version}/stage", StageHandler),
        (rf"{version}/approve", ApproveHandler),
        (rf"{version}/validate", ValidateHandler),
        (rf"{version}/lineage", LineageHandler),
        (rf"{version}/card", CardHandler),
        (rf"{model}/reports/(?P<sha256>[^/]+)", ReportHandler),
        (rf"{model}/aliases/(?P<alias>[^/]+)", AliasHandler),
        (rf"{model}/audit", ModelAuditHandler),
        (rf"{model}/history", HistoryHandler),
        (rf"/{prefix}/registry/audit", AuditHandler),
        (rf"/{prefix}/registry/verify", VerifyHandler),
    ]
