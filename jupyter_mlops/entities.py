"""Plain data objects returned by the Client; mirrored by the lab extension's wire types."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

# Ids of runs, schedules, dataset versions and logged models: 32 lowercase hex digits (a uuid4).
ID_RE = re.compile(r"[0-9a-f]{32}")
# An id or a unique prefix of one, as URL routes and the CLI accept it.
ID_PREFIX_PATTERN = r"[0-9a-fA-F]{1,32}"

# Event types (DESIGN.md, "Events") are written in the same transaction as the change they
# record; a feature that adds a change others react to adds its type here.
DATASET_VERSION_EVENT = "dataset.version"
MODEL_VERSION_EVENT = "model.version"  # a version registered (key: the model's name)
MODEL_ALIAS_EVENT = "model.alias"  # an alias or a stage moved (key: the model's name)
MODEL_SERVER_EVENT = "model.server"  # a model server started, switched or ended (key: name)
MONITOR_ALERT_EVENT = "monitor.alert"  # a monitoring rule changed state (key: the model's name)
# A step of a continuous-training loop, or a trigger it skipped (key: the model's name).
CT_STEP_EVENT = "ct.step"
# A shadow or canary rollout started or ended (key: the model's name); servers follow it.
MODEL_ROLLOUT_EVENT = "model.rollout"
# A monitoring rule's states, from calm to loud.
ALERT_STATES = ("ok", "warn", "alert")

# The stages of a model version, in their canonical spelling (MLflow's).
STAGES = ("None", "Staging", "Production", "Archived")
# The previous hash of the first audit entry.
AUDIT_GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """One spelling of a JSON value (sorted keys, no spaces), so that equal values hash alike."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_sha256(value: Any) -> str:
    """The sha256 of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def is_id(text: object) -> bool:
    """Whether ``text`` is a whole id (not a prefix)."""
    return isinstance(text, str) and ID_RE.fullmatch(text) is not None


class RunStatus(str, Enum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class ServerStatus(str, Enum):
    """A model server's state. STARTING until its model is loaded and its port answers;
    STOPPED when it ended as asked (or idle), FAILED when it could not start, KILLED when its
    process died without saying so."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    KILLED = "KILLED"


ACTIVE_SERVER_STATES = (ServerStatus.STARTING.value, ServerStatus.RUNNING.value)


