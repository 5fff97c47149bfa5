"""Run records as SQL text: one implementation for SQLite and PostgreSQL, on either executor.

What a run's life writes and reads (its experiment, its row, params, tags, metrics, artifact
links; a whole run back; the newest run with a tag, the newest model of a name) is written
here once, as text with ``?`` placeholders, over a :class:`Db`. The SQL store runs it on its
SQLAlchemy connections (:class:`~jupyter_mlops.store.sql.base.SqlBase` gives the
transactions); :class:`~jupyter_mlops.store.sql.lite.SqliteRecords` on plain ``sqlite3``, so
that a process that only records runs in an existing SQLite file (a pipeline re-run whose
steps all come from the cache) never imports SQLAlchemy, whose import alone is most of such a
process' time. Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

import abc
import json
import math
import random
import sys
import time
import uuid
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ...entities import (
    Artifact,
    CtLoop,
    DatasetVersion,
    Experiment,
    GateReport,
    LoggedModel,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Run,
    RunStatus,
)
from ...exceptions import InvalidInput, NotFound, shown
from ...query import Node, OrderItem
from ..base import MetricRow, RecordStore, RunPage, StoredPolicy
from .runsql import (
    INFO_COLUMNS,
    RunningRun,
    RunQueries,
    placeholders,
    run_info,
)

T = TypeVar("T")

# How every connection to a SQLite store is set up (the store's engine and plain sqlite3).
BUSY_TIMEOUT_MS = 60_000
SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode = WAL",
    # In WAL mode NORMAL survives any process crash; only an OS crash or power loss can
    # lose the last commits (see README, durability contract).
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)

# Every column of ``runs`` (a test checks them against the schema).
RUN_COLUMNS = (*INFO_COLUMNS, "heartbeat", "pid_start", "environment")
_ARTIFACT_COLUMNS = ("path", "sha256", "size", "kind", "created_at")
_MODEL_COLUMNS = tuple(LoggedModel.__dataclass_fields__)
_DATASET_COLUMNS = tuple(f for f in DatasetVersion.__dataclass_fields__ if f != "role")


class Db(abc.ABC):
    """Executes SQL text with ``?`` placeholders in the transaction it stands for."""

    # Whether the driver hands JSON columns back decoded (psycopg) or as text (sqlite3).
    json_decoded = False

    @abc.abstractmethod
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """The rows a query returns."""

    @abc.abstractmethod
    def change(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a write; the number of rows it changed."""

    @abc.abstractmethod
    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a write once per row of parameters."""

    def json_param(self, value: Any) -> Any:
        """``value`` as a parameter for a JSON column (text, as SQLite keeps it)."""
        return None if value is None else json.dumps(value)

    def dicts(
        self, sql: str, columns: Sequence[str], params: Sequence[Any] = ()
    ) -> list[dict[str, Any]]:
        """The rows of a query selecting ``columns``, as mappings."""
        return [dict(zip(columns, r, strict=True)) for r in self.rows(sql, params)]

    def json(self, value: Any) -> Any:
        """A JSON column's value as Python."""
        if value is None or self.json_decoded:
            return value
        return json.loads(value)


def select(table: str, columns: Sequence[str]) -> str:
    return f"SELECT {', '.join(f'{table}.{_quoted(c)}' for c in columns)} FROM {table}"


def _quoted(column: str) -> str:
    return f'"{column}"'


