"""One ``ExtensionApp`` holding the handler table and the Client the handlers share.

The server decides where the store is (its own configuration, else the usual rules applied
from its root folder) and hands that location to every kernel it starts through the
environment, so the panel and the notebooks always see the same runs.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Unicode

from ..config import ARTIFACTS_ENV, STORE_ENV, StoreLocation, resolve_location

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

    _scheduler_stop: threading.Event | None = None

    def _location(self) -> StoreLocation:
        if self.store:
            return resolve_location(self.store)
        root = Path(self.serverapp.root_dir if self.serverapp else os.getcwd()).expanduser()
        cwd = os.getcwd()
        try:  # the .mlops/ rule walks up from the server's root, not from wherever it started
            os.chdir(root)
            return resolve_location()
        finally:
            os.chdir(cwd)

    def initialize_settings(self) -> None:
        from ..client import Client

        location = self._location()
        # Kernels inherit the server's environment: pin them to this store (and, where the
        # artifacts do not simply sit beside a SQLite file, to its artifact folder).
        os.environ[STORE_ENV] = location.db_url
        home = location.home
        if home is None or Path(location.artifact_root) != home / "artifacts":
            os.environ[ARTIFACTS_ENV] = location.artifact_root
        client = Client(location.db_url)
        self.settings["mlops_client"] = client
        self.log.info("jupyter-mlops: store %s (%s)", location.db_url, location.source)
        if self.run_scheduler:
            self._start_scheduler(client)

    def _start_scheduler(self, client: Any) -> None:
        from ..pipelines.scheduler import Scheduler

        scheduler = Scheduler(client, poll=self.scheduler_poll)
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

    def initialize_handlers(self) -> None:
        from .handlers import routes
        from .pipeline_handlers import pipeline_routes

        self.handlers.extend(routes(API_PREFIX))
        self.handlers.extend(pipeline_routes(API_PREFIX))

    def get_client(self) -> Any:
        return self.settings["mlops_client"]
