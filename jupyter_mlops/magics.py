"""``%%track``: one cell execution is one run; ``%mlops``: browse runs from a notebook."""

from __future__ import annotations

import ast
import json
import re
import shlex
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Int, Unicode
from traitlets.config import Configurable

from . import capture, tracking, views
from .entities import RunStatus
from .exceptions import MlopsError
from .models import is_fitted_estimator
from .models.serialize import scalar_params
from .tracking import fluent
from .tracking.cell import CellAnalysis, analyze
from .tracking.snapshot import data_roles, file_roles, fingerprint_files, fingerprint_names

RUN_MIME = "application/vnd.jupyter-mlops.run+json"
_PKG_DIR = str(Path(tracking.__file__).resolve().parent.parent)


def _parse_tags(items: list[str] | None) -> dict[str, str]:
    tags = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"Bad tag {item!r}: write -t key=value (for example -t stage=dev).")
        tags[key.strip()] = value
    return tags


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
        help="Names of numeric variables assigned in a tracked cell that are logged as metrics.",
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
    show_summary = Bool(True, help="Display the run summary under a tracked cell.").tag(config=True)
    max_params = Int(200, help="Most parameters recorded from literals and estimators.").tag(
        config=True
    )

    def __init__(self, shell: Any) -> None:
        Configurable.__init__(self, config=shell.config)
        Magics.__init__(self, shell=shell)
        self.cell_id: str | None = None
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

    def _metric_regex(self) -> re.Pattern[str]:
        if self._metric_re is None or self._metric_re[0] != self.metric_pattern:
            try:
                self._metric_re = (self.metric_pattern, re.compile(self.metric_pattern))
            except re.error as exc:
                raise UsageError(f"TrackMagics.metric_pattern is not a regex: {exc}") from exc
        return self._metric_re[1]

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
        args = parse_argstring(self.track, line)
        tags = _parse_tags(args.tag)
        extra_params = [p.strip() for p in (args.params or "").split(",") if p.strip()]
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
                args.name or _default_name(cell, notebook, shell.execution_count),
                tags=tags,
                attrs={
                    "source": cell,
                    "notebook_path": notebook,
                    "cell_id": self.cell_id,
                    "execution_count": shell.execution_count,
                },
            )
        except MlopsError as exc:
            raise UsageError(exc.message) from exc
        client = run.client
        if capture_data:
            client.use_fingerprint_cache()
        before_data = (
            fingerprint_names(ns, analysis.first_loaded & ns.keys()) if capture_data else {}
        )
        before_files = fingerprint_files(analysis.path_literals) if capture_data else {}
        error: BaseException | None = None
        try:
            self._execute(transformed, tree)
        except BaseException as exc:
            error = exc
        duration = time.perf_counter() - started
        notes: list[str] = []
        collected = self._collect(
            run, analysis, ns, extra_params, capture_data, not args.no_model, notes
        )
        if capture_data:
            after_data = fingerprint_names(ns, analysis.stored | before_data.keys())
            after_files = fingerprint_files(analysis.path_literals)
            self._log_data(
                run,
                data_roles(before_data, after_data, analysis.stored)
                + file_roles(before_files, after_files, analysis.path_literals),
                notes,
            )
        if error is None:
            run.end(RunStatus.FINISHED)
        else:
            status = RunStatus.KILLED if isinstance(error, KeyboardInterrupt) else RunStatus.FAILED
            run.end(status, error=error, traceback_text=_user_traceback(error))
        if self.show_summary:
            self._display_summary(client.get_run(run.id), duration, collected, notes)
        if error is not None:
            raise error.with_traceback(error.__traceback__)

    def _execute(self, transformed: str, tree: ast.Module | None) -> None:
        """Run the cell as IPython would: the last expression's value goes to Out[n]."""
        __tracebackhide__ = True
        shell = self.shell
        assert shell is not None
        if tree is None:
            shell.compile.ast_parse(transformed)  # re-raise the SyntaxError for the user
            return
        module: Any = shell.transform_ast(tree)
        filename = shell.compile.cache(transformed, shell.execution_count)
        last = None
        if module.body and isinstance(module.body[-1], ast.Expr):
            last = ast.Expression(module.body.pop().value)
        compile_: Any = shell.compile  # accepts ASTs, though typed for source text
        exec(compile_(module, filename, "exec"), shell.user_global_ns, shell.user_ns)
        if last is not None:
            value = eval(compile_(last, filename, "eval"), shell.user_global_ns, shell.user_ns)
            if value is not None:
                shell.displayhook(value)

    def _collect(
        self,
        run: fluent.ActiveRun,
        analysis: CellAnalysis,
        ns: dict[str, Any],
        extra_params: list[str],
        capture_data: bool,
        capture_models: bool,
        notes: list[str],
    ) -> dict[str, Any]:
        client = run.client
        metric_re = self._metric_regex()
        metrics = {
            name: float(ns[name])
            for name in sorted(analysis.stored)
            if name in ns and metric_re.search(name) and _is_metric_value(ns[name])
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
            candidates = analysis.stored | analysis.fitted.keys()
            for name in sorted(candidates):
                obj = ns.get(name)
                if obj is not None and is_fitted_estimator(obj):
                    models[name] = obj
                    for key, value in scalar_params(obj, changed_only=True).items():
                        params[f"{name}.{key}"] = value
        if len(params) > self.max_params:
            notes.append(f"{len(params) - self.max_params} parameters over max_params left out")
            params = dict(list(params.items())[: self.max_params])
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
                client.log_model(run.id, model, name=name, input_example=example)
            except Exception as exc:  # an unpicklable model must not lose the run
                notes.append(f"model {name!r} not saved: {type(exc).__name__}: {exc}")
        return {"params": params, "metrics": metrics}

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
    def _display_summary(
        self, run: Any, duration: float, collected: dict[str, Any], notes: list[str]
    ) -> None:
        from IPython.display import display

        payload = run.to_dict()
        info = payload["info"]
        for key in ("source", "traceback"):
            info.pop(key, None)
        payload["summary"] = {"duration_s": round(duration, 4), "notes": notes}
        payload.pop("environment", None)
        display(
            {
                "text/plain": views.run_summary_text(run, duration, notes),
                "text/html": views.run_summary_html(run, duration, notes),
                RUN_MIME: json.loads(json.dumps(payload, default=str)),
            },
            raw=True,
        )

    # %mlops -----------------------------------------------------------------------------------
    @line_magic
    def mlops(self, line: str) -> Any:
        """Browse the store: %mlops runs|show|compare|experiments|data|store."""
        from . import notebook_views

        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"Cannot parse %mlops arguments: {exc}") from exc
        try:
            return notebook_views.dispatch(fluent.get_client(), argv)
        except MlopsError as exc:
            raise UsageError(exc.message) from exc


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


_registered: dict[int, tuple[TrackMagics, Callable[..., None], Callable[..., None]]] = {}


def load_ipython_extension(ipython: Any) -> None:
    if id(ipython) in _registered:
        return
    magics = TrackMagics(ipython)
    ipython.register_magics(magics)
    # Open the store while the user writes the next cell, so the first %%track is quick.
    threading.Thread(target=_warm_up, name="mlops-warm-up", daemon=True).start()
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.events.register("post_run_cell", magics.post_run_cell)
    _registered[id(ipython)] = (magics, magics.pre_run_cell, magics.post_run_cell)


def _warm_up() -> None:
    try:
        fluent.get_client()
        import pandas  # noqa: F401 - the fingerprints need it; import it off the hot path
    except Exception:  # the first %%track will report the problem in its own words
        pass


def unload_ipython_extension(ipython: Any) -> None:
    entry = _registered.pop(id(ipython), None)
    if entry is None:
        return
    _magics, pre, post = entry
    ipython.events.unregister("pre_run_cell", pre)
    ipython.events.unregister("post_run_cell", post)
