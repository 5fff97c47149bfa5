"""The Client: the one place where input is validated before it reaches a store."""

from __future__ import annotations

import json
import numbers
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from .config import StoreLocation, env_float, resolve_location
from .entities import (
    Artifact,
    DatasetVersion,
    Experiment,
    LoggedModel,
    Metric,
    Run,
    RunStatus,
    jsonable,
)
from .exceptions import InvalidInput, MlopsWarning, NotFound
from .store.artifacts import LocalArtifactStore
from .store.base import MetricRow, NewDataset, RunPage, Store
from .tracking import capture
from .tracking.writer import MetricWriter

DEFAULT_EXPERIMENT = "Default"
MAX_PAGE = 50_000
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-./: ]{1,250}$")
STALE_AFTER_S = env_float("JUPYTER_MLOPS_STALE_AFTER", 60.0)
# Metric keys already validated: a loop logs the same few keys a million times.
_VALID_KEYS: set[str] = set()


def now_ms() -> int:
    return int(time.time() * 1000)


def validate_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise InvalidInput(
            f"Invalid {what} name {key!r}: use 1-250 letters, digits, spaces and _ - . / : "
            f"(for example {what}_1)."
        )
    return key


def param_text(key: str, value: Any) -> str:
    """How a parameter value is stored: scalars as text, containers of scalars as JSON."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | numbers.Number):
        if isinstance(value, numbers.Number) and hasattr(value, "item"):
            value = value.item()  # numpy scalar -> Python
        return str(value)
    if isinstance(value, list | tuple | dict):
        try:
            return json.dumps(value, default=_reject)
        except (TypeError, ValueError):
            pass
    text = repr(value)
    warnings.warn(
        f"Parameter {key!r} has a value of type {type(value).__name__} that cannot be stored "
        f"as is; storing its repr {text[:60]!r}.",
        MlopsWarning,
        stacklevel=3,
    )
    return text


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
                f"Metric {key!r} must be a real number, got {type(value).__name__} {value!r}."
            )
    return float(value)


def metric_step(key: str, step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(f"Step of metric {key!r} must be an integer, got {step!r}.")
    return int(step)


def metric_row(run_id: str, key: str, value: Any, step: Any, ts: int) -> MetricRow:
    """A validated metric row; the checks cost almost nothing for the usual float and int, as
    a loop logs the same few keys a million times."""
    if key not in _VALID_KEYS:
        _VALID_KEYS.add(validate_key(key, "metric"))
    if type(value) is not float:
        value = metric_value(key, value)
    if type(step) is not int:
        step = metric_step(key, step)
    return (run_id, key, value, step, ts)


def validate_artifact_path(path: str) -> str:
    """A relative POSIX path inside a run's artifact space: no ``..``, no absolute path."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise InvalidInput(f"Invalid artifact path {path!r}.")
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in ("..", ".", "") for part in path.split("/")):
        raise InvalidInput(
            f"Invalid artifact path {path!r}: use a relative path without '..' (e.g. plots/a.png)."
        )
    return str(pure)


