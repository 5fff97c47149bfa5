"""Pipelines that run by themselves: cron schedules and event triggers, fired exactly once.

A schedule lives in the store (``schedules``), so every scheduler sees the same ones: the one
inside a Jupyter server while the lab is up, and the standalone ``jupyter-mlops scheduler``
that keeps running when it is closed. Only the holder of the store lease ``scheduler`` fires
anything; each firing is also claimed with a compare-and-set on the schedule's row, so even
two schedulers that both believe they lead never start one firing twice (see
:mod:`jupyter_mlops.store.sql.scheduling`).

Two kinds, one mechanism:

- **cron** (with a timezone; daylight-saving days keep their wall-clock meaning): the row
  holds the next due time. When it has passed, the *missed-run policy* says what to do with
  the occurrences that passed while no scheduler ran: ``skip`` runs only an occurrence that
  is due now (within a grace period) and drops older ones, ``once`` runs one pipeline for all
  of them, ``all`` runs one per occurrence (at most :data:`MAX_CATCH_UP`).
- **event**: the row holds the last event id it has seen. An event is a row in ``events``
  (type, key): a new dataset version writes ``dataset.version`` with the dataset's name, in
  the same transaction as the version. A rule matches type and key; new matching events
  start one pipeline run (several new versions seen at once start one run, not one each).
  Events written by runs of the same pipeline are ignored, so a pipeline that writes the
  dataset it is triggered by does not trigger itself forever. Other event types (a
  monitoring alert) need only a new ``type``, not a new scheduler.

A firing starts the pipeline in its own process (``python -m jupyter_mlops.cli pipelines run
... --run-id``), so a long pipeline never blocks the scheduler, and a scheduler that stops
does not stop the pipelines it started.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jupyter_mlops.client import Client, now_ms
from jupyter_mlops.config import ARTIFACTS_ENV, STORE_ENV
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.store.sql.lineage import DATASET_VERSION_EVENT
from jupyter_mlops.tracking import capture

from .runner import PIPELINE_TAG
from .spec import Pipeline

__all__ = [
    "MISSED_POLICIES",
    "Firing",
    "Scheduler",
    "add_schedule",
    "launch_pipeline",
    "next_fire_time",
    "schedule_dict",
    "set_schedule_enabled",
]

log = logging.getLogger("jupyter_mlops.scheduler")

LEASE_NAME = "scheduler"
MISSED_POLICIES = ("skip", "once", "all")
MAX_CATCH_UP = 100
# Triggers a schedule can name, by the option that names them: --dataset NAME.
TRIGGER_TYPES = {"dataset": DATASET_VERSION_EVENT}


@dataclass(frozen=True)
class Firing:
    """One pipeline run a scheduler started."""

    schedule_id: str
    run_id: str
    trigger: str
    due: int | None  # the cron occurrence (ms), None for an event


# -- cron ------------------------------------------------------------------------------------


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown timezone {timezone!r}; use an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from None


def next_fire_time(cron: str, timezone: str, after_ms: int) -> int:
    """The first occurrence of ``cron`` in ``timezone`` strictly after ``after_ms``.

    Raises:
        InvalidInput: the expression or the timezone is not valid.
    """
    from croniter import croniter

    zone = _zone(timezone)
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise InvalidInput(
            f"cron {cron!r} must have 5 fields: minute hour day-of-month month day-of-week, "
            "e.g. '0 3 * * *' for 03:00 every day"
        )
    try:
        it = croniter(cron, datetime.fromtimestamp(after_ms / 1000, zone))
        nxt = it.get_next(datetime)
    except (ValueError, KeyError) as exc:
        raise InvalidInput(f"invalid cron {cron!r}: {exc}") from None
    return int(nxt.timestamp() * 1000)


def _occurrences(cron: str, timezone: str, first: int, until: int) -> list[int]:
    """Due times from ``first`` (itself due) up to ``until``, at most MAX_CATCH_UP."""
    out = [first]
    while len(out) < MAX_CATCH_UP:
        nxt = next_fire_time(cron, timezone, out[-1])
        if nxt > until:
            break
        out.append(nxt)
    return out


# -- schedules in the store ------------------------------------------------------------------


def add_schedule(
    client: Client,
    path: str | os.PathLike[str],
    *,
    cron: str | None = None,
    timezone: str = "UTC",
    dataset: str | None = None,
    params: Mapping[str, Any] | None = None,
    missed: str = "skip",
    enabled: bool = True,
) -> dict[str, Any]:
    """Schedule the pipeline in ``path`` on a cron expression or on new versions of a dataset.

    The pipeline is loaded and validated with ``params`` first, so a schedule that could
    never run is refused now rather than failing at 3 a.m.

    Raises:
        InvalidInput: neither or both of ``cron`` and ``dataset``, a bad cron expression,
            timezone, policy, or a pipeline that does not validate.
        NotFound: no such pipeline file.
    """
    if (cron is None) == (dataset is None):
        raise InvalidInput("give either a cron expression or a dataset to trigger on, not both")
    if missed not in MISSED_POLICIES:
        raise InvalidInput(f"missed-run policy must be one of {', '.join(MISSED_POLICIES)}")
    file = Path(path).expanduser().resolve()
    pipeline = Pipeline.from_yaml(file).with_params(params)
    pipeline.validate()
    now = now_ms()
    row: dict[str, Any] = {
        "pipeline_path": str(file),
        "pipeline": pipeline.name,
        "params": dict(params or {}),
        "enabled": enabled,
        "missed": missed,
        "created_at": now,
        "created_by": capture.user(),
    }
    if cron is not None:
        row.update(
            kind="cron",
            cron=" ".join(cron.split()),
            timezone=timezone,
            next_run_time=next_fire_time(cron, timezone, now),
        )
    else:
        assert dataset is not None
        if not dataset.strip():
            raise InvalidInput("the dataset name to trigger on is empty")
        # Only versions that appear from now on start the pipeline.
        row.update(
            kind="event",
            event_type=TRIGGER_TYPES["dataset"],
            event_key=dataset,
            event_cursor=client.store.last_event_id(),
        )
    return schedule_dict(client.store.create_schedule(row))


def set_schedule_enabled(client: Client, schedule_id: str, enabled: bool) -> dict[str, Any]:
    """Enable or disable a schedule. Enabling a cron schedule starts from now: what passed
    while it was disabled is not "missed"; enabling a trigger ignores older events."""
    row = client.store.get_schedule(schedule_id)
    values: dict[str, Any] = {"enabled": enabled}
    if enabled and not row["enabled"]:
        if row["kind"] == "cron":
            values["next_run_time"] = next_fire_time(row["cron"], row["timezone"], now_ms())
        else:
            values["event_cursor"] = client.store.last_event_id()
    return schedule_dict(client.store.update_schedule(row["id"], values))


def schedule_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A schedule as the API and the CLI show it."""
    event = {"type": row["event_type"], "key": row["event_key"]} if row["kind"] == "event" else None
    return {
        "id": row["id"],
        "path": row["pipeline_path"],
        "pipeline": row["pipeline"],
        "kind": row["kind"],
        "cron": row["cron"],
        "timezone": row["timezone"],
        "event": event,
        "params": row["params"] or {},
        "enabled": bool(row["enabled"]),
        "missed": row["missed"],
        "next_run_time": row["next_run_time"] if row["enabled"] else None,
        "last_run_time": row["last_run_time"],
        "last_run_id": row["last_run_id"],
        "created_at": row["created_at"],
        "created_by": row["created_by"],
    }


