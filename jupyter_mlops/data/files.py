"""Content fingerprints of files and folders, with in-memory and persistent caches.

A file's fingerprint depends only on its bytes, never on its name or location. Results
are cached in memory and, when :func:`set_file_cache_path` was called, in a SQLite
database shared by processes, so an unchanged file is read once.

This module does not import pandas, so that hashing a file does not need it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final, NoReturn

from .hashing import SCHEME_VERSION, Stream, format_digest

__all__ = [
    "file_fingerprint",
    "path_fingerprint",
    "set_file_cache_path",
    "size_or_zero",
    "walk_files",
]

_FILE_CHUNK_BYTES: Final = 8 << 20

_FileKey = tuple[str, int, int, int]

_MEMORY_CACHE: dict[_FileKey, str] = {}
_MEMORY_CACHE_MAX: Final = 100_000
_CACHE_LOCK = threading.Lock()
# A file rewritten within the same mtime tick as our read would keep its (size, mtime)
# key while changing content. Files modified this recently are therefore hashed but not
# cached (the "racy clean" problem git solves the same way). 2 s covers FAT/HFS+.
_RACY_WINDOW_NS: Final = 2_000_000_000
_SQLITE_TIMEOUT_S: Final = 5.0
# One table per fingerprint scheme: a cache written under an older scheme holds values that
# the current scheme would not compute, so it is never read.
_TABLE: Final = f"file_fingerprints_v{SCHEME_VERSION}"


class _PersistentCache:
    """SQLite-backed (realpath, size, mtime_ns, inode) -> fingerprint map.

    Shared by concurrent processes through WAL mode and a busy timeout. Every failure is
    swallowed: the cache is an optimisation, never a reason to fail a fingerprint.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        with contextlib.suppress(OSError, sqlite3.Error):
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
            self._connection()

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork: reopen in the child.
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.path,
                timeout=_SQLITE_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                with contextlib.suppress(sqlite3.Error):
                    # Another process may hold the lock; WAL is persistent once anyone sets it.
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {_TABLE} ("
                    "path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, "
                    "ino TEXT NOT NULL, fingerprint TEXT NOT NULL)"
                )
            except sqlite3.Error:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get(self, key: _FileKey) -> str | None:
        path, size, mtime_ns, ino = key
        try:
            with self._lock:
                row = (
                    self._connection()
                    .execute(
                        f"SELECT fingerprint FROM {_TABLE} "
                        "WHERE path = ? AND size = ? AND mtime_ns = ? AND ino = ?",
                        (path, size, mtime_ns, str(ino)),
                    )
                    .fetchone()
                )
        except sqlite3.Error:
            return None
        return str(row[0]) if row else None

    def put(self, key: _FileKey, value: str) -> None:
        path, size, mtime_ns, ino = key
        with contextlib.suppress(sqlite3.Error), self._lock:
            self._connection().execute(
                f"INSERT OR REPLACE INTO {_TABLE} VALUES (?, ?, ?, ?, ?)",
                (path, size, mtime_ns, str(ino), value),
            )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
            self._conn = None


_persistent: _PersistentCache | None = None


def set_file_cache_path(path: str | os.PathLike[str] | None) -> None:
    """Sets (or with ``None`` disables) the persistent file-fingerprint cache.

    Args:
        path: SQLite database file, created if missing. Several processes may share it.
            Errors opening or writing it are ignored: fingerprints are then computed
            without the persistent cache.
    """
    global _persistent
    with _CACHE_LOCK:
        if _persistent is not None:
            _persistent.close()
        _persistent = None if path is None else _PersistentCache(os.fspath(path))


def _read_file_digest(path: str) -> bytes:
    """Hashes a file's bytes. The single place that reads file content (tests spy on it)."""
    stream = Stream("file")
    buffer = bytearray(_FILE_CHUNK_BYTES)
    view = memoryview(buffer)
    total = 0
    # readinto rather than mmap: a file truncated while mapped would SIGBUS the kernel.
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            stream.raw(view[:count])
            total += count
    # The length goes last because only now is it known for sure; being a fixed-format
    # trailer after the content it still cannot be confused with content.
    stream.integer(total)
    return stream.digest()


