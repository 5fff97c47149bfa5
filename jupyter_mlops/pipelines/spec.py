"""Pipeline spec: steps are parameterized notebooks joined by ``upstream`` edges.

The same pipeline is written as ``pipeline.yaml``::

    name: churn
    params:                 # optional: given to every step whose notebook declares them
      seed: 42
    steps:
      - name: prepare
        notebook: prepare.ipynb          # relative to the folder of pipeline.yaml
        parameters: {rows: 1000}
        outputs: [data/train.csv, "dataset:train"]
      - name: train
        notebook: train.ipynb
        upstream: [prepare]
        inputs: ["dataset:train"]
        outputs: ["model:churn"]
        timeout: 600
        retries: 2

or in Python as ``Pipeline(name, [Step(...), ...], params={...})``. Loading checks the shape
(keys, field types); :meth:`Pipeline.validate` checks everything else (graph, notebooks,
parameters) and reports every problem at once, one line each, naming the step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jupyter_mlops.exceptions import InvalidInput, NotFound, shown_path

__all__ = ["REF_KINDS", "Pipeline", "Step", "format_ref", "split_ref"]

from .params import NotebookParameters, check_param, inspect_parameters, is_number, suggest

REF_KINDS = ("file", "dataset", "model")
PIPELINE_KEYS = ("name", "params", "steps")
STEP_KEYS = (
    "name",
    "notebook",
    "parameters",
    "upstream",
    "inputs",
    "outputs",
    "timeout",
    "retries",
    "retry_backoff",
    "promote",
)
# Steps that are actions, not notebooks (pipelines/actions.py runs them).
ACTION_KEYS = ("promote",)
# Names end up in CLI flags (--from STEP), run names and artifact paths.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PREFIX_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_]+):(?!//)")


def split_ref(ref: str) -> tuple[str, str]:
    """Split a declared input/output into ``(kind, name)``; no prefix means ``file``.

    Raises:
        InvalidInput: the prefix is not one of ``file:``, ``dataset:``, ``model:``.
    """
    match = _PREFIX_RE.match(ref)
    if match is None:
        # No prefix, a URL (s3://...) or a Windows drive letter: a file.
        return "file", ref
    kind = match.group(1)
    if kind not in REF_KINDS:
        raise InvalidInput(
            f"unknown kind {kind!r} in {ref!r}; use one of "
            + ", ".join(f"'{k}:'" for k in REF_KINDS)
            + " (no prefix means a file)"
        )
    return kind, ref[match.end() :]


def format_ref(ref: str) -> str:
    """The canonical form of a declared input/output: always ``kind:name``."""
    kind, name = split_ref(ref)
    return f"{kind}:{name}"


@dataclass(frozen=True)
class Step:
    """One notebook run by papermill.

    Attributes:
        name: unique within the pipeline; used by ``upstream``, ``--from`` and run names.
        notebook: path to the ``.ipynb``; relative paths are relative to the pipeline's
            ``base_dir`` (the folder of ``pipeline.yaml``).
        parameters: injected by papermill; each must be declared in the notebook's cell
            tagged ``parameters``.
        upstream: names of the steps that must finish before this one starts.
        inputs: what the step reads, ``file:``, ``dataset:`` or ``model:`` (default ``file:``).
        outputs: what the step writes, same form as ``inputs``.
        timeout: seconds before the step is stopped and marked FAILED; None means no limit.
        retries: extra attempts after a failure.
        retry_backoff: seconds before the first retry; doubled before each further one.
        promote: instead of a notebook, a promotion (``{model: churn, metric: f1,
            holdout: data/holdout.csv}``): the models the upstream steps logged are
            registered as versions of ``model`` (default: the model of the
            continuous-training loop that runs the pipeline) and the best that passes its
            gates is promoted by the model's policy. Run in the pipeline's process, never
            cached.
    """

    name: str
    notebook: str | Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    upstream: tuple[str, ...] | list[str] = ()
    inputs: tuple[str, ...] | list[str] = ()
    outputs: tuple[str, ...] | list[str] = ()
    timeout: float | None = None
    retries: int = 0
    retry_backoff: float = 2.0
    promote: Mapping[str, Any] | None = None

    @property
    def action(self) -> tuple[str, Mapping[str, Any]] | None:
        """``(kind, settings)`` of an action step; None for a notebook step."""
        return None if self.promote is None else ("promote", self.promote)

    def __post_init__(self) -> None:
        # Frozen and comparable: sequences become tuples whatever the caller passed.
        object.__setattr__(self, "parameters", dict(self.parameters))
        for name in ("upstream", "inputs", "outputs"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))

    def to_dict(self, base_dir: Path | None = None) -> dict[str, Any]:
        """The YAML form; only fields that differ from their defaults are written."""
        out: dict[str, Any] = {
            "name": self.name,
            "notebook": _display_path(self.notebook, base_dir),
        }
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        for key in ("upstream", "inputs", "outputs"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.timeout is not None:
            out["timeout"] = self.timeout
        if self.retries:
            out["retries"] = self.retries
        if self.retry_backoff != 2.0:
            out["retry_backoff"] = self.retry_backoff
        if self.promote is not None:
            out["promote"] = dict(self.promote)
            if not str(self.notebook):
                del out["notebook"]
        return out


@dataclass(frozen=True)
class Pipeline:
    """A DAG of notebook steps.

    Attributes:
        name: the pipeline's name (the parent run's name).
        steps: the steps, in the order written.
        params: pipeline-wide parameters, given to every step whose notebook declares them;
            a step's own ``parameters`` win.
        base_dir: where relative notebook paths start; the YAML file's folder when loaded.
        path: the YAML file it was loaded from (recorded on its runs; schedules name it).
    """

    name: str
    steps: tuple[Step, ...] | list[Step]
    params: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path | None = None
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "params", dict(self.params))
        if self.base_dir is not None:
            object.__setattr__(self, "base_dir", Path(self.base_dir).resolve())
        if self.path is not None:
            object.__setattr__(self, "path", Path(self.path).resolve())

    # -- loading and saving ---------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Pipeline:
        """Load ``pipeline.yaml``; notebook paths are relative to its folder.

        Raises:
            NotFound: no such file.
            InvalidInput: YAML syntax (with the line number) or shape problems.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"pipeline file {shown_path(path)} not found") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{path.name}: not UTF-8 text; save it as UTF-8") from None
        except OSError as exc:
            raise InvalidInput(
                f"pipeline file {shown_path(path)} cannot be read: {exc.strerror or exc}"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
            problem = exc.problem or exc.context or "syntax error"
            raise InvalidInput(
                f"{path.name}: YAML syntax error at {where}: {problem}; fix the YAML there"
            ) from None
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{path.name}: YAML error: {exc}") from None
        except RecursionError:
            raise InvalidInput(f"{path.name}: nested too deeply to be a pipeline") from None
        pipeline = cls.from_dict(data, base_dir=path.parent, source=path.name)
        return dataclasses.replace(pipeline, path=path)

    @classmethod
    def from_dict(
        cls,
        data: Any,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        source: str = "pipeline",
    ) -> Pipeline:
        """Build a pipeline from its YAML form (a dict).

        Shape problems (unknown keys, wrong field types) are collected; if there are any,
        the rest of the pipeline is validated too and everything is raised in one message.

        Raises:
            InvalidInput: listing every problem, one line each.
        """
        base = Path(base_dir) if base_dir is not None else None
        if not isinstance(data, Mapping):
            got = "an empty file" if data is None else type(data).__name__
            raise InvalidInput(
                f"{source}: expected a mapping with keys 'name' and 'steps', got {got}"
            )
        problems: list[str] = []
        problems += _unknown_keys(data, PIPELINE_KEYS, f"{source}: top-level")

        name = data.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{source}: 'name' must be a non-empty string, e.g. name: churn")
            name = str(name) if name else "pipeline"
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            problems.append(
                f"{source}: 'params' must be a mapping of name: value, got {type(params).__name__}"
            )
            params = {}
        raw_steps = data.get("steps")
        steps: list[Step] = []
        if not isinstance(raw_steps, list) or not raw_steps:
            problems.append(
                f"{source}: 'steps' must be a non-empty list of steps, each with "
                "'name' and 'notebook'"
            )
            raw_steps = []
        for index, raw in enumerate(raw_steps):
            step = _step_from_dict(raw, index, problems)
            if step is not None:
                steps.append(step)

        pipeline = cls(name=name, steps=steps, params=params, base_dir=base)
        if problems:
            problems += pipeline.problems()
            raise InvalidInput(_join(problems))
        return pipeline

    def to_dict(self) -> dict[str, Any]:
        """The YAML form; notebook paths are written relative to ``base_dir``."""
        out: dict[str, Any] = {"name": self.name}
        if self.params:
            out["params"] = dict(self.params)
        out["steps"] = [step.to_dict(self.base_dir) for step in self.steps]
        return out

    def to_yaml(self, path: str | os.PathLike[str] | None = None) -> str:
        """The YAML text; also written to ``path`` (atomically) when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)
        if path is not None:
            target = Path(path)
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            try:
                with open(tmp, "w", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        return text

    # -- lookup ---------------------------------------------------------------------------

    def step(self, name: str) -> Step:
        """The step called ``name``.

        Raises:
            NotFound: no such step (with the closest name).
        """
        for step in self.steps:
            if step.name == name:
                return step
        names = [s.name for s in self.steps]
        raise NotFound(
            f"pipeline {self.name!r} has no step {name!r}{suggest(name, names)}; "
            f"steps: {', '.join(names) or '(none)'}"
        )

    def notebook_path(self, step: Step | str) -> Path:
        """The absolute path of a step's notebook (symbolic links resolved)."""
        step = self.step(step) if isinstance(step, str) else step
        path = Path(step.notebook)
        # ~user of an unknown user: taken as a relative path named "~user/...".
        with contextlib.suppress(RuntimeError):
            path = path.expanduser()
        if not path.is_absolute():
            path = (self.base_dir or Path.cwd()) / path
        try:
            return path.resolve()
        except (OSError, RuntimeError):  # a name too long, a symlink loop
            return path.absolute()

    def parameters_for(self, step: Step | str, declared: Iterable[str]) -> dict[str, Any]:
        """Parameters papermill injects into ``step``: the pipeline ``params`` its notebook
        declares (``declared``, e.g. the keys of ``papermill.inspect_notebook``), then the
        step's own ``parameters`` on top."""
        step = self.step(step) if isinstance(step, str) else step
        names = set(declared)
        merged = {k: v for k, v in self.params.items() if k in names}
        merged.update(step.parameters)
        return merged

    def with_params(self, params: Mapping[str, Any] | None) -> Pipeline:
        """The same pipeline with ``params`` over its own (for one run or one schedule)."""
        if not params:
            return self
        return dataclasses.replace(self, params={**self.params, **params})

    # -- graph ----------------------------------------------------------------------------

    def order(self) -> list[list[str]]:
        """Topological waves: each inner list (sorted) can run in parallel once the waves
        before it are done.

        Raises:
            InvalidInput: duplicate names, an unknown upstream or a cycle.
        """
        problems = self._graph_problems()
        if problems:
            raise InvalidInput(_join(problems))
        remaining = {s.name: set(s.upstream) for s in self.steps}
        waves: list[list[str]] = []
        while remaining:
            ready = sorted(name for name, ups in remaining.items() if not ups)
            waves.append(ready)
            for name in ready:
                del remaining[name]
            for ups in remaining.values():
                ups.difference_update(ready)
        return waves

    def downstream(self, step: str) -> set[str]:
        """Every step that depends on ``step``, directly or not (``step`` excluded)."""
        self.step(step)
        children: dict[str, set[str]] = {s.name: set() for s in self.steps}
        for s in self.steps:
            for up in s.upstream:
                if up in children:
                    children[up].add(s.name)
        seen: set[str] = set()
        todo = [step]
        while todo:
            for child in children[todo.pop()]:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        seen.discard(step)
        return seen

    def subgraph_from(self, step: str) -> list[str]:
        """``step`` and everything after it, in run order (for ``--from`` and ``--resume``)."""
        keep = self.downstream(step) | {step}
        return [name for wave in self.order() for name in wave if name in keep]

    # -- validation -----------------------------------------------------------------------

    def validate(self, root: Path | None = None) -> None:
        """Check the graph, the notebooks and the parameters; with ``root``, also that every
        notebook resolves inside that folder (the lab's root: ``..``, absolute paths and
        symbolic links that leave it are refused).

        Raises:
            InvalidInput: every problem found, one line each, naming the step and the fix.
        """
        problems = self.problems(root)
        if problems:
            raise InvalidInput(_join(problems))

    def problems(self, root: Path | None = None) -> list[str]:
        """What :meth:`validate` would report, as a list of lines."""
        problems = self._name_problems() + self._graph_problems()
        problems += self._io_problems()
        outside = self._root_problems(root) if root is not None else {}
        problems += list(outside.values())
        problems += self._notebook_problems(skip=set(outside))
        return problems

    def _root_problems(self, root: Path) -> dict[str, str]:
        """Steps whose notebook resolves outside ``root``, with the line saying so."""
        try:
            base = root.resolve()
        except (OSError, RuntimeError):
            base = root.absolute()
        out: dict[str, str] = {}
        for step in self.steps:
            if not str(step.notebook) or step.action is not None:
                continue
            path = self.notebook_path(step)
            if path != base and base not in path.parents:
                out[step.name] = (
                    f"step {step.name!r}: notebook "
                    f"{_display_path(step.notebook, self.base_dir)} resolves outside the "
                    "server's root folder; only notebooks under it can run from the lab "
                    "(move the notebook there, or run the pipeline with jupyter-mlops)"
                )
        return out

    def _name_problems(self) -> list[str]:
        problems = []
        if not self.steps:
            problems.append(f"pipeline {self.name!r} has no steps; add at least one step")
        if not _NAME_RE.match(self.name):
            problems.append(
                f"pipeline name {self.name!r} may hold only letters, digits, '_', '.', '-'"
            )
        for step in self.steps:
            problems += _action_problems(step)
            if not str(step.notebook) and step.action is None:
                problems.append(
                    f"step {step.name!r}: 'notebook' is missing; set it to the .ipynb path, "
                    "relative to the pipeline file's folder"
                )
            if not isinstance(step.name, str) or not _NAME_RE.match(step.name):
                problems.append(
                    f"step {step.name!r}: the name may hold only letters, digits, '_', '.', '-' "
                    "and must start with a letter or digit"
                )
            if (
                not isinstance(step.retries, int)
                or isinstance(step.retries, bool)
                or step.retries < 0
            ):
                problems.append(
                    f"step {step.name!r}: retries is {step.retries!r}; use 0 or a positive "
                    "whole number"
                )
            if step.timeout is not None and (not is_number(step.timeout) or step.timeout <= 0):
                problems.append(
                    f"step {step.name!r}: timeout is {step.timeout!r}; use a positive number "
                    "of seconds, or leave it out for no limit"
                )
            if not is_number(step.retry_backoff) or step.retry_backoff < 0:
                problems.append(
                    f"step {step.name!r}: retry_backoff is {step.retry_backoff!r}; use 0 or a "
                    "positive number of seconds"
                )
        return problems

    def _graph_problems(self) -> list[str]:
        problems = []
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.name] = counts.get(step.name, 0) + 1
        for name, count in counts.items():
            if count > 1:
                problems.append(
                    f"step {name!r}: the name is used by {count} steps; give each step its own name"
                )
        for step in self.steps:
            for up in step.upstream:
                if up == step.name:
                    problems.append(
                        f"step {step.name!r}: lists itself as upstream; remove {up!r} "
                        "from its upstream"
                    )
                elif up not in counts:
                    problems.append(
                        f"step {step.name!r}: unknown upstream {up!r}"
                        f"{suggest(up, list(counts))}; upstream must name other steps "
                        f"({', '.join(sorted(counts)) or 'none'})"
                    )
        for cycle in self._cycles():
            problems.append(
                f"step {cycle[0]!r}: cycle {' -> '.join(cycle)}; remove one of these upstream "
                "links so the steps can run in order"
            )
        return problems

    def _cycles(self) -> list[list[str]]:
        """Each cycle once, as a path that starts and ends at its smallest name."""
        graph: dict[str, list[str]] = {}
        for step in self.steps:
            graph.setdefault(step.name, [])
        for step in self.steps:
            # Edges run from a step to what it depends on; reversed below for reading order.
            graph[step.name] += [u for u in step.upstream if u in graph and u != step.name]
        cycles: list[list[str]] = []
        seen_sets: set[frozenset[str]] = set()
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        stack: list[str] = []

        def visit(node: str) -> None:
            state[node] = 1
            stack.append(node)
            for nxt in sorted(graph[node]):
                if state.get(nxt) == 1:
                    loop = stack[stack.index(nxt) :]
                    key = frozenset(loop)
                    if key not in seen_sets:
                        seen_sets.add(key)
                        # Data flows upstream -> downstream, so print it that way.
                        path = list(reversed(loop))
                        start = path.index(min(path))
                        path = path[start:] + path[:start]
                        cycles.append([*path, path[0]])
                elif nxt not in state:
                    visit(nxt)
            stack.pop()
            state[node] = 2

        for node in sorted(graph):
            if node not in state:
                visit(node)
        return cycles

    def _io_problems(self) -> list[str]:
        problems = []
        producers: dict[str, str] = {}
        for step in self.steps:
            for key in ("inputs", "outputs"):
                for ref in getattr(step, key):
                    try:
                        split_ref(ref)
                    except InvalidInput as exc:
                        problems.append(f"step {step.name!r}: {key}: {exc.message}")
            for ref in step.outputs:
                canon = _canon(ref)
                if canon is None:
                    continue
                if canon in producers and producers[canon] != step.name:
                    problems.append(
                        f"step {step.name!r}: output {ref!r} is also written by step "
                        f"{producers[canon]!r}; let one step write it"
                    )
                else:
                    producers[canon] = step.name
        if any("cycle" in p or "unknown upstream" in p for p in self._graph_problems()):
            return problems
        for step in self.steps:
            ancestors = self._ancestors(step.name)
            for ref in step.inputs:
                canon = _canon(ref)
                producer = producers.get(canon) if canon else None
                if producer and producer != step.name and producer not in ancestors:
                    problems.append(
                        f"step {step.name!r}: input {ref!r} is written by step {producer!r}, "
                        f"which is not upstream of it; add {producer!r} to its upstream"
                    )
        return problems

    def _ancestors(self, name: str) -> set[str]:
        by_name = {s.name: s for s in self.steps}
        seen: set[str] = set()
        todo = list(by_name[name].upstream) if name in by_name else []
        while todo:
            up = todo.pop()
            if up not in seen and up in by_name:
                seen.add(up)
                todo.extend(by_name[up].upstream)
        return seen

    def _notebook_problems(self, skip: set[str]) -> list[str]:
        problems: list[str] = []
        declared_anywhere: set[str] = set()
        inspected: dict[Path, NotebookParameters | str] = {}
        for step in self.steps:
            if not str(step.notebook) or step.name in skip or step.action is not None:
                continue
            path = self.notebook_path(step)
            shown = _display_path(step.notebook, self.base_dir)
            if path not in inspected:
                inspected[path] = inspect_parameters(path)
            info = inspected[path]
            if isinstance(info, str):
                problems.append(f"step {step.name!r}: notebook {shown} {info}")
                continue
            declared_anywhere.update(info.params)
            if not info.has_cell:
                for pname in step.parameters:
                    problems.append(
                        f"step {step.name!r}: parameter {pname!r} cannot be injected: {shown} "
                        "has no cell tagged 'parameters'; tag the cell that sets the defaults "
                        "'parameters'"
                    )
                continue
            for pname, value in step.parameters.items():
                problems += check_param(step.name, shown, info, pname, value, "parameter")
            for pname, value in self.params.items():
                if pname in info.params and pname not in step.parameters:
                    problems += check_param(
                        step.name, shown, info, pname, value, "pipeline parameter"
                    )
        ok = not skip and all(not isinstance(i, str) for i in inspected.values())
        for pname in self.params:
            if ok and pname not in declared_anywhere:
                problems.append(
                    f"pipeline parameter {pname!r} is not declared by any step's notebook"
                    f"{suggest(pname, declared_anywhere)}; declare it in a cell tagged "
                    "'parameters' or remove it"
                )
        return problems


