"""A registered version's lineage, in one JSON-able dict: the answer to "trained on what, by
whom, from which cell, validated how, approved and promoted by whom, since when". The CLI's
``models lineage``, the model card and the panel all read this one dict, so they never tell
different stories. The Client's lineage domain.

Reads only through the other domains' methods (registry, runs, models); it writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..entities import ACTIVE_SERVER_STATES, MODEL_SERVER_EVENT, jsonable
from ..exceptions import NotFound
from .base import ClientBase
from .registry import shown_gate_report

if TYPE_CHECKING:
    from ..entities import (
        AuditEntry,
        DatasetVersion,
        Event,
        GateReport,
        LoggedModel,
        ModelAlias,
        ModelApproval,
        ModelServer,
        ModelVersion,
        RegisteredModel,
        Run,
    )

# The audit actions that move a version: into a stage (a forced move writes "force" first,
# then the "stage" entry itself) or an alias onto or off it.
_MOVES = frozenset({"stage", "force", "set_alias", "delete_alias"})


def _dataset(d: DatasetVersion) -> dict[str, Any]:
    """A dataset version without its profile and schema: what lineage needs to name it and
    prove it is the same data (the fingerprint), not to redraw it."""
    return {
        "id": d.id,
        "name": d.name,
        "version": d.version,
        "fingerprint": d.fingerprint,
        "kind": d.kind,
        "shape": d.shape,
        "source": d.source,
        "nbytes": d.nbytes,
        "created_at": d.created_at,
    }


def _run_parts(run: Run | None) -> dict[str, Any]:
    """What the training run recorded: who ran it and when, the notebook cell and its code,
    the data it read and wrote, its params, final metrics and environment."""
    if run is None:
        return {
            "run": None,
            "notebook": None,
            "git": None,
            "inputs": [],
            "outputs": [],
            "params": {},
            "metrics": {},
            "environment": {},
        }
    info = run.info
    environment = dict(run.environment)
    environment.setdefault("python", info.python_version)
    environment["host"] = info.host
    return {
        "run": {
            "id": info.id,
            "name": info.name,
            "experiment": info.experiment_name,
            "status": info.status,
            "user": info.user,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "duration_ms": info.duration_ms,
            "parent_run_id": info.parent_run_id,
            "tags": run.tags,
        },
        "notebook": {
            "path": info.notebook_path,
            "cell_id": info.cell_id,
            "execution_count": info.execution_count,
            "source": info.source,
        },
        "git": {"commit": info.git_commit, "dirty": info.git_dirty},
        "inputs": [_dataset(d) for d in run.inputs],
        "outputs": [_dataset(d) for d in run.outputs],
        "params": run.params,
        "metrics": run.metrics,
        "environment": environment,
    }


def _moves(entries: list[AuditEntry], version: int) -> list[dict[str, Any]]:
    """Every stage and alias move of ``version``, oldest first. An alias moved from this
    version to another is one of them (its entry names the new version, ``from`` this one);
    a forced stage move is one move marked ``forced`` with the reason given for the override."""
    moves: list[dict[str, Any]] = []
    forced: dict[tuple[int | None, str | None], str | None] = {}
    for e in entries:
        if e.action not in _MOVES:
            continue
        ours = e.version == version or (e.alias is not None and e.from_value == str(version))
        if not ours:
            continue
        if e.action == "force":
            forced[(e.version, e.to_value)] = e.reason
            continue
        move: dict[str, Any] = {
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "alias": e.alias,
            "from": e.from_value,
            "to": e.to_value,
            "reason": e.reason,
            "report_sha256": e.report_sha256,
            "forced": None,
            "audit_seq": e.seq,
        }
        if e.action == "stage" and (e.version, e.to_value) in forced:
            move["forced"] = forced.pop((e.version, e.to_value)) or ""
        moves.append(move)
    return moves


def _report(report: GateReport, current: bool) -> dict[str, Any]:
    doc = report.report
    return {
        "sha256": report.sha256,
        "passed": report.passed,
        # Made for the version's bytes and the model's gate configuration as they are now:
        # the report a stage move would rely on. False: a newer configuration was not run yet.
        "current": current,
        "created_at": report.created_at,
        "created_by": report.created_by,
        "model_sha256": report.model_sha256,
        "config_sha256": report.config_sha256,
        "holdout": doc.get("holdout"),
        "duration_s": doc.get("duration_s"),
        "gates": [
            {
                "gate": g.get("gate"),
                "passed": bool(g.get("passed")),
                "summary": g.get("summary", ""),
                "checks": list(g.get("checks") or []),
            }
            for g in report.gates
        ],
    }


class LineageMixin(ClientBase):
    if TYPE_CHECKING:

        def get_registered_model(self, name: str) -> RegisteredModel: ...

        def get_model_version(self, name: str, version: int | str) -> ModelVersion: ...

        def get_model_aliases(self, name: str) -> list[ModelAlias]: ...

        def get_model_approvals(
            self, name: str, version: int | str | None = None
        ) -> list[ModelApproval]: ...

        def get_gate_reports(
            self, name: str, version: int | str | None = None
        ) -> list[GateReport]: ...

        def model_audit(self, name: str | None = None) -> list[AuditEntry]: ...

        def get_run(self, run_id: str) -> Run: ...

        def get_logged_model(self, ref: str) -> LoggedModel: ...

        def list_model_servers(
            self, name: str | None = None, *, active_only: bool = False
        ) -> list[ModelServer]: ...

        def events_after(
            self, cursor: int, type_: str | None = None, key: str | None = None, limit: int = 1000
        ) -> list[Event]: ...

    def model_lineage(self, name: str, version: int | str) -> dict[str, Any]:
        """Everything that made version ``version`` of ``name`` and everything decided about
        it, as one JSON-able dict: the version and the aliases it holds, the registered
        model's card fields, the run (its notebook, cell and source, git commit and dirty
        flag, input and output datasets with fingerprints, params, final metrics,
        environment), the logged model, approvals, every stage and alias move from the audit,
        the gate report and where it is served. Times are milliseconds since the epoch.

        NotFound for an unknown model or version. A run deleted since leaves ``run`` None
        (the registry's own records still answer who registered, approved and promoted)."""
        model = self.get_registered_model(name)
        found = self.get_model_version(model.name, version)
        aliases = [
            a.alias for a in self.get_model_aliases(model.name) if a.version == found.version
        ]
        run: Run | None
        try:
            run = self.get_run(found.run_id)
        except NotFound:
            run = None
        logged: LoggedModel | None
        try:
            logged = self.get_logged_model(found.logged_model_id)
        except NotFound:
            logged = None

        shown, current = shown_gate_report(
            model, found, self.get_gate_reports(model.name, found.version)
        )
        report = None if shown is None else _report(shown, current)

        return jsonable(
            {
                "model": {
                    "name": model.name,
                    "description": model.description,
                    "tags": model.tags,
                    "required_approvals": model.required_approvals,
                    "gated_stages": list((model.gates or {}).get("stages") or []),
                    "intended_use": model.intended_use,
                    "limitations": model.limitations,
                },
                "version": {
                    **found.to_dict(),
                    "uri": f"models:/{found.name}/{found.version}",
                    "aliases": aliases,
                },
                **_run_parts(run),
                "logged_model": None
                if logged is None
                else {
                    "id": logged.id,
                    "name": logged.name,
                    "flavor": logged.flavor,
                    "model_class": logged.model_class,
                    "sha256": logged.sha256,
                    "artifact_path": logged.artifact_path,
                    "signature": logged.signature,
                    "params": logged.params,
                },
                "approvals": [
                    {"actor": a.actor, "at": a.at, "reason": a.reason}
                    for a in self.get_model_approvals(model.name, found.version)
                ],
                "promotions": _moves(self.model_audit(model.name), found.version),
                "gate_report": report,
                "served": self._served(model.name, found.version),
            }
        )

    def _served(self, name: str, version: int) -> list[dict[str, Any]]:
        """The servers that serve ``version`` now or served it before: from their
        ``model.server`` events (each status or version change is one), since the first that
        names this version, until the next that names another version or an ending."""
        servers = {s.id: s for s in self.list_model_servers(name)}
        spans: dict[str, dict[str, Any]] = {}
        for event in self.events_after(0, MODEL_SERVER_EVENT, name, limit=10_000):
            server_id = str(event.payload.get("server_id"))
            span = spans.get(server_id)
            on_it = event.payload.get("version") == version
            live = event.payload.get("status") in ACTIVE_SERVER_STATES
            if span is None and on_it:
                spans[server_id] = {"since": event.created_at, "until": None}
            elif span is not None and span["until"] is None and not (on_it and live):
                span["until"] = event.created_at
        out = []
        for server_id, span in spans.items():
            server = servers.get(server_id)
            if server is None:
                continue
            out.append(
                {
                    "server_id": server.id,
                    "url": server.url,
                    "ref": f"models:/{server.name}{server.ref}",
                    "status": server.status,
                    "serving_now": span["until"] is None and server.status in ACTIVE_SERVER_STATES,
                    "since": span["since"],
                    "until": span["until"],
                    "started_by": server.started_by,
                }
            )
        return out
