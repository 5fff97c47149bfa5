"""What a store backend must do, one interface per domain. Validation lives in the Client, above.

A backend implements every interface (:class:`Store` is their union); the Client's domain
modules each type ``self.store`` as the one interface they use, so a domain's needs are
written down in one place. Single-item writes are built on batch writes (``log_metric`` →
``log_metric_rows``), so a backend implements the batch path once and makes it fast.

A state change that another feature may react to (a new dataset version, a model version
or alias, later an alert) writes its event in the same transaction as the change.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..entities import (
    AlertState,
    Artifact,
    AuditBreak,
    AuditEntry,
    CtLoop,
    DatasetVersion,
    Event,
    Experiment,
    GateReport,
    LoggedModel,
    Metric,
    ModelAlias,
    ModelApproval,
    ModelServer,
    ModelVersion,
    RegisteredModel,
    Rollout,
    Run,
    RunStatus,
    Schedule,
)
from ..query import Node, OrderItem

# (run_id, key, value, step, timestamp_ms): the row shape of the buffered metric writer.
MetricRow = tuple[str, str, float, int, int]


@dataclass
class RunPage:
    runs: list[Run]
    total: int
    offset: int
    limit: int


@dataclass
class NewDataset:
    """What the Client knows about a dataset before the store gives it a version."""

    name: str
    fingerprint: str
    kind: str
    shape: list[int] | None
    schema: list[dict[str, str]]
    profile: dict[str, Any] | None
    source: str
    nbytes: int


def dead_processes(
    rows: Iterable[Any],
    host: str,
    is_alive: Callable[[int, int | None], bool],
    stale_before_ms: int,
) -> dict[str, int]:
    """``{id: last heartbeat}`` of the rows (``id, host, pid, pid_start, heartbeat``) whose
    process is gone. On this host the process table is the truth (a process busy in C code
    for minutes cannot beat, yet lives); elsewhere only a stale heartbeat can tell."""
    return {
        r.id: r.heartbeat
        for r in rows
        if (
            not is_alive(r.pid, r.pid_start)
            if r.host == host and r.pid is not None
            else r.heartbeat < stale_before_ms
        )
    }


class RecordStore(abc.ABC):
    """What a run's life writes and reads: its experiment, its row, params, tags, metrics and
    artifact links, the whole run back; and the registry and continuous-training reads
    around it (a pipeline's promote step judging what its steps logged). A backend may serve
    these without opening its whole store (a SQLite file: plain ``sqlite3``), so a process
    that only records runs (a pipeline re-run whose steps all come from the cache) starts in
    a fraction of the time."""

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment:
        """Raises NotFound when there is none."""

    @abc.abstractmethod
    def running_runs(self) -> Sequence[Any]:
        """The RUNNING runs as rows of ``id, heartbeat, host, pid, pid_start``."""

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[int] | None,
        filter: Node | None,
        order_by: Sequence[OrderItem],
        limit: int,
        offset: int,
        with_total: bool = True,
    ) -> RunPage:
        """A page of runs (info, params, latest metrics, tags) filtered and sorted in the
        database; no ``order_by`` means newest first."""

    def close(self) -> None:  # noqa: B027 - nothing to release unless connections are held
        """Release the connections held."""

    @abc.abstractmethod
    def get_or_create_experiment(self, name: str, now_ms: int) -> Experiment:
        """The experiment called ``name``, created if missing (race-free)."""

    @abc.abstractmethod
    def create_run(
        self, experiment_id: int, attrs: dict[str, Any], tags: dict[str, str] | None = None
    ) -> str:
        """Insert a RUNNING run with the given attributes and tags, in one transaction;
        returns its id."""

    @abc.abstractmethod
    def update_run(self, run_id: str, attrs: dict[str, Any]) -> None:
        """Set run attributes (status, end_time, error fields, source...)."""

    @abc.abstractmethod
    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        """Mark runs as alive at ``now_ms``."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The whole run: info, params, latest metrics, tags, datasets, models, artifacts."""

    @abc.abstractmethod
    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Upsert parameters (already converted to text by the Client)."""

    @abc.abstractmethod
    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Upsert tags."""

    @abc.abstractmethod
    def log_metric_rows(self, rows: Sequence[MetricRow]) -> None:
        """Append metric values (history) and update each key's latest value, in one
        transaction; rows may belong to several runs."""

    @abc.abstractmethod
    def latest_run_with_tag(
        self, key: str, value: str, status: RunStatus | None = RunStatus.FINISHED
    ) -> str | None:
        """The newest run with this tag value (and status)."""

    @abc.abstractmethod
    def record_artifacts(self, run_id: str, artifacts: Sequence[Artifact]) -> None:
        """Record (or replace) artifact paths of a run, in one transaction."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """A run's artifacts, by path."""

    @abc.abstractmethod
    def latest_model_sha(self, name: str) -> str | None:
        """The sha256 of the newest model logged under ``name``."""

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel:
        """Raises NotFound when there is none."""

    @abc.abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """Raises NotFound when there is none."""

    @abc.abstractmethod
    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """The versions of ``name``, oldest first (empty when the name has none)."""

    @abc.abstractmethod
    def latest_in_stage(self, name: str, stage: str) -> ModelVersion | None:
        """The newest version of ``name`` in ``stage``."""

    @abc.abstractmethod
    def get_alias(self, name: str, alias: str) -> ModelAlias:
        """Raises NotFound when there is none."""

    @abc.abstractmethod
    def gate_reports(self, name: str, version: int | None = None) -> list[GateReport]:
        """The gate reports of ``name`` (of one version, when given), newest first."""

    @abc.abstractmethod
    def get_ct_policy(self, name: str) -> StoredPolicy | None:
        """The model's continuous-training policy, if it has one."""

    @abc.abstractmethod
    def loop_of_run(self, pipeline_run_id: str) -> CtLoop | None:
        """The loop whose retraining pipeline run this is."""


class RunStore(RecordStore):
    """Experiments, runs and what is logged on them: params, metrics, tags."""

    @abc.abstractmethod
    def list_experiments(self) -> list[Experiment]:
        """All experiments with their run counts, newest first."""

    @abc.abstractmethod
    def reconcile_dead_runs(
        self,
        stale_before_ms: int,
        host: str,
        is_alive: Callable[[int, int | None], bool],
        now_ms: int,
    ) -> list[str]:
        """End as KILLED the RUNNING runs whose heartbeat is older than ``stale_before_ms``
        or whose process on ``host`` is gone (``is_alive(pid, pid_start) -> bool``)."""

    @abc.abstractmethod
    def resolve_run_id(self, prefix: str) -> str:
        """The full id of the run whose id starts with ``prefix`` (unique), else NotFound."""

    @abc.abstractmethod
    def delete_runs(self, run_ids: Sequence[str]) -> int:
        """Remove runs and everything attached to them; returns how many."""

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """All values of one metric in step, then time order."""

    @abc.abstractmethod
    def metric_arrays(self, run_id: str, key: str) -> tuple[Any, Any, Any]:
        """A metric's whole history as (steps, values, timestamps) numpy arrays in step order."""

    @abc.abstractmethod
    def metric_keys(self, run_id: str) -> list[str]:
        """The metric keys a run has."""

    @abc.abstractmethod
    def change_token(self) -> str:
        """A short string that changes whenever a run is created, ends or changes status."""


class DatasetStore(abc.ABC):
    """Versions of named datasets and which runs read or wrote them."""

    @abc.abstractmethod
    def log_datasets(
        self, run_id: str, items: Iterable[tuple[NewDataset, str]], now_ms: int
    ) -> list[DatasetVersion]:
        """Get or create a version per ``(dataset, role)`` and link it to the run; a new
        version writes a ``dataset.version`` event in the same transaction."""

    @abc.abstractmethod
    def find_dataset(self, name: str, fingerprint: str) -> DatasetVersion | None:
        """The version of ``name`` with this fingerprint, if the store has it."""

    @abc.abstractmethod
    def list_datasets(self, name: str | None = None) -> list[DatasetVersion]:
        """Dataset versions, newest first."""

    @abc.abstractmethod
    def get_dataset(self, ref: str) -> DatasetVersion:
        """A version by id, id prefix, fingerprint or ``name[@version]``."""

    @abc.abstractmethod
    def dataset_runs(self, dataset_id: str) -> list[tuple[str, str]]:
        """``(run_id, role)`` pairs of the runs that read or wrote a dataset version."""


class ArtifactIndex(abc.ABC):
    """Which blobs (by sha256) belong to which run, as files or as logged models. The bytes
    themselves are in the artifact store (``store/artifacts.py``)."""

    @abc.abstractmethod
    def referenced_blobs(self) -> set[str]:
        """Every sha256 some artifact or model row still points to."""

    @abc.abstractmethod
    def record_model(self, model: LoggedModel) -> None:
        """Record a model logged by a run."""

    @abc.abstractmethod
    def get_logged_model(self, model_id: str) -> LoggedModel:
        """A logged model by id (or unique id prefix)."""


class EventStore(abc.ABC):
    """An append-only log of state changes that features react to (triggers, panels)."""

    @abc.abstractmethod
    def record_event(self, type_: str, key: str, payload: Mapping[str, Any], now_ms: int) -> Event:
        """Append an event; returns it with its id."""

    @abc.abstractmethod
    def events_after(
        self, cursor: int, type_: str | None = None, key: str | None = None, limit: int = 1000
    ) -> list[Event]:
        """Events with an id above ``cursor``, oldest first."""

    @abc.abstractmethod
    def last_events(self, type_: str, key: str, limit: int) -> list[Event]:
        """The newest ``limit`` events of a type and key, oldest first."""

    @abc.abstractmethod
    def last_event_id(self) -> int:
        """The newest event's id (0 without events)."""


class ScheduleStore(abc.ABC):
    """Schedules of pipelines, claimed by compare-and-set so that a firing happens once."""

    @abc.abstractmethod
    def create_schedule(self, row: Mapping[str, Any]) -> Schedule:
        """Insert a schedule (its id generated); returns it."""

    @abc.abstractmethod
    def get_schedule(self, schedule_id: str) -> Schedule:
        """A schedule by id or unique id prefix."""

    @abc.abstractmethod
    def list_schedules(self, pipeline_path: str | None = None) -> list[Schedule]:
        """Schedules, oldest first, optionally of one pipeline file."""

    @abc.abstractmethod
    def update_schedule(self, schedule_id: str, values: Mapping[str, Any]) -> Schedule:
        """Change a schedule's fields; returns it."""

    @abc.abstractmethod
    def delete_schedule(self, schedule_id: str) -> str:
        """Remove a schedule (by id or unique prefix); returns its full id."""

    @abc.abstractmethod
    def claim_schedule(
        self, schedule_id: str, column: str, seen: Any, values: Mapping[str, Any]
    ) -> bool:
        """Atomic compare-and-set on an enabled schedule; True for the one winner."""


class LeaseStore(abc.ABC):
    """Expiring named leases: one holder at a time, whatever the number of processes."""

    @abc.abstractmethod
    def acquire_lease(self, name: str, holder: str, ttl_ms: int, now_ms: int) -> bool:
        """Take or renew an expiring named lease; False while someone else holds it."""

    @abc.abstractmethod
    def release_lease(self, name: str, holder: str) -> None:
        """Give a lease up (only its holder can)."""

    @abc.abstractmethod
    def lease_holder(self, name: str, now_ms: int) -> str | None:
        """Who holds a lease now, if anyone."""


class RegistryStore(abc.ABC):
    """Registered models, their numbered versions, stages and aliases, and the audit record.

    Every write is one transaction that appends an audit entry (``actor``, ``reason``) and,
    when a version, stage or alias changes, its ``model.version`` / ``model.alias`` event.
    Writes are serialised, so versions are numbered 1, 2, 3... per name with no gap or
    duplicate and the audit entries form one hash chain (see ``AuditEntry``). Names, stages
    and aliases arrive validated and in canonical spelling.
    """

    @abc.abstractmethod
    def create_registered_model(
        self,
        name: str,
        description: str,
        tags: Mapping[str, str],
        required_approvals: int,
        actor: str,
        now_ms: int,
    ) -> RegisteredModel:
        """Create a registered model; Conflict when the name exists."""

    @abc.abstractmethod
    def list_registered_models(self) -> list[RegisteredModel]:
        """All registered models, by name."""

    @abc.abstractmethod
    def create_model_version(
        self,
        name: str,
        model: LoggedModel,
        description: str,
        tags: Mapping[str, str],
        actor: str,
        now_ms: int,
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name`` (stage None), creating the
        registered model when missing; ``tags`` are merged into the registered model's."""

    @abc.abstractmethod
    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        archive_existing: bool,
        actor: str,
        reason: str | None,
        now_ms: int,
        report_sha256: str | None = None,
        forced: str | None = None,
    ) -> ModelVersion:
        """Move a version to ``stage``; into Production, the versions already there are
        archived unless ``archive_existing`` is False. Returns the moved version.

        ``report_sha256``: the gate report the move relied on, written on its audit entry.
        ``forced``: the reason the move overrides a failed gate or missing approvals; a
        ``force`` entry carrying it is appended before the move's own."""

    @abc.abstractmethod
    def set_alias(
        self, name: str, alias: str, version: int, actor: str, reason: str | None, now_ms: int
    ) -> ModelAlias:
        """Point ``alias`` at ``version`` (created or moved)."""

    @abc.abstractmethod
    def delete_alias(
        self, name: str, alias: str, actor: str, reason: str | None, now_ms: int
    ) -> None:
        """Remove an alias; NotFound when there is none."""

    @abc.abstractmethod
    def list_aliases(self, name: str) -> list[ModelAlias]:
        """The aliases of ``name``, by alias."""

    @abc.abstractmethod
    def audit_entries(self, name: str | None = None) -> list[AuditEntry]:
        """Audit entries (of one model, when given) in the order they were written."""

    @abc.abstractmethod
    def audit_heads(self) -> dict[str, int]:
        """The ``seq`` of each model's newest audit entry: it moves with every decision
        about the model (a cheap thing for a panel to poll)."""

    @abc.abstractmethod
    def verify_audit(self) -> AuditBreak | None:
        """The first entry whose hash does not match its fields or whose ``seq`` or
        ``prev_hash`` breaks the chain (a row edited or removed), or entries missing after
        the last one (the chain's head, rewritten with each append, points past it); else
        None."""

    @abc.abstractmethod
    def record_integrity_failure(
        self, name: str, version: int, actor: str, detail: str, now_ms: int
    ) -> AuditEntry:
        """Append an ``integrity_failure`` entry: a version's bytes did not match its sha256
        when it was about to be loaded (``detail`` says how)."""


@dataclass
class PredictionBatch:
    """Recorded predictions of one model server, encoded (an Arrow IPC stream)."""

    server_id: str
    name: str
    first_at: int
    last_at: int
    rows: int
    data: bytes


class ServingStore(abc.ABC):
    """Model servers' records, their recorded predictions and the labels that follow."""

    @abc.abstractmethod
    def create_server(self, server: ModelServer, pid_start: int | None) -> ModelServer:
        """Insert a server record (its ``model.server`` event in the same transaction)."""

    @abc.abstractmethod
    def update_server(
        self, server_id: str, values: Mapping[str, Any], now_ms: int, event: bool
    ) -> ModelServer:
        """Change a live (STARTING or RUNNING) server's record and beat its heartbeat; an
        ended record is returned unchanged. ``event``: the change is one others react to
        (a status or version change), written with a ``model.server`` event."""

    @abc.abstractmethod
    def request_server_stop(self, server_id: str) -> ModelServer:
        """Flag a server to stop (it sees the flag at its next heartbeat)."""

    @abc.abstractmethod
    def get_server(self, server_id: str) -> ModelServer:
        """A server by id or unique id prefix; NotFound when there is none."""

    @abc.abstractmethod
    def list_servers(self, name: str | None, active_only: bool) -> list[ModelServer]:
        """Servers (of one model, when given; only STARTING and RUNNING ones, when asked),
        newest first."""

    @abc.abstractmethod
    def reconcile_dead_servers(
        self,
        stale_before_ms: int,
        host: str,
        is_alive: Callable[[int, int | None], bool],
        now_ms: int,
    ) -> list[str]:
        """Mark live servers whose process died as KILLED (by pid on this host, by a stale
        heartbeat elsewhere); the ids marked."""

    @abc.abstractmethod
    def append_predictions(self, batches: Sequence[PredictionBatch]) -> None:
        """Store batches of recorded predictions in one transaction."""

    @abc.abstractmethod
    def prediction_batches(
        self,
        name: str,
        since_ms: int | None,
        until_ms: int | None,
        server_id: str | None,
    ) -> list[bytes]:
        """The encoded batches of ``name`` (of one server, when given) that may hold rows
        recorded in ``[since_ms, until_ms)``, oldest first (the caller filters rows)."""

    @abc.abstractmethod
    def log_labels(self, rows: Sequence[tuple[str, int, str, Any]], now_ms: int) -> int:
        """Upsert ``(request_id, row, name, label)`` rows; how many were written."""

    @abc.abstractmethod
    def labels(self, name: str, since_ms: int | None = None) -> list[tuple[str, int, Any, int]]:
        """``(request_id, row, label, at)`` of ``name``'s labels (given since a time)."""


@dataclass(frozen=True)
class StoredReference:
    """A logged model's monitoring reference as stored: its figures and encoded data."""

    logged_model_id: str
    rows: int
    source: str
    created_at: int
    created_by: str
    data: bytes


class MonitoringStore(abc.ABC):
    """Models' monitoring references and their monitoring configurations."""

    @abc.abstractmethod
    def put_reference(self, reference: StoredReference) -> None:
        """Store a logged model's reference, replacing the one it had."""

    @abc.abstractmethod
    def get_reference(self, logged_model_id: str) -> StoredReference | None:
        """A logged model's reference, or None."""

    @abc.abstractmethod
    def references_of(self, logged_model_ids: Sequence[str]) -> dict[str, StoredReference]:
        """The references of those logged models that have one, without their data."""

    @abc.abstractmethod
    def put_monitor_config(
        self, name: str, config: Mapping[str, Any], actor: str, now_ms: int
    ) -> None:
        """Set ``name``'s monitoring configuration."""

    @abc.abstractmethod
    def get_monitor_config(self, name: str) -> dict[str, Any] | None:
        """``name``'s monitoring configuration, or None when it has none."""

    @abc.abstractmethod
    def configured_monitors(self) -> list[str]:
        """The names of the models with a monitoring configuration."""

    @abc.abstractmethod
    def alert_states(self, name: str | None = None) -> list[AlertState]:
        """Where each monitoring rule stands (of one model, when given)."""

    @abc.abstractmethod
    def save_alert_state(
        self, state: AlertState, payload: Mapping[str, Any], now_ms: int
    ) -> AlertState | None:
        """Store a rule's state after evaluating the window ending at ``state.window_end``,
        with a ``monitor.alert`` event (``payload``) in the same transaction when its state
        changed. None, and nothing written, when that window (or a later one) was already
        evaluated: two evaluators never announce one change twice."""

    @abc.abstractmethod
    def record_alert_delivery(self, name: str, rule: str, delivery: Mapping[str, Any]) -> None:
        """Keep the outcome of the last webhook delivery of a rule's change."""


@dataclass
class StoredPolicy:
    """A model's continuous-training policy as stored, with where its triggers stand."""

    name: str
    config: dict[str, Any]
    event_cursor: int
    next_run_time: int | None
    updated_at: int
    updated_by: str


class ContinuousTrainingStore(abc.ABC):
    """Continuous-training policies, loops and rollouts. Every change of a loop or a rollout
    writes its ``ct.step`` (and a rollout's ``model.rollout``) event in its transaction; a
    policy change, a loop's decision and a rollout's start and end are on the registry's
    audit."""

    @abc.abstractmethod
    def set_ct_policy(
        self,
        name: str,
        config: Mapping[str, Any] | None,
        cursor: int,
        next_run_time: int | None,
        actor: str,
        reason: str | None,
        now_ms: int,
    ) -> StoredPolicy | None:
        """Store (or, with None, remove) ``name``'s policy, audited as ``set_ct``; a new or
        changed policy's triggers see only events after ``cursor``."""

    @abc.abstractmethod
    def list_ct_policies(self) -> list[StoredPolicy]: ...

    @abc.abstractmethod
    def claim_ct_policy(self, name: str, column: str, seen: Any, value: Any) -> bool:
        """Compare-and-set ``event_cursor`` or ``next_run_time``: True for the one caller
        that moved it."""

    @abc.abstractmethod
    def create_loop(self, loop: CtLoop, step: Mapping[str, Any], now_ms: int) -> CtLoop:
        """Insert a loop with its first ``ct.step`` event."""

    @abc.abstractmethod
    def update_loop(
        self,
        loop_id: str,
        states: Sequence[str],
        values: Mapping[str, Any],
        step: Mapping[str, Any] | None,
        audit: Mapping[str, Any] | None,
        now_ms: int,
    ) -> CtLoop | None:
        """Change a loop that is in one of ``states`` (compare-and-set; None when it was
        not), with its ``ct.step`` event and, when given, an audit entry (action, actor,
        version, reason)."""

    @abc.abstractmethod
    def get_loop(self, loop_id: str) -> CtLoop:
        """A loop by id or unique prefix; NotFound otherwise."""

    @abc.abstractmethod
    def list_loops(
        self, name: str | None, limit: int, since: int | None = None, active: bool = False
    ) -> list[CtLoop]:
        """Loops, newest first (of one model; started at or after ``since``; active only)."""

    @abc.abstractmethod
    def start_rollout(self, rollout: Rollout, step: Mapping[str, Any]) -> Rollout:
        """Start a rollout (Conflict while another of the model is active), audited."""

    @abc.abstractmethod
    def end_rollout(
        self,
        rollout_id: str,
        state: str,
        reason: str,
        actor: str,
        stats: Mapping[str, Any] | None,
        step: Mapping[str, Any],
        now_ms: int,
    ) -> Rollout | None:
        """End an active rollout (None when it had ended), audited."""

    @abc.abstractmethod
    def save_rollout_stats(self, rollout_id: str, stats: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def active_rollout(self, name: str) -> Rollout | None: ...

    @abc.abstractmethod
    def list_rollouts(self, name: str, limit: int) -> list[Rollout]:
        """A model's rollouts, newest first."""

    @abc.abstractmethod
    def events_of(self, types: Sequence[str], key: str, since: int, limit: int) -> list[Event]:
        """Events of any of ``types`` about ``key`` created at or after ``since`` (ms),
        oldest first: what a timeline is drawn from."""


class Store(
    RunStore,
    DatasetStore,
    ArtifactIndex,
    EventStore,
    ScheduleStore,
    LeaseStore,
    RegistryStore,
    ServingStore,
    MonitoringStore,
    ContinuousTrainingStore,
):
    """A whole backend: every domain's interface, plus the connection's lifetime."""

    url: str

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections (the store may not be used afterwards)."""

    @abc.abstractmethod
    def update_registered_model(
        self, name: str, changes: Mapping[str, Any], actor: str, reason: str | None, now_ms: int
    ) -> RegisteredModel:
        """Change some of a registered model's fields (description, tags,
        required_approvals, gates, intended_use, limitations); a change of ``gates`` is
        audited as ``set_gates``, the others as one ``update_model`` entry."""

    @abc.abstractmethod
    def approve_version(
        self, name: str, version: int, actor: str, reason: str | None, now_ms: int
    ) -> ModelApproval:
        """Record ``actor``'s approval; Conflict when ``actor`` registered the version or
        has already approved it."""

    @abc.abstractmethod
    def list_approvals(self, name: str, version: int | None = None) -> list[ModelApproval]:
        """The approvals of ``name`` (of one version, when given), oldest first."""

    @abc.abstractmethod
    def save_gate_report(self, report: GateReport) -> GateReport:
        """Store a gate report with its version and append its ``validate`` entry (which
        cites the report's sha256); a report already stored is returned as it is."""

    @abc.abstractmethod
    def get_gate_report(self, sha256: str) -> GateReport:
        """A gate report by its sha256; NotFound when there is none."""

    @abc.abstractmethod
    def delete_version(
        self, name: str, version: int, actor: str, reason: str | None, now_ms: int
    ) -> None:
        """Delete a version: hidden from every read, its number never reused, its audit
        entries and reports kept. Conflict while it is in Production or an alias points at
        it; NotFound when there is none."""
