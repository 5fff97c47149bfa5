"""The model registry's data layer: versions, stages, aliases, models:/ URIs, events and the
append-only, hash-chained audit, on SQLite and (with JUPYTER_MLOPS_TEST_PG) on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jupyter_mlops.capture import user
from jupyter_mlops.client import Client
from jupyter_mlops.entities import MODEL_ALIAS_EVENT, MODEL_VERSION_EVENT
from jupyter_mlops.exceptions import Conflict, InvalidInput, NotFound

N_PROCS = 8
CHILD_TIMEOUT_S = 120


@pytest.fixture
def reg(store_url: str, open_client: Callable[..., Client]) -> Client:
    return open_client(store_url)


def _logged(client: Client, name: str = "clf") -> tuple[str, str]:
    """A run that logged a model called ``name``: (run id, logged model id)."""
    run_id = client.create_run("registry", "train")
    model = client.log_model(run_id, {"weights": [1, 2, 3]}, name=name)
    client.end_run(run_id)
    return run_id, model.id


def _engine(client: Client) -> sa.Engine:
    return client.store.engine  # type: ignore[attr-defined,no-any-return]


def test_given_logged_models_when_registered_by_runs_uri_and_by_id_then_numbered_per_name(reg):
    run_id, model_id = _logged(reg)
    _, other_id = _logged(reg, "other")

    first = reg.register_model(f"runs:/{run_id}/clf", "churn", description="baseline")
    second = reg.register_model(other_id, "churn")
    elsewhere = reg.register_model(model_id, "fraud", tags={"team": "risk"})

    assert (first.version, second.version, elsewhere.version) == (1, 2, 1)
    assert (first.logged_model_id, first.run_id, first.stage) == (model_id, run_id, "None")
    assert first.sha256 == reg.get_logged_model(model_id).sha256
    assert first.description == "baseline" and first.created_by == user()
    assert [v.version for v in reg.search_model_versions("churn")] == [1, 2]
    assert reg.get_registered_model("fraud").tags == {"team": "risk"}
    assert [m.name for m in reg.list_registered_models()] == ["churn", "fraud"]


def test_given_a_name_taken_when_created_again_then_conflict_and_register_still_adds(reg):
    _, model_id = _logged(reg)
    reg.create_registered_model("churn", "predicts churn", required_approvals=1)

    with pytest.raises(Conflict):
        reg.create_registered_model("churn")
    version = reg.register_model(model_id, "churn")

    assert version.version == 1
    assert reg.get_registered_model("churn").required_approvals == 1


def test_given_bad_sources_when_registered_then_clear_errors_and_nothing_written(reg):
    run_id, _ = _logged(reg)
    with pytest.raises(NotFound, match="no model named"):
        reg.register_model(f"runs:/{run_id}/missing", "churn")
    with pytest.raises(InvalidInput, match="model reference"):
        reg.register_model("s3://bucket/model.pkl", "churn")
    with pytest.raises(InvalidInput, match="model name"):
        reg.register_model(f"runs:/{run_id}/clf", "bad|name")
    assert reg.list_registered_models() == [] and reg.model_audit() == []


def _register_at_once(url: str, model_id: str, barrier: Any, results: Any) -> None:
    """A child process: open its own Client, wait for the others, register one version."""
    client = Client(url)
    try:
        barrier.wait(timeout=CHILD_TIMEOUT_S)
        results.put(client.register_model(model_id, "churn").version)
    finally:
        client.close()


def test_given_8_processes_when_they_register_at_once_then_versions_are_1_to_8(reg, store_url):
    _, model_id = _logged(reg)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(N_PROCS), ctx.Queue()
    procs = [
        ctx.Process(target=_register_at_once, args=(store_url, model_id, barrier, results))
        for _ in range(N_PROCS)
    ]
    for proc in procs:
        proc.start()
    try:
        got = sorted(results.get(timeout=CHILD_TIMEOUT_S) for _ in procs)
    finally:
        for proc in procs:
            proc.join(timeout=CHILD_TIMEOUT_S)
            if proc.is_alive():
                proc.kill()

    assert [proc.exitcode for proc in procs] == [0] * N_PROCS
    assert got == list(range(1, N_PROCS + 1))
    assert [v.version for v in reg.search_model_versions("churn")] == got
    assert reg.verify_model_audit() is None
    assert [e.seq for e in reg.model_audit()] == list(range(1, N_PROCS + 2))


def _three_versions(client: Client) -> None:
    _, model_id = _logged(client)
    for _ in range(3):
        client.register_model(model_id, "churn")


def test_given_a_production_version_when_another_is_promoted_then_the_first_is_archived(reg):
    _three_versions(reg)
    reg.transition_model_version_stage("churn", 1, "production")

    moved = reg.transition_model_version_stage("churn", 2, "PRODUCTION", reason="better auc")

    assert moved.stage == "Production"
    stages = {v.version: v.stage for v in reg.search_model_versions("churn")}
    assert stages == {1: "Archived", 2: "Production", 3: "None"}
    last = reg.model_audit("churn")[-2:]
    assert [(e.version, e.from_value, e.to_value) for e in last] == [
        (1, "Production", "Archived"),
        (2, "None", "Production"),
    ]
    assert last[1].reason == "better auc"


def test_given_keep_existing_when_promoted_then_both_stay_in_production(reg):
    _three_versions(reg)
    reg.transition_model_version_stage("churn", 1, "Production")

    reg.transition_model_version_stage("churn", 2, "Production", archive_existing=False)

    assert [v.version for v in reg.get_latest_versions("churn", ["production"])] == [2]
    stages = {v.version: v.stage for v in reg.search_model_versions("churn")}
    assert stages == {1: "Production", 2: "Production", 3: "None"}


def test_given_a_staging_version_when_staged_again_then_nothing_is_recorded(reg):
    _three_versions(reg)
    reg.transition_model_version_stage("churn", 3, "Staging")
    entries = len(reg.model_audit())

    reg.transition_model_version_stage("churn", 3, "staging")

    assert len(reg.model_audit()) == entries
    with pytest.raises(InvalidInput, match="Unknown stage"):
        reg.transition_model_version_stage("churn", 3, "Prod")
    with pytest.raises(NotFound):
        reg.transition_model_version_stage("churn", 9, "Staging")


def test_given_an_alias_when_moved_and_deleted_then_it_resolves_to_where_it_points(reg):
    _three_versions(reg)
    reg.set_model_alias("churn", "champion", 1)

    reg.set_model_alias("churn", "champion", 3, reason="retrained", actor="alice")

    assert reg.resolve_model_uri("models:/churn@champion").version == 3
    (alias,) = reg.get_model_aliases("churn")
    assert (alias.alias, alias.version, alias.updated_by) == ("champion", 3, "alice")
    entry = reg.model_audit("churn")[-1]
    assert (entry.action, entry.alias, entry.from_value, entry.to_value, entry.actor) == (
        "set_alias",
        "champion",
        "1",
        "3",
        "alice",
    )
    reg.delete_model_alias("churn", "champion")
    with pytest.raises(NotFound, match="no alias"):
        reg.resolve_model_uri("models:/churn@champion")
    with pytest.raises(NotFound):
        reg.set_model_alias("churn", "champion", 7)


@pytest.mark.parametrize("alias", ["production", "Staging", "42", "latest", "a|b", ""])
def test_given_an_alias_that_reads_as_a_stage_or_number_when_set_then_refused(reg, alias):
    _three_versions(reg)
    with pytest.raises(InvalidInput):
        reg.set_model_alias("churn", alias, 1)


def test_given_models_uris_when_resolved_then_alias_stage_number_and_latest_work(reg):
    _three_versions(reg)
    reg.transition_model_version_stage("churn", 2, "Production")
    reg.set_model_alias("churn", "challenger", 3)

    assert reg.resolve_model_uri("models:/churn@challenger").version == 3
    assert reg.resolve_model_uri("models:/churn/Production").version == 2
    assert reg.resolve_model_uri("models:/churn/production").version == 2
    assert reg.resolve_model_uri("models:/churn/1").version == 1
    assert reg.resolve_model_uri("models:/churn/latest").version == 3


@pytest.mark.parametrize(
    ("uri", "error", "message"),
    [
        ("runs:/abc/clf", InvalidInput, "must start with models:/"),
        ("models:/churn", InvalidInput, "names no version"),
        ("models:/churn/", InvalidInput, "names no version"),
        ("models:/churn/Prod", InvalidInput, "Unknown stage"),
        ("models:/churn/0", InvalidInput, "model version"),
        ("models:/churn/9", NotFound, "no version 9"),
        ("models:/churn/Staging", NotFound, "no version in stage Staging"),
        ("models:/churn@nobody", NotFound, "no alias"),
        ("models:/ghost/Production", NotFound, "No registered model"),
        ("models:/ghost/latest", NotFound, "No registered model"),
    ],
)
def test_given_bad_models_uris_when_resolved_then_clear_errors(reg, uri, error, message):
    _three_versions(reg)
    with pytest.raises(error, match=message):
        reg.resolve_model_uri(uri)


def test_given_registry_changes_then_events_are_written_for_versions_stages_and_aliases(reg):
    cursor = reg.last_event_id()
    _three_versions(reg)
    reg.transition_model_version_stage("churn", 1, "Production")
    reg.transition_model_version_stage("churn", 2, "Production")
    reg.set_model_alias("churn", "champion", 2)
    reg.delete_model_alias("churn", "champion")

    versions = reg.events_after(cursor, MODEL_VERSION_EVENT, "churn")
    moves = reg.events_after(cursor, MODEL_ALIAS_EVENT, "churn")

    assert [e.payload["version"] for e in versions] == [1, 2, 3]
    first = reg.get_model_version("churn", 1)
    assert versions[0].payload["logged_model_id"] == first.logged_model_id
    assert [e.payload for e in moves] == [
        {"stage": "Production", "version": 1, "from_stage": "None"},
        {"stage": "Archived", "version": 1, "from_stage": "Production"},
        {"stage": "Production", "version": 2, "from_stage": "None"},
        {"alias": "champion", "version": 2, "from_version": None},
        {"alias": "champion", "version": None, "from_version": 2},
    ]


def _audited(client: Client) -> None:
    _three_versions(client)
    client.transition_model_version_stage("churn", 1, "Staging", reason="looks fine")
    client.set_model_alias("churn", "champion", 1)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE registry_audit SET actor = 'mallory' WHERE seq = 2", "DELETE FROM registry_audit"],
)
def test_given_audit_entries_when_raw_sql_changes_them_then_the_database_refuses(reg, statement):
    _audited(reg)
    before = reg.model_audit()

    with pytest.raises(sa.exc.DatabaseError, match="append-only"), _engine(reg).begin() as conn:
        conn.exec_driver_sql(statement)

    assert reg.model_audit() == before and reg.verify_model_audit() is None


def _drop_guards(client: Client) -> None:
    with _engine(client).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP FUNCTION registry_audit_refuse() CASCADE")
        else:
            conn.exec_driver_sql("DROP TRIGGER registry_audit_no_update")
            conn.exec_driver_sql("DROP TRIGGER registry_audit_no_delete")


def test_given_triggers_dropped_when_an_entry_is_edited_then_verify_names_it(reg):
    _audited(reg)
    assert reg.verify_model_audit() is None
    _drop_guards(reg)

    with _engine(reg).begin() as conn:
        conn.exec_driver_sql("UPDATE registry_audit SET reason = 'forged' WHERE seq = 5")

    broken = reg.verify_model_audit()
    assert broken is not None and broken.seq == 5 and broken.detail == "this entry was edited"
    assert broken.entry is not None and broken.entry.reason == "forged"


def test_given_triggers_dropped_when_an_entry_is_rehashed_then_its_successor_is_named(reg):
    _audited(reg)
    _drop_guards(reg)
    forged = reg.model_audit()[2]
    forged.actor = "mallory"

    with _engine(reg).begin() as conn:
        conn.execute(
            sa.text("UPDATE registry_audit SET actor = :a, hash = :h WHERE seq = 3"),
            {"a": forged.actor, "h": forged.expected_hash()},
        )

    broken = reg.verify_model_audit()
    assert broken is not None and broken.seq == 4


def test_given_triggers_dropped_when_an_entry_is_deleted_then_verify_finds_the_gap(reg):
    _audited(reg)
    _drop_guards(reg)

    with _engine(reg).begin() as conn:
        conn.exec_driver_sql("DELETE FROM registry_audit WHERE seq = 3")

    broken = reg.verify_model_audit()
    assert broken is not None and broken.seq == 4


def test_given_no_actor_then_the_os_user_is_recorded_else_the_one_given(reg):
    _, model_id = _logged(reg)
    reg.register_model(model_id, "churn")
    reg.register_model(model_id, "churn", actor="jupyter:bob")

    assert [e.actor for e in reg.model_audit()] == [user(), user(), "jupyter:bob"]
    assert reg.get_model_version("churn", "2").created_by == "jupyter:bob"
    with pytest.raises(InvalidInput, match="actor"):
        reg.register_model(model_id, "churn", actor=" ")


def test_given_a_new_store_and_a_migrated_one_then_both_guard_the_audit_alike(
    direct_and_migrated,
):
    triggers = []
    for engine in direct_and_migrated:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
            ).all()
            triggers.append([tuple(r) for r in rows])
    assert [name for name, _ in triggers[0]] == [
        "registry_audit_no_delete",
        "registry_audit_no_update",
    ]
    assert triggers[0] == triggers[1]


# Loading a registered version ------------------------------------------------------------------


class _Marker:
    """Unpickling it writes a file: proof that tampered bytes were (not) unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path(self.path).write_text, ("unpickled",))


