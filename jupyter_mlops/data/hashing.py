"""Low-level hashing shared by the in-memory and the file/folder fingerprints.

Every value goes through a length-prefixed stream (:class:`Stream`), so the boundary
between two fields can never be shifted to make different inputs collide. This module
imports neither pandas nor numpy, so that hashing a file needs neither.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Final

import xxhash

if TYPE_CHECKING:
    import numpy as np

PREFIX: Final = "xxh3-128:"
# Bump when the byte layout of any fingerprint changes (here or in any module of this package):
# old fingerprints (and cached file entries) must never be confused with new ones.
# /2: object cells hashed by content, strings from Arrow buffers or NUL-joined, null positions.
SCHEME_VERSION: Final = 2
_SCHEME: Final = f"jupyter_mlops.fingerprint/{SCHEME_VERSION}\x00".encode("ascii")
U64: Final = struct.Struct("<Q")

# Non-contiguous arrays are copied this many bytes at a time so we never double the
# memory footprint of a large array just to hash it.
_COPY_CHUNK_BYTES: Final = 8 << 20


class Stream:
    """One xxh3-128 state fed with length-prefixed fields."""

    __slots__ = ("_h",)

    def __init__(self, tag: str) -> None:
        self._h = xxhash.xxh3_128()
        self._h.update(_SCHEME)
        self.text(tag)

    def field(self, data: bytes) -> None:
        self._h.update(U64.pack(len(data)))
        self._h.update(data)

    def text(self, value: str) -> None:
        self.field(value.encode("utf-8", "surrogatepass"))

    def integer(self, value: int) -> None:
        # Decimal text rather than a fixed width: Python ints (e.g. st_ino) may exceed 64 bits.
        self.field(str(int(value)).encode("ascii"))

    def begin_bytes(self, nbytes: int) -> None:
        """Announces ``nbytes`` of raw payload, to be fed with :meth:`raw`."""
        self._h.update(U64.pack(nbytes))

    def raw(self, data: Any) -> None:
        """Feeds any C-contiguous buffer (ndarray, memoryview, bytes) without a header."""
        self._h.update(data)

    def array(self, arr: np.ndarray) -> None:
        """Feeds the C-order bytes of ``arr`` (copying in chunks only if not contiguous)."""
        import numpy as np  # here: hashing a file needs no numpy

        self.begin_bytes(arr.nbytes)
        if arr.nbytes == 0:
            return
        if arr.flags.c_contiguous:
            self.raw(arr.reshape(-1).view(np.uint8))
            return
        rows = max(1, _COPY_CHUNK_BYTES // max(1, arr[0].nbytes))
        for start in range(0, len(arr), rows):
            chunk = np.ascontiguousarray(arr[start : start + rows])
            self.raw(chunk.reshape(-1).view(np.uint8))

    def digest(self) -> bytes:
        return self._h.digest()


def format_digest(digest: bytes) -> str:
    return PREFIX + digest.hex()
