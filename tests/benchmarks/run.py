"""Benchmark suite entry point: ``.venv/bin/python tests/benchmarks/run.py``.

Runs each benchmark script in its own process with the right interpreter (the project venv
for jupyter-mlops, the peer venv for MLflow, the Evidently venv for Evidently), then prints a
markdown table and writes the same rows, plus every raw figure, to
tests/benchmarks/results.json. Figures are printed, never asserted: a missed goal shows as "NO"
in the table, not as a failure.

Interpreters: MLOPS_PY (default .venv/bin/python), PEER_PY (default .venv-bench/bin/python)
and EVIDENTLY_PY (default .venv-evidently/bin/python), relative to the repository root.

``run.py NAME ...`` runs only the named scripts (e.g. ``run.py papermill pipeline``); the other
scripts' figures are kept from the previous results.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = HERE / "results.json"
TIMEOUT_S = 600

SCRIPTS = [
    # (name, interpreter key, file)
    ("mlflow", "peer", "peer_mlflow.py"),
    ("tracking", "ours", "ours_tracking.py"),
    ("track_magic", "ours", "ours_track_magic.py"),
    ("fingerprint", "ours", "ours_fingerprint.py"),
    ("mlflow_search", "peer", "peer_mlflow_search.py"),
    ("search", "ours", "ours_search.py"),
    ("panel", "ours", "ours_panel.py"),
    # papermill is a dependency of jupyter-mlops: its CLI and kernel come from the project venv.
    ("papermill", "ours", "peer_papermill.py"),
    ("pipeline", "ours", "ours_pipeline.py"),
    ("mlflow_cli", "peer", "peer_mlflow_cli.py"),
    ("cli", "ours", "ours_cli.py"),
    ("mlflow_registry", "peer", "peer_mlflow_registry.py"),
    ("registry", "ours", "ours_registry.py"),
    # The model server: MLflow's, then jupyter-mlops' on the same workload.
    ("mlflow_serve", "peer", "peer_mlflow_serve.py"),
    ("serve", "ours", "ours_serve.py"),
    ("asgi_choice", "ours", "asgi_choice.py"),
    # Data drift: Evidently in a venv of its own (evidently 0.7 needs pandas < 3).
    ("evidently", "evidently", "peer_evidently.py"),
    ("monitor", "ours", "ours_monitor.py"),
    # Continuous training: the whole loop, no peer closes it.
    ("lifecycle", "ours", "ours_lifecycle.py"),
]


def interpreter(env_name: str, default: str) -> Path:
    value = os.environ.get(env_name)
    path = Path(value) if value else ROOT / default
    return path if path.is_absolute() else ROOT / path


def peer_ready(peer_py: Path, imports: str = "mlflow, pandas, numpy") -> bool:
    if not peer_py.exists():
        return False
    probe = subprocess.run(
        [str(peer_py), "-c", f"import {imports}"],
        capture_output=True,
        check=False,
        cwd=ROOT,
    )
    return probe.returncode == 0


def run_script(python: Path, script: str) -> tuple[dict[str, Any] | None, float, str]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [str(python), str(HERE / script)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0, f"timed out after {TIMEOUT_S} s"
    elapsed = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        return None, elapsed, f"exit code {proc.returncode}\n{proc.stderr[-6000:]}"
    try:
        return json.loads(lines[-1]), elapsed, ""
    except json.JSONDecodeError as exc:
        return None, elapsed, f"bad JSON ({exc}): {lines[-1][:500]}"


# ------------------------------------------------------------------------------ formatting


def fmt_rate(value: float) -> str:
    return f"{value:,.0f} values/s"


def fmt_ms(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def fmt_gbs(value: float) -> str:
    return f"{value:.2f} GB/s" if value < 10 else f"{value:.1f} GB/s"


def fmt_ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}×" if value >= 100 else f"{value:.1f}×"


def met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "NO")


def get(data: dict[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


# ------------------------------------------------------------------------------ rows


def build_rows(raw: dict[str, dict[str, Any] | None]) -> list[dict[str, Any]]:
    peer, ours = raw.get("mlflow"), raw.get("tracking")
    magic, fp = raw.get("track_magic"), raw.get("fingerprint")
    rows: list[dict[str, Any]] = []

    def add(
        work: str,
        peer_value: float | None,
        ours_value: float | None,
        fmt: Callable[[float], str],
        goal: str,
        check: Callable[[float, float | None], bool] | None,
        higher_is_better: bool = True,
        peer_label: str = "MLflow",
        ours_text: str | None = None,
        peer_text: str | None = None,
    ) -> None:
        ratio = None
        if peer_value and ours_value:
            ratio = ours_value / peer_value if higher_is_better else peer_value / ours_value
        ok = None
        if check is not None and ours_value is not None:
            ok = check(ours_value, ratio)
        rows.append(
            {
                "work": work,
                "peer": peer_text
                or peer_label + (f" {fmt(peer_value)}" if peer_value is not None else ""),
                "ours": ours_text or (fmt(ours_value) if ours_value is not None else "error"),
                "ratio": fmt_ratio(ratio),
                "goal": goal,
                "met": met(ok),
                "peer_value": peer_value,
                "ours_value": ours_value,
                "ratio_value": ratio,
                "goal_met": ok,
            }
        )

    loop_calls = get(ours, "log_metric_loop", "calls") or 0
    peer_calls = get(peer, "log_metric_loop", "calls") or 0
    add(
        f"log_metric in a loop, one call per value (ours {loop_calls:,} calls + flush; "
        f"MLflow {peer_calls:,} calls)",
        get(peer, "log_metric_loop", "values_per_s"),
        get(ours, "log_metric_loop", "values_per_s"),
        fmt_rate,
        "≥ 100,000 values/s and ≥ 300× MLflow",
        lambda v, r: v >= 100_000 and r is not None and r >= 300,
    )
    add(
        "log_batch of 1,000 metrics (durable on return)",
        get(peer, "log_batch", "values_per_s"),
        get(ours, "log_batch", "values_per_s"),
        fmt_rate,
        "≥ 500,000 values/s",
        lambda v, r: v >= 500_000,
    )
    for key, label in (("new", "new store"), ("existing", "existing store")):
        add(
            f"first start_run in a fresh process, {label} (after import; store opening timed)",
            get(peer, f"first_start_run_{key}_store_ms"),
            get(ours, f"first_start_run_{key}_store_ms"),
            fmt_ms,
            "≤ 5 ms",
            lambda v, r: v <= 5.0,
            higher_is_better=False,
        )
    add(
        "first start_run in a fresh process, store already opened in that process",
        get(peer, "first_start_run_store_open_ms"),
        get(ours, "first_start_run_store_open_ms"),
        fmt_ms,
        "≤ 5 ms",
        lambda v, r: v <= 5.0,
        higher_is_better=False,
    )
    add(
        "first start_run in a fresh process, store opened 0.5 s before (as after %load_ext)",
        get(peer, "first_start_run_settled_ms"),
        get(ours, "first_start_run_settled_ms"),
        fmt_ms,
        "≤ 5 ms",
        lambda v, r: v <= 5.0,
        higher_is_better=False,
    )
    add(
        "import the package + open the store + first start_run, fresh process",
        get(peer, "import_and_first_start_run_ms"),
        get(ours, "import_and_first_start_run_ms"),
        fmt_ms,
        "—",
        lambda v, r: True,
        higher_is_better=False,
    )
    add(
        "create a run with 2 params + 1 metric, steady state, median "
        "(metric buffered, flushed at run end, timed)",
        get(peer, "create_run_2p1m", "median_ms"),
        get(ours, "create_run_2p1m", "median_ms"),
        fmt_ms,
        "≤ 2 ms",
        lambda v, r: v <= 2.0,
        higher_is_better=False,
    )
    overhead = get(magic, "overhead_median_ms")
    ours_text = None
    if magic:
        ours_text = (
            f"overhead {fmt_ms(overhead)} (tracked cell: first {fmt_ms(magic['first_tracked_ms'])}"
            f", median {fmt_ms(magic['tracked']['median_ms'])}"
            f", p95 {fmt_ms(magic['tracked']['p95_ms'])}; n={magic['tracked']['n']})"
        )
    plain = get(magic, "plain", "median_ms")
    add(
        "%%track overhead on an empty cell (median tracked − median plain, after the first)",
        None,
        overhead,
        fmt_ms,
        "median ≤ 5 ms",
        lambda v, r: v <= 5.0,
        peer_label="no peer; same cell without the magic: "
        + (fmt_ms(plain) if plain is not None else "error"),
        ours_text=ours_text,
    )
    for key, strings in (("frame", "str (Arrow, pandas' default)"), ("frame_object", "object")):
        frame = get(magic, key) or {}
        add(
            f"%%track overhead on a read-only cell over a {frame.get('rows', 0):,}-row frame "
            f"(2 string columns as {strings}, 1 float, 1 int; median tracked − median plain, "
            "after the first)",
            None,
            get(frame, "overhead_median_ms"),
            fmt_ms,
            "≤ 100 ms",
            lambda v, r: v <= 100.0,
            peer_label="no peer; same cell without the magic: "
            + (fmt_ms(frame["plain"]["median_ms"]) if frame else "error"),
            ours_text=(
                f"{fmt_ms(frame['overhead_median_ms'])} (first tracked cell "
                f"{fmt_ms(frame['first_tracked_ms'])})"
                if frame
                else None
            ),
        )
    add(
        "%load_ext jupyter_mlops in a fresh kernel (request → reply, median of "
        f"{get(magic, 'kernel_load_ext', 'n')})",
        None,
        get(magic, "kernel_load_ext", "median_ms"),
        fmt_ms,
        "≤ 200 ms",
        lambda v, r: v <= 200.0,
        peer_label="no peer",
    )
    methods = get(fp, "methods") or {}
    ours_fp = get(methods, "jupyter_mlops.fingerprint", "gb_per_s")
    size = f"{fp['rows']:,} × {fp['cols']} float64, {fp['nbytes'] / 1e6:,.0f} MB" if fp else ""
    add(
        f"fingerprint a DataFrame ({size}), best of 3",
        get(methods, "pandas.util.hash_pandas_object", "gb_per_s"),
        ours_fp,
        fmt_gbs,
        "≥ 10 GB/s and ≥ 10× pandas",
        lambda v, r: v >= 10 and r is not None and r >= 10,
        peer_label="pandas.util.hash_pandas_object",
    )
    for name, label in (
        ("joblib.hash", "joblib.hash"),
        ("md5 per column", "md5 over each column's buffer (DVC-style)"),
        ("numpy.sum", "numpy.sum over the same bytes (memory-read reference)"),
    ):
        add(
            "same frame, reference",
            get(methods, name, "gb_per_s"),
            ours_fp,
            fmt_gbs,
            "—",
            None,
            peer_label=label,
        )
    add(
        "same frame with strided columns (DataFrame(C-ordered array, copy=False)), for info",
        get(methods, "numpy.sum", "gb_per_s"),
        get(methods, "jupyter_mlops.fingerprint (strided columns)", "gb_per_s"),
        fmt_gbs,
        "—",
        None,
        peer_label="numpy.sum (contiguous)",
    )
    mixed_rows(get(fp, "mixed"), add)
    search_rows(raw.get("mlflow_search"), raw.get("search"), add)
    pipeline_rows(raw.get("papermill"), raw.get("pipeline"), add)
    cli_rows(raw.get("mlflow_cli"), raw.get("cli"), add)
    panel = raw.get("panel") or {}
    if "first_rows_ms" in panel:
        n_dom = panel.get("rows_in_dom")
        add(
            "side panel on 100,000 runs: click the MLOps tab → first rows shown (real lab, "
            f"Chromium, p50 of {panel['repeats']}; {n_dom} rows in the DOM)",
            None,
            panel["first_rows_ms"]["p50"],
            fmt_ms,
            "usable (virtualized)",
            None,
            higher_is_better=False,
            peer_text="MLflow UI: not measured (stalls at 500–2,000 runs per its users)",
        )
        add(
            "side panel on 100,000 runs: type the acc/rf filter → filtered rows shown (p50)",
            None,
            panel["filtered_rows_ms"]["p50"],
            fmt_ms,
            "—",
            None,
            higher_is_better=False,
            peer_text="—",
        )
    registry_rows(raw.get("mlflow_registry"), raw.get("registry"), add)
    serve_rows(raw.get("mlflow_serve"), raw.get("serve"), "serve" in raw, add)
    asgi_rows(raw.get("asgi_choice"), add)
    drift_rows(raw.get("evidently"), raw.get("monitor"), add)
    lifecycle_rows(raw.get("lifecycle"), add)
    return rows


def mixed_rows(mixed: dict[str, Any] | None, add: Callable[..., None]) -> None:
    """One row per string storage of the mixed frame: ours against hash_pandas_object."""
    if not mixed:
        return
    chars = mixed.get("email_chars") or ["?", "?"]
    for name, kind in (mixed.get("kinds") or {}).items():
        low = "low cardinality" in name
        what = (
            "city (100 values) + plan (5 values)"
            if low
            else f"user ids + e-mails ({chars[0]}–{chars[1]} chars)"
        )
        ours_ms = kind.get("ours_ms")
        checks = kind.get("fingerprint_changes_with_data") and kind.get("cached_equals_uncached")
        ours_text = None
        if ours_ms is not None:
            ours_text = (
                f"{fmt_ms(ours_ms)} (unchanged frame again: {fmt_ms(kind['ours_cached_ms'])}"
                + ("" if checks else "; CHECK FAILED")
                + ")"
            )
        add(
            f"fingerprint {mixed['rows']:,} rows × [2 strings, float64], strings as {name}: "
            f"{what}, best of 3",
            kind.get("pandas_ms"),
            ours_ms,
            fmt_ms,
            "— (pandas' best case)" if low else "≥ 5× pandas",
            None if low else (lambda v, r, ok=checks: bool(ok) and r is not None and r >= 5),
            higher_is_better=False,
            peer_label="pandas.util.hash_pandas_object",
            ours_text=ours_text,
        )


def search_rows(
    peer: dict[str, Any] | None, ours: dict[str, Any] | None, add: Callable[..., None]
) -> None:
    """Rows of ours_search.py / peer_mlflow_search.py: p95 against p95, goal p95 ≤ 150 ms."""
    n_runs = get(ours, "n_runs") or get(peer, "n_runs") or 0

    def timing(stats: dict[str, Any] | None) -> str:
        if not stats:
            return "error"
        return f"p50 {fmt_ms(stats['p50_ms'])}, p95 {fmt_ms(stats['p95_ms'])} (n={stats['n']})"

    labels = {
        "page1": "page 1 of all runs, start_time DESC, limit 100",
        "filter": "metrics.acc > 0.9 and params.model = 'rf', by metrics.acc DESC, limit 100",
        "or_filter": "params.model = 'rf' or metrics.loss < 0.05, start_time DESC, limit 100",
        "deep_page": "start_time DESC, offset 50,000, limit 100",
        "rest_filter": "the same acc/rf filter through GET mlops/api/v1/runs (Jupyter server)",
    }
    for name, label in labels.items():
        mine = get(ours, "queries", name)
        peer_name = "filter" if name == "rest_filter" else name
        client, frame = get(peer, "client", peer_name), get(peer, "pandas", name)
        peer_text = "MLflow " + ("error" if peer is None else "MlflowClient.search_runs ")
        if peer is not None:
            peer_text += timing(client)
            if frame:
                peer_text += f"; mlflow.search_runs (DataFrame) {timing(frame)}"
        if name == "or_filter":
            peer_text += "; no OR in MLflow: two searches merged"
        elif name == "deep_page":
            peer_text += " (page token for offset 50,000)"
        elif name == "rest_filter":
            peer_text += " (Python API, no HTTP)"
        ours_text = None
        if mine:
            ours_text = timing(mine)
            if mine.get("total") is not None:
                ours_text += f"; total count {mine['total']:,} included"
            if client:
                same = client.get("ids_digest") == mine.get("ids_digest")
                ours_text += "; same page as MLflow" if same else "; DIFFERENT page from MLflow"
        add(
            f"search {n_runs:,} runs (20 params, 10 metrics each; SQLite): {label}",
            get(client, "p95_ms"),
            get(mine, "p95_ms"),
            fmt_ms,
            "p95 ≤ 150 ms",
            lambda v, r: v <= 150.0,
            higher_is_better=False,
            ours_text=ours_text,
            peer_text=peer_text,
        )


def pipeline_rows(
    peer: dict[str, Any] | None, ours: dict[str, Any] | None, add: Callable[..., None]
) -> None:
    """Rows of ours_pipeline.py / peer_papermill.py: the 5-step pipeline a → (b, c) → d → e
    against the same five notebooks run one after another with the papermill CLI."""
    total = get(peer, "sequential_total_ms")
    peer_text = "papermill CLI " + (
        "error"
        if total is None
        else f"{get(peer, 'version')}, 5 notebooks one after another: {fmt_ms(total)} "
        f"({fmt_ms(peer['per_notebook_median_ms'])} each, median of {peer['passes']} passes)"
    )
    first = get(ours, "first_run_ms")
    add(
        "5-step notebook pipeline a → (b, c) → d → e, first run (new store, 2 workers)",
        total,
        first,
        fmt_ms,
        "—",
        None,
        higher_is_better=False,
        peer_text=peer_text,
    )
    rerun = get(ours, "rerun_median_ms")
    ours_text = None
    if ours:
        statuses = ", ".join(f"{n} {k}" for k, n in sorted(ours["rerun_statuses"].items()))
        ours_text = (
            f"{fmt_ms(rerun)} (median of {ours['reruns']['n']}, p95 "
            f"{fmt_ms(ours['reruns']['p95_ms'])}; steps: {statuses})"
        )
    add(
        "the same pipeline re-run unchanged (every step from the cache)",
        total,
        rerun,
        fmt_ms,
        "≤ 500 ms, all steps CACHED",
        lambda v, r: v <= 500.0 and bool(get(ours, "cached")),
        higher_is_better=False,
        peer_text=peer_text + " (no cache: runs them again)",
        ours_text=ours_text,
    )


def cli_rows(
    peer: dict[str, Any] | None, ours: dict[str, Any] | None, add: Callable[..., None]
) -> None:
    """Rows of ours_cli.py / peer_mlflow_cli.py: whole processes, median of repeats."""

    def timing(stats: dict[str, Any] | None) -> str | None:
        if not stats:
            return None
        return (
            f"{fmt_ms(stats['median_ms'])} (median of {stats['n']}, p95 {fmt_ms(stats['p95_ms'])})"
        )

    for key, label, peer_label in (
        ("help", "`jupyter-mlops --help`", "`mlflow --help`"),
        ("runs_list_200", "`jupyter-mlops runs list` (200 runs)", "`mlflow runs list` (200 runs)"),
    ):
        peer_stats, ours_stats = get(peer, key), get(ours, key)
        add(
            f"{label}, whole process from start to exit",
            get(peer_stats, "median_ms"),
            get(ours_stats, "median_ms"),
            fmt_ms,
            "≤ 300 ms",
            lambda v, r: v <= 300.0,
            higher_is_better=False,
            peer_text=f"{peer_label} {timing(peer_stats) or 'error'}",
            ours_text=timing(ours_stats),
        )
    search = get(ours, "runs_search_200")
    add(
        "`jupyter-mlops runs list -e bench -f \"metrics.acc > 0.5 and params.model = 'rf'\" "
        '-o "params.lr DESC"` (200 runs), whole process',
        None,
        get(search, "median_ms"),
        fmt_ms,
        "≤ 300 ms",
        lambda v, r: v <= 300.0,
        higher_is_better=False,
        peer_text="`mlflow runs list` has no filter or order",
        ours_text=timing(search),
    )
    papermill = get(ours, "papermill_demo_notebooks_ms")
    rerun = get(ours, "pipeline_rerun")
    cached = "all 4 steps CACHED" if get(ours, "pipeline_rerun_all_cached") else "NOT all cached"
    add(
        "`jupyter-mlops pipelines run` of the unchanged demo pipeline, whole process",
        papermill,
        get(rerun, "median_ms"),
        fmt_ms,
        "≤ 500 ms",
        lambda v, r: v <= 500.0 and bool(get(ours, "pipeline_rerun_all_cached")),
        higher_is_better=False,
        peer_text="papermill CLI, the demo's 4 notebooks one after another: "
        + (fmt_ms(papermill) if papermill else "error")
        + " (no cache)",
        ours_text=(f"{timing(rerun)}; {cached}" if rerun else None),
    )


def registry_rows(
    peer: dict[str, Any] | None, ours: dict[str, Any] | None, add: Callable[..., None]
) -> None:
    """Rows of ours_registry.py / peer_mlflow_registry.py: per-call medians of warm calls
    (p95 beside them), first calls in fresh processes, and what MLflow has no equivalent for."""

    def timing(stats: dict[str, Any] | None) -> str | None:
        if not stats:
            return None
        median, p95 = fmt_ms(stats["median_ms"]), fmt_ms(stats["p95_ms"])
        return f"{median} (median of {stats['n']}, p95 {p95})"

    versions = get(ours, "versions") or get(peer, "versions") or 0
    audited = "hash-chained audit entry + event in the same transaction"
    fluent = get(peer, "register_fluent")
    warm = (
        (
            "register",
            f"register a logged sklearn model as the next version (×{versions})",
            "create_model_version",
            f'register_model("runs:/…"), {audited}',
            f'; mlflow.register_model("runs:/…") {timing(fluent)}' if fluent else "",
        ),
        (
            "stage_move",
            "move a version into Production, archiving the one there",
            "transition_model_version_stage (deprecated)",
            f"transition_model_version_stage: gates checked, {audited} for each move",
            "",
        ),
        (
            "alias_move",
            "move the alias champion to another version",
            "set_registered_model_alias",
            f"set_model_alias, {audited}",
            "",
        ),
        (
            "search_versions",
            f"list the {versions} versions of a model",
            "search_model_versions(\"name='churn'\")",
            "search_model_versions",
            "",
        ),
        (
            "resolve_alias",
            "resolve an alias to its version",
            "get_model_version_by_alias",
            "get_model_version_by_alias",
            "",
        ),
        (
            "load_model_alias",
            "load the model by alias (models:/churn@champion)",
            "mlflow.sklearn.load_model",
            "load_model, sha256 checked",
            "",
        ),
    )
    for key, label, peer_call, ours_call, peer_extra in warm:
        peer_stats, ours_stats = get(peer, key), get(ours, key)
        peer_text = f"MLflow {peer_call} " + (timing(peer_stats) or "error") + peer_extra
        if key == "stage_move" and get(peer, "stage_move_error"):
            peer_text = f"MLflow {peer_call}: {get(peer, 'stage_move_error')}"
        ours_text = None
        if ours_stats:
            ours_text = f"{ours_call}: {timing(ours_stats)}"
            if key == "search_versions":
                ours_text += f"; {get(ours, 'search_versions_found')} found"
            elif key == "resolve_alias" and get(ours, "resolve_uri"):
                ours_text += f"; resolve_model_uri {timing(get(ours, 'resolve_uri'))}"
            elif key == "load_model_alias" and not get(ours, "load_model_predicts_same"):
                ours_text += "; PREDICTIONS DIFFER"
        add(
            f"registry (SQLite): {label}, warm, per call",
            get(peer_stats, "median_ms"),
            get(ours_stats, "median_ms"),
            fmt_ms,
            "—",
            None,
            higher_is_better=False,
            peer_text=peer_text,
            ours_text=ours_text,
        )

    for key, label in (
        ("register", "register a version"),
        ("alias", "move an alias"),
        ("search", f"list the {versions} versions"),
        ("resolve", "resolve an alias"),
        ("load", "load the model by alias, which imports scikit-learn"),
    ):
        peer_stats, ours_stats = get(peer, "first_call", key), get(ours, "first_call", key)

        def cold(stats: dict[str, Any] | None) -> str | None:
            if not stats:
                return None
            return (
                f"{fmt_ms(stats['first_call_ms'])} (import + it: "
                f"{fmt_ms(stats['import_and_first_call_ms'])}; median of "
                f"{len(stats['samples_ms'])})"
            )

        add(
            f"registry: first call in a fresh process, {label} (after import; store opening timed)",
            get(peer_stats, "first_call_ms"),
            get(ours_stats, "first_call_ms"),
            fmt_ms,
            "—",
            None,
            higher_is_better=False,
            peer_text="MLflow " + (cold(peer_stats) or "error"),
            ours_text=cold(ours_stats),
        )

    no_history = "n/a: MLflow keeps no history of stage and alias moves"
    travel = get(ours, "time_travel") or {}
    small, large = travel.get("200"), travel.get("2000")
    for key, label in (
        ("model_at_stage", 'model_at(name, "Production", at=…)'),
        ("holders_at", "holders_at(name, at=…): every stage and alias at once"),
    ):
        ours_text = None
        if small:
            ours_text = timing(small[key]) or ""
            if key == "model_at_stage":
                ours_text += f"; alias champion {timing(small['model_at_alias'])}"
            if large:
                ours_text += f"; 2,000 moves: {timing(large[key])}"
            if not (small["correct"] and (large is None or large["correct"])):
                ours_text += "; WRONG VERSION"
        entries = get(small, "audit_entries")
        add(
            f"registry time travel: {label} at the middle of 200 moves "
            f"({entries} audit entries), warm",
            None,
            get(small, key, "median_ms"),
            fmt_ms,
            "—",
            None,
            higher_is_better=False,
            peer_text=no_history,
            ours_text=ours_text,
        )

    cli = get(ours, "cli") or {}
    for key, label in (
        ("models_versions", f"`jupyter-mlops models versions churn` ({versions} versions)"),
        ("models_show", "`jupyter-mlops models show churn@champion`"),
    ):
        add(
            f"{label}, whole process from start to exit",
            None,
            get(cli, key, "median_ms"),
            fmt_ms,
            "—",
            None,
            higher_is_better=False,
            peer_text="n/a: MLflow's CLI has no registry commands",
            ours_text=timing(cli.get(key)),
        )

    lineage, parts = get(ours, "lineage"), get(peer, "lineage_parts")
    add(
        "registry: a version's lineage in one call (model_lineage: card, run, notebook cell, git, "
        "datasets, params, metrics, environment, logged model, approvals, moves, gate report), "
        "warm",
        None,
        get(lineage, "median_ms"),
        fmt_ms,
        "—",
        None,
        higher_is_better=False,
        peer_text="n/a: no lineage call; get_model_version + get_run + get_logged_model (what "
        f"MLflow keeps of it) {timing(parts) or 'error'}",
        ours_text=get(lineage, "error") or timing(lineage),
    )
    check, every = get(ours, "validation"), get(ours, "validation", "all")
    mlflow_check = get(peer, "validation")
    n_rows = get(check, "rows") or get(mlflow_check, "rows") or 0
    sandbox = get(check, "sklearn_import_process")
    ours_text = get(check, "error")
    if not ours_text and get(check, "metrics"):
        ours_text = (
            f"registry.validate, metrics gate: {timing(check['metrics'])}; the model runs in a "
            "sandbox process (a fresh interpreter importing scikit-learn alone: "
            f"{fmt_ms(sandbox['median_ms']) if sandbox else '?'})"
        )
    add(
        f"validate a version on a {n_rows:,}-row holdout: accuracy and ROC AUC thresholds",
        get(mlflow_check, "median_ms"),
        get(check, "metrics", "median_ms"),
        fmt_ms,
        "—",
        None,
        higher_is_better=False,
        peer_text="MLflow mlflow.models.evaluate (default evaluator, explainability off; logs "
        "its metrics and plots to a run) + validate_evaluation_results "
        + (timing(mlflow_check) or get(peer, "validation_error") or "error"),
        ours_text=ours_text,
    )
    add(
        f"validate a version on a {n_rows:,}-row holdout, every gate: thresholds, champion "
        "(bootstrap against the Production version), robustness probes, latency",
        None,
        get(every, "median_ms"),
        fmt_ms,
        "—",
        None,
        higher_is_better=False,
        peer_text="n/a: MLflow validates thresholds and changes against a baseline's metrics",
        ours_text=get(check, "error")
        or (
            f"{timing(every)}; " + ("passed" if get(every, "passed") else "NOT passed")
            if every
            else None
        ),
    )


def serve_rows(
    peer: dict[str, Any] | None,
    ours: dict[str, Any] | None,
    ours_ran: bool,
    add: Callable[..., None],
) -> None:
    """Rows of peer_mlflow_serve.py / ours_serve.py: one-row POST /invocations under ab, a
    connection per request. Ours are medians over rounds that interleave its servers
    (recording on and off, batching, 2 workers); a missing ours_serve.py run shows "—"."""

    def fmt_rps(value: float) -> str:
        return f"{value:,.0f} req/s"

    def errors(data: dict[str, Any] | None, c: int) -> str:
        failed = (get(data, f"failed_c{c}") or 0) + (get(data, f"non2xx_c{c}") or 0)
        return f"; {failed} failed or non-2xx" if failed else ""

    def text(data: dict[str, Any] | None, ran: bool, key: str, fmt: Callable[[float], str]) -> str:
        if not ran:
            return "—"
        value = get(data, key)
        if value is None:
            return "error"
        if key.endswith("_c32"):
            return fmt(value) + errors(data, 32)
        return fmt(value) + (errors(data, 8) if key.endswith("_c8") else "")

    def load(data: dict[str, Any] | None, suffix: str, c: int = 8) -> str:
        """``1,234 req/s (p50 …, p99 …; server CPU 456 µs a request)``: one server's loads."""
        rps = get(data, f"rps_c{c}{suffix}")
        p50, p99 = get(data, f"p50_ms_c{c}{suffix}"), get(data, f"p99_ms_c{c}{suffix}")
        if rps is None or p50 is None or p99 is None:
            return "error"
        line = f"{fmt_rps(rps)} (p50 {fmt_ms(p50)}, p99 {fmt_ms(p99)}"
        cpu = get(data, f"cpu_us_per_request_c{c}{suffix}")
        return line + (f"; server CPU {cpu:,.0f} µs a request)" if cpu is not None else ")")

    size = get(peer, "request_bytes") or get(ours, "request_bytes")
    size_text = f" ({size} B)" if size else ""
    stack = ""
    if peer:
        uvloop = "uvloop" if peer.get("uvloop_installed") else "asyncio"
        http = "httptools" if peer.get("httptools_installed") else "h11"
        stack = f", uvicorn on {uvloop} + {http}, access log on"
    version = f" {peer['version']}" if get(peer, "version") else ""
    peer_name = f"MLflow `mlflow models serve`{version} (1 worker{stack})"
    mismatch = "" if get(peer, "predictions_match") in (True, None) else "; WRONG PREDICTIONS"
    if get(ours, "predictions_match") is False:
        mismatch += "; ours: WRONG PREDICTIONS"
    n = get(peer, "requests") or get(ours, "requests") or "?"
    rounds = get(ours, "rounds_n")
    of_rounds = f", median of {rounds} rounds" if rounds else ""
    what = (
        f"model server: POST /invocations, one-row dataframe_split{size_text}, sklearn "
        f"LogisticRegression (20 features), ab -n {n}, a connection per request"
    )
    goals: dict[str, tuple[str, Callable[[float, float | None], bool] | None]] = {
        "rps_c8": ("≥ 10× MLflow", lambda v, r: r is not None and r >= 10),
        "rps_c32": ("—", None),
        "p50_ms_c8": ("≤ 5 ms", lambda v, r: v <= 5.0),
        "p99_ms_c8": ("≤ 20 ms", lambda v, r: v <= 20.0),
    }
    for key, label, fmt, higher in (
        ("rps_c8", "8 concurrent, throughput", fmt_rps, True),
        ("rps_c32", "32 concurrent, throughput", fmt_rps, True),
        ("p50_ms_c8", "8 concurrent, p50 latency", fmt_ms, False),
        ("p99_ms_c8", "8 concurrent, p99 latency", fmt_ms, False),
    ):
        peer_text = f"{peer_name}: {text(peer, True, key, fmt)}{mismatch}"
        inprocess = get(peer, "inprocess_invocations", "median_ms")
        if key == "rps_c8" and inprocess is not None:
            peer_text += (
                f" (its request path alone, scoring_server.invocations in-process: "
                f"{fmt_ms(inprocess)} a request)"
            )
        if key == "rps_c32" and get(peer, "p99_ms_c32") is not None:
            peer_text += f" (p50 {fmt_ms(peer['p50_ms_c32'])}, p99 {fmt_ms(peer['p99_ms_c32'])})"
        ours_text = text(ours, ours_ran, key, fmt)
        if ours_ran and get(ours, key) is not None:
            ours_text = "jupyter-mlops (1 worker, recording on) " + ours_text
            detail = load(ours, "", 32 if key == "rps_c32" else 8)
            if key in ("rps_c8", "rps_c32") and detail != "error":
                ours_text += " " + detail.split(" ", 2)[2]
            ours_text += of_rounds
        goal, check = goals[key]
        add(
            f"{what}: {label}",
            get(peer, key),
            get(ours, key),
            fmt,
            goal,
            check,
            higher_is_better=higher,
            peer_text=peer_text,
            ours_text=ours_text,
        )
    samples = get(ours, "server_start_samples_ms")
    ours_text = text(ours, ours_ran, "server_start_ms", fmt_ms)
    if samples:
        ours_text = (
            f"`jupyter-mlops serve churn@champion` {ours_text} (median of {len(samples)}: "
            + ", ".join(fmt_ms(s) for s in samples)
            + ")"
        )
    add(
        "model server start: process start → GET /ping answers 200 (model loaded)",
        get(peer, "server_start_ms"),
        get(ours, "server_start_ms"),
        fmt_ms,
        "—",
        None,
        higher_is_better=False,
        peer_text=f"{peer_name}: {text(peer, True, 'server_start_ms', fmt_ms)}",
        ours_text=ours_text,
    )
    if not ours_ran:
        return

    # Ours only: the same server with and without recording, batching, 2 workers, read-back.
    rec: dict[str, Any] = ours or {}
    cost, recorded = rec.get("recording_cost_pct"), rec.get("recorded_all")

    def pct(value: float | None) -> str:
        return "?" if value is None else f"{value:+.1f} %"

    ours_text = None
    if cost is not None:
        per_round = ", ".join(f"{v:+.0f}" for v in rec.get("recording_cost_pct_c8_rounds") or [])
        ours_text = (
            f"recording on {load(ours, '')}: costs {cost:.1f} % of the throughput (per round: "
            f"{per_round} %; in server CPU a request: "
            f"{pct(rec.get('recording_cpu_cost_pct_c8'))}); at 32 concurrent "
            f"{pct(rec.get('recording_cost_pct_c32'))} (CPU "
            f"{pct(rec.get('recording_cpu_cost_pct_c32'))}); "
            + (
                f"all {rec['requests_sent']:,} requests ({rec['rows_sent']:,} rows) in the store"
                if recorded
                else "NOT every request in the store"
            )
        )
    add(
        f"model server: recording every prediction in the store, on against off (8 "
        f"concurrent{of_rounds}, the two servers back to back in each round)",
        get(ours, "rps_c8_norecord"),
        get(ours, "rps_c8"),
        fmt_rps,
        "cost < 5 %",
        lambda v, r, cost=cost, ok=recorded: bool(ok) and cost is not None and cost < 5.0,
        peer_text=f"no peer; the same server, recording off: {load(ours, '_norecord')}",
        ours_text=ours_text,
    )
    options = get(ours, "batch_options") or {}
    mean_rows = get(ours, "batch_mean_rows_c32")
    ours_text = None
    if get(ours, "rps_c32_batch") is not None:
        ours_text = (
            f"max_batch={options.get('max_batch')}, max_wait_ms={options.get('max_wait_ms')}: "
            f"{load(ours, '_batch', 32)}, {mean_rows} rows a predict call on average"
            + errors({"failed_c32": get(ours, "failed_c32_batch")}, 32)
        )
    add(
        f"model server: micro-batching on against off, 32 concurrent (recording on{of_rounds})",
        get(ours, "rps_c32"),
        get(ours, "rps_c32_batch"),
        fmt_rps,
        "—",
        None,
        peer_text=f"no peer; the same server, batching off: {load(ours, '', 32)}",
        ours_text=ours_text,
    )
    add(
        f"model server: 2 workers against 1, 8 concurrent (recording on{of_rounds}; 2 cores "
        "shared with ab)",
        get(ours, "rps_c8"),
        get(ours, "rps_c8_w2"),
        fmt_rps,
        "—",
        None,
        peer_text=f"no peer; 1 worker: {load(ours, '')}",
        ours_text=f"2 workers: {load(ours, '_w2')}"
        + errors({"failed_c8": get(ours, "failed_c8_w2")}, 8),
    )
    back: dict[str, Any] = ours or {}
    rows, right = back.get("readback_rows") or 0, back.get("readback_matches")
    ours_text = None
    if back.get("readback_200k_ms") is not None:
        ours_text = (
            f"{fmt_ms(back['readback_200k_ms'])} (median of "
            f"{len(back['readback_200k_samples_ms'])}; first "
            f"{fmt_ms(back['readback_200k_first_ms'])}; in a fresh process "
            f"{fmt_ms(back['readback_200k_fresh_process_ms'])}); written in "
            f"{fmt_ms(back['readback_write_ms'])} ({back['readback_tables']} lz4 Arrow batches, "
            f"{back['readback_encoded_mb']} MB)" + ("" if right else "; WRONG VALUES")
        )
    add(
        f"recorded predictions: read back {rows:,} rows of 20 features "
        "(read_predictions + the inputs as one numpy array)",
        None,
        get(ours, "readback_200k_ms"),
        fmt_ms,
        "≤ 500 ms (well under a second)",
        lambda v, r, ok=right: bool(ok) and v <= 500.0,
        higher_is_better=False,
        peer_text="no peer: `mlflow models serve` records no predictions",
        ours_text=ours_text,
    )


