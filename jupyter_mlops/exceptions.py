"""Errors and warnings raised by jupyter-mlops.

Every error carries a stable ``code`` so that the CLI, the magics and the REST API can map it
once (to an exit status, a ``UsageError`` or an HTTP status) instead of matching messages.
"""

from __future__ import annotations


class MlopsError(Exception):
    """Base class: ``message`` says what went wrong and how to fix it."""

    code = "MLOPS_ERROR"
    http_status = 500

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class NotFound(MlopsError):
    code = "NOT_FOUND"
    http_status = 404


class InvalidInput(MlopsError):
    code = "INVALID_INPUT"
    http_status = 400


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
        super().__init__(message)
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback


class MlopsWarning(UserWarning):
    """Something was recorded differently from how it was given (e.g. a param stored as repr)."""
