"""What every command group shares: the Client of the ``--store`` option, the one mapping of
errors to a line on stderr and an exit status, and output as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from ..entities import jsonable
from ..exceptions import InvalidInput, MlopsError, shown
from ..views import table_columns, table_text

if TYPE_CHECKING:
    from ..client import Client

FORMATS = click.Choice(["table", "json", "csv"])


class DefaultGroup(click.Group):
    """A group whose first argument, when it names none of its commands, goes to
    ``default_command``: ``serve churn@champion`` is ``serve start churn@champion``."""

    default_command = ""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def client_of(ctx: click.Context) -> Client:
    """The Client of the store named by ``--store`` (or found the usual way), opened once;
    lazily, so that a command that only lists runs never loads SQLAlchemy."""
    from ..client import Client

    if ctx.obj is None:
        ctx.obj = Client(ctx.find_root().params.get("store"), lazy=True)
    client: Client = ctx.obj
    return client


def errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """MlopsError → a one-line message and exit status 1 (not found) or 2 (bad input)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MlopsError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(2 if isinstance(exc, InvalidInput) else 1)
        except BrokenPipeError:  # the reader left (`runs list | head`): stop without a word
            # The interpreter flushes stdout at exit: give it somewhere to write.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)  # as a shell reports a process ended by SIGPIPE
        except OSError as exc:  # a folder that cannot be created, a file that cannot be written
            click.echo(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            sys.exit(1)

    return wrapper


def emit(rows: Sequence[dict[str, Any]], fmt: str, out: Any = None) -> None:
    """Rows as an aligned table, JSON or CSV on ``out`` (stdout)."""
    out = out or sys.stdout
    if fmt == "json":
        json.dump(jsonable(list(rows)), out, indent=2, default=str, allow_nan=False)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=table_columns(rows), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    out.write(table_text(rows))


def split(text: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given)."""
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def split_ref(ref: str, sep: str, what: str, example: str) -> tuple[str, str]:
    """``churn/3`` or ``churn@champion`` as (name, part); the last ``sep`` splits, as in a
    models:/ URI."""
    name, found, part = ref.rpartition(sep)
    if not found or not name or not part:
        raise InvalidInput(f"{shown(ref)} is not {what}: write it as {example}.")
    return name, part
