"""REST routes of the panel's monitoring view: a served model's report over windows with its
alert states and history, the monitoring state of every registered model at a glance, and an
evaluation of a model's alert rules on demand.

A report reads the model's recorded traffic and labels and checks every window against its
version's reference (``monitoring.monitor``): seconds on a busy model, so it runs on the store
threads, as do the state listing (one query per model for its versions) and an evaluation
(which writes states and ``monitor.alert`` events). The report is plain data as
``MonitorReport.to_dict()`` gives it, with every number JSON cannot carry (NaN, ±inf) sent as
null: a chart draws a gap, a table a dash, and nothing reads "NaN" as text.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tornado import web

from ..entities import ALERT_STATES
from ..exceptions import InvalidInput
from .registry_handlers import RegistryHandler

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import AlertState

# The alert events a report carries: the newest ones, oldest first.
HISTORY = 100
_MAX_WINDOW_TEXT = 40
_MAX_VERSION = 2**31 - 1


def finite(value: Any) -> Any:
    """``value`` with every non-finite float as None and numpy scalars as Python ones."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return finite(value.item())
    return value


def worst(states: list[AlertState]) -> str:
    """The loudest of some rules' states (``ok`` without any)."""
    rank = {state: i for i, state in enumerate(ALERT_STATES)}
    return max((s.state for s in states), key=lambda s: rank.get(s, 0), default=ALERT_STATES[0])


def recent_alerts(client: Client, name: str, count: int = HISTORY) -> list[dict[str, Any]]:
    """The newest ``count`` ``monitor.alert`` events of ``name``, oldest first."""
    return [e.to_dict() for e in client.alert_history(name, limit=count, newest=True)]


def model_report(
    client: Client,
    name: str,
    *,
    window: str | None,
    rows: int | None,
    windows: int,
    version: int | None,
) -> dict[str, Any]:
    from ..monitoring.monitor import monitor

    report = monitor(client, name, window=window, rows=rows, windows=windows, version=version)
    return finite(
        {
            "report": report.to_dict(),
            "alerts": [s.to_dict() for s in client.list_alert_states(report.name)],
            "history": recent_alerts(client, report.name),
        }
    )


def monitoring_states(client: Client) -> list[dict[str, Any]]:
    """Per registered model: its loudest alert state and its rules' states; per version,
    whether it has a reference (rows, source, when) and its rules' loudest state, when a
    rule was last evaluated on a window that version served."""
    alerts: dict[str, list[AlertState]] = {}
    for state in client.list_alert_states():
        alerts.setdefault(state.name, []).append(state)
    models = [
        (model.name, client.search_model_versions(model.name))
        for model in client.list_registered_models()
    ]
    ids = sorted({v.logged_model_id for _, versions in models for v in versions})
    references = client.reference_summaries(ids) if ids else {}
    out = []
    for name, versions in models:
        states = alerts.get(name, [])
        rows = []
        for v in versions:
            stored = references.get(v.logged_model_id)
            served = [s for s in states if s.version == v.version]
            rows.append(
                {
                    "version": v.version,
                    "logged_model_id": v.logged_model_id,
                    "reference": None
                    if stored is None
                    else {
                        "rows": stored.rows,
                        "source": stored.source,
                        "created_at": stored.created_at,
                    },
                    "state": worst(served) if served else None,
                }
            )
        out.append(
            {
                "name": name,
                "state": worst(states),
                "alerts": [s.to_dict() for s in states],
                "versions": rows,
            }
        )
    return finite(out)


class ModelMonitoringHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        # An empty argument is one left out (the model's configured window).
        window = self.text_arg("window", _MAX_WINDOW_TEXT) or None
        rows_text = self.text_arg("rows", _MAX_WINDOW_TEXT) or None
        if window is not None and rows_text is not None:
            raise InvalidInput("Windows are cut by time or by rows, not both: send window or rows.")
        from ..monitoring.monitor import MAX_ROWS_PER_WINDOW, MAX_WINDOWS

        rows = None if rows_text is None else self.int_arg("rows", 0, 1, MAX_ROWS_PER_WINDOW)
        windows = self.int_arg("windows", 24, 1, MAX_WINDOWS)
        version_text = self.text_arg("version", _MAX_WINDOW_TEXT) or None
        version = None if version_text is None else self.int_arg("version", 0, 1, _MAX_VERSION)
        reply = await self.call(
            model_report,
            self.client,
            name,
            window=window,
            rows=rows,
            windows=windows,
            version=version,
        )
        self.reply(reply)


class StatesHandler(RegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply({"models": await self.call(monitoring_states, self.client)})


class EvaluateHandler(RegistryHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        self.fields(())

        def evaluate(client: Client) -> list[dict[str, Any]]:
            from ..monitoring.alerts import evaluate_alerts

            model = client.get_registered_model(name)
            return finite([s.to_dict() for s in evaluate_alerts(client, model.name)])

        self.reply({"alerts": await self.call(evaluate, self.client)})


def monitoring_routes(prefix: str) -> list[tuple[str, type[RegistryHandler]]]:
    model = rf"/{prefix}/monitoring/models/(?P<name>[^/]+)"
    return [
        (rf"/{prefix}/monitoring/states", StatesHandler),
        (model, ModelMonitoringHandler),
        (rf"{model}/evaluate", EvaluateHandler),
    ]