def upsert(table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
    """An insert that replaces the row whose ``keys`` exist (the same text for both)."""
    updates = ", ".join(f"{_quoted(c)} = excluded.{_quoted(c)}" for c in columns if c not in keys)
    return (
        f"INSERT INTO {table} ({', '.join(map(_quoted, columns))}) VALUES "
        f"({placeholders(len(columns))}) ON CONFLICT ({', '.join(map(_quoted, keys))}) "
        f"DO UPDATE SET {updates}"
    )


def as_number(text: str) -> float | None:
    """A param's numeric value (for numeric comparisons and sorting), if it has one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _little_endian(kind: str, items: list[Any]) -> bytes:
    """int64 (``q``) or float64 (``d``) items as little-endian bytes, as they are stored;
    the standard library's array, so that a write needs no numpy (a process that only
    copies a few metrics, such as a cached pipeline run, never imports it)."""
    packed = array(kind, items)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


_INSERT_CHUNK = (
    'INSERT INTO metric_chunks (run_id, "key", n, min_step, max_step, step_data, value_data, '
    f"time_data) VALUES ({placeholders(8)})"
)
# Keep the value with the highest (step, timestamp).
_UPSERT_LATEST = (
    'INSERT INTO latest_metrics (run_id, "key", value, is_nan, step, "timestamp") '
    f'VALUES ({placeholders(6)}) ON CONFLICT (run_id, "key") DO UPDATE SET '
    "value = excluded.value, is_nan = excluded.is_nan, step = excluded.step, "
    '"timestamp" = excluded."timestamp" WHERE excluded.step > latest_metrics.step OR '
    "(excluded.step = latest_metrics.step AND "
    'excluded."timestamp" >= latest_metrics."timestamp")'
)


def metric_batches(
    rows: Sequence[MetricRow],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The ``metric_chunks`` rows (one per run and key) and ``latest_metrics`` upserts of a
    batch of metric values."""
    groups: dict[tuple[str, str], tuple[list[int], list[float], list[int]]] = {}
    for run_id, key, value, step, ts in rows:
        group = groups.get((run_id, key))
        if group is None:
            group = groups[(run_id, key)] = ([], [], [])
        group[0].append(step)
        group[1].append(value)
        group[2].append(ts)
    chunks = []
    latest = []
    for (run_id, key), (steps, values, stamps) in groups.items():
        top = max(steps)
        # The latest value: the highest step, then the latest time, then the last logged.
        # Usually one value has the highest step: found at C speed, no Python loop.
        if steps.count(top) == 1:
            last = steps.index(top)
        else:
            last = max(
                (i for i, step in enumerate(steps) if step == top),
                key=lambda i: (stamps[i], i),
            )
        chunks.append(
            (
                run_id,
                key,
                len(steps),
                min(steps),
                top,
                _little_endian("q", steps),
                _little_endian("d", values),
                _little_endian("q", stamps),
            )
        )
        value = values[last]
        nan = value != value
        latest.append((run_id, key, None if nan else value, nan, top, stamps[last]))
    return chunks, latest


# PostgreSQL's SQLSTATE for "deadlock detected": its message text follows the server's
# lc_messages, so an English match alone would miss a localized server.
PG_DEADLOCK = "40P01"


