"""Pipelines that run by themselves: cron schedules and event triggers, fired exactly once.

A schedule lives in the store (``schedules``), so every scheduler sees the same ones: the one
inside a Jupyter server while the lab is up, and the standalone ``jupyter-mlops scheduler``
that keeps running when it is closed. Only the holder of the store lease ``scheduler`` fires
anything; each firing is also claimed with a compare-and-set on the schedule's row, so even
two schedulers that both believe they lead never start one firing twice (see
:mod:`jupyter_mlops.store.sql.schedules` and :mod:`jupyter_mlops.store.sql.leases`).

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

A firing starts the pipeline in its own process (:func:`~.launch.launch_pipeline`, with the
run options the schedule stores), so a long pipeline never blocks the scheduler, and a
scheduler that stops does not stop the pipelines it started.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from jupyter_mlops.client import Client, now_ms
from jupyter_mlops.client.schedules import next_fire_time, occurrences
from jupyter_mlops.entities import DATASET_VERSION_EVENT, Event, Schedule
from jupyter_mlops.exceptions import InvalidInput

from . import records
from .launch import launch_pipeline
from .options import EXECUTION_FIELDS, RunOptions
from .spec import Pipeline

__all__ = ["TRIGGER_TYPES", "Firing", "Scheduler", "schedule_pipeline"]

log = logging.getLogger("jupyter_mlops.scheduler")

LEASE_NAME = "scheduler"
# Triggers a schedule can name, by the option that names them: --dataset NAME.
TRIGGER_TYPES = {"dataset": DATASET_VERSION_EVENT}
# Run options a schedule keeps (its parameters are kept apart; the rest is per firing).
_SCHEDULE_OPTIONS = (*EXECUTION_FIELDS, "root")


@dataclass(frozen=True)
class Firing:
    """One pipeline run a scheduler started."""

    schedule_id: str
    run_id: str
    trigger: str
    due: int | None  # the cron occurrence (ms), None for an event


def schedule_pipeline(
    client: Client,
    path: str | os.PathLike[str],
    *,
    cron: str | None = None,
    timezone: str = "UTC",
    dataset: str | None = None,
    options: RunOptions | None = None,
    missed: str = "skip",
    enabled: bool = True,
) -> Schedule:
    """Schedule the pipeline in ``path`` on a cron expression or on new versions of a dataset.

    The pipeline is loaded and validated with the options' parameters (and inside their
    ``root``) first, so a schedule that could never run is refused now rather than failing at
    3 a.m.; the Client then checks and stores the schedule itself.

    Raises:
        InvalidInput: neither or both of ``cron`` and ``dataset``, a bad cron expression,
            timezone, policy or option, or a pipeline that does not validate.
        NotFound: no such pipeline file.
    """
    options = (options or RunOptions()).validate()
    if (cron is None) == (dataset is None):
        raise InvalidInput("give either a cron expression or a dataset to trigger on, not both")
    file = Path(path).expanduser().resolve()
    pipeline = Pipeline.from_yaml(file).with_params(options.params)
    pipeline.validate(root=Path(options.root) if options.root else None)
    kept = {name: getattr(options, name) for name in _SCHEDULE_OPTIONS}
    return client.create_schedule(
        str(file),
        pipeline.name,
        cron=cron,
        timezone=timezone,
        event=None if dataset is None else (TRIGGER_TYPES["dataset"], dataset),
        params=options.params,
        options={k: v for k, v in kept.items() if v is not None},
        missed=missed,
        enabled=enabled,
    )


def firing_options(schedule: Schedule, run_id: str, trigger: str) -> RunOptions:
    """The run options of one firing of ``schedule``."""
    return RunOptions.from_json(
        dict(schedule.options),
        allowed=_SCHEDULE_OPTIONS,
        params=dict(schedule.params),
        run_id=run_id,
        trigger=trigger,
    )


Launcher = Callable[[Schedule, str, str], None]


def _launch_schedule(client: Client) -> Launcher:
    def launch(schedule: Schedule, run_id: str, trigger: str) -> None:
        launch_pipeline(client, schedule.pipeline_path, firing_options(schedule, run_id, trigger))

    return launch


class Scheduler:
    """Fires due schedules of one store while it holds the store's scheduler lease.

    Args:
        client: the store.
        launch: starts one pipeline run ``(schedule, run id, trigger)``; by default a
            ``jupyter-mlops pipelines run`` process.
        poll: seconds between two looks at the schedules.
        lease_ttl: seconds the lease lasts without renewal (a crashed leader is replaced
            after at most this long).
        grace: seconds after its due time an occurrence still counts as on time (``skip``).
        jobs: more work for the leader on each tick, ``job(now_ms)`` (an entry point passes
            the monitoring job: evaluating alert rules is not a pipeline's business, and a
            job's failure is logged, never stops the tick).
    """

    def __init__(
        self,
        client: Client,
        *,
        launch: Launcher | None = None,
        poll: float = 5.0,
        lease_ttl: float = 30.0,
        grace: float = 60.0,
        jobs: Sequence[Callable[[int], object]] = (),
    ) -> None:
        self.client = client
        self.launch = launch or _launch_schedule(client)
        self.poll = poll
        self.lease_ttl = lease_ttl
        self.grace = grace
        self.jobs = list(jobs)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False

    def tick(self, now: int | None = None) -> list[Firing]:
        """Take or renew the lease and fire what is due; the firings started."""
        now = now_ms() if now is None else now
        leading = self.client.acquire_lease(
            LEASE_NAME, self.holder, int(self.lease_ttl * 1000), now
        )
        if leading != self.leading:
            log.info("scheduler %s %s", self.holder, "leads" if leading else "stands by")
            self.leading = leading
        if not leading:
            return []
        fired: list[Firing] = []
        for schedule in self.client.list_schedules():
            if not schedule.enabled:
                continue
            try:
                if schedule.kind == "cron":
                    fired += self._cron(schedule, now)
                else:
                    fired += self._events(schedule)
            except Exception:  # one broken schedule must not stop the others
                log.exception("schedule %s failed to fire", schedule.id)
        for job in self.jobs:
            try:
                job(now)
            except Exception:
                log.exception("scheduler job %r failed", job)
        return fired

    def _fire(self, schedule: Schedule, trigger: str, due: int | None) -> Firing:
        run_id = uuid.uuid4().hex
        self.launch(schedule, run_id, trigger)
        self.client.record_firing(schedule.id, run_id)
        log.info("schedule %s started pipeline %s run %s", schedule.id, schedule.pipeline, run_id)
        return Firing(schedule.id, run_id, trigger, due)

    def _cron(self, schedule: Schedule, now: int) -> list[Firing]:
        due = schedule.next_run_time
        if due is None or due > now or schedule.cron is None or schedule.timezone is None:
            return []
        times = occurrences(schedule.cron, schedule.timezone, due, now)
        after = next_fire_time(schedule.cron, schedule.timezone, max(now, times[-1]))
        if not self.client.claim_cron(schedule, after):
            return []  # another scheduler fired it
        if schedule.missed == "all":
            chosen = times
        elif schedule.missed == "once":
            chosen = times[-1:]
        else:  # skip: only an occurrence that is due now
            chosen = [t for t in times[-1:] if now - t <= self.grace * 1000]
            if len(times) > len(chosen):
                log.info(
                    "schedule %s: skipped %d missed run(s)", schedule.id, len(times) - len(chosen)
                )
        return [self._fire(schedule, f"schedule:{schedule.id}", t) for t in chosen]

    def _events(self, schedule: Schedule) -> list[Firing]:
        found = self.client.events_after(
            schedule.event_cursor, schedule.event_type, schedule.event_key
        )
        if not found:
            return []
        if not self.client.claim_events(schedule, found[-1].id):
            return []
        relevant = [e for e in found if not self._own_event(e, schedule.pipeline)]
        if not relevant:
            return []
        return [self._fire(schedule, f"event:{relevant[-1].id}", None)]

    def _own_event(self, event: Event, pipeline: str) -> bool:
        """Written by a run of ``pipeline`` itself (a step, or a cell tracked in a step)."""
        run_id = event.payload.get("run_id")
        for _ in range(3):  # the cell's run → the step's run → the pipeline's run
            if not isinstance(run_id, str) or not run_id:
                return False
            try:
                run = self.client.read_run(run_id)
            except Exception:
                return False
            if records.pipeline_name(run) == pipeline:
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
            self.client.release_lease(LEASE_NAME, self.holder)
        except Exception:
            log.warning("could not release the scheduler lease", exc_info=True)
        self.leading = False
