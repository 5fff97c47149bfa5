"""Tests for jupyter_mlops.data.fingerprint."""

from __future__ import annotations

import gc
import importlib
import itertools
import json
import os
import re
import sqlite3
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jupyter_mlops.data import fingerprint

# The package re-exports the function under the module's name; reach the module itself.
fp_module = importlib.import_module("jupyter_mlops.data.frames")
# Files and folders, with their caches, live in their own module: patch them there.
files_module = importlib.import_module("jupyter_mlops.data.files")
file_fingerprint = fp_module.file_fingerprint
set_file_cache_path = fp_module.set_file_cache_path

FORMAT = re.compile(r"^xxh3-128:[0-9a-f]{32}$")
REPO = Path(__file__).resolve().parents[1]
OLD_NS = 1_600_000_000 * 10**9  # an mtime safely outside the "racy" window


@pytest.fixture(autouse=True)
def _isolated_file_caches() -> Any:
    files_module._MEMORY_CACHE.clear()
    set_file_cache_path(None)
    yield
    set_file_cache_path(None)
    files_module._MEMORY_CACHE.clear()


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "f": [1.5, np.nan, -0.25, 1e300],
            "i": np.array([1, 2, 3, 4], dtype=np.int64),
            "s": pd.Series(["a", None, "None", "é\u2603"], dtype="str"),
            "o": pd.Series([1, "1", None, b"x"], dtype=object),
            "n": pd.array([1, None, 3, 4], dtype="Int64"),
            "b": pd.array([True, None, False, True], dtype="boolean"),
            "c": pd.Categorical(["x", "y", "x", None]),
            "t": pd.date_range("2021-03-01", periods=4, freq="h", tz="Europe/Paris"),
            "d": pd.to_datetime(["2020-01-01", "NaT", "2020-01-03", "2020-01-04"]),
            "td": pd.to_timedelta([1, 2, None, 4], unit="s"),
        },
        index=pd.Index(["w", "x", "y", "z"], name="key"),
    )


def write_file(path: Path, data: bytes, mtime_ns: int = OLD_NS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


# --------------------------------------------------------------------------- format & stability


def test_given_supported_objects_when_fingerprinted_then_format_is_prefixed_lowercase_hex(
    tmp_path: Path,
) -> None:
    file = write_file(tmp_path / "a.bin", b"abc")
    objects = [
        sample_frame(),
        sample_frame()["f"],
        sample_frame().index,
        np.arange(3),
        b"abc",
        bytearray(b"abc"),
        memoryview(b"abc"),
        file,
        str(file),
        tmp_path,
    ]
    for obj in objects:
        assert FORMAT.match(fingerprint(obj)), type(obj)


def test_given_known_bytes_when_fingerprinted_then_value_matches_frozen_scheme() -> None:
    # Fingerprints are persisted (runs, lineage, file caches): a change of value must come
    # with a bump of _SCHEME, never by accident.
    assert fingerprint(b"abc") == "xxh3-128:9219fcb7a435312ecbfd4c128e28257e"
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})  # "b": Arrow-backed str
    assert fingerprint(frame) == "xxh3-128:17377c54edff3cd37e72ed1774c0cfce"
    objects = frame.astype({"b": object})
    assert fingerprint(objects) == "xxh3-128:812293f84af96d13f0bad48e17bfb23e"
    cells = np.empty(3, dtype=object)
    cells[:] = [np.arange(3), {"k": (1, 2.5)}, "z"]
    assert fingerprint(pd.Series(cells, name="cells")) == (
        "xxh3-128:a9955cdbe90a76f45ecea81e655316c7"
    )