def is_lock_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the database was locked or busy (retry), not a real failure."""
    if getattr(getattr(exc, "orig", None), "sqlstate", None) == PG_DEADLOCK:
        return True
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "deadlock" in text


def retry_locked(
    attempt: Callable[[], T], errors: tuple[type[BaseException], ...], attempts: int = 8
) -> T:
    """Run one write transaction (``attempt``), retrying lock timeouts with jittered backoff.

    The busy timeout already absorbs ordinary contention; this covers the rarer cases (WAL
    checkpoints, PostgreSQL deadlocks) so that a lock error never reaches the user.
    """
    delay = 0.05
    for n in range(attempts):
        try:
            return attempt()
        except errors as exc:
            if not is_lock_error(exc) or n == attempts - 1:
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


class RunRecords(RecordStore):
    """The runs' part of :class:`TextRecords`."""

    @abc.abstractmethod
    def _read_db(self, fn: Callable[[Db], T]) -> T:
        """``fn`` over one read transaction."""

    @abc.abstractmethod
    def _write_db(self, fn: Callable[[Db], T]) -> T:
        """``fn`` over one write transaction (``BEGIN IMMEDIATE`` on SQLite), retried on
        lock timeouts."""

    # Experiments -------------------------------------------------------------------------
    def get_experiment_by_name(self, name: str) -> Experiment:
        return self._read_db(lambda db: RunQueries(db.rows).get_experiment_by_name(name))

    def get_or_create_experiment(self, name: str, now_ms: int) -> Experiment:
        found = self._read_db(lambda db: RunQueries(db.rows).experiment_named(name))
        if found is not None:
            return found

        def create(db: Db) -> Experiment:
            queries = RunQueries(db.rows)
            existing = queries.experiment_named(name)
            if existing is not None:
                return existing
            db.change("INSERT INTO experiments (name, created_at) VALUES (?, ?)", [name, now_ms])
            created = queries.experiment_named(name)
            assert created is not None
            return created

        return self._write_db(create)

    # Runs ----------------------------------------------------------------------------------
    def running_runs(self) -> list[RunningRun]:
        return self._read_db(lambda db: RunQueries(db.rows).running_runs())

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None,
        filter: Node | None,
        order_by: Sequence[OrderItem],
        limit: int,
        offset: int,
        with_total: bool = True,
    ) -> RunPage:
        return self._read_db(
            lambda db: RunQueries(db.rows).search_runs(
                experiment_ids, filter, order_by, limit, offset, with_total
            )
        )

    def create_run(
        self, experiment_id: int, attrs: dict[str, Any], tags: dict[str, str] | None = None
    ) -> str:
        run_id = str(attrs.get("id") or uuid.uuid4().hex)
        row = {
            "id": run_id,
            "experiment_id": experiment_id,
            "status": RunStatus.RUNNING.value,
            "heartbeat": attrs["start_time"],
            **attrs,
        }
        _known_columns(row)

        def insert(db: Db) -> None:
            columns = list(row)
            values = [db.json_param(v) if c == "environment" else v for c, v in row.items()]
            db.change(
                f"INSERT INTO runs ({', '.join(map(_quoted, columns))}) "
                f"VALUES ({placeholders(len(columns))})",
                values,
            )
            if tags:
                db.many(
                    'INSERT INTO tags (run_id, "key", value) VALUES (?, ?, ?)',
                    [(run_id, k, v) for k, v in tags.items()],
                )

        self._write_db(insert)
        return run_id

    def update_run(self, run_id: str, attrs: dict[str, Any]) -> None:
        _known_columns(attrs)
        if not attrs:
            return

        def update(db: Db) -> None:
            sets = ", ".join(f"{_quoted(c)} = ?" for c in attrs)
            values = [db.json_param(v) if c == "environment" else v for c, v in attrs.items()]
            if db.change(f"UPDATE runs SET {sets} WHERE id = ?", [*values, run_id]) == 0:
                raise NotFound(f"No run with id {shown(run_id)}.")

        self._write_db(update)

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        ids = list(run_ids)
        if not ids:
            return
        self._write_db(
            lambda db: db.change(
                f"UPDATE runs SET heartbeat = ? WHERE id IN ({placeholders(len(ids))}) "
                "AND status = ?",
                [now_ms, *ids, RunStatus.RUNNING.value],
            )
        )

    def get_run(self, run_id: str) -> Run:
        return self._read_db(lambda db: self._run(db, run_id))

    def _run(self, db: Db, run_id: str) -> Run:
        found = db.dicts(select("runs", RUN_COLUMNS) + " WHERE id = ?", RUN_COLUMNS, [run_id])
        if not found:
            raise NotFound(f"No run with id {shown(run_id)}.")
        row = found[0]
        queries = RunQueries(db.rows)
        run = Run(info=run_info(row, queries.experiment_names()))
        run.environment = db.json(row["environment"]) or {}
        queries.attach({run_id: run})
        for version in self._run_datasets(db, run_id):
            (run.inputs if version.role == "input" else run.outputs).append(version)
        run.models = self._run_models(db, run_id)
        run.artifacts = self._artifacts(db, run_id)
        return run

    def latest_run_with_tag(
        self, key: str, value: str, status: RunStatus | None = RunStatus.FINISHED
    ) -> str | None:
        """The newest run carrying tag ``key = value`` (and ``status``), through the
        ``(key, value, run_id)`` index."""
        sql = (
            "SELECT runs.id FROM runs JOIN tags ON tags.run_id = runs.id "
            'WHERE tags."key" = ? AND tags.value = ?'
        )
        params: list[Any] = [key, value]
        if status is not None:
            sql += " AND runs.status = ?"
            params.append(status.value)
        sql += " ORDER BY runs.start_time DESC, runs.id DESC LIMIT 1"
        found = self._read_db(lambda db: db.rows(sql, params))
        return str(found[0][0]) if found else None

    # Params, tags and metrics ------------------------------------------------------------
    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        rows = [(run_id, k, v, as_number(v)) for k, v in params.items()]
        if rows:
            statement = upsert("params", ("run_id", "key", "value", "value_num"), ("run_id", "key"))
            self._write_db(lambda db: db.many(statement, rows))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        rows = [(run_id, k, v) for k, v in tags.items()]
        if rows:
            statement = upsert("tags", ("run_id", "key", "value"), ("run_id", "key"))
            self._write_db(lambda db: db.many(statement, rows))

    def log_metric_rows(self, rows: Sequence[MetricRow]) -> None:
        if not rows:
            return
        chunks, latest = metric_batches(rows)

        def insert(db: Db) -> None:
            # The driver's executemany over plain tuples: the fastest path both drivers offer.
            db.many(_INSERT_CHUNK, chunks)
            db.many(_UPSERT_LATEST, latest)

        self._write_db(insert)

    # Artifacts, models and datasets of a run ---------------------------------------------
    def record_artifacts(self, run_id: str, artifacts: Sequence[Artifact]) -> None:
        rows = [(run_id, *(getattr(a, c) for c in _ARTIFACT_COLUMNS)) for a in artifacts]
        if rows:
            columns = ("run_id", *_ARTIFACT_COLUMNS)
            statement = upsert("artifacts", columns, ("run_id", "path"))
            self._write_db(lambda db: db.many(statement, rows))

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        return self._read_db(lambda db: self._artifacts(db, run_id))

    @staticmethod
    def _artifacts(db: Db, run_id: str) -> list[Artifact]:
        sql = select("artifacts", _ARTIFACT_COLUMNS) + " WHERE run_id = ? ORDER BY path"
        return [Artifact(*r) for r in db.rows(sql, [run_id])]

    def _run_models(self, db: Db, run_id: str) -> list[LoggedModel]:
        sql = select("logged_models", _MODEL_COLUMNS) + " WHERE run_id = ? ORDER BY created_at"
        return [model_of(r, db.json) for r in db.dicts(sql, _MODEL_COLUMNS, [run_id])]

    def latest_model_sha(self, name: str) -> str | None:
        sql = "SELECT sha256 FROM logged_models WHERE name = ? ORDER BY created_at DESC LIMIT 1"
        found = self._read_db(lambda db: db.rows(sql, [name]))
        return str(found[0][0]) if found else None

    def _run_datasets(self, db: Db, run_id: str) -> list[DatasetVersion]:
        columns = (*_DATASET_COLUMNS, "role")
        sql = (
            f"SELECT {', '.join(f'datasets.{_quoted(c)}' for c in _DATASET_COLUMNS)}, "
            "run_datasets.role FROM datasets JOIN run_datasets ON "
            "run_datasets.dataset_id = datasets.id WHERE run_datasets.run_id = ? "
            "ORDER BY datasets.name"
        )
        found = []
        for row in db.dicts(sql, columns, [run_id]):
            role = row.pop("role")
            found.append(dataset_of(row, role, db.json))
        return found


