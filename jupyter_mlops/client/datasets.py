"""Dataset versions and lineage: the Client's dataset domain.

Uses ``self.store`` as a :class:`~jupyter_mlops.store.base.DatasetStore` (and reads the runs
of a version through :meth:`get_run`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import StoreLocation
from ..entities import DatasetVersion
from ..exceptions import InvalidInput, NotFound, shown
from ..store.base import NewDataset
from .base import ClientBase
from .validation import check_text, now_ms, validate_key

if TYPE_CHECKING:
    from ..entities import Run


class DatasetsMixin(ClientBase):
    if TYPE_CHECKING:

        def get_run(self, run_id: str) -> Run: ...

    def __init__(
        self, store: str | os.PathLike[str] | StoreLocation | None = None, *, lazy: bool = False
    ) -> None:
        super().__init__(store, lazy=lazy)
        self._fingerprint_cache_set = False

    def use_fingerprint_cache(self) -> None:
        """Keep file fingerprints in the store folder, so unchanged files are not re-read by
        the next process either."""
        if self._fingerprint_cache_set:
            return
        self._fingerprint_cache_set = True
        home = self.location.home
        if home is not None:
            from ..data.files import set_file_cache_path

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
        """Fingerprint (unless given) and describe a dataset, file or folder.

        In-memory datasets: pandas DataFrame or Series, numpy array (memmap included),
        pyarrow Table, RecordBatch, Array or ChunkedArray, polars DataFrame or Series, scipy
        sparse matrix or array. The column profile, the slow part, is computed only for a
        version the store does not have yet.

        Raises:
            LazyDataError: ``obj`` is a polars LazyFrame (an ``InvalidInput``): collect it.
            InvalidInput: ``obj`` is not a dataset.
            NotFound: ``obj`` is a path that does not exist.
        """
        self.use_fingerprint_cache()
        if isinstance(obj, str | os.PathLike):
            from ..data.files import path_fingerprint

            path = Path(obj)
            if not path.exists():
                raise NotFound(f"Dataset file {shown(str(path))} does not exist.")
            size = (
                path.stat().st_size
                if path.is_file()
                else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            )
            kind = "file" if path.is_file() else "dir"
            fp = fingerprint or path_fingerprint(path)
            return NewDataset(name, fp, kind, None, [], None, source or str(path), size)
        from ..data import column_schema, dataset_kind, nbytes_of, profile_frame, shape_of
        from ..data import fingerprint as compute_fingerprint

        dataset = dataset_kind(obj)  # raises LazyDataError for a lazy query
        if dataset is None:
            raise InvalidInput(
                f"Cannot log a {type(obj).__name__} as a dataset: pass a pandas DataFrame or "
                "Series, a numpy array, a pyarrow Table or array, a polars DataFrame or Series, "
                "a scipy sparse matrix, or a file or folder path."
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
            kind=dataset,
            shape=shape_of(obj) or [],
            schema=column_schema(obj),
            profile=summary,
            source=source,
            nbytes=int(nbytes_of(obj)),
        )

    def log_dataset(
        self, run_id: str, obj: Any, name: str | None = None, role: str = "input"
    ) -> DatasetVersion:
        if role not in ("input", "output"):
            raise InvalidInput(f"Dataset role must be 'input' or 'output', got {shown(role)}.")
        if name is None:
            if not isinstance(obj, str | os.PathLike):
                raise InvalidInput("log_dataset needs a name for in-memory data (name='train').")
            name = Path(obj).name
        validate_key(name, "dataset")
        return self.log_described_datasets(run_id, [(self.describe_dataset(obj, name), role)])[0]

    def log_described_datasets(
        self, run_id: str, items: Sequence[tuple[NewDataset, str]]
    ) -> list[DatasetVersion]:
        for new, _role in items:
            check_text(new.source, f"The source of dataset {new.name!r}", 4096)
        return self.store.log_datasets(run_id, items, now_ms())

    def list_datasets(self, name: str | None = None) -> list[DatasetVersion]:
        if name is not None:
            check_text(name, "A dataset name", 256)
        return self.store.list_datasets(name)

    def get_dataset(self, ref: str) -> DatasetVersion:
        return self.store.get_dataset(check_text(ref, "A dataset reference", 512, empty=False))

    def dataset_lineage(self, ref: str) -> dict[str, Any]:
        """Which runs produced and read a dataset version, and the models those runs made."""
        version = self.get_dataset(ref)
        produced: list[dict[str, Any]] = []
        consumed: list[dict[str, Any]] = []
        for run_id, role in self.store.dataset_runs(version.id):
            run = self.get_run(run_id)
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

    def dataset_file(self, ref: str) -> str:
        """The file holding dataset version ``ref`` (a file a run wrote or read), whose
        content must still have the version's fingerprint: its recorded path, read relative
        to the folders of the notebooks that wrote or read it when it is relative (a tracked
        cell records the path as the cell wrote it).

        Raises:
            InvalidInput: the version was an in-memory object, or its file has changed.
            NotFound: the file is gone.
        """
        from ..data.files import path_fingerprint

        version = self.get_dataset(ref)
        if version.kind != "file":
            raise InvalidInput(
                f"Dataset {shown(ref)} was recorded from an in-memory {version.kind}, whose "
                "rows the store does not keep: write it to a file that a run records."
            )
        candidates = [Path(version.source)]
        if not candidates[0].is_absolute():
            lineage = self.dataset_lineage(ref)
            for entry in [*lineage["produced_by"], *lineage["used_by"]]:
                notebook = self.get_run(entry["run_id"]).info.notebook_path
                if notebook:
                    candidates.append(Path(notebook).parent / version.source)
        changed = None
        for candidate in dict.fromkeys(candidates):
            try:
                now = path_fingerprint(candidate)
            except (OSError, NotFound):
                continue
            if now == version.fingerprint:
                return str(candidate)
            changed = changed or (candidate, now)
        if changed is not None:
            raise InvalidInput(
                f"The file of dataset {shown(ref)} ({changed[0]}) has changed since it was "
                f"recorded (fingerprint {changed[1]} instead of {version.fingerprint}): "
                "nothing is judged on data other than the version named."
            )
        raise NotFound(f"The file of dataset {shown(ref)} ({version.source}) is gone; restore it.")

    def read_dataset_frame(
        self, ref: str, what: str = "the dataset", instead: str | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Dataset version ``ref``'s file (see :meth:`dataset_file`) as a DataFrame, and
        ``{ref, fingerprint, rows, path}``. ``what`` and ``instead`` (another way to give the
        data) complete the error messages."""
        version = self.get_dataset(ref)
        try:
            path = self.dataset_file(ref)
        except (InvalidInput, NotFound) as exc:
            hint = f" Or {instead}." if instead else ""
            raise type(exc)(f"Cannot read {what}: {exc.message}{hint}") from exc
        frame = read_table(path, what, instead)
        info: dict[str, Any] = {
            "ref": f"{version.name}@{version.version}",
            "fingerprint": version.fingerprint,
            "rows": len(frame),
            "path": path,
        }
        return frame, info


def read_table(path: str, what: str = "the dataset", instead: str | None = None) -> Any:
    """A tabular file as a DataFrame, by its extension."""
    import pandas as pd

    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if lower.endswith((".feather", ".arrow")):
        return pd.read_feather(path)
    if lower.endswith((".json", ".jsonl")):
        return pd.read_json(path, lines=lower.endswith(".jsonl"))
    if lower.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        return pd.read_csv(path, sep="\t" if lower.endswith(".tsv") else ",")
    hint = f"; {instead} instead" if instead else ""
    raise InvalidInput(
        f"{what[0].upper()}{what[1:]} ({shown(path)}) is not a table file this can read (csv, "
        f"tsv, parquet, feather, json, jsonl){hint}."
    )
