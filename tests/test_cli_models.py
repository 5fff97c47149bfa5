"""``jupyter-mlops models ...``: the registry from the terminal, on a real store holding a
real fitted model, in process (CliRunner) and, for the audit check, as the installed
executable."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jupyter_mlops.cli import main
from jupyter_mlops.client import Client

BIN = Path(sys.executable).parent


@dataclass
class Logged:
    """A store with one run that logged a fitted LogisticRegression called ``clf``."""

    store: Path
    client: Client
    run_id: str
    model_id: str


@pytest.fixture
def logged(store_dir: Path, client: Client) -> Logged:
    from sklearn.linear_model import LogisticRegression

    run_id = client.create_run("churn", "train")
    clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    model = client.log_model(run_id, clf, name="clf")
    client.end_run(run_id)
    return Logged(store_dir, client, run_id, model.id)


def cli(logged: Logged, *args: str) -> Result:
    return CliRunner().invoke(main, ["--store", str(logged.store), *args], catch_exceptions=False)


def ok(logged: Logged, *args: str) -> str:
    result = cli(logged, *args)
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def fails(logged: Logged, code: int, *args: str) -> str:
    """Run a command that must fail with ``code`` and a one-line error; that line."""
    result = cli(logged, *args)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def registered(logged: Logged, versions: int = 1) -> None:
    for _ in range(versions):
        ok(logged, "models", "register", f"runs:/{logged.run_id}/clf", "churn")


# register -------------------------------------------------------------------------------------
def test_given_runs_uri_when_register_then_new_version_uri_printed_and_stored(
    logged: Logged,
) -> None:
    out = ok(
        logged, "models", "register", f"runs:/{logged.run_id}/clf", "churn",
        "--description", "baseline", "--tag", "team=risk", "--tag", "note=a=b",
    )  # fmt: skip

    assert out == "models:/churn/1\n"
    version = logged.client.get_model_version("churn", 1)
    assert (version.logged_model_id, version.run_id) == (logged.model_id, logged.run_id)
    assert version.description == "baseline"
    assert logged.client.get_registered_model("churn").tags == {"team": "risk", "note": "a=b"}


def test_given_logged_model_id_when_registered_twice_then_versions_count_up(
    logged: Logged,
) -> None:
    first = ok(logged, "models", "register", logged.model_id, "churn")
    second = ok(logged, "models", "register", logged.model_id, "churn")

    assert (first, second) == ("models:/churn/1\n", "models:/churn/2\n")


def test_given_tag_without_equals_when_register_then_exit_2_and_nothing_registered(
    logged: Logged,
) -> None:
    line = fails(logged, 2, "models", "register", logged.model_id, "churn", "--tag", "team")

    assert "key=value" in line
    assert logged.client.list_registered_models() == []


def test_given_unknown_source_when_register_then_exit_1(logged: Logged) -> None:
    fails(logged, 1, "models", "register", f"runs:/{logged.run_id}/nope", "churn")


# list and versions ----------------------------------------------------------------------------
def test_given_versions_in_stages_with_alias_when_list_then_latest_per_stage_and_aliases(
    logged: Logged,
) -> None:
    registered(logged, 3)
    ok(logged, "models", "stage", "churn/1", "Staging")
    ok(logged, "models", "stage", "churn/2", "Staging")
    ok(logged, "models", "stage", "churn/3", "production")
    ok(logged, "models", "alias", "churn@champion", "3")

    (row,) = json.loads(ok(logged, "models", "list", "--format", "json"))
    table = ok(logged, "models", "list")

    assert row["name"] == "churn" and row["versions"] == 3
    assert (row["None"], row["Staging"], row["Production"], row["Archived"]) == (None, 2, 3, None)
    assert row["aliases"] == {"champion": 3}
    header, _, line = table.splitlines()
    assert header.split() == [
        "name", "versions", "None", "Staging", "Production", "Archived", "aliases", "description",
    ]  # fmt: skip
    assert line.split() == ["churn", "3", "2", "3", "champion=3"]


def test_given_empty_registry_when_list_then_none(logged: Logged) -> None:
    assert ok(logged, "models", "list") == "(none)\n"


def test_given_two_versions_when_versions_then_each_with_stage_and_alias(logged: Logged) -> None:
    registered(logged, 2)
    ok(logged, "models", "alias", "churn@challenger", "2")

    rows = json.loads(ok(logged, "models", "versions", "churn", "--format", "json"))

    assert [(r["version"], r["stage"], r["aliases"]) for r in rows] == [
        (1, "None", []),
        (2, "None", ["challenger"]),
    ]
    assert rows[0]["logged_model_id"] == logged.model_id
    assert len(rows[0]["sha256"]) == 64


def test_given_unknown_model_when_versions_then_exit_1(logged: Logged) -> None:
    assert "churn" in fails(logged, 1, "models", "versions", "churn")


# stage ----------------------------------------------------------------------------------------
def test_given_version_in_production_when_another_promoted_then_first_is_archived(
    logged: Logged,
) -> None:
    registered(logged, 2)
    ok(logged, "models", "stage", "churn/1", "Production")

    out = ok(logged, "models", "stage", "churn/2", "Production", "--reason", "better AUC")

    assert out == "models:/churn/2 is in Production\n"
    assert logged.client.get_model_version("churn", 1).stage == "Archived"
    assert logged.client.model_audit("churn")[-1].reason == "better AUC"


def test_given_keep_existing_when_promoted_then_both_stay_in_production(logged: Logged) -> None:
    registered(logged, 2)
    ok(logged, "models", "stage", "churn/1", "Production")

    ok(logged, "models", "stage", "churn/2", "Production", "--keep-existing")

    stages = [v.stage for v in logged.client.search_model_versions("churn")]
    assert stages == ["Production", "Production"]


def test_given_unknown_stage_when_stage_then_exit_2_naming_the_stages(logged: Logged) -> None:
    registered(logged)

    line = fails(logged, 2, "models", "stage", "churn/1", "Prod")

    assert "Prod" in line and "Production" in line
    assert logged.client.get_model_version("churn", 1).stage == "None"


def test_given_unknown_version_when_stage_then_exit_1(logged: Logged) -> None:
    registered(logged)

    fails(logged, 1, "models", "stage", "churn/7", "Staging")


@pytest.mark.parametrize("ref", ["churn", "churn/", "/3", "churn/three"])
def test_given_malformed_ref_when_stage_then_exit_2(logged: Logged, ref: str) -> None:
    registered(logged)

    fails(logged, 2, "models", "stage", ref, "Staging")


# alias ----------------------------------------------------------------------------------------
def test_given_alias_when_moved_then_deleted_then_show_follows_and_then_fails(
    logged: Logged,
) -> None:
    registered(logged, 2)

    assert ok(logged, "models", "alias", "churn@champion", "1") == "models:/churn@champion -> 1\n"
    ok(logged, "models", "alias", "churn@champion", "2", "--reason", "retrained")
    moved = json.loads(ok(logged, "models", "show", "churn@champion", "--format", "json"))
    assert ok(logged, "models", "alias", "churn@champion", "--delete") == (
        "deleted models:/churn@champion\n"
    )

    assert moved["version"] == 2 and moved["aliases"] == ["champion"]
    fails(logged, 1, "models", "show", "churn@champion")
    actions = [(e.action, e.alias, e.reason) for e in logged.client.model_audit("churn")]
    assert actions[-3:] == [
        ("set_alias", "champion", None),
        ("set_alias", "champion", "retrained"),
        ("delete_alias", "champion", None),
    ]


@pytest.mark.parametrize("alias", ["3", "Production", "latest"])
def test_given_alias_that_reads_as_version_or_stage_when_alias_then_exit_2(
    logged: Logged, alias: str
) -> None:
    registered(logged)

    line = fails(logged, 2, "models", "alias", f"churn@{alias}", "1")

    assert "champion" in line  # the message suggests a name that works
    assert logged.client.get_model_aliases("churn") == []


@pytest.mark.parametrize("extra", [[], ["1", "--delete"]])
def test_given_neither_or_both_of_version_and_delete_when_alias_then_exit_2(
    logged: Logged, extra: list[str]
) -> None:
    registered(logged)

    fails(logged, 2, "models", "alias", "churn@champion", *extra)


def test_given_unknown_version_when_alias_then_exit_1(logged: Logged) -> None:
    registered(logged)

    fails(logged, 1, "models", "alias", "churn@champion", "9")


# show -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "uri",
    [
        "models:/churn@champion", "churn@champion", "churn/Production", "models:/churn/2",
        "churn/latest",
    ],
)  # fmt: skip
def test_given_uri_with_or_without_scheme_when_show_then_that_version(
    logged: Logged, uri: str
) -> None:
    registered(logged, 2)
    ok(logged, "models", "stage", "churn/2", "Production")
    ok(logged, "models", "alias", "churn@champion", "2")

    text = ok(logged, "models", "show", uri)
    shown = json.loads(ok(logged, "models", "show", uri, "--format", "json"))

    assert text.splitlines()[0] == "models:/churn/2"
    assert "Production" in text and logged.run_id in text and "champion" in text
    assert (shown["version"], shown["stage"], shown["run_id"]) == (2, "Production", logged.run_id)


def test_given_no_version_in_stage_when_show_then_exit_1(logged: Logged) -> None:
    registered(logged)

    assert "Staging" in fails(logged, 1, "models", "show", "churn/Staging")


def test_given_uri_naming_no_version_when_show_then_exit_2(logged: Logged) -> None:
    registered(logged)

    fails(logged, 2, "models", "show", "churn")


# audit ----------------------------------------------------------------------------------------
def audited(logged: Logged) -> None:
    """Six entries: create_model and register (churn/1), stage, set_alias, then fraud's two."""
    registered(logged)
    ok(logged, "models", "stage", "churn/1", "Staging", "--reason", "offline eval")
    ok(logged, "models", "alias", "churn@champion", "1")
    ok(logged, "models", "register", logged.model_id, "fraud")