def _same(value: Any) -> Any:
    return value


def model_of(row: Mapping[Any, Any], decode: Callable[[Any], Any] = _same) -> LoggedModel:
    """A logged model from its row (``decode`` reads its JSON columns, when the driver
    has not)."""
    values = {c: row[c] for c in _MODEL_COLUMNS}
    values["signature"] = decode(values["signature"])
    values["params"] = decode(values["params"]) or {}
    return LoggedModel(**values)


def dataset_of(
    row: Mapping[Any, Any], role: str | None = None, decode: Callable[[Any], Any] = _same
) -> DatasetVersion:
    """A dataset version from its row (``decode``: as for :func:`model_of`)."""
    values = {c: row[c] for c in _DATASET_COLUMNS}
    values["shape"] = decode(values["shape"])
    values["schema"] = decode(values["schema"]) or []
    values["profile"] = decode(values["profile"])
    return DatasetVersion(**values, role=role)


def _known_columns(attrs: Iterable[str]) -> None:
    unknown = set(attrs) - set(RUN_COLUMNS)
    if unknown:
        raise InvalidInput(f"Unknown run attributes: {sorted(unknown)}")


# The registry and continuous training, as read around a run ------------------------------
_REGISTERED_COLUMNS = tuple(RegisteredModel.__dataclass_fields__)
_VERSION_COLUMNS = tuple(ModelVersion.__dataclass_fields__)
_ALIAS_COLUMNS = tuple(ModelAlias.__dataclass_fields__)
_REPORT_COLUMNS = tuple(GateReport.__dataclass_fields__)
_POLICY_COLUMNS = tuple(StoredPolicy.__dataclass_fields__)
_LOOP_COLUMNS = tuple(CtLoop.__dataclass_fields__)


def registered_of(row: Mapping[Any, Any], decode: Callable[[Any], Any] = _same) -> RegisteredModel:
    values = {c: row[c] for c in _REGISTERED_COLUMNS}
    values["tags"] = decode(values["tags"]) or {}
    values["gates"] = decode(values["gates"])
    return RegisteredModel(**values)


def version_of(row: Mapping[Any, Any]) -> ModelVersion:
    return ModelVersion(**{c: row[c] for c in _VERSION_COLUMNS})


def alias_of(row: Mapping[Any, Any]) -> ModelAlias:
    return ModelAlias(**{c: row[c] for c in _ALIAS_COLUMNS})


def report_of(row: Mapping[Any, Any], decode: Callable[[Any], Any] = _same) -> GateReport:
    values = {c: row[c] for c in _REPORT_COLUMNS}
    values["passed"] = bool(values["passed"])  # SQLite keeps booleans as 0 and 1
    values["report"] = decode(values["report"])
    return GateReport(**values)


