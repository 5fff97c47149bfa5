"""Tests for jupyter_mlops.data.profile."""

from __future__ import annotations

import importlib
import json
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.data import LazyDataError, column_schema, profile_frame


def by_name(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {column["name"]: column for column in profile["columns"]}


def known_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0, np.nan],
            "k": ["a", "b", "a", None, "a"],
            "when": pd.to_datetime(
                ["2021-01-02 00:00:00", "NaT", "2020-05-06 07:08:09", "NaT", "NaT"]
            ),
            "flag": [True, False, True, True, True],
            "n": pd.array([10, None, 30, None, 50], dtype="Int64"),
        }
    )


def test_given_known_frame_when_profiled_then_numeric_stats_are_correct() -> None:
    profile = profile_frame(known_frame())
    assert profile["rows"] == 5
    assert profile["n_columns"] == 5
    assert profile["truncated"] is False
    assert profile["sampled"] is False
    x = by_name(profile)["x"]
    assert x["kind"] == "numeric"
    assert (x["count"], x["nulls"], x["inf"]) == (4, 1, 0)
    assert x["mean"] == pytest.approx(2.5)
    assert x["std"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert (x["min"], x["max"]) == (1.0, 4.0)
    assert x["quantiles"]["p50"] == pytest.approx(2.5)
    assert x["quantiles"]["p25"] == pytest.approx(1.75)
    assert list(x["quantiles"]) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    assert len(x["histogram"]["edges"]) == 21
    assert len(x["histogram"]["counts"]) == 20
    assert sum(x["histogram"]["counts"]) == 4
    assert x["histogram"]["edges"][0] == 1.0
    assert x["histogram"]["edges"][-1] == 4.0


def test_given_known_frame_when_profiled_then_other_kinds_are_summarised() -> None:
    columns = by_name(profile_frame(known_frame()))
    k = columns["k"]
    assert (k["kind"], k["count"], k["nulls"], k["n_unique"]) == ("categorical", 4, 1, 2)
    assert k["top"] == [{"value": "a", "count": 3}, {"value": "b", "count": 1}]
    when = columns["when"]
    assert when["kind"] == "datetime"
    assert (when["count"], when["nulls"]) == (2, 3)
    assert when["min"] == "2020-05-06T07:08:09"
    assert when["max"] == "2021-01-02T00:00:00"
    flag = columns["flag"]
    assert (flag["kind"], flag["true"], flag["false"]) == ("bool", 4, 1)
    n = columns["n"]
    assert (n["kind"], n["count"], n["nulls"], n["mean"]) == ("numeric", 3, 2, 30.0)


def test_given_categorical_dtype_when_profiled_then_unused_categories_are_not_counted() -> None:
    series = pd.Series(pd.Categorical(["b", "a", "b"], categories=["a", "b", "zzz"]), name="c")
    column = profile_frame(series)["columns"][0]
    assert column["kind"] == "categorical"
    assert column["n_unique"] == 2
    assert column["top"] == [{"value": "b", "count": 2}, {"value": "a", "count": 1}]


def test_given_many_distinct_values_when_profiled_then_top_keeps_ten_most_frequent() -> None:
    values = [f"v{i}" for i in range(30) for _ in range(i + 1)]
    column = profile_frame(pd.DataFrame({"v": values}))["columns"][0]
    assert column["n_unique"] == 30
    assert [entry["value"] for entry in column["top"]] == [f"v{i}" for i in range(29, 19, -1)]


def test_given_nan_and_inf_when_profiled_then_output_is_strict_json_and_infs_counted() -> None:
    frame = pd.DataFrame(
        {
            "mixed": [np.inf, -np.inf, np.nan, 1.0, 3.0],
            "only_inf": [np.inf] * 5,
            "only_nan": [np.nan] * 5,
            "huge": [1e308, 1e308, -1e308, 0.0, 1.0],
        }
    )
    profile = profile_frame(frame)
    json.dumps(profile, allow_nan=False)
    columns = by_name(profile)
    mixed = columns["mixed"]
    assert (mixed["count"], mixed["nulls"], mixed["inf"]) == (4, 1, 2)
    assert (mixed["min"], mixed["max"], mixed["mean"]) == (1.0, 3.0, 2.0)
    only_inf = columns["only_inf"]
    assert (only_inf["inf"], only_inf["mean"], only_inf["min"]) == (5, None, None)
    assert only_inf["histogram"] == {"edges": [], "counts": []}
    assert columns["only_nan"]["nulls"] == 5
    assert columns["huge"]["mean"] is None or np.isfinite(columns["huge"]["mean"])


def test_given_wide_frame_when_profiled_then_columns_truncated_to_max() -> None:
    frame = pd.DataFrame(np.zeros((3, 12)), columns=[f"c{i}" for i in range(12)])
    profile = profile_frame(frame, max_columns=5)
    assert profile["truncated"] is True
    assert profile["n_columns"] == 12
    assert [c["name"] for c in profile["columns"]] == [f"c{i}" for i in range(5)]


def test_given_more_rows_than_sample_when_profiled_then_sampled_deterministically() -> None:
    values = np.random.default_rng(3).standard_normal(5_000)
    frame = pd.DataFrame({"v": values})
    first = profile_frame(frame, sample_rows=1_000)
    second = profile_frame(frame, sample_rows=1_000)
    assert first["sampled"] is True
    assert first == second
    column = first["columns"][0]
    assert sum(column["histogram"]["counts"]) == 1_000
    assert column["count"] == 5_000  # counts and moments still use every row
    assert column["mean"] == pytest.approx(float(values.mean()))
    assert column["quantiles"]["p50"] == pytest.approx(float(np.median(values)), abs=0.1)
    assert profile_frame(frame, sample_rows=None)["sampled"] is False


def test_given_arrays_when_profiled_then_treated_as_columns() -> None:
    one = profile_frame(np.array([1.0, 2.0, 3.0]))
    assert [c["name"] for c in one["columns"]] == [""]
    two = profile_frame(np.arange(6).reshape(3, 2))
    assert two["rows"] == 3
    assert [c["name"] for c in two["columns"]] == ["0", "1"]
    assert two["columns"][1]["mean"] == 3.0
    with pytest.raises(TypeError):
        profile_frame(np.zeros((2, 2, 2)))


def test_given_unsupported_inputs_when_profiled_then_errors_are_raised() -> None:
    with pytest.raises(TypeError):
        profile_frame([1, 2, 3])
    with pytest.raises(ValueError):
        profile_frame(pd.DataFrame({"a": [1]}), sample_rows=0)


def test_given_unhashable_objects_when_profiled_then_profile_still_serialises() -> None:
    frame = pd.DataFrame({"o": [[1], {"a": 2}, None, [1]]})
    profile = profile_frame(frame)
    json.dumps(profile, allow_nan=False)
    column = profile["columns"][0]
    assert column["kind"] in ("categorical", "other")
    assert (column["count"], column["nulls"]) == (3, 1)


def test_given_empty_frame_when_profiled_then_stats_are_null() -> None:
    profile = profile_frame(pd.DataFrame({"x": pd.Series([], dtype=float), "s": []}))
    json.dumps(profile, allow_nan=False)
    x = by_name(profile)["x"]
    assert (x["count"], x["mean"], x["quantiles"]["p50"]) == (0, None, None)


def test_given_tables_when_schema_taken_then_names_and_dtypes_listed() -> None:
    frame = pd.DataFrame({"a": [1], 2: ["x"]})
    assert column_schema(frame) == [
        {"name": "a", "dtype": "int64"},
        {"name": "2", "dtype": str(frame[2].dtype)},
    ]
    assert column_schema(pd.Series([1.0], name="s")) == [{"name": "s", "dtype": "float64"}]
    assert column_schema(pd.Series([1.0])) == [{"name": "", "dtype": "float64"}]
    assert column_schema(np.zeros(3, dtype=np.int8)) == [{"name": "", "dtype": "int8"}]
    assert column_schema(np.zeros((2, 2))) == [
        {"name": "0", "dtype": "float64"},
        {"name": "1", "dtype": "float64"},
    ]
    with pytest.raises(TypeError):
        column_schema({"a": 1})


@settings(max_examples=50, deadline=None)
@given(
    floats=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=30),
    texts=st.data(),
)
def test_given_arbitrary_values_when_profiled_then_json_serialisable_without_nan(
    floats: list[float], texts: st.DataObject
) -> None:
    n = len(floats)
    strings = texts.draw(st.lists(st.none() | st.text(max_size=4), min_size=n, max_size=n))
    frame = pd.DataFrame({"f": np.array(floats, dtype=np.float64), "s": strings})
    profile = profile_frame(frame)
    text = json.dumps(profile, allow_nan=False)
    assert json.loads(text)["rows"] == n
    f = by_name(profile)["f"]
    assert f["count"] + f["nulls"] == n
    assert f["inf"] == int(np.isinf(np.array(floats, dtype=np.float64)).sum())


