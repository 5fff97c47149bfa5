"""The rules every value passes before it reaches a store, shared by the Client's domains.

Each check raises :class:`~jupyter_mlops.exceptions.InvalidInput` naming the field and the
fix. What a check accepts can be stored *and read back*: text is valid UTF-8 (no lone
surrogates, no NUL), JSON documents are bounded in depth and size and hold only what JSON
and both SQL backends carry (finite numbers, integers of at most 64 bits), so a value that
was accepted once never breaks a later read.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from ..exceptions import InvalidInput, MlopsWarning, NotFound, shown
from ..store.base import MetricRow

# Letters and digits of every script (\w), plus the punctuation keys have always allowed.
_KEY_RE = re.compile(r"[\w\-./: ]{1,250}")
_KEY_PUNCTUATION = frozenset("-./: ")
MAX_KEY = 250
# Metric keys already validated: a loop logs the same few keys a million times.
_VALID_KEYS: set[str] = set()
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_JSON_DEPTH = 16
MAX_JSON_BYTES = 64 * 1024
MAX_NAME = 256
MAX_TEXT = 1_000_000


def now_ms() -> int:
    return int(time.time() * 1000)


def is_key(key: Any) -> bool:
    """Whether ``key`` may name a param, metric, tag, dataset or model: 1-250 characters, each
    a letter or digit of any script, a character Python accepts in an identifier (which adds
    combining marks such as Devanagari vowel signs), or one of ``_ - . / :`` and space. So
    every variable name a notebook can hold is a valid key."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY:
        return False
    return _KEY_RE.fullmatch(key) is not None or all(
        ch in _KEY_PUNCTUATION or ("_" + ch).isidentifier() for ch in key
    )


def validate_key(key: Any, what: str) -> str:
    """A param, metric, tag, dataset or model name (see :func:`is_key`)."""
    if not is_key(key):
        raise InvalidInput(
            f"Invalid {what} name {shown(key)}: use 1-250 letters, digits, spaces and "
            f"_ - . / : (for example {what}_1)."
        )
    return key