# -- launching a pipeline run ----------------------------------------------------------------


def launch_pipeline(
    client: Client,
    path: str | os.PathLike[str],
    *,
    params: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    trigger: str = "manual",
    force: bool = False,
    from_step: str | None = None,
    resume: str | None = None,
    output_dir: str | os.PathLike[str] | None = None,
) -> str:
    """Start ``jupyter-mlops pipelines run`` in its own process and session; returns the
    pipeline run's id (chosen here, so the caller can follow it at once).

    Its output goes to ``<store home or temp>/pipeline-logs/<run id>.log``; the executed
    notebooks to ``output_dir`` (default: ``output/<run id>/`` beside the pipeline file).
    """
    run_id = run_id or uuid.uuid4().hex
    file = Path(path).expanduser().resolve()
    out = Path(output_dir) if output_dir is not None else file.parent / "output" / run_id[:8]
    cmd = [
        sys.executable,
        "-m",
        "jupyter_mlops.cli",
        "pipelines",
        "run",
        str(file),
        "--run-id",
        run_id,
        "--trigger",
        trigger,
        "--output-dir",
        str(out),
        "--no-progress",
    ]
    if params:
        cmd += ["--params-json", json.dumps(dict(params))]
    if force:
        cmd.append("--force")
    if from_step:
        cmd += ["--from", from_step]
    if resume:
        cmd += ["--resume-run", resume]
    loc = client.location
    env = {**os.environ, STORE_ENV: loc.db_url, ARTIFACTS_ENV: loc.artifact_root}
    logs = (loc.home or Path(os.environ.get("TMPDIR", "/tmp"))) / "pipeline-logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{run_id}.log", "ab") as fh:
        subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(file.parent),
            start_new_session=True,  # outlives the scheduler or server that started it
            close_fds=True,
        )
    return run_id


Launcher = Callable[[Mapping[str, Any], str, str], None]


def _launch_schedule(client: Client) -> Launcher:
    def launch(schedule: Mapping[str, Any], run_id: str, trigger: str) -> None:
        launch_pipeline(
            client,
            schedule["pipeline_path"],
            params=schedule["params"] or None,
            run_id=run_id,
            trigger=trigger,
        )

    return launch


