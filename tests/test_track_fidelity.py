"""What %%track records is exact, in a real kernel (nbclient): names of every script, metric
histories, refused lines, shell quoting, top-level await, metric names, loop variables."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mlops.client import Client
from jupyter_mlops.magics import RUN_MIME

pytestmark = pytest.mark.kernel

SETUP = "%load_ext jupyter_mlops\nimport numpy as np, pandas as pd\nimport jupyter_mlops as mlops"


def run_cells(tmp_path: Path, *cells: str) -> list[Any]:
    """Execute ``cells`` (after loading the extension) in a new kernel on the store in
    ``tmp_path/store``; returns the executed code cells, errors included, setup left out."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, *cells)]
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env={**os.environ, "JUPYTER_MLOPS_HOME": str(tmp_path / "store")})
    return list(nb.cells[1:])


def text_of(cell: Any) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"])
    return "\n".join(parts)


def errors_of(cell: Any) -> list[str]:
    return [o.ename for o in cell.outputs if o.output_type == "error"]


@pytest.fixture
def store(tmp_path: Path, open_client: Any) -> Client:
    return open_client(tmp_path / "store")


def one_run(store: Client, **kw: Any) -> Any:
    runs = store.search_runs(**kw)
    assert len(runs) == 1, [r.info.name for r in runs]
    return store.get_run(runs[0].id)


def test_given_non_ascii_and_refused_names_then_the_rest_of_the_cell_is_recorded(tmp_path, store):
    long_name = "x" * 251
    [cell] = run_cells(
        tmp_path,
        "%%track -e names\n"
        "learning_rate = 0.01\n"
        "скорость = 3\n"
        "val_точность = 0.5\n"
        "नमस्ते = 2\n"
        f"{long_name} = 4\n"
        "val_acc = 0.91",
    )
    assert errors_of(cell) == []
    run = one_run(store, experiment="names")
    assert run.params == {
        "learning_rate": "0.01",
        "скорость": "3",
        "val_точность": "0.5",  # the metric words are English: not a metric
        "नमस्ते": "2",
    }
    assert run.metrics == {"val_acc": 0.91}
    shown = text_of(cell)  # the refused name is named (shortened) under the cell
    assert "parameter skipped, its name is refused: 'xxxx" in shown
    found = store.search_runs(experiment="names", filter="params.скорость = 3")
    assert [r.id for r in found] == [run.id]


def test_given_a_step_logged_in_a_loop_then_the_history_has_one_point_per_call(tmp_path, store):
    [cell] = run_cells(
        tmp_path,
        "%%track -e loop\n"
        "for epoch in range(60):\n"
        "    train_loss = 1 / (epoch + 1)\n"
        "    mlops.log_metric('train_loss', train_loss, step=epoch)\n"
        "    val_acc = epoch / 60\n"
        "    mlops.log_metrics({'val_acc': val_acc})\n"
        "lr = 0.1\n"
        "mlops.log_param('lr', 0.2)",
    )
    assert errors_of(cell) == []
    run = one_run(store, experiment="loop")
    loss = store.get_metric_history(run.id, "train_loss")
    assert [p.step for p in loss] == list(range(60))
    assert [p.value for p in loss] == [1 / (e + 1) for e in range(60)]
    assert [p.step for p in store.get_metric_history(run.id, "val_acc")] == list(range(60))
    assert run.params["lr"] == "0.2"  # what the cell logged wins over the literal


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--bogus", "unrecognized arguments: --bogus"),
        ("-t novalue", "-t key=value"),
        ("-t 'a$b=1'", "Invalid tag name"),
        ('-e "unbalanced', "Cannot parse the %%track line"),
        ("-e '   '", "must not be empty"),
    ],
)
def test_given_a_refused_track_line_then_no_run_exists_or_stays_active(
    tmp_path, store, line, message
):
    cell, check = run_cells(
        tmp_path,
        f"%%track {line}\nx = 1",
        "print('active:', mlops.active_run())",
    )
    assert message in text_of(cell)
    assert "active: None" in text_of(check)
    assert store.search_runs() == []