def test_given_decisions_when_audit_then_every_entry_oldest_first(logged: Logged) -> None:
    audited(logged)

    entries = json.loads(ok(logged, "models", "audit", "--format", "json"))
    table = ok(logged, "models", "audit")

    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert [e["action"] for e in entries[:4]] == ["create_model", "register", "stage", "set_alias"]
    assert entries[2]["reason"] == "offline eval" and entries[2]["to_value"] == "Staging"
    assert len(entries[0]["hash"]) == 64
    rows = table.splitlines()[2:]
    assert len(rows) == 6 and rows[2].split()[0] == "3" and "offline eval" in rows[2]


def test_given_name_when_audit_then_only_that_models_entries(logged: Logged) -> None:
    audited(logged)

    entries = json.loads(ok(logged, "models", "audit", "fraud", "--format", "json"))

    assert [(e["seq"], e["name"]) for e in entries] == [(5, "fraud"), (6, "fraud")]


def test_given_untouched_audit_when_verify_then_exit_0_and_intact_count(logged: Logged) -> None:
    audited(logged)

    assert ok(logged, "models", "audit", "verify") == "intact: 6 entries\n"


def _drop_triggers(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER registry_audit_no_update")
    conn.execute("DROP TRIGGER registry_audit_no_delete")
    return conn


def _database(logged: Logged) -> Path:
    database = logged.client.store.engine.url.database  # type: ignore[attr-defined]
    assert database
    return Path(database)


def test_given_entry_edited_behind_triggers_when_verify_as_executable_then_exit_1_naming_it(
    logged: Logged,
) -> None:
    audited(logged)
    with _drop_triggers(_database(logged)) as conn:
        conn.execute("UPDATE registry_audit SET reason = 'forged' WHERE seq = 3")
    conn.close()

    result = subprocess.run(
        [str(BIN / "jupyter-mlops"), "--store", str(logged.store), "models", "audit", "verify"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "seq 3" in line and "stage churn/1" in line and "Traceback" not in result.stderr


def test_given_entry_removed_behind_triggers_when_verify_then_its_successor_is_named(
    logged: Logged,
) -> None:
    audited(logged)
    with _drop_triggers(_database(logged)) as conn:
        conn.execute("DELETE FROM registry_audit WHERE seq = 4")
    conn.close()

    result = cli(logged, "models", "audit", "verify")

    assert result.exit_code == 1
    assert "seq 5" in result.stderr and "intact" not in result.stdout


# history --------------------------------------------------------------------------------------
def test_given_moves_when_history_then_listed_and_at_a_time_the_holders(logged: Logged) -> None:
    import json
    import time

    registered(logged, 2)
    ok(logged, "models", "stage", "churn/1", "Production")
    ok(logged, "models", "alias", "churn@champion", "1")
    between = logged.client.model_audit("churn")[-1].at
    time.sleep(0.005)  # the next move lands in a later millisecond
    ok(logged, "models", "stage", "churn/2", "Production")
    moves = json.loads(ok(logged, "models", "history", "churn", "--format", "json"))
    assert [(m["action"], m["version"]) for m in moves] == [
        ("register", 1), ("register", 2), ("stage", 1), ("set_alias", 1),
        ("stage", 1), ("stage", 2),
    ]  # fmt: skip
    then = json.loads(
        ok(logged, "models", "history", "churn", "--at", str(between), "--format", "json")
    )
    assert {(r["name"], r["version"]) for r in then} >= {("Production", 1), ("champion", 1)}
    now = json.loads(
        ok(logged, "models", "history", "churn", "--at", str(between + 10_000), "--format", "json")
    )
    assert {(r["name"], r["version"]) for r in now} >= {("Production", 2), ("Archived", 1)}
    assert "not ISO 8601" in fails(logged, 2, "models", "history", "churn", "--at", "soon")
