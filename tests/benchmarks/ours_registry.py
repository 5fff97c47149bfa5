"""The jupyter-mlops side of the registry benchmarks; run it with the project venv (.venv).

Mirrors peer_mlflow_registry.py call for call: the same tiny scikit-learn model
(LogisticRegression on the bundled breast_cancer data) logged once on a run with
``Client.log_model`` (untimed), registered 50 times as versions of ``churn`` with
``register_model("runs:/<run id>/model")``; on those 50 versions, stage moves into Production,
alias moves, ``search_model_versions``, resolving an alias and loading the model by alias, warm
in this process, then the first call of each in fresh processes. Then what MLflow has no
equivalent for: which version held a stage or an alias at a past time (``model_at``,
``holders_at``) over histories of 200 and 2,000 moves, and ``jupyter-mlops models versions``
and ``models show`` as whole processes. Last, ``Client.model_lineage`` and
``jupyter_mlops.registry.validate`` (validation gates) on a 100,000-row holdout; when this
jupyter-mlops has neither, the JSON says so and the rest is still measured. The store is a
local SQLite store in a temporary folder. Prints one JSON object on stdout. Numbers only:
nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
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
SEARCHES = 30
RESOLVES = 100
LOADS = 20
FRESH_PROCESSES = 3
HISTORY_VERSIONS = 20
HISTORIES = (200, 2000)  # moves in the time-travel histories
AT_CALLS = 100  # 30 on the history of 2,000 moves
CLI_REPEATS = 15
LINEAGE_CALLS = 50
HOLDOUT_ROWS = 100_000
VALIDATIONS = 3
# Accuracy and ROC AUC thresholds, as peer_mlflow_registry.py validates; then every gate.
METRIC_GATES = {"target": "target", "metrics": {"accuracy": {"min": 0.9}, "roc_auc": {"min": 0.9}}}
ALL_GATES = {
    **METRIC_GATES,
    "champion": {"metric": "accuracy"},
    "robustness": True,
    "latency": {"p95_ms": 50},
}

# The "first call" child: ``from jupyter_mlops.client import Client`` is done before the clock
# starts; opening the store and the first call are timed.
FIRST_CALL_CHILD = r"""
import json, sys, time
t_import = time.perf_counter()
from jupyter_mlops.client import Client
import_ms = (time.perf_counter() - t_import) * 1000.0
store, op, arg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t0 = time.perf_counter()
client = Client(store)
if op == "register":
    client.register_model(f"runs:/{arg['run_id']}/model", arg["name"])
elif op == "alias":
    client.set_model_alias(arg["name"], "champion", arg["version"])
elif op == "search":
    assert len(client.search_model_versions(arg["name"])) >= arg["versions"]
elif op == "resolve":
    client.get_model_version_by_alias(arg["name"], "champion")
elif op == "load":
    client.load_model(f"models:/{arg['name']}@champion").predict
else:
    raise SystemExit(f"unknown op {op}")
