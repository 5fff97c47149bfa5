"""Content fingerprints for datasets: frames, arrays, byte strings, files and folders.

A fingerprint is ``"xxh3-128:" + 32 lowercase hex digits``. It depends only on content,
never on memory layout, object identity, the path of a file or the Python hash seed, so it
can be compared across processes and machines of the same endianness.

Design notes:

* Every value goes through a length-prefixed stream (:class:`Stream`, in
  :mod:`jupyter_mlops.data.hashing`), so the boundary between two fields can never be
  shifted to make different inputs collide.
* Each DataFrame column is hashed into its own 16-byte digest and the frame hashes those
  digests. This is what makes the result independent of pandas' block layout: a column
  that lives as a strided row of a 2-D block and one that owns its buffer feed exactly
  the same bytes into their own hasher.
* Numeric buffers are fed to xxh3 as-is (no copy when contiguous), which runs at memory
  bandwidth. The value is therefore bit-exact: ``-0.0`` and ``0.0``, or two NaN payloads,
  are different values here.
* Arrow-backed columns (pandas 3's default ``str`` dtype, ``ArrowDtype``) are hashed from
  their Arrow buffers by :mod:`jupyter_mlops.data.arrow`; python-backed string columns
  are converted to Arrow first, so a ``string`` column hashes alike on either storage.
  Object columns and the objects in their cells are hashed by content by
  :mod:`jupyter_mlops.data.objects`. No per-row Python code runs for strings.
* pyarrow tables and arrays, polars frames and scipy sparse matrices are accepted too
  (:mod:`jupyter_mlops.data.kinds` tells them apart without importing their library).
* Files and folders are hashed, and cached, by :mod:`jupyter_mlops.data.files`, which
  does not import pandas; :func:`file_fingerprint` and :func:`set_file_cache_path` are
  re-exported here.
"""

from __future__ import annotations

import os
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from . import arrow, kinds
from .files import file_fingerprint, path_fingerprint, set_file_cache_path
from .hashing import U64, Stream, format_digest
from .kinds import is_fingerprintable, nbytes_of
from .objects import STR_ROWS, ndarray_digest, write_numpy, write_objects
from .sparse import sparse_digest

__all__ = [
    "file_fingerprint",
    "fingerprint",
    "is_fingerprintable",
    "nbytes_of",
    "set_file_cache_path",
]

# Measured: transposing ~1 MiB tiles (cache-sized) is about twice as fast as copying
# whole strided columns.
_TRANSPOSE_CHUNK_BYTES: Final = 1 << 20
_MIN_TILE_ROWS: Final = 512
_MAX_TILE_BYTES: Final = 32 << 20

_SUPPORTED = (
    "a pandas DataFrame, Series or Index, a numpy array, a pyarrow Table, RecordBatch, Array "
    "or ChunkedArray, a polars DataFrame or Series, a scipy sparse matrix or array, bytes, "
    "bytearray, memoryview, or a str/os.PathLike path to an existing file or folder"
)


# --------------------------------------------------------------------------- labels


def _encode_label(label: object) -> bytes:
    """Encodes a column/index label or a name unambiguously and deterministically.

    Numpy scalars encode like the equivalent Python scalars because pandas hands out
    either depending on how the labels were built.
    """
    if label is None:
        return b"N"
    if isinstance(label, bool | np.bool_):
        return b"b1" if label else b"b0"
    if isinstance(label, int | np.integer):
        return b"i" + str(int(label)).encode("ascii")
    if isinstance(label, float | np.floating):
        return b"f" + repr(float(label)).encode("ascii")
    if isinstance(label, str):
        return b"s" + label.encode("utf-8", "surrogatepass")
    if isinstance(label, bytes):
        return b"y" + label
    if isinstance(label, tuple):
        parts = [_encode_label(part) for part in label]
        return b"t" + b"".join(U64.pack(len(part)) + part for part in parts)
    kind = type(label)
    text = f"{kind.__module__}.{kind.__qualname__}:{label!r}"
    return b"o" + text.encode("utf-8", "surrogatepass")


# --------------------------------------------------------------------------- values


_MASKED_ARRAYS = (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)


