"""The model server's pure parts in-process: options, the input spec and its checks, the
protocols' bodies, the metrics' quantiles and the recorder's tables."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.monitoring.operations import LATENCY_BUCKETS, bucket_quantile
from jupyter_mlops.serving import ServeOptions
from jupyter_mlops.serving.protocols import mlflow_request, v2_request
from jupyter_mlops.serving.recorder import tables_of
from jupyter_mlops.serving.spec import Column, InputSpec, spec_for


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"host": "-"}, "host"),
        ({"host": "a..b"}, "host"),
        ({"port": 70000}, "port"),
        ({"port": True}, "port"),
        ({"workers": 0}, "workers"),
        ({"max_batch": 0}, "max_batch"),
        ({"idle_timeout": 0.1}, "idle_timeout"),
        ({"max_body_mb": -1}, "max_body_mb"),
        ({"token": ""}, "token"),
        ({"record": "yes"}, "record"),
    ],
)
def test_given_a_bad_option_then_it_is_refused_naming_it(changes, says):
    with pytest.raises(InvalidInput, match=says):
        ServeOptions(**changes).validate()


@pytest.mark.parametrize("value", [5, "ab", {"a": 1}, True])
def test_given_allowed_hosts_not_a_list_then_from_json_refuses_it(value):
    with pytest.raises(InvalidInput, match="allowed_hosts must be a list"):
        ServeOptions.from_json({"allowed_hosts": value})


def test_given_options_then_json_never_holds_the_token():
    data = ServeOptions(token="secret").to_json()
    assert "token" not in data and data["token_set"] is True
    assert "secret" not in str(data)


def _frame(rows: int = 50) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    return X, (X["a"] > 0).astype(int).to_numpy()


def test_given_a_model_fitted_on_a_numeric_frame_then_it_gets_arrays_in_signature_order():
    X, y = _frame()
    model = LogisticRegression().fit(X, y)
    spec = spec_for(model, {"inputs": {"type": "dataframe", "columns": [
        {"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "float64"}]}})  # fmt: skip
    assert spec.frame is False and spec.names == ["a", "b"]
    got = spec.from_rows([[2.0, 1.0]], ["b", "a"])
    assert isinstance(got, np.ndarray) and got.tolist() == [[1.0, 2.0]]


def test_given_a_model_reading_columns_by_name_then_it_gets_a_frame():
    X, y = _frame()
    X["plan"] = np.where(X["b"] > 0, "pro", "basic")
    model = make_pipeline(
        make_column_transformer((StandardScaler(), ["a", "b"]), (OneHotEncoder(), ["plan"])),
        LogisticRegression(),
    ).fit(X, y)
    signature = {"inputs": {"type": "dataframe", "columns": [
        {"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "float64"},
        {"name": "plan", "dtype": "str"}]}}  # fmt: skip
    spec = spec_for(model, signature)
    assert spec.frame is True
    frame = spec.from_records([{"a": 1.0, "b": 2, "plan": "pro"}])
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["a", "b", "plan"]
    assert model.predict(frame).shape == (1,)
    with pytest.raises(InvalidInput, match="Column 'plan', row 0: expected text"):
        spec.from_records([{"a": 1.0, "b": 2, "plan": 3}])
    with pytest.raises(InvalidInput, match="Column 'a', row 0: expected a number"):
        spec.from_records([{"a": "1", "b": 2, "plan": "pro"}])


def test_given_a_model_that_takes_missing_values_then_nan_and_null_pass_but_inf_does_not():
    X, y = _frame()
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    spec = spec_for(model, None)
    assert spec.allow_nan is True
    assert np.isnan(spec.from_rows([[None, 1.0]], ["a", "b"])[0, 0])
    with pytest.raises(InvalidInput, match="infinite"):
        spec.from_rows([[math.inf, 1.0]])
    strict = spec_for(LogisticRegression().fit(X, y), None)
    with pytest.raises(InvalidInput, match="missing value"):
        strict.from_rows([[math.nan, 1.0]])


SPEC = InputSpec((Column("a", "float"), Column("b", "float")), 2, frame=False, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=2, max_size=2
        ),
        min_size=1,
        max_size=30,
    )
)
def test_given_rows_of_finite_numbers_then_every_body_format_gives_the_same_array(rows):
    want = np.array(rows, dtype=np.float64)
    records = [{"a": r[0], "b": r[1]} for r in rows]
    columns = {"a": [r[0] for r in rows], "b": [r[1] for r in rows]}
    import json

    for body in (
        {"dataframe_split": {"columns": ["a", "b"], "data": rows}},
        {"dataframe_records": records},
        {"instances": rows},
        {"inputs": columns},
    ):
        got, method = mlflow_request(SPEC, json.dumps(body).encode(), "application/json")
        assert method == "predict"
        np.testing.assert_array_equal(got, want)
    flat = want.ravel().tolist()
    v2 = {"inputs": [{"name": "x", "shape": [len(rows), 2], "datatype": "FP64", "data": flat}]}
    got, _outputs, _ = v2_request(SPEC, json.dumps(v2).encode())
    np.testing.assert_array_equal(got, want)


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
))  # fmt: skip
def test_given_any_json_value_then_the_parsers_answer_or_refuse_with_invalid_input(value):
    import json

    body = json.dumps({"instances": value}).encode()
    with contextlib.suppress(InvalidInput):
        mlflow_request(SPEC, body, "application/json")
    with contextlib.suppress(InvalidInput):
        v2_request(SPEC, json.dumps({"inputs": value}).encode())


def test_given_latency_counts_then_quantile_interpolates_within_the_bucket():
    counts = [0.0] * (len(LATENCY_BUCKETS) + 1)
    counts[LATENCY_BUCKETS.index(0.002)] = 100  # all in (0.0015, 0.002]
    assert bucket_quantile(counts, 0.5) == pytest.approx(0.00175)
    assert bucket_quantile([0.0] * len(counts), 0.95) is None


def test_given_records_of_two_layouts_then_one_table_each_with_rows_repeated_per_request():
    records = [
        ("r1", 1000, 1, 200, 1.5, ["a", "b"], np.array([[1.0, 2.0], [3.0, 4.0]]), "prediction",
         np.array([0, 1]), None, None),
        ("r2", 1001, 1, 200, 0.5, ["a", "b"], np.array([[5.0, 6.0]]), "prediction",
         np.array([1]), None, None),
        ("r3", 1002, 1, 400, 0.2, None, None, "", None, "Column 'a'...", None),
    ]  # fmt: skip
    ok, refused = tables_of(records)  # type: ignore[arg-type]
    assert ok.column("request_id").to_pylist() == ["r1", "r1", "r2"]
    assert ok.column("row").to_pylist() == [0, 1, 0]
    assert ok.column("input.b").to_pylist() == [2.0, 4.0, 6.0]
    assert ok.column("output.prediction").to_pylist() == [0, 1, 1]
    assert refused.column("status").to_pylist() == [400]
    assert refused.column("error").to_pylist() == ["Column 'a'..."]
