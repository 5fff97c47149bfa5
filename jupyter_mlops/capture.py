"""What a run records about where it ran: user, host, process, git, Python and packages.

All of it is cached per process (git for a few seconds) so that a tracked cell pays for it
once, not on every execution.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from functools import lru_cache
from typing import Any

from . import diskcache

GIT_TTL_S = 10.0


@lru_cache(maxsize=1)
def user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


@lru_cache(maxsize=1)
def host() -> str:
    return socket.gethostname()


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def is_alive(pid: int, pid_start: int | None) -> bool:
    """Whether the process that started a run still runs (same host assumed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    if _is_zombie(pid):  # killed but not yet reaped by its parent
        return False
    if pid_start is not None:
        now = process_start(pid)
        return now is None or now == pid_start
    return True


@lru_cache(maxsize=1)
def python_version() -> str:
    return platform.python_version()


class _GitCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, tuple[str | None, bool | None]]] = {}
        self._refreshing: set[str] = set()

    def get(self, cwd: str, block: bool = True) -> tuple[str | None, bool | None]:
        now = time.monotonic()
        with self._lock:
            cached = self._values.get(cwd)
        if cached is None and not block:
            self._refresh_in_background(cwd)
            return None, None
        if cached is None:
            value = _git_state(cwd)
            with self._lock:
                self._values[cwd] = (now, value)
            return value
        if now - cached[0] > GIT_TTL_S:
            self._refresh_in_background(cwd)
        return cached[1]

    def _refresh_in_background(self, cwd: str) -> None:
        with self._lock:
            if cwd in self._refreshing:
                return
            self._refreshing.add(cwd)

        def work() -> None:
            value = _git_state(cwd)
            with self._lock:
                self._values[cwd] = (time.monotonic(), value)
                self._refreshing.discard(cwd)

        threading.Thread(target=work, name="mlops-git", daemon=True).start()


# Reading a work tree's state must never lock it: `git status` refreshes the index under
# .git/index.lock, and a read killed at its timeout (a slow disk, a loaded machine) would
# leave that lock behind and break the user's next `git commit`. Optional locks off, git
# only reads.
_GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0"}


def _git_state(cwd: str) -> tuple[str | None, bool | None]:
    env = {**os.environ, **_GIT_ENV}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            env=env,
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            env=env,
        )
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


_git = _GitCache()


def git_state(cwd: str | None = None, block: bool = True) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git work tree around ``cwd``, or ``(None, None)`` (also while
    a first, non-blocking read is still running in the background)."""
    return _git.get(cwd or os.getcwd(), block)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def installed_distributions() -> dict[str, str]:
    """Every installed distribution (normalised name -> version), read from the names of the
    metadata folders on ``sys.path`` (``name-version.dist-info``): a directory listing, not a
    read of each distribution's metadata. The first one on the path wins, as for imports."""
    out: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                dist, _, version = name[: -len(".dist-info")].rpartition("-")
            elif name.endswith(".egg-info"):
                dist, _, version = name[: -len(".egg-info")].partition("-")
                version = version.split("-py", 1)[0] or _egg_version(os.path.join(entry, name))
            else:
                continue
            if dist:
                out.setdefault(_normalize(dist), version)
    return out


def _egg_version(path: str) -> str:
    try:
        with open(os.path.join(path, "PKG-INFO"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def environment_digest() -> str:
    """A digest of the installed distributions: what cached facts about them depend on."""
    text = "\n".join(f"{k}=={v}" for k, v in sorted(installed_distributions().items()))
    return hashlib.sha256(f"{sys.version}\n{text}".encode()).hexdigest()[:32]


@lru_cache(maxsize=1)
def _distributions_by_module() -> dict[str, list[str]]:
    """Top-level module -> the distributions providing it. Reading it means opening every
    distribution's file list, so it is kept on disk per set of installed distributions."""
    name = f"modules-{environment_digest()}.json"
    cached = diskcache.read_json(name)
    if isinstance(cached, dict):
        return cached
    from importlib.metadata import packages_distributions

    mapping = {k: list(v) for k, v in packages_distributions().items()}
    diskcache.write_json(name, mapping)
    return mapping


@lru_cache(maxsize=4096)
def _dist_version(dist: str) -> str | None:
    version = installed_distributions().get(_normalize(dist))
    if version:
        return version
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as read_version

    try:
        return read_version(dist)
    except PackageNotFoundError:
        return None


_packages_seen: tuple[tuple[int, str | None], dict[str, str]] | None = None


def imported_packages() -> dict[str, str]:
    """Versions of the distributions whose modules this process has imported (recomputed
    only when a module was imported since: every run asks, twice)."""
    global _packages_seen
    modules = sys.modules
    key = (len(modules), next(reversed(modules.keys()), None))
    seen = _packages_seen
    if seen is not None and seen[0] == key:
        return dict(seen[1])
    packages = _imported_packages()
    _packages_seen = (key, packages)
    return dict(packages)


def _imported_packages() -> dict[str, str]:
    mapping = _distributions_by_module()
    out: dict[str, str] = {}
    for name in list(sys.modules):
        if "." in name or name.startswith("_"):
            continue
        for dist in mapping.get(name, ()):
            if dist not in out:
                v = _dist_version(dist)
                if v is not None:
                    out[dist] = v
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


@lru_cache(maxsize=16)
def kernel_argv(kernel_name: str) -> list[str]:
    """The command that starts a Jupyter kernel, read from its ``kernel.json``; jupyter_client
    is asked only when no such file is found (for example ipykernel's built-in spec)."""
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("kernels"):
        spec = os.path.join(folder, kernel_name, "kernel.json")
        try:
            with open(spec, encoding="utf-8") as fh:
                argv = json.load(fh).get("argv", [])
            return [str(a) for a in argv]
        except (OSError, ValueError, AttributeError):
            continue
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return list(KernelSpecManager().get_kernel_spec(kernel_name).argv)
    except Exception:  # an unknown kernel fails later, at start, with its own message
        return []


_prefetch_started = threading.Event()
_prefetch_done = threading.Event()


def prefetch() -> None:
    """Read the installed distributions, the versions of loaded packages and the git state in
    the background (about 0.1 s), so that the first run does not wait for them."""
    if _prefetch_started.is_set():
        return
    _prefetch_started.set()

    cwd = os.getcwd()

    def work() -> None:
        try:
            imported_packages()  # reads the distributions and the versions of what is loaded
        finally:
            _prefetch_done.set()
        git_state(cwd)

    threading.Thread(target=work, name="mlops-env", daemon=True).start()


def environment(block: bool = True) -> dict[str, Any] | None:
    """Python, platform and imported package versions; None if not ready and not blocking."""
    if not _prefetch_done.is_set():
        prefetch()
        if not block:
            return None
        _prefetch_done.wait()  # the background read is under way: wait for it, not redo it
    return {
        "python": python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": imported_packages(),
    }


def notebook_path(user_ns: dict[str, Any] | None = None) -> str | None:
    """The notebook a kernel runs, when its front end says so.

    Jupyter Server names the session (``JPY_SESSION_NAME``, mirrored in ``__session__``);
    VS Code sets ``__vsc_ipynb_file__``; our notebook runner sets the same variable.
    """
    ns = user_ns or {}
    for value in (ns.get("__vsc_ipynb_file__"), ns.get("__session__")):
        if isinstance(value, str) and value.endswith(".ipynb"):
            return value
    path = os.environ.get("JPY_SESSION_NAME")
    if path and path.endswith(".ipynb"):
        return path
    return None
