"""``scheduler``: fire due schedules and triggers until stopped."""

from __future__ import annotations

import contextlib

import click

from .common import client_of, errors


@click.command()
@click.option("--poll", default=5.0, show_default=True, help="Seconds between two looks.")
@click.option("--once", is_flag=True, help="Fire what is due now, then exit.")
@click.pass_context
@errors
def scheduler(ctx: click.Context, poll: float, once: bool) -> None:
    """Run due schedules and triggers until stopped (Ctrl-C / SIGTERM). Any number may run on
    one store, with the lab's: a lease lets one fire at a time, and each firing happens once.
    The leader also evaluates served and configured models' monitoring alerts and runs their
    continuous-training policies (retrains, promotions, rollouts)."""
    import logging
    import signal
    import threading

    from ..automation.controller import ContinuousTraining
    from ..monitoring.alerts import MonitorJob
    from ..pipelines.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    client = client_of(ctx)
    sched = Scheduler(client, poll=poll, jobs=[MonitorJob(client), ContinuousTraining(client)])
    click.echo(f"scheduler {sched.holder} on {sched.client.location.db_url}")
    if once:
        for firing in sched.tick():
            click.echo(f"started {firing.run_id[:8]} ({firing.trigger})")
        if not sched.leading:
            click.echo("another scheduler holds the lease; nothing fired")
        sched.release()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        sched.run_forever(stop)