def test_given_shell_quoting_then_values_are_stored_without_quotes(tmp_path, store):
    [cell] = run_cells(
        tmp_path,
        '%%track -e "team-a/churn v2" -n "Jane\'s run" -t owner=\'Jane Doe\' '
        '-t "team=Data Sci" -t note=it\\\'s\nx = 1',
    )
    assert errors_of(cell) == []
    run = one_run(store)
    assert run.info.experiment_name == "team-a/churn v2"
    assert run.info.name == "Jane's run"
    assert run.tags == {"owner": "Jane Doe", "team": "Data Sci", "note": "it's"}


def test_given_top_level_await_then_a_tracked_cell_runs_as_an_untracked_one(tmp_path, store):
    body = (
        "import asyncio\n"
        "async def ticks(n):\n"
        "    for i in range(n):\n"
        "        await asyncio.sleep(0)\n"
        "        yield i\n"
        "await asyncio.sleep(0.01)\n"
        "total = sum([i async for i in ticks(4)])\n"
        "async with asyncio.timeout(5):\n"
        "    val_score = await asyncio.sleep(0, result=0.75)\n"
        "await asyncio.sleep(0, result=total * 10)"
    )
    plain, tracked, failing, after = run_cells(
        tmp_path,
        body,
        "%%track -e aw -t kind=async\n" + body,
        "%%track -e aw\nimport asyncio\nawait asyncio.sleep(0)\nraise ValueError('late')",
        "print('active:', mlops.active_run(), total, val_score)",
    )
    assert errors_of(plain) == [] and errors_of(tracked) == []
    results = [
        [o.data["text/plain"] for o in c.outputs if o.output_type == "execute_result"]
        for c in (plain, tracked)
    ]
    assert results == [["60"], ["60"]]  # the last expression's value is Out[n]
    assert any(RUN_MIME in o.get("data", {}) for o in tracked.outputs)
    assert errors_of(failing) == ["ValueError"]
    assert "active: None 6 0.75" in text_of(after)
    ok, failed = (store.get_run(r.id) for r in store.search_runs(order_by=["start_time"]))
    assert ok.info.status == "FINISHED" and ok.tags == {"kind": "async"}
    assert ok.metrics == {"val_score": 0.75}
    assert failed.info.status == "FAILED" and failed.info.error_name == "ValueError"


def test_given_names_that_contain_a_metric_word_then_only_whole_parts_make_metrics(tmp_path, store):
    [cell] = run_cells(
        tmp_path,
        "%%track -e words\n"
        "layer2 = 32\naccurate_count = 3\nlossless = 1\nscore_card_rows = 7\n"
        "val_r2 = 0.5\nf1_churn = 0.3\ntest_acc = 0.2\nvalAcc = 0.4\nR2Score = 0.1\n"
        "train_loss = 0.7",
    )
    assert errors_of(cell) == []
    run = one_run(store)
    # score_card_rows holds "score" as a whole part: a metric name by the rule.
    metrics = {"val_r2", "f1_churn", "test_acc", "valAcc", "R2Score", "train_loss"}
    assert set(run.metrics) == metrics | {"score_card_rows"}
    assert set(run.params) == {"layer2", "accurate_count", "lossless"}


def test_given_a_loop_over_existing_frames_then_the_loop_variable_is_no_new_dataset(
    tmp_path, store
):
    [_, cell] = run_cells(
        tmp_path,
        "frames = [pd.DataFrame({'a': range(i, i + 5)}) for i in range(3)]",
        "%%track -e loop\nrows = 0\nfor part in frames:\n    rows += len(part)\n"
        "joined = pd.concat(frames)",
    )
    assert errors_of(cell) == []
    run = one_run(store)
    assert [d.name for d in run.outputs] == ["joined"]


def test_given_an_array_column_changed_in_place_then_the_frame_is_an_output(tmp_path, store):
    [_, cell] = run_cells(
        tmp_path,
        "rng = np.random.default_rng(0)\n"
        "df = pd.DataFrame({'id': range(50), 'vec': [rng.random(2048) for _ in range(50)]})",
        "%%track -e vec\nfor v in df['vec']:\n    v[200:300] = 0",
    )
    assert errors_of(cell) == []
    run = one_run(store)
    [source] = run.inputs
    [changed] = run.outputs
    assert source.name == changed.name == "df"
    assert source.fingerprint != changed.fingerprint


