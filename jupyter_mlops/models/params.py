"""What the user chose for a model, and which models are parts of others.

Runs are compared by what was changed, so a model's parameters are those that differ from
the defaults of the class that declares them, as scikit-learn's repr shows an estimator:
``Pipeline(ColumnTransformer(...), LogisticRegression(C=0.5))`` gives ``clf__C: 0.5``, not
the forty settings nobody touched. Nested estimators are compared with their own class's
defaults and named as scikit-learn names them (``pre__cat__handle_unknown``); an estimator
given as a value is its class name (``clf: "LogisticRegression"``).

A search (anything with ``best_params_``, or a ``param_grid`` / ``param_distributions``) is
recorded by what it searched and found, not by the template it was given: its own settings
(``cv``, ``scoring``, ``estimator`` by class name), the grid as JSON text, and each of
``best_params_`` as ``best.<name>`` (``best.clf__C``: a dot cannot occur in a scikit-learn
parameter name, so these never clash). ``best_score_`` is a metric: see :func:`model_metrics`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import math
import numbers
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from .estimators import has_params
from .flavor import defined_in, table_value
from .flavors import flavor_of

SEARCH_SPACES = ("param_grid", "param_distributions")
BEST = "best."
# Containers longer than this (a vocabulary, say) are not searched for models inside.
_MAX_SCANNED = 10_000
_LEAF_LIBRARIES = ("xgboost", "lightgbm", "statsmodels")


def chosen_params(model: Any) -> dict[str, Any]:
    """``name -> value`` of the settings the user chose for ``model``, in an order a table
    can show: values are None, booleans, numbers, text, or lists and objects of those.

    scikit-learn-style estimators (xgboost's and lightgbm's wrappers too): only what
    differs from the constructors' defaults, nested ones under ``step__param``. A ``None``
    where the default is ``None``, or where a wrapper passes settings on as ``**kwargs``
    and reports the unset ones as ``None`` (xgboost), is a default. xgboost and lightgbm
    Boosters: the settings that differ from the library's defaults and the number of
    rounds. statsmodels results: the model's class and formula.
    """
    if not has_params(model):
        return flavor_of(model).params(model)
    if _is_search(model):
        return _search_params(model)
    try:
        deep = model.get_params(deep=True)
    except Exception:  # a get_params that needs what the object does not have
        return {}
    owners = {"": model, **{k: v for k, v in deep.items() if _is_nested(v)}}
    defaults = {prefix: _defaults(owner) for prefix, owner in owners.items()}
    chosen = {}
    for key, value in deep.items():
        prefix, _, name = key.rpartition("__")
        if _lists_named_members(value, prefix, deep):
            continue  # a Pipeline's steps: each is listed under its own name
        if prefix in defaults and _is_default(defaults[prefix], name, value):
            continue
        chosen[key] = table_value(value)
    return chosen


def model_metrics(model: Any) -> dict[str, float]:
    """Scores a model carries that belong with the run's metrics: a fitted search's
    ``best_score_`` (the mean cross-validated score of ``best_params_``) as ``best_score``."""
    if not hasattr(model, "best_params_"):
        return {}
    score = getattr(model, "best_score_", None)
    if isinstance(score, bool) or not isinstance(score, numbers.Real):
        return {}
    return {"best_score": float(score)} if math.isfinite(score) else {}


def contained_models(model: Any) -> list[Any]:
    """The estimators and Boosters inside ``model``, at any depth: its parameters
    (``get_params``: a Pipeline's steps, a search's template) and its fitted attributes
    (``transformers_``, ``best_estimator_``, ``estimators_``, a wrapper's Booster...).
    The objects themselves, not copies: compare them with ``is``."""
    found: list[Any] = []
    seen = {id(model)}
    stack = [model]
    while stack:
        for part in _parts(stack.pop()):
            if id(part) not in seen:
                seen.add(id(part))
                found.append(part)
                stack.append(part)
    return found


def top_level_models(models: Mapping[str, Any], fitted: Collection[str] = ()) -> dict[str, Any]:
    """``models`` (name -> model) without those that are a part of another of them, unless
    the name is in ``fitted`` (the cell fitted it on its own). So a Pipeline's preprocessor,
    fitted by the Pipeline's ``fit``, is saved once, inside the Pipeline."""
    parts = {id(part) for model in models.values() for part in contained_models(model)}
    return {name: m for name, m in models.items() if name in fitted or id(m) not in parts}


def _is_nested(value: Any) -> bool:
    return hasattr(value, "get_params") and not isinstance(value, type)


def _is_search(model: Any) -> bool:
    if hasattr(model, "best_params_"):
        return True
    try:
        return any(name in model.get_params(deep=False) for name in SEARCH_SPACES)
    except Exception:
        return False


def _search_params(search: Any) -> dict[str, Any]:
    shallow = search.get_params(deep=False)
    defaults = _defaults(search)
    chosen = {
        key: table_value(value)
        for key, value in shallow.items()
        if not _is_default(defaults, key, value)
    }
    for key in SEARCH_SPACES:
        if key in shallow:
            chosen[key] = json.dumps(table_value(shallow[key]))
    for key, value in getattr(search, "best_params_", {}).items():
        chosen[BEST + key] = table_value(value)
    return chosen


def _lists_named_members(value: Any, prefix: str, deep: Mapping[str, Any]) -> bool:
    """Whether ``value`` is a list of ``(name, estimator, ...)`` whose members ``deep``
    lists by name: ``steps``, ``transformers``, ``transformer_list``, ``estimators``."""
    if not isinstance(value, list | tuple) or not value:
        return False
    head = f"{prefix}__" if prefix else ""
    return all(
        isinstance(item, tuple) and item and isinstance(item[0], str) and head + item[0] in deep
        for item in value
    )


@functools.lru_cache(maxsize=512)
def _init_defaults(cls: Any) -> dict[str, Any]:
    """The constructor defaults of ``cls`` and of the classes it derives from: xgboost's
    ``XGBClassifier(objective=..., **kwargs)`` declares the rest in ``XGBModel``."""
    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None or klass is object:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                found.setdefault(p.name, p.default)  # the most derived class's default
    return {k: v for k, v in found.items() if v is not inspect.Parameter.empty}


def _defaults(owner: Any) -> dict[str, Any]:
    """The constructor's defaults, as the library's ``fit`` may have turned them."""
    return {**_init_defaults(owner.__class__), **flavor_of(owner).fitted_defaults(owner)}


def _is_default(defaults: Mapping[str, Any], name: str, value: Any) -> bool:
    if name not in defaults:
        # A step's name, or a setting passed on as **kwargs: chosen, unless reported unset.
        return value is None
    default = defaults[name]
    if _is_nested(value):
        return type(value) is type(default)  # its own settings are compared one by one
    return _same(default, value)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    for kind in (str, bool):
        if isinstance(a, kind) or isinstance(b, kind):
            return isinstance(a, kind) and isinstance(b, kind) and a == b
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return bool(a == b or (a != a and b != b))  # 1 and 1.0 alike; NaN as NaN
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # arrays compare element-wise: not a default
        return False


def _parts(model: Any) -> Iterator[Any]:
    if not _is_nested(model):
        return  # a Booster or a statsmodels result holds no other model
    values = list(getattr(model, "__dict__", {}).values())
    with contextlib.suppress(Exception):  # get_params may need what the object lacks
        values += model.get_params(deep=False).values()
    yield from _models_in(values, 0)


def _models_in(values: Iterable[Any], depth: int) -> Iterator[Any]:
    for value in values:
        if _is_nested(value) or any(defined_in(value, lib) for lib in _LEAF_LIBRARIES):
            yield value
        elif depth < 3:
            if isinstance(value, Mapping) and len(value) <= _MAX_SCANNED:
                yield from _models_in(value.values(), depth + 1)
            elif isinstance(value, list | tuple) and len(value) <= _MAX_SCANNED:
                yield from _models_in(value, depth + 1)
            elif _is_object_array(value) and value.size <= _MAX_SCANNED:
                yield from _models_in(value.ravel().tolist(), depth + 1)


def _is_object_array(value: Any) -> bool:
    """A numpy array of objects: gradient boosting keeps its trees in one."""
    return type(value).__module__ == "numpy" and getattr(value.dtype, "kind", "") == "O"
