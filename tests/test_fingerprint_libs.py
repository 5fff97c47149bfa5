"""Fingerprints of other libraries' data: pyarrow, polars, numpy memmap, scipy sparse.

And what the rest of the package does with them: which objects are datasets, their shape,
size and schema, logging them through the Client, and %%track's snapshot of a namespace.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import jupyter_mlops as mlops
from jupyter_mlops.data import (
    LazyDataError,
    dataset_kind,
    fingerprint,
    is_fingerprintable,
    nbytes_of,
    not_materialized,
    shape_of,
)
from jupyter_mlops.exceptions import InvalidInput
from jupyter_mlops.tracking.snapshot import fingerprint_names
from tests.test_fingerprint import memmap_copy

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- pyarrow


def chunked(values: list[Any], kind: pa.DataType, cuts: list[int]) -> pa.ChunkedArray:
    """``values`` as a ChunkedArray of type ``kind`` split at ``cuts``."""
    bounds = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    chunks = [pa.array(values[a:b], type=kind) for a, b in itertools.pairwise(bounds)]
    return pa.chunked_array(chunks, type=kind)


def sliced(values: list[Any], kind: pa.DataType, pad: Any) -> pa.Array:
    """``values`` as a slice (non-zero offset) of a longer array."""
    return pa.array([pad, pad, *values, pad], type=kind)[2 : 2 + len(values)]


# (logical type, the same type in other physical layouts, values strategy, a padding row)
ARROW_CASES = {
    "int64": (pa.int64(), [], st.none() | st.integers(-(2**63), 2**63 - 1), 5),
    "float64": (pa.float64(), [], st.none() | st.floats(allow_nan=False), 1.5),
    "bool": (pa.bool_(), [], st.none() | st.booleans(), True),
    "string": (
        pa.string(),
        [pa.large_string(), pa.string_view()],
        st.none() | st.text(max_size=20),
        "pad",
    ),
    "binary": (pa.binary(), [pa.large_binary(), pa.binary_view()], st.binary(max_size=5), b"p"),
    "list<int32>": (
        pa.list_(pa.int32()),
        [pa.large_list(pa.int32()), pa.list_view(pa.int32())],
        st.none() | st.lists(st.none() | st.integers(-9, 9), max_size=3),
        [7],
    ),
    "struct": (
        pa.struct([("a", pa.int16()), ("b", pa.string())]),
        [pa.struct([("a", pa.int16()), ("b", pa.large_string())])],
        st.none()
        | st.fixed_dictionaries({"a": st.none() | st.integers(-9, 9), "b": st.text(max_size=3)}),
        {"a": 1, "b": "x"},
    ),
    "timestamp": (
        pa.timestamp("us", tz="UTC"),
        [],
        st.none() | st.integers(0, 2**50),
        0,
    ),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), case=st.sampled_from(sorted(ARROW_CASES)))
def test_given_arrow_column_when_chunked_sliced_or_laid_out_otherwise_then_fingerprint_equal(
    data: st.DataObject, case: str
) -> None:
    kind, variants, strategy, pad = ARROW_CASES[case]
    values = data.draw(st.lists(strategy, max_size=10))
    cuts = data.draw(st.lists(st.integers(0, 10), max_size=4))
    expected = fingerprint(pa.array(values, type=kind))
    assert fingerprint(chunked(values, kind, cuts)) == expected
    assert fingerprint(sliced(values, kind, pad)) == expected
    for variant in variants:
        assert fingerprint(chunked(values, variant, cuts)) == expected, variant
    if case in ("string", "int64"):  # dictionary encoding is a layout, not content
        assert fingerprint(pa.array(values, type=kind).dictionary_encode()) == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), case=st.sampled_from(sorted(ARROW_CASES)))
def test_given_arrow_column_when_one_row_changes_then_fingerprint_changes(
    data: st.DataObject, case: str
) -> None:
    kind, _, strategy, _ = ARROW_CASES[case]
    values = data.draw(st.lists(strategy, min_size=1, max_size=10))
    row = data.draw(st.integers(0, len(values) - 1))
    new = data.draw(strategy)
    old_row = pa.array([values[row]], type=kind)
    assume(not pa.array([new], type=kind).equals(old_row))
    changed = [*values[:row], new, *values[row + 1 :]]
    assert fingerprint(pa.array(changed, type=kind)) != fingerprint(pa.array(values, type=kind))


def test_given_null_slots_holding_leftovers_when_fingerprinted_then_equal_to_clean_array() -> None:
    # Arrow lets a null slot keep any bytes (and a null string cover data bytes).
    validity = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    numbers = pa.Array.from_buffers(
        pa.int64(), 3, [validity, pa.py_buffer(np.array([1, 99, 3], dtype=np.int64).tobytes())]
    )
    assert numbers.to_pylist() == [1, None, 3]
    assert fingerprint(numbers) == fingerprint(pa.array([1, None, 3], type=pa.int64()))
    offsets = pa.py_buffer(np.array([0, 1, 4, 5], dtype=np.int32).tobytes())
    texts = pa.Array.from_buffers(pa.string(), 3, [validity, offsets, pa.py_buffer(b"aXYZb")])
    assert texts.to_pylist() == ["a", None, "b"]
    assert fingerprint(texts) == fingerprint(pa.array(["a", None, "b"]))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (pa.array([1, 2], pa.int64()), pa.array([1, 2], pa.int32())),
        (pa.array(["a"], pa.string()), pa.array([b"a"], pa.binary())),
        (pa.array([[1, 2]], pa.list_(pa.int8())), pa.array([[1, 2]], pa.list_(pa.int8(), 2))),
        (pa.array([1], pa.timestamp("s")), pa.array([1], pa.timestamp("s", tz="UTC"))),
        (pa.array([None, None], pa.null()), pa.array([None, None, None], pa.null())),
        (pa.array([{"a": 1}]), pa.array([{"b": 1}])),
        (
            pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
            pa.array([[{"key": "k", "value": 1}]]),
        ),
        (pa.array([""]), pa.array([None], pa.string())),
        (pa.array(["ab", "c"]), pa.array(["a", "bc"])),
    ],
)
def test_given_arrow_arrays_of_other_types_or_values_when_fingerprinted_then_differ(
    left: pa.Array, right: pa.Array
) -> None:
    assert fingerprint(left) != fingerprint(right)


def test_given_run_end_encoded_array_when_fingerprinted_then_equal_to_decoded() -> None:
    values = pa.array([1, 1, 1, 2, None, None], pa.int64())
    assert fingerprint(pc.run_end_encode(values)) == fingerprint(values)


def test_given_union_array_when_fingerprinted_then_rows_are_hashed_as_python_values() -> None:
    def union(types: list[int], ints: list[int], texts: list[str]) -> pa.Array:
        children = [pa.array(ints, pa.int64()), pa.array(texts)]
        return pa.UnionArray.from_sparse(pa.array(types, pa.int8()), children)

    same = union([0, 1], [1, 2], ["a", "b"])
    assert fingerprint(same) == fingerprint(union([0, 1], [1, 7], ["z", "b"]))  # unused slots
    assert fingerprint(same) != fingerprint(union([0, 1], [3, 2], ["a", "b"]))


def test_given_table_record_batch_and_polars_frame_with_same_data_then_fingerprint_equal() -> None:
    data = {"id": [1, 2, None], "name": ["a", None, "c"], "score": [0.5, 1.5, 2.5]}
    table = pa.table(data)
    batches = pa.Table.from_batches(table.slice(0, 1).to_batches() + table.slice(1).to_batches())
    assert batches.column(0).num_chunks == 2
    expected = fingerprint(table)
    assert fingerprint(batches) == expected
    assert fingerprint(table.to_batches()[0]) == expected
    assert fingerprint(pl.DataFrame(data)) == expected


def test_given_table_when_column_renamed_reordered_or_value_changed_then_fingerprint_changes() -> (
    None
):
    table = pa.table({"a": [1, 2], "b": ["x", "y"]})
    variants = [
        table.rename_columns(["a", "c"]),
        table.select(["b", "a"]),
        pa.table({"a": [1, 3], "b": ["x", "y"]}),
        pa.table({"a": [1, 2], "b": ["x", "y"], "c": [None, None]}),
    ]
    prints = {fingerprint(t) for t in [table, *variants]}
    assert len(prints) == len(variants) + 1


def test_given_array_and_chunked_array_with_same_values_then_fingerprint_equal() -> None:
    assert fingerprint(pa.array(["a", "b"])) == fingerprint(pa.chunked_array([["a"], ["b"]]))
    assert fingerprint(pa.chunked_array([], type=pa.string())) == fingerprint(
        pa.array([], pa.string())
    )


def arrow_backed_frame(lists: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="int64[pyarrow]"),
            "l": pd.Series(lists, dtype=pd.ArrowDtype(pa.list_(pa.int64()))),
            "v": pd.Series(["a", "b", None], dtype=pd.ArrowDtype(pa.string_view())),
        }
    )


def test_given_arrow_backed_pandas_columns_when_fingerprinted_then_hashed_by_content() -> None:
    frame = arrow_backed_frame([[1], [], None])
    assert fingerprint(frame.copy()) == fingerprint(frame)
    assert fingerprint(arrow_backed_frame([[1], [], None])) == fingerprint(frame)
    assert fingerprint(arrow_backed_frame([[1], [2], None])) != fingerprint(frame)
    assert fingerprint(arrow_backed_frame([[1], None, None])) != fingerprint(frame)


# --------------------------------------------------------------------------- polars


def test_given_polars_frames_built_differently_when_same_content_then_fingerprint_equal() -> None:
    first = pl.DataFrame({"a": [1, 2, 3, 4], "s": ["w", "x", None, "z"]})
    pieces = pl.concat([first.slice(0, 2), first.slice(2)], rechunk=False)
    assert pieces.n_chunks() == 2
    assert fingerprint(pieces) == fingerprint(first)
    assert fingerprint(first.clone()) == fingerprint(first)


def test_given_polars_frame_when_value_name_or_type_changes_then_fingerprint_changes() -> None:
    frame = pl.DataFrame({"a": [1, 2], "s": ["x", "y"]})
    variants = [
        frame.with_columns(pl.Series("a", [1, 3])),
        frame.rename({"a": "b"}),
        frame.with_columns(pl.col("a").cast(pl.Int32)),
    ]
    assert len({fingerprint(f) for f in [frame, *variants]}) == len(variants) + 1


def test_given_polars_categorical_when_fingerprinted_then_hashed_as_its_strings() -> None:
    # Dictionary encoding (a Categorical, a parquet column read as dictionary) is how the
    # strings are stored, not what they are.
    frame = pl.DataFrame({"s": ["x", "y", "x"]})
    categorical = frame.with_columns(pl.col("s").cast(pl.Categorical))
    assert categorical["s"].dtype == pl.Categorical
    assert fingerprint(categorical) == fingerprint(frame)
    assert fingerprint(categorical) != fingerprint(pl.DataFrame({"s": ["x", "y", "y"]}))


def test_given_polars_series_when_name_or_values_differ_then_fingerprints_differ() -> None:
    series = pl.Series("a", ["x", None, "z"])
    assert fingerprint(series) == fingerprint(pl.Series("a", ["x", None, "z"]))
    assert fingerprint(series) != fingerprint(series.rename("b"))
    assert fingerprint(series) != fingerprint(pl.Series("a", ["x", "y", "z"]))


def test_given_polars_lazy_frame_when_fingerprinted_then_refused_with_a_fix() -> None:
    lazy = pl.DataFrame({"a": [1]}).lazy()
    with pytest.raises(LazyDataError, match=r"\.collect\(\)") as caught:
        fingerprint(lazy)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, InvalidInput)
    assert not is_fingerprintable(lazy)
    assert "collect()" in (not_materialized(lazy) or "")
    assert not_materialized(pl.DataFrame({"a": [1]})) is None


# --------------------------------------------------------------------------- numpy memmap


def test_given_memmap_when_fingerprinted_then_equal_to_array_and_sees_writes(
    tmp_path: Path,
) -> None:
    values = np.arange(20, dtype=np.float32).reshape(4, 5)
    mapped = memmap_copy(values, tmp_path / "m.dat")
    assert is_fingerprintable(mapped)
    assert fingerprint(mapped) == fingerprint(values)
    mapped[2, 3] = -1
    assert fingerprint(mapped) != fingerprint(values)
    assert shape_of(mapped) == [4, 5] and nbytes_of(mapped) == 80
    assert dataset_kind(mapped) == "memmap"


def test_given_masked_array_when_mask_or_visible_value_changes_then_fingerprint_changes() -> None:
    data = np.arange(6.0)
    masked = np.ma.masked_array(data, mask=[0, 1, 0, 0, 0, 0])
    hidden_changed = np.ma.masked_array(np.where(np.arange(6) == 1, -5.0, data), mask=masked.mask)
    assert fingerprint(hidden_changed) == fingerprint(masked)  # a masked slot is not a value
    assert fingerprint(masked) != fingerprint(data)
    assert fingerprint(np.ma.masked_array(data, mask=[0, 0, 1, 0, 0, 0])) != fingerprint(masked)
    visible = masked.copy()
    visible[3] = 30.0
    assert fingerprint(visible) != fingerprint(masked)


# --------------------------------------------------------------------------- scipy sparse

DENSE = np.array([[0.0, 1.5, 0.0, 0.0], [2.0, 0.0, 0.0, -3.0], [0.0, 0.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    "convert",
    [
        sp.csr_matrix,
        sp.csc_matrix,
        sp.coo_matrix,
        sp.dok_matrix,
        sp.lil_matrix,
        sp.bsr_matrix,
        sp.dia_matrix,
        sp.csr_array,
        sp.csc_array,
        sp.coo_array,
    ],
)
def test_given_sparse_formats_when_same_matrix_then_fingerprint_equal(convert: Any) -> None:
    assert fingerprint(convert(DENSE)) == fingerprint(sp.csr_matrix(DENSE))


def test_given_sparse_with_duplicates_zeros_or_unsorted_indices_then_canonical() -> None:
    expected = fingerprint(sp.csr_matrix(DENSE))
    rows, cols = np.array([1, 0, 1, 1, 1, 2]), np.array([0, 1, 3, 0, 3, 2])
    vals = np.array([1.0, 1.5, -1.0, 1.0, -2.0, 0.0])  # (1,0) and (1,3) split; (2,2) zero
    assert fingerprint(sp.coo_matrix((vals, (rows, cols)), shape=DENSE.shape)) == expected
    unsorted = sp.csr_matrix(
        (np.array([1.5, -3.0, 2.0]), np.array([1, 3, 0]), np.array([0, 1, 3, 3])),
        shape=(3, 4),
    )
    assert not unsorted.has_sorted_indices
    assert fingerprint(unsorted) == expected


def test_given_sparse_when_value_dtype_or_shape_changes_then_fingerprint_changes() -> None:
    base = sp.csr_matrix(DENSE)
    changed = DENSE.copy()
    changed[2, 2] = 1e-300
    variants = [
        sp.csr_matrix(changed),
        sp.csr_matrix(DENSE.astype(np.float32)),
        sp.csr_matrix(np.vstack([DENSE, np.zeros((1, 4))])),
        sp.csr_matrix(DENSE.T),
    ]
    assert len({fingerprint(m) for m in [base, *variants]}) == len(variants) + 1
    assert fingerprint(base) != fingerprint(DENSE)  # sparse and dense are different objects


def test_given_one_dimensional_sparse_array_when_coords_unsorted_then_canonical() -> None:
    ordered = sp.coo_array((np.array([1.0, 2.0]), (np.array([1, 4]),)), shape=(6,))
    shuffled = sp.coo_array((np.array([2.0, 1.0]), (np.array([4, 1]),)), shape=(6,))
    assert fingerprint(shuffled) == fingerprint(ordered)
    assert fingerprint(sp.coo_array(np.array([0, 1.0, 0, 0, 2.0, 0]))) == fingerprint(ordered)


# --------------------------------------------------------------------------- kinds


def kinds_examples(tmp_path: Path) -> dict[str, Any]:
    mapped = memmap_copy(np.arange(3), tmp_path / "k.dat")
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    return {
        "dataframe": pd.DataFrame({"a": [1, 2, 3]}),
        "series": pd.Series([1, 2, 3]),
        "ndarray": np.zeros((3, 2)),
        "memmap": mapped,
        "pyarrow.table": table,
        "pyarrow.recordbatch": table.to_batches()[0],
        "pyarrow.int64array": pa.array([1, 2, 3]),
        "pyarrow.chunkedarray": pa.chunked_array([[1], [2, 3]]),
        "polars.dataframe": pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}),
        "polars.series": pl.Series("a", [1, 2, 3]),
        "scipy.csr_matrix": sp.csr_matrix(np.eye(3)),
        "scipy.coo_array": sp.coo_array(np.eye(3)),
    }


def test_given_datasets_of_each_library_when_asked_then_kind_shape_and_size_are_known(
    tmp_path: Path,
) -> None:
    shapes = {
        "pyarrow.table": [3, 2],
        "pyarrow.recordbatch": [3, 2],
        "pyarrow.int64array": [3],
        "pyarrow.chunkedarray": [3],
        "polars.dataframe": [3, 2],
        "polars.series": [3],
        "ndarray": [3, 2],
        "scipy.csr_matrix": [3, 3],
    }
    for kind, obj in kinds_examples(tmp_path).items():
        assert is_fingerprintable(obj), kind
        assert dataset_kind(obj) == kind
        assert shape_of(obj) == shapes.get(kind, shape_of(obj)) and shape_of(obj), kind
        assert nbytes_of(obj) >= 24, kind
    assert nbytes_of(pa.array(np.arange(1000, dtype=np.int64))) == 8000


def test_given_other_values_when_asked_then_not_datasets() -> None:
    for other in (pd.Index([1]), "data.csv", b"x", 3, None, [1], {"a": 1}):
        assert not is_fingerprintable(other), other
        assert dataset_kind(other) is None
    with pytest.raises(LazyDataError):
        dataset_kind(pl.DataFrame({"a": [1]}).lazy())


NO_IMPORT_SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    sys.path.insert(0, sys.argv[1])
    import numpy as np, pandas as pd
    import jupyter_mlops as mlops
    from jupyter_mlops import data
    from jupyter_mlops.tracking.snapshot import fingerprint_names
    frame = pd.DataFrame({"a": [1.0, 2.0], "s": ["x", None], "o": [[1], None]})
    ns = {"frame": frame, "arr": np.arange(3), "n": 3, "text": "x"}
    fingerprint_names(ns, set(ns), [])
    for obj in ns.values():
        data.is_fingerprintable(obj), data.nbytes_of(obj), data.shape_of(obj)
    data.profile_frame(frame), data.column_schema(frame), data.dataset_kind(frame)
    with tempfile.TemporaryDirectory() as home:
        client = mlops.Client(home)
        client.describe_dataset(frame, "frame")
        client.close()
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("polars", "scipy"))))
    """
)