# -- notebook parameters -------------------------------------------------------------------


def _step_from_dict(raw: Any, index: int, problems: list[str]) -> Step | None:
    where = f"step #{index + 1}"
    if not isinstance(raw, Mapping):
        problems.append(
            f"{where}: each step must be a mapping with 'name' and 'notebook', got "
            f"{type(raw).__name__}"
        )
        return None
    name = raw.get("name")
    if isinstance(name, str) and name:
        where = f"step {name!r}"
    else:
        problems.append(f"{where}: 'name' is missing; give the step a name, e.g. name: train")
        problems += _unknown_keys(raw, STEP_KEYS, where)
        return None
    problems += _unknown_keys(raw, STEP_KEYS, where)
    notebook = raw.get("notebook")
    if not isinstance(notebook, str):
        # An empty notebook is reported by Pipeline.problems(), for Python-built steps too.
        notebook = ""
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        problems.append(f"{where}: 'parameters' must be a mapping of name: value")
        parameters = {}
    lists: dict[str, list[str]] = {}
    for key in ("upstream", "inputs", "outputs"):
        value = raw.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{where}: '{key}' must be a list of strings")
            value = []
        lists[key] = value
    timeout = raw.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
        problems.append(f"{where}: 'timeout' must be a number of seconds, got {timeout!r}")
        timeout = None
    retries = raw.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int):
        problems.append(f"{where}: 'retries' must be a whole number, got {retries!r}")
        retries = 0
    promote = raw.get("promote")
    if promote is not None and not isinstance(promote, Mapping):
        problems.append(f"{where}: 'promote' must be a mapping, e.g. promote: {{model: churn}}")
        promote = None
    backoff = raw.get("retry_backoff", 2.0)
    if isinstance(backoff, bool) or not isinstance(backoff, (int, float)):
        problems.append(f"{where}: 'retry_backoff' must be a number of seconds, got {backoff!r}")
        backoff = 2.0
    return Step(
        name=name,
        notebook=notebook,
        parameters=parameters,
        upstream=lists["upstream"],
        inputs=lists["inputs"],
        outputs=lists["outputs"],
        timeout=float(timeout) if timeout is not None else None,
        retries=retries,
        retry_backoff=float(backoff),
        promote=None if promote is None else dict(promote),
    )