# --------------------------------------------------------------------------- other libraries

profile_module = importlib.import_module("jupyter_mlops.data.profile")


def library_tables() -> dict[str, Any]:
    """The known frame's x and k columns in each library's table type."""
    frame = known_frame()[["x", "k"]]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return {
        "pyarrow.Table": table,
        "pyarrow.RecordBatch": table.to_batches()[0],
        "polars.DataFrame": pl.from_arrow(table),
    }


@pytest.mark.parametrize("kind", ["pyarrow.Table", "pyarrow.RecordBatch", "polars.DataFrame"])
def test_given_library_table_when_profiled_then_same_stats_as_the_pandas_frame(kind: str) -> None:
    expected = profile_frame(known_frame()[["x", "k"]])
    profile = profile_frame(library_tables()[kind])
    json.dumps(profile, allow_nan=False)
    assert (profile["rows"], profile["n_columns"]) == (5, 2)
    for name in ("x", "k"):
        got, want = by_name(profile)[name], by_name(expected)[name]
        assert {k: v for k, v in got.items() if k != "dtype"} == {
            k: v for k, v in want.items() if k != "dtype"
        }


def test_given_library_tables_when_schema_taken_then_library_type_names_listed() -> None:
    tables = library_tables()
    assert column_schema(tables["pyarrow.Table"]) == [
        {"name": "x", "dtype": "double"},
        {"name": "k", "dtype": "large_string"},
    ]
    assert column_schema(tables["pyarrow.RecordBatch"]) == column_schema(tables["pyarrow.Table"])
    assert column_schema(tables["polars.DataFrame"]) == [
        {"name": "x", "dtype": "Float64"},
        {"name": "k", "dtype": "String"},
    ]
    assert column_schema(pa.chunked_array([[1], [2]])) == [{"name": "", "dtype": "int64"}]
    assert column_schema(pl.Series("s", [1.5])) == [{"name": "s", "dtype": "Float64"}]
    assert column_schema(sp.csr_matrix(np.eye(2))) == [{"name": "", "dtype": "csr_matrix[float64]"}]


