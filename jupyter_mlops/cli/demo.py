"""``demo``: the lifecycle headless, printed as it happens. It executes the demo notebook in a
real kernel and lists the runs it made; registers the better of its models, validates it
against gates on the notebook's holdout file, promotes it and prints its lineage and model
card (and shows the runner-up judged against it); serves the champion over HTTP, sends it
requests and labels, and prints what the server recorded; then runs the demo pipeline twice (the
second time from the cache) and prints its steps and the tree of runs both made."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import views
from ..config import store_env
from ..exceptions import MlopsError
from .common import DefaultGroup, client_of, emit, errors
from .lifecycle import lifecycle

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import Run

DEMO_NOTEBOOK = "notebooks/demo.ipynb"
DEMO_PIPELINE = "notebooks/pipeline/pipeline.yaml"


class _Demos(DefaultGroup):
    """``demo`` alone (or with the first demo's options) runs the first demo."""

    default_command = "all"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, args or [self.default_command])


@click.group(cls=_Demos)
def demo() -> None:
    """The demos, headless: `demo` (notebook, registry, serving, pipeline) and `demo lifecycle`
    (the continuous-training loop).

    `demo` runs the first; `demo lifecycle` serves a model, makes its traffic drift and lets
    the scheduler retrain, validate, promote and switch, then prints the loop's timeline."""


demo.add_command(lifecycle)


@demo.command("all")
@click.option("--notebook", default=None, help="Demo notebook (default: notebooks/demo.ipynb).")
@click.option(
    "--pipeline",
    "pipeline_path",
    default=None,
    help="Demo pipeline (default: notebooks/pipeline/pipeline.yaml).",
)
@click.option("--no-pipeline", is_flag=True, help="Skip the pipeline part of the demo.")
@click.pass_context
@errors
def demo_all(
    ctx: click.Context, notebook: str | None, pipeline_path: str | None, no_pipeline: bool
) -> None:
    """Execute the demo notebook in a real kernel and print the runs it made.

    Then register the best of its models, validate and promote it, and print its lineage and
    model card; serve the champion over HTTP, send it the holdout's rows and their labels, and
    print what the server recorded; then run the demo pipeline twice (the second time from the
    cache) and print its steps and the runs both made."""
    client = client_of(ctx)
    new_runs = run_demo(client, notebook)
    run_registry_demo(client, new_runs)
    run_serving_demo(client)
    if not no_pipeline:
        run_pipeline_demo(client, pipeline_path)


def run_demo(client: Client, notebook: str | None = None) -> list[Run]:
    """Execute the demo notebook against ``client``'s store and print what it recorded."""
    from ..pipelines.notebook import execute_notebook

    path = Path(notebook or DEMO_NOTEBOOK)
    loc = client.location
    env = store_env(loc)
    print(f"store: {loc.db_url}")
    print(f"executing {path} in a real kernel ...", flush=True)
    started = time.perf_counter()
    before = {r.id for r in client.iter_runs()}
    execute_notebook(path, env=env)
    print(f"done in {time.perf_counter() - started:.1f}s\n")
    new_runs = [r for r in client.iter_runs(order_by=["start_time"]) if r.id not in before]
    print(f"runs recorded by {path.name}:")
    emit(views.run_rows(new_runs, views.varying_params(new_runs)), "table")
    for run in new_runs:
        full = client.get_run(run.id)
        data = ", ".join(f"{d.role}:{d.name}" for d in [*full.inputs, *full.outputs])
        models = ", ".join(m.name for m in full.models)
        print(f"  {run.id[:8]} {run.info.name[:40]:40} data[{data}] models[{models}]")
    sys.stdout.flush()
    return new_runs


DEMO_MODEL = "churn"
DEMO_METRIC = "auc"
# The gates of the demo's registered model; the holdout is filled in with the version of
# holdout.csv the notebook just wrote.
DEMO_GATES = """\
target: churned
metrics:
  roc_auc: {min: 0.85}
  accuracy: {min: 0.80}
champion: {metric: roc_auc, resamples: 1000}
robustness: {rows: 20, timeout_s: 10}
latency: {batch_size: 1, p95_ms: 1000, repeats: 50}
fairness: {column: plan_pro, metric: demographic_parity, max_gap: 0.5}
"""


