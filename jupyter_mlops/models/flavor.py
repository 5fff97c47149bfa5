"""What a flavor is: the part of a model library that jupyter-mlops needs to know.

A flavor recognises the objects of one library, saves and loads them, says what inputs they
take and how they predict. Recognising looks at the modules of the object's classes first,
so a library is imported only when the object at hand is one of its own: a notebook without
xgboost never pays for importing it.
"""

from __future__ import annotations

import inspect
import io
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar

# A parameter value longer than this is not a setting one reads in a table: it is cut.
MAX_ITEMS = 1000
MAX_TEXT = 500


def defined_in(obj: Any, package: str) -> bool:
    """Whether ``obj``'s class, or a class it derives from, is defined in ``package``."""
    return any(
        cls.__module__ == package or cls.__module__.startswith(package + ".")
        for cls in type(obj).__mro__
    )


def class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def table_value(value: Any, depth: int = 0) -> Any:
    """``value`` as a table shows it and JSON carries it.

    Numbers (numpy's too) and text stay as they are; tuples, lists and sets become lists and
    mappings become objects with text keys (so ``ngram_range=(1, 2)`` is ``[1, 2]``); an
    estimator is its class name, a function or class its name, a scipy distribution
    ``name(args)``; anything else its ``repr``, cut at 500 characters.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, type) or inspect.isroutine(value):
        return getattr(value, "__qualname__", None) or getattr(value, "__name__", repr(value))
    if hasattr(value, "get_params"):
        return type(value).__name__
    dist: Any = getattr(value, "dist", None)
    if hasattr(dist, "name") and isinstance(getattr(value, "args", None), tuple):
        shown = [repr(table_value(a)) for a in value.args]
        shown += [f"{k}={table_value(v)!r}" for k, v in getattr(value, "kwds", {}).items()]
        return f"{dist.name}({', '.join(shown)})"
    if depth < 4:
        if isinstance(value, set | frozenset) and len(value) <= MAX_ITEMS:
            return [table_value(v, depth + 1) for v in sorted(value, key=repr)]
        if isinstance(value, list | tuple) and len(value) <= MAX_ITEMS:
            return [table_value(v, depth + 1) for v in value]
        if isinstance(value, Mapping) and len(value) <= MAX_ITEMS:
            return {str(k): table_value(v, depth + 1) for k, v in value.items()}
        if hasattr(value, "tolist") and getattr(value, "size", MAX_ITEMS + 1) <= MAX_ITEMS:
            return table_value(value.tolist(), depth + 1)  # a small numpy array
    text = repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def pickle_bytes(obj: Any) -> bytes:
    """``obj`` pickled with cloudpickle, which joblib depends on (joblib before 1.6 shipped
    its own copy), so it is no new dependency.

    Importable classes and functions are pickled by reference, as plain pickle does; those
    defined in the notebook itself (``__main__``), lambdas and local classes are pickled by
    value, so a model whose class was written in a notebook loads in a model server or
    another kernel too (MLflow's sklearn flavor does the same).
    """
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - joblib < 1.6
        from joblib.externals import cloudpickle

    return bytes(cloudpickle.dumps(obj, protocol=5))


def unpickle_bytes(data: bytes) -> Any:
    """Bytes from :func:`pickle_bytes`, or a model joblib dumped (older stores hold those)."""
    import joblib

    return joblib.load(io.BytesIO(data))


PICKLE = "pickle"


class Flavor:
    """A library's models. The base pickles, predicts with ``predict`` and finds the inputs
    in scikit-learn's record of the training columns, which many libraries keep too."""

    #: The flavor recorded with a logged model.
    name: ClassVar[str] = PICKLE

    def owns(self, obj: Any) -> bool:
        """Whether ``obj`` belongs to this flavor's library (fitted or not)."""
        return True

    def is_model(self, obj: Any) -> bool:
        """Whether ``obj`` is a trained model of this library, which %%track saves."""
        return False

    def dump(self, obj: Any) -> tuple[str, bytes]:
        """``(format, bytes)``: the library's own format where it has one, else pickle."""
        return PICKLE, pickle_bytes(obj)

    def load(self, fmt: str, data: bytes) -> Any:
        return unpickle_bytes(data)

    def fitted_defaults(self, obj: Any) -> dict[str, Any]:
        """Defaults the library's ``fit`` replaced on the estimator itself, with the value
        it put there: a setting holding that value was left alone by the user."""
        return {}

    def params(self, obj: Any) -> dict[str, Any]:
        """The settings the user chose, for objects without ``get_params``."""
        return {}

    def inputs(self, obj: Any) -> dict[str, Any] | None:
        """The inputs the model expects, from what it recorded when it was trained
        (``feature_names_in_``, ``n_features_in_``)."""
        names = getattr(obj, "feature_names_in_", None)
        if names is not None:
            return {
                "type": "dataframe",
                "columns": [{"name": str(n), "dtype": "unknown"} for n in names],
            }
        count = getattr(obj, "n_features_in_", None)
        if count is not None:
            return {"type": "ndarray", "dtype": "unknown", "shape": [-1, int(count)]}
        return None

    def predict(self, obj: Any, data: Any) -> Any:
        return obj.predict(data)
