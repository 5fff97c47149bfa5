"""The files a cell names with path expressions, found before and after it runs.

A literal (``"data/train.csv"``) is handled with the other string literals; this module
covers paths the cell computes (:class:`~jupyter_mlops.tracking.cell.PathPattern`):
``out = Path("exports") / f"{name}.csv"; df.to_csv(out)`` names one file through a variable,
``df.to_parquet(Path("exports") / f"{name}.parquet")`` names one file that only exists as
``exports/*.parquet`` until the cell has run. A pattern with computed pieces is a file the cell
wrote when it appears or changes during the cell; a pattern naming one file is an input or an
output as a literal would be.
"""

from __future__ import annotations

import glob
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .cell import MAX_PATH_LEN, PathPattern

MAX_MATCHES = 200  # files recorded per pattern; the rest are counted in a note
# File times come from a coarse kernel clock, up to a few ms behind time.time_ns().
_CLOCK_SLACK_NS = 50_000_000

_Stat = tuple[int, int, int]  # mtime_ns, size, inode


@dataclass
class PathsBefore:
    """What the patterns named before the cell ran."""

    started_ns: int
    exact: dict[str, bool] = field(default_factory=dict)  # path -> written
    matched: dict[str, _Stat] = field(default_factory=dict)
    resolved: set[PathPattern] = field(default_factory=set)  # whose root had a value


def _root(pattern: PathPattern, ns: dict[str, Any]) -> str | None:
    """The folder or file the pattern starts from: "" for a literal, the variable's value
    when it holds a str or a path, else None."""
    if pattern.root is None:
        return ""
    value = ns.get(pattern.root)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_PATH_LEN and "\x00" not in value:
        return value
    return None


def _file_stat(path: str) -> _Stat | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _scan(
    patterns: Iterable[PathPattern], ns: dict[str, Any], notes: list[str] | None = None
) -> tuple[dict[str, bool], dict[str, tuple[_Stat, PathPattern]], set[PathPattern]]:
    """The files the patterns name now: exact ones (path -> written), files matching a
    computed one (path -> (stat, pattern)), and the patterns whose root had a value."""
    exact: dict[str, bool] = {}
    matched: dict[str, tuple[_Stat, PathPattern]] = {}
    resolved: set[PathPattern] = set()
    for pattern in patterns:
        root = _root(pattern, ns)
        if root is None:
            continue
        resolved.add(pattern)
        if pattern.exact:
            path = os.path.join(root, pattern.pattern) if pattern.pattern else root
            if path and os.path.isfile(path):
                exact[path] = exact.get(path, False) or pattern.written
            continue
        found = 0
        for path in glob.iglob(os.path.join(glob.escape(root), pattern.pattern)):
            found_stat = _file_stat(path)
            if found_stat is None:
                continue
            found += 1
            if found > MAX_MATCHES:
                if notes is not None:
                    notes.append(
                        f"more than {MAX_MATCHES} files match {pattern.pattern!r}; "
                        "the first ones are recorded"
                    )
                break
            matched[path] = (found_stat, pattern)
    return exact, matched, resolved


def before(patterns: Iterable[PathPattern], ns: dict[str, Any]) -> PathsBefore:
    started = time.time_ns()
    exact, matched, resolved = _scan(patterns, ns)
    return PathsBefore(started, exact, {path: st for path, (st, _) in matched.items()}, resolved)


def after(
    patterns: Iterable[PathPattern], ns: dict[str, Any], prior: PathsBefore, notes: list[str]
) -> dict[str, bool]:
    """The files to fingerprint after the cell (path -> written): those the patterns name
    now, and those matching a computed pattern that appeared or changed during the cell."""
    exact, matched, _ = _scan(patterns, ns, notes)
    files = dict(exact)
    for path, (now, pattern) in matched.items():
        old = prior.matched.get(path)
        if pattern in prior.resolved or old is not None:
            changed = old != now
        else:  # the folder's variable was set by the cell: go by the file's time
            changed = now[0] >= prior.started_ns - _CLOCK_SLACK_NS
        if changed:
            files[path] = True
    return files
