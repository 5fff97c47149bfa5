"""Models: the parameters the user chose, the models %%track recognises, and saving each
library's models through a real Client so they load back to the same predictions."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import BaggingClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import jupyter_mlops as mlops
from jupyter_mlops.models import (
    chosen_params,
    contained_models,
    infer_signature,
    is_model,
    model_metrics,
    predict,
    top_level_models,
)

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
sm = pytest.importorskip("statsmodels.api")
smf = pytest.importorskip("statsmodels.formula.api")


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 120),
            "fare": rng.exponential(30, 120),
            "port": rng.choice(["C", "Q", "S"], 120),
        }
    )
    y = pd.Series(((X["age"] - 40) / 10 + rng.normal(0, 1, 120) > 0).astype(int), name="y")
    return X, y


def _numeric(frame: tuple[pd.DataFrame, pd.Series]) -> tuple[pd.DataFrame, pd.Series]:
    X, y = frame
    return X[["age", "fare"]], y


def _baseline(C: float = 1.0) -> Pipeline:
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "fare"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["port"]),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(C=C))])


def _logged_and_loaded(client, model, name="model", example=None):
    run_id = client.create_run("models", name)
    logged = client.log_model(run_id, model, name=name, input_example=example)
    return logged, client.load_model(f"runs:/{run_id}/{name}")


# Parameters: what the user chose ----------------------------------------------------------


def test_given_pipeline_with_column_transformer_then_only_chosen_params_are_listed(frame):
    pipe = _baseline(C=0.5).fit(*frame)
    assert len(pipe.get_params(deep=True)) > 30  # what used to be logged, defaults included
    assert chosen_params(pipe) == {
        "pre": "ColumnTransformer",
        "clf": "LogisticRegression",
        "pre__num": "StandardScaler",
        "pre__cat": "OneHotEncoder",
        "pre__cat__handle_unknown": "ignore",
        "clf__C": 0.5,
    }


def test_given_xgboost_wrapper_then_its_unset_none_settings_are_defaults():
    params = chosen_params(xgb.XGBClassifier(n_estimators=50))
    assert params == {"n_estimators": 50}


def test_given_multiclass_xgboost_classifier_then_the_objective_fit_chose_is_a_default(frame):
    X, _ = _numeric(frame)
    labels = np.arange(len(X)) % 3
    model = xgb.XGBClassifier(n_estimators=2, max_depth=2).fit(X, labels)
    assert model.objective == "multi:softprob"  # set by fit, not by the user
    assert chosen_params(model) == {"n_estimators": 2, "max_depth": 2}
    chosen = xgb.XGBClassifier(n_estimators=2, objective="multi:softmax").fit(X, labels)
    assert chosen_params(chosen) == {"n_estimators": 2, "objective": "multi:softmax"}


def test_given_lightgbm_wrapper_then_only_changed_settings_are_listed():
    assert chosen_params(lgb.LGBMRegressor(num_leaves=15, learning_rate=0.1)) == {"num_leaves": 15}


def test_given_tuple_settings_then_they_are_kept_as_lists():
    assert chosen_params(TfidfVectorizer(ngram_range=(1, 2))) == {"ngram_range": [1, 2]}
    assert chosen_params(MLPClassifier(hidden_layer_sizes=(50, 20))) == {
        "hidden_layer_sizes": [50, 20]
    }


def test_given_nan_default_then_it_is_a_default_and_a_set_value_is_not():
    assert chosen_params(SimpleImputer(missing_values=np.nan)) == {}
    assert chosen_params(SimpleImputer(missing_values=-1)) == {"missing_values": -1}


def test_given_the_default_value_written_out_then_it_is_not_a_choice():
    assert chosen_params(LogisticRegression(C=1, solver="lbfgs")) == {}


def test_given_none_where_default_is_not_none_then_it_is_a_choice():
    assert chosen_params(TfidfVectorizer(norm=None)) == {"norm": None}


def test_given_estimator_as_a_setting_then_class_name_and_its_own_choices():
    bag = BaggingClassifier(estimator=DecisionTreeClassifier(max_depth=2), n_estimators=5)
    assert chosen_params(bag) == {
        "estimator": "DecisionTreeClassifier",
        "estimator__max_depth": 2,
        "n_estimators": 5,
    }


def test_given_chosen_params_then_they_survive_json_unchanged(frame):
    pipe = Pipeline(
        [("tfidf", TfidfVectorizer(ngram_range=(1, 3), dtype=np.float32)), ("clf", MLPClassifier())]
    )
    params = chosen_params(pipe)
    assert params["tfidf__dtype"] == "float32"
    assert json.loads(json.dumps(params)) == params


def test_given_fitted_grid_search_then_best_params_and_grid_not_template_values(frame):
    search = GridSearchCV(_baseline(C=3.0), {"clf__C": [0.1, 1.0, 10.0]}, cv=3).fit(*frame)
    params = chosen_params(search)
    assert params["best.clf__C"] == search.best_params_["clf__C"]
    assert json.loads(params["param_grid"]) == {"clf__C": [0.1, 1.0, 10.0]}
    assert params["estimator"] == "Pipeline" and params["cv"] == 3
    assert not [k for k in params if k.startswith("estimator__")]  # C=3.0 was never used
    assert model_metrics(search) == {"best_score": search.best_score_}


def test_given_randomized_search_then_distributions_are_readable_text(frame):
    from scipy.stats import loguniform

    search = RandomizedSearchCV(
        LogisticRegression(),
        {"C": loguniform(1e-2, 1e2)},
        n_iter=3,
        cv=3,
        random_state=0,
    ).fit(*_numeric(frame))
    params = chosen_params(search)
    assert json.loads(params["param_distributions"]) == {"C": "loguniform(0.01, 100.0)"}
    assert params["best.C"] == search.best_params_["C"] and params["n_iter"] == 3


def test_given_halving_grid_search_then_best_params_are_recorded(frame):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    search = HalvingGridSearchCV(
        DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=3, random_state=0
    ).fit(*_numeric(frame))
    params = chosen_params(search)
    assert params["best.max_depth"] == search.best_params_["max_depth"]
    assert json.loads(params["param_grid"]) == {"max_depth": [1, 2, 3]}
    assert set(model_metrics(search)) == {"best_score"}


def test_given_an_estimator_that_is_not_a_search_then_no_metrics():
    assert model_metrics(LogisticRegression().fit([[0], [1]], [0, 1])) == {}


def test_given_xgboost_booster_then_params_are_the_settings_passed_to_train(frame):
    X, y = _numeric(frame)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.1, "subsample": 1.0},
        xgb.DMatrix(X, label=y),
        num_boost_round=20,
    )
    assert chosen_params(booster) == {
        "eta": 0.1,
        "max_depth": 3,
        "num_boost_round": 20,
        "objective": "binary:logistic",
    }


def test_given_xgboost_booster_with_only_defaults_then_no_params(frame):
    X, y = _numeric(frame)
    assert chosen_params(xgb.train({}, xgb.DMatrix(X, label=y))) == {}


def test_given_multiclass_xgboost_booster_then_class_count_and_metric_are_choices(frame):
    X, _ = _numeric(frame)
    labels = np.arange(len(X)) % 3
    booster = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "eval_metric": ["mlogloss", "merror"]},
        xgb.DMatrix(X, label=labels),
        num_boost_round=2,
    )
    assert chosen_params(booster) == {
        "eval_metric": ["mlogloss", "merror"],
        "num_boost_round": 2,
        "num_class": 3,
        "objective": "multi:softprob",
    }


def test_given_lightgbm_booster_then_params_are_those_passed_to_train(frame):
    X, y = _numeric(frame)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "learning_rate": 0.1, "verbose": -1},
        lgb.Dataset(X, label=y),
        num_boost_round=5,
    )
    assert chosen_params(booster) == {
        "num_iterations": 5,
        "num_leaves": 7,
        "objective": "binary",
        "verbose": -1,
    }


def test_given_statsmodels_result_then_params_are_model_and_formula(frame):
    X, y = frame
    result = smf.logit("y ~ age + fare", X.assign(y=y)).fit(disp=0)
    assert chosen_params(result) == {"model": "Logit", "formula": "y ~ age + fare"}


# What %%track recognises, and what it saves once ------------------------------------------


def test_given_objects_of_each_library_then_only_trained_models_are_recognised(frame):
    X, y = _numeric(frame)
    assert is_model(LogisticRegression().fit(X, y))
    assert is_model(xgb.XGBRegressor(n_estimators=2).fit(X, y))
    assert is_model(lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y))
    assert is_model(xgb.train({}, xgb.DMatrix(X, label=y), 2))
    assert is_model(lgb.train({"verbose": -1}, lgb.Dataset(X, label=y), 2))
    assert is_model(sm.OLS(y, sm.add_constant(X)).fit())
    assert not is_model(LogisticRegression())  # not fitted
    assert not is_model(sm.OLS(y, sm.add_constant(X)))  # a model, not its results
    assert not is_model(xgb.XGBClassifier)  # a class
    assert not is_model(X)
    assert not is_model(_MeanModel())  # saved when logged, not picked up by itself


def test_given_pipeline_fitting_its_preprocessor_then_the_preprocessor_is_a_part(frame):
    pipe = _baseline().fit(*frame)
    pre = pipe.named_steps["pre"]
    assert any(part is pre for part in contained_models(pipe))
    assert any(part is pre.transformers_[0][1] for part in contained_models(pipe))
    kept = top_level_models({"pipe": pipe, "pre": pre}, fitted={"pipe"})
    assert list(kept) == ["pipe"]


def test_given_preprocessor_fitted_on_its_own_then_it_is_kept(frame):
    pipe = _baseline().fit(*frame)
    models = {"pipe": pipe, "pre": pipe.named_steps["pre"]}
    assert list(top_level_models(models, fitted={"pipe", "pre"})) == ["pipe", "pre"]


def test_given_search_and_wrapper_then_best_estimator_and_booster_are_parts(frame):
    X, y = _numeric(frame)
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
    boosted = GradientBoostingClassifier(n_estimators=3).fit(X, y)
    wrapper = xgb.XGBClassifier(n_estimators=2).fit(X, y)
    models = {
        "search": search,
        "best": search.best_estimator_,
        "boosted": boosted,
        "tree": boosted.estimators_[1, 0],
        "wrapper": wrapper,
        "booster": wrapper.get_booster(),
    }
    assert list(top_level_models(models)) == ["search", "boosted", "wrapper"]


# Saved through a Client, loaded back to the same predictions ------------------------------


def test_given_xgboost_booster_when_logged_then_loads_in_its_own_format(client, frame):
    X, y = _numeric(frame)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), 10
    )
    logged, loaded = _logged_and_loaded(client, booster, "booster", X.head())
    assert logged.flavor == "xgboost" and logged.artifact_path == "models/booster/model.zip"
    assert logged.params["max_depth"] == 2
    assert isinstance(loaded, xgb.Booster)
    assert np.array_equal(loaded.predict(xgb.DMatrix(X)), booster.predict(xgb.DMatrix(X)))
    assert np.array_equal(predict(loaded, X), booster.inplace_predict(X))
    assert logged.signature["outputs"]["type"] == "ndarray"


def test_given_xgboost_booster_bytes_then_they_unzip_to_the_library_format(client, frame):
    import io
    import zipfile

    X, y = _numeric(frame)
    booster = xgb.train({}, xgb.DMatrix(X, label=y), 3)
    logged, _ = _logged_and_loaded(client, booster)
    archive = zipfile.ZipFile(io.BytesIO(client.artifacts.read_bytes(logged.sha256)))
    meta = json.loads(archive.read("MLmodel.json"))
    assert meta["flavor"] == "xgboost" and meta["model_class"] == "xgboost.core.Booster"
    plain = xgb.Booster()
    plain.load_model(bytearray(archive.read(meta["file"])))
    assert np.array_equal(plain.inplace_predict(X), booster.inplace_predict(X))
    again, _ = _logged_and_loaded(client, booster)
    assert again.sha256 == logged.sha256  # the same model, the same bytes


def test_given_xgboost_classifier_when_logged_then_loads_with_its_settings(client, frame):
    X, y = _numeric(frame)
    model = xgb.XGBClassifier(n_estimators=8, max_depth=2).fit(X, y)
    logged, loaded = _logged_and_loaded(client, model, "xgb", X.head())
    assert logged.flavor == "xgboost" and logged.params == {"n_estimators": 8, "max_depth": 2}
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert logged.signature["classes"] == [0, 1]


def test_given_lightgbm_booster_when_logged_then_loads_from_its_text(client, frame):
    X, y = _numeric(frame)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 4, "verbose": -1}, lgb.Dataset(X, label=y), 10
    )
    logged, loaded = _logged_and_loaded(client, booster, "lgb")
    assert logged.flavor == "lightgbm" and logged.artifact_path.endswith("model.zip")
    assert logged.signature["inputs"]["columns"] == [
        {"name": "age", "dtype": "unknown"},
        {"name": "fare", "dtype": "unknown"},
    ]
    assert isinstance(loaded, lgb.Booster)
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X), rtol=0, atol=0)


def test_given_early_stopped_lightgbm_booster_then_loaded_predicts_as_its_best(client, frame):
    X, y = _numeric(frame)
    train, valid = lgb.Dataset(X[:90], label=y[:90]), lgb.Dataset(X[90:], label=y[90:])
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "learning_rate": 0.5},
        train,
        50,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(2, verbose=False)],
    )
    _, loaded = _logged_and_loaded(client, booster)
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X), rtol=0, atol=0)


def test_given_lightgbm_classifier_when_logged_then_predicts_the_same(client, frame):
    X, y = _numeric(frame)
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(X, y)
    logged, loaded = _logged_and_loaded(client, model, "lgbm")
    assert logged.flavor == "lightgbm" and logged.artifact_path.endswith("model.joblib")
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_given_statsmodels_ols_when_logged_then_predicts_the_same(client, frame):
    X, y = _numeric(frame)
    exog = sm.add_constant(X)
    result = sm.OLS(y.astype(float), exog).fit()
    logged, loaded = _logged_and_loaded(client, result, "ols")
    assert logged.flavor == "statsmodels" and logged.params == {"model": "OLS"}
    assert logged.signature["inputs"]["names"] == ["const", "age", "fare"]
    assert np.array_equal(loaded.predict(exog), result.predict(exog))


def test_given_statsmodels_formula_logit_when_logged_then_predicts_the_same(client, frame):
    X, y = frame
    result = smf.logit("y ~ age + fare + C(port)", X.assign(y=y)).fit(disp=0)
    logged, loaded = _logged_and_loaded(client, result, "logit", X.head())
    assert logged.flavor == "statsmodels"
    assert np.array_equal(loaded.predict(X), result.predict(X))


def _stored_meta(client, logged) -> dict:
    """The ``MLmodel.json`` of a model's stored zip."""
    with zipfile.ZipFile(io.BytesIO(client.artifacts.read_bytes(logged.sha256))) as archive:
        return json.loads(archive.read("MLmodel.json"))


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: LogisticRegression().fit(X[["age", "fare"]], y),
        lambda X, y: _baseline().fit(X, y),
        lambda X, y: RandomForestClassifier(n_estimators=10, random_state=0).fit(
            X[["age", "fare"]], y
        ),
        lambda X, y: GridSearchCV(_baseline(), {"clf__C": [0.1, 1.0]}, cv=3).fit(X, y),
    ],
    ids=["logistic", "pipeline", "forest", "grid_search"],
)
def test_given_sklearn_model_when_logged_then_saved_with_skops_and_predicts_the_same(
    client, frame, make
):
    X, y = frame
    model = make(X, y)
    logged, loaded = _logged_and_loaded(client, model, "sk")
    assert logged.flavor == "sklearn" and logged.artifact_path == "models/sk/model.zip"
    meta = _stored_meta(client, logged)
    assert meta["format"] == "skops" and meta["file"] == "model.skops"
    assert meta["model_class"] == f"{type(model).__module__}.{type(model).__qualname__}"
    assert type(loaded) is type(model)
    inputs = X[list(model.feature_names_in_)]
    assert np.array_equal(loaded.predict_proba(inputs), model.predict_proba(inputs))


