"""``models register|list|versions|stage|alias|show|audit``: the model registry from the
terminal. Every command is one call of the Client's registry domain, so the checks (stage
names, aliases that would read as versions) and the audit entry are the same as from a
notebook or the server; this module only parses ``NAME/VERSION`` and ``NAME@ALIAS`` and
prints."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from ..client.validation import key_values
from ..entities import STAGES
from ..exceptions import InvalidInput, shown
from ..views import fmt_time
from .common import FORMATS, client_of, emit, errors

if TYPE_CHECKING:
    from ..entities import AuditEntry, ModelAlias, ModelVersion


def _split_ref(ref: str, sep: str, what: str, example: str) -> tuple[str, str]:
    """``churn/3`` or ``churn@champion`` as (name, part); the last ``sep`` splits, as in a
    models:/ URI."""
    name, found, part = ref.rpartition(sep)
    if not found or not name or not part:
        raise InvalidInput(f"{shown(ref)} is not {what}: write it as {example}.")
    return name, part


def _aliases_by_version(aliases: list[ModelAlias]) -> dict[int, list[str]]:
    by_version: dict[int, list[str]] = {}
    for alias in aliases:
        by_version.setdefault(alias.version, []).append(alias.alias)
    return by_version


@click.group()
def models() -> None:
    """Registered models: versions, stages, aliases and their audit."""


@models.command("register")
@click.argument("source")
@click.argument("name")
@click.option("--description", help="The new version's description.")
@click.option("--tag", "tags", multiple=True, help="key=value, merged into the model's tags.")
@click.pass_context
@errors
def models_register(
    ctx: click.Context, source: str, name: str, description: str | None, tags: tuple[str, ...]
) -> None:
    """Register a logged model as NAME's next version.

    SOURCE is runs:/<run id>/<model name> or a logged model's id; NAME is created when
    missing. Prints the new version's models:/ URI."""
    version = client_of(ctx).register_model(
        source, name, description, key_values(tags, "tag", "key=value (e.g. --tag team=risk)")
    )
    click.echo(f"models:/{version.name}/{version.version}")


@models.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def models_list(ctx: click.Context, fmt: str) -> None:
    """Registered models: the newest version in each stage, and aliases."""
    client = client_of(ctx)
    rows: list[dict[str, Any]] = []
    for model in client.list_registered_models():
        versions = client.search_model_versions(model.name)
        # Oldest first, so the last one seen in a stage is the newest there.
        latest = {v.stage: v.version for v in versions}
        aliases = client.get_model_aliases(model.name)
        row: dict[str, Any] = {"name": model.name, "versions": len(versions)}
        row.update({stage: latest.get(stage) for stage in STAGES})
        if fmt == "json":
            row["aliases"] = {a.alias: a.version for a in aliases}
        else:
            row["aliases"] = " ".join(f"{a.alias}={a.version}" for a in aliases)
        row["description"] = model.description
        rows.append(row)
    emit(rows, fmt)


@models.command("versions")
@click.argument("name")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def models_versions(ctx: click.Context, name: str, fmt: str) -> None:
    """Every version of NAME, oldest first, with its stage and aliases."""
    client = client_of(ctx)
    versions = client.search_model_versions(name)
    aliases = _aliases_by_version(client.get_model_aliases(name))
    rows = [_version_row(v, aliases.get(v.version, []), raw=fmt != "table") for v in versions]
    emit(rows, fmt)


def _version_row(version: ModelVersion, aliases: list[str], raw: bool) -> dict[str, Any]:
    return {
        "version": version.version,
        "stage": version.stage,
        "aliases": aliases if raw else " ".join(aliases),
        "run_id": version.run_id,
        "logged_model_id": version.logged_model_id,
        "sha256": version.sha256 if raw else version.sha256[:12],
        "created": version.created_at if raw else fmt_time(version.created_at),
        "created_by": version.created_by,
        "description": version.description,
    }


@models.command("stage")
@click.argument("ref", metavar="NAME/VERSION")
@click.argument("stage", metavar=f"{{{'|'.join(STAGES)}}}")
@click.option(
    "--keep-existing",
    is_flag=True,
    help="Into Production: leave the versions already there (by default they are archived).",
)
@click.option("--reason", help="Why, recorded on the audit.")
@click.pass_context
@errors
def models_stage(
    ctx: click.Context, ref: str, stage: str, keep_existing: bool, reason: str | None
) -> None:
    """Move NAME/VERSION to STAGE: `models stage churn/3 Production`."""
    name, number = _split_ref(ref, "/", "NAME/VERSION", "churn/3")
    version = client_of(ctx).transition_model_version_stage(
        name, number, stage, archive_existing=not keep_existing, reason=reason
    )
    click.echo(f"models:/{version.name}/{version.version} is in {version.stage}")