def asgi_rows(asgi: dict[str, Any] | None, add: Callable[..., None]) -> None:
    """Rows of asgi_choice.py: Starlette (ours) against a bare ASGI callable (the floor) and
    FastAPI, on the same uvicorn, the same model and the same one-row request."""
    variants = get(asgi, "variants") or {}
    rounds = f", median of {asgi['rounds']} rounds" if get(asgi, "rounds") else ""
    load = f"ab -n {get(asgi, 'requests') or '?'} -c {get(asgi, 'c') or '?'}"

    def timing(stats: dict[str, Any] | None) -> str | None:
        if not stats:
            return None
        line = (
            f"{stats['rps']:,.0f} req/s (p50 {fmt_ms(stats['p50_ms'])}, "
            f"p99 {fmt_ms(stats['p99_ms'])}; {stats['us_per_request']:,.0f} µs/request"
        )
        if stats.get("us_over_bare"):
            line += f", bare {stats['us_over_bare']:+,.0f} µs"
        if stats.get("failed") or stats.get("non2xx"):
            line += f"; {stats['failed'] + stats['non2xx']} failed or non-2xx"
        if stats.get("predictions_match") is False:
            line += "; WRONG PREDICTIONS"
        return line + ")"

    skipped = get(asgi, "fastapi_skipped")
    for handler, what in (
        ("model", "predicts with the model"),
        ("empty", "empty handler: body received, constant answer (framework cost alone)"),
    ):
        starlette = variants.get(f"starlette/{handler}")
        for peer_key, peer_name in (
            ("bare", "bare ASGI callable"),
            ("fastapi_pydantic", "FastAPI, body as a pydantic model"),
            ("fastapi_request", "FastAPI, raw Request"),
        ):
            stats = variants.get(f"{peer_key}/{handler}")
            peer_text = f"{peer_name} " + (timing(stats) or "error")
            if stats is None and skipped and peer_key.startswith("fastapi"):
                peer_text = f"{peer_name}: skipped (FastAPI not installed)"
            add(
                f"ASGI choice: Starlette against {peer_name}, uvicorn (1 worker, uvloop, "
                f"httptools), one-row request, {what}; {load}{rounds}",
                get(stats, "rps"),
                get(starlette, "rps"),
                lambda v: f"{v:,.0f} req/s",
                "—",
                None,
                peer_text=peer_text,
                ours_text=f"Starlette {timing(starlette)}" if starlette else None,
            )
    h11, bare = variants.get("bare_h11/model"), variants.get("bare/model")
    add(
        "ASGI choice, for info: the bare app on uvicorn's pure-Python stack (asyncio + h11, "
        "what `mlflow models serve` runs on without uvloop/httptools) against uvloop + "
        "httptools, predicting",
        get(h11, "rps"),
        get(bare, "rps"),
        lambda v: f"{v:,.0f} req/s",
        "—",
        None,
        peer_text="asyncio + h11 " + (timing(h11) or "error"),
        ours_text=f"uvloop + httptools {timing(bare)}" if bare else None,
    )


