"""%%track and %mlops in a real IPython shell, and end to end in a real kernel (nbclient)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from IPython.core.error import UsageError

import jupyter_mlops as mlops
from jupyter_mlops.client import Client
from jupyter_mlops.magics import RUN_MIME
from jupyter_mlops.pipelines.notebook import execute_notebook


def only_run(client: Client, **kw):
    runs = client.search_runs(**kw)
    assert len(runs) == 1, [r.info.name for r in runs]
    return client.get_run(runs[0].id)


def test_given_training_cell_when_tracked_then_params_metrics_data_and_model_are_recorded(
    ip, store
):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    ip.user_ns.update(X=X, y=y, seed=42)
    Path("extra.csv").write_text("a,b\n1,2\n")
    cell = (
        "# fit a tree\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "max_depth = 3\n"
        "extra = pd.read_csv('extra.csv')\n"
        "tree = DecisionTreeClassifier(max_depth=max_depth, random_state=0).fit(X, y)\n"
        "train_acc = tree.score(X, y)\n"
        "X_scaled = X / 10\n"
        "X_scaled.to_csv('scaled.csv')\n"
    )
    result = ip.run_cell(f"%%track -e iris -t owner=ana --params seed\n{cell}")
    assert result.success

    run = only_run(store, experiment="iris")
    assert run.info.status == "FINISHED"
    assert run.info.name == "fit a tree"
    assert run.info.source.strip() == cell.strip()
    assert run.info.execution_count is not None
    assert run.params["max_depth"] == "3"
    assert run.params["tree.max_depth"] == "3"  # estimator params that differ from defaults
    assert "tree.criterion" not in run.params  # defaults are left out
    assert run.params["seed"] == "42"  # --params
    assert math.isclose(run.metrics["train_acc"], ip.user_ns["train_acc"])
    assert run.tags == {"owner": "ana"}
    inputs = {d.name: d for d in run.inputs}
    outputs = {d.name: d for d in run.outputs}
    assert inputs["X"].fingerprint == mlops.fingerprint(X)
    assert inputs["X"].shape == [150, 4]
    assert "y" in inputs and "extra.csv" in inputs
    assert outputs["X_scaled"].fingerprint == mlops.fingerprint(ip.user_ns["X_scaled"])
    assert "scaled.csv" in outputs  # a file the cell wrote
    assert "extra" in outputs  # created by the cell
    [model] = run.models
    assert model.name == "tree" and model.model_class.endswith("DecisionTreeClassifier")
    assert [c["name"] for c in model.signature["inputs"]["columns"]] == list(X.columns)
    loaded = mlops.load_model(model.id)
    assert (loaded.predict(X) == ip.user_ns["tree"].predict(X)).all()
    assert run.environment["packages"]["scikit-learn"]


def test_given_cell_that_mutates_a_frame_in_place_then_it_is_an_input_and_an_output(ip, store):
    ip.user_ns["df"] = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    before = mlops.fingerprint(ip.user_ns["df"])
    assert ip.run_cell("%%track\ndf['a'] *= 2").success
    run = only_run(store)
    assert [d.fingerprint for d in run.inputs] == [before]
    assert [d.fingerprint for d in run.outputs] == [mlops.fingerprint(ip.user_ns["df"])]
    assert run.inputs[0].version == 1 and run.outputs[0].version == 2


def test_given_failing_cell_when_tracked_then_run_failed_and_exception_reaches_user(ip, store):
    result = ip.run_cell("%%track -e fails\nalpha = 0.1\nraise ValueError('bad input data')")
    assert not result.success
    assert isinstance(result.error_in_exec, ValueError)  # the user sees their own exception
    run = only_run(store, experiment="fails")
    assert run.info.status == "FAILED"
    assert run.info.error_name == "ValueError"
    assert run.info.error_value == "bad input data"
    assert "raise ValueError('bad input data')" in run.info.traceback
    assert "jupyter_mlops" not in run.info.traceback  # our frames are left out
    assert run.params["alpha"] == "0.1"

    # Re-running after a failure starts a new run: nothing is left "already active".
    assert mlops.active_run() is None
    assert ip.run_cell("%%track -e fails\nalpha = 0.2").success
    runs = store.search_runs(experiment="fails", order_by=["start_time"])
    assert [r.info.status for r in runs] == ["FAILED", "FINISHED"]


def test_given_syntax_error_when_tracked_then_failed_run_and_syntax_error(ip, store):
    result = ip.run_cell("%%track\nx = (")
    assert isinstance(result.error_in_exec, SyntaxError)
    assert only_run(store).info.status == "FAILED"


def test_given_last_expression_when_tracked_then_value_is_displayed_as_out(ip, store):
    ip.run_cell("%%track\n40 + 2")
    assert ip.user_ns["_"] == 42


def test_given_fluent_metrics_inside_tracked_cell_then_history_is_kept(ip, store):
    assert ip.run_cell(
        "%%track -n loop\nfor i in range(50):\n    mlops.log_metric('loss', 1 / (i + 1))"
    ).success
    run = only_run(store)
    history = store.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(50))
    assert run.metrics["loss"] == pytest.approx(1 / 50)


def test_given_nan_and_inf_metrics_then_they_are_stored_faithfully(ip, store):
    assert ip.run_cell(
        "%%track\nval_loss = float('nan')\ntest_score = float('inf')\nneg_error = -float('inf')"
    ).success
    run = only_run(store)
    assert math.isnan(run.metrics["val_loss"])
    assert run.metrics["test_score"] == math.inf
    assert run.metrics["neg_error"] == -math.inf


def test_given_unstorable_param_then_repr_is_stored_with_a_warning(ip, store):
    ip.user_ns["cfg"] = object()
    with pytest.warns(mlops.MlopsWarning, match="cannot be stored"):
        ip.run_cell("%%track --params cfg\nx = 1", store_history=False)
    assert only_run(store).params["cfg"].startswith("<object object")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%%track --bogus", "unrecognized arguments"),
        ("%%track -t novalue", "-t key=value"),
    ],
)
def test_given_bad_flags_when_tracking_then_usage_error_and_no_run(ip, store, line, message):
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("track", line.removeprefix("%%track").strip(), "x = 1")
    assert store.search_runs() == []


def test_given_no_data_and_no_model_flags_then_nothing_is_fingerprinted(ip, store):
    ip.user_ns["df"] = pd.DataFrame({"a": [1, 2]})
    ip.run_cell(
        "%%track --no-data --no-model\nfrom sklearn.linear_model import LinearRegression\n"
        "m = LinearRegression().fit(df[['a']], df['a'])"
    )
    run = only_run(store)
    assert run.inputs == [] and run.outputs == [] and run.models == []


def test_given_config_trait_when_changed_then_metric_pattern_applies(ip, store):
    ip.run_line_magic("config", "TrackMagics.metric_pattern = 'custom'")
    try:
        ip.run_cell("%%track\nmy_custom = 0.5\nacc = 0.9")
        run = only_run(store)
        assert run.metrics == {"my_custom": 0.5}
    finally:
        ip.run_line_magic("config", "TrackMagics.metric_pattern = '(?i)(acc|f1|auc|loss|score)'")


def test_given_tracked_cell_then_summary_bundle_has_html_text_and_run_json(ip, store):
    with (
        ip.display_pub.capture_output()
        if hasattr(ip.display_pub, "capture_output")
        else (_Capture(ip)) as captured
    ):
        ip.run_cell("%%track -n shown\nscore = 0.75\nname = '<img src=x onerror=alert(1)>'")
    bundles = [b for b in captured.outputs if RUN_MIME in b]
    assert bundles, captured.outputs
    bundle = bundles[-1]
    payload = bundle[RUN_MIME]
    assert payload["info"]["name"] == "shown"
    assert payload["metrics"]["score"] == 0.75
    assert "<img" not in bundle["text/html"]  # user strings are escaped
    assert "&lt;img" in bundle["text/html"]
    assert "score=0.75" in bundle["text/plain"]
    json.dumps(payload, allow_nan=False)


class _Capture:
    """Collects display() bundles published by the shell during a block."""

    def __init__(self, shell):
        self.shell = shell
        self.outputs = []

    def __enter__(self):
        pub = self.shell.display_pub
        self._orig = pub.publish

        def publish(data, metadata=None, **kw):
            self.outputs.append(data)

        pub.publish = publish
        return self

    def __exit__(self, *exc):
        self.shell.display_pub.publish = self._orig


def test_given_runs_when_mlops_line_magics_then_tables(ip, store):
    ip.run_cell("%%track -e a -n first\nacc = 0.5\nlr = 0.1")
    ip.run_cell("%%track -e a -n second\nacc = 0.7\nlr = 0.2")
    table = ip.run_line_magic("mlops", "runs -e a -o 'metrics.acc DESC'").frame
    assert list(table["name"]) == ["second", "first"]
    assert "params.lr" in table.columns
    assert list(ip.run_line_magic("mlops", "experiments")["name"]) == ["a"]
    ids = list(table.index)
    compare = ip.run_line_magic("mlops", f"compare {ids[0]} {ids[1]}")
    assert bool(compare.frame.loc["params.lr", "differs"])
    shown = ip.run_line_magic("mlops", f"show {ids[0]}")
    assert "source" in shown.index
    with pytest.raises(UsageError, match="No experiment named 'nope'"):
        ip.run_line_magic("mlops", "runs -e nope")
    with pytest.raises(UsageError, match="column"):
        ip.run_line_magic("mlops", "runs -f 'metrics.acc >'")
    with pytest.raises(UsageError, match="No run"):
        ip.run_line_magic("mlops", "show ffffffff")
    with pytest.raises(UsageError):
        ip.run_line_magic("mlops", "bogus")


def test_given_a_tracked_cell_that_fitted_a_model_when_mlops_register_then_a_version(
    ip, store, capsys
):
    with pytest.raises(UsageError, match="No tracked cell has run"):
        ip.run_line_magic("mlops", "register churn")
    ip.run_cell(
        "%%track -e reg\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "clf = LogisticRegression().fit([[0], [1], [2], [3]], [0, 0, 1, 1])"
    )

    ip.run_line_magic("mlops", "register churn -d 'first fit'")
    run = only_run(store, experiment="reg")
    ip.run_line_magic("mlops", f"register churn runs:/{run.id}/clf")

    versions = store.search_model_versions("churn")
    assert [(v.version, v.run_id, v.description) for v in versions] == [
        (1, run.id, "first fit"),
        (2, run.id, ""),
    ]
    assert "Registered models:/churn/1" in capsys.readouterr().out
    assert list(ip.run_line_magic("mlops", "versions churn").index) == [1, 2]
    assert ip.run_line_magic("mlops", "models").loc["churn", "versions"] == 2
    ip.run_cell(
        "%%track -e reg\n"
        "a = LogisticRegression().fit([[0], [1]], [0, 1])\n"
        "b = LogisticRegression(C=2.0).fit([[0], [1]], [0, 1])"
    )
    with pytest.raises(UsageError, match=r"logged 2 models .*name one with -m"):
        ip.run_line_magic("mlops", "register churn")
    ip.run_line_magic("mlops", "register churn -m b")
    assert store.get_model_version("churn", 3).logged_model_id == next(
        m.id
        for m in store.get_run(store.get_model_version("churn", 3).run_id).models
        if m.name == "b"
    )


# A real kernel ------------------------------------------------------------------------------


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.mark.kernel
def test_given_notebook_in_real_kernel_then_runs_record_notebook_cell_and_failure(
    tmp_path, open_client
):
    home = tmp_path / "store"
    client = open_client(home)
    (tmp_path / "train.csv").write_text("x,y\n1,0\n2,1\n3,0\n4,1\n")
    nb_path = _notebook(
        tmp_path / "exp.ipynb",
        [
            "%load_ext jupyter_mlops\nimport pandas as pd",
            "%%track -e kernel\n# train\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "C = 2.0\n"
            "frame = pd.read_csv('train.csv')\n"
            "clf = LogisticRegression(C=C).fit(frame[['x']], frame['y'])\n"
            "acc = clf.score(frame[['x']], frame['y'])\n"
            "frame.to_csv('out.csv')",
            "%%track -e kernel\n# broken\nundefined_name + 1",
            "%%track -e kernel\n# never runs\nx = 1",
        ],
    )
    env = {"JUPYTER_MLOPS_HOME": str(home)}
    with pytest.raises(mlops.ExecutionError) as caught:
        execute_notebook(nb_path, env=env, output_path=tmp_path / "out.ipynb")
    assert caught.value.cell_index == 2
    assert caught.value.ename == "NameError"

    runs = client.search_runs(experiment="kernel", order_by=["start_time"])
    assert [r.info.name for r in runs] == ["train", "broken"]
    train, broken = (client.get_run(r.id) for r in runs)
    nb = nbformat.read(nb_path, as_version=4)
    assert train.info.notebook_path == str(nb_path.resolve())
    assert train.info.cell_id == nb.cells[1].id
    assert broken.info.cell_id == nb.cells[2].id
    assert train.info.status == "FINISHED"
    assert train.params["C"] == "2.0" and train.params["clf.C"] == "2.0"
    assert "acc" in train.metrics
    assert {d.name for d in train.inputs} >= {"train.csv"}
    assert {d.name for d in train.outputs} >= {"frame", "out.csv"}
    assert [m.name for m in train.models] == ["clf"]
    assert train.info.source.startswith("# train")
    assert broken.info.status == "FAILED"
    assert broken.info.error_name == "NameError"
    assert "undefined_name" in broken.info.traceback
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    mimes = [o.get("data", {}) for o in out.cells[1].outputs if o.output_type == "display_data"]
    assert any(RUN_MIME in m for m in mimes)


# The summary saved under a tracked cell -----------------------------------------------------

SAVED_SUMMARY_LIMIT = 2048


def _heavy_cell(failing: bool) -> str:
    """A cell as heavy as real ones get: a 1000-column frame read and written, 300 params,
    50 metrics, a fitted model, ten --params that do not exist (ten notes) and, when failing,
    an exception with a long message raised 40 frames deep."""
    missing = ",".join(f"not_defined_{i}" for i in range(10))
    lines = [
        f"%%track -e heavy -t stage=dev --params {missing}",
        "# a heavy cell " + "with a long descriptive first comment " * 4,
        "wide = pd.read_csv('wide.csv')",
    ]
    lines += [
        f"hyperparameter_{i:03d} = {'a rather long parameter value ' * 3!r}" for i in range(300)
    ]
    lines += [f"validation_score_{i:02d} = {0.5 + i / 100}" for i in range(50)]
    lines += [
        "from sklearn.linear_model import Ridge",
        "ridge = Ridge(alpha=0.25).fit(wide.iloc[:, :20], wide.iloc[:, 20])",
        "scaled = wide * 2",
        "scaled.to_csv('wide_out.csv', index=False)",
    ]
    if failing:
        lines += [
            "def deeper(n):",
            "    if n == 0:",
            "        raise ValueError('the validation split is empty: ' + 'x' * 3000)",
            "    return deeper(n - 1)",
            "deeper(40)",
        ]
    return "\n".join(lines)


def _saved_bytes(nb: nbformat.NotebookNode, cell: int, outputs: list[int]) -> int:
    """What some outputs of a cell weigh in the .ipynb file, as nbformat writes it."""
    without = nbformat.from_dict(json.loads(nbformat.writes(nb)))
    without.cells[cell].outputs = [
        o for i, o in enumerate(without.cells[cell].outputs) if i not in outputs
    ]
    return len(nbformat.writes(nb).encode()) - len(nbformat.writes(without).encode())


@pytest.mark.kernel
def test_given_heavy_tracked_cells_when_notebook_saved_then_each_summary_is_under_2_kib(
    tmp_path, open_client
):
    home = tmp_path / "store"
    nb_path = _notebook(
        tmp_path / "heavy.ipynb",
        [
            "%load_ext jupyter_mlops\n%config TrackMagics.max_params = 1000\n"
            "import numpy as np\nimport pandas as pd\n"
            "names = [f'feature_{i:04d}_measured_by_a_long_named_sensor' for i in range(1000)]\n"
            "frame = pd.DataFrame(np.random.default_rng(0).random((50, 1000)), columns=names)\n"
            "frame.to_csv('wide.csv', index=False)",
            _heavy_cell(failing=False),
            _heavy_cell(failing=True),
        ],
    )
    with pytest.raises(mlops.ExecutionError):
        execute_notebook(
            nb_path, env={"JUPYTER_MLOPS_HOME": str(home)}, output_path=tmp_path / "out.ipynb"
        )

    saved = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    client = open_client(home)
    runs = {r.info.status: r for r in client.search_runs(experiment="heavy")}
    assert set(runs) == {"FINISHED", "FAILED"}
    for index, status in ((1, "FINISHED"), (2, "FAILED")):
        outputs = saved.cells[index].outputs
        summaries = [i for i, o in enumerate(outputs) if RUN_MIME in o.get("data", {})]
        assert len(summaries) == 1, outputs
        # The failing cell's error output is IPython's traceback, not the summary.
        assert all(o.output_type == "error" or i in summaries for i, o in enumerate(outputs))
        size = _saved_bytes(saved, index, summaries)
        assert size < SAVED_SUMMARY_LIMIT, (status, size)
        # Compact, yet it tells the whole story in numbers and points at the run.
        run = client.get_run(runs[status].id)
        payload = outputs[summaries[0]].data[RUN_MIME]
        assert payload["info"]["id"] == run.id and payload["info"]["status"] == status
        assert payload["counts"] == {
            "params": len(run.params),  # 300 and the model's alpha
            "metrics": 50,
            "inputs": len(run.inputs),
            "outputs": len(run.outputs),
            "models": 1,
            "notes": 10,
        }
        [wide_csv] = [d for d in run.inputs if d.name == "wide.csv"]
        assert payload["inputs"] == [f"wide.csv [file] {wide_csv.fingerprint.split(':')[-1][:8]}"]
        assert "301 params" in outputs[summaries[0]].data["text/plain"]
        assert "ridge" in outputs[summaries[0]].data["text/html"]


def test_given_run_of_markup_and_long_texts_when_summarised_then_saved_output_under_2_kib():
    from jupyter_mlops import views
    from jupyter_mlops.entities import DatasetVersion, Run, RunInfo

    markup = "<&>" * 200  # five bytes each once escaped in HTML
    info = RunInfo(
        id="f" * 32,
        experiment_id=1,
        experiment_name=markup,
        name=markup,
        status="FAILED",
        start_time=0,
        end_time=1,
        user="u",
        error_name=markup,
        error_value=markup * 50,
    )
    data = [
        DatasetVersion(
            f"{i:032x}", f"{i}{markup}", 1, "xxh3-128:" + "a" * 32, "file", None, [], None, "", 0, 0
        )
        for i in range(20)
    ]
    run = Run(
        info,
        params={f"{i}{markup}": markup for i in range(40)},
        metrics={f"{i}{markup}": float("nan") for i in range(40)},
        inputs=data,
        outputs=data,
    )
    bundle = views.cell_summary_bundle(run, 1.5, [markup] * 30, RUN_MIME)

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("display_data", bundle)])
    ]
    assert _saved_bytes(nb, 0, [0]) < SAVED_SUMMARY_LIMIT
    assert "<&>" not in bundle["text/html"] and "&lt;&amp;&gt;" in bundle["text/html"]
    assert bundle[RUN_MIME]["info"]["id"] == "f" * 32
    assert bundle[RUN_MIME]["counts"]["params"] == 40
    json.dumps(bundle, allow_nan=False)


def test_given_autoawait_off_when_a_tracked_cell_awaits_then_syntax_error_as_untracked(ip, store):
    ip.run_line_magic("autoawait", "False")
    try:
        plain = ip.run_cell("import asyncio\nawait asyncio.sleep(0)")
        tracked = ip.run_cell("%%track\nimport asyncio\nawait asyncio.sleep(0)")
    finally:
        ip.run_line_magic("autoawait", "True")
    assert isinstance(plain.error_in_exec or plain.error_before_exec, SyntaxError)
    assert isinstance(tracked.error_in_exec, SyntaxError)  # not a coroutine left unawaited
    run = only_run(store)
    assert run.info.status == "FAILED" and run.info.error_name == "SyntaxError"


@pytest.mark.parametrize("when", ["before", "after"])
def test_given_an_interrupt_while_hashing_data_then_the_run_ends_killed(
    ip, store, monkeypatch, when
):
    from jupyter_mlops.tracking import snapshot

    calls = []
    real = snapshot.fingerprint_names

    def interrupted(*args, **kwargs):
        calls.append(1)
        if (when == "before") == (len(calls) == 1):
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(snapshot, "fingerprint_names", interrupted)
    ip.user_ns["df"] = pd.DataFrame({"a": [1, 2]})
    result = ip.run_cell("%%track\ntotal = df['a'].sum()")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    run = only_run(store)
    assert run.info.status == "KILLED"  # never left RUNNING
    assert mlops.active_run() is None


@pytest.mark.slow
def test_given_a_registered_version_when_mlops_serve_then_it_answers_and_mlops_stop_ends_it(
    ip, store, capsys
):
    ip.run_cell(
        "%%track -e serve\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "clf = LogisticRegression().fit([[0], [1], [2], [3]], [0, 0, 1, 1])"
    )
    ip.run_line_magic("mlops", "register churn")
    handle = ip.run_line_magic("mlops", "serve churn/1 --no-record")
    try:
        assert handle.predict([[0.0], [3.0]]) == [0, 1]
        table = ip.run_line_magic("mlops", "servers")
        assert table.loc[handle.id[:8], "status"] == "RUNNING"
        assert table.loc[handle.id[:8], "model"] == "churn/1"
    finally:
        ip.run_line_magic("mlops", f"stop {handle.id[:8]}")
    assert "STOPPED, stopped by request" in capsys.readouterr().out
    assert ip.run_line_magic("mlops", "servers").empty
    with pytest.raises(UsageError, match="no alias"):
        ip.run_line_magic("mlops", "serve churn@nobody")
