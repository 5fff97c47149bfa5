"""Deploy the best candidate: run the gates on each candidate version, pick the best that
passes by the policy's metric, and promote it as the model's policy says (at once, through
a shadow or canary rollout, or after approvals). Every step lands on the model's timeline,
the decision on the registry's audit.

Used three ways: ``mlops.promote_best(...)`` in a notebook, the declarative ``promote:`` step
of a ``pipeline.yaml`` (:func:`promote_step`), and the continuous-training controller when
a retraining pipeline ends without deciding.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..client.ct_config import PromotePolicy, RolloutPolicy
from ..client.gates import METRICS
from ..client.registry import shown_gate_report
from ..config import PARENT_RUN_ENV
from ..entities import CtLoop, ModelVersion
from ..exceptions import Conflict, InvalidInput, NotFound, shown
from ..pipelines import records

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import GateReport
    from ..pipelines.actions import ActionContext

ACTOR = "continuous training"


@dataclass
class Candidate:
    version: int
    passed: bool
    value: float | None  # the policy's metric on the holdout
    report: str | None  # the gate report's sha256
    failed: list[str] = field(default_factory=list)  # why it did not pass
    champion_value: float | None = None  # the champion's metric on the same holdout
    reused: bool = False  # its report judged the same bytes before: no gate ran this time


@dataclass
class Decision:
    """What :func:`promote_best` decided, and what it did about it."""

    name: str
    action: str  # promoted, rollout, awaiting_approval, kept, dry_run
    metric: str
    chosen: int | None
    champion: int | None
    candidates: list[Candidate]
    reason: str
    loop_id: str | None = None
    rollout_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        lines = [f"{self.name}: {self.action} — {self.reason}"]
        for c in self.candidates:
            value = "n/a" if c.value is None else f"{c.value:.4f}"
            mark = "passed" if c.passed else "failed: " + "; ".join(c.failed)
            lines.append(f"  version {c.version}: {self.metric} {value}, {mark}")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def holder_of(client: Client, name: str, to: str) -> ModelVersion | None:
    """The version holding a stage (the newest in it) or an alias (``@champion``) now."""
    try:
        if to.startswith("@"):
            return client.get_model_version_by_alias(name, to[1:])
        return client.resolve_model_uri(f"models:/{name}/{to}")
    except NotFound:
        return None


def pipeline_run_of(client: Client, run_id: str) -> str:
    """The pipeline run above ``run_id`` (a cell's run → its step's run → the pipeline's)."""
    current = client.read_run(run_id)
    for _ in range(3):
        if records.is_pipeline_run(current):
            return current.id
        parent = current.info.parent_run_id
        if not parent:
            break
        current = client.read_run(parent)
    return current.id


def versions_of_runs(client: Client, name: str, run_ids: set[str]) -> list[ModelVersion]:
    """``name``'s versions registered from models logged by these runs."""
    return [v for v in client.search_model_versions(name) if v.run_id in run_ids]


def descendants(client: Client, run_id: str) -> set[str]:
    """``run_id`` and every run under it (steps, their attempts, their tracked cells)."""
    seen = {run_id}
    todo = [run_id]
    while todo:
        for child in client.child_runs(todo.pop()):
            if child.id not in seen:
                seen.add(child.id)
                todo.append(child.id)
    return seen


def _check_value(report: GateReport, metric: str, of: str) -> float | None:
    """The value a report's checks measured of ``metric`` for the ``candidate`` (a
    threshold's check, or the champion gate's candidate row) or for the ``champion``."""
    for gate in report.gates:
        if of == "champion" and gate.get("gate") != "champion":
            continue
        for check in gate.get("checks", []):
            name = str(check.get("name", ""))
            if (
                name.startswith(f"{metric} (champion")
                if of == "champion"
                else name in (metric, f"{metric} (candidate)")
            ):
                value = check.get("value")
                return None if value is None else float(value)
    return None


def _reusable(client: Client, name: str, version: int, holdout: Any) -> GateReport | None:
    """A report that already judged this version's bytes with the current configuration, on
    the same holdout (its fingerprint, when one is given) and against the champion in
    Production now: judging it again would say the same."""
    if holdout is None:
        report = client.reusable_gate_report(name, version)
    else:
        if isinstance(holdout, str | os.PathLike):
            from ..data.files import path_fingerprint

            wanted = path_fingerprint(holdout)
        else:
            from ..data import fingerprint

            wanted = fingerprint(holdout)
        same_data = [
            r
            for r in client.get_gate_reports(name, version)
            if (r.report.get("holdout") or {}).get("fingerprint") == wanted
        ]
        model = client.get_registered_model(name)
        found, current = shown_gate_report(
            model, client.get_model_version(name, version), same_data
        )
        report = found if current else None
    if report is None:
        return None
    champion = next((g for g in report.gates if g.get("gate") == "champion"), None)
    if champion is not None and "champion" in champion:
        holder = holder_of(client, name, "Production")
        if champion.get("champion") != (None if holder is None else holder.version):
            return None
    return report


def _judge(
    client: Client, name: str, version: int, metric: str, holdout: Any, progress: bool
) -> Candidate:
    report = _reusable(client, name, version, holdout)
    reused = report is not None
    if report is None:
        from ..registry.gates import validate  # numpy and the sandbox: only when judging

        report = validate(client, name, version, holdout=holdout, progress=progress, actor=ACTOR)
    failed = [
        f"{g['gate']}: {g.get('summary', '')}".rstrip(": ")
        for g in report.gates
        if not g.get("passed")
    ]
    value = _check_value(report, metric, "candidate")
    if value is None or not math.isfinite(value):
        failed.append(f"the gates did not measure {metric}")
    champion = _check_value(report, metric, "champion")
    return Candidate(version, not failed, value, report.sha256, failed, champion, reused)


def _judged_text(judged: list[Candidate], metric: str) -> str:
    """What the gates said of each candidate, in a line: ``v2 passed (accuracy 0.87); v3
    failed (champion: significantly worse)``."""
    if not judged:
        return "no new candidate was registered"
    parts = []
    for c in judged:
        value = "" if c.value is None else f"{metric} {c.value:.4f}"
        if c.passed:
            report = f"report {str(c.report)[:8]}{', reused' if c.reused else ''}"
            parts.append(f"v{c.version} passed ({value}; {report})")
        else:
            why = c.failed[0][:120] if c.failed else "failed"
            parts.append(f"v{c.version} failed ({why}{'; ' + value if value else ''})")
    return "gates: " + "; ".join(parts)


def _score(value: float | None, higher: bool) -> float:
    """``value`` oriented so that larger is better (a missing value is the worst)."""
    if value is None:
        return -math.inf
    return value if higher else -value


def choose_metric(client: Client, name: str, metric: str | None) -> str:
    """The metric candidates are ranked by: given, else the gates' champion metric, else
    the first thresholded one. The gates must measure it."""
    gates = client.get_registered_model(name).gates
    if not gates:
        raise InvalidInput(
            f"Model {shown(name)} has no gates: the best candidate is the best that passes "
            f"them. Configure them first (jupyter-mlops models gates {name} --set gates.yaml)."
        )
    measured = list((gates.get("metrics") or {}).keys())
    if gates.get("champion"):
        measured.insert(0, gates["champion"]["metric"])
    chosen = metric or (measured[0] if measured else None)
    if chosen is None or chosen not in measured:
        raise InvalidInput(
            f"The gates of {shown(name)} do not measure {shown(chosen)}: rank by one of "
            f"{', '.join(measured) or '(none: add metrics or champion to the gates)'}."
        )
    if chosen not in METRICS:
        raise InvalidInput(f"Unknown metric {shown(chosen)}.")
    return chosen


def promote_best(
    client: Client,
    name: str,
    versions: Sequence[int | str] | None = None,
    *,
    run_id: str | None = None,
    metric: str | None = None,
    holdout: Any = None,
    mode: str | None = None,
    to: str | None = None,
    rollout: Mapping[str, Any] | None = None,
    dry_run: bool | None = None,
    loop: CtLoop | None = None,
    progress: bool = False,
    actor: str | None = None,
    why: str | None = None,
) -> Decision:
    """Validate each candidate version of ``name`` with its gates, pick the best that passes
    by ``metric`` and promote it according to the model's continuous-training policy (or
    the arguments, which win): ``mode`` auto or approval, ``to`` a stage or ``@alias``,
    ``rollout`` ``{mode: direct|shadow|canary, ...}``.

    Candidates: ``versions``; else the versions registered from runs of the pipeline run
    ``run_id`` (default: the pipeline run this notebook is a step of). The champion (the
    version holding ``to``) is kept when no candidate passes; the reason is recorded.
    Returns the :class:`Decision`; it is on the model's timeline and the registry's audit,
    except a promotion asked for by hand (no ``loop``) that keeps the champion on verdicts
    all given before: nothing changed, so nothing is recorded.
    """
    policy = client.get_ct_policy(name)
    promote = policy.promote if policy is not None else PromotePolicy()
    if mode is not None or to is not None or metric is not None:
        promote = PromotePolicy.from_dict(
            {
                "mode": mode or promote.mode,
                "to": to or promote.to,
                "metric": metric or promote.metric,
            }
        )
    plan = policy.rollout if policy is not None else RolloutPolicy()
    if rollout is not None:
        plan = RolloutPolicy.from_dict(rollout)
    dry = bool(policy.guardrails.dry_run if dry_run is None and policy is not None else dry_run)
    chosen_metric = choose_metric(client, name, promote.metric)
    if versions is None:
        top = run_id or os.environ.get(PARENT_RUN_ENV)
        if not top:
            raise InvalidInput(
                "Name the candidates (versions=[...]) or the pipeline run that registered "
                "them (run_id=...); outside a pipeline step there is no run to look in."
            )
        pipeline_run = pipeline_run_of(client, top)
        found = versions_of_runs(client, name, descendants(client, pipeline_run))
        numbers = [v.version for v in found]
        loop = loop or client.ct_loop_of_run(pipeline_run)
    else:
        numbers = [client.get_model_version(name, v).version for v in versions]
    champion = holder_of(client, name, promote.to)
    champion_number = None if champion is None else champion.version
    judged = [
        _judge(client, name, n, chosen_metric, holdout, progress)
        for n in sorted(set(numbers))
        if n != champion_number
    ]
    higher = METRICS[chosen_metric]
    passing = [c for c in judged if c.passed and c.value is not None]
    best = max(passing, key=lambda c: _score(c.value, higher)) if passing else None
    decision = Decision(
        name=name,
        action="kept",
        metric=chosen_metric,
        chosen=None if best is None else best.version,
        champion=champion_number,
        candidates=judged,
        reason="",
    )
    if best is None:
        decision.reason = (
            f"no candidate passed the gates; version {champion_number} stays"
            if judged
            else f"no new candidate; version {champion_number} stays"
        )
    elif best.champion_value is not None and _score(best.value, higher) <= _score(
        best.champion_value, higher
    ):
        decision.chosen = None
        decision.reason = (
            f"the best candidate, version {best.version} ({chosen_metric} {best.value:.4f}), "
            f"does not beat version {champion_number} ({best.champion_value:.4f}) on the "
            "holdout; the champion stays"
        )
    if decision.chosen is None and loop is None and all(c.reused for c in judged):
        # Asked by hand, and every verdict is one given before (the same bytes, gates,
        # holdout and champion): the registry's answer has not changed, so no loop is
        # recorded for it (an unchanged pipeline re-run would add one to the timeline
        # each time). The decision still says why the champion stays.
        decision.reason += " (nothing new: every verdict is one given before)"
        return decision
    loop = loop or _manual_loop(client, name, run_id, dry, why)
    decision.loop_id = loop.id
    client.update_ct_loop(
        loop.id,
        (loop.state,),
        step="candidates",
        summary=_judged_text(judged, chosen_metric),
        detail={
            "metric": chosen_metric,
            "candidates": [asdict(c) for c in judged],
            "champion": champion_number,
        },
    )
    if best is None or decision.chosen is None:
        _end(client, loop, decision, "done", "kept", actor)
        return decision
    value = f"{chosen_metric} {best.value:.4f}"
    if dry:
        decision.action = "dry_run"
        decision.reason = (
            f"dry run: version {best.version} ({value}) would be promoted to {promote.to} "
            f"({promote.mode}, rollout {plan.mode})"
        )
        _end(client, loop, decision, "dry_run", "would_promote", actor)
        return decision
    if promote.mode == "approval" and approvals_missing(client, name, best.version):
        decision.action = "awaiting_approval"
        decision.reason = (
            f"version {best.version} ({value}) passed the gates and waits for approval "
            f"(jupyter-mlops models approve {name} {best.version})"
        )
        _decide(client, loop, decision, "approval", "awaiting approval", actor, best.report)
        return decision
    return deploy(client, loop, decision, best, promote, plan, value, actor)


def approvals_missing(client: Client, name: str, version: int) -> bool:
    """Whether a candidate promoted ``approval``-style still waits: it needs the model's
    required approvals, and at least one, by someone other than who registered it."""
    model = client.get_registered_model(name)
    found = client.get_model_version(name, version)
    approvers = {a.actor for a in client.get_model_approvals(name, version)} - {found.created_by}
    return len(approvers) < max(1, model.required_approvals)


def deploy(
    client: Client,
    loop: CtLoop,
    decision: Decision,
    best: Candidate,
    promote: PromotePolicy,
    plan: RolloutPolicy,
    value: str,
    actor: str | None,
) -> Decision:
    """Promote the chosen candidate: at once (``direct``), or put it on trial beside the
    champion (shadow, canary) for the controller to finish or roll back."""
    name = decision.name
    who = actor or ACTOR
    if plan.mode == "direct" or decision.champion is None:
        # (a trial needs a champion to run beside: without one the candidate goes in directly)
        move_to(client, name, best.version, promote.to, f"best candidate ({value})", who)
        decision.action = "promoted"
        decision.reason = (
            f"version {best.version} ({value}) passed the gates and was promoted to "
            f"{promote.to}, replacing version {decision.champion}"
            if decision.champion is not None
            else f"version {best.version} ({value}) passed the gates and was promoted to "
            f"{promote.to}, the first to hold it"
        )
        _end(client, loop, decision, "done", "promoted", actor, best.report)
        return decision
    other = client.active_rollout(name)
    if other is not None:
        decision.chosen = None
        decision.reason = (
            f"version {best.version} ({value}) passed the gates, but version {other.candidate} "
            "is on trial already; the champion stays (end that trial, then promote again)"
        )
        _end(client, loop, decision, "done", "kept", actor)
        return decision
    decision.action = "rollout"
    decision.reason = (
        f"version {best.version} ({value}) passed the gates; on trial ({plan.mode}) beside "
        f"version {decision.champion} before it takes {promote.to}"
    )
    _decide(client, loop, decision, "rollout", plan.mode, who, best.report)
    try:
        started = client.start_rollout(
            name,
            best.version,
            mode=plan.mode,
            share=plan.share,
            target=promote.to,
            criteria=asdict(plan),
            champion=decision.champion,
            loop_id=loop.id,
            reason=decision.reason,
            actor=who,
        )
    except Conflict as exc:  # another trial started in between
        client.update_ct_loop(
            loop.id, ("rollout",), step="ended", summary=f"the trial could not start: {exc}",
            state="done", outcome="kept", reason=exc.message,
        )  # fmt: skip
        decision.action, decision.chosen, decision.reason = "kept", None, exc.message
        return decision
    decision.rollout_id = started.id
    return decision


def move_to(client: Client, name: str, version: int, to: str, reason: str, actor: str) -> None:
    """Give ``version`` the stage or alias ``to`` (its gate report is reused)."""
    if to.startswith("@"):
        client.set_model_alias(name, to[1:], version, reason=reason, actor=actor)
        return
    from ..registry import promote

    promote(client, name, version, to, reason=reason, actor=actor)


def _end(
    client: Client,
    loop: CtLoop,
    decision: Decision,
    state: str,
    outcome: str,
    actor: str | None,
    report: str | None = None,
) -> None:
    """Record a decision that ends the loop (``outcome``)."""
    _decide(
        client, loop, decision, state, outcome, actor, report,
        outcome=outcome, reason=decision.reason,
    )  # fmt: skip


def _decide(
    client: Client,
    loop: CtLoop,
    decision: Decision,
    state: str,
    audited: str,
    actor: str | None,
    report: str | None,
    **values: Any,
) -> None:
    """Record ``decision`` on the loop's timeline and the registry's audit (``audited``:
    what the audit entry says it came to), moving the loop to ``state``."""
    client.update_ct_loop(
        loop.id, (loop.state, "approval"), step="decision", summary=decision.reason,
        detail={"decision": decision.to_dict()}, state=state,
        candidate=decision.chosen, champion=decision.champion, **values,
        audit={"action": "ct_decision", "version": decision.chosen, "to_value": audited,
               "reason": decision.reason, "report_sha256": report, "actor": actor or ACTOR},
    )  # fmt: skip


def _manual_loop(
    client: Client, name: str, run_id: str | None, dry: bool, why: str | None = None
) -> CtLoop:
    """A loop for a promotion nobody's trigger started (a notebook, a pipeline run by
    hand), so it is on the timeline like the others."""
    return client.create_ct_loop(
        name,
        trigger={"kind": "manual", "run_id": run_id},
        pipeline_path="",
        params={},
        pipeline_run_id=run_id,
        dry_run=dry,
        summary=why or "promotion asked for by hand",
    )


# -- the pipeline step ---------------------------------------------------------------------

PROMOTE_KEYS = ("model", "metric", "holdout", "mode", "to", "register", "gates")


def promote_step(
    client: Client, settings: Mapping[str, Any], context: ActionContext
) -> dict[str, Any]:
    """A ``promote:`` step of a pipeline: register the models its upstream steps logged as
    versions of ``model`` (default: the model of the continuous-training loop running the
    pipeline; a model already registered is reused; ``register``: only the logged models of
    these names; ``gates``: the model's gates when it has none yet), then
    :func:`promote_best` among them. ``holdout``: a file (relative to the pipeline's
    folder) or ``dataset:NAME`` (its newest version) the gates judge on."""
    unknown = sorted(set(settings) - set(PROMOTE_KEYS))
    if unknown:
        raise InvalidInput(
            f"step {context.step!r}: promote has no setting {unknown[0]!r}; its settings are "
            f"{', '.join(PROMOTE_KEYS)}"
        )
    loop = client.ct_loop_of_run(context.pipeline_run)
    name = settings.get("model") or (loop.name if loop is not None else None)
    if not name:
        raise InvalidInput(
            f"step {context.step!r}: name the model to promote (promote: {{model: churn}}), or "
            "let a continuous-training loop run the pipeline: its model is the default"
        )
    logged = [m for run_id in context.upstream_runs for m in _logged_models(client, run_id)]
    wanted = settings.get("register")
    if wanted:
        logged = [m for m in logged if m.name in set(wanted)]
    existing = {v.logged_model_id: v.version for v in _versions_or_none(client, name)}
    numbers = []
    for model in logged:
        number = existing.get(model.id)
        if number is None:
            number = client.register_model(
                model.id,
                name,
                description=f"candidate from pipeline run {context.pipeline_run[:8]}",
            ).version
            existing[model.id] = number
        numbers.append(number)
    if not numbers:
        raise InvalidInput(
            f"step {context.step!r}: its upstream steps logged no model to register as {name!r}"
        )
    if settings.get("gates") is not None and not client.get_registered_model(name).gates:
        client.set_model_gates(
            name, settings["gates"], reason=f"set by step {context.step} of {context.pipeline.name}"
        )
    holdout = _holdout(client, settings.get("holdout"), context.base_dir)
    decision = promote_best(
        client,
        name,
        numbers,
        run_id=context.pipeline_run,
        metric=settings.get("metric"),
        holdout=holdout,
        mode=settings.get("mode"),
        to=settings.get("to"),
        loop=loop,
        why=f"step {context.step} of pipeline {context.pipeline.name} asks for the best candidate",
    )
    return decision.to_dict()


def _versions_or_none(client: Client, name: str) -> list[ModelVersion]:
    try:
        return client.search_model_versions(name)
    except NotFound:
        return []


def _logged_models(client: Client, run_id: str) -> list[Any]:
    run = client.read_run(run_id)
    origin = records.cached_from(run)
    if origin:
        run = client.read_run(origin)
    models = list(run.models)
    for child in client.child_runs(run.id):
        models += client.read_run(child.id).models
    return models


def _holdout(client: Client, ref: Any, base_dir: Path | None) -> Any:
    if ref is None:
        return None
    if isinstance(ref, str) and ref.startswith("dataset:"):
        name = ref[len("dataset:") :]
        if "@" not in name:
            versions = client.list_datasets(name)
            if not versions:
                raise NotFound(f"Dataset {shown(name)} has no version to judge on.")
            name = f"{versions[-1].name}@{versions[-1].version}"
        return client.dataset_file(name)
    path = Path(str(ref))
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return str(path)  # read only when a candidate has to be judged again