def key_values(items: Iterable[str], what: str, example: str) -> dict[str, str]:
    """``key=value`` texts (a tag on a command line) as a mapping: the first ``=`` splits, the
    key is stripped; a text without ``=`` or key is refused, naming ``example``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"Bad {what} {shown(item)}: write {example}.")
        out[key.strip()] = value
    return out


def check_text(value: Any, what: str, max_len: int = MAX_TEXT, *, empty: bool = True) -> str:
    """Text that every backend stores and gives back as it was: a str, valid UTF-8 (no lone
    surrogate, which JSON's ``\\ud800`` escapes can produce), no NUL, at most ``max_len``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__} {shown(value)}.")
    if not empty and not value.strip():
        raise InvalidInput(f"{what} must not be empty.")
    if len(value) > max_len:
        raise InvalidInput(
            f"{what} is {len(value):,} characters long; at most {max_len:,} are accepted."
        )
    if "\x00" in value:
        raise InvalidInput(f"{what} must not contain a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{what} is not valid Unicode (it holds a lone surrogate such as \\ud800): "
            f"{shown(value)}."
        ) from None
    return value


def check_name(value: Any, what: str) -> str:
    """A human name (experiment, run, pipeline): 1-256 characters of valid text."""
    return check_text(value, what, MAX_NAME, empty=False)


def check_int(value: Any, what: str, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    """A whole number (not a bool) from ``low`` to ``high`` (64 bits by default)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInput(f"{what} must be a whole number, got {shown(value)}.")
    if not low <= int(value) <= high:
        raise InvalidInput(f"{what} must be from {low} to {high}, got {shown(value)}.")
    return int(value)


def check_json(
    value: Any, what: str, *, max_depth: int = MAX_JSON_DEPTH, max_bytes: int = MAX_JSON_BYTES
) -> Any:
    """A JSON document to store (parameters, options, payloads): objects with text keys,
    arrays, text, finite numbers, integers of at most 64 bits, true, false and null; at most
    ``max_depth`` levels and ``max_bytes`` once encoded. Tuples become lists."""
    out = _json_value(value, what, max_depth, 0)
    size = len(json.dumps(out, separators=(",", ":"), allow_nan=False).encode())
    if size > max_bytes:
        raise InvalidInput(
            f"{what} is {size:,} bytes as JSON; at most {max_bytes:,} are accepted. Pass "
            "large data through a dataset or a file, not as a parameter."
        )
    return out


def _json_value(value: Any, what: str, max_depth: int, depth: int) -> Any:
    if depth > max_depth:
        raise InvalidInput(f"{what} is nested more than {max_depth} levels deep.")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return check_int(value, what)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInput(f"{what} holds {number}, which JSON cannot carry.")
        return number
    if isinstance(value, str):
        return check_text(value, what, MAX_JSON_BYTES)
    if isinstance(value, Mapping):
        return {
            check_text(k, f"a key of {what}", MAX_NAME): _json_value(v, what, max_depth, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_json_value(v, what, max_depth, depth + 1) for v in value]
    raise InvalidInput(f"{what} holds a {type(value).__name__}, which is not JSON.")


def check_json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object of name: value, got {shown(value)}.")
    out: dict[str, Any] = check_json(value, what)
    return out


def param_text(key: str, value: Any) -> str:
    """How a parameter value is stored: scalars as text, containers of scalars as JSON."""
    if isinstance(value, str):
        return check_text(value, f"Parameter {key!r}")
    if value is None or isinstance(value, bool | numbers.Number):
        if isinstance(value, numbers.Number) and hasattr(value, "item"):
            value = value.item()  # numpy scalar -> Python
        return str(value)
    if isinstance(value, list | tuple | dict):
        try:
            return check_text(json.dumps(value, default=_reject), f"Parameter {key!r}")
        except (TypeError, ValueError, RecursionError):
            pass
    text = repr(value)
    warnings.warn(
        f"Parameter {key!r} has a value of type {type(value).__name__} that cannot be stored "
        f"as is; storing its repr {text[:60]!r}.",
        MlopsWarning,
        stacklevel=3,
    )
    return check_text(text, f"Parameter {key!r}")


def _reject(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(type(obj).__name__)


def metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidInput(
                f"Metric {key!r} must be a real number, got {type(value).__name__} {shown(value)}."
            )
    return float(value)


def metric_step(key: str, step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(f"Step of metric {key!r} must be an integer, got {shown(step)}.")
    return check_int(step, f"Step of metric {key!r}")


def metric_row(run_id: str, key: str, value: Any, step: Any, ts: int) -> MetricRow:
    """A validated metric row; the checks cost almost nothing for the usual float and int, as
    a loop logs the same few keys a million times."""
    if key not in _VALID_KEYS:
        _VALID_KEYS.add(validate_key(key, "metric"))
    if type(value) is not float:
        value = metric_value(key, value)
    if type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
        step = metric_step(key, step)
    return (run_id, key, value, step, ts)


def validate_artifact_path(path: Any) -> str:
    """A relative POSIX path inside a run's artifact space: no ``..``, no absolute path."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise InvalidInput(f"Invalid artifact path {shown(path)}.")
    check_text(path, "An artifact path", 4096)
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in ("..", ".", "") for part in path.split("/")):
        raise InvalidInput(
            f"Invalid artifact path {shown(path)}: use a relative path without '..' "
            "(e.g. plots/a.png)."
        )
    return str(pure)


def load_yaml(text: str, what: str, max_bytes: int = 64 * 1024) -> Any:
    """YAML text (a configuration, a policy) as data: at most ``max_bytes`` of text, a syntax
    error named with its line, nesting too deep for the parser an error too (not a crash), and
    the result a JSON document :func:`check_json` accepts."""
    import yaml

    check_text(text, what, max_bytes)
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidInput(
            f"{what} is not valid YAML{where}: {exc.problem or exc.context or 'syntax error'}."
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{what} is not valid YAML: {exc}.") from None
    except RecursionError:
        raise InvalidInput(f"{what} is nested too deeply.") from None
    return check_json(data, what)


def id_prefix(value: Any, kind: str) -> str:
    """An id or a unique prefix of one (1-32 hex digits, any case), lowercased; NotFound
    naming ``kind`` (``schedule``, ``loop``) otherwise."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= 32
        or not all(ch in "0123456789abcdef" for ch in value.lower())
    ):
        raise NotFound(f"No {kind} {shown(value)}: {kind} ids are 1-32 hexadecimal digits.")
    return value.lower()
