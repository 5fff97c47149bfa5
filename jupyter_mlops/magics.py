"""``%%track``: one cell execution is one run; ``%mlops``: browse runs from a notebook."""

from __future__ import annotations

import ast
import inspect
import re
import shlex
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Int, Unicode
from traitlets.config import Configurable

from . import capture, tracking, views
from .client.validation import is_key, key_values
from .entities import RunStatus
from .exceptions import MlopsError, MlopsWarning
from .tracking import fluent, paths
from .tracking.cell import CellAnalysis, analyze

RUN_MIME = "application/vnd.jupyter-mlops.run+json"
_PKG_DIR = str(Path(tracking.__file__).resolve().parent.parent)


def _parse_tags(items: list[str] | None) -> dict[str, str]:
    try:
        return key_values(items or [], "tag", "-t key=value (for example -t stage=dev)")
    except MlopsError as exc:
        raise UsageError(exc.message) from None


@dataclass
class _Tracked:
    """A tracked cell between :meth:`TrackMagics._begin` and :meth:`TrackMagics._finish`."""

    args: Any
    run: fluent.ActiveRun
    transformed: str
    tree: ast.Module | None
    analysis: CellAnalysis
    capture_data: bool
    started: float
    before_data: dict[str, Any] = field(default_factory=dict)
    before_files: dict[str, Any] = field(default_factory=dict)
    before_paths: Any = None
    notes: list[str] = field(default_factory=list)  # shown under the cell


# A name's parts: snake_case, kebab-case and dotted words, and camelCase humps ("valAcc",
# "testF1", "R2Score"); digits stay with the letters before them ("f1", "r2", "layer2").
_SEPARATORS = re.compile(r"[\W_]+")
_HUMPS = re.compile(r"[A-Z]+[0-9]*(?![a-z])|[A-Z]?[^\W_A-Z]+")


def name_parts(name: str) -> list[str]:
    return [hump for word in _SEPARATORS.split(name) for hump in _HUMPS.findall(word)]


def matches_as_name(pattern: re.Pattern[str], name: str) -> bool:
    """Whether ``pattern`` matches ``name`` whole, or one or more consecutive parts of it
    joined by ``_``: ``acc`` matches ``test_acc`` and ``valAcc``, not ``accurate_count``;
    ``r2`` matches ``val_r2``, not ``layer2``."""
    if pattern.fullmatch(name):
        return True
    parts = name_parts(name)
    return any(
        pattern.fullmatch("_".join(parts[i:j]))
        for i in range(len(parts))
        for j in range(i + 1, len(parts) + 1)
    )


def _usable(values: dict[str, Any], what: str, notes: list[str]) -> dict[str, Any]:
    """``values`` without the names no store accepts, each left out with a note naming it."""
    for name in [k for k in values if not is_key(k)]:
        del values[name]
        notes.append(
            f"{what} skipped, its name is refused: {name!r} (a name holds 1-250 letters, "
            "digits, spaces or _ - . / :)"
        )
    return values