# -- the scheduler ---------------------------------------------------------------------------


class Scheduler:
    """Fires due schedules of one store while it holds the store's scheduler lease.

    Args:
        client: the store.
        launch: starts one pipeline run ``(schedule row, run id, trigger)``; by default a
            ``jupyter-mlops pipelines run`` process.
        poll: seconds between two looks at the schedules.
        lease_ttl: seconds the lease lasts without renewal (a crashed leader is replaced
            after at most this long).
        grace: seconds after its due time an occurrence still counts as on time (``skip``).
    """

    def __init__(
        self,
        client: Client,
        *,
        launch: Launcher | None = None,
        poll: float = 5.0,
        lease_ttl: float = 30.0,
        grace: float = 60.0,
    ) -> None:
        self.client = client
        self.launch = launch or _launch_schedule(client)
        self.poll = poll
        self.lease_ttl = lease_ttl
        self.grace = grace
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False

    def tick(self, now: int | None = None) -> list[Firing]:
        """Take or renew the lease and fire what is due; the firings started."""
        now = now_ms() if now is None else now
        store = self.client.store
        leading = store.acquire_lease(LEASE_NAME, self.holder, int(self.lease_ttl * 1000), now)
        if leading != self.leading:
            log.info("scheduler %s %s", self.holder, "leads" if leading else "stands by")
            self.leading = leading
        if not leading:
            return []
        fired: list[Firing] = []
        for row in store.list_schedules():
            if not row["enabled"]:
                continue
            try:
                if row["kind"] == "cron":
                    fired += self._cron(row, now)
                else:
                    fired += self._events(row)
            except Exception:  # one broken schedule must not stop the others
                log.exception("schedule %s failed to fire", row["id"])
        return fired

    def _fire(self, row: Mapping[str, Any], trigger: str, due: int | None) -> Firing:
        run_id = uuid.uuid4().hex
        self.launch(row, run_id, trigger)
        self.client.store.update_schedule(
            row["id"], {"last_run_id": run_id, "last_run_time": now_ms()}
        )
        log.info("schedule %s started pipeline %s run %s", row["id"], row["pipeline"], run_id)
        return Firing(row["id"], run_id, trigger, due)

    def _cron(self, row: Mapping[str, Any], now: int) -> list[Firing]:
        due = row["next_run_time"]
        if due is None or due > now:
            return []
        times = _occurrences(row["cron"], row["timezone"], due, now)
        after = next_fire_time(row["cron"], row["timezone"], max(now, times[-1]))
        claimed = self.client.store.claim_schedule(
            row["id"], "next_run_time", due, {"next_run_time": after}
        )
        if not claimed:
            return []  # another scheduler fired it
        if row["missed"] == "all":
            chosen = times
        elif row["missed"] == "once":
            chosen = times[-1:]
        else:  # skip: only an occurrence that is due now
            chosen = [t for t in times[-1:] if now - t <= self.grace * 1000]
            if len(times) > len(chosen):
                log.info(
                    "schedule %s: skipped %d missed run(s)", row["id"], len(times) - len(chosen)
                )
        return [self._fire(row, f"schedule:{row['id']}", t) for t in chosen]

    def _events(self, row: Mapping[str, Any]) -> list[Firing]:
        store = self.client.store
        cursor = row["event_cursor"]
        found = store.events_after(cursor, row["event_type"], row["event_key"])
        if not found:
            return []
        claimed = store.claim_schedule(
            row["id"], "event_cursor", cursor, {"event_cursor": found[-1]["id"]}
        )
        if not claimed:
            return []
        relevant = [e for e in found if not self._own_event(e, row["pipeline"])]
        if not relevant:
            return []
        return [self._fire(row, f"event:{relevant[-1]['id']}", None)]

    def _own_event(self, event: Mapping[str, Any], pipeline: str) -> bool:
        """Written by a run of ``pipeline`` itself (a step, or a cell tracked in a step)."""
        run_id = (event.get("payload") or {}).get("run_id")
        for _ in range(3):  # the cell's run → the step's run → the pipeline's run
            if not run_id:
                return False
            try:
                run = self.client.store.get_run(run_id)
            except Exception:
                return False
            if run.tags.get(PIPELINE_TAG) == pipeline:
                return True
            run_id = run.info.parent_run_id
        return False

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Tick every ``poll`` seconds until ``stop`` is set; give the lease up on the way out."""
        stop = stop or threading.Event()
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    self.tick()
                except Exception:  # the store is unreachable for a while: try again later
                    log.exception("scheduler tick failed")
                stop.wait(max(0.0, self.poll - (time.monotonic() - started)))
        finally:
            self.release()

    def release(self) -> None:
        """Give the lease up, so another scheduler leads at once instead of after its TTL."""
        try:
            self.client.store.release_lease(LEASE_NAME, self.holder)
        except Exception:
            log.warning("could not release the scheduler lease", exc_info=True)
        self.leading = False