def run_registry_demo(client: Client, runs: list[Run]) -> None:
    """Register the two best models of ``runs`` (by AUC), validate the best against the
    demo's gates on the holdout file, promote it to Production as the champion, judge the
    runner-up against it, and print the champion's lineage and model card."""
    from .. import registry
    from ..registry.card import lineage_text, model_card_markdown

    scored = []
    for run in runs:
        full = client.get_run(run.id)
        value = full.metrics.get(DEMO_METRIC)
        if full.models and value is not None:
            scored.append((value, full))
    holdouts = client.list_datasets("holdout.csv")
    if len(scored) < 2 or not holdouts:
        print("\nthe notebook made fewer than two scored models or no holdout: no registry demo")
        return
    scored.sort(key=lambda pair: pair[0], reverse=True)
    (best_auc, best), (second_auc, second) = scored[:2]
    holdout = max(holdouts, key=lambda d: d.version)
    print(f"\nregistry: the best two models by {DEMO_METRIC}")
    versions = []
    for value, run in ((best_auc, best), (second_auc, second)):
        model = run.models[-1]
        version = client.register_model(
            f"runs:/{run.id}/{model.name}", DEMO_MODEL, f"{model.name}, {DEMO_METRIC} {value:.3f}"
        )
        versions.append(version)
        print(f"  registered models:/{DEMO_MODEL}/{version.version}  {model.name}  {value:.4f}")
    gates = f"holdout: {holdout.name}@{holdout.version}\n{DEMO_GATES}"
    client.set_model_gates(DEMO_MODEL, gates, reason="the demo's gates")
    print(f"\ngates of {DEMO_MODEL} (jupyter-mlops models gates {DEMO_MODEL}):")
    print("  " + gates.rstrip().replace("\n", "\n  "))
    champion, runner_up = versions
    print(f"\nvalidating {DEMO_MODEL}/{champion.version} ...", flush=True)
    print(registry.validate(client, DEMO_MODEL, champion.version, progress=sys.stderr.isatty()))
    try:
        promoted = registry.promote(
            client, DEMO_MODEL, champion.version, "Production", reason=f"best {DEMO_METRIC}"
        )
    except MlopsError as exc:
        print(f"not promoted: {exc}")
        return
    client.set_model_alias(DEMO_MODEL, "champion", promoted.version, "promoted by the demo")
    print(f"promoted: models:/{DEMO_MODEL}/{promoted.version} is in Production, @champion")
    print(f"\nthe runner-up {DEMO_MODEL}/{runner_up.version} judged against the champion ...")
    report = registry.validate(client, DEMO_MODEL, runner_up.version, progress=sys.stderr.isatty())
    print(report)
    verdict = "could" if report.passed else "could not"
    print(f"{DEMO_MODEL}/{runner_up.version} {verdict} be promoted without --force")
    print(f"\nlineage of models:/{DEMO_MODEL}/{promoted.version}:")
    print(lineage_text(client.model_lineage(DEMO_MODEL, promoted.version)))
    print(f"model card of models:/{DEMO_MODEL}/{promoted.version}:\n")
    print(model_card_markdown(client, DEMO_MODEL, promoted.version))
    sys.stdout.flush()


