"""Content digests of numpy arrays, object arrays and the Python objects in their cells.

Object columns used to be hashed through ``repr``, which numpy truncates: a change in the
middle of a 1000-element array held in a cell went unnoticed. Cells are now hashed by
content:

* ``None``, ``bool``, ``int``, ``float`` (bit for bit), ``complex``, ``str`` and ``bytes`` by
  type and value; numpy scalars by dtype and bytes;
* numpy arrays (any subclass: memmap, matrix) by dtype, shape and bytes, as
  :func:`ndarray_digest`, object arrays element by element;
* ``list`` and ``tuple`` element by element, in order (a subclass such as a namedtuple is
  named by its type);
* ``dict`` (any subclass) as the unordered set of its (key, value) pairs, and
  ``set``/``frozenset`` as unordered sets, because Python's equality ignores their order:
  the digests of the elements are sorted, which is deterministic whatever the hash seed;
* anything else by its type's qualified name and ``repr()``. This is the limitation: an
  object whose repr does not show all of its content (a truncated repr, a DataFrame or an
  Arrow array in a cell, the default ``<Foo object at 0x...>``) is hashed by what the repr
  shows, so a change the repr hides goes unnoticed, and an address in the repr makes the
  fingerprint differ between processes.

Nesting deeper than :data:`MAX_DEPTH` containers raises ``ValueError``; a container that
contains itself is hashed as a back-reference (how many levels up), so cycles terminate and
equal cyclic structures give equal digests.

An object *column* records which rows are missing (whatever :func:`pandas.isna` says: None,
NaN, pd.NA and NaT are one missing value), then hashes the other rows with the cheapest
encoding that fits, each tagged so encodings never collide:

* ``joined``: all str and none contains NUL: the UTF-8 of ``"\\x00".join(rows)``. Given the
  row count, exactly ``rows - 1`` NUL bytes split it back into the rows, so it is
  unambiguous. ``str.join`` runs in C and raises ``TypeError`` on the first non-str, which
  detects the all-str case for free (measured on 1M short strings: join ~20 ms, where
  sizing each row with ``map(len, ...)`` alone took ~30 ms and ``pd.isna`` ~21 ms).
* ``texts``: all str, some containing NUL: lengths in code points, then the UTF-8 blob.
* ``mixed``: rows grouped by kind (str, int, float, bool, or the cell rules above); the
  kind of every row, then each group's values in row order.
"""

from __future__ import annotations

import ctypes
import struct
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import pandas as pd

from .hashing import Stream

__all__ = [
    "MAX_DEPTH",
    "STR_ROWS",
    "StrRowsCache",
    "ndarray_digest",
    "write_numpy",
    "write_objects",
]

MAX_DEPTH: Final = 100
# Rows joined at a time: a few MB of text stays in cache while it is encoded, counted and
# hashed. Measured on 1M e-mail addresses: 35 ms in 64k-row chunks, 113 ms in one piece
# (the fresh 50 MB buffers cost page faults); short strings gain 2x too.
_JOIN_ROWS: Final = 1 << 16
# Array cells of one dtype and shape are copied into blocks of about this size to be hashed.
_STACK_BYTES: Final = 4 << 20
_FLOAT: Final = struct.Struct("<d")
_COMPLEX: Final = struct.Struct("<dd")

_EXACT_TAGS: Final[dict[type, str]] = {
    type(None): "none",
    bool: "bool",
    int: "int",
    float: "float",
    complex: "complex",
    str: "str",
    bytes: "bytes",
    bytearray: "bytearray",
    list: "list",
    tuple: "tuple",
    dict: "dict",
    set: "set",
    frozenset: "frozenset",
}
_CONTAINERS: Final = (list, tuple, dict, set, frozenset, np.ndarray)

# Object arrays of str whose digests are kept (see StrRowsCache): the string columns of the
# frames a notebook works on.
_STR_ROWS_CACHED: Final = 64

# Ids of the containers being hashed, each with its depth: cycle and depth guard.
_Active = dict[int, int]


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _tag(kind: type) -> str:
    """The hashing rule of a cell type; types that hash alike share a tag."""
    tag = _EXACT_TAGS.get(kind)
    if tag is not None:
        return tag
    if issubclass(kind, str):  # np.str_ and other str subclasses hold plain text
        return "str"
    if issubclass(kind, bytes):
        return "bytes"
    if issubclass(kind, np.ndarray):
        return "ndarray"
    if issubclass(kind, np.generic):
        return "numpy"
    if issubclass(kind, dict):
        return "dict"
    if issubclass(kind, list | tuple):
        return "seq:" + _qualified(kind)
    if issubclass(kind, set | frozenset):
        return "set:" + _qualified(kind)
    return "repr:" + _qualified(kind)


