"""Content digests of scipy sparse matrices and arrays, whatever their storage format.

The same matrix can be stored as CSR, CSC, COO, DOK, LIL, BSR or DIA, with indices sorted
or not, with duplicate entries (summed when read) and with explicitly stored zeros. All of
them hash alike: a copy is brought to one canonical form (2-D: CSR with sorted indices,
duplicates summed and stored zeros dropped; 1-D and n-D: COO the same way, in row-major
order), then its shape, dtype, index arrays (as int64) and values are hashed. A sparse
matrix and a sparse array of the same content hash alike too.

Since stored zeros are dropped, a stored ``-0.0`` is the same as no entry: a sparse matrix
is compared as the matrix it stands for. scipy is never imported here: everything goes
through the object's own methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .hashing import Stream
from .objects import write_numpy

__all__ = ["sparse_digest"]


def sparse_digest(matrix: Any) -> bytes:
    stream = Stream("sparse")
    stream.text(matrix.dtype.str)
    stream.integer(matrix.ndim)
    for size in matrix.shape:
        stream.integer(size)
    if matrix.ndim == 2:
        csr = matrix.tocsr(copy=True)
        csr.sum_duplicates()  # also sorts the indices of each row
        csr.eliminate_zeros()
        stream.text("csr")
        index_arrays = [csr.indptr, csr.indices]
        values = csr.data
    else:
        coo = matrix.tocoo(copy=True)
        coo.sum_duplicates()
        coo.eliminate_zeros()
        order = np.lexsort(coo.coords[::-1])  # row-major whatever order they came in
        stream.text("coo")
        index_arrays = [np.asarray(axis)[order] for axis in coo.coords]
        values = coo.data[order]
    for indices in index_arrays:
        stream.array(np.asarray(indices, dtype="<i8"))
    write_numpy(stream, np.asarray(values))
    return stream.digest()
