"""Fingerprints of a cell's data before and after it runs, and what changed between them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..data import (
    column_schema,
    fingerprint,
    is_fingerprintable,
    not_materialized,
    shape_of,
)


@dataclass
class Seen:
    name: str
    fingerprint: str
    obj: Any  # the object (or path) it was computed from
    shape: list[int] | None = None
    schema: list[dict[str, str]] | None = None
    changed_after: bool = False  # the object no longer holds this content (mutated in place)


def _note(notes: list[str] | None, text: str) -> None:
    if notes is not None and text not in notes:  # the cell is looked at before and after
        notes.append(text)


def fingerprint_names(
    ns: dict[str, Any], names: set[str], notes: list[str] | None = None
) -> dict[str, Seen]:
    """Fingerprints the datasets among ``names`` (pandas, numpy, pyarrow, polars, scipy).

    Other values are skipped silently. Data that cannot be hashed (a polars LazyFrame, an
    exotic dtype, cells nested too deep) is left out, never fatal: the cell is recorded
    without it, and with ``notes`` a line naming the variable and why is added to it.
    """
    out: dict[str, Seen] = {}
    for name in sorted(names):
        obj = ns.get(name)
        if obj is None:
            continue
        if not is_fingerprintable(obj):
            reason = not_materialized(obj)
            if reason is not None:
                _note(notes, f"data {name!r} not recorded: {reason}")
            continue
        try:
            out[name] = Seen(name, fingerprint(obj), obj, shape_of(obj), column_schema(obj))
        except Exception as exc:  # a library's own error (polars, pyarrow) included
            _note(notes, f"data {name!r} not recorded: {type(exc).__name__}: {exc}")
    return out


def fingerprint_files(literals: dict[str, bool]) -> dict[str, Seen]:
    out: dict[str, Seen] = {}
    for text in literals:
        try:
            if not os.path.isfile(text):
                continue
            out[text] = Seen(text, fingerprint(text), text)
        except (OSError, ValueError, TypeError):
            continue
    return out


def data_roles(
    before: dict[str, Seen], after: dict[str, Seen], stored: set[str]
) -> list[tuple[Seen, str]]:
    """Inputs are what existed and was read; outputs what the cell created or changed."""
    roles = []
    for name, seen in before.items():
        now = after.get(name)
        seen.changed_after = (
            now is not None and now.obj is seen.obj and now.fingerprint != seen.fingerprint
        )
        roles.append((seen, "input"))
    for name, seen in after.items():
        prior = before.get(name)
        if prior is None and name not in stored:
            continue
        if prior is None or prior.fingerprint != seen.fingerprint:
            roles.append((seen, "output"))
    return roles


def file_roles(
    before: dict[str, Seen], after: dict[str, Seen], written: dict[str, bool]
) -> list[tuple[Seen, str]]:
    roles = []
    for path, seen in after.items():
        prior = before.get(path)
        changed = prior is None or prior.fingerprint != seen.fingerprint
        roles.append((seen, "output" if changed or written.get(path) else "input"))
    for path, seen in before.items():
        if path not in after:  # deleted by the cell: it was still read before
            roles.append((seen, "input"))
    return roles
