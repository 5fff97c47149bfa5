"""REST routes of the Pipelines tab: pipelines in the workspace, their runs, schedules.

Pipeline files are named by their path relative to the server's root folder, like the
contents API; a path that leaves the root is refused, and so is a pipeline whose notebooks
resolve outside it (the lab may only run what it serves). A run started here is its own
process (``jupyter-mlops pipelines run``), so it goes on if the lab is closed; its executed
notebooks are written beside the pipeline file (``output/<run id>/``) where the lab can open
them, also while a step runs. The run's options (executor, workers, ...) are the same
:class:`~jupyter_mlops.pipelines.options.RunOptions` the CLI and the scheduler use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tornado import web

from ..entities import ID_PREFIX_PATTERN, Schedule
from ..exceptions import InvalidInput, NotFound
from ..paths import existing_file, relative_to_root, resolve_inside
from ..pipelines import Pipeline, RunOptions, history, records
from ..pipelines.executors import validated
from ..pipelines.launch import launch_pipeline
from ..pipelines.options import EXECUTION_FIELDS, rest_fields
from ..pipelines.scheduler import schedule_pipeline
from .base import MlopsHandler

# What a POST schedules body may hold: the schedule's own fields, and the run options a
# REST client may set that a schedule keeps (its parameters and how it executes).
_SCHEDULE_KEYS = ("path", "cron", "timezone", "dataset", "missed", "enabled")
_SCHEDULE_OPTIONS = tuple(f for f in rest_fields() if f == "params" or f in EXECUTION_FIELDS)


class PipelineHandler(MlopsHandler):
    def pipeline_file(self, api_path: Any) -> Path:
        """The file behind an API path, which must stay inside the root and exist."""
        return existing_file(resolve_inside(self.root, api_path, "path"), "pipeline file")

    def run_options(self, data: dict[str, Any], allowed: tuple[str, ...] | list[str]) -> RunOptions:
        """Run options from a request body, confined to the server's root."""
        options = RunOptions.from_json(
            {k: v for k, v in data.items() if k in allowed}, allowed=allowed, root=str(self.root)
        )
        return validated(options)

    def schedule_reply(self, schedule: Schedule) -> dict[str, Any]:
        row = schedule.to_dict()
        row["path"] = relative_to_root(row["path"], self.root) or row["path"]
        row["options"] = {k: v for k, v in row["options"].items() if k != "root"}
        return row


class PipelinesHandler(PipelineHandler):
    @web.authenticated
    async def get(self) -> None:
        self.reply({"pipelines": await self.call(history.discover_pipelines, self.root)})


class PipelineRunsHandler(PipelineHandler):
    @web.authenticated
    async def get(self) -> None:
        path = self.text_arg("path", 4096)
        limit = self.int_arg("limit", 20, 1, 500)

        def runs() -> list[dict[str, Any]]:
            file = self.pipeline_file(path) if path else None
            return history.pipeline_runs(self.client, path=file, limit=limit, root=self.root)

        self.reply({"runs": await self.call(runs)})

    @web.authenticated
    async def post(self) -> None:
        data = self.json_body()
        unknown = set(data) - {"path", *rest_fields()}
        if unknown:
            raise InvalidInput(
                f"unknown field(s) {', '.join(sorted(unknown))}; send path and any of "
                f"{', '.join(rest_fields())}"
            )

        def launch() -> str:
            file = self.pipeline_file(data.get("path"))
            options = self.run_options(data, rest_fields())
            # Refuse now what the run would refuse in its process: a bad parameter, a cycle,
            # a notebook outside the root...
            pipeline = Pipeline.from_yaml(file).with_params(options.params)
            pipeline.validate(root=self.root)
            if options.from_step:
                pipeline.step(options.from_step)
            return launch_pipeline(self.client, file, options)

        self.reply({"run_id": await self.call(launch)}, status=202)