def test_given_a_registered_version_when_loaded_by_alias_stage_and_number_then_the_model(reg):
    from sklearn.linear_model import LogisticRegression

    X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    fitted = LogisticRegression().fit(X, y)
    run_id = reg.create_run("registry", "train")
    reg.log_model(run_id, fitted, name="clf")
    reg.end_run(run_id)
    reg.register_model(f"runs:/{run_id}/clf", "churn")
    reg.transition_model_version_stage("churn", 1, "production")
    reg.set_model_alias("churn", "champion", 1)
    for uri in ("models:/churn@champion", "models:/churn/Production", "models:/churn/1"):
        assert (reg.load_model(uri).predict(X) == fitted.predict(X)).all()


def test_given_tampered_bytes_when_a_version_is_loaded_then_refused_audited_and_not_unpickled(
    reg, tmp_path
):
    import pickle

    from jupyter_mlops.exceptions import IntegrityError

    _, model_id = _logged(reg)
    version = reg.register_model(model_id, "churn")
    marker = tmp_path / "unpickled.txt"
    blob = reg.artifacts._blob_path(version.sha256)  # type: ignore[attr-defined]
    blob.chmod(0o644)
    blob.write_bytes(pickle.dumps(_Marker(str(marker))))  # someone swaps the file on disk

    with pytest.raises(IntegrityError, match="modified"):
        reg.load_model("models:/churn/1", actor="mallory-check")
    assert not marker.exists()  # nothing was unpickled
    last = reg.model_audit("churn")[-1]
    assert (last.action, last.version, last.actor) == ("integrity_failure", 1, "mallory-check")
    assert "modified" in (last.reason or "")
    assert str(blob) not in (last.reason or "")  # no file-system path on the record
    assert reg.verify_model_audit() is None  # the failure is itself on the chain