STABILITY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, pandas as pd
    sys.path.insert(0, sys.argv[1])
    from jupyter_mlops.data import fingerprint
    from tests.test_fingerprint import sample_frame
    frame = sample_frame()
    mi = pd.MultiIndex.from_arrays([["b", "a", "b"], [2, 1, 1]], names=["k1", None])
    objects = {
        "frame": frame,
        "series": frame["s"],
        "multi": pd.Series([1.0, 2.0, 3.0], index=mi, name=("x", 1)),
        "array": np.arange(12, dtype=np.float32).reshape(3, 4),
        "objects": np.array(["a", None, 3, 2.5, (1, "b")], dtype=object),
        "bytes": b"hello",
    }
    print(json.dumps({k: fingerprint(v) for k, v in objects.items()}))
    """
)


def run_python(code: str, *args: str, seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return done.stdout


def test_given_same_objects_when_fingerprinted_in_processes_with_other_hash_seeds_then_equal() -> (
    None
):
    first = json.loads(run_python(STABILITY_SCRIPT, str(REPO), seed="1"))
    second = json.loads(run_python(STABILITY_SCRIPT, str(REPO), seed="987654"))
    assert first == second
    assert len(set(first.values())) == len(first)


# --------------------------------------------------------------------------- sensitivity


def test_given_frame_when_one_float_changes_then_fingerprint_changes() -> None:
    frame = sample_frame()
    changed = frame.copy()
    changed.loc["x", "f"] = 2.0  # NaN -> value
    assert fingerprint(changed) != fingerprint(frame)
    changed = frame.copy()
    changed.loc["w", "f"] = np.nextafter(1.5, 2.0)
    assert fingerprint(changed) != fingerprint(frame)


def test_given_frame_when_one_value_changes_to_nan_then_fingerprint_changes() -> None:
    frame = sample_frame()
    changed = frame.copy()
    changed.loc["w", "f"] = np.nan
    assert fingerprint(changed) != fingerprint(frame)


def test_given_frame_when_one_int_changes_then_fingerprint_changes() -> None:
    frame = sample_frame()
    changed = frame.copy()
    changed.loc["z", "i"] = 5
    assert fingerprint(changed) != fingerprint(frame)


def test_given_frame_when_one_string_changes_then_fingerprint_changes() -> None:
    frame = sample_frame()
    for new in ["b", "", "None", "nan", "a "]:
        changed = frame.copy()
        changed.loc["w", "s"] = new
        assert fingerprint(changed) != fingerprint(frame), new


@pytest.mark.parametrize("dtype", ["str", pd.StringDtype("python"), object])
def test_given_string_column_when_missing_vs_literal_none_or_nan_then_fingerprints_differ(
    dtype: Any,
) -> None:
    variants = [
        ["a", None],
        ["a", "None"],
        ["a", "nan"],
        ["a", "<NA>"],
        ["a", ""],
        ["aN", "one"],
        ["", "aNone"],
        ["a\x00", "b"],
        ["a", "\x00b"],
        ["a\x00b"],
    ]
    prints = {fingerprint(pd.Series(v, dtype=dtype)) for v in variants}
    assert len(prints) == len(variants)


def test_given_lone_surrogate_when_python_or_object_strings_then_hashed_and_distinct() -> None:
    # Arrow cannot hold a lone surrogate (not UTF-8); the python-backed dtype can.
    for dtype in (pd.StringDtype("python"), object):
        prints = {fingerprint(pd.Series(v, dtype=dtype)) for v in (["\ud800"], ["\ud801"], [""])}
        assert len(prints) == 3


def test_given_objects_of_other_types_when_values_look_alike_then_fingerprints_differ() -> None:
    objects = [[None], ["None"], [float("nan")], ["nan"], [1], ["1"], [1.0], [True], [b"1"]]
    prints = {fingerprint(np.array(v, dtype=object)) for v in objects[:2] + objects[3:]}
    assert len(prints) == len(objects) - 1


def test_given_object_column_when_missing_markers_differ_then_fingerprint_is_the_same() -> None:
    # None, NaN and pd.NA are all "missing" to pandas, hence to the fingerprint.
    markers = [None, float("nan"), pd.NA]
    prints = {fingerprint(pd.Series(["a", m, "b"], dtype=object)) for m in markers}
    assert len(prints) == 1


def test_given_frame_when_column_renamed_then_fingerprint_changes() -> None:
    frame = sample_frame()
    assert fingerprint(frame.rename(columns={"f": "g"})) != fingerprint(frame)


def test_given_frame_when_int64_becomes_int32_then_fingerprint_changes() -> None:
    frame = sample_frame()
    assert fingerprint(frame.astype({"i": np.int32})) != fingerprint(frame)


def test_given_frame_when_columns_reordered_then_fingerprint_changes() -> None:
    frame = sample_frame()
    columns = list(frame.columns)
    assert fingerprint(frame[columns[::-1]]) != fingerprint(frame)
    swapped = frame[["i", "f", *columns[2:]]]
    assert fingerprint(swapped) != fingerprint(frame)


def test_given_frame_when_index_changes_then_fingerprint_changes() -> None:
    frame = sample_frame()
    base = fingerprint(frame)
    assert fingerprint(frame.set_axis(["w", "x", "y", "q"])) != base
    assert fingerprint(frame.rename_axis("other")) != base
    assert fingerprint(frame.reset_index(drop=True)) != base
    ranged = frame.reset_index(drop=True)
    assert fingerprint(ranged.set_axis(pd.RangeIndex(1, 5))) != fingerprint(ranged)


def test_given_series_when_name_changes_then_fingerprint_changes() -> None:
    series = pd.Series([1.0, 2.0], name="a")
    assert fingerprint(series.rename("b")) != fingerprint(series)
    assert fingerprint(series.rename(None)) != fingerprint(series)
    assert fingerprint(series.rename(1)) != fingerprint(series.rename("1"))


def test_given_categorical_when_categories_or_order_flag_change_then_fingerprint_changes() -> None:
    base = pd.Series(pd.Categorical(["a", "b"], categories=["a", "b"]))
    more = pd.Series(pd.Categorical(["a", "b"], categories=["a", "b", "c"]))
    ordered = pd.Series(pd.Categorical(["a", "b"], categories=["a", "b"], ordered=True))
    assert len({fingerprint(base), fingerprint(more), fingerprint(ordered)}) == 3


def test_given_datetimes_when_tz_or_unit_changes_then_fingerprint_changes() -> None:
    naive = pd.Series(pd.date_range("2020", periods=3, freq="D"))
    utc = naive.dt.tz_localize("UTC")
    paris = utc.dt.tz_convert("Europe/Paris")
    seconds = naive.astype("datetime64[s]")
    assert len({fingerprint(s) for s in (naive, utc, paris, seconds)}) == 4


def test_given_arrays_when_shape_or_dtype_or_value_changes_then_fingerprint_changes() -> None:
    arr = np.arange(12, dtype=np.int64)
    variants = [
        arr,
        arr.reshape(3, 4),
        arr.reshape(4, 3),
        arr.astype(np.int32),
        arr.astype(np.float64),
        np.where(arr == 5, 50, arr),
    ]
    assert len({fingerprint(v) for v in variants}) == len(variants)


@pytest.mark.parametrize(
    ("values", "changed"),
    [
        (
            pd.period_range("2020-01", periods=3, freq="M"),
            pd.period_range("2020-02", periods=3, freq="M"),
        ),
        (
            pd.period_range("2020-01", periods=3, freq="M"),
            pd.period_range("2020-01", periods=3, freq="D"),
        ),
        (pd.interval_range(0, 3), pd.interval_range(0, 3, closed="left")),
        (pd.arrays.SparseArray([0, 0, 1]), pd.arrays.SparseArray([0, 1, 1])),
        (pd.array(["a", None], dtype="string"), pd.array(["a", "b"], dtype="string")),
        (pd.to_timedelta([1, 2], unit="s"), pd.to_timedelta([1, 3], unit="s")),
        (np.array([b"ab", b"c"]), np.array([b"ab", b"d"])),
        (np.array(["ab", "c"]), np.array(["ab", "cd"])),
    ],
)
def test_given_other_dtypes_when_values_change_then_fingerprint_changes(
    values: Any, changed: Any
) -> None:
    series = pd.Series(values)
    assert fingerprint(series) == fingerprint(series.copy())
    assert fingerprint(series) != fingerprint(pd.Series(changed))


# --------------------------------------------------------------------------- equal content


def test_given_equal_frames_built_differently_when_fingerprinted_then_equal() -> None:
    rng = np.random.default_rng(7)
    block = rng.standard_normal((300, 6))
    names = [f"c{i}" for i in range(6)]
    reference = pd.DataFrame(block, columns=names)
    variants = [
        pd.DataFrame({name: block[:, i].copy() for i, name in enumerate(names)}),
        pd.DataFrame(block, columns=names, copy=False),  # strided columns (F-ordered block)
        pd.DataFrame(np.asfortranarray(block), columns=names, copy=False),
        reference.copy(),
        pd.concat([reference.iloc[:100], reference.iloc[100:]]),  # int64 index, not Range
        pd.concat([reference[names[:3]], reference[names[3:]]], axis=1),
        pd.DataFrame(block[::-1][::-1], columns=names, copy=False),
        reference.T.T,
    ]
    expected = fingerprint(reference)
    for variant in variants:
        pd.testing.assert_frame_equal(variant, reference)
        assert fingerprint(variant) == expected


def test_given_mixed_dtype_frame_when_rebuilt_or_copied_then_fingerprint_is_equal() -> None:
    frame = sample_frame()
    rebuilt = pd.DataFrame({name: frame[name].copy() for name in frame.columns})
    assert fingerprint(frame.copy()) == fingerprint(frame) == fingerprint(rebuilt)
    assert fingerprint(frame["s"].astype(object)) == fingerprint(frame["s"].astype(object).copy())


def test_given_strided_block_when_hashed_then_fast_path_equals_per_column_path() -> None:
    block = np.arange(5 * 7, dtype=np.float64).reshape(5, 7)
    frame = pd.DataFrame(block, copy=False)
    fast = fp_module._strided_block_digests(frame)
    assert sorted(fast) == list(range(7))
    for position, (_, column) in enumerate(frame.items()):
        assert fast[position] == fp_module._values_digest(np.ascontiguousarray(column))


def test_given_masked_array_when_hidden_values_differ_then_fingerprint_is_equal() -> None:
    first = pd.array([1, 2, 3], dtype="Int64")
    second = pd.array([1, 2, 3], dtype="Int64")
    first[1] = pd.NA
    hidden: Any = second
    hidden._data[1] = 12345  # garbage under the mask
    second[1] = pd.NA
    assert hidden._data[1] == 12345
    assert fingerprint(pd.Series(first)) == fingerprint(pd.Series(second))


def test_given_multiindex_with_differently_ordered_levels_when_equal_then_fingerprint_equal() -> (
    None
):
    explicit = pd.MultiIndex(levels=[["b", "a", "unused"], [2, 1]], codes=[[0, 1], [1, 0]])
    inferred = pd.MultiIndex.from_arrays([["b", "a"], [1, 2]])
    assert explicit.equals(inferred)
    assert fingerprint(explicit) == fingerprint(inferred)
    assert fingerprint(inferred) != fingerprint(pd.MultiIndex.from_arrays([["b", "a"], [2, 1]]))


def test_given_range_index_when_same_values_as_int64_index_then_fingerprint_equal() -> None:
    assert fingerprint(pd.RangeIndex(0, 10, 3)) == fingerprint(pd.Index([0, 3, 6, 9]))
    assert fingerprint(pd.RangeIndex(5, 5)) == fingerprint(pd.RangeIndex(0, 0))
    assert fingerprint(pd.RangeIndex(0, 10, 3)) != fingerprint(pd.Index([0, 3, 6, 10]))


def test_given_non_contiguous_array_when_fingerprinted_then_equals_contiguous_copy() -> None:
    arr = np.arange(60, dtype=np.int16).reshape(6, 10)
    assert fingerprint(arr[:, ::2]) == fingerprint(np.ascontiguousarray(arr[:, ::2]))
    assert fingerprint(np.asfortranarray(arr)) == fingerprint(arr)


@st.composite
def st_frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 8))
    floats = draw(st.lists(st.floats(allow_nan=True), min_size=n, max_size=n))
    ints = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n))
    texts = draw(st.lists(st.none() | st.text(max_size=5), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "f": np.array(floats, dtype=np.float64),
            "i": np.array(ints, dtype=np.int64),
            "s": pd.Series(texts, dtype="str"),
        }
    )


def bitwise_equal(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    if left.shape != right.shape:
        return False
    for name in ("f", "i"):
        if left[name].to_numpy().tobytes() != right[name].to_numpy().tobytes():
            return False
    return left["s"].isna().tolist() == right["s"].isna().tolist() and (
        left["s"].fillna("").tolist() == right["s"].fillna("").tolist()
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=st_frames())
def test_given_generated_frame_when_rebuilt_from_records_then_fingerprint_equal(
    frame: pd.DataFrame,
) -> None:
    rebuilt = pd.DataFrame(
        {
            "f": frame["f"].to_numpy().copy(),
            "i": frame["i"].to_list(),
            "s": pd.Series(frame["s"].to_list(), dtype="str"),
        }
    )
    rebuilt["i"] = rebuilt["i"].astype(np.int64)
    assert fingerprint(rebuilt) == fingerprint(frame)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(left=st_frames(), right=st_frames())
def test_given_two_generated_frames_when_contents_differ_then_fingerprints_differ(
    left: pd.DataFrame, right: pd.DataFrame
) -> None:
    same = bitwise_equal(left, right)
    assert (fingerprint(left) == fingerprint(right)) == same


@settings(max_examples=60, deadline=None)
@given(
    frame=st_frames().filter(lambda f: len(f) > 0),
    row=st.integers(0, 7),
    column=st.sampled_from(["f", "i", "s"]),
    new=st.data(),
)
def test_given_generated_frame_when_one_cell_changes_then_fingerprint_changes(
    frame: pd.DataFrame, row: int, column: str, new: st.DataObject
) -> None:
    row %= len(frame)
    changed = frame.copy()
    old = frame[column].iloc[row]
    if column == "f":
        value: Any = new.draw(st.floats(allow_nan=True))
        assume(struct.pack("<d", value) != struct.pack("<d", old))
    elif column == "i":
        value = new.draw(st.integers(-(2**63), 2**63 - 1))
        assume(value != old)
    else:
        value = new.draw(st.none() | st.text(max_size=5))
        assume(not (pd.isna(value) and pd.isna(old)) and value != old)
    changed.iloc[row, list(changed.columns).index(column)] = value
    assert fingerprint(changed) != fingerprint(frame)


# --------------------------------------------------------------------------- unsupported


@pytest.mark.parametrize("obj", [object(), 42, 1.5, {"a": 1}, [1, 2], None])
def test_given_unsupported_object_when_fingerprinted_then_type_error_names_type(obj: Any) -> None:
    with pytest.raises(TypeError, match=re.escape(type(obj).__qualname__)):
        fingerprint(obj)


def test_given_missing_path_when_fingerprinted_then_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fingerprint(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError):
        fingerprint(str(tmp_path / "nope.csv"))


def test_given_kinds_when_asked_if_fingerprintable_then_only_in_memory_datasets() -> None:
    assert fp_module.is_fingerprintable(sample_frame())
    assert fp_module.is_fingerprintable(sample_frame()["f"])
    assert fp_module.is_fingerprintable(np.zeros(2))
    for other in ("data.csv", b"x", 3, None, [1]):
        assert not fp_module.is_fingerprintable(other)


def test_given_objects_when_sized_then_nbytes_is_approximate_memory(tmp_path: Path) -> None:
    arr = np.zeros((10, 4))
    assert fp_module.nbytes_of(arr) == 320
    assert fp_module.nbytes_of(pd.DataFrame(arr)) >= 320
    assert fp_module.nbytes_of(b"abcd") == 4
    write_file(tmp_path / "d" / "a", b"12345")
    write_file(tmp_path / "d" / "sub" / "b", b"678")
    assert fp_module.nbytes_of(tmp_path / "d" / "a") == 5
    assert fp_module.nbytes_of(tmp_path / "d") == 8


# --------------------------------------------------------------------------- files


def test_given_same_bytes_at_two_paths_when_fingerprinted_then_equal(tmp_path: Path) -> None:
    first = write_file(tmp_path / "a.csv", b"x,y\n1,2\n")
    second = write_file(tmp_path / "other" / "b.txt", b"x,y\n1,2\n")
    third = write_file(tmp_path / "c.csv", b"x,y\n1,3\n")
    assert fingerprint(first) == fingerprint(str(second)) == file_fingerprint(second)
    assert fingerprint(third) != fingerprint(first)
    assert fingerprint(first) != fingerprint(b"x,y\n1,2\n")


def test_given_large_file_when_fingerprinted_then_chunked_read_matches_small_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = np.random.default_rng(1).bytes(3 * 1024 + 17)
    file = write_file(tmp_path / "big.bin", data)
    expected = file_fingerprint(file, cache=False)
    monkeypatch.setattr(files_module, "_FILE_CHUNK_BYTES", 1000)
    assert file_fingerprint(file, cache=False) == expected


class ReadSpy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._real = files_module._read_file_digest
        monkeypatch.setattr(files_module, "_read_file_digest", self)

    def __call__(self, path: str) -> bytes:
        self.calls += 1
        return self._real(path)


def test_given_unchanged_file_when_fingerprinted_twice_then_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = write_file(tmp_path / "a.bin", b"content")
    spy = ReadSpy(monkeypatch)
    first = fingerprint(file)
    second = fingerprint(file)
    assert first == second
    assert spy.calls == 1
    assert fingerprint(file, cache=False) == first
    assert spy.calls == 2


def test_given_cached_file_when_mtime_or_size_changes_then_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = write_file(tmp_path / "a.bin", b"content")
    spy = ReadSpy(monkeypatch)
    original = fingerprint(file)
    write_file(file, b"CONTENT", mtime_ns=OLD_NS + 1)  # same size, new mtime
    assert fingerprint(file) != original
    assert spy.calls == 2
    write_file(file, b"CONTENT!", mtime_ns=OLD_NS + 1)  # same mtime, new size
    assert fingerprint(file) != original
    assert spy.calls == 3


def test_given_recently_modified_file_when_fingerprinted_then_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A same-size rewrite within one mtime tick would be invisible to the cache key.
    file = tmp_path / "fresh.bin"
    file.write_bytes(b"fresh")
    spy = ReadSpy(monkeypatch)
    fingerprint(file)
    fingerprint(file)
    assert spy.calls == 2


CACHE_SCRIPT = textwrap.dedent(
    """
    import importlib, sys
    sys.path.insert(0, sys.argv[1])
    fp = importlib.import_module("jupyter_mlops.data.frames")
    fp.set_file_cache_path(sys.argv[2])
    if sys.argv[4] == "forbid-read":
        def refuse(path):
            raise AssertionError("file was read despite the persistent cache")
        importlib.import_module("jupyter_mlops.data.files")._read_file_digest = refuse
    print(fp.fingerprint(sys.argv[3]))
    """
)


def test_given_persistent_cache_when_other_process_asks_then_file_is_not_read(
    tmp_path: Path,
) -> None:
    file = write_file(tmp_path / "data.bin", b"persist me")
    db = tmp_path / "cache" / "fingerprints.db"
    written = run_python(CACHE_SCRIPT, str(REPO), str(db), str(file), "read", seed="3")
    reused = run_python(CACHE_SCRIPT, str(REPO), str(db), str(file), "forbid-read", seed="4")
    assert written == reused
    assert written.strip() == fingerprint(file)


def test_given_persistent_cache_when_file_changes_then_stale_entry_is_not_used(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fingerprints.db"
    file = write_file(tmp_path / "data.bin", b"one")
    set_file_cache_path(db)
    before = fingerprint(file)
    files_module._MEMORY_CACHE.clear()
    write_file(file, b"two", mtime_ns=OLD_NS + 5)
    assert fingerprint(file) != before


def test_given_unwritable_cache_path_when_fingerprinting_then_errors_are_ignored(
    tmp_path: Path,
) -> None:
    blocker = write_file(tmp_path / "not-a-dir", b"")
    set_file_cache_path(blocker / "cache.db")
    file = write_file(tmp_path / "data.bin", b"still works")
    assert FORMAT.match(fingerprint(file))


def make_tree(root: Path) -> Path:
    write_file(root / "a.csv", b"1,2\n")
    write_file(root / "sub" / "b.bin", b"\x00\x01")
    write_file(root / "sub" / "deeper" / "c.txt", b"hello")
    return root


def test_given_two_folders_with_same_content_when_fingerprinted_then_equal(
    tmp_path: Path,
) -> None:
    assert fingerprint(make_tree(tmp_path / "x")) == fingerprint(str(make_tree(tmp_path / "y")))


def test_given_folder_when_file_renamed_or_changed_or_added_then_fingerprint_changes(
    tmp_path: Path,
) -> None:
    root = make_tree(tmp_path / "x")
    prints = {fingerprint(root)}
    (root / "sub" / "b.bin").rename(root / "sub" / "b2.bin")
    prints.add(fingerprint(root))
    write_file(root / "a.csv", b"1,3\n", mtime_ns=OLD_NS + 1)
    prints.add(fingerprint(root))
    write_file(root / "sub" / "new", b"")
    prints.add(fingerprint(root))
    assert len(prints) == 4


def test_given_folder_with_symlink_to_folder_when_fingerprinted_then_link_not_followed(
    tmp_path: Path,
) -> None:
    root = make_tree(tmp_path / "x")
    outside = make_tree(tmp_path / "outside")
    before = fingerprint(root)
    (root / "linked").symlink_to(outside, target_is_directory=True)
    assert fingerprint(root) == before
    (root / "file-link").symlink_to(outside / "a.csv")
    assert fingerprint(root) != before


CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import importlib, sys
    sys.path.insert(0, sys.argv[1])
    fp = importlib.import_module("jupyter_mlops.data.frames")
    fp.set_file_cache_path(sys.argv[2])
    print(" ".join(fp.fingerprint(path) for path in sys.argv[3:]))
    """
)