def _is_metric_value(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return (
        type(value).__module__ == "numpy"
        and getattr(value, "shape", None) == ()
        and (getattr(value, "dtype", None) is not None and value.dtype.kind in "iuf")
    )


def _end(run: fluent.ActiveRun, error: BaseException | None) -> None:
    """End ``run`` FINISHED, or as ``error`` ended it: KILLED by an interrupt, else FAILED."""
    if error is None:
        run.end(RunStatus.FINISHED)
    else:
        status = RunStatus.KILLED if isinstance(error, KeyboardInterrupt) else RunStatus.FAILED
        run.end(status, error=error, traceback_text=_user_traceback(error))


def _user_traceback(exc: BaseException) -> str:
    """The traceback as the user knows it: frames of jupyter-mlops itself left out."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_PKG_DIR)
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


@magics_class
class TrackMagics(Magics, Configurable):
    """Cell-level tracking. Configure with ``%config TrackMagics.<trait> = value``."""

    metric_pattern = Unicode(
        r"(?i)(acc|accuracy|f1|auc|rmse|mse|mae|r2|loss|score|precision|recall|error)",
        help="Numeric variables assigned in a tracked cell are logged as metrics when this "
        "regex matches their whole name or whole parts of it (val_r2, testAcc; not layer2).",
    ).tag(config=True)
    default_experiment = Unicode(
        "",
        help="Experiment for %%track without -e; empty means the notebook's name, or Default.",
    ).tag(config=True)
    capture_data = Bool(True, help="Fingerprint the data a cell reads and writes.").tag(config=True)
    capture_models = Bool(True, help="Save the estimators fitted in a cell.").tag(config=True)
    profile_datasets = Bool(True, help="Store a column profile with each new dataset.").tag(
        config=True
    )
    reference_profiles = Bool(
        True,
        help="Build a fitted model's monitoring reference from the data it was fitted on.",
    ).tag(config=True)
    show_summary = Bool(True, help="Display the run summary under a tracked cell.").tag(config=True)
    max_params = Int(200, help="Most parameters recorded from literals and estimators.").tag(
        config=True
    )

    def __init__(self, shell: Any) -> None:
        Configurable.__init__(self, config=shell.config)
        Magics.__init__(self, shell=shell)
        self.cell_id: str | None = None
        # The newest run a tracked cell made: `%mlops register NAME` registers its model.
        self.last_run_id: str | None = None
        self._metric_re: tuple[str, re.Pattern[str]] | None = None

    # Hooks registered by load_ipython_extension -----------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        self.cell_id = getattr(info, "cell_id", None)

    def post_run_cell(self, _result: Any) -> None:
        # Values logged by the fluent API inside plain cells reach the store at cell end.
        try:
            fluent.flush()
        except Exception as exc:
            print(f"jupyter-mlops: could not write buffered metrics: {exc}", file=sys.stderr)

    def _metric_names(self) -> Callable[[str], bool]:
        """Whether a variable's name makes it a metric (see :func:`matches_as_name`)."""
        if self._metric_re is None or self._metric_re[0] != self.metric_pattern:
            try:
                self._metric_re = (self.metric_pattern, re.compile(self.metric_pattern))
            except re.error as exc:
                raise UsageError(f"TrackMagics.metric_pattern is not a regex: {exc}") from exc
        pattern = self._metric_re[1]
        return lambda name: matches_as_name(pattern, name)

    # %%track ------------------------------------------------------------------------------
    @magic_arguments()
    @argument("-e", "--experiment", help="Experiment name (default: the notebook's name).")
    @argument("-n", "--name", help="Run name (default: the cell's first line).")
    @argument("-t", "--tag", action="append", metavar="KEY=VALUE", help="A tag; repeatable.")
    @argument("--params", help="Comma-separated variable names to log as parameters.")
    @argument("--no-data", action="store_true", help="Do not fingerprint data.")
    @argument("--no-model", action="store_true", help="Do not save fitted models.")
    @cell_magic
    def track(self, line: str, cell: str) -> None:
        """Record this cell execution as one run: code, params, metrics, data, models."""
        __tracebackhide__ = True
        tracked = self._begin(line, cell)
        error: BaseException | None = None
        try:
            self._execute(tracked.transformed, tracked.tree)
        except BaseException as exc:
            error = exc
        self._finish(tracked, error)

    async def track_async(self, line: str, cell: str) -> None:
        """:meth:`track` for a cell with top-level ``await``, run on the kernel's event loop
        as IPython runs such a cell untracked (see :func:`_await_transform`)."""
        __tracebackhide__ = True
        tracked = self._begin(line, cell)
        error: BaseException | None = None
        try:
            await self._execute_async(tracked.transformed, tracked.tree)
        except BaseException as exc:
            error = exc
        self._finish(tracked, error)

    def _parse_line(self, line: str) -> Any:
        """The ``%%track`` flags, quoted as in a shell (``-t owner='Jane Doe'``)."""
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"Cannot parse the %%track line {line!r}: {exc}.") from exc
        args = self.track.parser.parse_args(argv)
        args.tags = _parse_tags(args.tag)
        args.extra_params = [p.strip() for p in (args.params or "").split(",") if p.strip()]
        return args

    def _begin(self, line: str, cell: str) -> _Tracked:
        """Everything before the cell runs; a refused line raises before any run exists."""
        from .tracking.snapshot import fingerprint_files, fingerprint_names

        args = self._parse_line(line)
        shell = self.shell
        assert shell is not None
        ns = shell.user_ns
        transformed = shell.transform_cell(cell)
        try:
            tree: ast.Module | None = shell.compile.ast_parse(transformed)  # type: ignore[assignment]
        except SyntaxError:
            tree = None  # still a run: it fails below with the SyntaxError the user expects
        analysis = analyze(tree) if tree is not None else CellAnalysis()
        capture_data = self.capture_data and not args.no_data
        notebook = capture.notebook_path(ns)
        experiment = (
            args.experiment
            or self.default_experiment
            or (Path(notebook).stem if notebook else None)
        )
        started = time.perf_counter()
        try:
            run = fluent.start_run(
                experiment,
                args.name or _default_name(cell, notebook, _cell_number(shell)),
                tags=args.tags,
                attrs={
                    "source": cell,
                    "notebook_path": notebook,
                    "cell_id": self.cell_id,
                    "execution_count": _cell_number(shell),
                },
            )
        except MlopsError as exc:
            raise UsageError(exc.message) from exc
        tracked = _Tracked(args, run, transformed, tree, analysis, capture_data, started)
        if capture_data:
            try:
                run.client.use_fingerprint_cache()
                tracked.before_data = fingerprint_names(
                    ns, analysis.first_loaded & ns.keys(), tracked.notes
                )
                tracked.before_paths = paths.before(analysis.path_patterns, ns)
                tracked.before_files = fingerprint_files(
                    {**analysis.path_literals, **tracked.before_paths.exact}
                )
            except BaseException as exc:  # interrupted while hashing: no run left RUNNING
                _end(run, exc)
                raise
        return tracked

    def _finish(self, tracked: _Tracked, error: BaseException | None) -> None:
        """Everything after the cell ran: record what it did, end the run, show the summary,
        and give the cell's own exception back to the user."""
        __tracebackhide__ = True
        from .tracking.snapshot import data_roles, file_roles, fingerprint_files, fingerprint_names

        assert self.shell is not None
        ns = self.shell.user_ns
        run, analysis, args = tracked.run, tracked.analysis, tracked.args
        duration = time.perf_counter() - tracked.started
        notes = tracked.notes
        try:
            self._collect(run, analysis, ns, args.extra_params, not args.no_model, notes)
            if tracked.capture_data:
                new_data = analysis.stored - analysis.loop_only
                after_data = fingerprint_names(ns, new_data | tracked.before_data.keys(), notes)
                named = paths.after(analysis.path_patterns, ns, tracked.before_paths, notes)
                files = {**analysis.path_literals, **named}
                after_files = fingerprint_files(files)
                self._log_data(
                    run,
                    data_roles(tracked.before_data, after_data, new_data)
                    + file_roles(tracked.before_files, after_files, files),
                    notes,
                )
        except KeyboardInterrupt as exc:  # interrupted while recording: the run still ends
            _end(run, error or exc)
            raise
        except Exception as exc:  # what was recorded stays; the cell's own outcome decides
            notes.append(f"not everything was recorded: {type(exc).__name__}: {exc}")
        _end(run, error)
        self.last_run_id = run.id
        if self.show_summary:
            self._display_summary(run.client.get_run(run.id), duration, notes)
        else:
            for note in notes:
                warnings.warn(f"%%track: {note}", MlopsWarning, stacklevel=2)
        if error is not None:
            raise error.with_traceback(error.__traceback__)

    def _compiled(self, transformed: str, tree: ast.Module, awaits: bool) -> tuple[Any, Any]:
        """The cell compiled as IPython compiles it: the code of its statements, and of its
        last expression, whose value goes to Out[n]. Top-level ``await`` only when the cell
        runs on the event loop (``awaits``): elsewhere it is the SyntaxError it would be in
        an untracked cell, never a coroutine silently left unawaited."""
        shell = self.shell
        assert shell is not None
        module: Any = shell.transform_ast(tree)
        filename = shell.compile.cache(transformed, shell.execution_count)
        last = None
        if module.body and isinstance(module.body[-1], ast.Expr):
            last = ast.Expression(module.body.pop().value)
        compile_: Any = shell.compile  # accepts ASTs, though typed for source text
        with shell.compile.extra_flags(ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if awaits else 0):
            body = compile_(module, filename, "exec")
            tail = compile_(last, filename, "eval") if last is not None else None
        return body, tail

    def _execute(self, transformed: str, tree: ast.Module | None) -> None:
        """Run the cell as IPython would: the last expression's value goes to Out[n]."""
        __tracebackhide__ = True
        shell = self.shell
        assert shell is not None
        if tree is None:
            shell.compile.ast_parse(transformed)  # re-raise the SyntaxError for the user
            return
        body, tail = self._compiled(transformed, tree, awaits=False)
        exec(body, shell.user_global_ns, shell.user_ns)
        if tail is not None:
            value = eval(tail, shell.user_global_ns, shell.user_ns)
            if value is not None:
                shell.displayhook(value)

    async def _execute_async(self, transformed: str, tree: ast.Module | None) -> None:
        """:meth:`_execute` for a cell with top-level ``await``."""
        __tracebackhide__ = True
        shell = self.shell
        assert shell is not None
        if tree is None:
            shell.compile.ast_parse(transformed)
            return
        body, tail = self._compiled(transformed, tree, awaits=True)
        result = eval(body, shell.user_global_ns, shell.user_ns)
        if inspect.iscoroutine(result):
            await result
        if tail is not None:
            value = eval(tail, shell.user_global_ns, shell.user_ns)
            if inspect.iscoroutine(value):
                value = await value
            if value is not None:
                shell.displayhook(value)

    def _collect(
        self,
        run: fluent.ActiveRun,
        analysis: CellAnalysis,
        ns: dict[str, Any],
        extra_params: list[str],
        capture_models: bool,
        notes: list[str],
    ) -> None:
        """Log the cell's params, metrics and models; what cannot be logged becomes a note."""
        from .models import chosen_params, is_model, model_metrics, top_level_models

        client = run.client
        is_metric_name = self._metric_names()
        # What the cell logged itself (mlops.log_metric/log_param) is not logged again.
        explicit_metrics, explicit_params = run.logged_metric_keys, run.logged_param_keys
        metrics = {
            name: float(ns[name])
            for name in sorted(analysis.stored)
            if name in ns
            and name not in explicit_metrics
            and is_metric_name(name)
            and _is_metric_value(ns[name])
        }
        params: dict[str, Any] = {
            k: v for k, v in analysis.literal_params.items() if k not in metrics
        }
        for name in extra_params:
            if name not in ns:
                notes.append(f"--params: no variable named {name!r}")
            else:
                params[name] = ns[name]
        models: dict[str, Any] = {}
        if capture_models:
            found = {
                name: ns[name]
                for name in sorted(analysis.stored | analysis.fitted.keys())
                if ns.get(name) is not None and is_model(ns[name])
            }
            # A part of another model (a Pipeline's fitted step) is saved with it, not again.
            models = top_level_models(found, fitted=analysis.fitted.keys())
            for name, model in models.items():
                for key, value in chosen_params(model).items():
                    params[f"{name}.{key}"] = value
                for key, value in model_metrics(model).items():
                    if f"{name}.{key}" not in explicit_metrics:
                        metrics[f"{name}.{key}"] = value
        params = {k: v for k, v in params.items() if k not in explicit_params}
        if len(params) > self.max_params:
            notes.append(f"{len(params) - self.max_params} parameters over max_params left out")
            params = dict(list(params.items())[: self.max_params])
        params = _usable(params, "parameter", notes)
        metrics = _usable(metrics, "metric", notes)
        try:
            client.log_params(run.id, params)
            if metrics:
                client.log_metrics(run.id, metrics)
        except MlopsError as exc:
            notes.append(str(exc))
        for name, model in models.items():
            x_name = analysis.fitted.get(name)
            example = _head(ns.get(x_name)) if x_name else None
            try:
                logged = client.log_model(run.id, model, name=name, input_example=example)
            except Exception as exc:  # an unpicklable model must not lose the run
                notes.append(f"model {name!r} not saved: {type(exc).__name__}: {exc}")
                continue
            if x_name and self.reference_profiles:
                self._reference(
                    client, logged, model, ns, x_name, analysis.fitted_y.get(name), notes
                )

    def _reference(
        self,
        client: Any,
        logged: Any,
        model: Any,
        ns: dict[str, Any],
        x_name: str,
        y_name: str | None,
        notes: list[str],
    ) -> None:
        """The model's monitoring reference, from the data it was just fitted on."""
        from .data.kinds import NUMPY_ARRAY, PANDAS_FRAME, kind_of
        from .monitoring.monitor import reference_from_training

        data = ns.get(x_name)
        kind = kind_of(data)
        if kind not in (PANDAS_FRAME, NUMPY_ARRAY) or getattr(data, "ndim", 2) != 2:
            return
        labels = ns.get(y_name) if y_name else None
        if labels is not None and kind_of(labels) not in ("pandas.Series", NUMPY_ARRAY):
            labels = None
        try:
            reference_from_training(client, logged, model, data, labels, source=f"%%track {x_name}")
        except Exception as exc:  # the run and the model stand without it
            notes.append(
                f"monitoring reference of {logged.name!r} not built: {type(exc).__name__}: {exc}"
            )

    def _log_data(self, run: fluent.ActiveRun, roles: list[Any], notes: list[str]) -> None:
        client = run.client
        items = []
        for seen, role in roles:
            try:
                if seen.changed_after:
                    # Mutated in place by the cell: describe the input as it was read.
                    items.append((_stale_input(seen), role))
                    continue
                desc = client.describe_dataset(
                    seen.obj,
                    seen.name,
                    source=seen.name,
                    fingerprint=seen.fingerprint,
                    profile=self.profile_datasets,
                )
                items.append((desc, role))
            except (MlopsError, OSError, TypeError, ValueError) as exc:
                notes.append(f"data {seen.name!r} not recorded: {exc}")
        if items:
            client.log_described_datasets(run.id, items)

    # Output under the cell -------------------------------------------------------------------
    def _display_summary(self, run: Any, duration: float, notes: list[str]) -> None:
        """A compact summary, not the run: it is saved in the notebook (views.SUMMARY_BYTES);
        the lab's card fetches the details from the store by the run's id."""
        from IPython.display import display

        display(views.cell_summary_bundle(run, duration, notes, RUN_MIME), raw=True)

    # %mlops -----------------------------------------------------------------------------------
    @line_magic
    def mlops(self, line: str) -> Any:
        """Browse the store and the registry: %mlops runs|show|compare|experiments|data|store|
        register|models|versions."""
        from . import notebook_views

        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"Cannot parse %mlops arguments: {exc}") from exc
        try:
            return notebook_views.dispatch(fluent.get_client(), argv, last_run=self.last_run_id)
        except MlopsError as exc:
            raise UsageError(exc.message) from exc