# Time travel ----------------------------------------------------------------------------------


def test_given_several_moves_when_asked_at_past_times_then_the_holder_of_each_stage_and_alias(
    reg,
):
    import time
    from datetime import datetime

    _three_versions(reg)
    moments = []

    def step(action: Callable[[], Any]) -> None:
        action()
        moments.append(reg.model_audit("churn")[-1].at)
        time.sleep(0.005)  # the next move lands in a later millisecond

    step(lambda: reg.transition_model_version_stage("churn", 1, "Production"))
    step(lambda: reg.set_model_alias("churn", "champion", 1))
    step(lambda: reg.transition_model_version_stage("churn", 2, "Production"))
    step(lambda: reg.set_model_alias("churn", "champion", 2))
    step(lambda: reg.transition_model_version_stage("churn", 3, "Staging"))
    step(lambda: reg.delete_model_alias("churn", "champion"))

    def held(what: str, at: Any) -> int | None:
        found = reg.model_at("churn", what, at)
        return None if found is None else found.version

    before = moments[0] - 1
    assert [held("Production", t) for t in (before, *moments)] == [None, 1, 1, 2, 2, 2, 2]
    assert [held("champion", t) for t in (before, *moments)] == [None, None, 1, 1, 2, 2, None]
    assert [held("staging", t) for t in moments] == [None, None, None, None, 3, 3]
    assert [held("Archived", t) for t in moments] == [None, None, 1, 1, 1, 1]
    at = datetime.fromtimestamp(moments[2] / 1000)
    assert held("Production", at) == 2 and held("Production", at.isoformat()) == 2
    history = [(e.action, e.version, e.to_value) for e in reg.model_history("churn")]
    assert history[3:] == [
        ("stage", 1, "Production"),
        ("set_alias", 1, "1"),
        ("stage", 1, "Archived"),
        ("stage", 2, "Production"),
        ("set_alias", 2, "2"),
        ("stage", 3, "Staging"),
        ("delete_alias", 2, None),
    ]
    assert [action for action, _, _ in history[:3]] == ["register"] * 3