def run_serving_demo(client: Client, requests: int = 50) -> None:
    """Serve ``models:/churn@champion``, send it rows of the holdout file one request each
    (as a client of MLflow's protocol would), label them through ``/feedback``, and print the
    server's record, figures and what it recorded; then stop it."""
    import json
    import urllib.request

    from ..serving import ServeOptions, start_server

    try:
        champion = client.resolve_model_uri(f"models:/{DEMO_MODEL}@champion")
    except MlopsError:
        print("\nno champion to serve: no serving demo")
        return
    from ..registry.gates import load_holdout

    holdouts = client.list_datasets("holdout.csv")
    if not holdouts:
        print("\nno holdout file to send: no serving demo")
        return
    latest = max(holdouts, key=lambda d: d.version)
    held = load_holdout(client, {"holdout": f"{latest.name}@{latest.version}"}, None)
    assert held is not None
    frame = held.frame
    signature = client.get_logged_model(champion.logged_model_id).signature or {}
    columns = [c["name"] for c in (signature.get("inputs") or {}).get("columns", [])]
    print(
        f"\nserving models:/{DEMO_MODEL}@champion (jupyter-mlops serve {DEMO_MODEL}@champion) ..."
    )
    started = time.perf_counter()
    server = start_server(client, f"{DEMO_MODEL}@champion", ServeOptions())
    print(
        f"  {server.url} answers with version {server.version} "
        f"({time.perf_counter() - started:.1f}s to start)"
    )
    try:
        ids, labels, answers = [], [], []
        for _, row in frame.head(requests).iterrows():
            body = {"dataframe_split": {"columns": columns, "data": [row[columns].tolist()]}}
            request = urllib.request.Request(
                server.url + "/invocations",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                ids.append(response.headers["X-Request-ID"])
                answers.append(json.loads(response.read())["predictions"][0])
            labels.append(int(row["churned"]))
        right = sum(int(a == lab) for a, lab in zip(answers, labels, strict=True))
        print(f"  {len(ids)} one-row requests to POST /invocations: {right} answers right")
        feedback = {
            "feedback": [
                {"request_id": i, "label": lab} for i, lab in zip(ids, labels, strict=True)
            ]
        }
        request = urllib.request.Request(
            server.url + "/feedback",
            data=json.dumps(feedback).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            print(f"  POST /feedback: {json.loads(response.read())['labelled_rows']} labels")
        time.sleep(2.5)  # a heartbeat, and the recorder's next write
    finally:
        record = server.stop()
    recorded = client.read_predictions(DEMO_MODEL, server_id=record.id)
    print(
        f"  recorded: {recorded.num_rows} predictions with their inputs, version and latency; "
        f"{client.read_labels(DEMO_MODEL).num_rows} labels"
    )
    stats = record.stats
    print(
        f"  server {record.id[:8]}: {record.status} ({record.reason}); "
        f"{stats.get('requests')} requests, p50 {stats.get('p50_ms')} ms, "
        f"p95 {stats.get('p95_ms')} ms, {stats.get('dropped')} dropped"
    )
    print_monitoring(client, recorded.num_rows)
    sys.stdout.flush()


def print_monitoring(client: Client, rows: int) -> None:
    """What monitoring says of the traffic just recorded: one window of those rows against
    the champion's reference (built when %%track saw it fitted)."""
    from ..monitoring.monitor import monitor

    print(f"\nmonitoring the served traffic (jupyter-mlops monitor {DEMO_MODEL} --rows {rows}) ...")
    if rows == 0:
        print("  nothing recorded: nothing to monitor")
        return
    report = monitor(client, DEMO_MODEL, rows=rows, windows=1)
    window = report.latest
    if window is None:
        for note in report.notes:
            print(f"  {note}")
        return
    dataset = window.dataset_drift
    drifted = ", ".join(d.column for d in window.drifted_columns) or "none"
    print(
        f"  {window.rows} rows against the reference of version "
        f"{', '.join(map(str, window.versions))}: {dataset['drifted_columns']} of "
        f"{dataset['columns']} columns drifted ({drifted}); dataset drift: "
        f"{'yes' if dataset['drifted'] else 'no'}"
    )
    realised = (window.quality.get("realised") or {}).get("accuracy")
    estimated = (window.quality.get("estimated") or {}).get("accuracy")
    if realised is not None or estimated is not None:
        shown_realised = "—" if realised is None else f"{realised:.3f}"
        shown_estimated = "—" if estimated is None else f"{estimated:.3f}"
        print(
            f"  accuracy from labels {shown_realised}; estimated without labels {shown_estimated}"
        )


def run_pipeline_demo(client: Client, path: str | None = None) -> None:
    """Run the demo pipeline twice against ``client``'s store and print what happened.

    The first run is forced (every step executes, even if an earlier demo filled the cache);
    the second changes nothing, so every step comes from the cache (CACHED: no kernel starts;
    its step run points at the run it reuses). Then the runs both made are listed as
    a tree: pipeline run, step runs, and the tracked cells inside each step.
    """
    from ..pipelines import Pipeline, records, run_pipeline

    pipeline = Pipeline.from_yaml(path or DEMO_PIPELINE)
    graph = " -> ".join(", ".join(wave) for wave in pipeline.order())
    print(f"\npipeline {pipeline.name} ({path or DEMO_PIPELINE}): {graph}")
    before = {r.id for r in client.iter_runs()}
    # The first run is forced so that the demo shows real work even when an earlier demo
    # already filled the cache of this store.
    for label, force in (
        ("first run (force: every step executes)", True),
        ("second run, nothing changed", False),
    ):
        print(f"{label} ...", flush=True)
        started = time.perf_counter()
        result = run_pipeline(pipeline, client=client, force=force)
        elapsed = time.perf_counter() - started
        rows = views.step_rows([step.to_dict() for step in result.steps.values()])
        emit(rows, "table")
        print(f"total {elapsed:.2f}s (pipeline run {result.run_id[:8]}, {result.status.value})\n")
        if not result.ok:
            sys.stdout.flush()
            result.raise_for_failure()
    new_runs = [r for r in client.iter_runs(order_by=["start_time"]) if r.id not in before]
    print(f"runs recorded by the two pipeline runs ({len(new_runs)}):")
    tree = _run_tree(new_runs)
    rows = views.run_rows(
        [run for _, run in tree],
        params=["model", "best_model"],
        metrics=["accuracy", "f1", "test_accuracy"],
    )
    for row, (depth, run) in zip(rows, tree, strict=True):
        for key in ("experiment", "user", "start"):
            row.pop(key, None)
        row["name"] = "  " * depth + run.info.name
        row["reused_run"] = (records.cached_from(run) or "")[:8]
    emit(rows, "table")
    sys.stdout.flush()


def _run_tree(runs: list[Run]) -> list[tuple[int, Run]]:
    """Runs in tree order with their depth: pipeline run, its step runs, and under each
    step the tracked cells of its kernel."""
    by_id = {run.id: run for run in runs}
    children: dict[str, list[Run]] = {}
    roots = []
    for run in runs:
        parent = run.info.parent_run_id
        if parent in by_id:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    ordered: list[tuple[int, Run]] = []

    def walk(run: Run, depth: int) -> None:
        ordered.append((depth, run))
        for child in children.get(run.id, []):
            walk(child, depth + 1)

    for run in roots:
        walk(run, 0)
    return ordered
