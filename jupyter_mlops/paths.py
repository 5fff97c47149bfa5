"""Paths given by users, resolved and checked against the folder they must stay in."""

from __future__ import annotations

import os
from pathlib import Path

from .exceptions import InvalidInput, NotFound, shown

# POSIX PATH_MAX; a longer path cannot name a file, whatever the file system.
MAX_PATH = 4096


def relative_to_root(path: str | os.PathLike[str] | None, root: Path | None) -> str | None:
    """``path`` as the lab names it: relative to the server's ``root``, '/'-separated (a
    relative ``path`` starts at ``root``); None when it is elsewhere or unknown."""
    if not path or root is None:
        return None
    try:
        full = Path(path)
        full = full if full.is_absolute() else root / full
        return full.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        return None


def resolve_inside(root: Path, user_path: object, what: str = "path") -> Path:
    """The file ``user_path`` (relative to ``root``, as the lab names files) names, after
    resolving ``..`` and symbolic links; it must stay inside ``root``.

    Raises:
        InvalidInput: not text, empty, too long, holding a NUL or a backslash, or leaving
            ``root``.
    """
    if not isinstance(user_path, str) or not user_path.strip():
        raise InvalidInput(f"{what!r} must be a path relative to the server's root")
    if len(user_path) > MAX_PATH or "\x00" in user_path or "\\" in user_path:
        raise InvalidInput(f"invalid {what} {shown(user_path)}")
    try:
        user_path.encode("utf-8")
        base = root.resolve()
        file = (base / user_path.lstrip("/")).resolve()
    except (OSError, RuntimeError, UnicodeEncodeError):
        raise InvalidInput(f"invalid {what} {shown(user_path)}") from None
    if file != base and base not in file.parents:
        raise InvalidInput(f"{what} {shown(user_path)} is outside the server's root")
    return file


def existing_file(file: Path, what: str = "file") -> Path:
    """``file`` if it is a regular file (NotFound otherwise, also for an unreadable name)."""
    try:
        ok = file.is_file()
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise NotFound(f"no {what} {shown(str(file.name))}")
    return file
