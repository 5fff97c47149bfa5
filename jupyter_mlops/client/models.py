"""Models logged by runs: serialised into the artifact store with their signature and
parameters, loaded back only after their sha256 matches. The Client's model domain.

Uses ``self.store`` as an :class:`~jupyter_mlops.store.base.ArtifactIndex`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ..entities import Artifact, LoggedModel, jsonable
from ..exceptions import IntegrityError, InvalidInput, NotFound, shown
from .base import ClientBase
from .registry import MODELS_SCHEME
from .validation import check_text, now_ms, validate_key

if TYPE_CHECKING:
    from ..entities import ModelVersion, Run


class ModelsMixin(ClientBase):
    if TYPE_CHECKING:

        def get_run(self, run_id: str) -> Run: ...

        def resolve_model_uri(self, uri: str) -> ModelVersion: ...

        @staticmethod
        def _actor(actor: str | None) -> str: ...

        def log_artifact_bytes(
            self, run_id: str, data: bytes, path: str, kind: str = "file"
        ) -> Artifact: ...

    def log_model(
        self, run_id: str, model: Any, name: str = "model", input_example: Any = None
    ) -> LoggedModel:
        """Save ``model`` under ``name`` in the run: a scikit-learn model with skops where it
        can (loading it runs no pickle code), a Booster in its library's own format, any
        other object that can be pickled (one with ``predict`` is what serving needs)."""
        from ..models import (
            artifact_name,
            chosen_params,
            describe_model,
            dump_model,
            infer_signature,
        )

        validate_key(name, "model")
        try:
            data = dump_model(model)
        except Exception as exc:  # what pickle raises depends on what it met
            raise InvalidInput(
                f"Model {name!r} ({type(model).__name__}) cannot be saved: "
                f"{type(exc).__name__}: {exc}. Log the fitted estimator itself, without "
                "open files, locks or connections among its attributes."
            ) from exc
        flavor, cls = describe_model(model)
        path = f"models/{name}/{artifact_name(data)}"
        art = self.log_artifact_bytes(run_id, data, path, kind="model")
        logged = LoggedModel(
            id=uuid.uuid4().hex,
            run_id=run_id,
            name=name,
            flavor=flavor,
            model_class=cls,
            artifact_path=path,
            sha256=art.sha256,
            signature=infer_signature(model, input_example),
            params=jsonable(chosen_params(model)),
            created_at=now_ms(),
        )
        self.store.record_model(logged)
        return logged

    def get_logged_model(self, ref: str) -> LoggedModel:
        """A logged model by id (or unique prefix) or ``runs:/<run_id>/<name>``."""
        check_text(ref, "A model reference", 512, empty=False)
        if ref.startswith("runs:/"):
            run_id, _, name = ref[len("runs:/") :].partition("/")
            matches = [m for m in self.get_run(run_id).models if m.name == (name or "model")]
            if not matches:
                raise NotFound(f"Run {shown(run_id)} logged no model named {shown(name)}.")
            return matches[-1]
        if not all(ch in "0123456789abcdef" for ch in ref):
            raise InvalidInput(
                f"Unknown model reference {shown(ref)}: use a model id or runs:/<run id>/<name>."
            )
        return self.store.get_logged_model(ref)

    def load_model(self, ref: str, *, actor: str | None = None) -> Any:
        """Load a model after checking its sha256: a logged model by id or
        ``runs:/<run_id>/<name>``, or a registered version by ``models:/churn@champion``,
        ``models:/churn/Production`` or ``models:/churn/3``.

        Raises:
            IntegrityError: the stored bytes no longer match the sha256 recorded for them
                (for a registered version, the one recorded at registration), or a
                scikit-learn model saved with skops names a type it may not load. Nothing is
                unpickled; for a registered version, an ``integrity_failure`` entry naming
                who tried is appended to the registry's audit.
        """
        from ..models import load_model_bytes

        if not (isinstance(ref, str) and ref.startswith(MODELS_SCHEME)):
            logged = self.get_logged_model(ref)
            return load_model_bytes(self.artifacts.read_bytes(logged.sha256))
        version, _, data = self.registered_model_bytes(ref, actor=actor)
        try:
            # A skops file naming a type outside scikit-learn, numpy and scipy is refused
            # here, before anything in it runs.
            return load_model_bytes(data)
        except IntegrityError as exc:
            self.store.record_integrity_failure(
                version.name, version.version, self._actor(actor), exc.public, now_ms()
            )
            raise

    def registered_model_bytes(
        self, uri: str, *, actor: str | None = None
    ) -> tuple[ModelVersion, LoggedModel, bytes]:
        """The stored bytes of the version ``uri`` names, after checking them against the
        sha256 recorded at registration (a mismatch is audited, as :meth:`load_model`
        does): what a model server or a container image is built from."""
        version = self.resolve_model_uri(uri)
        logged = self.get_logged_model(version.logged_model_id)
        try:
            if logged.sha256 != version.sha256:
                text = (
                    f"Model {version.name} version {version.version} was registered with "
                    f"sha256 {version.sha256}, but its logged model now records "
                    f"{logged.sha256}; refusing to load it."
                )
                raise IntegrityError(text, public=text)
            return version, logged, self.artifacts.read_bytes(version.sha256)
        except IntegrityError as exc:
            # The audit keeps the public text: where the blob lives is for the log only.
            self.store.record_integrity_failure(
                version.name, version.version, self._actor(actor), exc.public, now_ms()
            )
            raise

    def latest_model_sha(self, name: str) -> str | None:
        """The sha256 of the newest model logged under ``name`` (None if there is none)."""
        return self.records.latest_model_sha(validate_key(name, "model"))