def _cell_number(shell: Any) -> int:
    """The number the notebook shows for the running cell, In [n]. IPython 9 has already
    counted the cell in ``execution_count`` while it runs (ipykernel replies
    ``execution_count - 1``); the input history, which holds the running cell as entry n,
    agrees with the notebook whichever version counts first."""
    history = getattr(shell.history_manager, "input_hist_raw", None)
    if history:
        return len(history) - 1
    return int(shell.execution_count)


def _stale_input(seen: Any) -> Any:
    from .client import NewDataset
    from .data import nbytes_of

    return NewDataset(
        name=seen.name,
        fingerprint=seen.fingerprint,
        kind=type(seen.obj).__name__.lower(),
        shape=seen.shape,
        schema=seen.schema or [],
        profile=None,
        source=seen.name,
        nbytes=int(nbytes_of(seen.obj)),
    )


def _head(obj: Any) -> Any:
    try:
        return obj[:5] if obj is not None and hasattr(obj, "__getitem__") else None
    except Exception:
        return None


def _default_name(cell: str, notebook: str | None, count: int | None) -> str:
    """The cell's first comment if it has one (how people label cells), else where it ran."""
    for line in cell.splitlines():
        text = line.strip()
        if text.startswith("#") and text.lstrip("# ").strip():
            return text.lstrip("# ").strip()[:80]
        if text and not text.startswith("%"):
            break
    where = Path(notebook).stem if notebook else "cell"
    return f"{where} [{count}]" if count is not None else where


