"""scikit-learn estimators and statsmodels results.

A scikit-learn model is saved with skops (``skops.io``), as MLflow saves them, when every type
in it is scikit-learn's, numpy's or scipy's: skops writes the attributes as JSON and arrays as
``.npy``, and loading rebuilds only types it was told to trust, so a served model runs no
pickle code. Any other model (a class or function written in a notebook, a lambda, an
estimator from another library) is pickled as before: skops could load it only by trusting a
type whose code comes from wherever the file came from, which is no safer than pickle.
statsmodels results are pickled, as ``Results.save`` does.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any, ClassVar

from ..exceptions import IntegrityError, shown
from .flavor import Flavor, defined_in

SKOPS = "skops"
# The libraries whose types a skops file may name beyond those skops trusts by itself: a
# model server imports them anyway to predict, so trusting their code adds none. Anything
# else named in a file (a notebook's class, another library's) would run code the file chose.
SKOPS_TRUSTED_LIBRARIES = frozenset({"sklearn", "numpy", "scipy"})
# skops nodes that rebuild an object from its saved attributes, or name a function or class
# without calling it. Other nodes call the type they name with arguments read from the file
# (``ConstructorFromReduceNode``): trusting numpy there would let a file call numpy.savetxt,
# which writes any text to any path. scikit-learn models use only these for such types.
_REBUILDING_NODES = frozenset(
    {"ObjectNode", "FunctionNode", "TypeNode", "TreeNode", "DTypeNode", "SparseMatrixNode"}
)


def has_params(obj: Any) -> bool:
    """An estimator in scikit-learn's sense: an instance with ``fit`` and ``get_params``."""
    return not isinstance(obj, type) and hasattr(obj, "fit") and hasattr(obj, "get_params")


def is_fitted_estimator(obj: Any) -> bool:
    """A scikit-learn estimator (anything with ``fit`` and ``get_params``) that was fitted."""
    if not has_params(obj):
        return False
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except (NotFittedError, TypeError, AttributeError, ValueError):
        return False
    return True


def _named_types(node: Any) -> Iterator[tuple[str, str]]:
    """``(node kind, type)`` of every node in a skops schema."""
    if isinstance(node, dict):
        if "__loader__" in node:
            yield str(node["__loader__"]), f"{node.get('__module__')}.{node.get('__class__')}"
        for value in node.values():
            yield from _named_types(value)
    elif isinstance(node, list):
        for value in node:
            yield from _named_types(value)


def skops_types(data: bytes) -> tuple[list[str], list[str]]:
    """``(trusted, refused)``: the types in skops bytes that skops does not trust by itself,
    split by whether loading them is safe here (see ``SKOPS_TRUSTED_LIBRARIES``). Reads the
    file's schema only: nothing is imported or called."""
    from skops.io import get_untrusted_types

    untrusted = set(get_untrusted_types(data=data))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
    refused = {t for t in untrusted if t.partition(".")[0] not in SKOPS_TRUSTED_LIBRARIES}
    refused |= {
        t for kind, t in _named_types(schema) if t in untrusted and kind not in _REBUILDING_NODES
    }
    return sorted(untrusted - refused), sorted(refused)


class SklearnFlavor(Flavor):
    """Estimators with scikit-learn's API, from scikit-learn or any library that follows it."""

    name: ClassVar[str] = "sklearn"

    def owns(self, obj: Any) -> bool:
        return has_params(obj)

    def is_model(self, obj: Any) -> bool:
        return is_fitted_estimator(obj)

    def dump(self, obj: Any) -> tuple[str, bytes]:
        try:
            from skops.io import dumps

            data = dumps(obj)
            if not skops_types(data)[1]:
                return SKOPS, data
        except Exception:  # a type skops cannot represent: pickle can
            pass
        return super().dump(obj)

    def load(self, fmt: str, data: bytes) -> Any:
        if fmt != SKOPS:
            return super().load(fmt, data)
        from skops.io import loads

        trusted, refused = skops_types(data)
        if refused:
            text = (
                "Refusing to load this scikit-learn model: its skops file names types "
                f"jupyter-mlops does not trust there: {shown(refused, 300)}. Only "
                "scikit-learn's, numpy's and scipy's are trusted, rebuilt from their saved "
                "attributes and never called with the file's arguments; log_model pickles any "
                "other model, so this file was altered or crafted."
            )
            raise IntegrityError(text, public=text)
        return loads(data, trusted=trusted)


class StatsmodelsFlavor(Flavor):
    """The results of a statsmodels model's ``fit`` (the model alone has not been fitted)."""

    name: ClassVar[str] = "statsmodels"

    def owns(self, obj: Any) -> bool:
        return defined_in(obj, "statsmodels")

    def is_model(self, obj: Any) -> bool:
        if isinstance(obj, type) or not self.owns(obj):
            return False
        from statsmodels.base.model import Results
        from statsmodels.base.wrapper import ResultsWrapper

        return isinstance(obj, ResultsWrapper | Results)

    def params(self, obj: Any) -> dict[str, Any]:
        model = getattr(obj, "model", None)
        if model is None:
            return {}
        chosen: dict[str, Any] = {"model": type(model).__name__}
        formula = getattr(model, "formula", None)
        if isinstance(formula, str):
            chosen["formula"] = formula
        return chosen

    def inputs(self, obj: Any) -> dict[str, Any] | None:
        model = getattr(obj, "model", None)
        if model is None:
            return None
        formula = getattr(model, "formula", None)
        if isinstance(formula, str):
            # predict() takes the frame the formula reads, not the design matrix.
            return {"type": "dataframe", "formula": formula}
        names = getattr(model, "exog_names", None)
        if not names:
            return None
        return {
            "type": "ndarray",
            "dtype": "unknown",
            "shape": [-1, len(names)],
            "names": [str(n) for n in names],
        }
