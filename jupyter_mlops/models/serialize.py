"""Model (de)serialisation and input/output signatures.

The bytes stored for a model say how to load them:

* a model saved in a format that is not pickle is a zip holding ``MLmodel.json`` (flavor,
  format, class, library version) and that file: an xgboost or lightgbm Booster in its
  library's own portable format (``model.ubj``, ``model.txt``), which the library itself loads
  once unzipped; a scikit-learn model whose types are all scikit-learn's, numpy's or scipy's
  in skops' format (``model.skops``), which loads without running pickle code (see
  :mod:`.estimators`);
* any other model (a scikit-learn model holding a notebook's class or a lambda, xgboost's and
  lightgbm's scikit-learn wrappers, statsmodels results, an object with ``predict``) is a
  pickle, which ``joblib.load`` reads, as stores written before the zip existed hold.

Pickle runs code when loaded, which is why the Client only loads bytes whose sha256 matches
the registry row. A skops file naming a type outside those libraries is refused: log_model
never writes one, so it was altered or crafted.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from typing import Any

import numpy as np

from ..exceptions import MlopsError
from .flavor import PICKLE, class_path, unpickle_bytes
from .flavors import flavor_named, flavor_of

META = "MLmodel.json"
_ZIP_MAGIC = b"PK\x03\x04"  # a pickle starts with b"\x80" (protocol 2 and later)
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's first date: the same model gives the same bytes


def dump_model(model: Any) -> bytes:
    flavor = flavor_of(model)
    fmt, data = flavor.dump(model)
    if fmt == PICKLE:
        return data
    library = type(model).__module__.partition(".")[0]
    file_name = f"model.{fmt}"
    meta = {
        "flavor": flavor.name,
        "format": fmt,
        "file": file_name,
        "model_class": class_path(model),
        "library_version": getattr(sys.modules.get(library), "__version__", None),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in ((META, json.dumps(meta, indent=1).encode()), (file_name, data)):
            archive.writestr(zipfile.ZipInfo(name, _EPOCH), content, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def load_model_bytes(data: bytes) -> Any:
    if not data.startswith(_ZIP_MAGIC):
        return unpickle_bytes(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        meta = json.loads(archive.read(META))
        flavor = flavor_named(str(meta.get("flavor")))
        if flavor is None:
            raise MlopsError(
                f"This model was saved by the {meta.get('flavor')!r} flavor, which this "
                "version of jupyter-mlops does not know: upgrade jupyter-mlops to load it."
            )
        return flavor.load(str(meta.get("format")), archive.read(str(meta.get("file"))))


def artifact_name(data: bytes) -> str:
    """The file name a model's bytes from :func:`dump_model` are stored under in its run."""
    return "model.zip" if data.startswith(_ZIP_MAGIC) else "model.joblib"


def describe_model(model: Any) -> tuple[str, str]:
    """``(flavor, class path)`` of a model object."""
    return flavor_of(model).name, class_path(model)


def predict(model: Any, data: Any) -> Any:
    """``model``'s predictions for ``data``, however its library predicts (an xgboost
    Booster takes an array or a frame here, without a DMatrix)."""
    return flavor_of(model).predict(model, data)


def _describe_columns(example: Any) -> dict[str, Any] | None:
    import pandas as pd

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

    Without an example, the model's own record of what it was trained on is used
    (scikit-learn's ``feature_names_in_``, a Booster's feature names, a formula).
    """
    flavor = flavor_of(model)
    signature: dict[str, Any] = {}
    if input_example is not None:
        signature["inputs"] = _describe_columns(input_example)
        try:
            prediction = flavor.predict(model, input_example)
            signature["outputs"] = _describe_columns(np.asarray(prediction))
        except Exception:
            signature["outputs"] = None
    else:
        inputs = flavor.inputs(model)
        if inputs is not None:
            signature["inputs"] = inputs
    classes = getattr(model, "classes_", None)
    if classes is not None:
        signature["classes"] = np.asarray(classes).tolist()
    return signature or None
