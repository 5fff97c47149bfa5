"""``models ct|timeline|promote-best|rollout``: continuous training from the terminal — a
model's policy, the timeline of its loops, choosing and promoting the best candidate, and the
candidate on trial."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..client.ct_config import CtPolicy
from ..exceptions import InvalidInput, shown
from .common import client_of, errors


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"Cannot read {shown(path)}: {exc.strerror}.") from None


@click.command("ct")
@click.argument("name")
@click.option("--set", "path", help="A YAML policy file (see the README); paths in it are "
              "relative to its folder.")  # fmt: skip
@click.option("--clear", is_flag=True, help="Remove NAME's policy.")
@click.option("--enable/--disable", "enabled", default=None, help="Switch the policy on or off.")
@click.option("--dry-run/--no-dry-run", "dry_run", default=None,
              help="Record what would happen without retraining or promoting.")  # fmt: skip
@click.option("--reason", help="Why, recorded on the audit.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@click.pass_context
@errors
def models_ct(
    ctx: click.Context,
    name: str,
    path: str | None,
    clear: bool,
    enabled: bool | None,
    dry_run: bool | None,
    reason: str | None,
    fmt: str,
) -> None:
    """Show NAME's continuous-training policy, or set it with --set FILE (--clear removes it;
    --enable/--disable and --dry-run/--no-dry-run change one switch)."""
    import dataclasses

    from ..automation.policy import set_policy

    client = client_of(ctx)
    if path is not None and clear:
        raise InvalidInput("Give --set FILE or --clear, not both.")
    policy: CtPolicy | None
    if path is not None:
        policy = set_policy(client, name, _read(path), base_dir=Path(path).parent, reason=reason)
    elif clear:
        client.get_registered_model(name)
        client.set_ct_policy(name, None, reason=reason)
        click.echo(f"# {name} has no continuous-training policy")
        return
    else:
        policy = client.get_ct_policy(name)
    if policy is not None and (enabled is not None or dry_run is not None):
        guard = policy.guardrails
        policy = dataclasses.replace(
            policy,
            enabled=policy.enabled if enabled is None else enabled,
            guardrails=dataclasses.replace(
                guard, dry_run=guard.dry_run if dry_run is None else dry_run
            ),
        )
        policy = client.set_ct_policy(name, policy, reason=reason)
    if policy is None:
        client.get_registered_model(name)
        click.echo(f"# {name} has no continuous-training policy (set one with --set ct.yaml)")
        return
    if fmt == "json":
        click.echo(json.dumps(policy.to_dict(), indent=2))
    else:
        click.echo(policy.to_yaml(), nl=False)


@click.command("timeline")
@click.argument("name")
@click.option("--loop", "loop_id", help="One loop (its id or a unique prefix).")
@click.option("--limit", default=3, show_default=True, help="The newest loops to show.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def models_timeline(
    ctx: click.Context, name: str, loop_id: str | None, limit: int, fmt: str
) -> None:
    """The continuous-training loops of NAME, newest first: the alert (with the drifted
    columns), the pipeline run and its steps, the candidates and their gates, the decision
    and who made it, the rollout, the server's switch — each with its time."""
    from ..automation.timeline import timeline_text, timelines

    client = client_of(ctx)
    client.get_registered_model(name)
    items = timelines(client, name, loop_id=loop_id, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([t.to_dict() for t in items], indent=2, default=str))
    else:
        click.echo(timeline_text(items))


@click.command("promote-best")
@click.argument("name")
@click.argument("versions", nargs=-1, type=int)
@click.option("--run", "run_id", help="The pipeline run whose registered versions compete.")
@click.option("--metric", help="Rank the passing candidates by this metric.")
@click.option("--holdout", help="A table file the gates judge on instead of the configured one.")
@click.option("--mode", type=click.Choice(["auto", "approval"]), help="Over the policy's.")
@click.option("--to", "to", help="A stage or @alias to promote to, over the policy's.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def models_promote_best(
    ctx: click.Context,
    name: str,
    versions: tuple[int, ...],
    run_id: str | None,
    metric: str | None,
    holdout: str | None,
    mode: str | None,
    to: str | None,
    fmt: str,
) -> None:
    """Validate NAME's candidate VERSIONS (or those a pipeline run registered) with the
    gates and promote the best that passes, as NAME's policy says. Exits 1 when none passed."""
    from ..automation.promote import promote_best

    decision = promote_best(
        client_of(ctx),
        name,
        list(versions) or None,
        run_id=run_id,
        metric=metric,
        holdout=holdout,
        mode=mode,
        to=to,
        progress=sys.stderr.isatty(),
    )
    if fmt == "json":
        click.echo(json.dumps(decision.to_dict(), indent=2))
    else:
        click.echo(str(decision))
    if decision.action == "kept":
        sys.exit(1)


@click.command("rollout")
@click.argument("name")
@click.option("--cancel", is_flag=True, help="End the trial now; the champion stays.")
@click.option("--reason", help="Why, recorded on the audit.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def models_rollout(
    ctx: click.Context, name: str, cancel: bool, reason: str | None, fmt: str
) -> None:
    """The candidate of NAME on trial (shadow or canary) and how it compares so far;
    --cancel ends the trial and keeps the champion."""
    client = client_of(ctx)
    client.get_registered_model(name)
    rollout = client.active_rollout(name)
    if rollout is None:
        click.echo(f"{name} has no candidate on trial.")
        return
    if cancel:
        from ..automation.rollout import cancel as cancel_rollout

        rollout = cancel_rollout(client, name, reason or "cancelled by hand") or rollout
    if fmt == "json":
        click.echo(json.dumps(rollout.to_dict(), indent=2))
        return
    what = f"canary {rollout.share:.0%}" if rollout.mode == "canary" else rollout.mode
    click.echo(
        f"{name}: version {rollout.candidate} on trial ({what}) beside version "
        f"{rollout.champion} since {rollout.started_at} ({rollout.state})"
    )
    stats = rollout.stats
    for arm in ("champion", "candidate"):
        figures = stats.get(arm)
        if figures:
            click.echo(
                f"  {arm:<9} v{figures.get('version')}: {figures.get('requests')} requests, "
                f"error rate {figures.get('error_rate', 0):.2%}, p95 {figures.get('p95_ms')} ms, "
                f"accuracy {figures.get('accuracy')} on {figures.get('labelled')} labels"
            )
    if stats.get("reason"):
        click.echo(f"  so far: {stats['reason']}")