def test_given_no_polars_or_scipy_data_when_fingerprinting_then_neither_is_imported() -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_IMPORT_SCRIPT, str(REPO)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


# --------------------------------------------------------------------------- client & %%track


def test_given_library_datasets_when_logged_then_versions_have_kind_shape_schema_and_profile(
    client: Any, tmp_path: Path
) -> None:
    examples = kinds_examples(tmp_path)
    with mlops.start_run():
        for kind in ("polars.dataframe", "pyarrow.table", "scipy.csr_matrix", "memmap"):
            version = mlops.log_dataset(examples[kind], name=kind.replace(".", "-"))
            assert version.kind == kind
            assert version.fingerprint == fingerprint(examples[kind])
            assert version.shape == shape_of(examples[kind])
            assert version.schema and version.profile is not None, kind
            assert version.profile["rows"] == shape_of(examples[kind])[0]
    table = client.get_dataset("pyarrow-table@1")
    assert table.schema == [{"name": "a", "dtype": "int64"}, {"name": "b", "dtype": "string"}]


def test_given_lazy_frame_when_logged_then_clear_invalid_input(client: Any) -> None:
    with mlops.start_run(), pytest.raises(InvalidInput, match=r"collect\(\)"):
        mlops.log_dataset(pl.DataFrame({"a": [1]}).lazy(), name="lazy")


