"""xgboost and lightgbm: their Boosters (``xgb.train``, ``lgb.train``) saved in each library's
own portable format, and their scikit-learn wrappers (``XGBClassifier``, ``LGBMRegressor``...)
pickled whole, because the libraries' formats keep the trees but not the wrapper's settings
and fitted attributes.

A Booster does not remember which settings the user passed: xgboost's config lists every
setting, defaults included, and lightgbm lists every setting once a model is loaded from
text. The settings the user chose are found by comparing with a Booster the library trains
with nothing set (one round on one row, cached per objective): what differs was chosen.
"""

from __future__ import annotations

import abc
import functools
import importlib
import inspect
import json
from typing import Any, ClassVar

from .estimators import is_fitted_estimator
from .flavor import PICKLE, Flavor, defined_in, table_value


def _train_default(train: Any) -> int:
    """The number of rounds ``train`` runs when not told (``num_boost_round``'s default)."""
    return int(inspect.signature(train).parameters["num_boost_round"].default)


# xgboost's config lists a setting under each of its names; the native name is kept.
_XGB_ALIASES = {
    "learning_rate": "eta",
    "min_split_loss": "gamma",
    "reg_lambda": "lambda",
    "reg_alpha": "alpha",
    "random_state": "seed",
    "n_jobs": "nthread",
}
# Settings in xgboost's config that training decides (how many trees), not the user.
_XGB_LEARNED = {"learner_model_param", "num_trees"}


def _config_value(text: str) -> Any:
    """A setting from xgboost's config (all text) as a number where it is one. xgboost
    keeps most settings as 32-bit floats, so ``eta=0.1`` reads ``"0.100000001"``: seven
    significant digits give back what the user wrote."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(f"{float(text):.7g}")
    except ValueError:
        return text


def _xgb_settings(node: dict[str, Any], out: dict[str, Any], in_params: bool = False) -> None:
    """The leaves of the ``*_param`` sections of xgboost's config, by setting name."""
    for key, value in node.items():
        if key in _XGB_LEARNED:
            continue
        if isinstance(value, dict):
            _xgb_settings(value, out, in_params or key.endswith("_param"))
        elif in_params and isinstance(value, str):
            out.setdefault(key, value)


def _xgb_config(booster: Any) -> dict[str, Any]:
    learner = json.loads(booster.save_config())["learner"]
    settings: dict[str, Any] = {}
    _xgb_settings(learner, settings)
    metrics = [m.get("name") for m in learner.get("metrics", []) if isinstance(m, dict)]
    settings["eval_metric"] = ",".join(str(m) for m in metrics)
    return settings


@functools.lru_cache(maxsize=32)
def _xgb_reference(objective: str | None, booster: str | None, num_class: str | None) -> str:
    """The config (as JSON text, so the cache cannot be changed) of a Booster trained with
    only these three set; the library's defaults for everything else."""
    import numpy as np
    import xgboost as xgb

    chosen = {"objective": objective, "booster": booster, "num_class": num_class}
    params = {k: v for k, v in chosen.items() if v is not None}
    with xgb.config_context(verbosity=0):
        try:
            trained = xgb.train(params, xgb.DMatrix(np.ones((1, 1)), label=[1.0]), 1)
        except xgb.core.XGBoostError:
            if not params:
                return "{}"
            # An objective that needs more than one row's label (survival:aft's bounds...):
            # its own settings are then compared with nothing and all reported.
            return _xgb_reference(None, None, None)
    return json.dumps(_xgb_config(trained))


def xgboost_booster_params(booster: Any) -> dict[str, Any]:
    """The settings of a trained ``xgboost.Booster`` that differ from xgboost's defaults,
    plus ``num_boost_round`` when it is not ``xgb.train``'s default."""
    import xgboost as xgb

    trained = _xgb_config(booster)
    objective, kind, num_class = (trained.get(k) for k in ("objective", "booster", "num_class"))
    defaults = json.loads(_xgb_reference(objective, kind, num_class))
    # These three were set in the reference itself: their defaults are the library's.
    plain = json.loads(_xgb_reference(None, None, None))
    for key in ("objective", "booster", "num_class"):
        defaults[key] = plain.get(key)
    chosen = {k: _config_value(v) for k, v in trained.items() if defaults.get(k) != v}
    for alias, name in _XGB_ALIASES.items():
        if name in chosen:
            chosen.pop(alias, None)
    if "eval_metric" in chosen:
        metrics = str(trained["eval_metric"]).split(",")
        chosen["eval_metric"] = metrics[0] if len(metrics) == 1 else metrics
    rounds = booster.num_boosted_rounds()
    if rounds != _train_default(xgb.train):
        chosen["num_boost_round"] = rounds
    return dict(sorted(chosen.items()))


@functools.lru_cache(maxsize=1)
def _lgb_reference() -> str:
    """lightgbm's defaults, as a model trained with nothing set and loaded back lists them."""
    import lightgbm as lgb
    import numpy as np

    quiet = {"verbose": -1}
    data = lgb.Dataset(np.ones((2, 1)), label=[1.0, 1.0], params=quiet)
    trained = lgb.train(quiet, data, num_boost_round=1)
    defaults = dict(lgb.Booster(model_str=trained.model_to_string()).params)
    defaults["num_iterations"] = _train_default(lgb.train)
    defaults["verbosity"] = 1  # the documented default; the reference above ran quiet
    return json.dumps(table_value(defaults))