def test_given_processes_sharing_a_persistent_cache_when_run_together_then_all_agree(
    tmp_path: Path,
) -> None:
    files = [str(write_file(tmp_path / f"f{i}.bin", bytes([i]) * 1000)) for i in range(20)]
    db = str(tmp_path / "shared.db")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_SCRIPT, str(REPO), db, *files],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), [err for _, err in outputs]
    expected = " ".join(fingerprint(path) for path in files)
    assert {out.strip() for out, _ in outputs} == {expected}


def test_given_cache_written_by_an_older_scheme_when_file_fingerprinted_then_not_used(
    tmp_path: Path,
) -> None:
    # A scheme bump changes every value: an entry cached under the old scheme must not be
    # returned for the same (unchanged) file.
    file = write_file(tmp_path / "data.bin", b"same bytes")
    db = tmp_path / "fingerprints.db"
    real = os.path.realpath(file)
    st_ = os.stat(real)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE file_fingerprints_v1 (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
            "mtime_ns INTEGER NOT NULL, ino TEXT NOT NULL, fingerprint TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO file_fingerprints_v1 VALUES (?, ?, ?, ?, ?)",
            (real, st_.st_size, st_.st_mtime_ns, str(st_.st_ino), "xxh3-128:" + "0" * 32),
        )
    set_file_cache_path(db)
    assert fingerprint(file) != "xxh3-128:" + "0" * 32


