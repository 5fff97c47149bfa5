"""scikit-learn estimators and statsmodels results: both are saved by pickle, the format each
library itself uses (joblib for scikit-learn, ``Results.save`` for statsmodels)."""

from __future__ import annotations

from typing import Any, ClassVar

from .flavor import Flavor, defined_in


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


class SklearnFlavor(Flavor):
    """Estimators with scikit-learn's API, from scikit-learn or any library that follows it."""

    name: ClassVar[str] = "sklearn"

    def owns(self, obj: Any) -> bool:
        return has_params(obj)

    def is_model(self, obj: Any) -> bool:
        return is_fitted_estimator(obj)


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
