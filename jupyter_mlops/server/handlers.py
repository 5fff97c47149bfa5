"""REST routes of the runs, datasets and artifacts: parse, call the Client off the event loop,
serialise. Errors are mapped once, in the base (``base.py``)."""

from __future__ import annotations

import mimetypes
import urllib.parse
from typing import Any

from tornado import web

from .. import views
from ..client import validate_artifact_path
from ..entities import ID_PREFIX_PATTERN, Artifact, Run
from ..exceptions import InvalidInput
from ..paths import relative_to_root
from .base import MlopsHandler

MAX_LIMIT = 1000
# Artifacts of ML work that Python's table (``mimetypes``) does not know.
_CONTENT_TYPES = {
    ".ipynb": "application/x-ipynb+json",
    ".log": "text/plain",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".parquet": "application/vnd.apache.parquet",
    ".joblib": "application/octet-stream",
    ".pkl": "application/octet-stream",
    ".npy": "application/octet-stream",
    ".onnx": "application/octet-stream",
}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"PAR1", "application/vnd.apache.parquet"),
)
_KIND_TYPES = {"notebook": "application/x-ipynb+json", "model": "application/octet-stream"}


def content_type(artifact: Artifact, head: bytes) -> str:
    """An artifact's media type: by its kind, its name, else its first bytes; text types say
    their charset."""
    name = artifact.path.rsplit("/", 1)[-1].lower()
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    mime = (
        _KIND_TYPES.get(artifact.kind)
        or _CONTENT_TYPES.get(suffix)
        or mimetypes.guess_type(name)[0]
        or next((t for magic, t in _MAGIC if head.startswith(magic)), None)
    )
    if mime is None:
        try:
            head.decode("utf-8")
            mime = "text/plain"
        except UnicodeDecodeError:
            mime = "application/octet-stream"
    if mime.startswith("text/") or mime.endswith(("+json", "/json", "/yaml")):
        mime += "; charset=utf-8"
    return mime


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
    async def get(self) -> None:
        loc = self.client.location
        self.reply({"store": loc.db_url, "artifacts": loc.artifact_root, "source": loc.source})


class ExperimentsHandler(MlopsHandler):
    @web.authenticated
    async def get(self) -> None:
        experiments = await self.call(self.client.list_experiments)
        self.reply({"experiments": [e.to_dict() for e in experiments]})


class RunsHandler(MlopsHandler):
    @web.authenticated
    async def get(self) -> None:
        params = self.list_arg("params") or None
        metrics = self.list_arg("metrics") or None
        page = await self.call(
            self.client.search_runs_page,
            experiment=self.list_arg("experiment") or None,
            filter=self.text_arg("filter"),
            order_by=self.list_arg("order_by", 10),
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
    async def get(self, run_id: str) -> None:
        run = (await self.call(self.client.get_run, run_id)).to_dict()
        run["info"]["notebook_api_path"] = relative_to_root(run["info"]["notebook_path"], self.root)
        self.reply(run)


class MetricHistoryHandler(MlopsHandler):
    @web.authenticated
    async def get(self, run_id: str, key: str) -> None:
        key = urllib.parse.unquote(key)
        max_points = self.int_arg("max_points", 1000, 10, 100_000)
        self.reply(await self.call(self.client.get_metric_series, run_id, key, max_points))


class CompareHandler(MlopsHandler):
    @web.authenticated
    async def get(self) -> None:
        ids = self.list_arg("runs", 50)
        if len(ids) < 2:
            raise InvalidInput("compare needs at least two run ids: ?runs=a,b")
        runs = await self.call(lambda: [self.client.get_run(r) for r in ids])
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
    async def get(self) -> None:
        name = self.text_arg("name", 256)
        versions = await self.call(self.client.list_datasets, name)
        self.reply({"datasets": [d.to_dict() for d in versions]})


class LineageHandler(MlopsHandler):
    @web.authenticated
    async def get(self, ref: str) -> None:
        self.reply(await self.call(self.client.dataset_lineage, urllib.parse.unquote(ref)))


def artifact_path(raw: str) -> str:
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
    async def get(self, run_id: str, path: str) -> None:
        logical = artifact_path(path)

        artifact, data = await self.call(self.client.fetch_artifact, run_id, logical)
        self.set_header("X-Content-Type-Options", "nosniff")
        # Always a download: an HTML artifact must never render in the lab's origin.
        name = urllib.parse.quote(logical.rsplit("/", 1)[-1])
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{name}")
        # APIHandler.finish labels every reply JSON unless told otherwise.
        self.finish(data, set_content_type=content_type(artifact, data[:512]))


class ChangesHandler(MlopsHandler):
    """A cheap token that changes when runs are added or end, for polling panels."""

    @web.authenticated
    async def get(self) -> None:
        self.reply({"token": await self.call(self.client.change_token)})


def routes(prefix: str) -> list[tuple[str, type[MlopsHandler]]]:
    run = rf"(?P<run_id>{ID_PREFIX_PATTERN})"
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
