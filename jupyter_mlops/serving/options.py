"""How a model server runs, declared once: :class:`ServeOptions`.

The CLI's flags come from the fields' metadata; ``mlops.serve(...)`` takes the same names as
keywords; the lab's REST route reads a JSON body with :meth:`ServeOptions.from_json`; the
server process gets them as JSON. The token is never part of that JSON or of the server's
record: it travels in the child's environment only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..client.validation import check_text
from ..exceptions import InvalidInput, shown

MAX_WORKERS = 32
# A DNS name: labels of letters, digits and inner hyphens.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
TOKEN_ENV = "JUPYTER_MLOPS_SERVE_TOKEN"


def _opt(help: str, *cli: str, rest: bool = True) -> dict[str, Any]:
    return {"help": help, "cli": cli, "rest": rest}


@dataclass(frozen=True)
class ServeOptions:
    host: str = field(
        default="127.0.0.1",
        metadata=_opt(
            "Address to listen on (0.0.0.0: every interface; then set --token).", "--host"
        ),
    )
    port: int = field(default=0, metadata=_opt("Port (0: a free one).", "--port", "-p"))
    token: str | None = field(
        default=None,
        metadata=_opt(
            "Bearer token every request but health checks must carry "
            "(default: $JUPYTER_MLOPS_SERVE_TOKEN, else none).",
            "--token",
        ),
    )
    workers: int = field(
        default=1, metadata=_opt("Worker processes, each with the model loaded.", "--workers")
    )
    idle_timeout: float | None = field(
        default=None,
        metadata=_opt("Stop after this many seconds without a request.", "--idle-timeout"),
    )
    max_batch: int = field(
        default=1,
        metadata=_opt(
            "Merge concurrent requests into one predict call of up to this many rows (1: off).",
            "--max-batch",
        ),
    )
    max_wait_ms: float = field(
        default=2.0,
        metadata=_opt("How long a request waits for others to batch with.", "--max-wait-ms"),
    )
    record: bool = field(
        default=True, metadata=_opt("Record every prediction in the store.", "--record/--no-record")
    )
    max_body_mb: float = field(
        default=10.0, metadata=_opt("Largest request body accepted (413 above).", "--max-body-mb")
    )
    allowed_hosts: tuple[str, ...] = field(
        default=(),
        metadata=_opt(
            "Host names the server answers to besides its own address and localhost "
            "(repeat; '*' for any).",
            "--allow-host",
        ),
    )
    queue_rows: int = field(
        default=200_000,
        metadata=_opt(
            "Prediction rows held for recording before new ones are dropped.", rest=False
        ),
    )

    def replace(self, **changes: Any) -> ServeOptions:
        return dataclasses.replace(self, **changes)

    def validate(self) -> ServeOptions:
        check_text(self.host, "host", 255, empty=False)
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            if not _HOST_NAME.fullmatch(self.host):
                raise InvalidInput(
                    f"host must be an IP address or a host name, got {shown(self.host)}."
                ) from None
        _int(self.port, "port", 0, 65535)
        _int(self.workers, "workers", 1, MAX_WORKERS)
        _int(self.max_batch, "max_batch", 1, 100_000)
        _int(self.queue_rows, "queue_rows", 1, 100_000_000)
        _number(self.max_wait_ms, "max_wait_ms", 0, 1000)
        _number(self.max_body_mb, "max_body_mb", 0.001, 4096)
        if self.idle_timeout is not None:
            _number(self.idle_timeout, "idle_timeout", 1, 10**7)
        if self.token is not None:
            check_text(self.token, "token", 512, empty=False)
        if not isinstance(self.record, bool):
            raise InvalidInput(f"record must be true or false, got {shown(self.record)}.")
        if not isinstance(self.allowed_hosts, tuple):
            raise InvalidInput(
                f"allowed_hosts must be a list of host names, got {shown(self.allowed_hosts)}."
            )
        for name in self.allowed_hosts:
            check_text(name, "an allowed host", 255, empty=False)
        return self

    def to_json(self) -> dict[str, Any]:
        """The options as JSON, without the token (``token_set`` says whether one is)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["allowed_hosts"] = list(self.allowed_hosts)
        out.pop("token")
        out["token_set"] = self.token is not None
        return out

    @classmethod
    def from_json(cls, data: Any, *, allowed: Iterable[str] | None = None) -> ServeOptions:
        """Options from a JSON object; ``allowed`` limits the fields it may set."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"Server options must be a JSON object, got {shown(data)}.")
        names = {f.name for f in dataclasses.fields(cls)}
        permitted = names if allowed is None else set(allowed)
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key == "token_set":
                continue
            if key not in permitted:
                raise InvalidInput(
                    f"Unknown server option {shown(key)}; use {', '.join(sorted(permitted))}."
                )
            if value is None:
                continue
            if key == "allowed_hosts":
                if not isinstance(value, list):
                    raise InvalidInput(
                        f"allowed_hosts must be a list of host names, got {shown(value)}."
                    )
                value = tuple(value)
            values[key] = value
        return cls(**values).validate()


def rest_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(ServeOptions) if f.metadata.get("rest")]


def cli_fields() -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(ServeOptions) if f.metadata.get("cli")]


def _int(value: Any, name: str, low: int, high: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= int(value) <= high
    ):
        raise InvalidInput(
            f"{name} must be a whole number from {low} to {high}, got {shown(value)}."
        )


def _number(value: Any, name: str, low: float, high: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not low <= float(value) <= high
    ):
        raise InvalidInput(f"{name} must be a number from {low} to {high}, got {shown(value)}.")