def lightgbm_booster_params(booster: Any) -> dict[str, Any]:
    """The settings of a ``lightgbm.Booster`` that differ from lightgbm's defaults, under the
    names the user gave them (a Booster that ``lgb.train`` returned keeps those names; one
    loaded from text knows every setting by its main name)."""
    defaults = json.loads(_lgb_reference())
    given = table_value(dict(booster.params or {}))
    return {k: v for k, v in sorted(given.items()) if k not in defaults or defaults[k] != v}


class BoosterFlavor(Flavor, abc.ABC):
    """A library with a ``Booster`` of its own, saved in the library's format, beside
    scikit-learn wrappers that are saved, and described, as any estimator is."""

    package: ClassVar[str]
    native_format: ClassVar[str]

    def owns(self, obj: Any) -> bool:
        return defined_in(obj, self.package)

    def is_booster(self, obj: Any) -> bool:
        if isinstance(obj, type) or not self.owns(obj):
            return False
        return isinstance(obj, importlib.import_module(self.package).Booster)

    def is_model(self, obj: Any) -> bool:
        return self.is_booster(obj) or is_fitted_estimator(obj)

    def dump(self, obj: Any) -> tuple[str, bytes]:
        if self.is_booster(obj):
            return self.native_format, self.save_booster(obj)
        return super().dump(obj)

    def load(self, fmt: str, data: bytes) -> Any:
        return super().load(fmt, data) if fmt == PICKLE else self.load_booster(data)

    def params(self, obj: Any) -> dict[str, Any]:
        return self.booster_params(obj) if self.is_booster(obj) else {}

    def inputs(self, obj: Any) -> dict[str, Any] | None:
        return self.booster_inputs(obj) if self.is_booster(obj) else super().inputs(obj)

    @abc.abstractmethod
    def save_booster(self, booster: Any) -> bytes: ...

    @abc.abstractmethod
    def load_booster(self, data: bytes) -> Any: ...

    @abc.abstractmethod
    def booster_params(self, booster: Any) -> dict[str, Any]: ...

    @abc.abstractmethod
    def booster_inputs(self, booster: Any) -> dict[str, Any] | None: ...


class XGBoostFlavor(BoosterFlavor):
    name: ClassVar[str] = "xgboost"
    package: ClassVar[str] = "xgboost"
    native_format: ClassVar[str] = "ubj"  # UBJSON, xgboost's default model format

    def save_booster(self, booster: Any) -> bytes:
        return bytes(booster.save_raw(raw_format="ubj"))

    def load_booster(self, data: bytes) -> Any:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(data))
        return booster

    def booster_params(self, booster: Any) -> dict[str, Any]:
        return xgboost_booster_params(booster)

    def fitted_defaults(self, obj: Any) -> dict[str, Any]:
        # XGBClassifier.fit turns the default binary:logistic into multi:softprob when it
        # sees more than two classes, and stores that as the estimator's objective.
        if (
            getattr(obj, "n_classes_", 0) > 2
            and getattr(obj, "objective", None) == "multi:softprob"
        ):
            return {"objective": "multi:softprob"}
        return {}

    def booster_inputs(self, booster: Any) -> dict[str, Any] | None:
        names, types = booster.feature_names, booster.feature_types
        if not names:
            return {"type": "ndarray", "dtype": "unknown", "shape": [-1, booster.num_features()]}
        return {
            "type": "dataframe",
            "columns": [
                {"name": n, "dtype": types[i] if types else "unknown"} for i, n in enumerate(names)
            ],
        }

    def predict(self, obj: Any, data: Any) -> Any:
        if not self.is_booster(obj):
            return super().predict(obj, data)
        import xgboost as xgb

        if isinstance(data, xgb.DMatrix):
            return obj.predict(data)
        return obj.inplace_predict(data)  # arrays and frames without building a DMatrix


class LightGBMFlavor(BoosterFlavor):
    name: ClassVar[str] = "lightgbm"
    package: ClassVar[str] = "lightgbm"
    native_format: ClassVar[str] = "txt"  # lightgbm's model text

    def save_booster(self, booster: Any) -> bytes:
        # With early stopping, the best iteration's trees: what predict() uses.
        return str(booster.model_to_string()).encode("utf-8")

    def load_booster(self, data: bytes) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_str=data.decode("utf-8"))

    def booster_params(self, booster: Any) -> dict[str, Any]:
        return lightgbm_booster_params(booster)

    def booster_inputs(self, booster: Any) -> dict[str, Any] | None:
        names = booster.feature_name()
        if names == [f"Column_{i}" for i in range(len(names))]:  # lightgbm's names for arrays
            return {"type": "ndarray", "dtype": "unknown", "shape": [-1, len(names)]}
        return {"type": "dataframe", "columns": [{"name": n, "dtype": "unknown"} for n in names]}