# --------------------------------------------------------------------------- object cells

objects_module = importlib.import_module("jupyter_mlops.data.objects")


def cells(*values: Any) -> pd.Series:
    """An object Series holding ``values`` as they are (lists and arrays stay cells)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return pd.Series(out, name="vec")


def test_given_array_cells_when_middle_of_one_changes_in_place_then_fingerprint_changes() -> None:
    # repr() of a 1000-element array elides its middle: hashing by repr missed this.
    frame = pd.DataFrame({"vec": cells(*(np.arange(1000.0) for _ in range(3)))})
    before = fingerprint(frame)
    for v in frame["vec"]:
        v[200:300] = 0
    assert fingerprint(frame) != before


@pytest.mark.parametrize(
    "make",
    [
        lambda i: np.full(4, i, dtype=np.float32),  # one dtype and shape: stacked in blocks
        lambda i: np.arange(i % 3 + 1, dtype=np.int64) + i,  # shapes vary: cell by cell
        lambda i: np.array([f"2020-01-{i % 28 + 1:02d}"], dtype="M8[D]"),
    ],
)
def test_given_column_of_array_cells_when_any_one_element_changes_then_detected(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(objects_module, "_STACK_BYTES", 16)  # several blocks
    column = cells(*(make(i) for i in range(40)))
    before = fingerprint(column)
    assert fingerprint(cells(*(make(i) for i in range(40)))) == before
    for row in (0, 17, 39):
        changed = cells(*(make(i) for i in range(40)))
        changed.iloc[row][-1] += 1
        assert fingerprint(changed) != before, row


def test_given_array_cells_when_dtype_or_shape_differs_then_fingerprints_differ() -> None:
    base = np.arange(6, dtype=np.int64)
    variants = [base, base.astype(np.int32), base.reshape(2, 3), base.reshape(3, 2), base[:5]]
    prints = {fingerprint(cells(v, "x")) for v in variants}
    assert len(prints) == len(variants)


def memmap_copy(values: np.ndarray, path: Path) -> np.memmap:
    """A file-backed copy of ``values``."""
    mapped = np.memmap(path, dtype=values.dtype, mode="w+", shape=values.shape)
    mapped[:] = values
    return mapped


def test_given_memmap_or_strided_array_cell_when_equal_values_then_same_as_plain_array(
    tmp_path: Path,
) -> None:
    values = np.arange(12, dtype=np.float64).reshape(3, 4)
    mapped = memmap_copy(values, tmp_path / "m.dat")
    fortran = np.asfortranarray(values)
    expected = fingerprint(cells(values, 1))
    assert fingerprint(cells(mapped, 1)) == expected
    assert fingerprint(cells(fortran, 1)) == expected


def test_given_dicts_and_sets_when_built_in_another_order_then_fingerprint_is_equal() -> None:
    first = cells({"a": 1, "b": [1, 2]}, {3, 1, 2}, frozenset({"x", "y"}))
    second = cells({"b": [1, 2], "a": 1}, {2, 3, 1}, frozenset({"y", "x"}))
    assert fingerprint(first) == fingerprint(second)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ([1, 2], (1, 2)),  # list vs tuple
        ([1, 2], [2, 1]),  # order of a list matters
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"b": 1}),
        ({1, 2}, frozenset({1, 2})),
        ([1], [1.0]),
        ([True], [1]),
        ([None], [float("nan")]),  # inside a container, None and NaN are different values
        ([0.0], [-0.0]),
        ([2**70], [2**70 + 1]),
        ([10**5000], [10**5000 + 1]),  # beyond str()'s digit limit
        (["a", "b"], ["a,b"]),
        ([b"a"], ["a"]),
        ([[1, [2]]], [[1, [3]]]),
        ([np.int64(1)], [np.int32(1)]),
        ([np.float64(1.5)], [1.5]),
    ],
)
def test_given_cells_differing_in_type_or_value_when_fingerprinted_then_differ(
    left: Any, right: Any
) -> None:
    assert fingerprint(cells(left, "k")) != fingerprint(cells(right, "k"))


def test_given_str_subclass_cells_when_same_text_then_fingerprint_is_equal() -> None:
    assert fingerprint(cells(np.str_("ab"), 1)) == fingerprint(cells("ab", 1))


def test_given_cyclic_containers_when_fingerprinted_then_finite_and_content_based() -> None:
    first: list[Any] = [1]
    first.append(first)
    second: list[Any] = [1]
    second.append(second)
    other: list[Any] = [2]
    other.append(other)
    assert fingerprint(cells(first)) == fingerprint(cells(second))
    assert fingerprint(cells(first)) != fingerprint(cells(other))


def test_given_nesting_deeper_than_the_limit_when_fingerprinted_then_value_error() -> None:
    deep: list[Any] = []
    for _ in range(objects_module.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than"):
        fingerprint(cells(deep))


class Opaque:
    """A type with a repr that shows its content, as the fallback needs."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Opaque({self.value})"


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_given_other_objects_when_fingerprinted_then_type_and_repr_are_hashed() -> None:
    assert fingerprint(cells(Opaque(1))) == fingerprint(cells(Opaque(1)))
    assert fingerprint(cells(Opaque(1))) != fingerprint(cells(Opaque(2)))
    assert fingerprint(cells(Opaque(1))) != fingerprint(cells("Opaque(1)"))
    with pytest.raises(TypeError, match="Broken"):
        fingerprint(cells(Broken()))


