"""A loaded model version and how it answers.

:func:`load_predictor` resolves what a server follows (``@champion``, ``/Production``,
``/3``) to one version, loads its bytes through the Client, which checks them against the
sha256 recorded at registration before anything is deserialised, reads its input spec, and
answers one request before it is used, so a version that cannot predict is never switched to.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import InvalidInput, MlopsError
from .spec import InputSpec, spec_for

if TYPE_CHECKING:
    from ..client import Client

log = logging.getLogger("jupyter_mlops.serving")


class ModelRefused(MlopsError):
    """The model's own checks refused an input the signature allowed."""

    code = "MODEL_REFUSED"
    http_status = 422


@dataclass(frozen=True)
class Predictor:
    name: str
    version: int
    sha256: str
    model: Any
    spec: InputSpec
    flavor: str
    model_class: str
    # The flavor's predict, found once (finding it walks the model's classes).
    predict_with: Callable[[Any, Any], Any] = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.predict_with is None:
            from ..models.flavors import flavor_of

            object.__setattr__(self, "predict_with", flavor_of(self.model).predict)

    @property
    def has_proba(self) -> bool:
        return callable(getattr(self.model, "predict_proba", None))

    def predict(self, inputs: Any, method: str = "predict") -> np.ndarray:
        """The model's answer. The errors a library raises for input it cannot take
        (ValueError, TypeError, KeyError: a value its scaling overflows, a category it was
        not fitted on) are the request's fault, as the registry's robustness gate judges
        them: :class:`ModelRefused` (422). Anything else is the model's: a 500."""
        if method == "predict_proba" and not self.has_proba:
            raise InvalidInput(
                f"Model {self.name} version {self.version} ({self.model_class}) has no "
                "predict_proba."
            )
        try:
            if method == "predict_proba":
                return np.asarray(self.model.predict_proba(inputs))
            return np.asarray(self.predict_with(self.model, inputs))
        except (ValueError, TypeError, KeyError) as exc:
            log.warning(
                "model %s version %s refused an input: %s: %s",
                self.name, self.version, type(exc).__name__, exc,
            )  # fmt: skip
            raise ModelRefused(
                f"The model refused this input ({type(exc).__name__}); the server's log "
                "has its message."
            ) from exc

    @functools.cached_property
    def scorer(self) -> Callable[[Any], Any] | None:
        """What the recorder scores a classifier's predicted rows with (its
        ``predict_proba``); None for a model without classes and scores."""
        if self.has_proba and getattr(self.model, "classes_", None) is not None:
            return self.model.predict_proba
        return None

    def classes(self) -> list[Any] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else np.asarray(classes).tolist()


def resolve_version(client: Client, name: str, ref: str) -> int:
    """The version ``models:/<name><ref>`` names now."""
    return client.resolve_model_uri(f"models:/{name}{ref}").version


def load_predictor(client: Client, name: str, version: int) -> Predictor:
    """Load and check version ``version`` of ``name``; it has answered one request."""
    found = client.get_model_version(name, version)
    logged = client.get_logged_model(found.logged_model_id)
    # load_model checks the bytes against the sha256 recorded at registration (and audits a
    # mismatch, or a skops file naming a type it may not load) before anything is loaded.
    model = client.load_model(f"models:/{name}/{version}", actor="model server")
    return predictor_of(
        model, name, found.version, found.sha256, logged.signature, logged.flavor,
        logged.model_class,
    )  # fmt: skip


def predictor_of(
    model: Any,
    name: str,
    version: int,
    sha256: str,
    signature: Any,
    flavor: str,
    model_class: str,
) -> Predictor:
    """A loaded model ready to answer: its input spec read, one prediction made."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = spec_for(model, signature)
    predictor = Predictor(
        name=name,
        version=version,
        sha256=sha256,
        model=model,
        spec=spec,
        flavor=flavor,
        model_class=model_class,
    )
    _warm_up(predictor)
    return predictor


def _warm_up(predictor: Predictor) -> None:
    """One prediction on a row of zeros (numbers) or empty text, so the first client does
    not pay for lazy imports and caches, and a model that cannot predict fails here."""
    spec = predictor.spec
    if not spec.numeric or spec.width is None:
        return
    row = [[0.0] * spec.width]
    try:
        predictor.predict(spec.from_rows(row, None))
    except Exception:
        log.warning(
            "model %s version %s failed its warm-up prediction",
            predictor.name,
            predictor.version,
            exc_info=True,
        )