first_ms = (time.perf_counter() - t0) * 1000.0
print(json.dumps({"first_call_ms": first_ms, "import_ms": import_ms}))
"""


def validation(client: Any, run_id: str, frame: Any) -> dict[str, Any]:
    """``registry.validate`` of version 2 of a model whose version 1 is in Production: the
    metrics gate alone (what MLflow's evaluate + thresholds do), then every gate (champion:
    bootstrap against version 1; robustness probes; latency). The model runs in a sandbox
    process each time, which imports scikit-learn to unpickle it."""
    try:
        from jupyter_mlops.registry import validate
    except ImportError as exc:
        return {"error": f"no jupyter_mlops.registry.validate ({exc})"}
    name = "churn_gated"
    for _ in range(2):
        client.register_model(f"runs:/{run_id}/model", name)
    client.transition_model_version_stage(name, 1, "Production")
    result: dict[str, Any] = {"rows": len(frame)}
    for key, config in (("metrics", METRIC_GATES), ("all", ALL_GATES)):
        client.set_model_gates(name, config)
        samples = []
        for _ in range(VALIDATIONS):
            t0 = time.perf_counter()
            report = validate(client, name, 2, holdout=frame)
            samples.append(time.perf_counter() - t0)
        result[key] = {
            **summary_ms(samples),
            "gates": [g["gate"] for g in report.gates],
            "passed": report.passed,
        }
    # What the sandbox pays before predicting: a fresh interpreter importing scikit-learn.
    argv = [sys.executable, "-c", "import sklearn.linear_model"]
    result["sklearn_import_process"] = summary_ms(
        timed(3, lambda i: subprocess.run(argv, check=True, capture_output=True))
    )
    return result


def first_calls(store: Path, args: dict[str, Any]) -> dict[str, Any]:
    """The first call of each operation in fresh processes (median of FRESH_PROCESSES). The
    writes come last, so the searches see exactly VERSIONS versions."""
    env = child_env()
    result: dict[str, Any] = {}
    for op in ("search", "resolve", "load", "alias", "register"):
        rows = []
        for i in range(FRESH_PROCESSES):
            arg = dict(args, version=VERSIONS - i)  # each alias process really moves it
            argv = [sys.executable, "-c", FIRST_CALL_CHILD, str(store), op, json.dumps(arg)]
            rows.append(run_json(argv, env))
        result[op] = {
            "first_call_ms": statistics.median(r["first_call_ms"] for r in rows),
            "import_and_first_call_ms": statistics.median(
                r["import_ms"] + r["first_call_ms"] for r in rows
            ),
            "samples_ms": [r["first_call_ms"] for r in rows],
        }
    return result


def time_travel(client: Any, run_id: str, moves: int) -> dict[str, Any]:
    """A model of HISTORY_VERSIONS versions moved ``moves`` times (stage moves into Production,
    which archive the version there, alternating with alias moves); then ``model_at`` and
    ``holders_at`` at the time of the middle move, which must name the version moved then."""
    name = f"churn_history_{moves}"
    for _ in range(HISTORY_VERSIONS):
        client.register_model(f"runs:/{run_id}/model", name)
    middle_at = None
    expected: dict[str, int] = {}
    held_then: dict[str, int] = {}
    for i in range(moves):
        version = (i // 2) % HISTORY_VERSIONS + 1
        if i % 2 == 0:
            client.transition_model_version_stage(name, version, "Production")
            expected["Production"] = version
        else:
            client.set_model_alias(name, "champion", version)
            expected["champion"] = version
        if i == moves // 2:
            time.sleep(0.002)  # the next move is at a later millisecond
            middle_at = int(time.time() * 1000)
            time.sleep(0.002)
            held_then = dict(expected)
    assert middle_at is not None
    at = middle_at
    calls = AT_CALLS if moves <= 200 else 30
    production = summary_ms(timed(calls, lambda i: client.model_at(name, "Production", at)))
    alias = summary_ms(timed(calls, lambda i: client.model_at(name, "champion", at)))
    holders = summary_ms(timed(calls, lambda i: client.holders_at(name, at)))
    got = client.holders_at(name, at)
    return {
        "moves": moves,
        "audit_entries": len(client.model_history(name)),
        "model_at_stage": production,
        "model_at_alias": alias,
        "holders_at": holders,
        "correct": got.get("Production") == held_then["Production"]
        and got.get("champion") == held_then["champion"]
        and client.model_at(name, "Production", at).version == held_then["Production"],
    }


def cli(store: Path, folder: Path) -> dict[str, Any]:
    """``jupyter-mlops models versions churn`` and ``models show churn@champion`` as whole
    processes: one untimed run, then CLI_REPEATS timed ones (as ours_cli.py)."""
    exe = str(Path(sys.executable).parent / "jupyter-mlops")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_MLOPS_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up writes bytecode, as on any machine
    result: dict[str, Any] = {}
    for key, args in (
        ("models_versions", ["models", "versions", NAME]),
        ("models_show", ["models", "show", f"{NAME}@champion"]),
    ):
        argv = [exe, "--store", str(store), *args]
        out = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, check=True)
        samples = []
        for _ in range(CLI_REPEATS):
            t0 = time.perf_counter()
            subprocess.run(argv, cwd=folder, env=env, capture_output=True, check=True)
            samples.append(time.perf_counter() - t0)
        result[key] = summary_ms(samples)
        result[f"{key}_lines"] = len(out.stdout.splitlines())
    return result


def main() -> None:
    warnings.simplefilter("ignore")
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import jupyter_mlops as mlops
    from jupyter_mlops.client import Client

    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-registry-"))
    try:
        result: dict[str, Any] = {"tool": "jupyter-mlops", "version": mlops.__version__}
        store = tmp / "store"
        client = Client(store)
        data = load_breast_cancer(as_frame=True)
        x, y = data.data, data.target
        model = LogisticRegression(max_iter=5000).fit(x, y)
        run_id = client.create_run("bench", "train")
        client.log_model(run_id, model, "model", input_example=x[:5])
        client.end_run(run_id)
        source = f"runs:/{run_id}/model"

        result["register"] = summary_ms(
            timed(VERSIONS, lambda i: client.register_model(source, NAME))
        )
        result["stage_move"] = summary_ms(
            timed(
                MOVES,
                lambda i: client.transition_model_version_stage(
                    NAME, i % VERSIONS + 1, "Production"
                ),
            )
        )
        result["alias_move"] = summary_ms(
            timed(MOVES, lambda i: client.set_model_alias(NAME, "champion", i % VERSIONS + 1))
        )
        champion = client.get_model_version_by_alias(NAME, "champion").version

        found = client.search_model_versions(NAME)  # warm-up
        result["search_versions"] = summary_ms(
            timed(SEARCHES, lambda i: client.search_model_versions(NAME))
        )
        result["search_versions_found"] = len(found)
        result["resolve_alias"] = summary_ms(
            timed(RESOLVES, lambda i: client.get_model_version_by_alias(NAME, "champion"))
        )
        uri = f"models:/{NAME}@champion"
        result["resolve_uri"] = summary_ms(timed(RESOLVES, lambda i: client.resolve_model_uri(uri)))
        loaded = client.load_model(uri)  # warm-up
        result["load_model_alias"] = summary_ms(timed(LOADS, lambda i: client.load_model(uri)))
        result["load_model_predicts_same"] = bool((loaded.predict(x) == model.predict(x)).all())
        result["versions"] = VERSIONS
        result["moves"] = MOVES
        result["champion"] = champion
        result["audit_entries"] = len(client.model_audit(NAME))
        result["audit_intact"] = client.verify_model_audit() is None

        result["cli"] = cli(store, tmp)
        result["time_travel"] = {str(n): time_travel(client, run_id, n) for n in HISTORIES}
        if hasattr(client, "model_lineage"):
            lineage = client.model_lineage(NAME, champion)
            result["lineage"] = {
                **summary_ms(timed(LINEAGE_CALLS, lambda i: client.model_lineage(NAME, champion))),
                "keys": sorted(lineage),
            }
        else:
            result["lineage"] = {"error": "no Client.model_lineage"}
        result["validation"] = validation(client, run_id, holdout_frame(x, y, HOLDOUT_ROWS))
        client.close()
        result["first_call"] = first_calls(
            store, {"name": NAME, "run_id": run_id, "versions": VERSIONS}
        )
        emit(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
