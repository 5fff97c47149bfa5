"""REST handlers: parse, call the Client, serialise. Errors are mapped once, in the base."""

from __future__ import annotations

import json
import mimetypes
import urllib.parse
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from .. import views
from ..client import Client, validate_artifact_path
from ..entities import Run, jsonable
from ..exceptions import InvalidInput, MlopsError

MAX_LIMIT = 1000


class MlopsHandler(APIHandler):
    """Base of every route: authenticated JSON in and out, MlopsError → its 4xx status."""

    @property
    def client(self) -> Client:
        client: Client = self.settings["mlops_client"]
        return client

    def reply(self, payload: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(jsonable(payload), allow_nan=False, default=str))

    def int_arg(self, name: str, default: int, low: int, high: int) -> int:
        text = self.get_argument(name, None)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise InvalidInput(
                f"Query argument {name!r} must be an integer, got {text!r}."
            ) from None
        if not low <= value <= high:
            raise InvalidInput(f"Query argument {name!r} must be from {low} to {high}.")
        return value

    def list_arg(self, name: str) -> list[str]:
        """Repeated (?x=a&x=b) or comma-separated (?x=a,b) values."""
        out: list[str] = []
        for value in self.get_arguments(name):
            out += [v.strip() for v in value.split(",") if v.strip()]
        return out

    @property
    def root(self) -> Path:
        """The server's root folder: API paths are relative to it."""
        return Path(self.settings.get("server_root_dir") or ".").expanduser().resolve()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MlopsError):
            status, body = exc.http_status, exc.to_dict()
        elif isinstance(exc, web.HTTPError):
            status = exc.status_code
            body = {"code": "HTTP_ERROR", "message": exc.log_message or exc.reason or ""}
        else:
            status = status_code
            body = {"code": "INTERNAL", "message": "Internal error; see the server log."}
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


def run_summary(run: Run, params: list[str] | None, metrics: list[str] | None) -> dict[str, Any]:
    """A run as a table row: attributes plus the chosen params and metrics."""
    info = run.info
    return {
        "id": info.id,
        "experiment": info.experiment_name,
        "name": info.name,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "duration_ms": info.duration_ms,
        "user": info.user,
        "notebook_path": info.notebook_path,
        "cell_id": info.cell_id,
        "params": run.params if params is None else {k: run.params.get(k) for k in params},
        "metrics": run.metrics if metrics is None else {k: run.metrics.get(k) for k in metrics},
        "tags": run.tags,
    }


class InfoHandler(MlopsHandler):
    @web.authenticated
    def get(self) -> None:
        loc = self.client.location
        self.reply({"store": loc.db_url, "artifacts": loc.artifact_root, "source": loc.source})


class ExperimentsHandler(MlopsHandler):
    @web.authenticated
    def get(self) -> None:
        self.reply({"experiments": [e.to_dict() for e in self.client.list_experiments()]})


class RunsHandler(MlopsHandler):
    @web.authenticated
    def get(self) -> None:
        params = self.list_arg("params") or None
        metrics = self.list_arg("metrics") or None
        page = self.client.search_runs_page(
            experiment=self.list_arg("experiment") or None,
            filter=self.get_argument("filter", None),
            order_by=self.list_arg("order_by"),
            limit=self.int_arg("limit", 100, 1, MAX_LIMIT),
            offset=self.int_arg("offset", 0, 0, 10**9),
        )
        self.reply(
            {
                "runs": [run_summary(r, params, metrics) for r in page.runs],
                "total": page.total,
                "offset": page.offset,
                "limit": page.limit,
            }
        )


class RunHandler(MlopsHandler):
    @web.authenticated
    def get(self, run_id: str) -> None:
        run = self.client.get_run(run_id).to_dict()
        run["info"]["notebook_api_path"] = views.relative_to_root(
            run["info"]["notebook_path"], self.root
        )
        self.reply(run)


class MetricHistoryHandler(MlopsHandler):
    @web.authenticated
    def get(self, run_id: str, key: str) -> None:
        key = urllib.parse.unquote(key)
        max_points = self.int_arg("max_points", 1000, 10, 100_000)
        self.reply(self.client.get_metric_series(run_id, key, max_points))


class CompareHandler(MlopsHandler):
    @web.authenticated
    def get(self) -> None:
        ids = self.list_arg("runs")
        if len(ids) < 2:
            raise InvalidInput("compare needs at least two run ids: ?runs=a,b")
        runs = [self.client.get_run(r) for r in ids]
        self.reply(
            {
                "runs": [r.to_dict() for r in runs],
                "params": sorted({k for r in runs for k in r.params}),
                "differing_params": views.differing_params(runs),
                "metrics": sorted({k for r in runs for k in r.metrics}),
            }
        )


class DatasetsHandler(MlopsHandler):
    @web.authenticated
    def get(self) -> None:
        name = self.get_argument("name", None)
        self.reply({"datasets": [d.to_dict() for d in self.client.list_datasets(name)]})


class LineageHandler(MlopsHandler):
    @web.authenticated
    def get(self, ref: str) -> None:
        self.reply(self.client.dataset_lineage(urllib.parse.unquote(ref)))


def _artifact_path(raw: str) -> str:
    """Decode until stable (so %252e%252e cannot sneak '..' past one decoding), then check."""
    path = raw
    for _ in range(5):
        decoded = urllib.parse.unquote(path)
        if decoded == path:
            break
        path = decoded
    else:
        raise InvalidInput("Artifact path is encoded too many times.")
    return validate_artifact_path(path)


class ArtifactHandler(MlopsHandler):
    @web.authenticated
    def get(self, run_id: str, path: str) -> None:
        logical = _artifact_path(path)
        data = self.client.read_artifact(run_id, logical)  # sha256-verified
        mime = mimetypes.guess_type(logical)[0] or "application/octet-stream"
        self.set_header("Content-Type", mime)
        self.set_header("X-Content-Type-Options", "nosniff")
        # Always a download: an HTML artifact must never render in the lab's origin.
        name = urllib.parse.quote(logical.rsplit("/", 1)[-1])
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{name}")
        self.finish(data)


class ChangesHandler(MlopsHandler):
    """A cheap token that changes when runs are added or end, for polling panels."""

    @web.authenticated
    def get(self) -> None:
        self.reply({"token": self.client.change_token()})


def routes(prefix: str) -> list[tuple[str, type[MlopsHandler]]]:
    run = r"(?P<run_id>[0-9a-fA-F]{1,32})"
    return [
        (rf"/{prefix}/info", InfoHandler),
        (rf"/{prefix}/experiments", ExperimentsHandler),
        (rf"/{prefix}/runs", RunsHandler),
        (rf"/{prefix}/runs/{run}", RunHandler),
        (rf"/{prefix}/runs/{run}/metrics/(?P<key>[^/]+)", MetricHistoryHandler),
        (rf"/{prefix}/runs/{run}/artifacts/(?P<path>.+)", ArtifactHandler),
        (rf"/{prefix}/compare", CompareHandler),
        (rf"/{prefix}/datasets", DatasetsHandler),
        (rf"/{prefix}/datasets/(?P<ref>[^/]+)/lineage", LineageHandler),
        (rf"/{prefix}/changes", ChangesHandler),
    ]
