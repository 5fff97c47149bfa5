"""REST routes of a model's continuous training in the Models tab: its policy (read, set as
YAML or an object, removed), its loops with the candidate waiting for approval and the
rollout under way, each loop's timeline, and the cancel of a rollout.

A policy is set through ``automation.policy.set_policy`` (its fields and its pipeline are
checked, the change is audited, the actor is the Jupyter user). Its pipeline is named like
the Pipelines tab names files: relative to the server's root folder, and one that resolves
outside the root (or whose notebooks do) is refused, as ``POST pipelines/runs`` refuses it.
The replies name the pipeline relative to the root too, so the YAML the panel shows is the
YAML it can save back. Every number JSON cannot carry (NaN, ±inf) is sent as null.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tornado import web

from ..client.ct_config import CtPolicy, compact
from ..client.registry import shown_gate_report
from ..exceptions import InvalidInput, NotFound, shown
from ..paths import MAX_PATH, existing_file, relative_to_root
from .monitoring_handlers import finite
from .registry_handlers import RegistryHandler

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import CtLoop

# The loops GET .../ct lists (newest first), and how many active ones are looked through
# for the one waiting for approval.
LOOPS_SHOWN = 20
ACTIVE_LOOPS = 50
MAX_TIMELINES = 50
_MAX_LOOP_ARG = 64
_CANCELLED = "cancelled from the lab"


def _shown_policy(policy: CtPolicy | None, root: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A stored policy as the panel shows it (its pipeline relative to the root when it is
    inside), as a dict and as YAML text."""
    if policy is None:
        return None, None
    import yaml

    data = policy.to_dict()
    data["pipeline"] = relative_to_root(policy.pipeline, root) or policy.pipeline
    return data, yaml.safe_dump(compact(data), sort_keys=False, allow_unicode=True)


def _gate_report(client: Client, name: str, version: int | None) -> dict[str, Any] | None:
    """The report a promotion of ``version`` would rely on (made for its bytes and the
    current gates), else its newest one; None when it has none (or is gone)."""
    if version is None:
        return None
    try:
        model = client.get_registered_model(name)
        found = client.get_model_version(name, version)
        report, _ = shown_gate_report(model, found, client.get_gate_reports(name, version))
    except NotFound:
        return None
    return None if report is None else report.to_dict()


def _pending(client: Client, name: str, policy: CtPolicy | None) -> dict[str, Any] | None:
    """The loop whose candidate waits for approval, with both versions' gate reports."""
    from ..automation.promote import approvals_missing, holder_of

    waiting: CtLoop | None = next(
        (
            loop
            for loop in client.list_ct_loops(name, limit=ACTIVE_LOOPS, active=True)
            if loop.state == "approval"
        ),
        None,
    )
    if waiting is None:
        return None
    champion = waiting.champion
    if policy is not None:
        holder = holder_of(client, name, policy.promote.to)
        champion = None if holder is None else holder.version
    candidate = waiting.candidate
    missing = None
    approvals: list[dict[str, Any]] = []
    if candidate is not None:
        try:
            missing = approvals_missing(client, name, candidate)
            approvals = [a.to_dict() for a in client.get_model_approvals(name, candidate)]
        except NotFound:  # the candidate was deleted while it waited
            missing = None
    return {
        "loop": waiting.to_dict(),
        "candidate": {
            "version": candidate,
            "gate_report": _gate_report(client, name, candidate),
            "approvals": approvals,
            "approvals_missing": missing,
        },
        "champion": {"version": champion, "gate_report": _gate_report(client, name, champion)},
        "to": None if policy is None else policy.promote.to,
    }


def ct_state(client: Client, name: str, root: Path) -> dict[str, Any]:
    """``name``'s policy, newest loops, active rollout and the candidate waiting for
    approval (404 for an unknown model)."""
    model = client.get_registered_model(name)
    policy = client.get_ct_policy(model.name)
    shown_policy, text = _shown_policy(policy, root)
    rollout = client.active_rollout(model.name)
    return finite(
        {
            "policy": shown_policy,
            "policy_yaml": text,
            "loops": [
                loop.to_dict() for loop in client.list_ct_loops(model.name, limit=LOOPS_SHOWN)
            ],
            "rollout": None if rollout is None else rollout.to_dict(),
            "pending": _pending(client, model.name, policy),
        }
    )