def test_given_files_written_through_path_expressions_then_they_are_outputs(tmp_path, store):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,b\n1,2\n")
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "old.csv").write_text("untouched\n")
    [_, cell] = run_cells(
        tmp_path,
        "from pathlib import Path\nimport os\nname = 'churn'",
        "%%track -e files\n"
        "df = pd.read_csv(Path('data') / 'train.csv')\n"
        "df.to_csv(Path('exports') / f'{name}.csv')\n"
        "df.to_parquet(Path('exports') / 'parts' / f'{name}_0.parquet') "
        "if (Path('exports') / 'parts').mkdir() is None else None\n"
        "out = Path('exports') / f'{name}.json'\n"
        "df.to_json(out)\n"
        "figs = Path('figures')\nfigs.mkdir()\n"
        "with open(os.path.join(figs, f'{name}.png'), 'wb') as fh:\n    fh.write(b'png')\n"
        "(figs / 'notes.txt').write_text('seen')",
    )
    assert errors_of(cell) == []
    run = one_run(store)
    assert {d.name for d in run.inputs} == {"data/train.csv"}
    assert {d.name for d in run.outputs} == {
        "df",
        "exports/churn.csv",
        "exports/parts/churn_0.parquet",
        "exports/churn.json",
        "figures/churn.png",
        "figures/notes.txt",
    }


# What the data scientists' libraries produce ------------------------------------------------

IRIS = (
    "from sklearn.datasets import load_iris\n"
    "X, y = load_iris(return_X_y=True, as_frame=True)\n"
    "X['kind'] = np.where(X['sepal length (cm)'] > 5.8, 'long', 'short')"
)


def test_given_a_baseline_pipeline_then_only_the_chosen_params_and_one_model_are_recorded(
    tmp_path, store
):
    [_, cell, alone] = run_cells(
        tmp_path,
        IRIS,
        "%%track -e pipe\n"
        "from sklearn.compose import ColumnTransformer\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import Pipeline\n"
        "from sklearn.preprocessing import OneHotEncoder, StandardScaler\n"
        "pre = ColumnTransformer([('num', StandardScaler(), list(X.columns[:4])),\n"
        "                         ('cat', OneHotEncoder(), ['kind'])])\n"
        "pipe = Pipeline([('pre', pre), ('clf', LogisticRegression(C=0.5, max_iter=500))])\n"
        "pipe.fit(X, y)\n"
        "train_acc = pipe.score(X, y)",
        "%%track -e pipe-alone\nscaler = StandardScaler().fit(X[X.columns[:4]])",
    )
    assert errors_of(cell) == [] and errors_of(alone) == []
    run = one_run(store, experiment="pipe")
    assert [m.name for m in run.models] == ["pipe"]  # pre was fitted as a part of pipe
    chosen = {k: v for k, v in run.params.items() if k.startswith("pipe.")}
    assert chosen["pipe.clf__C"] == "0.5"
    assert chosen["pipe.clf__max_iter"] == "500"
    assert len(chosen) < 15, chosen  # not the 78 nested defaults
    assert not any(k.endswith(("__tol", "__copy", "__with_mean")) for k in chosen), chosen
    scaler = one_run(store, experiment="pipe-alone")
    assert [m.name for m in scaler.models] == ["scaler"]  # fitted on its own: a model


