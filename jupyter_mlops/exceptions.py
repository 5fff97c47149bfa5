"""Errors and warnings raised by jupyter-mlops.

Every error carries a stable ``code`` so that the CLI, the magics and the REST API can map it
once (to an exit status, a ``UsageError`` or an HTTP status) instead of matching messages.
"""

from __future__ import annotations

from typing import Any


class MlopsError(Exception):
    """Base class: ``message`` says what went wrong and how to fix it.

    ``public`` is what an HTTP client is told of a server-side failure (a 5xx): by default
    only its kind, as its message may name files of the server; a 4xx tells the message.
    """

    code = "MLOPS_ERROR"
    http_status = 500

    def __init__(self, message: str, code: str | None = None, *, public: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if public is not None:
            self.public = public
        elif self.http_status < 500:
            self.public = message
        else:
            self.public = f"{type(self).__name__}: the server could not do this; see its log."

    def to_dict(self) -> dict[str, Any]:
        """What an HTTP client is told: the code and the public message (a subclass adds
        what a client needs to act on it)."""
        return {"code": self.code, "message": self.public}


class NotFound(MlopsError):
    code = "NOT_FOUND"
    http_status = 404


class InvalidInput(MlopsError):
    code = "INVALID_INPUT"
    http_status = 400


class TooLarge(InvalidInput):
    """A request body over the size limit."""

    code = "TOO_LARGE"
    http_status = 413


class Unauthorized(MlopsError):
    """A request without the bearer token a server asks for."""

    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(MlopsError):
    """A request a server refuses whoever sends it (a ``Host`` it does not answer to)."""

    code = "FORBIDDEN"
    http_status = 403


class Conflict(MlopsError):
    code = "CONFLICT"
    http_status = 409


class IntegrityError(MlopsError):
    """Stored bytes do not match the hash recorded for them: refuse to use them."""

    code = "INTEGRITY_ERROR"
    http_status = 500


class ExecutionError(MlopsError):
    """A notebook cell failed; keeps papermill's fields."""

    code = "EXECUTION_ERROR"
    http_status = 500

    def __init__(
        self,
        message: str,
        *,
        cell_index: int | None = None,
        ename: str = "",
        evalue: str = "",
        traceback: str = "",
    ) -> None:
        super().__init__(message, public=f"{ename or 'a cell'} failed: {evalue}"[:1000])
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback


class MlopsWarning(UserWarning):
    """Something was recorded differently from how it was given (e.g. a param stored as repr)."""


def shown(value: object, limit: int = 80) -> str:
    """User input as an error message shows it: its repr, cut to ``limit`` characters, so a
    message (and the log line and HTTP body made of it) never echoes megabytes of input."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


def shown_path(path: object, limit: int = 120) -> str:
    """A file path as an error message shows it (quoted, cut like :func:`shown`)."""
    return shown(str(path), limit)