def pipeline_inside(root: Path, pipeline: str) -> Path:
    """The policy's pipeline file (relative to ``root``, or absolute), which must resolve
    inside ``root`` and exist."""
    if len(pipeline) > MAX_PATH or "\x00" in pipeline or "\\" in pipeline:
        raise InvalidInput(f"invalid pipeline path {shown(pipeline)}")
    try:
        base = root.resolve()
        path = Path(pipeline).expanduser()
        file = (path if path.is_absolute() else base / path).resolve()
    except (OSError, RuntimeError, ValueError):
        raise InvalidInput(f"invalid pipeline path {shown(pipeline)}") from None
    if base not in file.parents:
        raise InvalidInput(
            f"the policy's pipeline {shown(pipeline)} is outside the server's root: name a "
            "pipeline.yaml under the folder the lab serves (relative to it)"
        )
    return existing_file(file, "pipeline file")


def parse_policy(policy: Any) -> CtPolicy:
    """A policy sent as YAML text or as an object, checked field by field."""
    if not isinstance(policy, str | dict):
        raise InvalidInput(f"'policy' must be YAML text or an object, got {shown(policy)}")
    return CtPolicy.from_dict(policy)


class CtHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        self.reply(await self.call(ct_state, self.client, name, self.root))

    @web.authenticated
    async def put(self, name: str) -> None:
        from ..automation.policy import set_policy

        data = self.fields(("policy", "reason"), ("policy",))
        reason = self.text(data, "reason")
        root = self.root

        def store(client: Client, actor: str) -> dict[str, Any]:
            model = client.get_registered_model(name)
            parsed = parse_policy(data["policy"])
            pipeline_inside(root, parsed.pipeline)
            set_policy(
                client, model.name, parsed, base_dir=root, root=root, reason=reason, actor=actor
            )
            return ct_state(client, model.name, root)

        self.reply(await self.call(store, self.client, self.actor))

    @web.authenticated
    async def delete(self, name: str) -> None:
        reason = self.text_arg("reason", 10_000)

        def remove(client: Client, actor: str) -> None:
            model = client.get_registered_model(name)
            client.set_ct_policy(model.name, None, reason=reason, actor=actor)

        await self.call(remove, self.client, self.actor)
        self.set_status(204)
        self.finish()


class TimelineHandler(RegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        from ..automation.timeline import timelines

        limit = self.int_arg("limit", 5, 1, MAX_TIMELINES)
        loop_id = self.text_arg("loop", _MAX_LOOP_ARG) or None

        def read(client: Client) -> list[dict[str, Any]]:
            model = client.get_registered_model(name)
            found = timelines(client, model.name, loop_id=loop_id, limit=limit)
            return [t.to_dict() for t in found]

        self.reply({"timelines": finite(await self.call(read, self.client))})


class RolloutCancelHandler(RegistryHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        data = self.fields(("reason",))
        reason = self.text(data, "reason") or _CANCELLED

        def cancel(client: Client, actor: str) -> dict[str, Any]:
            from ..automation.rollout import cancel as cancel_rollout

            model = client.get_registered_model(name)
            ended = cancel_rollout(client, model.name, reason, actor=actor)
            if ended is None:
                raise NotFound(f"Model {shown(model.name)} has no rollout under way.")
            return finite(ended.to_dict())

        self.reply(await self.call(cancel, self.client, self.actor))


def ct_routes(prefix: str) -> list[tuple[str, type[RegistryHandler]]]:
    model = rf"/{prefix}/models/(?P<name>[^/]+)"
    return [
        (rf"{model}/ct", CtHandler),
        (rf"{model}/timeline", TimelineHandler),
        (rf"{model}/rollout/cancel", RolloutCancelHandler),
    ]