def _action_problems(step: Step) -> list[str]:
    """What is wrong with an action step's shape (its action checks its settings)."""
    if step.promote is None:
        return []
    where = f"step {step.name!r}"
    problems = []
    if str(step.notebook):
        problems.append(f"{where}: a step is either a notebook or a promote, not both")
    model = step.promote.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        problems.append(f"{where}: promote's model is a registered model's name, e.g. churn")
    if not step.upstream:
        problems.append(
            f"{where}: promote registers the models its upstream steps log; name them in upstream"
        )
    if step.retries or step.timeout is not None:
        problems.append(f"{where}: a promote step takes no retries or timeout")
    return problems


def _unknown_keys(data: Mapping[Any, Any], allowed: tuple[str, ...], where: str) -> list[str]:
    problems = []
    for key in data:
        if key not in allowed:
            problems.append(
                f"{where}: unknown key {key!r}{suggest(str(key), allowed)}; "
                f"allowed keys: {', '.join(allowed)}"
            )
    return problems


def _canon(ref: str) -> str | None:
    try:
        return format_ref(ref)
    except InvalidInput:
        return None


def _display_path(notebook: str | Path, base_dir: Path | None) -> str:
    path = Path(notebook)
    if base_dir is not None and path.is_absolute():
        try:
            return Path(os.path.relpath(path, base_dir)).as_posix()
        except ValueError:  # another drive on Windows
            return str(path)
    return path.as_posix()


def _join(problems: list[str]) -> str:
    unique = list(dict.fromkeys(problems))
    if len(unique) == 1:
        return unique[0]
    return f"{len(unique)} problems in the pipeline:\n" + "\n".join(f"- {p}" for p in unique)
