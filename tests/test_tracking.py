"""The Client and the fluent API against a real SQLite store (and PostgreSQL when given)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import jupyter_mlops as mlops
from jupyter_mlops import config
from jupyter_mlops.client import Client
from jupyter_mlops.tracking import fluent


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Client._shared.clear()
    c = fluent.set_store(tmp_path / "store")
    yield c
    fluent.end_run()
    Client._shared.clear()
    fluent.set_store(None)


def test_given_fluent_run_when_block_ends_then_finished_with_everything_logged(client):
    with mlops.start_run(experiment="churn", name="rf", tags={"team": "a"}) as run:
        mlops.log_param("n_estimators", 100)
        mlops.log_params({"lr": 0.1, "layers": [64, 32], "flag": True, "none": None})
        for i in range(10):
            mlops.log_metric("loss", 1 / (i + 1))
        mlops.log_metrics({"acc": np.float32(0.5), "count": np.int64(3)})
        mlops.set_tag("stage", "dev")
    assert run.info.status == "FINISHED"
    got = client.get_run(run.id)
    assert got.params == {
        "n_estimators": "100",
        "lr": "0.1",
        "layers": "[64, 32]",
        "flag": "True",
        "none": "None",
    }
    assert got.metrics["loss"] == pytest.approx(0.1)
    assert got.metrics["acc"] == 0.5 and got.metrics["count"] == 3
    assert got.tags == {"team": "a", "stage": "dev"}
    assert got.info.user and got.info.host and got.info.python_version
    assert got.info.end_time >= got.info.start_time
    assert [m.step for m in client.get_metric_history(run.id, "loss")] == list(range(10))


def test_given_exception_in_run_block_then_failed_with_traceback(client):
    with pytest.raises(RuntimeError), mlops.start_run(name="boom") as run:
        raise RuntimeError("exploded")
    info = client.get_run(run.id).info
    assert info.status == "FAILED"
    assert info.error_name == "RuntimeError" and "exploded" in info.traceback
    assert mlops.active_run() is None


def test_given_active_run_when_new_run_started_then_old_one_ends_with_warning(client):
    first = mlops.start_run(name="left open")
    with pytest.warns(mlops.MlopsWarning, match="still active"):
        second = mlops.start_run(name="next")
    assert client.get_run(first.id).info.status == "FINISHED"
    with mlops.start_run(name="child", nested=True) as child:
        pass
    assert client.get_run(child.id).info.parent_run_id == second.id
    mlops.end_run()
    assert client.get_run(second.id).info.status == "FINISHED"


def test_given_no_active_run_when_logging_then_clear_error(client):
    with pytest.raises(mlops.InvalidInput, match="No active run"):
        mlops.log_metric("x", 1.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mlops.log_metric("acc", "high"), "must be a real number"),
        (lambda: mlops.log_metric("acc", 1.0, step=1.5), "must be an integer"),
        (lambda: mlops.log_metric("bad\nname", 1.0), "Invalid metric name"),
        (lambda: mlops.log_param("", 1), "Invalid param name"),
        (lambda: mlops.log_dataset([1, 2, 3], name="x"), "Cannot log a list"),
        (lambda: mlops.log_dataset("missing.csv"), "does not exist"),
    ],
)
def test_given_bad_input_then_invalid_input_names_the_problem(client, call, match):
    with mlops.start_run() as run, pytest.raises(mlops.MlopsError, match=match):
        call()
    assert client.get_run(run.id).info.status == "FINISHED"  # nothing corrupted


def test_given_unstorable_param_then_repr_and_warning(client):
    with mlops.start_run() as run, pytest.warns(mlops.MlopsWarning, match="repr"):
        mlops.log_param("fn", object())
    assert client.get_run(run.id).params["fn"].startswith("<object")


def test_given_nan_and_inf_when_logged_then_read_back_faithfully(client):
    run_id = client.create_run("e", "r")
    client.log_batch(run_id, metrics=[("a", math.nan, 0), ("b", math.inf, 0), ("c", -math.inf, 0)])
    client.end_run(run_id)
    got = client.get_run(run_id).metrics
    assert math.isnan(got["a"]) and got["b"] == math.inf and got["c"] == -math.inf
    assert [r.id for r in client.search_runs(filter="metrics.b > 1e308")] == [run_id]


def test_given_latest_metric_then_highest_step_wins_regardless_of_order(client):
    run_id = client.create_run()
    client.log_batch(run_id, metrics=[("m", 5.0, 5), ("m", 1.0, 1)])
    client.log_metric(run_id, "m", 3.0, step=3)
    assert client.get_run(run_id).metrics["m"] == 5.0
    assert [m.value for m in client.get_metric_history(run_id, "m")] == [1.0, 3.0, 5.0]


def test_given_one_batch_with_ties_at_the_highest_step_then_the_latest_time_then_the_last_wins(
    client,
):
    from jupyter_mlops.entities import Metric

    run_id = client.create_run()
    client.log_batch(
        run_id,
        metrics=[
            Metric("a", 1.0, 9, 100),
            Metric("a", 2.0, 9, 300),  # same step, later: wins
            Metric("a", 3.0, 9, 200),
            Metric("b", 1.0, 4, 100),
            Metric("b", 2.0, 4, 100),  # same step and time: the last logged wins
            Metric("c", 7.0, 8, 900),
            Metric("c", 6.0, 10, 100),  # higher step, earlier time: wins
        ],
    )
    assert client.get_run(run_id).metrics == {"a": 2.0, "b": 2.0, "c": 6.0}


def test_given_dataset_logged_twice_then_one_version_and_lineage_to_model(client, tmp_path):
    df = pd.DataFrame({"x": np.arange(100.0), "y": np.arange(100) % 2})
    with mlops.start_run(name="prepare") as prep:
        v1 = mlops.log_dataset(df, name="train", role="output")
    with mlops.start_run(name="fit") as fit:
        again = mlops.log_dataset(df.copy(), name="train")
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression().fit(df[["x"]], df["y"])
        logged = mlops.log_model(model, name="clf", input_example=df[["x"]].head())
    assert again.id == v1.id and again.version == 1
    df.loc[0, "x"] = -1.0
    with mlops.start_run():
        v2 = mlops.log_dataset(df, name="train")
    assert v2.version == 2 and v2.fingerprint != v1.fingerprint
    assert v1.profile["columns"][0]["name"] == "x"
    lineage = client.dataset_lineage("train@1")
    assert [e["run_id"] for e in lineage["produced_by"]] == [prep.id]
    assert [e["run_id"] for e in lineage["used_by"]] == [fit.id]
    assert lineage["used_by"][0]["models"][0]["id"] == logged.id
    assert logged.signature["inputs"]["columns"] == [{"name": "x", "dtype": "float64"}]
    assert logged.signature["outputs"]["type"] == "ndarray"
    assert client.get_dataset(v1.fingerprint).id == v1.id


def test_given_file_dataset_then_fingerprint_is_content_based(client, tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n1\n")
    with mlops.start_run():
        a = mlops.log_dataset(tmp_path / "a.csv")
        b = mlops.log_dataset(str(tmp_path / "b.csv"))
    assert a.fingerprint == b.fingerprint and a.kind == "file" and a.name == "a.csv"


def test_given_artifact_when_tampered_on_disk_then_integrity_error(client, tmp_path):
    src = tmp_path / "report.txt"
    src.write_text("accuracy 0.9")
    with mlops.start_run() as run:
        mlops.log_artifact(src, "reports/report.txt")
        from sklearn.dummy import DummyClassifier

        logged = mlops.log_model(DummyClassifier().fit([[0], [1]], [0, 1]))
    assert client.read_artifact(run.id, "reports/report.txt") == b"accuracy 0.9"
    [art] = [a for a in client.get_run(run.id).artifacts if a.path == "reports/report.txt"]
    blob = client.artifacts.root / "sha256" / art.sha256[:2] / art.sha256[2:]
    os.chmod(blob, 0o644)
    blob.write_text("accuracy 1.0")
    with pytest.raises(mlops.IntegrityError, match="modified on disk"):
        client.read_artifact(run.id, "reports/report.txt")
    with pytest.raises(mlops.IntegrityError):
        client.download_artifact(run.id, "reports/report.txt", tmp_path / "out.txt")
    model_blob = client.artifacts.root / "sha256" / logged.sha256[:2] / logged.sha256[2:]
    model_blob.write_bytes(model_blob.read_bytes() + b"x")
    with pytest.raises(mlops.IntegrityError):
        mlops.load_model(logged.id)  # never unpickled


@pytest.mark.parametrize("path", ["../escape", "/etc/passwd", "a/../../b", "a//b", "", "a\\b"])
def test_given_bad_artifact_path_then_refused(client, tmp_path, path):
    src = tmp_path / "f.txt"
    src.write_text("x")
    with mlops.start_run(), pytest.raises(mlops.InvalidInput):
        mlops.log_artifact(src, path)


def test_given_unreferenced_blobs_when_gc_then_only_they_are_deleted(client, tmp_path):
    src = tmp_path / "kept.txt"
    src.write_text("keep me")
    with mlops.start_run() as run:
        mlops.log_artifact(src)
    orphan, _ = client.artifacts.put_bytes(b"orphan")
    assert client.gc(dry_run=True)["blobs"] == 1
    assert client.artifacts.exists(orphan)
    assert client.gc()["blobs"] == 1
    assert not client.artifacts.exists(orphan)
    assert client.read_artifact(run.id, "kept.txt") == b"keep me"
    client.delete_runs([run.id])
    assert client.gc()["blobs"] == 1


def test_given_search_then_filter_order_and_pagination_happen_in_sql(client):
    ids = []
    for i in range(30):
        rid = client.create_run("grid" if i % 2 else "other", f"r{i}")
        client.log_params(rid, {"n": i, "model": "rf" if i % 3 else "lr"})
        client.log_metric(rid, "acc", i / 30)
        client.end_run(rid)
        ids.append(rid)
    page = client.search_runs_page(
        experiment="grid",
        filter="metrics.acc >= 0.5 and (params.model = 'rf' or params.n < 20)",
        order_by=["metrics.acc DESC"],
        limit=3,
    )
    assert [r.params["n"] for r in page.runs] == ["29", "25", "23"]
    assert page.total == 6
    second = client.search_runs(
        experiment="grid", filter="metrics.acc >= 0.5", order_by=["params.n"], limit=2, offset=2
    )
    assert [r.params["n"] for r in second] == ["19", "21"]
    with pytest.raises(mlops.NotFound, match="Known experiments"):
        client.search_runs(experiment="missing")
    with pytest.raises(mlops.InvalidInput, match="column"):
        client.search_runs(filter="metrics.acc >> 1")
    with pytest.raises(mlops.InvalidInput):
        client.search_runs(limit=0)
    assert client.resolve_run_id(ids[0][:8]) == ids[0]


def test_given_store_env_rules_then_location_is_resolved_in_order(tmp_path, monkeypatch):
    monkeypatch.delenv(config.STORE_ENV, raising=False)
    monkeypatch.delenv(config.HOME_ENV, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jdata"))
    nested = tmp_path / "proj" / "notebooks"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert (
        config.resolve_location().db_url == f"sqlite:///{tmp_path / 'jdata' / 'mlops' / 'mlops.db'}"
    )
    (tmp_path / "proj" / ".mlops").mkdir()
    assert config.resolve_location().home == tmp_path / "proj" / ".mlops"
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path / "home"))
    assert config.resolve_location().home == tmp_path / "home"
    monkeypatch.setenv(config.STORE_ENV, "postgresql://u@localhost/db")
    assert config.resolve_location().db_url == "postgresql://u@localhost/db"


def test_given_unknown_database_url_then_clear_error(tmp_path):
    with pytest.raises(mlops.InvalidInput, match=r"No store for URLs of scheme 'nosuchdb'.*sqlite"):
        Client("nosuchdb://x/y")


def test_given_sqlite_store_then_wal_mode_and_schema_at_head(client):
    from jupyter_mlops.store.sql.migrate import HEAD

    with client.store.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD


@pytest.mark.postgres
def test_given_postgresql_store_then_the_same_api_works(
    tmp_path, postgres_url, open_client, monkeypatch
):
    url = postgres_url
    schema_db = f"mlops_test_{os.getpid()}"
    admin = sa.create_engine(
        url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {schema_db}")
        conn.exec_driver_sql(f"CREATE DATABASE {schema_db}")
    try:
        monkeypatch.setenv(config.ARTIFACTS_ENV, str(tmp_path / "artifacts"))
        client = open_client(url.rsplit("/", 1)[0] + "/" + schema_db)
        run_id = client.create_run("pg", "first", tags={"k": "v"})
        client.log_params(run_id, {"n": 10, "model": "rf"})
        client.log_batch(run_id, metrics=[("acc", 0.9, 0), ("loss", math.nan, 0)])
        with mlops.start_run(client=client) as run:
            mlops.log_dataset(pd.DataFrame({"a": [1, 2]}), name="d")
        client.end_run(run_id)
        got = client.get_run(run_id)
        assert got.params == {"n": "10", "model": "rf"} and math.isnan(got.metrics["loss"])
        found = client.search_runs(
            filter="params.n > 9 and metrics.acc > 0.5", order_by=["metrics.acc DESC"]
        )
        assert [r.id for r in found] == [run_id]
        assert client.get_run(run.id).inputs[0].name == "d"
        # A second open finds the schema at head.
        open_client(url.rsplit("/", 1)[0] + "/" + schema_db)
        client.close()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {schema_db} WITH (FORCE)")
        admin.dispose()


def test_path_of_store_home_holds_db_and_artifacts(client):
    home = Path(client.location.home)
    assert (home / "mlops.db").exists()
    assert Path(client.location.artifact_root) == home / "artifacts"


def test_given_new_store_created_directly_then_schema_equals_what_migrations_build(
    direct_and_migrated,
):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from jupyter_mlops.store.sql.migrate import HEAD
    from jupyter_mlops.store.sql.schema import metadata

    # Given one store built by the fast path and one by running every migration
    # Then both match the declared schema and are stamped at HEAD
    for engine in direct_and_migrated:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
            # alembic cannot reflect expression indexes on SQLite: check that one by name
            assert [d for d in diffs if d[1].name != "ix_runs_start_time_desc_id"] == []
            sql = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_runs_start_time_desc_id'"
            ).scalar()
            assert "start_time DESC" in sql and "id" in sql
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD


def test_given_metrics_logged_in_many_writes_then_history_is_in_step_order(client):
    run_id = client.create_run()
    client.log_batch(run_id, metrics=[("m", float(i), i) for i in range(10, 20)])
    client.log_batch(run_id, metrics=[("m", float(i), i) for i in range(0, 10)])
    client.log_batch(run_id, metrics=[("m", math.nan, 20), ("other", 1.0, 0)])
    history = client.get_metric_history(run_id, "m")
    assert [m.step for m in history] == list(range(21))
    assert [m.value for m in history[:20]] == [float(i) for i in range(20)]
    assert math.isnan(history[20].value)
    assert math.isnan(client.get_run(run_id).metrics["m"])
    assert client.get_metric_history(run_id, "missing") == []


def test_given_store_at_first_revision_when_opened_then_upgraded_with_data_kept(
    tmp_path, open_client
):
    from alembic import command
    from alembic.config import Config

    from jupyter_mlops.store.sql.engine import create_engine
    from jupyter_mlops.store.sql.migrate import HEAD, MIGRATIONS_DIR

    # Given a store created by an older version (revision 0001) holding a run
    engine = create_engine(f"sqlite:///{tmp_path / 'mlops.db'}")
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql(
            "INSERT INTO experiments (name, description, created_at) VALUES ('old', '', 1)"
        )
        conn.exec_driver_sql(
            "INSERT INTO runs (id, experiment_id, name, status, start_time, heartbeat, user) "
            "VALUES ('a' || hex(randomblob(15)), 1, 'kept', 'FINISHED', 1, 1, 'u')"
        )
    engine.dispose()
    # When this version opens it, Then it is migrated to HEAD and the run is still there
    client = open_client(tmp_path)
    with client.store.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD
    assert [r.info.name for r in client.search_runs(experiment="old")] == ["kept"]


def test_reading_the_git_state_never_writes_or_locks_the_users_index(tmp_path):
    """`git status` refreshes the index under .git/index.lock when a tracked file's stat
    changed; tracking reads with optional locks off, so the index is left as it was (and a
    read killed at its timeout cannot leave a lock behind)."""
    import os
    import subprocess
    import time

    from jupyter_mlops.capture import git_state

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    index = tmp_path / ".git" / "index"
    # The same content, a new mtime: a plain `git status` would rewrite the index.
    later = time.time() + 5
    os.utime(tmp_path / "a.txt", (later, later))
    before = index.stat().st_mtime_ns, index.read_bytes()
    commit, dirty = git_state(str(tmp_path), block=True)
    assert commit is not None and len(commit) == 40 and dirty is False
    assert (index.stat().st_mtime_ns, index.read_bytes()) == before
    assert not (tmp_path / ".git" / "index.lock").exists()
