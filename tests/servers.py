"""A Jupyter server (or JupyterLab) in its own process, as the browser and fuzz tests use it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def jupyter_process(
    app: str, root: Path, token: str, args: Sequence[str] = (), env: dict[str, str] | None = None
) -> Iterator[str]:
    """``python -m <app>`` (``jupyter_server`` or ``jupyterlab``) serving ``root`` on a free
    loopback port, with none of the JUPYTER_MLOPS_* variables of this process; yields its
    URL once ``/api/status`` answers and stops it afterwards. Its log is ``<root>.log``."""
    port = free_port()
    log_path = root.parent / f"{root.name}.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    child_env.update(env or {})
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                app,
                "--allow-root",
                "--no-browser",
                f"--port={port}",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.token={token}",
                f"--ServerApp.root_dir={root}",
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=root,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log_path.read_text()[-3000:]) from None
            time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
