"""Dataset fingerprints and profiles.

Imported lazily: ``files`` and ``hashing`` (file and folder fingerprints) need neither pandas
nor numpy, so the CLI and the pipeline cache hash files without importing them; ``frames``
(in-memory data) and ``profile`` import pandas when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .frames import fingerprint, is_fingerprintable, nbytes_of
    from .profile import column_schema, profile_frame

__all__ = ["column_schema", "fingerprint", "is_fingerprintable", "nbytes_of", "profile_frame"]

_LAZY = {
    "fingerprint": "frames",
    "is_fingerprintable": "frames",
    "nbytes_of": "frames",
    "column_schema": "profile",
    "profile_frame": "profile",
}
__getattr__ = lazy_exports(__name__, _LAZY)