class Client:
    """Programmatic access to a store.

    Args:
        store: a database URL, a store folder, or None to use the configured location
            (``JUPYTER_MLOPS_STORE``, ``JUPYTER_MLOPS_HOME``, ``.mlops/``, the Jupyter data dir).
    """

    _shared: dict[str, Client] = {}
    _shared_lock = threading.Lock()

    def __init__(self, store: str | os.PathLike[str] | StoreLocation | None = None) -> None:
        self.location: StoreLocation = (
            store if isinstance(store, StoreLocation) else resolve_location(store)
        )
        home = self.location.home
        if home is not None:
            home.mkdir(parents=True, exist_ok=True)
        from .store.sql.store import SqlStore

        self.store: Store = SqlStore(self.location.db_url)
        self.artifacts = LocalArtifactStore(self.location.artifact_root)
        self.writer = MetricWriter(self.store)
        self._last_reconcile = 0.0
        self._env_pending: set[str] = set()
        self._experiments: dict[str, Experiment] = {}
        self._fingerprint_cache_set = False

    @classmethod
    def shared(cls, store: str | os.PathLike[str] | None = None) -> Client:
        """One Client per location per process, so the fluent API and magics share a writer."""
        key = str(resolve_location(store).db_url)
        with cls._shared_lock:
            client = cls._shared.get(key)
            if client is None:
                client = cls._shared[key] = cls(store)
            return client

    # Experiments -----------------------------------------------------------------------
    def get_or_create_experiment(self, name: str | None) -> Experiment:
        name = DEFAULT_EXPERIMENT if name is None else name
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise InvalidInput(f"Invalid experiment name {name!r}: 1-256 characters.")
        # Experiments are never renamed or removed, so their ids can be remembered.
        exp = self._experiments.get(name)
        if exp is None:
            exp = self._experiments[name] = self.store.get_or_create_experiment(
                name.strip(), now_ms()
            )
        return exp

    def get_experiment(self, name: str) -> Experiment:
        return self.store.get_experiment_by_name(name)

    def list_experiments(self) -> list[Experiment]:
        return self.store.list_experiments()

    # Runs ------------------------------------------------------------------------------
    def create_run(
        self,
        experiment: str | None = None,
        name: str | None = None,
        *,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        attrs: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Start a RUNNING run recording who, where and what code; returns its id.

        ``run_id`` (32 hex digits) lets a caller announce the id before the run exists, as the
        server does for a pipeline it starts in another process."""
        exp = self.get_or_create_experiment(experiment)
        start = now_ms()
        if run_id is None:
            run_id = uuid.uuid4().hex
        elif not re.fullmatch(r"[0-9a-f]{32}", run_id):
            raise InvalidInput(f"A run id is 32 lowercase hex digits, got {run_id!r}.")
        commit, dirty = capture.git_state(block=False)
        pid = os.getpid()
        row: dict[str, Any] = {
            "id": run_id,
            "name": (name or f"run-{run_id[:8]}")[:256],
            "start_time": start,
            "user": capture.user(),
            "host": capture.host(),
            "pid": pid,
            "pid_start": capture.process_start(pid),
            "python_version": capture.python_version(),
            "git_commit": commit,
            "git_dirty": dirty,
            "parent_run_id": parent_run_id,
            "environment": capture.environment(block=False),
        }
        if row["environment"] is None or commit is None:
            self._env_pending.add(run_id)  # filled in when the run ends
        row.update(attrs or {})
        self.store.create_run(exp.id, row)
        if tags:
            self.set_tags(run_id, tags)
        self.writer.track_run(run_id)
        return run_id

    def end_run(
        self,
        run_id: str,
        status: str | RunStatus = RunStatus.FINISHED,
        *,
        error: BaseException | None = None,
        traceback_text: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """End a run; buffered metrics are written first."""
        status = RunStatus(status)
        self.writer.untrack_run(run_id)
        self.writer.flush()
        values: dict[str, Any] = {
            "status": status.value,
            "end_time": now_ms(),
            # A run reconciled as KILLED whose process was only slow gets its true ending.
            "error_name": None,
            "error_value": None,
        }
        if error is not None:
            values["error_name"] = type(error).__name__
            values["error_value"] = str(error)[:10_000]
        if traceback_text is not None:
            values["traceback"] = traceback_text
        if run_id in self._env_pending:
            self._env_pending.discard(run_id)
            values["environment"] = capture.environment()
            values["git_commit"], values["git_dirty"] = capture.git_state()
        values.update(attrs or {})
        self.store.update_run(run_id, values)

    def update_run(self, run_id: str, **attrs: Any) -> None:
        self.store.update_run(run_id, attrs)

    def reconcile(self, force: bool = False) -> list[str]:
        """Mark runs whose process died as KILLED (at most once a second unless forced)."""
        now = time.time()
        if not force and now - self._last_reconcile < 1.0:
            return []
        self._last_reconcile = now
        return self.store.reconcile_dead_runs(
            int((now - STALE_AFTER_S) * 1000), capture.host(), capture.is_alive, int(now * 1000)
        )

    def resolve_run_id(self, run_id: str) -> str:
        return self.store.resolve_run_id(run_id)

    def get_run(self, run_id: str) -> Run:
        self.writer.flush()
        self.reconcile()
        return self.store.get_run(self.resolve_run_id(run_id))

    def search_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Run]:
        """Runs matching a filter, sorted and paginated in SQL (see :meth:`search_runs_page`
        for the total count)."""
        return self.search_runs_page(experiment, filter, order_by, limit, offset, False).runs

    def search_runs_page(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        with_total: bool = True,
    ) -> RunPage:
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be an integer from 1 to {MAX_PAGE}, got {limit!r}.")
        if not isinstance(offset, int) or offset < 0:
            raise InvalidInput(f"offset must be a non-negative integer, got {offset!r}.")
        if isinstance(order_by, str):
            order_by = [order_by]
        exp_ids = None
        if experiment is not None:
            names = [experiment] if isinstance(experiment, str) else list(experiment)
            exp_ids = [self.store.get_experiment_by_name(n).id for n in names]
        self.writer.flush()
        self.reconcile()
        return self.store.search_runs(
            exp_ids, filter, list(order_by or []), limit, offset, with_total
        )

    def iter_runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        page_size: int = 1000,
    ) -> Iterator[Run]:
        """Every matching run, a page at a time."""
        offset = 0
        while True:
            page = self.search_runs_page(experiment, filter, order_by, page_size, offset, False)
            yield from page.runs
            if len(page.runs) < page_size:
                return
            offset += page_size

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        return self.store.delete_runs([self.resolve_run_id(r) for r in run_ids])

    # Params, metrics, tags -------------------------------------------------------------
    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        if not isinstance(values, Mapping):
            raise InvalidInput("log_params takes a mapping of name to value.")
        texts = {validate_key(k, "param"): param_text(k, v) for k, v in values.items()}
        if texts:
            self.store.log_params(run_id, texts)

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_params(run_id, {key: value})

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        texts = {validate_key(k, "tag"): str(v) for k, v in values.items()}
        if texts:
            self.store.set_tags(run_id, texts)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.set_tags(run_id, {key: value})

    def metric_rows(
        self, run_id: str, values: Mapping[str, Any], step: int | None, ts: int | None = None
    ) -> list[MetricRow]:
        """Validate metrics into rows for :meth:`log_metric_rows` (or the buffered writer)."""
        ts = now_ms() if ts is None else ts
        s = 0 if step is None else step
        return [metric_row(run_id, k, v, s, ts) for k, v in values.items()]

    def log_metrics(self, run_id: str, values: Mapping[str, Any], step: int | None = None) -> None:
        """Durable when it returns (unbuffered); the fluent API buffers instead."""
        self.store.log_metric_rows(self.metric_rows(run_id, values, step))

    def log_metric(self, run_id: str, key: str, value: Any, step: int | None = None) -> None:
        self.log_metrics(run_id, {key: value}, step)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric | tuple[str, Any, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Many metric values (with their own steps and times), params and tags at once."""
        rows: list[MetricRow] = []
        ts = now_ms()
        for m in metrics:
            if isinstance(m, Metric):
                key, value, step, mts = m.key, m.value, m.step, m.timestamp or ts
            else:
                key, value, step = m
                mts = ts
            rows.append(metric_row(run_id, key, value, step, mts))
        if params:
            self.log_params(run_id, params)
        if tags:
            self.set_tags(run_id, tags)
        self.store.log_metric_rows(rows)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.writer.flush()
        return self.store.get_metric_history(self.resolve_run_id(run_id), key)

    def get_metric_series(self, run_id: str, key: str, max_points: int = 1000) -> dict[str, Any]:
        """A metric's history as columns for a chart, downsampled to about ``max_points``.

        Each bucket keeps its first, lowest and highest points (min-max decimation), so a
        spike in a million-point curve still shows.
        """
        from .tracking.downsample import minmax_downsample

        self.writer.flush()
        run_id = self.resolve_run_id(run_id)
        steps, values, stamps = self.store.metric_arrays(run_id, key)
        if len(steps) == 0 and key not in self.store.metric_keys(run_id):
            raise NotFound(f"Run {run_id[:8]} has no metric {key!r}.")
        keep = minmax_downsample(values, max_points)
        return {
            "key": key,
            "total": len(steps),
            "steps": steps[keep].tolist(),
            "values": values[keep].tolist(),
            "timestamps": stamps[keep].tolist(),
            "downsampled": bool(len(keep) < len(steps)),
        }

    def change_token(self) -> str:
        """Changes whenever a run starts or ends: a cheap thing for a panel to poll."""
        self.writer.flush()
        self.reconcile()
        return self.store.change_token()

    # Datasets --------------------------------------------------------------------------
    def use_fingerprint_cache(self) -> None:
        """Keep file fingerprints in the store folder, so unchanged files are not re-read by
        the next process either. Done on first use: it imports pandas and numpy."""
        if self._fingerprint_cache_set:
            return
        self._fingerprint_cache_set = True
        home = self.location.home
        if home is not None:
            from .data.fingerprint import set_file_cache_path

            set_file_cache_path(str(home / "fingerprint-cache.db"))

    def describe_dataset(
        self,
        obj: Any,
        name: str,
        source: str = "",
        *,
        fingerprint: str | None = None,
        profile: bool = True,
    ) -> NewDataset:
        """Fingerprint (unless given) and describe a DataFrame, Series, array, file or folder.

        The column profile, the slow part, is computed only for a version the store does not
        have yet.
        """
        from .data import column_schema, profile_frame
        from .data import fingerprint as compute_fingerprint
        from .data.fingerprint import nbytes_of

        self.use_fingerprint_cache()
        if isinstance(obj, str | os.PathLike):
            path = Path(obj)
            if not path.exists():
                raise NotFound(f"Dataset file {str(path)!r} does not exist.")
            size = (
                path.stat().st_size
                if path.is_file()
                else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            )
            kind = "file" if path.is_file() else "dir"
            fp = fingerprint or compute_fingerprint(path)
            return NewDataset(name, fp, kind, None, [], None, source or str(path), size)
        kind = type(obj).__name__.lower()
        if kind not in ("dataframe", "series", "ndarray"):
            raise InvalidInput(
                f"Cannot log a {type(obj).__name__} as a dataset: pass a pandas DataFrame or "
                "Series, a numpy array, or a file or folder path."
            )
        fp = fingerprint or compute_fingerprint(obj)
        summary = None
        if profile and self.store.find_dataset(name, fp) is None:
            try:
                summary = profile_frame(obj)
            except Exception:  # a profile is a convenience; the fingerprint is what matters
                summary = None
        return NewDataset(
            name=name,
            fingerprint=fp,
            kind=kind,
            shape=[int(n) for n in getattr(obj, "shape", ())],
            schema=column_schema(obj),
            profile=summary,
            source=source,
            nbytes=int(nbytes_of(obj)),
        )

    def log_dataset(
        self, run_id: str, obj: Any, name: str | None = None, role: str = "input"
    ) -> DatasetVersion:
        if role not in ("input", "output"):
            raise InvalidInput(f"Dataset role must be 'input' or 'output', got {role!r}.")
        if name is None:
            if not isinstance(obj, str | os.PathLike):
                raise InvalidInput("log_dataset needs a name for in-memory data (name='train').")
            name = Path(obj).name
        validate_key(name, "dataset")
        return self.log_described_datasets(run_id, [(self.describe_dataset(obj, name), role)])[0]

    def log_described_datasets(
        self, run_id: str, items: Sequence[tuple[NewDataset, str]]
    ) -> list[DatasetVersion]:
        return self.store.log_datasets(run_id, items, now_ms())

    def list_datasets(self, name: str | None = None) -> list[DatasetVersion]:
        return self.store.list_datasets(name)

    def get_dataset(self, ref: str) -> DatasetVersion:
        return self.store.get_dataset(ref)

    def dataset_lineage(self, ref: str) -> dict[str, Any]:
        """Which runs produced and read a dataset version, and the models those runs made."""
        version = self.get_dataset(ref)
        produced: list[dict[str, Any]] = []
        consumed: list[dict[str, Any]] = []
        for run_id, role in self.store.dataset_runs(version.id):
            run = self.store.get_run(run_id)
            entry = {
                "run_id": run_id,
                "name": run.info.name,
                "experiment": run.info.experiment_name,
                "status": run.info.status,
                "start_time": run.info.start_time,
                "models": [m.to_dict() for m in run.models],
                "outputs": [d.to_dict() for d in run.outputs if d.id != version.id],
            }
            (produced if role == "output" else consumed).append(entry)
        return {"dataset": version.to_dict(), "produced_by": produced, "used_by": consumed}

    # Artifacts -------------------------------------------------------------------------
    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[Artifact]:
        """Copy a file (or every file of a folder) into the run's artifacts."""
        src = Path(local_path)
        if not src.exists():
            raise NotFound(f"Artifact source {str(src)!r} does not exist.")
        base = validate_artifact_path(src.name if artifact_path is None else artifact_path)
        files = [(src, base)] if src.is_file() else []
        if src.is_dir():
            files = [
                (p, f"{base}/{p.relative_to(src).as_posix()}")
                for p in sorted(src.rglob("*"))
                if p.is_file()
            ]
        out = []
        for path, logical in files:
            sha, size = self.artifacts.put_file(path)
            art = Artifact(validate_artifact_path(logical), sha, size, "file", now_ms())
            self.store.record_artifact(run_id, art)
            out.append(art)
        return out

    def log_artifact_bytes(
        self, run_id: str, data: bytes, path: str, kind: str = "file"
    ) -> Artifact:
        sha, size = self.artifacts.put_bytes(data)
        art = Artifact(validate_artifact_path(path), sha, size, kind, now_ms())
        self.store.record_artifact(run_id, art)
        return art

    def _artifact(self, run_id: str, path: str) -> Artifact:
        path = validate_artifact_path(path)
        for art in self.store.list_artifacts(self.resolve_run_id(run_id)):
            if art.path == path:
                return art
        raise NotFound(f"Run {run_id} has no artifact {path!r}.")

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """An artifact's bytes, verified against the recorded sha256 (IntegrityError if not)."""
        return self.artifacts.read_bytes(self._artifact(run_id, path).sha256)

    def download_artifact(self, run_id: str, path: str, dest: str | os.PathLike[str]) -> Path:
        return self.artifacts.copy_to(self._artifact(run_id, path).sha256, dest)

    def gc(self, dry_run: bool = False) -> dict[str, int]:
        """Delete blobs that no artifact or model references any more."""
        keep = self.store.referenced_blobs()
        count = size = 0
        for sha, path in self.artifacts.iter_blobs():
            if sha in keep:
                continue
            count += 1
            size += path.stat().st_size if dry_run else self.artifacts.delete(sha)
        stray = 0 if dry_run else self.artifacts.clean_staging()
        return {"blobs": count, "bytes": size, "temp_files": stray}

    # Models ----------------------------------------------------------------------------
    def log_model(
        self, run_id: str, model: Any, name: str = "model", input_example: Any = None
    ) -> LoggedModel:
        from .models import describe_model, dump_model, infer_signature
        from .models.serialize import scalar_params

        validate_key(name, "model")
        data = dump_model(model)
        flavor, cls = describe_model(model)
        path = f"models/{name}/model.joblib"
        art = self.log_artifact_bytes(run_id, data, path, kind="model")
        logged = LoggedModel(
            id=uuid.uuid4().hex,
            run_id=run_id,
            name=name,
            flavor=flavor,
            model_class=cls,
            artifact_path=path,
            sha256=art.sha256,
            signature=infer_signature(model, input_example),
            params=jsonable(scalar_params(model)),
            created_at=now_ms(),
        )
        self.store.record_model(logged)
        return logged

    def load_model(self, ref: str) -> Any:
        """Load a logged model by id or ``runs:/<run_id>/<name>``, after checking its sha256."""
        from .models import load_model_bytes

        if ref.startswith("runs:/"):
            run_id, _, name = ref[len("runs:/") :].partition("/")
            matches = [m for m in self.get_run(run_id).models if m.name == (name or "model")]
            if not matches:
                raise NotFound(f"Run {run_id} logged no model named {name!r}.")
            logged = matches[-1]
        else:
            logged = self.store.get_logged_model(ref)
        return load_model_bytes(self.artifacts.read_bytes(logged.sha256))