@models.command("alias")
@click.argument("ref", metavar="NAME@ALIAS")
@click.argument("version", required=False)
@click.option("--delete", is_flag=True, help="Remove the alias instead of pointing it.")
@click.option("--reason", help="Why, recorded on the audit.")
@click.pass_context
@errors
def models_alias(
    ctx: click.Context, ref: str, version: str | None, delete: bool, reason: str | None
) -> None:
    """Point NAME@ALIAS at VERSION, or remove it with --delete."""
    name, alias = _split_ref(ref, "@", "NAME@ALIAS", "churn@champion")
    client = client_of(ctx)
    if delete == (version is not None):
        raise InvalidInput("Give either a VERSION to point the alias at or --delete, not both.")
    if version is None:
        client.delete_model_alias(name, alias, reason)
        click.echo(f"deleted models:/{name}@{alias}")
        return
    pointed = client.set_model_alias(name, alias, version, reason)
    click.echo(f"models:/{pointed.name}@{pointed.alias} -> {pointed.version}")


@models.command("show")
@click.argument("uri")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def models_show(ctx: click.Context, uri: str, fmt: str) -> None:
    """The version a models:/ URI names (the prefix is optional).

    churn@champion (an alias), churn/Production (the newest version in a stage), churn/3,
    churn/latest."""
    from ..client.registry import MODELS_SCHEME

    client = client_of(ctx)
    if not uri.startswith(MODELS_SCHEME):
        uri = MODELS_SCHEME + uri
    version = client.resolve_model_uri(uri)
    aliases = _aliases_by_version(client.get_model_aliases(version.name)).get(version.version, [])
    if fmt == "json":
        click.echo(json.dumps({**version.to_dict(), "aliases": aliases}, indent=2))
        return
    fields = _version_row(version, aliases, raw=True)
    fields["created"] = fmt_time(version.created_at)
    fields["aliases"] = " ".join(aliases)
    click.echo(f"models:/{version.name}/{version.version}")
    width = max(map(len, fields))
    for key, value in fields.items():
        click.echo(f"  {key.ljust(width)}  {value}")


@models.command("history")
@click.argument("name")
@click.option(
    "--at",
    "at",
    help="A time (ISO 8601, e.g. 2026-11-24T09:30, or ms since the epoch): show which "
    "version held each stage and alias then, instead of the moves.",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
@errors
def models_history(ctx: click.Context, name: str, at: str | None, fmt: str) -> None:
    """NAME's registrations, stage moves and alias changes, oldest first; with --at, which
    version held each stage and each alias at that time."""
    client = client_of(ctx)
    if at is None:
        history = client.model_history(name)
        emit(
            [_audit_row(e) for e in history] if fmt == "table" else [e.to_dict() for e in history],
            fmt,
        )
        return
    held = client.holders_at(name, int(at) if at.isdigit() else at)
    order = [*STAGES, *sorted(k for k in held if k not in STAGES)]
    rows = [
        {"kind": "stage" if what in STAGES else "alias", "name": what, "version": held[what]}
        for what in order
    ]
    emit(rows, fmt)


@models.command("audit")
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@errors
def models_audit(ctx: click.Context, name: str | None, fmt: str) -> None:
    """The registry's audit, oldest first; `models audit verify` checks its hash chain.

    With NAME, only that model's entries. `verify` exits 1 naming the first entry that was
    edited or removed behind the database's back (so a model called "verify" is found in
    the whole audit rather than by name)."""
    client = client_of(ctx)
    if name == "verify":
        _verify(ctx)
        return
    entries = client.model_audit(name)
    if fmt == "json":
        emit([e.to_dict() for e in entries], "json")
    else:
        emit([_audit_row(e) for e in entries], "table")


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": fmt_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "name": entry.name,
        "version": entry.version,
        "alias": entry.alias,
        "from": entry.from_value,
        "to": entry.to_value,
        "reason": entry.reason,
    }


def _verify(ctx: click.Context) -> None:
    client = client_of(ctx)
    broken = client.verify_model_audit()
    if broken is None:
        click.echo(f"intact: {len(client.model_audit())} entries")
        return
    where = ""
    if broken.entry is not None:
        entry = broken.entry
        subject = entry.name if entry.version is None else f"{entry.name}/{entry.version}"
        where = f" ({entry.action} {subject}, {fmt_time(entry.at)})"
    click.echo(f"broken at seq {broken.seq}{where}: {broken.detail}", err=True)
    sys.exit(1)