def _file_key(path: str, st: os.stat_result) -> _FileKey:
    return (path, st.st_size, st.st_mtime_ns, st.st_ino)


def _cache_get(key: _FileKey) -> str | None:
    hit = _MEMORY_CACHE.get(key)
    if hit is not None:
        return hit
    persistent = _persistent
    if persistent is None:
        return None
    hit = persistent.get(key)
    if hit is not None:
        _cache_put_memory(key, hit)
    return hit


def _cache_put_memory(key: _FileKey, value: str) -> None:
    with _CACHE_LOCK:
        if len(_MEMORY_CACHE) >= _MEMORY_CACHE_MAX:
            _MEMORY_CACHE.clear()
        _MEMORY_CACHE[key] = value


def file_fingerprint(path: str | os.PathLike[str], *, cache: bool = True) -> str:
    """Fingerprints a regular file's content (not its name or location).

    Results are cached in memory, and in SQLite when :func:`set_file_cache_path` was
    called, keyed by (realpath, size, mtime_ns, inode), so an unchanged file is read once.

    Args:
        path: Path to a regular file; symlinks are followed.
        cache: If False the caches are not consulted (the fresh value still updates them).

    Returns:
        ``"xxh3-128:<32 hex>"``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        IsADirectoryError: ``path`` is a folder (use :func:`fingerprint`).
        TypeError: ``path`` is not a regular file (FIFO, socket, device).
    """
    real = os.path.realpath(os.fsdecode(os.fspath(path)))
    before = os.stat(real)
    if stat.S_ISDIR(before.st_mode):
        raise IsADirectoryError(f"{os.fspath(path)!r} is a folder; use fingerprint()")
    if not stat.S_ISREG(before.st_mode):
        raise TypeError(f"{os.fspath(path)!r} is not a regular file")
    key = _file_key(real, before)
    if cache:
        hit = _cache_get(key)
        if hit is not None:
            return hit
    started_ns = time.time_ns()
    result = format_digest(_read_file_digest(real))
    after = os.stat(real)
    stable = _file_key(real, after) == key
    if stable and before.st_mtime_ns < started_ns - _RACY_WINDOW_NS:
        _cache_put_memory(key, result)
        persistent = _persistent
        if persistent is not None:
            persistent.put(key, result)
    return result


def _raise(error: OSError) -> NoReturn:
    raise error


def walk_files(top: str) -> Iterator[tuple[str, str]]:
    """Yields (relative POSIX path, full path) of every non-folder entry under ``top``.

    Symlinks to folders are listed by os.walk among folders and, with followlinks=False,
    not descended into; symlinks to files are kept.
    """
    root_path = Path(top)
    for root, _dirs, files in os.walk(top, onerror=_raise, followlinks=False):
        for name in files:
            full = os.path.join(root, name)
            yield Path(full).relative_to(root_path).as_posix(), full


def _dir_digest(top: str, *, cache: bool) -> bytes:
    entries = sorted(walk_files(top))
    stream = Stream("dir")
    stream.integer(len(entries))
    for relative, full in entries:
        stream.text(relative)
        try:
            st = os.stat(full)
        except FileNotFoundError:  # dangling symlink: its target is all there is to hash
            stream.text("dangling-link")
            stream.text(os.readlink(full))
            continue
        if stat.S_ISREG(st.st_mode):
            stream.text(file_fingerprint(full, cache=cache))
        else:  # reading a FIFO would block forever
            stream.text(f"special:{stat.S_IFMT(st.st_mode)}")
    return stream.digest()


def path_fingerprint(path: str | os.PathLike[str], *, cache: bool = True) -> str:
    """The fingerprint of a file or a folder (its files, names and links, recursively)."""
    text = os.fsdecode(os.fspath(path))
    if not os.path.exists(text):
        raise FileNotFoundError(f"no such file or folder: {text!r}")
    if os.path.isdir(text):
        return format_digest(_dir_digest(text, cache=cache))
    return file_fingerprint(text, cache=cache)


def size_or_zero(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # missing file or dangling symlink
        return 0
