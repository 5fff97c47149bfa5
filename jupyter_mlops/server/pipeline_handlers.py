"""REST routes of the Pipelines tab: pipelines in the workspace, their runs, schedules.

Pipeline files are named by their path relative to the server's root folder, like the
contents API; a path that leaves the root is refused. A run started here is its own process
(``jupyter-mlops pipelines run``), so it goes on if the lab is closed; its executed notebooks
are written beside the pipeline file (``output/<run id>/``) where the lab can open them, also
while a step runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tornado import web

from ..exceptions import InvalidInput, NotFound
from ..pipelines import Pipeline, history
from ..pipelines.runner import PATH_TAG, check_resumable
from ..pipelines.scheduler import add_schedule, launch_pipeline, schedule_dict, set_schedule_enabled
from ..views import relative_to_root
from .handlers import MlopsHandler


class PipelineHandler(MlopsHandler):
    def pipeline_file(self, api_path: Any) -> Path:
        """The file behind an API path, which must stay inside the root and exist."""
        if not isinstance(api_path, str) or not api_path.strip():
            raise InvalidInput("'path' must be the pipeline file's path, e.g. 'pipelines/x.yaml'")
        if "\\" in api_path or "\x00" in api_path:
            raise InvalidInput(f"invalid pipeline path {api_path!r}")
        file = (self.root / api_path.lstrip("/")).resolve()
        try:
            file.relative_to(self.root)
        except ValueError:
            raise InvalidInput(f"pipeline path {api_path!r} is outside the server's root") from None
        if not file.is_file():
            raise NotFound(f"no pipeline file {api_path!r}")
        return file

    def body(self) -> dict[str, Any]:
        try:
            data = self.get_json_body() or {}
        except web.HTTPError:
            raise InvalidInput("the request body must be a JSON object") from None
        if not isinstance(data, dict):
            raise InvalidInput("the request body must be a JSON object")
        return data

    def mapping(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise InvalidInput(f"{key!r} must be an object of name: value")
        return value

    def schedule_reply(self, row: dict[str, Any]) -> dict[str, Any]:
        row = dict(row)
        row["path"] = relative_to_root(row["path"], self.root) or row["path"]
        return row


class PipelinesHandler(PipelineHandler):
    @web.authenticated
    def get(self) -> None:
        self.reply({"pipelines": history.discover_pipelines(self.root)})


class PipelineRunsHandler(PipelineHandler):
    @web.authenticated
    def get(self) -> None:
        path = self.get_argument("path", None)
        file = self.pipeline_file(path) if path else None
        limit = self.int_arg("limit", 20, 1, 500)
        runs = history.pipeline_runs(self.client, path=file, limit=limit, root=self.root)
        self.reply({"runs": runs})

    @web.authenticated
    def post(self) -> None:
        data = self.body()
        file = self.pipeline_file(data.get("path"))
        params = self.mapping(data, "params")
        from_step = data.get("from_step") or None
        if from_step is not None and not isinstance(from_step, str):
            raise InvalidInput("'from_step' must be a step name")
        # Refuse now what the run would refuse in its process: a bad parameter, a cycle...
        pipeline = Pipeline.from_yaml(file).with_params(params)
        pipeline.validate()
        if from_step:
            pipeline.step(from_step)
        force = data.get("force", False)
        if not isinstance(force, bool):
            raise InvalidInput("'force' must be true or false")
        run_id = launch_pipeline(self.client, file, params=params, force=force, from_step=from_step)
        self.set_status(202)
        self.reply({"run_id": run_id})


class PipelineRunHandler(PipelineHandler):
    @web.authenticated
    def get(self, run_id: str) -> None:
        run = self.client.get_run(run_id)
        self.reply(history.pipeline_run_dict(self.client, run, self.root))


class PipelineResumeHandler(PipelineHandler):
    @web.authenticated
    def post(self, run_id: str) -> None:
        run = self.client.get_run(run_id)
        check_resumable(run)
        path = run.tags.get(PATH_TAG)
        if not path or not Path(path).is_file():
            raise NotFound(f"the pipeline file of run {run.id[:8]} is gone ({path})")
        new = launch_pipeline(self.client, path, params=None, resume=run.id)
        self.set_status(202)
        self.reply({"run_id": new})


class SchedulesHandler(PipelineHandler):
    @web.authenticated
    def get(self) -> None:
        path = self.get_argument("path", None)
        file = str(self.pipeline_file(path)) if path else None
        rows = self.client.store.list_schedules(file)
        self.reply({"schedules": [self.schedule_reply(schedule_dict(r)) for r in rows]})

    @web.authenticated
    def post(self) -> None:
        data = self.body()
        file = self.pipeline_file(data.get("path"))
        for key in ("cron", "timezone", "dataset", "missed"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise InvalidInput(f"{key!r} must be a string")
        if not isinstance(data.get("enabled", True), bool):
            raise InvalidInput("'enabled' must be true or false")
        row = add_schedule(
            self.client,
            file,
            cron=data.get("cron") or None,
            timezone=data.get("timezone") or "UTC",
            dataset=data.get("dataset") or None,
            params=self.mapping(data, "params"),
            missed=data.get("missed") or "skip",
            enabled=data.get("enabled", True),
        )
        self.set_status(201)
        self.reply(self.schedule_reply(row))


class ScheduleHandler(PipelineHandler):
    @web.authenticated
    def patch(self, schedule_id: str) -> None:
        data = self.body()
        if not isinstance(data.get("enabled"), bool):
            raise InvalidInput("send {'enabled': true} or {'enabled': false}")
        row = set_schedule_enabled(self.client, schedule_id, data["enabled"])
        self.reply(self.schedule_reply(row))

    @web.authenticated
    def delete(self, schedule_id: str) -> None:
        self.client.store.delete_schedule(schedule_id)
        self.set_status(204)
        self.finish()


def pipeline_routes(prefix: str) -> list[tuple[str, type[MlopsHandler]]]:
    run = r"(?P<run_id>[0-9a-fA-F]{1,32})"
    schedule = r"(?P<schedule_id>[0-9a-fA-F]{1,32})"
    return [
        (rf"/{prefix}/pipelines", PipelinesHandler),
        (rf"/{prefix}/pipelines/runs", PipelineRunsHandler),
        (rf"/{prefix}/pipelines/runs/{run}", PipelineRunHandler),
        (rf"/{prefix}/pipelines/runs/{run}/resume", PipelineResumeHandler),
        (rf"/{prefix}/schedules", SchedulesHandler),
        (rf"/{prefix}/schedules/{schedule}", ScheduleHandler),
    ]