def _write_values(stream: Stream, values: Any) -> None:
    """Hashes the values of one column/index/series (ndarray or ExtensionArray)."""
    if isinstance(values, pd.arrays.NumpyExtensionArray) and not isinstance(
        values.dtype, pd.StringDtype
    ):
        # The wrapper `.array` returns for numpy dtypes: hash the ndarray it holds, as for
        # an ndarray column (its dtype is a NumpyEADtype, not an np.dtype).
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        write_numpy(stream, values)
        return
    backing = getattr(values, "_pa_array", None)  # ArrowStringArray, ArrowExtensionArray
    if isinstance(backing, pa.ChunkedArray):
        stream.text("arrow")
        stream.field(arrow.column_digest(backing))
        return
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        stream.text("categorical")
        stream.integer(bool(dtype.ordered))
        stream.field(_index_digest(dtype.categories))
        stream.array(np.asarray(values.codes))
    elif isinstance(dtype, pd.DatetimeTZDtype):
        stream.text("datetimetz")
        stream.text(str(dtype.unit))
        stream.text(str(dtype.tz))
        stream.array(np.asarray(values.asi8))
    elif isinstance(values, _MASKED_ARRAYS):
        masked: Any = values  # _data/_mask are not in the public stubs
        data: np.ndarray = masked._data
        mask: np.ndarray = masked._mask
        if mask.any():
            # Slots under the mask hold arbitrary leftovers; zero them so equal arrays match.
            data = np.where(mask, np.zeros((), dtype=data.dtype), data)
        stream.text("masked")
        stream.text(data.dtype.str)
        stream.array(mask)
        stream.array(data)
    elif isinstance(dtype, np.dtype):  # DatetimeArray, TimedeltaArray
        write_numpy(stream, np.asarray(values))
    elif isinstance(dtype, pd.StringDtype):  # python-backed: a no-copy object array view
        texts = np.asarray(values, dtype=object)
        digest = STR_ROWS.digest(texts, arrow.python_strings_digest)
        if digest is not None:  # as the Arrow-backed array of the same strings hashes
            stream.text("arrow")
            stream.field(digest)
        else:  # not UTF-8 (a lone surrogate): Arrow could not hold it either
            stream.text("string")
            write_objects(stream, texts)
    elif isinstance(dtype, pd.PeriodDtype):
        stream.text("period")
        stream.text(str(dtype))
        stream.array(np.asarray(values.asi8))
    elif isinstance(dtype, pd.IntervalDtype):
        stream.text("interval")
        stream.text(str(values.closed))
        stream.field(_values_digest(values.left.array))
        stream.field(_values_digest(values.right.array))
    elif isinstance(dtype, pd.SparseDtype):
        _write_values(stream, np.asarray(values))
    else:
        stream.text(f"extension:{dtype}")
        write_objects(stream, np.asarray(values, dtype=object))


def _values_digest(values: Any) -> bytes:
    stream = Stream("values")
    _write_values(stream, values)
    return stream.digest()


# --------------------------------------------------------------------------- indexes


def _range_params(index: pd.Index) -> tuple[int, int, int] | None:
    """(first, length, step) if ``index`` is an int64 arithmetic progression.

    A RangeIndex and a materialised int64 Index with the same values compare equal in
    pandas (``check_index_type="equiv"``), so both hash identically; the RangeIndex case
    costs O(1).
    """
    if isinstance(index, pd.RangeIndex):
        first, length, step = index.start, len(index), index.step
    elif isinstance(index.dtype, np.dtype) and index.dtype == np.int64:
        values = np.asarray(index)
        length = len(values)
        first = int(values[0]) if length else 0
        step = int(values[1]) - first if length >= 2 else 1
        if length >= 2:
            if step == 0 or not -(2**63) <= step < 2**63:
                return None
            if int(values[-1]) != first + step * (length - 1):
                return None
            if not bool((np.diff(values) == step).all()):
                return None
    else:
        return None
    if length <= 1:
        step = 1
        first = first if length else 0
    return first, length, step


