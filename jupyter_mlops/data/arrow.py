"""Content digests of Arrow data, read straight from the Arrow buffers.

Used for pyarrow tables, record batches, arrays and chunked arrays, for polars frames (via
``to_arrow()``, which does not copy) and for the Arrow-backed columns of pandas (pandas 3's
default string dtype among them).

A column is fed chunk by chunk into running streams, so its digest does not depend on how it
is chunked or sliced, nor on the physical variant of its type:

* nulls: their row positions (int64), so whatever the slots under a null hold never matters;
* fixed-width values (numbers, dates, decimals...): each row's bytes, zeroed under nulls;
  booleans one byte per row;
* strings and binaries: row lengths (int64) and the data bytes between the first and the last
  offset, so ``string``, ``large_string`` and ``string_view`` (cast first) hash alike;
* lists (any variant, maps as lists of key/value structs): lengths, then the child column;
  structs: their field names, then each field's column;
* dictionary-encoded and run-end-encoded columns are decoded (content, not encoding);
  extension types hash their storage under their name; anything else (unions) goes through
  ``to_pylist()`` and :mod:`jupyter_mlops.data.objects`.

No Python code runs per row except in that last fallback.

Digests of immutable Arrow objects are kept in :data:`IDENTITY_CACHE` (see
:func:`column_digest`), so fingerprinting the same frame twice, before and after a
``%%track`` cell that only reads it, hashes its string columns once.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .hashing import Stream
from .objects import write_objects

__all__ = [
    "IDENTITY_CACHE",
    "IdentityCache",
    "array_digest",
    "column_digest",
    "python_strings_digest",
    "table_digest",
]

_IDENTITY_CACHE_SIZE: Final = 4096


class IdentityCache:
    """Values computed from immutable objects, found again by the object's identity.

    An entry holds a weak reference, never the object: it goes when the object dies, before
    its id can be reused, and it never keeps a large array alive. At most ``size`` entries;
    the oldest goes first.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[int, tuple[weakref.ref[Any], Any]] = {}
        self._lock = threading.Lock()

    def get(self, obj: object) -> Any:
        entry = self._entries.get(id(obj))
        if entry is not None and entry[0]() is obj:
            return entry[1]
        return None

    def put(self, obj: object, value: Any) -> None:
        key = id(obj)
        entries = self._entries

        def forget(ref: weakref.ref[Any]) -> None:
            entry = entries.get(key)
            if entry is not None and entry[0] is ref:
                entries.pop(key, None)

        try:
            ref = weakref.ref(obj, forget)
        except TypeError:  # no weak references to this type: not cached
            return
        with self._lock:
            while len(entries) >= self._size:
                try:
                    oldest = next(iter(entries))
                except (StopIteration, RuntimeError):  # emptied meanwhile by forget()
                    break
                entries.pop(oldest, None)
            entries[key] = (ref, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


IDENTITY_CACHE: Final = IdentityCache(_IDENTITY_CACHE_SIZE)

_STRING_TYPES: Final = (pa.types.is_string, pa.types.is_large_string)
_BINARY_TYPES: Final = (pa.types.is_binary, pa.types.is_large_binary)
_LIST_TYPES: Final = (
    pa.types.is_list,
    pa.types.is_large_list,
    pa.types.is_list_view,
    pa.types.is_large_list_view,
)


def _is_any(kind: pa.DataType, tests: tuple[Callable[[pa.DataType], bool], ...]) -> bool:
    return any(test(kind) for test in tests)


# --------------------------------------------------------------------------- column hashers


class _Column:
    """Digest of one column of a given Arrow type, fed chunk by chunk."""

    def __init__(self, name: str) -> None:
        self.name = name  # the logical type, as hashed
        self.rows = 0
        self.nulls = Stream("nulls")

    def update(self, chunk: pa.Array) -> None:
        mask = None
        if chunk.null_count:
            mask = np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            self.nulls.raw((np.flatnonzero(mask) + self.rows).astype("<i8"))
        if len(chunk):
            self.feed(chunk, mask)
        self.rows += len(chunk)

    def feed(self, chunk: pa.Array, mask: np.ndarray | None) -> None:
        """Hashes the values of a non-empty chunk; ``mask`` marks its nulls (None: no null)."""

    def parts(self) -> Iterator[bytes]:
        return iter(())

    def digest(self) -> bytes:
        stream = Stream("arrow")
        stream.text(self.name)
        stream.integer(self.rows)
        stream.field(self.nulls.digest())
        for part in self.parts():
            stream.field(part)
        return stream.digest()


class _Fixed(_Column):
    def __init__(self, name: str, width: int) -> None:
        super().__init__(name)
        self.width = width
        self.data = Stream("fixed")

    def feed(self, chunk: pa.Array, mask: np.ndarray | None) -> None:
        width = self.width
        values = np.frombuffer(
            chunk.buffers()[1],
            dtype=np.uint8,
            count=len(chunk) * width,
            offset=chunk.offset * width,
        )
        if mask is not None:  # slots under a null hold anything: zero them
            values = values.reshape(-1, width).copy()
            values[mask] = 0
        self.data.raw(values)

    def parts(self) -> Iterator[bytes]:
        yield self.data.digest()


class _Bool(_Column):
    def __init__(self) -> None:
        super().__init__("bool")
        self.data = Stream("bool")

    def feed(self, chunk: pa.Array, mask: np.ndarray | None) -> None:
        values = pc.fill_null(chunk, False).to_numpy(zero_copy_only=False)
        self.data.raw(np.ascontiguousarray(values, dtype=np.bool_).view(np.uint8))

    def parts(self) -> Iterator[bytes]:
        yield self.data.digest()


class _Binary(_Column):
    """string / large_string (``utf8``) or binary / large_binary (``binary``)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.lengths = Stream("lengths")
        self.blob = Stream("blob")

    def feed(self, chunk: pa.Array, mask: np.ndarray | None) -> None:
        offsets = self._offsets(chunk)
        lengths = np.diff(offsets)
        if mask is not None and lengths[mask].any():
            # A null may cover bytes (Arrow allows it): rebuild with empty nulls.
            empty = pa.scalar(b"" if self.name == "binary" else "", type=chunk.type)
            chunk = pc.if_else(pc.is_null(chunk), empty, chunk)
            offsets = self._offsets(chunk)
            lengths = np.diff(offsets)
        self.lengths.raw(lengths.astype("<i8", copy=False))
        start, stop = int(offsets[0]), int(offsets[-1])
        if stop > start:
            self.blob.raw(memoryview(chunk.buffers()[2])[start:stop])

    @staticmethod
    def _offsets(chunk: pa.Array) -> np.ndarray:
        large = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
        dtype = np.dtype("<i8" if large else "<i4")
        return np.frombuffer(
            chunk.buffers()[1],
            dtype=dtype,
            count=len(chunk) + 1,
            offset=chunk.offset * dtype.itemsize,
        )

    def parts(self) -> Iterator[bytes]:
        yield self.lengths.digest()
        yield self.blob.digest()


class _List(_Column):
    def __init__(self, name: str, child: _Column) -> None:
        super().__init__(name)
        self.lengths = Stream("lengths")
        self.child = child

    def feed(self, chunk: pa.Array, mask: np.ndarray | None) -> None:
        lengths = pc.fill_null(pc.list_value_length(chunk), 0)
        self.lengths.raw(np.asarray(lengths.to_numpy(zero_copy_only=False), dtype="<i8"))
        self.child.update(chunk.flatten())  # only the rows' values, nulls' slots skipped

    def parts(self) -> Iterator[bytes]:
        yield self.lengths.digest()
        yield self.child.digest()


class _Struct(_Column):
    def __init__(self, kind: pa.StructType) -> None:
        super().__init__("struct")
        self.names = [kind.field(i).name for i in range(kind.num_fields)]
        self.children = [_column_for(kind.field(i).type) for i in range(kind.num_fields)]

    def feed(self, chunk: pa.Array, mask: np.ndarray | None) -> None:
        # flatten() applies the struct's own offset and nulls to each field.
        for child, values in zip(self.children, chunk.flatten(), strict=True):
            child.update(values)

    def parts(self) -> Iterator[bytes]:
        names = Stream("names")
        for name in self.names:
            names.text(name)
        yield names.digest()
        for child in self.children:
            yield child.digest()


class _Converted(_Column):
    """Hashes each chunk converted to another type; named like it unless ``name`` is set."""

    def __init__(
        self, convert: Callable[[pa.Array], pa.Array], inner: _Column, name: str = ""
    ) -> None:
        super().__init__(name)
        self.convert = convert
        self.inner = inner

    def update(self, chunk: pa.Array) -> None:
        self.inner.update(self.convert(chunk))

    def digest(self) -> bytes:
        if not self.name:  # another encoding of the same content: the same digest
            return self.inner.digest()
        stream = Stream("arrow.converted")
        stream.text(self.name)
        stream.field(self.inner.digest())
        return stream.digest()


class _Python(_Column):
    """Any other type: its rows as Python objects (slow; unions and future types)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.values: list[Any] = []

    def feed(self, chunk: pa.Array, mask: np.ndarray | None) -> None:
        self.values.extend(chunk.to_pylist())

    def parts(self) -> Iterator[bytes]:
        stream = Stream("python")
        # fromiter, not np.array: lists in rows must stay cells, not become a dimension.
        write_objects(stream, np.fromiter(self.values, dtype=object, count=len(self.values)))
        yield stream.digest()


def _cast_to(kind: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    return lambda chunk: chunk.cast(kind)


def _column_for(kind: pa.DataType) -> _Column:
    """The hasher of a column of type ``kind``."""
    if pa.types.is_dictionary(kind):
        return _Converted(lambda chunk: chunk.dictionary_decode(), _column_for(kind.value_type))
    if pa.types.is_run_end_encoded(kind):
        return _Converted(pc.run_end_decode, _column_for(kind.value_type))
    if isinstance(kind, pa.ExtensionType):
        storage = _column_for(kind.storage_type)
        return _Converted(lambda chunk: chunk.storage, storage, "extension:" + kind.extension_name)
    if _is_any(kind, _STRING_TYPES):
        return _Binary("utf8")
    if _is_any(kind, _BINARY_TYPES):
        return _Binary("binary")
    if pa.types.is_string_view(kind):
        return _Converted(_cast_to(pa.large_string()), _Binary("utf8"))
    if pa.types.is_binary_view(kind):
        return _Converted(_cast_to(pa.large_binary()), _Binary("binary"))
    if pa.types.is_boolean(kind):
        return _Bool()
    if pa.types.is_null(kind):
        return _Column("null")
    if _is_any(kind, _LIST_TYPES):
        return _List("list", _column_for(kind.value_type))
    if pa.types.is_fixed_size_list(kind):
        return _List(f"fixed_size_list[{kind.list_size}]", _column_for(kind.value_type))
    if pa.types.is_map(kind):
        entries = pa.list_(pa.struct([kind.key_field, kind.item_field]))
        inner = _List("list", _column_for(entries.value_type))
        return _Converted(_cast_to(entries), inner, "map")
    if pa.types.is_struct(kind):
        return _Struct(kind)
    try:
        bits = kind.bit_width
    except ValueError:  # not fixed-width
        bits = 0
    if bits and bits % 8 == 0:
        return _Fixed(str(kind), bits // 8)
    return _Python(str(kind))


def _owns_its_memory(kind: pa.DataType) -> bool:
    """Whether a column of this type holds only buffers Arrow itself wrote.

    pyarrow wraps a numpy array's memory without copying when it can: numbers, dates and
    dictionary indices (pandas categorical codes), so such a column can still change in
    place through that array and is never cached. numpy has no string layout, so strings
    and binaries (and lists and structs of them) are copied into Arrow's own buffers.
    """
    if _is_any(kind, _STRING_TYPES + _BINARY_TYPES) or pa.types.is_null(kind):
        return True
    if pa.types.is_string_view(kind) or pa.types.is_binary_view(kind):
        return True
    if _is_any(kind, _LIST_TYPES) or pa.types.is_fixed_size_list(kind):
        return _owns_its_memory(kind.value_type)
    if pa.types.is_struct(kind):
        return all(_owns_its_memory(kind.field(i).type) for i in range(kind.num_fields))
    return False


# --------------------------------------------------------------------------- public


def _chunks(values: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return values.chunks if isinstance(values, pa.ChunkedArray) else [values]


def column_digest(values: pa.Array | pa.ChunkedArray, *, cache: bool = True) -> bytes:
    """Digest of one Arrow column, the same however it is chunked or sliced.

    With ``cache``, the digest of a column that Arrow owns entirely (strings, binaries and
    nestings of them; see :func:`_owns_its_memory`) is kept by the identity of ``values``
    for as long as that object lives: Arrow arrays are immutable, so the same object always
    holds the same content. A pandas column that is changed gets a new Arrow object.
    """
    if cache:
        hit = IDENTITY_CACHE.get(values)
        if hit is not None:
            return bytes(hit)
    hasher = _column_for(values.type)
    for chunk in _chunks(values):
        hasher.update(chunk)
    digest = hasher.digest()
    if cache and _owns_its_memory(values.type):
        IDENTITY_CACHE.put(values, digest)
    return digest


def array_digest(values: pa.Array | pa.ChunkedArray) -> bytes:
    """Digest of a pyarrow Array or ChunkedArray (the two hash alike)."""
    stream = Stream("arrow.array")
    stream.field(column_digest(values))
    return stream.digest()


def table_digest(table: pa.Table | pa.RecordBatch) -> bytes:
    """Digest of a Table or RecordBatch: column names and columns (schema metadata aside).

    A Table and a RecordBatch with the same columns hash alike. Per-column digests are
    cached by the identity of the table, as :func:`column_digest` does for columns (a
    table hands out a new column object on each access).
    """
    cached: tuple[bytes | None, ...] | None = IDENTITY_CACHE.get(table)
    digests: list[bytes | None] = []
    stream = Stream("arrow.table")
    stream.integer(table.num_rows)
    stream.integer(table.num_columns)
    for name in table.column_names:
        stream.text(name)
    for position in range(table.num_columns):
        digest = cached[position] if cached is not None else None
        if digest is None:
            column = table.column(position)
            digest = column_digest(column, cache=False)
            digests.append(digest if _owns_its_memory(column.type) else None)
        else:
            digests.append(digest)
        stream.field(digest)
    if cached is None and any(digest is not None for digest in digests):
        IDENTITY_CACHE.put(table, tuple(digests))
    return stream.digest()


def python_strings_digest(texts: np.ndarray) -> bytes | None:
    """The :func:`column_digest` the same strings would have in Arrow, or None.

    For pandas' python-backed string arrays (str rows, missing as pd.NA or NaN), so that
    they hash like the Arrow-backed ones. None if Arrow cannot hold a row (a lone
    surrogate is not UTF-8).
    """
    try:
        values = pa.array(texts, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, UnicodeEncodeError):
        return None
    return column_digest(values, cache=False)
