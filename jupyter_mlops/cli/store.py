"""``info`` and ``gc``: where the store is, and freeing the blobs no run references."""

from __future__ import annotations

import click

from .common import client_of, errors


@click.command()
@click.pass_context
@errors
def info(ctx: click.Context) -> None:
    """Where the store is."""
    loc = client_of(ctx).location
    click.echo(f"database:  {loc.db_url}\nartifacts: {loc.artifact_root}\nchosen by: {loc.source}")


@click.command()
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.pass_context
@errors
def gc(ctx: click.Context, dry_run: bool) -> None:
    """Delete artifact blobs that no run or model references any more."""
    result = client_of(ctx).gc(dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(
        f"{verb} {result['blobs']} unreferenced blob(s), {result['bytes']} bytes"
        + ("" if dry_run else f"; removed {result['temp_files']} stale temp file(s)")
    )
