"""``models lineage NAME/VERSION`` and ``models card NAME/VERSION``: where a registered version
came from and what was decided about it, and its model card. Both read
``Client.model_lineage``; the rendering is ``registry/card.py``'s, so the terminal, the file
and the panel tell the same story."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from .common import client_of, errors, split_ref


@click.command("lineage")
@click.argument("ref", metavar="NAME/VERSION")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@errors
def lineage(ctx: click.Context, ref: str, fmt: str) -> None:
    """Where NAME/VERSION came from and what was decided about it.

    Version → run → notebook cell and source → git commit → datasets with fingerprints →
    params and metrics → environment → who trained, approved and promoted, when → gate
    report → where it is served."""
    from ..registry.card import lineage_text

    name, version = split_ref(ref, "/", "NAME/VERSION", "churn/3")
    found = client_of(ctx).model_lineage(name, version)
    if fmt == "json":
        click.echo(json.dumps(found, indent=2, allow_nan=False))
    else:
        click.echo(lineage_text(found))


@click.command("card")
@click.argument("ref", metavar="NAME/VERSION")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the card (Markdown) to this file instead of printing it.",
)
@click.pass_context
@errors
def card(ctx: click.Context, ref: str, output: str | None) -> None:
    """NAME/VERSION's model card, in Markdown.

    Generated from its lineage and gate report; intended use and limitations are the
    registered model's fields, which people write."""
    from ..registry.card import model_card_markdown

    name, version = split_ref(ref, "/", "NAME/VERSION", "churn/3")
    text = model_card_markdown(client_of(ctx), name, version)
    if output is None:
        click.echo(text, nl=False)
        return
    _write(Path(output), text)
    click.echo(f"wrote {output}", err=True)


def _write(target: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``target``, fsync it and rename it over
    ``target``: a reader (or a crash) never meets half a card."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