def test_given_a_fitted_search_then_best_params_score_and_grid_are_recorded(tmp_path, store):
    [_, cell] = run_cells(
        tmp_path,
        IRIS,
        "%%track -e search\n"
        "from sklearn.model_selection import GridSearchCV\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "search = GridSearchCV(DecisionTreeClassifier(random_state=0),\n"
        "                      {'max_depth': [2, 3], 'min_samples_leaf': [1, 5]}, cv=3)\n"
        "search.fit(X[X.columns[:4]], y)",
    )
    assert errors_of(cell) == []
    run = one_run(store)
    [model] = run.models
    assert model.name == "search"
    params = {k: v for k, v in run.params.items() if k.startswith("search.")}
    assert any("max_depth" in k and "best" in k for k in params), params
    assert any("grid" in k for k in params), params
    assert not any(k.endswith("estimator__random_state") for k in params), params
    [score] = [k for k in run.metrics if k.startswith("search.") and "best_score" in k]
    assert 0 < run.metrics[score] <= 1


def test_given_boosters_and_statsmodels_results_then_they_are_saved_and_predict_alike(
    tmp_path, store
):
    [_, cell, check] = run_cells(
        tmp_path,
        IRIS,
        "%%track -e libs\n"
        "import xgboost as xgb, lightgbm as lgb, statsmodels.api as sm\n"
        "num = X[X.columns[:4]]\n"
        "booster = xgb.train({'max_depth': 2}, xgb.DMatrix(num, label=y), num_boost_round=5)\n"
        "gbm = lgb.train({'num_leaves': 7, 'verbose': -1}, lgb.Dataset(num, label=y), 5)\n"
        "ols = sm.OLS(y, sm.add_constant(num)).fit()\n"
        "clf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(num, y)",
        "from jupyter_mlops.tracking import fluent\n"
        "c = fluent.get_client()\n"
        "[r] = c.search_runs(experiment='libs')\n"
        "models = {m.name: mlops.load_model(m.id) for m in c.get_run(r.id).models}\n"
        "ok = {\n"
        "  'booster': np.array_equal(models['booster'].predict(xgb.DMatrix(num)),\n"
        "                            booster.predict(xgb.DMatrix(num))),\n"
        "  'gbm': np.array_equal(models['gbm'].predict(num), gbm.predict(num)),\n"
        "  'ols': np.array_equal(models['ols'].predict(sm.add_constant(num)),\n"
        "                        ols.predict(sm.add_constant(num))),\n"
        "  'clf': np.array_equal(models['clf'].predict_proba(num), clf.predict_proba(num)),\n"
        "}\n"
        "print(sorted(models), ok)",
    )
    assert errors_of(cell) == [] and errors_of(check) == [], text_of(check)
    assert (
        "['booster', 'clf', 'gbm', 'ols'] "
        "{'booster': True, 'gbm': True, 'ols': True, 'clf': True}" in text_of(check)
    )
    run = one_run(store)
    clf = {k for k in run.params if k.startswith("clf.")}
    assert clf == {"clf.n_estimators", "clf.max_depth"}, clf  # no None defaults


def test_given_polars_arrow_and_sparse_data_then_they_are_inputs_and_outputs(tmp_path, store):
    [_, cell] = run_cells(
        tmp_path,
        "import polars as pl, pyarrow as pa\n"
        "from sklearn.feature_extraction.text import TfidfVectorizer\n"
        "texts = ['the cat sat', 'the dog ran', 'a cat ran'] * 20\n"
        "frame = pl.DataFrame({'text': texts, 'n': list(range(60))})\n"
        "table = pa.table({'a': [1, 2, 3]})\n"
        "lazy = frame.lazy()",
        "%%track -e libs\n"
        "doubled = frame.with_columns(pl.col('n') * 2)\n"
        "tfidf = TfidfVectorizer(ngram_range=(1, 2)).fit(frame['text'].to_list())\n"
        "matrix = tfidf.transform(frame['text'].to_list())\n"
        "rows = table.num_rows\n"
        "small = lazy.head(3)",
    )
    assert errors_of(cell) == []
    run = one_run(store)
    assert {d.name for d in run.inputs} >= {"frame", "table"}
    outputs = {d.name: d for d in run.outputs}
    assert {"doubled", "matrix"} <= outputs.keys()
    assert outputs["matrix"].shape == [60, outputs["matrix"].shape[1]]
    assert run.params["tfidf.ngram_range"] in ("[1, 2]", "(1, 2)")  # tuples are kept
    assert "collect" in text_of(cell)  # the LazyFrame is named in a note, not fingerprinted


def test_given_tracked_cells_then_each_run_has_the_number_the_notebook_shows(tmp_path, store):
    cells = run_cells(tmp_path, "x = 1", "%%track -e count\na = 1", "%%track -e count\nb = 2")
    runs = store.search_runs(experiment="count", order_by=["start_time"])
    shown = [c.execution_count for c in cells[-2:]]
    assert [store.get_run(r.id).info.execution_count for r in runs] == shown


def test_given_a_cell_that_imports_a_library_then_its_version_is_in_the_environment(
    tmp_path, store
):
    # In a git repository (elsewhere the environment is always read at the end, with the
    # commit), after a first tracked cell read it: the second cell's run starts with it.
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    run_cells(tmp_path, "%%track -e warm\nw = 1", "%%track -e env\nimport hypothesis\nm = 1")
    run = store.get_run(one_run(store, experiment="env").id)
    assert "hypothesis" in run.environment["packages"]
