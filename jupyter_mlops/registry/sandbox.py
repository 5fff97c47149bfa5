"""The model under test runs in a child process: a model that crashes (a native library
aborting on NaN) or hangs kills or stalls the child, never the kernel, the CLI or the Jupyter
server that validates it.

The child is ``python -m jupyter_mlops.registry.sandbox``; it loads models through the Client
(``models:/…`` URIs, so the sha256 is checked before unpickling) and answers requests. Both
sides speak length-prefixed pickles over the child's stdin and the stdout it had at start
(the child points fd 1 at stderr, so a model that prints cannot corrupt the channel). The
parent reads in a thread, so every request has a timeout; on a timeout or a death the child
is killed and the next request starts a new one.
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

_HEADER = struct.Struct("!Q")
# Exceptions that are a model refusing bad input with a message (the contract of the
# robustness gate); any other exception type is a crash of the model's code.
CLEAR_ERRORS = ("ValueError", "TypeError", "KeyError", "InvalidInput", "MlopsError")


@dataclass
class Outcome:
    """What one request to the sandbox came to."""

    status: str  # ok | error | crashed | hung
    value: Any = None
    error_type: str = ""
    message: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def clear_error(self) -> bool:
        """The model refused the input with an error a caller can act on."""
        return self.status == "error" and self.error_type in CLEAR_ERRORS and bool(self.message)

    def describe(self) -> str:
        if self.status == "ok":
            return "predicted"
        if self.status == "error":
            return f"raised {self.error_type}: {self.message[:200]}"
        return f"{self.status}: {self.message[:200]}"


def _write(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class ModelSandbox:
    """A child process holding models by key. Use as a context manager."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = {**os.environ, **env}
        self._proc: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[Any] = queue.Queue()
        self._loaded: dict[str, str] = {}

    def __enter__(self) -> ModelSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlops.registry.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self._env,
        )
        self._replies = queue.Queue()
        replies, stdout = self._replies, proc.stdout

        def pump() -> None:
            assert stdout is not None
            while True:
                try:
                    replies.put(_read(stdout))
                except (EOFError, OSError, pickle.UnpicklingError):
                    replies.put(EOFError())
                    return

        threading.Thread(target=pump, daemon=True, name="mlops-sandbox-reader").start()
        self._proc = proc
        for key, uri in self._loaded.items():  # a restarted child holds what the last one did
            outcome = self._ask(("load", key, uri), 600)
            if not outcome.ok:
                raise RuntimeError(f"the sandbox could not reload {uri}: {outcome.describe()}")
        return proc

    def _ask(self, request: tuple[Any, ...], timeout: float) -> Outcome:
        proc = self._proc or self._start()
        started = time.perf_counter()
        try:
            assert proc.stdin is not None
            _write(proc.stdin, request)
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            self._kill()
            return Outcome(
                "hung", message=f"no answer within {timeout:g} s; the process was killed"
            )
        except (BrokenPipeError, OSError):
            reply = EOFError()
        seconds = time.perf_counter() - started
        if isinstance(reply, EOFError):
            code = proc.wait()
            self._proc = None
            return Outcome(
                "crashed", message=f"the process died (exit status {code})", seconds=seconds
            )
        status, value, error_type, message = reply
        return Outcome(status, value, error_type, message, seconds)

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def load(self, key: str, uri: str, timeout: float = 600) -> Outcome:
        """Load ``uri`` (``models:/name/3``) under ``key``; the sha256 is checked first. A
        model already loaded under ``key`` is not read again (a child started after a crash
        reloads what its predecessor held)."""
        if self._loaded.get(key) == uri:
            return Outcome("ok")
        outcome = self._ask(("load", key, uri), timeout)
        if outcome.ok:
            self._loaded[key] = uri
        return outcome

    def predict(self, key: str, data: Any, timeout: float, proba: bool = False) -> Outcome:
        """``(predictions, probabilities or None, classes or None)`` as numpy arrays."""
        return self._ask(("predict", key, data, proba), timeout)

    def time_predict(self, key: str, data: Any, repeats: int, timeout: float) -> Outcome:
        """Seconds of each of ``repeats`` predict calls on ``data``, after a warm-up."""
        return self._ask(("time", key, data, repeats), timeout)


# The child --------------------------------------------------------------------------------
def _predict(model: Any, data: Any, proba: bool) -> tuple[Any, Any, Any]:
    import numpy as np

    from ..models import predict

    predictions = np.asarray(predict(model, data))
    probabilities = None
    if proba and hasattr(model, "predict_proba"):
        try:
            probabilities = np.asarray(model.predict_proba(data), dtype=float)
        except Exception:  # scores are optional: the metrics that need them say so
            probabilities = None
    classes = getattr(model, "classes_", None)
    return predictions, probabilities, None if classes is None else np.asarray(classes)


def _time(model: Any, data: Any, repeats: int) -> list[float]:
    from ..models import predict

    for _ in range(min(3, repeats)):
        predict(model, data)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        predict(model, data)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what the model prints goes to stderr, not into the channel
    requests = sys.stdin.buffer
    from ..client import Client

    client = Client()
    models: dict[str, Any] = {}
    while True:
        try:
            request = _read(requests)
        except EOFError:
            return
        kind, key, *args = request
        try:
            if kind == "load":
                models[key] = client.load_model(args[0])
                value: Any = None
            elif kind == "predict":
                value = _predict(models[key], args[0], args[1])
            else:
                value = _time(models[key], args[0], args[1])
            reply = ("ok", value, "", "")
        except Exception as exc:  # the model's own error is the answer
            reply = ("error", None, type(exc).__name__, str(exc))
        try:
            _write(channel, reply)
        except Exception as exc:  # an answer pickle cannot carry
            _write(channel, ("error", None, type(exc).__name__, f"unsendable answer: {exc}"))


if __name__ == "__main__":
    main()
