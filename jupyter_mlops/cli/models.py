"""``models register|list|versions|show|stage|alias|validate|gates|approve|update|delete|
history|audit|lineage|card|build-docker|ct|timeline|promote-best|rollout``: the model
registry from the terminal (continuous training's commands are in ``cli/ct.py``). Every command
is one call of the Client's registry domain (or of ``registry`` for gates), so the checks and
the audit entry are the same as from a notebook or the server; this module only parses
``NAME/VERSION`` and ``NAME@ALIAS`` and prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import views
from ..client.validation import key_values
from ..entities import STAGES
from ..exceptions import InvalidInput, shown
from ..views import fmt_time
from .common import FORMATS, client_of, emit, errors, split_ref
from .ct import models_ct, models_promote_best, models_rollout, models_timeline
from .lineage import card, lineage

if TYPE_CHECKING:
    from ..entities import AuditEntry


@click.group()
def models() -> None:
    """Registered models: versions, stages, aliases and their audit."""


models.add_command(lineage)
models.add_command(card)
for command in (models_ct, models_timeline, models_promote_best, models_rollout):
    models.add_command(command)


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
    rows = [
        views.registered_model_row(
            model,
            client.search_model_versions(model.name),
            client.get_model_aliases(model.name),
            raw=fmt == "json",
        )
        for model in client.list_registered_models()
    ]
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
    aliases = views.aliases_by_version(client.get_model_aliases(name))
    rows = [views.version_row(v, aliases.get(v.version, []), raw=fmt != "table") for v in versions]
    emit(rows, fmt)


@models.command("stage")
@click.argument("ref", metavar="NAME/VERSION")
@click.argument("stage", metavar=f"{{{'|'.join(STAGES)}}}")
@click.option(
    "--keep-existing",
    is_flag=True,
    help="Into Production: leave the versions already there (by default they are archived).",
)
@click.option("--reason", help="Why, recorded on the audit.")
@click.option(
    "--force",
    is_flag=True,
    help="Move even though a gate failed or approvals are missing (needs --reason; audited).",
)
@click.option("--holdout", help="A table file to run the gates on instead of the configured one.")
@click.pass_context
@errors
def models_stage(
    ctx: click.Context,
    ref: str,
    stage: str,
    keep_existing: bool,
    reason: str | None,
    force: bool,
    holdout: str | None,
) -> None:
    """Move NAME/VERSION to STAGE: `models stage churn/3 Production`.

    Into a stage guarded by gates, the gates run first unless a report for these model
    bytes and this configuration exists; a failed gate or missing approvals stop the move
    (exit 1, naming each reason) unless --force with --reason."""
    from .. import registry

    name, number = split_ref(ref, "/", "NAME/VERSION", "churn/3")
    client = client_of(ctx)
    version = registry.promote(
        client,
        name,
        number,
        stage,
        archive_existing=not keep_existing,
        reason=reason,
        force=force,
        holdout=_holdout_frame(holdout),
        progress=sys.stderr.isatty(),
    )
    click.echo(f"models:/{version.name}/{version.version} is in {version.stage}")


def _holdout_frame(path: str | None) -> Any:
    if path is None:
        return None
    from ..client.datasets import read_table

    return read_table(path, "the holdout")


@models.command("validate")
@click.argument("ref", metavar="NAME/VERSION")
@click.option("--holdout", help="A table file to judge on instead of the configured dataset.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def models_validate(ctx: click.Context, ref: str, holdout: str | None, fmt: str) -> None:
    """Run NAME's validation gates on VERSION and store the report with it.

    Prints each gate's verdict and the numbers behind it; exits 1 when a gate failed."""
    from .. import registry

    name, number = split_ref(ref, "/", "NAME/VERSION", "churn/3")
    report = registry.validate(
        client_of(ctx), name, number, holdout=_holdout_frame(holdout), progress=sys.stderr.isatty()
    )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(str(report), nl=False)
    if not report.passed:
        sys.exit(1)


@models.command("gates")
@click.argument("name")
@click.option("--set", "path", help="A YAML file of gates to configure (see the README).")
@click.option("--clear", is_flag=True, help="Remove NAME's gates.")
@click.option("--reason", help="Why, recorded on the audit.")
@click.pass_context
@errors
def models_gates(
    ctx: click.Context, name: str, path: str | None, clear: bool, reason: str | None
) -> None:
    """Show NAME's validation gates as YAML, or configure them with --set FILE (--clear
    removes them)."""
    import yaml

    client = client_of(ctx)
    if path is not None and clear:
        raise InvalidInput("Give --set FILE or --clear, not both.")
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"Cannot read {shown(path)}: {exc.strerror}.") from None
        model = client.set_model_gates(name, text, reason=reason)
    elif clear:
        model = client.set_model_gates(name, None, reason=reason)
    else:
        model = client.get_registered_model(name)
    if model.gates is None:
        click.echo(f"# {name} has no gates")
        return
    shown_gates = {k: v for k, v in model.gates.items() if v is not None}
    click.echo(yaml.safe_dump(shown_gates, sort_keys=False, allow_unicode=True), nl=False)


