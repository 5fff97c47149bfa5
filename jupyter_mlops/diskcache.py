"""Small JSON caches on disk, shared by the processes of one user: what is slow to compute
and only changes with the installed packages or a file's content (the module-to-distribution
map, a notebook's declared parameters), so that a new process (a kernel, the CLI) does not
compute it again.

The folder is ``JUPYTER_MLOPS_CACHE_DIR``, else ``$XDG_CACHE_HOME/jupyter-mlops``, else
``~/.cache/jupyter-mlops``. Entries are written to a temporary file and renamed, so a reader
sees a whole entry or none; a cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "JUPYTER_MLOPS_CACHE_DIR"
MAX_ENTRY_BYTES = 4 << 20


def cache_dir() -> Path:
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jupyter-mlops"


def read_json(name: str) -> Any:
    """The cached value called ``name`` (a file name, or ``folder/file``; None when absent
    or unreadable)."""
    try:
        path = cache_dir() / name
        if path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(name: str, value: Any) -> None:
    """Cache ``value`` as ``name``, atomically; best effort (a read-only home is fine)."""
    with contextlib.suppress(OSError, TypeError, ValueError):
        target = cache_dir() / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(value, separators=(",", ":"))
        if len(text) > MAX_ENTRY_BYTES:
            return
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