def verdict_agreement(peer: dict[str, Any] | None, ours: dict[str, Any] | None) -> str:
    """How many columns got the same drift verdict, and which did not (with both scores)."""
    theirs, mine = get(peer, "per_column"), get(ours, "per_column")
    if not theirs or not mine:
        return "no verdicts to compare"
    common = sorted(set(theirs) & set(mine), key=lambda c: int(c[1:]) if c[1:].isdigit() else 0)
    differ = [c for c in common if bool(theirs[c]["drifted"]) != bool(mine[c]["drifted"])]
    text = f"same verdict on {len(common) - len(differ)} of {len(common)} columns"
    if differ:
        text += "; differ: " + ", ".join(
            f"{c} (Evidently {theirs[c]['score']:.4f}, ours {mine[c]['score']:.4f}, "
            f"threshold {mine[c]['threshold']})"
            for c in differ
        )
    return text


def drift_rows(
    peer: dict[str, Any] | None, ours: dict[str, Any] | None, add: Callable[..., None]
) -> None:
    """Rows of peer_evidently.py and ours_monitor.py on drift_data (200,000 rows × 20 numeric
    columns): Evidently's DataDriftPreset report against a window checked against a stored
    reference, the same frames, default tests and thresholds."""
    rows, columns = get(peer, "rows") or get(ours, "rows") or 200_000, get(peer, "columns") or 20
    peer_text = "Evidently error"
    if get(peer, "report", "median_ms") is not None:
        report = peer["report"]
        drifted = get(peer, "drifted_columns")
        verdict = "dataset drift" if get(peer, "dataset_drift") else "no dataset drift"
        peer_text = (
            f"Evidently {peer['version']} Report([DataDriftPreset()]).run: "
            f"{fmt_ms(report['median_ms'])} (median of {report['n']}, first "
            f"{fmt_ms(report['first_ms'])}; {drifted} of {columns} columns drifted, {verdict}); "
            f"scipy ks_2samp on every column: {fmt_ms(peer['ks_2samp_all_columns_s'] * 1000)}; "
            f"import evidently {fmt_ms(peer['import_evidently_s'] * 1000)}"
        )
    check_ms = None if get(ours, "check_median_s") is None else ours["check_median_s"] * 1000
    ours_text = None
    if check_ms is not None:
        ours_text = (
            f"{fmt_ms(check_ms)} against a stored reference ({ours['drifted_columns']} of "
            f"{columns} drifted; {verdict_agreement(peer, ours)})"
        )
    add(
        f"data drift, {rows:,} rows × {columns} numeric columns (reference and current), "
        "default tests and thresholds",
        get(peer, "report", "median_ms"),
        check_ms,
        fmt_ms,
        "≤ 500 ms and ≥ 25× Evidently, same verdict per column",
        lambda v, r: v <= 500 and r is not None and r >= 25,
        higher_is_better=False,
        peer_text=peer_text,
        ours_text=ours_text,
    )
    if ours is None:
        return
    for work, key in (
        (
            f"monitor a served model: read {rows:,} recorded rows back and check them (drift, "
            "predictions, estimated quality)",
            "monitor_median_s",
        ),
        (
            f"the same as a whole `jupyter-mlops monitor NAME --rows {rows} --format json` process",
            "cli_median_s",
        ),
    ):
        add(work, None, ours[key] * 1000, fmt_ms, "—", None, higher_is_better=False, peer_text="—")
    add(
        f"reference profile of the training set, {rows:,} rows × {columns} columns (with a "
        "model's predictions and scores)",
        None,
        ours["profile_build_s"] * 1000,
        fmt_ms,
        "—",
        None,
        higher_is_better=False,
        peer_text="Evidently: rebuilt on every report",
        ours_text=f"{fmt_ms(ours['profile_build_s'] * 1000)} "
        f"({fmt_ms(ours['profile_build_with_model_s'] * 1000)}), once per model",
    )