@pytest.mark.parametrize("at", ["yesterday", -5, True, "2026-13-01"])
def test_given_a_bad_time_when_asked_then_invalid_input(reg, at):
    _three_versions(reg)
    with pytest.raises(InvalidInput):
        reg.model_at("churn", "Production", at)


def test_given_a_version_deleted_then_hidden_audited_and_its_number_not_reused(reg):
    _, model_id = _logged(reg)
    for _ in range(3):
        reg.register_model(model_id, "churn")
    reg.transition_model_version_stage("churn", 2, "Staging")
    reg.set_model_alias("churn", "candidate", 3)
    before = reg.model_audit()[-1].at

    with pytest.raises(Conflict, match="candidate"):
        reg.delete_model_version("churn", 3)
    reg.delete_model_version("churn", 2, "superseded")
    again = reg.register_model(model_id, "churn")

    assert [v.version for v in reg.search_model_versions("churn")] == [1, 3, 4]
    assert again.version == 4
    with pytest.raises(NotFound, match="was deleted"):
        reg.get_model_version("churn", 2)
    with pytest.raises(NotFound):
        reg.resolve_model_uri("models:/churn/Staging")
    entry = [e for e in reg.model_audit("churn") if e.action == "delete_version"]
    assert [(e.version, e.from_value, e.reason) for e in entry] == [(2, "Staging", "superseded")]
    assert reg.holders_at("churn", before)["Staging"] == 2
    assert reg.holders_at("churn", entry[0].at)["Staging"] is None
    assert reg.verify_model_audit() is None