def _canonical_level(level: pd.Index, codes: np.ndarray) -> tuple[pd.Index, np.ndarray]:
    """Sorts a MultiIndex level (remapping codes) so level order does not matter."""
    if len(level) == 0 or level.is_monotonic_increasing:
        return level, codes
    try:
        order = np.asarray(level.argsort())
    except TypeError:  # unorderable mixed labels: keep the order we were given
        return level, codes
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return level.take(order), np.where(codes >= 0, rank[codes], -1)


def _index_digest(index: pd.Index) -> bytes:
    stream = Stream("index")
    stream.integer(index.nlevels)
    for name in index.names:
        stream.field(_encode_label(name))
    if isinstance(index, pd.MultiIndex):
        stream.text("multi")
        trimmed = index.remove_unused_levels()
        for level, codes in zip(trimmed.levels, trimmed.codes, strict=True):
            level, level_codes = _canonical_level(level, np.asarray(codes, dtype=np.int64))
            stream.field(_index_digest(level))
            stream.array(np.asarray(level_codes, dtype="<i8"))
        return stream.digest()
    stream.text(str(index.dtype))
    params = _range_params(index)
    if params is not None:
        stream.text("range")
        for value in params:
            stream.integer(value)
    else:
        stream.text("values")
        stream.field(_values_digest(index.array))
    return stream.digest()


# --------------------------------------------------------------------------- frames


def _row_major_column_digests(table: np.ndarray) -> list[bytes]:
    """Per-column digests of a C-contiguous (rows, columns) numeric table.

    Produces exactly what :func:`_values_digest` gives for each column, but transposes
    cache-sized tiles instead of copying each strided column separately.
    """
    n_rows, n_cols = table.shape
    dtype = table.dtype
    streams = []
    for _ in range(n_cols):
        stream = Stream("values")
        stream.text("numpy")
        stream.text(dtype.str)
        stream.begin_bytes(n_rows * dtype.itemsize)
        streams.append(stream)
    row_bytes = n_cols * dtype.itemsize
    # Cache-sized tiles, but never so few rows that per-tile Python overhead dominates
    # (wide tables), nor a tile so large that it costs real memory (very wide tables).
    rows = max(
        1, _TRANSPOSE_CHUNK_BYTES // row_bytes, min(_MIN_TILE_ROWS, _MAX_TILE_BYTES // row_bytes)
    )
    tile = np.empty((n_cols, rows), dtype=dtype)
    for start in range(0, n_rows, rows):
        part = table[start : start + rows]
        dest = tile[:, : len(part)]
        np.copyto(dest, part.T)
        for stream, column in zip(streams, dest, strict=True):
            stream.raw(column)
    return [stream.digest() for stream in streams]


def _strided_block_digests(df: pd.DataFrame) -> dict[int, bytes]:
    """Digests of columns stored as strided rows of F-ordered 2-D blocks, by position.

    This is the layout of ``DataFrame(c_order_array, copy=False)``. It peeks at pandas
    internals, so anything unexpected just returns fewer digests and the public
    per-column path hashes the rest (same values either way).
    """
    found: dict[int, bytes] = {}
    try:
        blocks = df._mgr.blocks
        for block in blocks:
            values = block.values
            if not (
                isinstance(values, np.ndarray)
                and values.ndim == 2
                and values.shape[0] > 1
                and values.dtype.kind in "biufc"
                and values.flags.f_contiguous
                and not values.flags.c_contiguous
            ):
                continue
            positions = np.asarray(block.mgr_locs.as_array).tolist()
            if len(positions) != values.shape[0]:
                continue
            found.update(zip(positions, _row_major_column_digests(values.T), strict=True))
    except (AttributeError, TypeError, ValueError):
        return {}
    return found


def _frame_digest(df: pd.DataFrame) -> bytes:
    stream = Stream("DataFrame")
    n_rows, n_cols = df.shape
    stream.integer(n_rows)
    stream.integer(n_cols)
    stream.integer(df.columns.nlevels)
    for name in df.columns.names:
        stream.field(_encode_label(name))
    for label in df.columns:
        stream.field(_encode_label(label))
    for dtype in df.dtypes:
        stream.text(str(dtype))
    stream.field(_index_digest(df.index))
    precomputed = _strided_block_digests(df)
    for position, (_, column) in enumerate(df.items()):
        digest = precomputed.get(position)
        stream.field(digest if digest is not None else _values_digest(column.array))
    return stream.digest()