# --------------------------------------------------------------------------- cells


def _write_cell(stream: Stream, value: Any, active: _Active) -> None:
    tag = _tag(type(value))
    stream.text(tag)
    if tag == "none":
        return
    if tag == "bool":
        stream.field(b"1" if value else b"0")
    elif tag == "int":
        # Bytes, not decimal text: str() refuses ints of more than 4300 digits.
        stream.field(value.to_bytes(value.bit_length() // 8 + 1, "little", signed=True))
    elif tag == "float":
        stream.field(_FLOAT.pack(value))
    elif tag == "complex":
        stream.field(_COMPLEX.pack(value.real, value.imag))
    elif tag == "str":
        stream.text(value)
    elif tag in ("bytes", "bytearray"):
        stream.field(bytes(value))
    elif tag == "numpy":
        stream.text(value.dtype.str)
        stream.field(np.asarray(value).tobytes())
    elif tag.startswith("repr:"):
        try:
            text = repr(value)
        except Exception as exc:
            raise TypeError(f"cannot fingerprint a {_qualified(type(value))} cell: {exc}") from exc
        stream.text(text)
    else:
        _write_container(stream, tag, value, active)


def _write_container(stream: Stream, tag: str, value: Any, active: _Active) -> None:
    key = id(value)
    depth = active.get(key)
    if depth is not None:  # the container holds itself: say how many levels up
        stream.text("cycle")
        stream.integer(len(active) - depth)
        return
    if len(active) >= MAX_DEPTH:
        raise ValueError(f"cannot fingerprint data nested more than {MAX_DEPTH} levels deep")
    active[key] = len(active)
    try:
        if tag == "ndarray":
            stream.field(ndarray_digest(value, active))
        elif tag == "dict":
            pairs = sorted(
                _cell_digest(k, active) + _cell_digest(v, active) for k, v in value.items()
            )
            stream.integer(len(pairs))
            for pair in pairs:
                stream.raw(pair)
        elif tag in ("set", "frozenset") or tag.startswith("set:"):
            digests = sorted(_cell_digest(item, active) for item in value)
            stream.integer(len(digests))
            for digest in digests:
                stream.raw(digest)
        else:  # list, tuple and their subclasses: in order
            stream.integer(len(value))
            for item in value:
                _write_cell(stream, item, active)
    finally:
        del active[key]


def _cell_digest(value: Any, active: _Active) -> bytes:
    stream = Stream("cell")
    _write_cell(stream, value, active)
    return stream.digest()


# --------------------------------------------------------------------------- columns


class StrRowsCache:
    """Digests of object arrays of str, found again by the very objects they hold.

    A str never changes (nor do the missing markers a string array may hold: None, pd.NA,
    a float NaN), so an array holding the same objects, row for row, holds the same text:
    comparing the rows' addresses (8 bytes a row, at memory speed) stands for encoding and
    hashing the text again. An entry keeps a copy of the array, so those objects stay alive
    and no address can be reused by another object while the entry exists; it goes when the
    array it was computed from dies (so a frame the user deletes is not kept alive), or when
    more recent entries push it out. Only digests of such arrays may be kept: ``compute``
    returns None for anything else (a mutable object in a row), which is not kept.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[weakref.ref[Any], np.ndarray, bytes]] = (
            OrderedDict()
        )
        # Re-entrant: the weak reference callback may run in this thread, within a garbage
        # collection that an allocation under the lock set off.
        self._lock = threading.RLock()

    @staticmethod
    def _addresses(rows: np.ndarray) -> np.ndarray:
        """The rows' object addresses, read in place from the array's buffer (numpy will not
        view an array of references as integers). ``rows`` must be C-contiguous and stay
        alive while the result is used."""
        buffer = (ctypes.c_char * rows.nbytes).from_address(rows.__array_interface__["data"][0])
        return np.frombuffer(memoryview(buffer), dtype=np.uintp)

    def _key(self, rows: np.ndarray, what: str) -> bytes:
        key = Stream("addresses")
        key.text(what)
        key.array(self._addresses(rows))
        return key.digest()

    @staticmethod
    def _owner(rows: np.ndarray) -> np.ndarray:
        while isinstance(rows.base, np.ndarray):
            rows = rows.base
        return rows

    def digest(
        self, rows: np.ndarray, compute: Callable[[np.ndarray], bytes | None]
    ) -> bytes | None:
        """``compute(rows)`` for a 1-D object array of str (and missing markers), from the
        cache when ``rows`` holds the same objects as an array ``compute`` saw before."""
        rows = np.ascontiguousarray(rows)
        key = self._key(rows, compute.__qualname__)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None and np.array_equal(self._addresses(entry[1]), self._addresses(rows)):
            return entry[2]
        digest = compute(rows)
        if digest is not None:
            self._put(key, rows, digest)
        return digest

    def _put(self, key: bytes, rows: np.ndarray, digest: bytes) -> None:
        entries = self._entries

        def forget(ref: weakref.ref[Any]) -> None:
            with self._lock:
                entry = entries.get(key)
                if entry is not None and entry[0] is ref:
                    del entries[key]

        try:
            ref = weakref.ref(self._owner(rows), forget)
        except TypeError:
            return
        kept = rows.copy()  # the same objects: they stay alive with the entry
        with self._lock:
            entries[key] = (ref, kept, digest)
            entries.move_to_end(key)
            while len(entries) > self._size:
                entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _joined_digest(texts: np.ndarray) -> bytes | None:
    """Digest of the UTF-8 of ``"\\x00".join(texts)``; None unless all are NUL-free str."""
    stream = Stream("joined")
    for start in range(0, len(texts), _JOIN_ROWS):
        part = texts[start : start + _JOIN_ROWS].tolist()  # joining a list is 2x faster
        try:
            blob = "\x00".join(part).encode("utf-8", "surrogatepass")
        except TypeError:  # not a str
            return None
        # bytes.count is ~7x slower than numpy's compare-and-count on the same buffer.
        if np.count_nonzero(np.frombuffer(blob, dtype=np.uint8) == 0) != len(part) - 1:
            return None  # a row contains NUL: the split would be ambiguous
        if start:
            stream.raw(b"\x00")  # as if joined in one piece: the chunking does not show
        stream.raw(blob)
    return stream.digest()


def _texts_digests(texts: np.ndarray) -> tuple[bytes, bytes]:
    """(lengths, UTF-8 blob) digests of str rows; raises TypeError if one is not a str."""
    lengths = Stream("lengths")
    blob = Stream("utf-8")
    for start in range(0, len(texts), _JOIN_ROWS):
        part = texts[start : start + _JOIN_ROWS].tolist()
        blob.raw("".join(part).encode("utf-8", "surrogatepass"))
        lengths.raw(np.fromiter(map(len, part), dtype="<i8", count=len(part)))
    return lengths.digest(), blob.digest()


def _write_present(stream: Stream, values: np.ndarray, active: _Active, joinable: bool) -> None:
    """Hashes non-missing objects; ``joinable=False`` when the joined form already failed."""
    joined = _joined_digest(values) if joinable else None
    if joined is not None:
        stream.text("joined")
        stream.field(joined)
        return
    try:
        digests = _texts_digests(values)
    except TypeError:
        _write_mixed(stream, values, active)
        return
    stream.text("texts")
    for digest in digests:
        stream.field(digest)


def _write_mixed(stream: Stream, values: np.ndarray, active: _Active) -> None:
    stream.text("mixed")
    types = np.fromiter(map(type, values), dtype=object, count=len(values))
    type_codes, kinds = pd.factorize(types)
    # Types that hash alike (str and np.str_, ndarray and memmap) form one group, so the
    # digest does not depend on which of them a row happens to hold.
    tag_codes, tags = pd.factorize(np.array([_tag(kind) for kind in kinds], dtype=object))
    codes = np.asarray(tag_codes, dtype="<i8")[type_codes]
    stream.integer(len(tags))
    stream.array(codes)
    for code, tag in enumerate(tags):
        members = values[codes == code]
        group = Stream("group")
        group.text(tag)
        _write_group(group, tag, members, active)
        stream.field(group.digest())


def _write_group(stream: Stream, tag: str, members: np.ndarray, active: _Active) -> None:
    """Hashes the rows of one tag, vectorised for the common scalars."""
    if tag == "str":
        _write_present(stream, members, active, joinable=True)
    elif tag == "float":
        stream.array(np.array(members.tolist(), dtype="<f8"))
    elif tag == "bool":
        stream.array(np.array(members.tolist(), dtype=np.bool_))
    elif tag == "int":
        try:
            stream.array(np.array(members.tolist(), dtype="<i8"))
        except OverflowError:  # beyond 64 bits: exact hex text (str() has a digit limit)
            stream.text("hex")
            stream.text(",".join(map(hex, members.tolist())))
    elif tag == "ndarray" and _write_uniform_arrays(stream, members):
        return
    else:
        for value in members.tolist():
            _write_cell(stream, value, active)


def _write_uniform_arrays(stream: Stream, members: np.ndarray) -> bool:
    """Array cells of one dtype and shape (an embeddings column): hashed as one stacked
    block, a few MB at a time. Measured on 100k float64 arrays of 10: 0.9 s one cell at a
    time, most of it per-cell overhead. False (nothing written) if they are not uniform."""
    arrays = members.tolist()
    layouts = {(a.dtype, a.shape) for a in arrays}
    if len(layouts) != 1:
        return False
    dtype, shape = layouts.pop()
    if dtype.hasobject or dtype.kind == "T":
        return False
    stream.text("uniform")
    stream.text(dtype.str)
    stream.integer(len(shape))
    for size in shape:
        stream.integer(size)
    cell_bytes = dtype.itemsize * int(np.prod(shape))
    stream.begin_bytes(cell_bytes * len(arrays))
    if cell_bytes == 0:
        return True
    rows = max(1, _STACK_BYTES // cell_bytes)
    for start in range(0, len(arrays), rows):
        block = np.stack(arrays[start : start + rows])
        stream.raw(block.reshape(-1).view(np.uint8))
    return True


def write_objects(stream: Stream, arr: np.ndarray, active: _Active | None = None) -> None:
    """Hashes an object array (C order): missing rows by position, then the others."""
    active = {} if active is None else active
    flat = arr.reshape(-1)
    stream.text("objects")
    stream.integer(len(flat))
    joined = STR_ROWS.digest(flat, _joined_digest)
    if joined is not None:  # the common case: all str, so nothing is missing
        stream.array(np.empty(0, dtype="<i8"))
        stream.text("joined")
        stream.field(joined)
        return
    missing = np.asarray(pd.isna(flat), dtype=bool)
    positions = np.flatnonzero(missing)
    stream.array(positions.astype("<i8"))
    if len(positions):
        _write_present(stream, flat[~missing], active, joinable=True)
    else:  # the same rows just failed to join
        _write_present(stream, flat, active, joinable=False)


def write_numpy(stream: Stream, arr: np.ndarray, active: _Active | None = None) -> None:
    """Hashes the values of an ndarray of any dtype (shape excluded)."""
    kind = arr.dtype.kind
    if kind == "O":
        write_objects(stream, arr, active)
        return
    if kind == "T":  # numpy 2 variable-width strings
        write_objects(stream, arr.astype(object), active)
        return
    if arr.dtype.hasobject:
        raise TypeError(f"cannot fingerprint structured dtype with object fields: {arr.dtype}")
    stream.text("numpy")
    stream.text(arr.dtype.str)  # includes the datetime/timedelta unit, e.g. "<M8[ns]"
    if kind in "mM":
        arr = arr.view(np.int64)  # the buffer protocol refuses datetime64
    stream.array(arr)


def ndarray_digest(arr: np.ndarray, active: _Active | None = None) -> bytes:
    """Digest of an array: dtype, shape and values (a memmap hashes like its ndarray).

    A masked array also hashes its mask, and zeros under it: what a masked slot holds is
    not its value.
    """
    stream = Stream("ndarray")
    stream.text(arr.dtype.str)
    stream.integer(arr.ndim)
    for size in arr.shape:
        stream.integer(size)
    if isinstance(arr, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(arr)
        data = np.ma.getdata(arr)
        stream.text("masked")
        stream.array(mask)
        arr = np.where(mask, np.zeros(1, dtype=data.dtype)[0], data) if mask.any() else data
    write_numpy(stream, arr, active)
    return stream.digest()


STR_ROWS: Final = StrRowsCache(_STR_ROWS_CACHED)
