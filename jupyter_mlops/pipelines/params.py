"""What a step's notebook declares as parameters (papermill's reading of the cell tagged
``parameters``), and whether the values a pipeline gives fit their types."""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlops import capture, diskcache
from jupyter_mlops.exceptions import shown_path


@dataclass(frozen=True)
class ParamType:
    name: str  # int, float, str, bool, list, dict
    nullable: bool = False


@dataclass(frozen=True)
class NotebookParameters:
    has_cell: bool
    params: dict[str, ParamType | None]  # None: type unknown, anything goes


_ANNOTATION_NAMES = {
    "int": "int",
    "float": "float",
    "str": "str",
    "bool": "bool",
    "list": "list",
    "tuple": "list",
    "sequence": "list",
    "dict": "dict",
    "mapping": "dict",
}


# Bumped when what is cached of an inspection changes.
_CACHE_VERSION = 1


def inspect_parameters(path: Path) -> NotebookParameters | str:
    """The parameters ``path`` declares, or why it cannot be used (a phrase after its name).

    Remembered per file version (size, mtime) in this process, and per file content on disk
    (``diskcache``): validating and running a pipeline asks for each notebook more than once,
    and papermill's inspection imports papermill and nbformat (about a second) and parses the
    notebook, which an unchanged pipeline should not pay for.
    """
    try:
        st = path.stat()
    except (OSError, ValueError):
        st = None
    if st is None or not path.is_file():
        return (
            f"not found (looked for {shown_path(path)}); fix the path, relative to the "
            "pipeline file's folder"
        )
    return _inspect_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _inspect_cached(file: str, size: int, mtime_ns: int) -> NotebookParameters | str:
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    papermill_version = capture.installed_distributions().get("papermill", "")
    key = hashlib.sha256(f"{_CACHE_VERSION}/{papermill_version}/".encode() + data).hexdigest()
    name = f"notebook-params/{key}.json"
    cached = _decode(diskcache.read_json(name))
    if cached is not None:
        return cached
    found = _inspect(Path(file), data)
    diskcache.write_json(name, _encode(found))
    return found


def _inspect(path: Path, data: bytes) -> NotebookParameters | str:
    # Imported here: papermill pulls in a lot and only an inspection needs it.
    import nbformat
    import papermill

    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as exc:
        return f"cannot be read as a notebook ({type(exc).__name__}: {exc}); save it from Jupyter"
    has_cell = any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells)
    if not has_cell:
        return NotebookParameters(has_cell=False, params={})
    try:
        found = papermill.inspect_notebook(str(path))
    except ValueError as exc:
        # papermill needs metadata.kernelspec to pick the language translator.
        return (
            f"cannot be inspected by papermill ({exc}); open it in Jupyter, pick a kernel and save"
        )
    return NotebookParameters(
        has_cell=True, params={name: _param_type(p) for name, p in found.items()}
    )


def _encode(found: NotebookParameters | str) -> dict[str, Any]:
    if isinstance(found, str):
        return {"error": found}
    return {
        "has_cell": found.has_cell,
        "params": {k: None if t is None else [t.name, t.nullable] for k, t in found.params.items()},
    }


def _decode(value: Any) -> NotebookParameters | str | None:
    """An inspection read back from the disk cache (None if it is not one)."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("error"), str):
        return str(value["error"])
    params = value.get("params")
    if not isinstance(params, dict) or not isinstance(value.get("has_cell"), bool):
        return None
    out: dict[str, ParamType | None] = {}
    for name, typ in params.items():
        if typ is None:
            out[name] = None
        elif isinstance(typ, list) and len(typ) == 2:
            out[name] = ParamType(str(typ[0]), bool(typ[1]))
        else:
            return None
    return NotebookParameters(has_cell=value["has_cell"], params=out)


def _param_type(param: Mapping[str, Any]) -> ParamType | None:
    """The type papermill reports (from an annotation), else the type of the default value."""
    annotation = str(param.get("inferred_type_name") or "None").strip()
    if annotation != "None":
        return _annotation_type(annotation)
    try:
        default = ast.literal_eval(str(param.get("default", "")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None  # an expression such as foo(): nothing to compare with
    if default is None:
        return None
    name = _type_name(default)
    if name == "set":
        return None
    return ParamType(name) if name in _ANNOTATION_NAMES.values() else None


def _annotation_type(annotation: str) -> ParamType | None:
    text = annotation.replace(" ", "")
    nullable = False
    for prefix in ("Optional[", "typing.Optional["):
        if text.startswith(prefix) and text.endswith("]"):
            text, nullable = text[len(prefix) : -1], True
    parts = [p for p in text.split("|") if p]
    if "None" in parts:
        nullable = True
        parts = [p for p in parts if p != "None"]
    if len(parts) != 1:
        return None  # a union such as int | str: not checked
    base = parts[0].split("[", 1)[0].rsplit(".", 1)[-1].lower()
    name = _ANNOTATION_NAMES.get(base)
    return ParamType(name, nullable) if name else None


# -- helpers -------------------------------------------------------------------------------


def check_param(
    step: str, shown: str, info: NotebookParameters, pname: str, value: Any, what: str
) -> list[str]:
    if pname not in info.params:
        declared = ", ".join(sorted(info.params)) or "none"
        if what == "pipeline parameter":
            return []
        return [
            f"step {step!r}: {what} {pname!r} is not declared in {shown}"
            f"{suggest(pname, info.params)} (declared: {declared}); add it to the cell tagged "
            "'parameters' or remove it"
        ]
    expected = info.params[pname]
    if expected is None or _type_ok(expected, value):
        return []
    hint = ""
    if expected.name in ("int", "float") and isinstance(value, str) and _parses_as_float(value):
        # YAML 1.1 (PyYAML) reads 1e-3 as text; 1.0e-3 is a float.
        hint = "; write it as a number, e.g. 1.0e-3 rather than 1e-3"
    return [
        f"step {step!r}: {what} {pname!r} is {expected.name} in {shown}, got "
        f"{_short_repr(value)} ({_type_name(value)}){hint}"
    ]


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _type_ok(expected: ParamType, value: Any) -> bool:
    if value is None:
        return bool(expected.nullable)
    if isinstance(value, bool):
        return expected.name == "bool"
    if expected.name == "float":
        return isinstance(value, (int, float))
    if expected.name == "int":
        return isinstance(value, int)
    if expected.name == "str":
        return isinstance(value, str)
    if expected.name == "bool":
        return False
    if expected.name == "list":
        return isinstance(value, (list, tuple))
    if expected.name == "dict":
        return isinstance(value, Mapping)
    return True


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, Mapping):
        return "dict"
    if isinstance(value, tuple):
        return "list"
    return type(value).__name__


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
