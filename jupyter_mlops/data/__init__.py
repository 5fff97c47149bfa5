"""Dataset fingerprints and profiles.

Imported lazily: ``files`` and ``hashing`` (file and folder fingerprints) need neither pandas
nor numpy, so the CLI and the pipeline cache hash files without importing them; ``kinds``
(which objects are datasets, their shape and size) imports no data library at all;
``frames`` (in-memory data) and ``profile`` import pandas and pyarrow when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .frames import fingerprint
    from .kinds import (
        LazyDataError,
        dataset_kind,
        is_fingerprintable,
        nbytes_of,
        not_materialized,
        shape_of,
    )
    from .profile import column_schema, profile_frame

__all__ = [
    "LazyDataError",
    "column_schema",
    "dataset_kind",
    "fingerprint",
    "is_fingerprintable",
    "nbytes_of",
    "not_materialized",
    "profile_frame",
    "shape_of",
]

_LAZY = {
    "fingerprint": "frames",
    "LazyDataError": "kinds",
    "dataset_kind": "kinds",
    "is_fingerprintable": "kinds",
    "nbytes_of": "kinds",
    "not_materialized": "kinds",
    "shape_of": "kinds",
    "column_schema": "profile",
    "profile_frame": "profile",
}
__getattr__ = lazy_exports(__name__, _LAZY)