def test_given_arrow_and_polars_columns_when_profiled_then_one_named_column() -> None:
    for column, name in ((pa.array([1.0, None, 3.0]), ""), (pl.Series("v", [1.0, None, 3.0]), "v")):
        profile = profile_frame(column)
        (stats,) = profile["columns"]
        assert (stats["name"], stats["kind"], stats["count"], stats["nulls"]) == (
            name,
            "numeric",
            2,
            1,
        )
        assert stats["mean"] == 2.0


def test_given_sparse_matrix_when_profiled_then_columns_are_its_dense_columns() -> None:
    dense = np.array([[0.0, 1.0], [2.0, 0.0], [4.0, 0.0]])
    profile = profile_frame(sp.csr_matrix(dense))
    assert profile == profile_frame(dense)
    vector = sp.coo_array(np.array([0.0, 3.0, 0.0]))
    assert by_name(profile_frame(vector))[""]["mean"] == 1.0


def test_given_wide_library_tables_when_profiled_then_only_profiled_columns_converted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converted: list[str] = []
    original = profile_module._arrow_series

    def spy(values: Any, name: str) -> pd.Series:
        converted.append(name)
        return original(values, name)

    monkeypatch.setattr(profile_module, "_arrow_series", spy)
    wide = {f"c{i}": [float(i)] * 3 for i in range(50)}
    for table in (pa.table(wide), pl.DataFrame(wide)):
        converted.clear()
        profile = profile_frame(table, max_columns=2)
        assert profile["truncated"] and converted == ["c0", "c1"]
    matrix = sp.random(4, 10_000, density=0.001, format="csr", random_state=0)
    profile = profile_frame(matrix, max_columns=3)
    assert profile["n_columns"] == 10_000 and len(profile["columns"]) == 3


def test_given_lazy_frame_when_profiled_or_schema_taken_then_refused_with_a_fix() -> None:
    lazy = pl.DataFrame({"a": [1]}).lazy()
    with pytest.raises(LazyDataError, match=r"\.collect\(\)"):
        profile_frame(lazy)
    with pytest.raises(LazyDataError, match=r"\.collect\(\)"):
        column_schema(lazy)