def test_given_a_version_in_production_then_it_cannot_be_deleted(reg):
    _, model_id = _logged(reg)
    reg.register_model(model_id, "churn")
    reg.transition_model_version_stage("churn", 1, "Production")
    with pytest.raises(Conflict, match="archive it"):
        reg.delete_model_version("churn", 1)


def test_given_approvals_reports_and_settings_then_they_round_trip_on_every_backend(reg):
    _, model_id = _logged(reg)
    reg.register_model(model_id, "churn", actor="ana")
    reg.update_registered_model(
        "churn", required_approvals=2, intended_use="ranking", limitations="one region"
    )
    reg.set_model_gates("churn", "target: y\nmetrics: {accuracy: 0.8}\n")
    reg.approve_model_version("churn", 1, "ok", actor="bob")
    gates = reg.get_registered_model("churn").gates
    from jupyter_mlops.client.gates import config_sha256

    report = reg.save_gate_report(
        "churn",
        1,
        {"gates": [{"gate": "metrics", "passed": True, "checks": []}], "x": 0.1},
        model_sha256=reg.get_model_version("churn", 1).sha256,
        config_sha256=config_sha256(gates),
    )

    model = reg.get_registered_model("churn")
    assert (model.required_approvals, model.intended_use, model.limitations) == (
        2,
        "ranking",
        "one region",
    )
    assert gates["metrics"] == {"accuracy": {"min": 0.8}}
    assert [(a.actor, a.reason) for a in reg.get_model_approvals("churn", 1)] == [("bob", "ok")]
    assert reg.get_gate_report(report.sha256) == report
    assert reg.reusable_gate_report("churn", 1) == report
    blockers, _ = reg.promotion_blockers("churn", 1, "Production")
    assert blockers == [
        "Production needs 2 approval(s) by someone other than ana, who registered it; it has 1."
    ]
    actions = [e.action for e in reg.model_audit("churn")]
    assert actions[-4:] == ["update_model", "set_gates", "approve", "validate"]
    assert reg.verify_model_audit() is None


def test_given_triggers_dropped_when_the_last_entries_are_deleted_then_verify_finds_them(reg):
    _audited(reg)
    last = reg.model_audit()[-1].seq
    _drop_guards(reg)

    with _engine(reg).begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM registry_audit WHERE seq >= {last - 1}")

    broken = reg.verify_model_audit()
    assert broken is not None and broken.seq == last - 1 and broken.entry is None
    assert broken.detail == f"entries {last - 1} to {last} were removed from the end"
