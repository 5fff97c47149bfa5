"""Which in-memory datasets the package knows, told apart without importing any library.

An object of a library's type can only exist once that library is imported, so each check
looks the library up in ``sys.modules`` and never imports it: asking whether an ``int`` is
a polars frame does not import polars (or scipy, pandas, pyarrow, numpy). Subclasses count
(``numpy.memmap`` is an ndarray).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Final

from ..exceptions import InvalidInput
from .files import size_or_zero, walk_files

__all__ = [
    "DATASET_KINDS",
    "LazyDataError",
    "dataset_kind",
    "is_fingerprintable",
    "kind_of",
    "nbytes_of",
    "not_materialized",
    "shape_of",
]

PANDAS_FRAME: Final = "pandas.DataFrame"
PANDAS_SERIES: Final = "pandas.Series"
PANDAS_INDEX: Final = "pandas.Index"
NUMPY_ARRAY: Final = "numpy.ndarray"
ARROW_TABLE: Final = "pyarrow.Table"
ARROW_BATCH: Final = "pyarrow.RecordBatch"
ARROW_ARRAY: Final = "pyarrow.Array"
ARROW_CHUNKED: Final = "pyarrow.ChunkedArray"
POLARS_FRAME: Final = "polars.DataFrame"
POLARS_SERIES: Final = "polars.Series"
POLARS_LAZY: Final = "polars.LazyFrame"
SCIPY_SPARSE: Final = "scipy.sparse"

# What %%track records and log_dataset accepts (an Index is fingerprinted, but is not a
# dataset by itself; a LazyFrame is a query, refused with LazyDataError).
DATASET_KINDS: Final = frozenset(
    {
        PANDAS_FRAME,
        PANDAS_SERIES,
        NUMPY_ARRAY,
        ARROW_TABLE,
        ARROW_BATCH,
        ARROW_ARRAY,
        ARROW_CHUNKED,
        POLARS_FRAME,
        POLARS_SERIES,
        SCIPY_SPARSE,
    }
)


class LazyDataError(InvalidInput, TypeError):
    """The object is a lazy query (a polars LazyFrame), not data: collect it first.

    A ``TypeError`` for callers of :func:`~jupyter_mlops.data.fingerprint`, and an
    ``InvalidInput`` so that the Client's callers get a clear error.
    """

    code = "LAZY_DATA"


# The classes looked for, most common first: (module, class names). A kind is named
# "module.Class".
_CLASSES: Final = (
    ("numpy", ("ndarray",)),
    ("pandas", ("DataFrame", "Series", "Index")),
    ("pyarrow", ("Table", "RecordBatch", "Array", "ChunkedArray")),
    ("polars", ("DataFrame", "Series", "LazyFrame")),
)


def kind_of(obj: object) -> str | None:
    """The kind of dataset ``obj`` is (one of the constants above), or None."""
    for module_name, class_names in _CLASSES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for class_name in class_names:
            # getattr with a default: a module half-imported, or a stand-in of that name.
            kind = getattr(module, class_name, None)
            if isinstance(kind, type) and isinstance(obj, kind):
                return f"{module_name}.{class_name}"
    sparse = sys.modules.get("scipy.sparse")
    issparse = getattr(sparse, "issparse", None)
    if issparse is not None and issparse(obj):
        return SCIPY_SPARSE
    return None


def not_materialized(obj: object) -> str | None:
    """Why ``obj`` cannot be fingerprinted because it is a lazy query, or None if it is not.

    ``%%track`` uses it to say, in a note, which variable it left out and how to fix it.
    """
    if kind_of(obj) == POLARS_LAZY:
        return (
            "call .collect() first: a polars LazyFrame is a query, not data "
            "(df = lazy.collect() gives the DataFrame to fingerprint or log)"
        )
    return None


def check_materialized(obj: object) -> None:
    """Raises :class:`LazyDataError` if ``obj`` is a lazy query."""
    message = not_materialized(obj)
    if message is not None:
        raise LazyDataError(message[0].upper() + message[1:] + ".")


def is_fingerprintable(obj: object) -> bool:
    """Whether ``obj`` is an in-memory dataset: a pandas DataFrame or Series, a numpy array
    (memmap included), a pyarrow Table, RecordBatch, Array or ChunkedArray, a polars
    DataFrame or Series, or a scipy sparse matrix or array.

    Paths are deliberately excluded: they are fingerprinted too, but a ``str`` is not a
    dataset by itself. A polars LazyFrame is not data (see :func:`not_materialized`).
    """
    return kind_of(obj) in DATASET_KINDS


def dataset_kind(obj: object) -> str | None:
    """The ``kind`` a dataset version records for ``obj``, or None if it is not a dataset.

    pandas and numpy keep the names they always had (``dataframe``, ``series``,
    ``ndarray``; a memmap is ``memmap``); the others are prefixed by their library
    (``polars.dataframe``, ``pyarrow.table``, ``scipy.csr_matrix``).

    Raises:
        LazyDataError: ``obj`` is a polars LazyFrame.
    """
    check_materialized(obj)
    kind = kind_of(obj)
    if kind not in DATASET_KINDS:
        return None
    name = type(obj).__name__.lower()
    if kind in (PANDAS_FRAME, PANDAS_SERIES, NUMPY_ARRAY):
        return name
    return kind.split(".")[0] + "." + name


def shape_of(obj: object) -> list[int] | None:
    """Rows (and columns) of a dataset, as ``obj.shape`` says; a 1-D Arrow array: [length]."""
    kind = kind_of(obj)
    if kind is None or kind == POLARS_LAZY:
        return None
    if kind == ARROW_BATCH:
        batch: Any = obj
        return [int(batch.num_rows), int(batch.num_columns)]
    shape = getattr(obj, "shape", None)
    if shape is None:  # pyarrow Array and ChunkedArray
        return [len(obj)]  # type: ignore[arg-type]
    return [int(n) for n in shape]


def _sparse_nbytes(matrix: Any) -> int:
    total = 0
    for name in ("data", "indices", "indptr", "offsets", "row", "col"):
        part = getattr(matrix, name, None)
        total += int(getattr(part, "nbytes", 0))
    return total or sys.getsizeof(matrix)  # dok and lil hold Python containers


def nbytes_of(obj: object) -> int:
    """Approximate size in bytes of what :func:`~jupyter_mlops.data.fingerprint` would read.

    Object/string columns of pandas count their pointers only (no per-row sizing), Arrow
    data its buffers, files their size on disk and folders the total size of their files.
    """
    kind = kind_of(obj)
    data: Any = obj
    if kind == PANDAS_FRAME:
        return int(data.memory_usage(index=True, deep=False).sum())
    if kind == PANDAS_SERIES:
        return int(data.memory_usage(index=True, deep=False))
    if kind == PANDAS_INDEX:
        return int(data.memory_usage(deep=False))
    if kind in (NUMPY_ARRAY, ARROW_TABLE, ARROW_BATCH, ARROW_ARRAY, ARROW_CHUNKED):
        return int(data.nbytes)
    if kind in (POLARS_FRAME, POLARS_SERIES):
        return int(data.estimated_size())
    if kind == SCIPY_SPARSE:
        return _sparse_nbytes(data)
    if isinstance(obj, bytes | bytearray | memoryview):
        return memoryview(obj).nbytes
    if isinstance(obj, str | os.PathLike):
        text = os.fsdecode(os.fspath(obj))
        if not os.path.isdir(text):
            return size_or_zero(text)
        try:
            return sum(size_or_zero(full) for _, full in walk_files(text))
        except OSError:
            return 0
    return sys.getsizeof(obj)
