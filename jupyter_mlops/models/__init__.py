"""Saving and loading models: bytes in the artifact store, integrity by sha256."""

from .serialize import (
    describe_model,
    dump_model,
    infer_signature,
    is_fitted_estimator,
    load_model_bytes,
)

__all__ = [
    "describe_model",
    "dump_model",
    "infer_signature",
    "is_fitted_estimator",
    "load_model_bytes",
]
