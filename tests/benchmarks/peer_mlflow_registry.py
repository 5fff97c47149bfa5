"""MLflow's model registry, as ours_registry.py times jupyter-mlops'; run it with the peer venv
(.venv-bench).

One tiny scikit-learn model (LogisticRegression on the bundled breast_cancer data) is logged
once with ``mlflow.sklearn.log_model`` (untimed), then registered 50 times as versions of
``churn`` with ``MlflowClient.create_model_version`` (what ``mlflow.register_model`` calls, given
the logged model's id). On those 50 versions: stage moves into Production (deprecated in
MLflow 3, timed while it still works), alias moves, ``search_model_versions``, resolving an
alias and loading the model by alias, warm in this process; then the first call of each in
fresh processes. Then what MLflow has nearest to ours_registry.py's lineage and validation
gates: reading a version, its run and its logged model (MLflow has no lineage call), and
``mlflow.models.evaluate`` + ``mlflow.validate_evaluation_results`` (accuracy and ROC AUC
thresholds) on the same 100,000-row holdout. The store is a local SQLite file
(``sqlite:///<tmp>/mlflow.db``) and the experiment's artifacts go to the same temporary
folder. Prints one JSON object on stdout. Numbers only: nothing here asserts a time.
"""

from __future__ import annotations

import os

# Before mlflow is imported: no usage telemetry leaves the machine, no git warnings.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _common import child_env, emit, holdout_frame, run_json, summary_ms, timed

NAME = "churn"
VERSIONS = 50  # registrations timed, and the versions the searches see
MOVES = 50  # stage moves, then alias moves
FLUENT_REGISTRATIONS = 10  # mlflow.register_model("runs:/...") onto another name
SEARCHES = 30
RESOLVES = 100
LOADS = 20
FRESH_PROCESSES = 3
LINEAGE_CALLS = 50
HOLDOUT_ROWS = 100_000
VALIDATIONS = 3

# The "first call" child: ``import mlflow`` is done before the clock starts; pointing MLflow
# at the store, the client and the first call are timed.
FIRST_CALL_CHILD = r"""
import json, logging, sys, time, warnings
warnings.simplefilter("ignore")
t_import = time.perf_counter()
import mlflow
from mlflow import MlflowClient
import_ms = (time.perf_counter() - t_import) * 1000.0
for name in ("mlflow", "alembic", "sqlalchemy", "git"):
    logging.getLogger(name).setLevel(logging.ERROR)
uri, op, arg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t0 = time.perf_counter()
mlflow.set_tracking_uri(uri)
client = MlflowClient()
if op == "register":
    client.create_model_version(arg["name"], source=f"models:/{arg['model_id']}",
                                run_id=arg["run_id"], model_id=arg["model_id"])
elif op == "alias":
    client.set_registered_model_alias(arg["name"], "champion", str(arg["version"]))
elif op == "search":
    assert len(client.search_model_versions(f"name='{arg['name']}'")) >= arg["versions"]
elif op == "resolve":
    client.get_model_version_by_alias(arg["name"], "champion")
elif op == "load":
    import mlflow.sklearn
    mlflow.sklearn.load_model(f"models:/{arg['name']}@champion").predict
else:
    raise SystemExit(f"unknown op {op}")
first_ms = (time.perf_counter() - t0) * 1000.0
print(json.dumps({"first_call_ms": first_ms, "import_ms": import_ms}))
"""


def silence() -> None:
    warnings.simplefilter("ignore")
    for name in ("mlflow", "alembic", "sqlalchemy", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)


def validation(model_uri: str, frame: Any, experiment_id: str) -> dict[str, Any]:
    """``mlflow.models.evaluate`` of a registered version on the holdout (default evaluator,
    explainability off), then ``validate_evaluation_results`` with accuracy and ROC AUC
    thresholds: MLflow's counterpart of a metrics gate. Each in its own run, as evaluate logs
    its metrics and plots to the active run."""
    import mlflow
    from mlflow.models import MetricThreshold

    thresholds = {
        "accuracy_score": MetricThreshold(threshold=0.9, greater_is_better=True),
        "roc_auc": MetricThreshold(threshold=0.9, greater_is_better=True),
    }
    samples = []
    for _ in range(VALIDATIONS):
        with mlflow.start_run(experiment_id=experiment_id):
            t0 = time.perf_counter()
            result = mlflow.models.evaluate(
                model_uri,
                frame,
                targets="target",
                model_type="classifier",
                evaluators="default",
                evaluator_config={"log_model_explainability": False},
            )
            mlflow.validate_evaluation_results(thresholds, result)  # raises if one fails
            samples.append(time.perf_counter() - t0)
    return {**summary_ms(samples), "rows": len(frame), "metrics": len(result.metrics)}