def jsonable(value: Any) -> Any:
    """Floats that JSON cannot carry (NaN, ±inf) become strings, as MLflow's REST API does."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class _Entity:
    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[call-overload]


@dataclass
class Experiment(_Entity):
    id: int
    name: str
    created_at: int
    description: str = ""
    run_count: int = 0


@dataclass
class Metric(_Entity):
    key: str
    value: float
    step: int
    timestamp: int


@dataclass
class DatasetVersion(_Entity):
    """One version of a named dataset: same name and fingerprint is the same version."""

    id: str
    name: str
    version: int
    fingerprint: str
    kind: str  # dataframe | series | ndarray | file | dir
    shape: list[int] | None
    schema: list[dict[str, str]]
    profile: dict[str, Any] | None
    source: str  # variable name or file path it came from
    nbytes: int
    created_at: int
    role: str | None = None  # input | output, when seen through a run


@dataclass
class Artifact(_Entity):
    path: str
    sha256: str
    size: int
    kind: str = "file"
    created_at: int = 0


@dataclass
class LoggedModel(_Entity):
    id: str
    run_id: str
    name: str
    flavor: str
    model_class: str
    artifact_path: str
    sha256: str
    signature: dict[str, Any] | None
    params: dict[str, Any]
    created_at: int


@dataclass
class RunInfo(_Entity):
    id: str
    experiment_id: int
    experiment_name: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    user: str
    parent_run_id: str | None = None
    notebook_path: str | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    source: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    python_version: str | None = None
    host: str | None = None
    pid: int | None = None
    error_name: str | None = None
    error_value: str | None = None
    traceback: str | None = None

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time


@dataclass
class Run(_Entity):
    info: RunInfo
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[DatasetVersion] = field(default_factory=list)
    outputs: list[DatasetVersion] = field(default_factory=list)
    models: list[LoggedModel] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.info.id

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["info"]["duration_ms"] = self.info.duration_ms
        return out


@dataclass
class Event(_Entity):
    """A state change other features may react to: ``type`` (e.g. ``dataset.version``), the
    ``key`` it concerns (a dataset's name) and details in ``payload``."""

    id: int
    type: str
    key: str
    payload: dict[str, Any]
    created_at: int


@dataclass
class Schedule(_Entity):
    """When a pipeline runs by itself: on a cron expression, or on events of a type and key.

    ``params`` are the pipeline's parameters; ``options`` the other run options (executor,
    workers...), as the pipelines package declares them.
    """

    id: str
    pipeline_path: str
    pipeline: str
    kind: str  # cron | event
    cron: str | None
    timezone: str | None
    event_type: str | None
    event_key: str | None
    params: dict[str, Any]
    options: dict[str, Any]
    enabled: bool
    missed: str  # skip | once | all
    next_run_time: int | None
    event_cursor: int
    last_run_time: int | None
    last_run_id: str | None
    created_at: int
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        """The schedule as the REST API and the CLI show it."""
        event = {"type": self.event_type, "key": self.event_key} if self.kind == "event" else None
        return jsonable(
            {
                "id": self.id,
                "path": self.pipeline_path,
                "pipeline": self.pipeline,
                "kind": self.kind,
                "cron": self.cron,
                "timezone": self.timezone,
                "event": event,
                "params": self.params,
                "options": self.options,
                "enabled": self.enabled,
                "missed": self.missed,
                "next_run_time": self.next_run_time if self.enabled else None,
                "last_run_time": self.last_run_time,
                "last_run_id": self.last_run_id,
                "created_at": self.created_at,
                "created_by": self.created_by,
            }
        )


@dataclass
class RegisteredModel(_Entity):
    """A name under which versions of a model are registered."""

    name: str
    description: str
    tags: dict[str, str]
    created_at: int
    updated_at: int
    required_approvals: int = 0
    # The validation gates' configuration (see ``client/gates.py``); None: no gate.
    gates: dict[str, Any] | None = None
    # The model card's fields the user writes; the rest of the card comes from the lineage.
    intended_use: str = ""
    limitations: str = ""


@dataclass
class ModelVersion(_Entity):
    """Version ``version`` (1, 2, 3... per name) of a registered model: a logged model."""

    name: str
    version: int
    logged_model_id: str
    run_id: str
    stage: str  # one of STAGES
    sha256: str
    description: str
    created_at: int
    created_by: str


@dataclass
class ModelAlias(_Entity):
    """A free name (``champion``) pointing at one version of a registered model."""

    name: str
    alias: str
    version: int
    updated_at: int
    updated_by: str


@dataclass
class AuditEntry(_Entity):
    """One decision of the registry, on an append-only record.

    Entries form a hash chain: ``hash`` is the sha256 of ``prev_hash`` (the previous entry's
    ``hash``) and of the canonical JSON of the other fields, so an entry edited or removed
    behind the database's back no longer matches its hash or its successor's ``prev_hash``.
    """

    seq: int
    at: int
    actor: str
    # create_model | update_model | set_gates | register | stage | force | set_alias |
    # delete_alias | approve | validate | integrity_failure
    action: str
    name: str
    version: int | None
    alias: str | None  # the alias a set_alias / delete_alias entry moved
    from_value: str | None
    to_value: str | None
    reason: str | None
    report_sha256: str | None
    prev_hash: str
    hash: str

    def expected_hash(self) -> str:
        """The hash this entry must carry, given its fields and ``prev_hash``."""
        fields = {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "from_value": self.from_value,
            "to_value": self.to_value,
            "reason": self.reason,
            "report_sha256": self.report_sha256,
        }
        return hashlib.sha256(f"{self.prev_hash}\n{canonical_json(fields)}".encode()).hexdigest()


@dataclass
class ModelApproval(_Entity):
    """One person's approval of a version for Production. An approval by the person who
    registered the version is refused: it would not count."""

    name: str
    version: int
    actor: str
    at: int
    reason: str | None


@dataclass
class GateReport(_Entity):
    """The outcome of a version's validation gates, stored with the version.

    ``sha256`` is the hash of the canonical JSON of ``report``, the figure an audit entry
    cites. A report is reused for a stage move when it was made for the same model bytes
    (``model_sha256``) and the same gate configuration (``config_sha256``).
    """

    sha256: str
    name: str
    version: int
    model_sha256: str
    config_sha256: str
    passed: bool
    created_at: int
    created_by: str
    report: dict[str, Any]

    @property
    def gates(self) -> list[dict[str, Any]]:
        return list(self.report.get("gates", []))

    @property
    def failed(self) -> list[str]:
        return [g["gate"] for g in self.gates if not g.get("passed")]


@dataclass
class AuditBreak(_Entity):
    """Where ``verify`` found the audit's hash chain broken: the first entry (``seq``) that
    was edited or follows a removed one, or the missing tail, with a sentence saying which."""

    seq: int
    detail: str
    entry: AuditEntry | None


@dataclass
class ModelServer(_Entity):
    """A model server process: what it serves (``ref`` is what it follows: ``@champion``,
    ``/Production`` or ``/3``; ``version`` the version answering now), where, who started
    it, and how it is doing (``stats``: requests, errors, rate, p95 latency, dropped
    records, refreshed with each heartbeat)."""

    id: str
    name: str
    ref: str
    version: int | None
    url: str
    host: str
    pid: int | None
    started_by: str
    status: str  # one of ServerStatus
    started_at: int
    heartbeat: int
    ended_at: int | None = None
    reason: str = ""
    stop_requested: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        """The ``models:/`` URI of what this server follows."""
        return f"models:/{self.name}{self.ref}"


@dataclass
class AlertState(_Entity):
    """Where one monitoring rule of a model stands (monitoring/alerts.py decides it)."""

    name: str  # the registered model
    rule: str
    state: str  # one of ALERT_STATES
    since: int  # ms: when it entered this state
    updated_at: int
    value: float | None  # the rule's value in the last window evaluated
    window_end: int | None  # ms: the end of the last window evaluated
    levels: list[str]  # the recent windows' levels, oldest first (what hysteresis reads)
    version: int | None  # the version that served most of the last window
    delivery: dict[str, Any] | None = None  # the last webhook delivery: at, status, error


# A continuous-training loop's states: training (its pipeline runs), approval (its candidate
# waits for approvals), rollout (shadow or canary), and the ends.
LOOP_ACTIVE_STATES = ("training", "approval", "rollout")
LOOP_STATES = (*LOOP_ACTIVE_STATES, "done", "failed", "dry_run")
ROLLOUT_STATES = ("active", "promoted", "rolled_back", "cancelled")


@dataclass
class CtLoop(_Entity):
    """One continuous-training loop of a model: trigger → pipeline → candidates → decision →
    rollout. Its steps are ``ct.step`` events; this row is where it stands."""

    id: str
    name: str
    state: str  # one of LOOP_STATES
    trigger: dict[str, Any]  # kind (alert, schedule, manual), rule, event id, version, columns
    pipeline_path: str
    pipeline_run_id: str | None
    params: dict[str, Any]
    dry_run: bool
    created_at: int
    updated_at: int
    ended_at: int | None = None
    outcome: str | None = None  # promoted, kept, rolled_back, failed, would_retrain
    candidate: int | None = None  # the version chosen
    champion: int | None = None  # the version it was compared with
    reason: str = ""
    joined: int = 0  # later triggers that joined it

    @property
    def active(self) -> bool:
        return self.state in LOOP_ACTIVE_STATES


@dataclass
class Rollout(_Entity):
    """A candidate on trial beside the champion: shadow (a copy of the traffic, its answers
    recorded, never returned) or canary (a share of the requests). Ends promoted or rolled
    back, by the criteria it started with."""

    id: str
    name: str
    candidate: int
    champion: int | None
    mode: str  # shadow or canary
    share: float  # canary: the share of requests the candidate answers
    target: str  # the stage, or @alias, the candidate takes when it is promoted
    criteria: dict[str, Any]  # the rollout policy it is judged by
    state: str  # one of ROLLOUT_STATES
    started_at: int
    started_by: str
    loop_id: str | None = None
    ended_at: int | None = None
    reason: str = ""
    stats: dict[str, Any] = field(default_factory=dict)  # the last comparison