def policy_of(row: Mapping[Any, Any], decode: Callable[[Any], Any] = _same) -> StoredPolicy:
    values = {c: row[c] for c in _POLICY_COLUMNS}
    values["config"] = dict(decode(values["config"]))
    return StoredPolicy(**values)


def loop_of(row: Mapping[Any, Any], decode: Callable[[Any], Any] = _same) -> CtLoop:
    values = {c: row[c] for c in _LOOP_COLUMNS}
    values["trigger"] = dict(decode(values["trigger"]) or {})
    values["params"] = dict(decode(values["params"]) or {})
    values["dry_run"] = bool(values["dry_run"])
    return CtLoop(**values)


def no_version(name: str, version: int, deleted: bool) -> NotFound:
    """The error for a version of ``name`` that is not there (or was deleted)."""
    if deleted:
        return NotFound(
            f"Version {version} of model {shown(name)} was deleted; its audit entries "
            "remain (jupyter-mlops models audit)."
        )
    return NotFound(
        f"Model {shown(name)} has no version {version}. List its versions with "
        "search_model_versions(name)."
    )


class TextRecords(RunRecords):
    """:class:`~jupyter_mlops.store.base.RecordStore` as SQL text; a subclass gives the
    transactions (:meth:`_read_db`, :meth:`_write_db`)."""

    def get_registered_model(self, name: str) -> RegisteredModel:
        sql = select("registered_models", _REGISTERED_COLUMNS) + " WHERE name = ?"
        found = self._read_db(
            lambda db: [
                registered_of(r, db.json) for r in db.dicts(sql, _REGISTERED_COLUMNS, [name])
            ]
        )
        if not found:
            raise NotFound(f"No registered model named {shown(name)}.")
        return found[0]

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        columns = (*_VERSION_COLUMNS, "deleted_at")
        sql = select("model_versions", columns) + " WHERE name = ? AND version = ?"
        found = self._read_db(lambda db: db.dicts(sql, columns, [name, version]))
        if not found or found[0]["deleted_at"] is not None:
            raise no_version(name, version, bool(found))
        return version_of(found[0])

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        sql = (
            select("model_versions", _VERSION_COLUMNS)
            + " WHERE name = ? AND deleted_at IS NULL ORDER BY version"
        )
        rows = self._read_db(lambda db: db.dicts(sql, _VERSION_COLUMNS, [name]))
        return [version_of(r) for r in rows]

    def latest_in_stage(self, name: str, stage: str) -> ModelVersion | None:
        sql = (
            select("model_versions", _VERSION_COLUMNS)
            + " WHERE name = ? AND stage = ? AND deleted_at IS NULL ORDER BY version DESC LIMIT 1"
        )
        rows = self._read_db(lambda db: db.dicts(sql, _VERSION_COLUMNS, [name, stage]))
        return version_of(rows[0]) if rows else None

    def get_alias(self, name: str, alias: str) -> ModelAlias:
        sql = select("model_aliases", _ALIAS_COLUMNS) + " WHERE name = ? AND alias = ?"
        rows = self._read_db(lambda db: db.dicts(sql, _ALIAS_COLUMNS, [name, alias]))
        if not rows:
            raise NotFound(f"Model {shown(name)} has no alias {shown(alias)}.")
        return alias_of(rows[0])

    def gate_reports(self, name: str, version: int | None = None) -> list[GateReport]:
        sql = select("gate_reports", _REPORT_COLUMNS) + " WHERE name = ?"
        params: list[Any] = [name]
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        sql += " ORDER BY created_at DESC, sha256"
        return self._read_db(
            lambda db: [report_of(r, db.json) for r in db.dicts(sql, _REPORT_COLUMNS, params)]
        )

    def get_ct_policy(self, name: str) -> StoredPolicy | None:
        sql = select("ct_policies", _POLICY_COLUMNS) + " WHERE name = ?"
        rows = self._read_db(
            lambda db: [policy_of(r, db.json) for r in db.dicts(sql, _POLICY_COLUMNS, [name])]
        )
        return rows[0] if rows else None

    def loop_of_run(self, pipeline_run_id: str) -> CtLoop | None:
        sql = select("ct_loops", _LOOP_COLUMNS) + " WHERE pipeline_run_id = ? LIMIT 1"
        rows = self._read_db(
            lambda db: [
                loop_of(r, db.json) for r in db.dicts(sql, _LOOP_COLUMNS, [pipeline_run_id])
            ]
        )
        return rows[0] if rows else None