def first_calls(uri: str, args: dict[str, Any]) -> dict[str, Any]:
    """The first call of each operation in fresh processes (median of FRESH_PROCESSES). The
    writes come last, so the searches see exactly VERSIONS versions."""
    env = child_env()
    result: dict[str, Any] = {}
    for op in ("search", "resolve", "load", "alias", "register"):
        rows = []
        for i in range(FRESH_PROCESSES):
            arg = dict(args, version=VERSIONS - i)  # each alias process really moves it
            argv = [sys.executable, "-c", FIRST_CALL_CHILD, uri, op, json.dumps(arg)]
            rows.append(run_json(argv, env, timeout=300))
        result[op] = {
            "first_call_ms": statistics.median(r["first_call_ms"] for r in rows),
            "import_and_first_call_ms": statistics.median(
                r["import_ms"] + r["first_call_ms"] for r in rows
            ),
            "samples_ms": [r["first_call_ms"] for r in rows],
        }
    return result


def main() -> None:
    silence()
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    silence()  # mlflow installs its own handlers on import
    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-mlflow-registry-"))
    try:
        result: dict[str, Any] = {"tool": "mlflow", "version": mlflow.__version__}
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        mlflow.set_tracking_uri(uri)
        # Artifacts (the logged model) in the temporary folder, not ./mlruns.
        experiment_id = mlflow.create_experiment("bench", artifact_location=(tmp / "art").as_uri())
        data = load_breast_cancer(as_frame=True)
        x, y = data.data, data.target
        model = LogisticRegression(max_iter=5000).fit(x, y)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            # Requirements given, so that MLflow does not spend seconds inferring them.
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        run_id, model_id = run.info.run_id, info.model_id
        client = MlflowClient()
        client.create_registered_model(NAME)

        result["register"] = summary_ms(
            timed(
                VERSIONS,
                lambda i: client.create_model_version(
                    NAME, source=f"models:/{model_id}", run_id=run_id, model_id=model_id
                ),
            )
        )
        # The fluent call from a runs:/ URI (looks the run's logged model up, logs a line).
        fluent_uri = f"runs:/{run_id}/model"
        result["register_fluent"] = summary_ms(
            timed(FLUENT_REGISTRATIONS, lambda i: mlflow.register_model(fluent_uri, "churn_fluent"))
        )

        def stage(i: int) -> None:
            client.transition_model_version_stage(
                NAME, str(i % VERSIONS + 1), "Production", archive_existing_versions=True
            )

        try:
            result["stage_move"] = summary_ms(timed(MOVES, stage))
        except Exception as exc:  # deprecated in MLflow 3; removed in some later release
            result["stage_move_error"] = f"{type(exc).__name__}: {exc}"[:500]

        def alias(i: int) -> None:
            client.set_registered_model_alias(NAME, "champion", str(i % VERSIONS + 1))

        result["alias_move"] = summary_ms(timed(MOVES, alias))
        champion = client.get_model_version_by_alias(NAME, "champion").version

        found = client.search_model_versions(f"name='{NAME}'")  # warm-up
        result["search_versions"] = summary_ms(
            timed(SEARCHES, lambda i: client.search_model_versions(f"name='{NAME}'"))
        )
        result["search_versions_found"] = len(found)
        result["resolve_alias"] = summary_ms(
            timed(RESOLVES, lambda i: client.get_model_version_by_alias(NAME, "champion"))
        )
        loaded = mlflow.sklearn.load_model(f"models:/{NAME}@champion")  # warm-up
        result["load_model_alias"] = summary_ms(
            timed(LOADS, lambda i: mlflow.sklearn.load_model(f"models:/{NAME}@champion"))
        )
        result["load_model_predicts_same"] = bool((loaded.predict(x) == model.predict(x)).all())
        result["versions"] = VERSIONS
        result["moves"] = MOVES
        result["champion"] = int(champion)

        # No lineage call: the version, its run and its logged model are what MLflow keeps.
        def lineage(i: int) -> None:
            version = client.get_model_version(NAME, champion)
            client.get_run(version.run_id)
            # get_model_version gives no model_id here (3.17, SQLite); the source names it.
            client.get_logged_model(version.model_id or version.source.removeprefix("models:/"))

        result["lineage_parts"] = summary_ms(timed(LINEAGE_CALLS, lineage))
        try:
            frame = holdout_frame(x, y, HOLDOUT_ROWS)
            result["validation"] = validation(f"models:/{NAME}/1", frame, experiment_id)
        except Exception as exc:  # a threshold missed, or evaluate changed: say so, keep the rest
            result["validation_error"] = f"{type(exc).__name__}: {exc}"[:500]
        result["first_call"] = first_calls(
            uri, {"name": NAME, "run_id": run_id, "model_id": model_id, "versions": VERSIONS}
        )
        emit(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
