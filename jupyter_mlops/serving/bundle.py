"""A model server's bundle: one registered version's verified bytes and what serving needs to
know of it, in a folder a server can run from without the registry (a container image).

``model.bin`` holds the bytes exactly as registered; ``model.json`` names the model, its
version, their sha256 (checked again before loading), the flavor, the class and the input
signature, and where it came from. A server started from a bundle records its predictions
in whatever store it is given (``JUPYTER_MLOPS_STORE``: a team's PostgreSQL, say), under
the bundle's model name and version, and follows nothing: an image serves one version.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import IntegrityError, InvalidInput, shown

if TYPE_CHECKING:
    from ..client import Client
    from .predictor import Predictor

META = "model.json"
MODEL = "model.bin"
FORMAT = 1


def write_bundle(client: Client, target: str, folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Write the bundle of the version ``target`` names (``churn@champion``...) into
    ``folder``; returns its metadata."""
    from .launch import split_model_ref

    name, ref = split_model_ref(target)
    version, logged, data = client.registered_model_bytes(f"models:/{name}{ref}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "name": version.name,
        "version": version.version,
        "sha256": version.sha256,
        "flavor": logged.flavor,
        "model_class": logged.model_class,
        "signature": logged.signature,
        "run_id": version.run_id,
        "registered_at": version.created_at,
        "registered_by": version.created_by,
        "built_from": f"models:/{name}{ref}",
    }
    (out / MODEL).write_bytes(data)
    (out / META).write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
    return meta


def read_bundle(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], bytes]:
    """The bundle's metadata and bytes, after checking the bytes against its sha256."""
    path = Path(folder)
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
        data = (path / MODEL).read_bytes()
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{shown(str(path))} is not a model bundle: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InvalidInput(f"{shown(str(path))} holds a bundle of an unknown format.")
    actual = hashlib.sha256(data).hexdigest()
    if actual != meta.get("sha256"):
        text = (
            f"The bundle's model bytes have sha256 {actual}, not the {meta.get('sha256')} "
            "registered; refusing to load them."
        )
        raise IntegrityError(text, public=text)
    return meta, data


def load_bundle(folder: str | os.PathLike[str]) -> Predictor:
    from ..models import load_model_bytes
    from .predictor import predictor_of

    meta, data = read_bundle(folder)
    return predictor_of(
        load_model_bytes(data),
        str(meta["name"]),
        int(meta["version"]),
        str(meta["sha256"]),
        meta.get("signature"),
        str(meta.get("flavor", "")),
        str(meta.get("model_class", "")),
    )