def test_given_long_string_column_when_joined_in_chunks_then_same_as_in_one_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = pd.Series([f"row{i}" * (i % 4) for i in range(1000)], dtype=object)
    whole = fingerprint(texts)
    monkeypatch.setattr(objects_module, "_JOIN_ROWS", 7)
    assert fingerprint(texts) == whole


# --------------------------------------------------------------------------- property tests

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=4)
    | st.binary(max_size=3)
)
small_arrays = st.lists(st.integers(0, 5), max_size=6).flatmap(
    lambda xs: st.sampled_from([np.int64, np.float32, np.uint8]).map(
        lambda dtype: np.array(xs, dtype=dtype)
    )
)
cell_values = st.recursive(
    scalars | small_arrays,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)


def canonical(value: Any, top: bool = False) -> Any:
    """An independent notion of "same content", hashable: the oracle for the properties."""
    if top and (value is None or (isinstance(value, float) and np.isnan(value))):
        return ("missing",)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, dict):
        return ("dict", frozenset((canonical(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(canonical(v) for v in value))
    return (type(value).__name__, value)


def rebuilt(value: Any) -> Any:
    """A deep copy built anew: dicts in reverse insertion order, arrays strided."""
    if isinstance(value, np.ndarray):
        return np.repeat(value, 2)[::2]  # a strided view with the same values
    if isinstance(value, dict):
        return {k: rebuilt(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [rebuilt(v) for v in value]
    if isinstance(value, tuple):
        return tuple(rebuilt(v) for v in value)
    return value


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(cell_values, max_size=6))
def test_given_object_column_when_rebuilt_with_equal_content_then_fingerprint_equal(
    values: list[Any],
) -> None:
    assert fingerprint(cells(*values)) == fingerprint(cells(*[rebuilt(v) for v in values]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(cell_values, min_size=1, max_size=6), row=st.integers(0, 5), new=st.data())
def test_given_object_column_when_one_cell_changes_then_fingerprint_changes(
    values: list[Any], row: int, new: st.DataObject
) -> None:
    row %= len(values)
    replacement = new.draw(cell_values)
    assume(canonical(replacement, top=True) != canonical(values[row], top=True))
    changed = [*values[:row], replacement, *values[row + 1 :]]
    assert fingerprint(cells(*changed)) != fingerprint(cells(*values))


STRING_DTYPES = {
    "object": object,
    "python": pd.StringDtype("python"),
    "str (Arrow)": "str",
    "string (Arrow)": pd.StringDtype("pyarrow"),
}
texts = st.lists(st.none() | st.text(max_size=6), max_size=12)


def arrow_strings(values: list[str | None], cuts: list[int]) -> pd.Series:
    """The same strings as an Arrow-backed Series split into chunks at ``cuts``."""
    bounds = sorted({0, len(values), *(c % (len(values) + 1) for c in cuts)})
    chunks = [values[a:b] for a, b in itertools.pairwise(bounds)]
    chunked = pa.chunked_array(chunks or [[]], type=pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(chunked))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=texts,
    cuts=st.lists(st.integers(0, 12), max_size=4),
    kind=st.sampled_from(list(STRING_DTYPES)),
)
def test_given_string_column_when_copied_sliced_or_chunked_then_fingerprint_equal(
    values: list[str | None], cuts: list[int], kind: str
) -> None:
    dtype = STRING_DTYPES[kind]
    series = pd.Series(values, dtype=dtype)
    padded = pd.Series(["pad", *values, "pad"], dtype=dtype).iloc[1:-1].reset_index(drop=True)
    assert fingerprint(series.copy()) == fingerprint(series)
    assert fingerprint(padded) == fingerprint(series)
    if kind == "string (Arrow)":
        assert fingerprint(arrow_strings(values, cuts)) == fingerprint(series)
    if kind == "python":  # the two storages of the "string" dtype hash alike
        assert fingerprint(pd.Series(values, dtype=pd.StringDtype("pyarrow"))) == (
            fingerprint(series)
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=texts.filter(bool),
    row=st.integers(0, 11),
    new=st.none() | st.text(max_size=6),
    kind=st.sampled_from(list(STRING_DTYPES)),
)
def test_given_string_column_when_one_row_changes_then_fingerprint_changes(
    values: list[str | None], row: int, new: str | None, kind: str
) -> None:
    row %= len(values)
    assume(new != values[row])
    changed = [*values[:row], new, *values[row + 1 :]]
    dtype = STRING_DTYPES[kind]
    assert fingerprint(pd.Series(changed, dtype=dtype)) != fingerprint(
        pd.Series(values, dtype=dtype)
    )


# --------------------------------------------------------------------------- identity cache

arrow_module = importlib.import_module("jupyter_mlops.data.arrow")


@pytest.fixture
def empty_identity_cache() -> Any:
    arrow_module.IDENTITY_CACHE.clear()
    yield arrow_module.IDENTITY_CACHE
    arrow_module.IDENTITY_CACHE.clear()


class FeedSpy:
    """Counts the string chunks hashed from their Arrow buffers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        original = arrow_module._Binary.feed

        def feed(hasher: Any, chunk: Any, mask: Any) -> None:
            self.rows += len(chunk)
            original(hasher, chunk, mask)

        monkeypatch.setattr(arrow_module._Binary, "feed", feed)


def mixed_frame(rows: int = 1000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "s": pd.Series([f"user{i}" for i in range(rows)], dtype="str"),
            "f": np.arange(rows, dtype=np.float64),
            "vec": cells(*(np.arange(5.0) for _ in range(rows))),
        }
    )


def test_given_arrow_column_fingerprinted_when_fingerprinted_again_then_not_rehashed(
    monkeypatch: pytest.MonkeyPatch, empty_identity_cache: Any
) -> None:
    frame = mixed_frame()
    first = fingerprint(frame)
    spy = FeedSpy(monkeypatch)
    assert fingerprint(frame) == first
    assert fingerprint(frame.copy()) == first  # a copy shares the immutable Arrow data
    assert spy.rows == 0


def test_given_cached_fingerprint_when_numpy_column_changes_in_place_then_detected(
    empty_identity_cache: Any,
) -> None:
    values = np.arange(1000, dtype=np.float64)
    frame = pd.DataFrame({"s": mixed_frame()["s"], "f": values}, copy=False)
    before = fingerprint(frame)
    values[500] = -1.0  # through the array the frame shares
    assert frame["f"].iloc[500] == -1.0
    assert fingerprint(frame) != before


def test_given_cached_fingerprint_when_object_cell_changes_in_place_then_detected(
    empty_identity_cache: Any,
) -> None:
    frame = mixed_frame()
    before = fingerprint(frame)
    frame["vec"].iloc[10][2] = 99.0
    assert fingerprint(frame) != before


def test_given_cached_fingerprint_when_arrow_column_replaced_then_detected_and_correct(
    empty_identity_cache: Any,
) -> None:
    frame = mixed_frame()
    before = fingerprint(frame)
    frame.loc[3, "s"] = "changed"
    after = fingerprint(frame)
    assert after != before
    empty_identity_cache.clear()
    assert fingerprint(frame) == after  # what was cached is what hashing gives


def test_given_arrow_numbers_sharing_numpy_memory_when_changed_then_detected(
    empty_identity_cache: Any,
) -> None:
    # pyarrow wraps a numpy buffer without copying: such columns must never be cached.
    values = np.arange(100, dtype=np.int64)
    column = pa.array(values)
    before = fingerprint(column)
    values[7] = -7
    assert column[7].as_py() == -7
    assert fingerprint(column) != before


def test_given_cached_arrow_column_when_object_dies_then_entry_goes(
    empty_identity_cache: Any,
) -> None:
    column = pa.chunked_array([["a", "b"], ["c"]])
    fingerprint(column)
    assert len(empty_identity_cache) == 1
    del column
    gc.collect()
    assert len(empty_identity_cache) == 0


def test_given_full_identity_cache_when_more_added_then_oldest_goes() -> None:
    cache = arrow_module.IdentityCache(2)
    columns = [pa.array([str(i)]) for i in range(3)]
    for i, column in enumerate(columns):
        cache.put(column, i)
    assert len(cache) == 2
    assert [cache.get(c) for c in columns] == [None, 1, 2]


def test_given_entry_under_a_reused_id_when_looked_up_then_not_returned() -> None:
    # An id can be reused once its object is gone: the entry must name the very object.
    cache = arrow_module.IdentityCache(4)
    first, second = pa.array(["a"]), pa.array(["b"])
    cache.put(first, b"digest of first")
    cache._entries[id(second)] = cache._entries[id(first)]  # as if second got first's id
    assert cache.get(second) is None
    assert cache.get(first) == b"digest of first"


# A string column's digest, found again by the str objects it holds ---------------------------


def test_given_an_object_column_of_str_when_hashed_again_then_the_cache_answers_and_edits_show():
    from jupyter_mlops.data.objects import STR_ROWS

    STR_ROWS.clear()
    words = np.array([f"user_{i}@example.com" for i in range(500)], dtype=object)
    df = pd.DataFrame({"email": pd.Series(words[np.arange(5000) % 500], dtype=object)})
    first = fingerprint(df)
    assert len(STR_ROWS) == 1
    assert fingerprint(df) == first  # found again (same objects, row for row)
    assert fingerprint(df.copy()) == first  # a copy holds the same str objects
    df.loc[7, "email"] = None  # the old str may be freed here...
    df.loc[7, "email"] = "user_" + "x@example.com"  # ...and its address reused here
    changed = fingerprint(df)
    assert changed != first
    df.loc[7, "email"] = words[7 % 500]
    assert fingerprint(df) == first  # the same text in other objects: the same digest


def test_given_a_cached_string_column_when_its_array_dies_then_the_entry_goes():
    from jupyter_mlops.data.objects import STR_ROWS

    STR_ROWS.clear()
    arr = np.array([f"row {i}" for i in range(1000)], dtype=object)
    fingerprint(arr)
    assert len(STR_ROWS) == 1
    del arr
    gc.collect()
    assert len(STR_ROWS) == 0  # nothing kept alive for a deleted frame


@given(
    st.lists(st.text(max_size=8), min_size=1, max_size=40),
    st.integers(min_value=0, max_value=39),
    st.text(max_size=8),
)
def test_property_an_edited_str_row_is_seen_after_a_cached_fingerprint(rows, at, text):
    arr = np.array(rows, dtype=object)
    before = fingerprint(arr)
    assert fingerprint(arr) == before
    at %= len(rows)
    arr[at] = None
    arr[at] = text
    expected = fingerprint(np.array([*rows[:at], text, *rows[at + 1 :]], dtype=object))
    assert fingerprint(arr) == expected
    assert (fingerprint(arr) == before) == (rows[at] == text)


def test_given_a_python_backed_string_series_when_hashed_again_then_cached_and_edits_show():
    from jupyter_mlops.data.objects import STR_ROWS

    STR_ROWS.clear()
    series = pd.Series([f"v{i % 7}" for i in range(2000)], dtype=pd.StringDtype("python"))
    series[3] = pd.NA
    first = fingerprint(series)
    assert len(STR_ROWS) == 1 and fingerprint(series) == first
    assert first == fingerprint(series.astype("str").astype(pd.StringDtype("python")))
    series[5] = "changed"
    assert fingerprint(series) != first