@models.command("approve")
@click.argument("ref", metavar="NAME/VERSION")
@click.option("--reason", help="Why, recorded on the audit.")
@click.pass_context
@errors
def models_approve(ctx: click.Context, ref: str, reason: str | None) -> None:
    """Approve NAME/VERSION for Production (an approval by its registrant does not count)."""
    name, number = split_ref(ref, "/", "NAME/VERSION", "churn/3")
    client = client_of(ctx)
    approval = client.approve_model_version(name, number, reason)
    model = client.get_registered_model(name)
    count = len(client.get_model_approvals(name, number))
    click.echo(
        f"{approval.actor} approved models:/{name}/{number} "
        f"({count} of {model.required_approvals} required)"
    )


@models.command("delete")
@click.argument("ref", metavar="NAME/VERSION")
@click.option("--reason", help="Why, recorded on the audit.")
@click.pass_context
@errors
def models_delete(ctx: click.Context, ref: str, reason: str | None) -> None:
    """Delete NAME/VERSION (not while in Production or aliased); its audit entries stay."""
    name, number = split_ref(ref, "/", "NAME/VERSION", "churn/3")
    client_of(ctx).delete_model_version(name, number, reason)
    click.echo(f"deleted models:/{name}/{number}")


@models.command("update")
@click.argument("name")
@click.option("--description", help="The registered model's description.")
@click.option("--required-approvals", type=int, help="Approvals a version needs for Production.")
@click.option("--intended-use", help="The model card's intended use.")
@click.option("--limitations", help="The model card's limitations.")
@click.option("--tag", "tags", multiple=True, help="key=value; replaces the model's tags.")
@click.option("--reason", help="Why, recorded on the audit.")
@click.pass_context
@errors
def models_update(
    ctx: click.Context,
    name: str,
    description: str | None,
    required_approvals: int | None,
    intended_use: str | None,
    limitations: str | None,
    tags: tuple[str, ...],
    reason: str | None,
) -> None:
    """Change a registered model's description, tags, required approvals, or its model
    card's intended use and limitations."""
    model = client_of(ctx).update_registered_model(
        name,
        description=description,
        tags=key_values(tags, "tag", "key=value (e.g. --tag team=risk)") if tags else None,
        required_approvals=required_approvals,
        intended_use=intended_use,
        limitations=limitations,
        reason=reason,
    )
    click.echo(json.dumps({k: v for k, v in model.to_dict().items() if k != "gates"}, indent=2))


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
    name, alias = split_ref(ref, "@", "NAME@ALIAS", "churn@champion")
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
    aliases = views.aliases_by_version(client.get_model_aliases(version.name)).get(
        version.version, []
    )
    if fmt == "json":
        click.echo(json.dumps({**version.to_dict(), "aliases": aliases}, indent=2))
        return
    fields = views.version_row(version, aliases, raw=True)
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


@models.command("build-docker")
@click.argument("target", metavar="NAME@ALIAS|NAME/STAGE|NAME/VERSION")
@click.option("--output", "-o", required=True, help="The build context's folder (new or empty).")
@click.option("--port", default=8080, show_default=True, help="The port the image serves on.")
@click.pass_context
@errors
def models_build_docker(ctx: click.Context, target: str, output: str, port: int) -> None:
    """Write a Docker build context that serves TARGET: its verified bytes, this package, pinned
    requirements, a non-root user and a health check."""
    from ..serving.docker import build_context

    built = build_context(client_of(ctx), target, output, port=port)
    click.echo(
        f"Wrote {built['context']}: {built['model']} version {built['version']} "
        f"(sha256 {built['sha256'][:12]}), Python {built['python']}, "
        f"{len(built['requirements'])} pinned requirements, {built['package_files']} package files."
    )
    click.echo(
        f"Build and run it:\n  docker build -t {built['model'].lower()}:{built['version']} "
        f"{built['context']}\n  docker run -p {port}:{port} "
        f"{built['model'].lower()}:{built['version']}"
    )
