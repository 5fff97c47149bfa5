"""The relational schema, shared by SQLite and PostgreSQL (nothing dialect-specific here).

Times are integer milliseconds since the epoch. Latest metric values that SQLite cannot keep (NaN
is stored as NULL there) carry an ``is_nan`` flag so that NaN round-trips on every backend.
Changing this file means writing a migration in ``migrations/versions``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(256), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger),
    sa.Column("heartbeat", sa.BigInteger, nullable=False),
    sa.Column("user", sa.String(256), nullable=False),
    sa.Column("parent_run_id", sa.String(32)),
    sa.Column("notebook_path", sa.Text),
    sa.Column("cell_id", sa.String(128)),
    sa.Column("execution_count", sa.Integer),
    sa.Column("source", sa.Text),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_dirty", sa.Boolean),
    sa.Column("python_version", sa.String(32)),
    sa.Column("host", sa.String(256)),
    sa.Column("pid", sa.Integer),
    sa.Column("pid_start", sa.BigInteger),
    sa.Column("environment", sa.JSON),
    sa.Column("error_name", sa.String(256)),
    sa.Column("error_value", sa.Text),
    sa.Column("traceback", sa.Text),
    sa.Index(None, "experiment_id", "start_time"),
    sa.Index(None, "status"),
    sa.Index(None, "parent_run_id"),  # a pipeline run's steps
    # The default listing is newest first with the id as tiebreaker: this index serves it
    # without a sort, also for a deep page.
    sa.Index("ix_runs_start_time_desc_id", sa.desc("start_time"), "id"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    # The numeric reading of the value, so that `params.n > 10` compares numbers, not text.
    sa.Column("value_num", sa.Float),
    # Filters select run ids by key and value: covering indexes answer them from the index
    # alone (7x faster at 100,000 runs than looking up each row).
    sa.Index(None, "key", "value_num", "run_id"),
    sa.Index(None, "key", "value", "run_id"),
)

# Metric history is stored in chunks: one row per (run, key) per write, holding the steps,
# values and timestamps of that write as little-endian int64/float64/int64 arrays. A batch of
# 1,000 values is one row, not 1,000 rows and 1,000 index entries: writes run at millions of
# values per second, and a history of a million points reads back as three arrays. NaN is
# kept as is inside the arrays. Filters and sorting use ``latest_metrics``, never chunks.
metric_chunks = sa.Table(
    "metric_chunks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("key", sa.String(256), nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("min_step", sa.BigInteger, nullable=False),
    sa.Column("max_step", sa.BigInteger, nullable=False),
    sa.Column("step_data", sa.LargeBinary, nullable=False),
    sa.Column("value_data", sa.LargeBinary, nullable=False),
    sa.Column("time_data", sa.LargeBinary, nullable=False),
    sa.Index(None, "run_id", "key", "id"),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Float),
    sa.Column("is_nan", sa.Boolean, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Index(None, "key", "value", "is_nan", "run_id"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(256), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Index(None, "key", "value", "run_id"),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("shape", sa.JSON),
    sa.Column("schema", sa.JSON),
    sa.Column("profile", sa.JSON),
    sa.Column("source", sa.Text, nullable=False, server_default=""),
    sa.Column("nbytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("name", "fingerprint"),
    sa.UniqueConstraint("name", "version"),
    sa.Index(None, "fingerprint"),
)

run_datasets = sa.Table(
    "run_datasets",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("dataset_id", sa.String(32), sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),
    sa.Index(None, "dataset_id"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False, server_default="file"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index(None, "sha256"),
)

logged_models = sa.Table(
    "logged_models",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("flavor", sa.String(64), nullable=False),
    sa.Column("model_class", sa.String(256), nullable=False),
    sa.Column("artifact_path", sa.String(1024), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("signature", sa.JSON),
    sa.Column("params", sa.JSON),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index(None, "run_id"),
)

# Something happened that a rule may act on: a new dataset version, later a monitoring alert.
# ``id`` orders them; a schedule keeps the last id it has seen (``event_cursor``).
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("key", sa.String(256), nullable=False),
    sa.Column("payload", sa.JSON),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index(None, "type", "key", "id"),
)

# When a pipeline runs by itself: on a cron expression, or on an event (``kind``).
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("pipeline_path", sa.Text, nullable=False),
    sa.Column("pipeline", sa.String(256), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("cron", sa.String(256)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("event_type", sa.String(64)),
    sa.Column("event_key", sa.String(256)),
    sa.Column("params", sa.JSON),
    # The other run options (executor, workers, ...), as the pipelines package declares them.
    sa.Column("options", sa.JSON),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("missed", sa.String(8), nullable=False),
    sa.Column("next_run_time", sa.BigInteger),
    sa.Column("event_cursor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_run_time", sa.BigInteger),
    sa.Column("last_run_id", sa.String(32)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False, server_default=""),
)

# A named, expiring lock held by one process at a time (the scheduler's leadership).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(256), nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)

# The model registry: names, their numbered versions (each a logged model), aliases, and an
# append-only audit of every decision. The database refuses UPDATE and DELETE on
# ``registry_audit`` (triggers, created by the migration and by ``registry.create_guards``).
registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("tags", sa.JSON),
    sa.Column("required_approvals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("gates", sa.JSON),
    sa.Column("intended_use", sa.Text, nullable=False, server_default=""),
    sa.Column("limitations", sa.Text, nullable=False, server_default=""),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", sa.String(256), sa.ForeignKey("registered_models.name"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("logged_model_id", sa.String(32), sa.ForeignKey("logged_models.id"), nullable=False),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    # A deleted version keeps its row (its number is never reused, its audit entries and
    # reports still name it) and is hidden from every read.
    sa.Column("deleted_at", sa.BigInteger),
    sa.Index(None, "name", "stage"),
    sa.Index(None, "logged_model_id"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("alias", sa.String(256), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
    sa.ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
)

# ``seq`` is given by the writer (max + 1 under the registry's write lock), not by the
# database, so that the chain has no gap a rolled-back insert would leave.
registry_audit = sa.Table(
    "registry_audit",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("alias", sa.String(256)),
    sa.Column("from_value", sa.Text),
    sa.Column("to_value", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("report_sha256", sa.String(64)),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index(None, "name", "seq"),
)

# The newest audit entry, rewritten with every append: an entry removed from the end of the
# chain behind the triggers' back leaves the head pointing past the last row.
registry_head = sa.Table(
    "registry_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

model_approvals = sa.Table(
    "model_approvals",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("actor", sa.String(256), primary_key=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text),
    sa.ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
)

gate_reports = sa.Table(
    "gate_reports",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("model_sha256", sa.String(64), nullable=False),
    sa.Column("config_sha256", sa.String(64), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
    sa.ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    sa.Index(None, "name", "version", "created_at"),
)

# A model server process (serving/): its record outlives it, so that who served what, where
# and until when stays known; ``heartbeat`` and ``pid`` tell a live one from a dead one.
model_servers = sa.Table(
    "model_servers",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("ref", sa.String(300), nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("host", sa.String(256), nullable=False),
    sa.Column("pid", sa.Integer),
    sa.Column("pid_start", sa.BigInteger),
    sa.Column("started_by", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("heartbeat", sa.BigInteger, nullable=False),
    sa.Column("ended_at", sa.BigInteger),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("stats", sa.JSON, nullable=False),
    sa.Index(None, "name", "status"),
)

# Recorded predictions, a batch per row: ``data`` is an Arrow IPC stream (request id, row,
# time, version, status, latency, one column per input, the outputs), so that monitoring reads
# a window back as arrays without parsing a row at a time.
prediction_batches = sa.Table(
    "prediction_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("server_id", sa.String(32), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("first_at", sa.BigInteger, nullable=False),
    sa.Column("last_at", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Index(None, "name", "last_at"),
)

# The true outcome of a recorded prediction (``row`` within its request), when it is known.
prediction_labels = sa.Table(
    "prediction_labels",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("row", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Index(None, "name", "at"),
)

# A logged model's monitoring reference (monitoring/reference.py): sketches of its training
# data and of its predictions on it, zlib-compressed JSON. Rebuilding one replaces it.
model_references = sa.Table(
    "model_references",
    metadata,
    sa.Column("logged_model_id", sa.String(32), primary_key=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# How a registered model is monitored (client/monitoring.py checks it), by model name.
monitor_configs = sa.Table(
    "monitor_configs",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
)

# Where each monitoring rule of a model stands; its changes are ``monitor.alert`` events.
monitor_alerts = sa.Table(
    "monitor_alerts",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("rule", sa.String(256), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("since", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("window_end", sa.BigInteger),
    sa.Column("levels", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("delivery", sa.JSON),
)

# A registered model's continuous-training policy (client/ct_config.py checks it), with the
# last event its triggers saw and the next time its schedule is due.
ct_policies = sa.Table(
    "ct_policies",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("event_cursor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("next_run_time", sa.BigInteger),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("updated_by", sa.String(256), nullable=False),
)

# One continuous-training loop; its steps are ``ct.step`` events.
ct_loops = sa.Table(
    "ct_loops",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("trigger", sa.JSON, nullable=False),
    sa.Column("pipeline_path", sa.Text, nullable=False),
    sa.Column("pipeline_run_id", sa.String(32)),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("ended_at", sa.BigInteger),
    sa.Column("outcome", sa.String(16)),
    sa.Column("candidate", sa.Integer),
    sa.Column("champion", sa.Integer),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("joined", sa.Integer, nullable=False, server_default="0"),
    sa.Index(None, "name", "created_at"),
    sa.Index(None, "pipeline_run_id"),
)

# Shadow and canary rollouts of a candidate beside the champion.
model_rollouts = sa.Table(
    "model_rollouts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("candidate", sa.Integer, nullable=False),
    sa.Column("champion", sa.Integer),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("share", sa.Float, nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("criteria", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("started_by", sa.String(256), nullable=False),
    sa.Column("loop_id", sa.String(32)),
    sa.Column("ended_at", sa.BigInteger),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("stats", sa.JSON),
    sa.Index(None, "name", "state"),
)
