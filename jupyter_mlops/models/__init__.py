"""Models: recognised by library (flavor), saved in the artifact store (integrity by sha256)
and described by what the user chose (parameters) and what they take (signature)."""

from .estimators import is_fitted_estimator
from .flavors import is_model
from .params import chosen_params, contained_models, model_metrics, top_level_models
from .serialize import (
    artifact_name,
    describe_model,
    dump_model,
    infer_signature,
    load_model_bytes,
    predict,
)

__all__ = [
    "artifact_name",
    "chosen_params",
    "contained_models",
    "describe_model",
    "dump_model",
    "infer_signature",
    "is_fitted_estimator",
    "is_model",
    "load_model_bytes",
    "model_metrics",
    "predict",
    "top_level_models",
]
