"""Model (de)serialisation and input/output signatures.

Models are pickled with joblib (the format scikit-learn documents). Pickle runs code when
loaded, which is why the Client only unpickles bytes whose sha256 matches the registry row.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

_SCALARS = (int, float, str, bool, type(None))


def is_fitted_estimator(obj: Any) -> bool:
    """A scikit-learn estimator (anything with ``fit`` and ``get_params``) that was fitted."""
    if isinstance(obj, type) or not (hasattr(obj, "fit") and hasattr(obj, "get_params")):
        return False
    try:
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return False
    try:
        check_is_fitted(obj)
    except (NotFittedError, TypeError, AttributeError, ValueError):
        return False
    return True


def dump_model(model: Any) -> bytes:
    import joblib

    buf = io.BytesIO()
    joblib.dump(model, buf)
    return buf.getvalue()


def load_model_bytes(data: bytes) -> Any:
    import joblib

    return joblib.load(io.BytesIO(data))


def scalar_params(model: Any, changed_only: bool = False) -> dict[str, Any]:
    """``get_params(deep=True)`` keeping values a table can show (no nested estimators).

    With ``changed_only``, only the parameters that differ from the constructor's defaults,
    as scikit-learn's own repr shows them: what the user chose, not 20 defaults.
    """
    try:
        items = model.get_params(deep=True).items()
    except Exception:
        return {}
    values = {k: v for k, v in items if isinstance(v, _SCALARS)}
    if not changed_only:
        return values
    defaults = _init_defaults(type(model))
    return {
        k: v
        for k, v in values.items()
        if "__" in k or k not in defaults or not _same(defaults[k], v)
    }


def _init_defaults(cls: type) -> dict[str, Any]:
    import inspect

    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:
        return False


def _describe_columns(example: Any) -> dict[str, Any] | None:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return None
    if isinstance(example, pd.DataFrame):
        return {
            "type": "dataframe",
            "columns": [{"name": str(c), "dtype": str(t)} for c, t in example.dtypes.items()],
        }
    if isinstance(example, pd.Series):
        return {"type": "series", "name": str(example.name), "dtype": str(example.dtype)}
    if isinstance(example, np.ndarray):
        return {"type": "ndarray", "dtype": str(example.dtype), "shape": [-1, *example.shape[1:]]}
    return None


def infer_signature(model: Any, input_example: Any = None) -> dict[str, Any] | None:
    """The inputs a model expects (and what it returns, given an example).

    Without an example, scikit-learn's own record of the training columns is used
    (``feature_names_in_``, ``n_features_in_``).
    """
    signature: dict[str, Any] = {}
    if input_example is not None:
        signature["inputs"] = _describe_columns(input_example)
        try:
            prediction = model.predict(input_example)
            signature["outputs"] = _describe_columns(np.asarray(prediction))
        except Exception:
            signature["outputs"] = None
    else:
        names = getattr(model, "feature_names_in_", None)
        if names is not None:
            signature["inputs"] = {
                "type": "dataframe",
                "columns": [{"name": str(n), "dtype": "unknown"} for n in names],
            }
        elif getattr(model, "n_features_in_", None) is not None:
            signature["inputs"] = {
                "type": "ndarray",
                "dtype": "unknown",
                "shape": [-1, int(model.n_features_in_)],
            }
    classes = getattr(model, "classes_", None)
    if classes is not None:
        signature["classes"] = np.asarray(classes).tolist()
    return signature or None


def describe_model(model: Any) -> tuple[str, str]:
    """``(flavor, class path)`` of a model object."""
    cls = type(model)
    module = cls.__module__
    flavor = "sklearn" if module.startswith("sklearn") or hasattr(model, "get_params") else "pickle"
    return flavor, f"{module}.{cls.__qualname__}"