def lifecycle_rows(data: dict[str, Any] | None, add: Callable[..., None]) -> None:
    """Rows of ours_lifecycle.py: the continuous-training loop of `demo lifecycle`, from the
    first drifted request to the new version answering, with its parts."""
    for rollout in ("direct", "canary"):
        run = get(data, rollout) or {}
        seconds = run.get("first_drifted_to_new_version_s")
        parts = run.get("parts") or {}
        order = ("detection_s", "pipeline_s", "gates_s", "trial_s", "switch_s")
        shown = ", ".join(
            f"{k[:-2]} {parts[k]:.1f} s" for k in order if isinstance(parts.get(k), int | float)
        )
        text = None
        if seconds is not None:
            text = (
                f"{seconds:.1f} s ({shown}); {run.get('failed')} of {run.get('sent')} requests "
                "failed"
            )
        add(
            f"continuous training, {rollout} switch: first drifted request to the new version "
            "answering (alert, retraining pipeline in kernels, gates, promotion, switch)",
            None,
            None if seconds is None else seconds * 1000,
            fmt_ms,
            "no failed request",
            lambda v, r, run=run: run.get("failed") == 0,
            higher_is_better=False,
            peer_text="no peer closes the loop by itself",
            ours_text=text or run.get("error", "error")[:200],
        )


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ["work", "peer", "jupyter-mlops", "ratio (>1: ours better)", "goal", "met?"]
    keys = ["work", "peer", "ours", "ratio", "goal", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row[k]).replace("|", "\\|") for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    names = [name for name, _, _ in SCRIPTS]
    unknown = [a for a in argv if a not in names]
    if unknown:
        print(
            f"unknown script(s) {', '.join(unknown)}; choose from {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    scripts = [s for s in SCRIPTS if not argv or s[0] in argv]
    ours_py = interpreter("MLOPS_PY", ".venv/bin/python")
    peer_py = interpreter("PEER_PY", ".venv-bench/bin/python")
    if any(which == "peer" for _, which, _ in scripts) and not peer_ready(peer_py):
        print(
            f"The peer virtualenv is missing or has no MLflow ({peer_py}).\n"
            "Run `make bench` (it creates .venv-bench with MLflow, pandas, numpy and\n"
            "scikit-learn), or point PEER_PY at a Python that has MLflow installed.",
            file=sys.stderr,
        )
        return 2
    evidently_py = interpreter("EVIDENTLY_PY", ".venv-evidently/bin/python")
    if any(which == "evidently" for _, which, _ in scripts) and not peer_ready(
        evidently_py, "evidently, pandas, numpy, scipy"
    ):
        print(
            f"The Evidently virtualenv is missing or has no Evidently ({evidently_py}).\n"
            "Run `make bench` (it creates .venv-evidently with evidently 0.7, pandas < 3, numpy\n"
            "and scipy), or point EVIDENTLY_PY at a Python that has them installed.",
            file=sys.stderr,
        )
        return 2
    if not ours_py.exists():
        print(f"The project interpreter {ours_py} does not exist (set MLOPS_PY).", file=sys.stderr)
        return 2

    pythons = {"ours": ours_py, "peer": peer_py, "evidently": evidently_py}
    raw: dict[str, dict[str, Any] | None] = {}
    errors: dict[str, str] = {}
    durations: dict[str, float] = {}
    if argv and RESULTS.exists():
        # A partial run keeps the other scripts' figures from the last results.
        previous = json.loads(RESULTS.read_text(encoding="utf-8"))
        raw.update(previous.get("raw") or {})
        durations.update(previous.get("script_seconds") or {})
    for name, which, script in scripts:
        print(f"running {script} with {pythons[which]} ...", file=sys.stderr, flush=True)
        data, elapsed, error = run_script(pythons[which], script)
        durations[name] = round(elapsed, 2)
        raw[name] = data
        print(f"  done in {elapsed:.1f} s", file=sys.stderr, flush=True)
        if error:
            errors[name] = error
            print(f"  FAILED: {error}", file=sys.stderr, flush=True)

    rows = build_rows(raw)
    table = markdown(rows)
    print(table)
    mlflow_version = get(raw.get("mlflow"), "version")
    evidently = get(raw.get("evidently"), "version")
    evidently_text = ""
    if evidently:
        evidently_text = f"Evidently {evidently} (pandas {raw['evidently'].get('pandas')}), "
    print(
        f"\nMLflow {mlflow_version}, {evidently_text}"
        f"jupyter-mlops {get(raw.get('tracking'), 'version')}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}."
    )
    report = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "interpreters": {k: str(v) for k, v in pythons.items()},
        "script_seconds": durations,
        "rows": rows,
        "markdown": table,
        "raw": raw,
        "errors": errors,
    }
    RESULTS.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