def _series_digest(series: pd.Series) -> bytes:
    stream = Stream("Series")
    stream.field(_encode_label(series.name))
    stream.text(str(series.dtype))
    stream.field(_index_digest(series.index))
    stream.field(_values_digest(series.array))
    return stream.digest()


def _bytes_digest(data: bytes | bytearray | memoryview) -> bytes:
    view = memoryview(data)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    stream = Stream("bytes")
    stream.begin_bytes(view.nbytes)
    stream.raw(view.cast("B"))
    return stream.digest()


def _polars_series_digest(series: Any) -> bytes:
    stream = Stream("polars.Series")
    stream.text(series.name)
    stream.field(arrow.column_digest(series.to_arrow(), cache=False))
    return stream.digest()


# --------------------------------------------------------------------------- public


def fingerprint(obj: object, *, cache: bool = True) -> str:
    """Returns a content fingerprint ``"xxh3-128:<32 hex>"`` of a dataset.

    Equal content gives equal fingerprints however it was built (DataFrame from a dict or
    from a 2-D array, copied, consolidated, sliced, chunked); changing any value, a column
    name, a dtype, the column order, the index or a Series name changes it. Values are
    compared bit for bit, so ``-0.0`` differs from ``0.0``. Object cells are hashed by
    content (see :mod:`jupyter_mlops.data.objects` for the rules and the ``repr``
    fallback's limits).

    pyarrow Tables and RecordBatches and polars DataFrames with the same column names and
    values hash alike (polars holds Arrow data), as do Arrow arrays and chunked arrays;
    ``string``, ``large_string`` and ``string_view`` are one type here. A polars Series
    adds its name. A scipy sparse matrix hashes its canonical form, whatever its format.

    Args:
        obj: A pandas DataFrame, Series or Index; a numpy array (memmap included); a
            pyarrow Table, RecordBatch, Array or ChunkedArray; a polars DataFrame or
            Series; a scipy sparse matrix or array; a bytes-like object; or a ``str`` /
            ``os.PathLike`` naming an existing file or folder. A folder hashes the
            relative POSIX path and content of every file below it, sorted by path;
            symlinks to folders are not followed.
        cache: For files and folders, whether cached file fingerprints may be used.
            (Digests of immutable Arrow columns are always reused by object identity.)

    Returns:
        ``"xxh3-128:"`` followed by 32 lowercase hex digits.

    Raises:
        LazyDataError: ``obj`` is a polars LazyFrame (a ``TypeError``): collect it first.
        TypeError: ``obj`` is of an unsupported type.
        ValueError: an object cell is nested too deep.
        FileNotFoundError: ``obj`` is a path that does not exist.
    """
    kind = kinds.kind_of(obj)
    data: Any = obj
    digest: bytes
    if kind == kinds.PANDAS_FRAME:
        digest = _frame_digest(data)
    elif kind == kinds.PANDAS_SERIES:
        digest = _series_digest(data)
    elif kind == kinds.PANDAS_INDEX:
        stream = Stream("Index")
        stream.field(_index_digest(data))
        digest = stream.digest()
    elif kind == kinds.NUMPY_ARRAY:
        digest = ndarray_digest(data)
    elif kind in (kinds.ARROW_TABLE, kinds.ARROW_BATCH):
        digest = arrow.table_digest(data)
    elif kind in (kinds.ARROW_ARRAY, kinds.ARROW_CHUNKED):
        digest = arrow.array_digest(data)
    elif kind == kinds.POLARS_FRAME:
        digest = arrow.table_digest(data.to_arrow())
    elif kind == kinds.POLARS_SERIES:
        digest = _polars_series_digest(data)
    elif kind == kinds.SCIPY_SPARSE:
        digest = sparse_digest(data)
    elif isinstance(obj, bytes | bytearray | memoryview):
        digest = _bytes_digest(obj)
    elif isinstance(obj, str | os.PathLike):
        return path_fingerprint(obj, cache=cache)
    else:
        kinds.check_materialized(obj)
        raise TypeError(f"cannot fingerprint {type(obj).__qualname__!r}; supported: {_SUPPORTED}")
    return format_digest(digest)