class _Clip(TransformerMixin, BaseEstimator):
    """An estimator written by the user (here in the test module, as in a notebook)."""

    def fit(self, X, y=None):
        self.high_ = np.asarray(X).max(axis=0)
        return self

    def transform(self, X):
        return np.minimum(np.asarray(X), self.high_)


@pytest.mark.parametrize(
    "step",
    [FunctionTransformer(lambda a: np.log1p(np.abs(a))), _Clip()],
    ids=["lambda", "own_class"],
)
def test_given_pipeline_with_code_outside_sklearn_when_logged_then_pickled_and_loads(
    client, frame, step
):
    X, y = _numeric(frame)
    pipe = Pipeline([("step", step), ("lr", LinearRegression())]).fit(X, y)
    logged, loaded = _logged_and_loaded(client, pipe, "pipe")
    assert logged.flavor == "sklearn" and logged.artifact_path == "models/pipe/model.joblib"
    assert np.array_equal(loaded.predict(X), pipe.predict(X))


def _skops_model_zip(payload: bytes) -> bytes:
    """A model zip as log_model writes one for scikit-learn, holding ``payload``."""
    meta = {"flavor": "sklearn", "format": "skops", "file": "model.skops"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("MLmodel.json", json.dumps(meta))
        archive.writestr("model.skops", payload)
    return buf.getvalue()


class _Marker:
    """What an attacker's class does when it is rebuilt: run code (here, write a file)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setstate__(self, state: dict) -> None:
        with open(state["path"], "w") as out:
            out.write("ran")


def test_given_skops_file_naming_a_class_outside_sklearn_then_refused_and_nothing_runs(
    tmp_path,
):
    import skops.io

    from jupyter_mlops.models import load_model_bytes

    marker = tmp_path / "marker"
    payload = skops.io.dumps(_Marker(str(marker)))
    with pytest.raises(mlops.IntegrityError, match=r"Refusing to load .*_Marker"):
        load_model_bytes(_skops_model_zip(payload))
    assert not marker.exists()
    # What the refusal prevented: skops told to trust the class runs its code.
    skops.io.loads(payload, trusted=skops.io.get_untrusted_types(data=payload))
    assert marker.read_text() == "ran"


def test_given_skops_file_calling_a_numpy_function_then_refused_and_nothing_is_written(
    tmp_path,
):
    import skops.io

    from jupyter_mlops.models import load_model_bytes

    target = tmp_path / "written.pth"
    # numpy is trusted, but numpy.savetxt called with the file's arguments writes any text
    # to any path (a .pth file in site-packages runs at the next interpreter start).
    args = [str(target), [[0]], "%d", " ", "\n", "import os", "", ""]
    schema = {
        "__class__": "savetxt",
        "__module__": "numpy",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [
                {
                    "__class__": "str",
                    "__module__": "builtins",
                    "__loader__": "JsonNode",
                    "content": json.dumps(a),
                    "is_json": True,
                }
                for a in args
            ],
        },
    }
    with zipfile.ZipFile(io.BytesIO(skops.io.dumps([]))) as real:
        schema["protocol"] = json.loads(real.read("schema.json"))["protocol"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    payload = buf.getvalue()
    with pytest.raises(mlops.IntegrityError, match=r"numpy\.savetxt"):
        load_model_bytes(_skops_model_zip(payload))
    assert not target.exists()
    skops.io.loads(payload, trusted=skops.io.get_untrusted_types(data=payload))
    assert target.read_text().startswith("import os")


class _MeanModel:
    """Any object with predict: what a user wraps a model in."""

    def __init__(self, value: float = 0.5) -> None:
        self.value = value

    def predict(self, X):
        return np.full(len(X), self.value)


def test_given_object_with_predict_when_logged_then_it_loads_as_pickle(client, frame):
    logged, loaded = _logged_and_loaded(client, _MeanModel(0.25), "mean", frame[0].head())
    assert logged.flavor == "pickle" and logged.params == {}
    assert logged.signature["outputs"] == {"type": "ndarray", "dtype": "float64", "shape": [-1]}
    assert np.array_equal(loaded.predict(frame[0]), np.full(len(frame[0]), 0.25))


def test_given_class_written_in_a_notebook_when_logged_then_another_process_loads_it(
    client, store_dir
):
    # The class lives in the logging process's __main__, as a notebook's classes do.
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import jupyter_mlops as mlops

        class Doubler:
            def predict(self, X):
                return np.asarray(X) * 2

        with mlops.start_run():
            print(mlops.log_model(Doubler(), name="doubler").id)
        """
    )
    env = {**os.environ, "JUPYTER_MLOPS_HOME": str(store_dir)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    loaded = client.load_model(done.stdout.strip())
    assert type(loaded).__name__ == "Doubler"
    assert loaded.predict([1, 2]).tolist() == [2, 4]


def test_given_model_that_cannot_be_pickled_when_logged_then_invalid_input(client):
    model = _MeanModel()
    model.lock = threading.Lock()
    run_id = client.create_run("models")
    with pytest.raises(mlops.InvalidInput, match=r"'locked' .*cannot be saved"):
        client.log_model(run_id, model, name="locked")


def test_given_model_stored_by_joblib_dump_then_it_still_loads():
    import io

    import joblib

    from jupyter_mlops.models import load_model_bytes

    buf = io.BytesIO()
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), buf)  # how models were saved
    assert load_model_bytes(buf.getvalue()).predict([[1.0]]).tolist() == [1]


def test_given_booster_without_example_then_signature_from_its_feature_names(frame):
    X, y = _numeric(frame)
    booster = xgb.train({}, xgb.DMatrix(X, label=y), 2)
    assert infer_signature(booster) == {
        "inputs": {
            "type": "dataframe",
            "columns": [{"name": "age", "dtype": "float"}, {"name": "fare", "dtype": "float"}],
        }
    }


def test_given_sklearn_models_then_no_other_model_library_is_imported():
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from jupyter_mlops.models import chosen_params, contained_models, dump_model
        from jupyter_mlops.models import infer_signature, is_model, load_model_bytes

        class Plain:
            def predict(self, X):
                return X

        for obj in (LogisticRegression().fit([[0], [1]], [0, 1]), Plain(), np.zeros(3)):
            is_model(obj), chosen_params(obj), contained_models(obj), infer_signature(obj)
            load_model_bytes(dump_model(obj))
        print(sorted({"xgboost", "lightgbm", "statsmodels"} & set(sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