_registered: dict[int, TrackMagics] = {}


def _has_top_level_await(shell: Any, body: str) -> bool:
    if "await" not in body and "async" not in body:
        return False  # the usual cell: no second compile
    try:
        code = compile(
            shell.transform_cell(body), "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
    except (SyntaxError, ValueError):
        return False  # the plain path reports it
    return bool(code.co_flags & inspect.CO_COROUTINE)


def _await_transform(lines: list[str]) -> list[str]:
    """IPython runs a cell with top-level ``await`` on the kernel's event loop, but only when
    the cell itself awaits; a ``%%track`` cell calls a magic synchronously. So a ``%%track``
    cell whose body awaits becomes ``await track_async(line, body)``, which IPython runs as
    it would the untracked cell, with the same ``await``, ``async for`` and ``async with``."""
    if not lines or not lines[0].startswith("%%track") or len(lines[0]) < 8:
        return lines
    if not lines[0][7:8].isspace():
        return lines  # %%tracker or any other magic
    from IPython import get_ipython

    shell = get_ipython()
    body = "".join(lines[1:])
    if shell is None or id(shell) not in _registered or not shell.autoawait:
        return lines  # with %autoawait off, `await` is a SyntaxError, tracked or not
    if not _has_top_level_await(shell, body):
        return lines
    line = lines[0][7:].strip()
    return [f"await __import__('jupyter_mlops.magics').magics.track_async({line!r}, {body!r})\n"]


async def track_async(line: str, cell: str) -> None:
    """The ``await`` that :func:`_await_transform` puts in place of a ``%%track`` cell."""
    from IPython import get_ipython

    __tracebackhide__ = True
    shell = get_ipython()
    # IPython expands $name and {expr} in a magic's line, in the namespace of the frame that
    # called the magic: here the cell's (depth 1, the frame awaiting this coroutine).
    await _registered[id(shell)].track_async(shell.var_expand(line, 1), cell)


def load_ipython_extension(ipython: Any) -> None:
    if id(ipython) in _registered:
        return
    magics = TrackMagics(ipython)
    ipython.register_magics(magics)
    # Open the store while the user writes the next cell, so the first %%track is quick.
    threading.Thread(target=_warm_up, name="mlops-warm-up", daemon=True).start()
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.events.register("post_run_cell", magics.post_run_cell)
    ipython.input_transformers_cleanup.append(_await_transform)
    _registered[id(ipython)] = magics


def _warm_up() -> None:
    try:
        fluent.get_client()
        import pandas  # noqa: F401 - the fingerprints need it; import it off the hot path

        from .tracking import snapshot  # noqa: F401 - and so does %%track
    except Exception:  # the first %%track will report the problem in its own words
        pass


def unload_ipython_extension(ipython: Any) -> None:
    magics = _registered.pop(id(ipython), None)
    if magics is None:
        return
    ipython.events.unregister("pre_run_cell", magics.pre_run_cell)
    ipython.events.unregister("post_run_cell", magics.post_run_cell)
    if _await_transform in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(_await_transform)