def test_given_namespace_with_library_data_when_snapshotted_then_data_kept_lazy_noted(
    tmp_path: Path,
) -> None:
    examples = kinds_examples(tmp_path)
    ns = {
        "table": examples["pyarrow.table"],
        "frame": examples["polars.dataframe"],
        "mapped": examples["memmap"],
        "matrix": examples["scipy.csr_matrix"],
        "lazy": pl.DataFrame({"a": [1]}).lazy(),
        "n": 3,
    }
    notes: list[str] = []
    seen = fingerprint_names(ns, set(ns), notes)
    again = fingerprint_names(ns, set(ns), notes)  # after the cell: one note, not two
    assert sorted(seen) == ["frame", "mapped", "matrix", "table"]
    assert {name: s.fingerprint for name, s in seen.items()} == {
        name: s.fingerprint for name, s in again.items()
    }
    assert seen["mapped"].shape == [3] and seen["table"].schema[1]["name"] == "b"
    assert len(notes) == 1 and "'lazy'" in notes[0] and ".collect()" in notes[0]


def test_given_unhashable_data_when_snapshotted_then_left_out_with_a_note() -> None:
    deep: list[Any] = []
    for _ in range(200):
        deep = [deep]
    cells = np.empty(1, dtype=object)
    cells[0] = deep
    notes: list[str] = []
    assert fingerprint_names({"deep": pd.Series(cells)}, {"deep"}, notes) == {}
    assert len(notes) == 1 and "'deep'" in notes[0] and "nested" in notes[0]