class PipelineRunHandler(PipelineHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        def run() -> dict[str, Any]:
            found = self.client.get_run(run_id)
            return history.pipeline_run_dict(self.client, found, self.root)

        self.reply(await self.call(run))


class PipelineResumeHandler(PipelineHandler):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        data = self.json_body()
        if data:
            raise InvalidInput("resume takes no options: send {} or nothing")

        def resume() -> str:
            run = self.client.get_run(run_id)
            records.check_resumable(run)
            path = records.pipeline_path(run)
            if not path:
                raise NotFound(f"run {run.id[:8]} does not say which pipeline file it ran")
            inside = relative_to_root(path, self.root)  # resolved: links and '..' followed
            if inside is None:
                raise InvalidInput(f"run {run.id[:8]} ran a pipeline outside the server's root")
            file = existing_file(self.root / inside, "pipeline file")
            Pipeline.from_yaml(file).validate(root=self.root)
            # Executed as the failed run was (its executor, scheduler and workers).
            options = RunOptions.from_json(
                records.run_options(run),
                allowed=EXECUTION_FIELDS,
                resume=run.id,
                root=str(self.root),
            )
            return launch_pipeline(self.client, file, options)

        self.reply({"run_id": await self.call(resume)}, status=202)


class SchedulesHandler(PipelineHandler):
    @web.authenticated
    async def get(self) -> None:
        path = self.text_arg("path", 4096)

        def schedules() -> list[Schedule]:
            file = str(self.pipeline_file(path)) if path else None
            return self.client.list_schedules(file)

        self.reply({"schedules": [self.schedule_reply(s) for s in await self.call(schedules)]})

    @web.authenticated
    async def post(self) -> None:
        data = self.json_body()
        unknown = set(data) - {*_SCHEDULE_KEYS, *_SCHEDULE_OPTIONS}
        if unknown:
            raise InvalidInput(
                f"unknown field(s) {', '.join(sorted(unknown))}; send "
                f"{', '.join((*_SCHEDULE_KEYS, *_SCHEDULE_OPTIONS))}"
            )
        for key in ("cron", "timezone", "dataset", "missed"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise InvalidInput(f"{key!r} must be a string")
        if not isinstance(data.get("enabled", True), bool):
            raise InvalidInput("'enabled' must be true or false")

        def create() -> Schedule:
            file = self.pipeline_file(data.get("path"))
            return schedule_pipeline(
                self.client,
                file,
                cron=data.get("cron") or None,
                timezone=data.get("timezone") or "UTC",
                dataset=data.get("dataset") or None,
                options=self.run_options(data, _SCHEDULE_OPTIONS),
                missed=data.get("missed") or "skip",
                enabled=data.get("enabled", True),
            )

        self.reply(self.schedule_reply(await self.call(create)), status=201)


class ScheduleHandler(PipelineHandler):
    @web.authenticated
    async def patch(self, schedule_id: str) -> None:
        data = self.json_body()
        if set(data) != {"enabled"} or not isinstance(data["enabled"], bool):
            raise InvalidInput("send {'enabled': true} or {'enabled': false}")
        schedule = await self.call(self.client.set_schedule_enabled, schedule_id, data["enabled"])
        self.reply(self.schedule_reply(schedule))

    @web.authenticated
    async def delete(self, schedule_id: str) -> None:
        await self.call(self.client.delete_schedule, schedule_id)
        self.set_status(204)
        self.finish()


def pipeline_routes(prefix: str) -> list[tuple[str, type[MlopsHandler]]]:
    run = rf"(?P<run_id>{ID_PREFIX_PATTERN})"
    schedule = rf"(?P<schedule_id>{ID_PREFIX_PATTERN})"
    return [
        (rf"/{prefix}/pipelines", PipelinesHandler),
        (rf"/{prefix}/pipelines/runs", PipelineRunsHandler),
        (rf"/{prefix}/pipelines/runs/{run}", PipelineRunHandler),
        (rf"/{prefix}/pipelines/runs/{run}/resume", PipelineResumeHandler),
        (rf"/{prefix}/schedules", SchedulesHandler),
        (rf"/{prefix}/schedules/{schedule}", ScheduleHandler),
    ]
