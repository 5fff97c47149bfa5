"""The one base of every REST handler: authenticated JSON in and out, store work off the event
loop, strict reading of what a client sends, and errors mapped once.

- **Off the loop.** Handlers ``await self.call(fn, ...)``: the Client's (blocking) work runs
  on the extension's thread pool, so a query waiting for a lock held by another process never
  stalls the lab's other requests.
- **Strict input.** A body must be UTF-8 JSON, at most :data:`MAX_BODY` bytes and
  :data:`MAX_DEPTH` levels deep, holding only what the Client would store
  (``client.validation.check_json``: no NaN or Infinity, no integer beyond 64 bits, no lone
  surrogate); query arguments have lengths and ranges. Anything else is a 400 with
  ``{code, message}``.
- **Errors.** An :class:`~jupyter_mlops.exceptions.MlopsError` becomes its status and
  ``{code, message}``; anything else a 500 whose body says only "internal error". A 4xx is
  logged as one short line, never with a traceback nor the input it refused.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.ioloop import IOLoop

from ..client.validation import check_json
from ..entities import jsonable
from ..exceptions import InvalidInput, MlopsError, shown

if TYPE_CHECKING:
    from ..client import Client

T = TypeVar("T")
MAX_BODY = 1 << 20
MAX_DEPTH = 32
MAX_ARG = 20_000
MAX_LOGGED_URI = 300


class BodyTooLarge(InvalidInput):
    code = "BODY_TOO_LARGE"
    http_status = 413


def _reject_constant(name: str) -> Any:
    raise InvalidInput(f"the request body holds {name}, which JSON does not allow")


def parse_json_body(raw: bytes) -> Any:
    """A request body as JSON, within the limits above (InvalidInput otherwise)."""
    if len(raw) > MAX_BODY:
        raise BodyTooLarge(f"the request body is {len(raw):,} bytes; at most {MAX_BODY:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the request body is not UTF-8 text") from None
    if not text.strip():
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except InvalidInput:
        raise
    except RecursionError:
        raise InvalidInput(
            f"the request body is nested more than {MAX_DEPTH} levels deep"
        ) from None
    except ValueError as exc:  # JSONDecodeError, or an integer of too many digits
        raise InvalidInput(f"the request body is not JSON: {str(exc)[:200]}") from None
    # What the Client would store must be storable: the same rules, with a body's limits.
    return check_json(value, "the request body", max_depth=MAX_DEPTH, max_bytes=MAX_BODY)


class MlopsHandler(APIHandler):
    """Base of every route: authenticated JSON in and out, MlopsError → its 4xx status."""

    @property
    def client(self) -> Client:
        client: Client = self.settings["mlops_client"]
        return client

    @property
    def root(self) -> Path:
        """The server's root folder: API paths are relative to it."""
        return Path(self.settings.get("server_root_dir") or ".").expanduser().resolve()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` (blocking store or file work) on the store threads, not the loop."""
        executor: Executor | None = self.settings.get("mlops_executor")
        return await IOLoop.current().run_in_executor(
            executor, functools.partial(fn, *args, **kwargs)
        )

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(jsonable(payload), allow_nan=False, default=str))

    def json_body(self) -> dict[str, Any]:
        """The request body: a JSON object (an empty body is ``{}``)."""
        data = parse_json_body(self.request.body or b"")
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise InvalidInput("the request body must be a JSON object")
        return data

    def text_arg(self, name: str, max_len: int = MAX_ARG) -> str | None:
        value = self.get_argument(name, None)
        if value is not None and len(value) > max_len:
            raise InvalidInput(
                f"Query argument {name!r} is {len(value):,} characters; at most {max_len:,}."
            )
        return value

    def int_arg(self, name: str, default: int, low: int, high: int) -> int:
        text = self.text_arg(name, 40)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise InvalidInput(
                f"Query argument {name!r} must be an integer, got {shown(text)}."
            ) from None
        if not low <= value <= high:
            raise InvalidInput(f"Query argument {name!r} must be from {low} to {high}.")
        return value

    def list_arg(self, name: str, max_items: int = 200) -> list[str]:
        """Repeated (?x=a&x=b) or comma-separated (?x=a,b) values."""
        out: list[str] = []
        for value in self.get_arguments(name):
            if len(value) > MAX_ARG:
                raise InvalidInput(f"Query argument {name!r} is too long.")
            out += [v.strip() for v in value.split(",") if v.strip()]
        if len(out) > max_items:
            raise InvalidInput(f"Query argument {name!r} has more than {max_items} values.")
        return out

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MlopsError):
            status, body = exc.http_status, exc.to_dict()
        elif isinstance(exc, web.HTTPError):
            status = exc.status_code
            body = {"code": "HTTP_ERROR", "message": (exc.log_message or exc.reason or "")[:500]}
        else:
            status = status_code
            body = {"code": "INTERNAL", "message": "Internal error; see the server log."}
        self.set_status(status)
        # The server's request log line names the URI: never megabytes of refused input.
        if len(self.request.uri or "") > MAX_LOGGED_URI:
            self.request.uri = f"{(self.request.uri or '')[:MAX_LOGGED_URI]}…"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """A refused request is one short line; only a real failure carries a traceback."""
        if isinstance(value, MlopsError) and value.http_status < 500:
            self.log.warning(
                "%d %s %s: %s",
                value.http_status,
                self.request.method,
                self.request.path[:200],
                value.message[:300].replace("\n", " "),
            )
            return
        if isinstance(value, web.HTTPError) and value.status_code < 500:
            self.log.warning(
                "%d %s %s: %s",
                value.status_code,
                self.request.method,
                self.request.path[:200],
                (value.log_message or value.reason or "")[:300],
            )
            return
        if isinstance(value, MlopsError):  # a known failure: its message, no traceback
            self.log.error(
                "%d %s %s: %s", value.http_status, self.request.method, self.request.path[:200],
                value.message,
            )  # fmt: skip
            return
        super().log_exception(typ, value, tb)
