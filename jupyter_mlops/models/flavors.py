"""The flavors jupyter-mlops knows, most specific first, and how an object finds its own."""

from __future__ import annotations

from typing import Any

from .boosters import LightGBMFlavor, XGBoostFlavor
from .estimators import SklearnFlavor, StatsmodelsFlavor
from .flavor import Flavor

# xgboost's and lightgbm's scikit-learn wrappers have get_params too: they come first.
FLAVORS: tuple[Flavor, ...] = (
    XGBoostFlavor(),
    LightGBMFlavor(),
    StatsmodelsFlavor(),
    SklearnFlavor(),
)
PICKLE_FLAVOR = Flavor()


def flavor_of(obj: Any) -> Flavor:
    """The flavor of ``obj``'s library; any other object is pickled (flavor ``pickle``)."""
    for flavor in FLAVORS:
        if flavor.owns(obj):
            return flavor
    return PICKLE_FLAVOR


def flavor_named(name: str) -> Flavor | None:
    return next((f for f in (*FLAVORS, PICKLE_FLAVOR) if f.name == name), None)


def is_model(obj: Any) -> bool:
    """What %%track saves by itself: a fitted scikit-learn estimator (xgboost's and
    lightgbm's wrappers included), an xgboost or lightgbm Booster, a statsmodels result."""
    return flavor_of(obj).is_model(obj)
