"""How a pipeline runs, declared once: :class:`RunOptions`.

The same frozen dataclass is built by ``run_pipeline``'s callers, the CLI (its flags come from
the fields' metadata), ``launch_pipeline`` (which hands it to the process it starts as a JSON
file, so no parameter is ever too long for a command line), the scheduler (a schedule stores
its options) and the REST API (a request body is read by :meth:`RunOptions.from_json`).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlops.client.validation import check_json_object, check_text
from jupyter_mlops.entities import is_id
from jupyter_mlops.exceptions import InvalidInput, shown

MAX_WORKERS = 64
# Where and how steps execute: what a schedule keeps and what a pipeline run records, so that
# a firing or a resumed run executes the same way.
EXECUTION_FIELDS = ("executor", "scheduler_address", "max_workers", "kernel_name")


def _opt(help: str, *cli: str, rest: bool = False) -> dict[str, Any]:
    """Field metadata: its help text, its CLI flags (none: not a plain flag) and whether a
    REST client may set it."""
    return {"help": help, "cli": cli, "rest": rest}


@dataclass(frozen=True)
class RunOptions:
    """Everything that says how one pipeline run goes (beyond the pipeline itself)."""

    params: Mapping[str, Any] = field(
        default_factory=dict,
        metadata=_opt("Pipeline parameters for this run, over the pipeline's own.", rest=True),
    )
    force: bool = field(
        default=False, metadata=_opt("Ignore the cache: run every step.", "--force", rest=True)
    )
    from_step: str | None = field(
        default=None,
        metadata=_opt("Re-run this step and what follows; reuse the rest.", "--from", rest=True),
    )
    resume: bool | str = field(
        default=False,
        metadata=_opt("Re-run a failed run (True: the newest; or a run id) from its failed steps."),
    )
    executor: str = field(
        default="local",
        metadata=_opt(
            "Where steps run: local (kernels of this process) or dask.", "--executor", rest=True
        ),
    )
    scheduler_address: str | None = field(
        default=None,
        metadata=_opt("The Dask scheduler, e.g. tcp://host:8786.", "--scheduler", rest=True),
    )
    max_workers: int = field(
        default=2,
        metadata=_opt("Steps at once (local executor).", "-j", "--workers", rest=True),
    )
    kernel_name: str = field(
        default="python3", metadata=_opt("The Jupyter kernel every step runs in.", "--kernel")
    )
    output_dir: str | os.PathLike[str] | None = field(
        default=None, metadata=_opt("Keep the executed notebooks in this folder.", "--output-dir")
    )
    root: str | os.PathLike[str] | None = field(
        default=None,
        metadata=_opt("Refuse notebooks that resolve outside this folder (the lab's root)."),
    )
    run_id: str | None = field(
        default=None,
        metadata=_opt("The pipeline run's id (32 hex), chosen by the caller.", "--run-id"),
    )
    trigger: str = field(
        default="manual", metadata=_opt("Why it runs (recorded on the run).", "--trigger")
    )
    progress: bool = field(default=True, metadata=_opt("Show a progress bar on a terminal."))

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params or {}))
        for name in ("output_dir", "root"):  # folders: given as paths, kept as text
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                object.__setattr__(self, name, os.fspath(value))

    def replace(self, **changes: Any) -> RunOptions:
        return dataclasses.replace(self, **changes)

    def validate(self, executors: Iterable[str] = ()) -> RunOptions:
        """Check every field; ``executors`` are the executor names known here.

        Raises:
            InvalidInput: naming the field and what it accepts.
        """
        check_json_object(self.params, "Pipeline parameters")
        for name in ("force", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInput(
                    f"{name} must be true or false, got {shown(getattr(self, name))}"
                )
        if not isinstance(self.resume, bool) and not is_id(self.resume):
            raise InvalidInput(f"resume must be true, false or a run id, got {shown(self.resume)}")
        if sum(bool(x) for x in (self.force, self.from_step, self.resume)) > 1:
            raise InvalidInput("use at most one of force, from_step and resume")
        if (
            isinstance(self.max_workers, bool)
            or not isinstance(self.max_workers, numbers.Integral)
            or not 1 <= self.max_workers <= MAX_WORKERS
        ):
            raise InvalidInput(
                f"max_workers must be a whole number from 1 to {MAX_WORKERS}, "
                f"got {shown(self.max_workers)}"
            )
        known = list(executors)
        if known and self.executor not in known:
            raise InvalidInput(
                f"unknown executor {shown(self.executor)}; use one of {', '.join(known)}"
            )
        if self.executor == "dask" and not self.scheduler_address:
            raise InvalidInput("the dask executor needs a scheduler address (tcp://host:8786)")
        for name, limit in (
            ("from_step", 256),
            ("executor", 64),
            ("scheduler_address", 2048),
            ("kernel_name", 256),
            ("output_dir", 4096),
            ("root", 4096),
        ):
            value = getattr(self, name)
            if value is not None:
                check_text(value, name, limit, empty=False)
        check_text(self.trigger, "trigger", 256, empty=False)
        if self.run_id is not None and not is_id(self.run_id):
            raise InvalidInput(f"run_id must be 32 lowercase hex digits, got {shown(self.run_id)}")
        return self

    def execution(self) -> dict[str, Any]:
        """The execution fields (:data:`EXECUTION_FIELDS`) that are set."""
        return {k: getattr(self, k) for k in EXECUTION_FIELDS if getattr(self, k) is not None}

    def to_json(self) -> dict[str, Any]:
        """The options as a JSON object (:meth:`from_json` reads it back)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)} | {
            "params": dict(self.params)
        }

    @classmethod
    def from_json(
        cls, data: Any, *, allowed: Iterable[str] | None = None, **fixed: Any
    ) -> RunOptions:
        """Options from a JSON object, field by field, with types checked; ``allowed`` limits
        which fields it may set (a REST client sets only :func:`rest_fields`) and ``fixed``
        sets others whatever it holds.

        Raises:
            InvalidInput: not an object, an unknown or forbidden field, a value of the wrong
                type.
        """
        if not isinstance(data, Mapping):
            raise InvalidInput(f"run options must be a JSON object, got {shown(data)}")
        names = {f.name: f for f in dataclasses.fields(cls)}
        permitted = set(names if allowed is None else allowed)
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names or key not in permitted:
                raise InvalidInput(
                    f"unknown run option {shown(key)}; use {', '.join(sorted(permitted))}"
                )
            if value is None:
                continue  # null: the default (every option has one)
            values[key] = _typed(key, value, names[key].type)
        return cls(**(values | fixed))


def rest_fields() -> list[str]:
    """The options a REST client may set (the server decides the others)."""
    return [f.name for f in dataclasses.fields(RunOptions) if f.metadata.get("rest")]


def cli_fields() -> list[dataclasses.Field[Any]]:
    """The options that are plain CLI flags, with their metadata (``cli``, ``help``)."""
    return [f for f in dataclasses.fields(RunOptions) if f.metadata.get("cli")]


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "str | None": lambda v: isinstance(v, str),
    "str | os.PathLike[str] | None": lambda v: isinstance(v, str),
    "bool | str": lambda v: isinstance(v, bool | str),
    "Mapping[str, Any]": lambda v: isinstance(v, Mapping),
}


def _typed(name: str, value: Any, annotation: Any) -> Any:
    check = _CHECKS[str(annotation)]
    if not check(value):
        expected = str(annotation).replace("Mapping[str, Any]", "an object")
        raise InvalidInput(f"run option {name!r} must be {expected}, got {shown(value)}")
    return value
