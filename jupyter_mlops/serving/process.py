"""A model server process: one supervisor and its workers.

The supervisor binds the port, writes the server's record (STARTING, then RUNNING with the
version once every worker has loaded it), beats its heartbeat with the workers' figures every
couple of seconds, and ends the record: STOPPED when asked (``serve stop``, SIGTERM, Ctrl+C)
or idle for ``idle_timeout``, FAILED when the model cannot be served. A reader marks it KILLED
when the supervisor dies without ending it. It owns no model and no request.

Each worker (a fresh interpreter, started with ``spawn``) loads and checks the model, serves
the shared socket with uvicorn, records predictions, and follows what the server was started
for: on a ``model.alias`` event for its model (an alias or stage moved) it resolves the
reference again, loads and checks the new version on a thread and switches to it at once;
requests in flight finish on the version they started on. It follows its model's
``model.rollout`` events the same way (and looks once when it starts, as it looks at its
reference again): while a rollout is active whose candidate is not the version served, the
candidate is loaded on that thread and put on trial beside it (``state.trial``, see
:mod:`.app`); when the rollout ends, or the served version becomes the candidate, the trial
is dropped. A candidate that cannot be loaded is logged and serving goes on without it. A
server pinned to one version (``/3``, a bundle) follows nothing and takes no trial. A worker
whose supervisor is gone stops (Linux's parent-death signal, and a check of its parent's pid).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..client import Client
from ..config import StoreLocation
from ..entities import MODEL_ALIAS_EVENT, MODEL_ROLLOUT_EVENT, ServerStatus
from ..exceptions import MlopsError
from ..monitoring.operations import bucket_quantile
from .metrics import SLOT, Counters, Snapshot
from .options import TOKEN_ENV, ServeOptions

log = logging.getLogger("jupyter_mlops.serving")

HEARTBEAT_S = 2.0
FOLLOW_S = 1.0
READY_TIMEOUT_S = 300.0
RATE_WINDOW_S = 10.0
# A worker may die (a model that crashes its process on some input); this many deaths in
# this window mean it will go on dying: the server ends FAILED.
CRASH_BUDGET = 5
CRASH_WINDOW_S = 60.0


def pinned(ref: str) -> bool:
    """A reference to one version number (``/3``) follows nothing."""
    return ref.startswith("/") and ref[1:].isdigit()


@dataclass(frozen=True)
class WorkerArgs:
    slot: int
    slots: int
    server_id: str
    name: str
    ref: str
    version: int
    options: ServeOptions  # the token included: it reaches the worker through a pipe
    location: StoreLocation
    parent_pid: int
    bundle: str | None = None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if shown == "::":
        shown = "::1"
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


class Supervisor:
    def __init__(
        self,
        client: Client,
        server_id: str,
        name: str,
        ref: str,
        options: ServeOptions,
        actor: str | None,
        bundle: str | None = None,
    ) -> None:
        self.bundle = bundle
        self.client = client
        self.server_id = server_id
        self.name = name
        self.ref = ref
        self.options = options
        self.actor = actor
        self.stop_reason: str | None = None
        self.ctx = mp.get_context("spawn")
        self.values: Any = self.ctx.RawArray("d", SLOT * options.workers)
        self.errors: Any = self.ctx.SimpleQueue()
        self.workers: list[Any] = []
        self.window: deque[tuple[float, Snapshot]] = deque()
        self.deaths: deque[float] = deque()
        self.failure: str | None = None

    def snapshot(self) -> Snapshot:
        return Snapshot(self.values, self.options.workers)

    def run(self) -> int:
        opts = self.options
        try:
            sock = _bind(opts.host, opts.port)
        except OSError as exc:
            print(
                f"Cannot listen on {opts.host}:{opts.port}: {exc.strerror or exc}", file=sys.stderr
            )
            return 1
        url = url_of(opts.host, sock.getsockname()[1])
        record = self.client.create_model_server(
            self.name,
            self.ref,
            url,
            pid=os.getpid(),
            options=opts.to_json(),
            actor=self.actor,
            server_id=self.server_id,
        )
        log.info("server %s starting for %s at %s", record.id, record.uri, url)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        try:
            version = self._version()
        except MlopsError as exc:
            self._end(ServerStatus.FAILED, exc.message)
            print(exc.message, file=sys.stderr)
            return 1
        self.version = version
        self.args = [
            WorkerArgs(
                slot=i,
                slots=opts.workers,
                server_id=self.server_id,
                name=self.name,
                ref=self.ref,
                version=version,
                options=opts,
                location=self.client.location,
                parent_pid=os.getpid(),
                bundle=self.bundle,
            )
            for i in range(opts.workers)
        ]
        self.sock = sock
        self.workers = [self._spawn(a) for a in self.args]
        failure = self._wait_ready()
        if failure is not None:
            self._stop_workers()
            self._end(ServerStatus.FAILED, failure)
            print(failure, file=sys.stderr)
            return 1
        self.client.update_model_server(
            self.server_id, status=ServerStatus.RUNNING, version=version, stats=self._stats()
        )
        print(
            f"Serving {self.name} version {version} at {url} (server {self.server_id})", flush=True
        )
        self._loop()
        self._stop_workers()
        if self.failure is not None:
            self._end(ServerStatus.FAILED, self.failure)
            return 1
        reason = self.stop_reason or "stopped"
        try:
            if self.client.get_model_server(self.server_id).stop_requested:
                reason = "stopped by request"
        except MlopsError:
            pass
        self._end(ServerStatus.STOPPED, reason)
        return 0

    def _version(self) -> int:
        if self.bundle is not None:
            from .bundle import read_bundle

            return int(read_bundle(self.bundle)[0]["version"])
        from .predictor import resolve_version

        return resolve_version(self.client, self.name, self.ref)

    def _spawn(self, args: WorkerArgs) -> Any:
        process = self.ctx.Process(
            target=worker_main, args=(args, self.values, self.sock, self.errors), daemon=False
        )
        process.start()
        return process

    def _on_signal(self, signum: int, frame: Any) -> None:
        names = {
            int(signal.SIGTERM): "SIGTERM",
            int(signal.SIGINT): "interrupted",
            int(signal.SIGHUP): "SIGHUP",
        }
        self.stop_reason = self.stop_reason or f"stopped ({names.get(signum, str(signum))})"

    def _wait_ready(self) -> str | None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.errors.empty():
                return str(self.errors.get())
            # Ready first: a stop asked for once the workers answer ends the record STOPPED
            # (the loop sees it at once), not FAILED.
            if self.snapshot().all_ready():
                return None
            if self.stop_reason is not None:
                return f"Stopped while starting: {self.stop_reason}."
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                return (
                    f"A worker exited with status {dead[0].exitcode} while loading the model; "
                    "see the server's log."
                )
            time.sleep(0.05)
        return f"The model did not load within {READY_TIMEOUT_S:.0f} s."

    def _loop(self) -> None:
        opts = self.options
        started = time.time()
        next_beat = time.monotonic() + HEARTBEAT_S
        while self.stop_reason is None:
            time.sleep(0.1)
            for i, worker in enumerate(self.workers):
                if not worker.is_alive() and self.stop_reason is None:
                    self._restart(i, worker.exitcode)
            snap = self.snapshot()
            if opts.idle_timeout is not None:
                last = max(snap.latest("last_request"), started)
                if time.time() - last > opts.idle_timeout:
                    self.stop_reason = f"idle: no request for {opts.idle_timeout:g} s"
                    break
            version = int(snap.latest("version")) or None
            switched = version is not None and version != self.version
            # A switch is recorded at once, not at the next beat: a version served for less
            # than a beat would otherwise be missing from the record and the lineage.
            if time.monotonic() < next_beat and not switched:
                continue
            next_beat = time.monotonic() + HEARTBEAT_S
            try:
                record = self.client.update_model_server(
                    self.server_id,
                    version=version if version != self.version else None,
                    stats=self._stats(),
                )
            except Exception:
                log.exception("heartbeat failed")
                continue
            if version is not None:
                self.version = version
            if record.status not in (ServerStatus.RUNNING.value, ServerStatus.STARTING.value):
                self.stop_reason = f"record ended elsewhere ({record.status})"
            elif record.stop_requested:
                self.stop_reason = "stopped by request"

    def _restart(self, i: int, exitcode: int | None) -> None:
        """Start another worker in slot ``i``, unless workers keep dying: more than
        :data:`CRASH_BUDGET` deaths within :data:`CRASH_WINDOW_S` end the server FAILED
        rather than spawn workers in a loop."""
        now = time.monotonic()
        self.deaths.append(now)
        while self.deaths and now - self.deaths[0] > CRASH_WINDOW_S:
            self.deaths.popleft()
        if len(self.deaths) > CRASH_BUDGET:
            self.failure = (
                f"Workers keep dying ({len(self.deaths)} in {CRASH_WINDOW_S:.0f} s, the last "
                f"with exit status {exitcode}); see the server's log."
            )
            self.stop_reason = self.failure
            return
        log.error("worker %d exited with %s; starting another", i, exitcode)
        self.workers[i] = self._spawn(self.args[i])

    def _stats(self) -> dict[str, Any]:
        now = time.monotonic()
        snap = self.snapshot()
        self.window.append((now, snap))
        while len(self.window) > 1 and now - self.window[0][0] > RATE_WINDOW_S:
            self.window.popleft()
        then, old = self.window[0]
        span = now - then
        recent = [a - b for a, b in zip(snap.latency_counts(), old.latency_counts(), strict=True)]
        p50, p95, p99 = (bucket_quantile(recent, q) for q in (0.5, 0.95, 0.99))
        last = snap.latest("last_request")
        return {
            "requests": int(snap.requests),
            "errors": int(snap.get("client_errors") + snap.get("server_errors")),
            "server_errors": int(snap.get("server_errors")),
            "rows": int(snap.get("rows")),
            "rate": round((snap.requests - old.requests) / span, 2) if span > 0 else 0.0,
            "p50_ms": None if p50 is None else round(p50 * 1000, 3),
            "p95_ms": None if p95 is None else round(p95 * 1000, 3),
            "p99_ms": None if p99 is None else round(p99 * 1000, 3),
            "recorded": int(snap.get("recorded")),
            "dropped": int(snap.get("dropped")),
            "queued": int(snap.get("queued")),
            "switches": int(snap.get("switches")),
            "trial_answers": int(snap.get("trial_answers")),
            "trial_errors": int(snap.get("trial_errors")),
            "workers": sum(1 for w in self.workers if w.is_alive()),
            "last_request_at": int(last * 1000) if last else None,
        }

    def _stop_workers(self) -> None:
        for worker in self.workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15.0
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join(2.0)

    def _end(self, status: ServerStatus, reason: str) -> None:
        try:
            self.client.update_model_server(
                self.server_id, status=status, reason=reason, stats=self._stats()
            )
        except Exception:
            log.exception("could not end the server's record")


# -- workers ----------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the supervisor dies (a no-op elsewhere)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_main(args: WorkerArgs, values: Any, sock: socket.socket, errors: Any) -> None:
    _die_with_parent()
    # A model fitted on a frame of numbers is given arrays in its own column order (see
    # serving/spec.py); scikit-learn would warn about the missing names on every request.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        from ..version import __version__
    except ImportError:  # a source tree never installed
        __version__ = "0+unknown"
    from .app import Batcher, ServingState, build_app
    from .openapi import openapi_document
    from .predictor import load_predictor
    from .recorder import Recorder

    options = args.options
    counters = Counters(values, args.slot, args.slots)
    client = Client(args.location)
    hosts = {"localhost", "127.0.0.1", "::1", "[::1]", options.host.lower()}
    hosts.update(h.lower() for h in options.allowed_hosts)
    state = ServingState(
        name=args.name,
        ref=args.ref,
        server_id=args.server_id,
        counters=counters,
        snapshot=lambda: Snapshot(values, args.slots),
        token=options.token,
        allowed_hosts=frozenset(hosts),
        any_host="*" in options.allowed_hosts,
        max_body=int(options.max_body_mb * 1024 * 1024),
        openapi=openapi_document,
        server_version=__version__,
    )
    try:
        if args.bundle is not None:
            from .bundle import load_bundle

            state.predictor = load_bundle(args.bundle)
        else:
            state.predictor = load_predictor(client, args.name, args.version)
    except Exception as exc:
        log.exception("cannot load %s version %s", args.name, args.version)
        message = exc.message if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
        errors.put(f"Cannot load {args.name} version {args.version}: {message}")
        sys.exit(3)
    if options.record:
        state.recorder = Recorder(
            client, args.server_id, args.name, counters, capacity=options.queue_rows
        )
    if options.max_batch > 1:
        state.batcher = Batcher(options.max_batch, options.max_wait_ms / 1000.0, counters)
    counters.set("version", args.version)
    counters.set("ready", 1)
    import uvicorn

    config = uvicorn.Config(
        build_app(state),
        loop="auto",
        http="auto",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    server = uvicorn.Server(config)
    follower = threading.Thread(
        target=_follow, args=(client, state, counters, server, args), daemon=True
    )
    follower.start()
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # handlers that would end the process before the recorder writes what it still holds.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        if state.recorder is not None:
            state.recorder.close()
        client.close()


def _follow(client: Client, state: Any, counters: Counters, server: Any, args: WorkerArgs) -> None:
    """Serve the version the server's reference names, and the candidate of its model's
    active rollout beside it: once at the start (a restarted worker may have missed moves),
    then whenever an alias or stage of the model moves or a rollout starts or ends; stop
    when the supervisor is gone."""
    follows = not pinned(args.ref)
    cursor = 0
    if follows:
        try:
            cursor = client.last_event_id()  # before the first look: no move is missed
        except Exception:
            log.exception("reading the event log failed")
        _sync(client, state, counters, args)
    while not server.should_exit:
        time.sleep(FOLLOW_S)
        if os.getppid() != args.parent_pid:
            server.should_exit = True
            return
        if not follows:
            continue
        try:
            # One cursor for both types: an event only says "look again".
            moved = [
                event.id
                for kind in (MODEL_ALIAS_EVENT, MODEL_ROLLOUT_EVENT)
                for event in client.events_after(cursor, kind, args.name)
            ]
        except Exception:
            log.exception("following models:/%s%s failed; serving on", args.name, args.ref)
            continue
        if moved:
            cursor = max(moved)
            _sync(client, state, counters, args)


def _sync(client: Client, state: Any, counters: Counters, args: WorkerArgs) -> None:
    """Switch to the version the reference names now, then take or drop the trial."""
    from .predictor import load_predictor, resolve_version

    try:
        version = resolve_version(client, args.name, args.ref)
        current = state.predictor
        if current is None or version != current.version:
            trial = state.trial
            # A promoted candidate is already loaded and checked.
            predictor = (
                trial.predictor
                if trial is not None and trial.predictor.version == version
                else load_predictor(client, args.name, version)
            )
            state.predictor = predictor
            counters.set("version", version)
            counters.add("switches")
            log.info("switched to %s version %s", args.name, version)
    except Exception:
        log.exception("following models:/%s%s failed; serving on", args.name, args.ref)
    try:
        _sync_trial(client, state, args)
    except Exception:
        log.exception("following the rollouts of %s failed; serving on", args.name)


def _sync_trial(client: Client, state: Any, args: WorkerArgs) -> None:
    from .app import Trial
    from .predictor import load_predictor

    rollout = client.active_rollout(args.name)
    served = state.predictor
    trial = state.trial
    if rollout is None or served is None or rollout.candidate == served.version:
        if trial is not None:
            state.trial = None
            log.info("trial of %s version %s ended", args.name, trial.predictor.version)
        return
    if (
        trial is not None
        and trial.rollout_id == rollout.id
        and trial.predictor.version == rollout.candidate
    ):
        return
    if trial is not None:
        state.trial = None  # another rollout's
    if trial is not None and trial.predictor.version == rollout.candidate:
        candidate = trial.predictor
    else:
        try:
            candidate = load_predictor(client, args.name, rollout.candidate)
        except Exception:
            log.exception(
                "cannot load candidate %s version %s of rollout %s; serving without it",
                args.name, rollout.candidate, rollout.id[:8],
            )  # fmt: skip
            return
    state.trial = Trial(rollout.id, rollout.mode, rollout.share, candidate)
    what = f"canary {rollout.share:.0%}" if rollout.mode == "canary" else rollout.mode
    log.info(
        "version %s of %s on trial (%s, rollout %s) beside version %s",
        rollout.candidate, args.name, what, rollout.id[:8], served.version,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.serving")
    parser.add_argument("--server-id", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--options", default="{}", help="ServeOptions as JSON (no token)")
    parser.add_argument("--actor", default=None)
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    data = json.loads(ns.options)
    options = ServeOptions.from_json(
        {**data, "token": os.environ.get(TOKEN_ENV) or data.get("token")}
    )
    client = Client()
    try:
        return Supervisor(client, ns.server_id, ns.name, ns.ref, options, ns.actor).run()
    finally:
        client.close()
