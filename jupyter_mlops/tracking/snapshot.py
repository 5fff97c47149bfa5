"""Fingerprints of a cell's data before and after it runs, and what changed between them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..data import column_schema, fingerprint, is_fingerprintable

_DATA_TYPES = ("DataFrame", "Series", "ndarray")


@dataclass
class Seen:
    name: str
    fingerprint: str
    obj: Any  # the object (or path) it was computed from
    shape: list[int] | None = None
    schema: list[dict[str, str]] | None = None
    changed_after: bool = False  # the object no longer holds this content (mutated in place)


def fingerprint_names(ns: dict[str, Any], names: set[str]) -> dict[str, Seen]:
    out: dict[str, Seen] = {}
    for name in sorted(names):
        obj = ns.get(name)
        if obj is None or type(obj).__name__ not in _DATA_TYPES or not is_fingerprintable(obj):
            continue
        try:
            out[name] = Seen(
                name, fingerprint(obj), obj, [int(n) for n in obj.shape], column_schema(obj)
            )
        except (TypeError, ValueError, MemoryError):
            continue  # exotic dtypes we cannot hash are left out, not fatal
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
