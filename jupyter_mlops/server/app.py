"""One ``ExtensionApp`` holding the handler table, the Client the handlers share and the pool
of threads their store work runs on.

The server decides where the store is (its own configuration, else the usual rules applied
from its root folder) and hands that location to every kernel it starts, through the
environment the session manager gives kernels (never by changing the server's own
environment or working directory), so the panel and the notebooks always see the same runs.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, TraitError, Unicode, validate

from ..config import StoreLocation, resolve_location, store_env

if TYPE_CHECKING:
    from ..client import Client

API_PREFIX = "mlops/api/v1"


class MlopsApp(ExtensionApp):
    name = "jupyter_mlops"

    store = Unicode(
        "",
        help="Store URL (sqlite:///…, postgresql://…) or folder. Empty: JUPYTER_MLOPS_STORE, "
        "JUPYTER_MLOPS_HOME, the nearest .mlops/ above the server's root folder, else the "
        "Jupyter data dir.",
    ).tag(config=True)

    run_scheduler = Bool(
        True,
        help="Run pipeline schedules and triggers while the server is up. Any number of "
        "servers and `jupyter-mlops scheduler` processes may share a store: a lease in the "
        "store lets one fire at a time.",
    ).tag(config=True)

    scheduler_poll = Float(5.0, help="Seconds between two looks at the schedules.").tag(config=True)

    store_threads = Int(
        8,
        help="Threads that run the REST handlers' store work, off the server's event loop (a "
        "write waiting for a lock held elsewhere never stalls the lab).",
    ).tag(config=True)

    @validate("scheduler_poll")
    def _valid_poll(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0.05 <= value <= 3600:
            raise TraitError("MlopsApp.scheduler_poll must be from 0.05 to 3600 seconds")
        return value

    @validate("store_threads")
    def _valid_threads(self, proposal: Any) -> int:
        value = int(proposal["value"])
        if not 1 <= value <= 256:
            raise TraitError("MlopsApp.store_threads must be from 1 to 256")
        return value

    _scheduler_stop: threading.Event | None = None

    def _location(self) -> StoreLocation:
        if self.store:
            return resolve_location(self.store)
        root = self.serverapp.root_dir if self.serverapp else None
        # The .mlops/ rule walks up from the server's root, not from wherever it started.
        return resolve_location(cwd=Path(root).expanduser() if root else None)

    def initialize_settings(self) -> None:
        from ..client import Client

        location = self._location()
        self._export_store_to_kernels(location)
        client = Client(location)
        self.settings["mlops_client"] = client
        self.settings["mlops_executor"] = ThreadPoolExecutor(
            self.store_threads, thread_name_prefix="mlops-rest"
        )
        self.log.info("jupyter-mlops: store %s (%s)", location.db_url, location.source)
        if self.run_scheduler:
            self._start_scheduler(client)

    def _export_store_to_kernels(self, location: StoreLocation) -> None:
        """Kernels started for notebooks and consoles get the store in their environment,
        through the session manager's ``get_kernel_env`` (the environment a kernel starts
        with, also on restart)."""
        sessions = self.serverapp.session_manager if self.serverapp else None
        if sessions is None:
            return
        base = sessions.get_kernel_env
        extra = store_env(location)

        def get_kernel_env(path: str | None, name: Any = None) -> dict[str, str]:
            return {**base(path, name), **extra}

        sessions.get_kernel_env = get_kernel_env

    def _start_scheduler(self, client: Client) -> None:
        from ..automation.controller import ContinuousTraining
        from ..monitoring.alerts import MonitorJob
        from ..pipelines.scheduler import Scheduler

        scheduler = Scheduler(
            client, poll=self.scheduler_poll, jobs=[MonitorJob(client), ContinuousTraining(client)]
        )
        self._scheduler_stop = threading.Event()
        threading.Thread(
            target=scheduler.run_forever,
            args=(self._scheduler_stop,),
            name="mlops-scheduler",
            daemon=True,
        ).start()
        self.log.info("jupyter-mlops: scheduler %s started", scheduler.holder)

    async def stop_extension(self) -> None:
        if self._scheduler_stop is not None:
            self._scheduler_stop.set()
        executor = self.settings.get("mlops_executor")
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def initialize_handlers(self) -> None:
        from .ct_handlers import ct_routes
        from .handlers import routes
        from .monitoring_handlers import monitoring_routes
        from .pipeline_handlers import pipeline_routes
        from .registry_handlers import registry_routes
        from .serving_handlers import serving_routes

        self.handlers.extend(routes(API_PREFIX))
        self.handlers.extend(pipeline_routes(API_PREFIX))
        self.handlers.extend(registry_routes(API_PREFIX))
        self.handlers.extend(serving_routes(API_PREFIX))
        self.handlers.extend(monitoring_routes(API_PREFIX))
        self.handlers.extend(ct_routes(API_PREFIX))
