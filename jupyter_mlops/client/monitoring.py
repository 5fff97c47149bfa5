"""Monitoring references and configurations: the Client's monitoring domain.

A reference (``monitoring/reference.py`` builds it) belongs to a logged model, so every
version registered from that model shares it; it is stored as compressed JSON and read back
whole. A configuration (:mod:`.monitor_config`) belongs to a registered model name.

Uses ``self.store`` as a :class:`~jupyter_mlops.store.base.MonitoringStore`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..entities import ALERT_STATES, MONITOR_ALERT_EVENT, AlertState, Event
from ..exceptions import IntegrityError, InvalidInput, NotFound, shown
from ..store.base import StoredReference
from .base import ClientBase
from .monitor_config import MonitorConfig
from .validation import check_json_object, check_text, now_ms, validate_key

if TYPE_CHECKING:
    from ..entities import LoggedModel, ModelVersion


class MonitoringMixin(ClientBase):
    if TYPE_CHECKING:

        def get_logged_model(self, ref: str) -> LoggedModel: ...

        def get_model_version(self, name: str, version: int | str) -> ModelVersion: ...

        def get_registered_model(self, name: str) -> Any: ...

        def list_model_servers(
            self, name: str | None = None, *, active_only: bool = False
        ) -> list[Any]: ...

        @staticmethod
        def _actor(actor: str | None) -> str: ...

    def save_reference(
        self,
        logged_model_id: str,
        reference: Mapping[str, Any],
        *,
        source: str = "",
        actor: str | None = None,
    ) -> StoredReference:
        """Store ``reference`` (a ``Reference.to_dict()``) as the logged model's monitoring
        reference, replacing the one it had."""
        logged = self.get_logged_model(logged_model_id)
        data = zlib.compress(json.dumps(reference, allow_nan=False).encode(), 6)
        stored = StoredReference(
            logged.id,
            int(reference.get("rows", 0)),
            check_text(source, "A reference's source", 4096),
            now_ms(),
            self._actor(actor),
            data,
        )
        self.store.put_reference(stored)
        return stored

    def get_reference(self, logged_model_id: str) -> dict[str, Any] | None:
        """A logged model's reference as a dict (``Reference.from_dict`` reads it), or None."""
        stored = self.store.get_reference(self.get_logged_model(logged_model_id).id)
        if stored is None:
            return None
        try:
            return json.loads(zlib.decompress(stored.data))
        except (zlib.error, ValueError) as exc:
            raise IntegrityError(
                f"The monitoring reference of model {shown(logged_model_id)} cannot be read: {exc}"
            ) from exc

    def version_reference(self, name: str, version: int | str) -> dict[str, Any]:
        """The reference of a registered version; NotFound, saying how to build one, when
        its model has none."""
        found = self.get_model_version(name, version)
        reference = self.get_reference(found.logged_model_id)
        if reference is None:
            raise NotFound(
                f"Model {found.name} version {found.version} has no monitoring reference. "
                "%%track builds one when a cell fits the model; build it now with "
                f"mlops.build_reference({found.name!r}, {found.version}, data=<training "
                "frame>) or `jupyter-mlops monitor reference "
                f"{found.name}/{found.version} --dataset <name>@<version>`."
            )
        return reference

    def reference_summaries(self, logged_model_ids: Sequence[str]) -> dict[str, StoredReference]:
        """Which of those logged models have a reference (rows, source, when), without data."""
        return self.store.references_of(list(logged_model_ids))

    def set_monitor_config(
        self, name: str, config: Any, *, actor: str | None = None
    ) -> MonitorConfig:
        """Configure how ``name`` is monitored (a mapping or YAML text; see
        :mod:`jupyter_mlops.client.monitor_config`); None restores the defaults."""
        validate_key(name, "model")
        self.get_registered_model(name)
        checked = MonitorConfig.from_dict(config)
        self.store.put_monitor_config(name, checked.to_dict(), self._actor(actor), now_ms())
        return checked

    def monitored_models(self) -> list[str]:
        """The models whose alerts a scheduler evaluates: those with a monitoring
        configuration, and those being served now (with the default rules)."""
        served = {s.name for s in self.list_model_servers(active_only=True)}
        return sorted(served | set(self.store.configured_monitors()))

    def list_alert_states(self, name: str | None = None) -> list[AlertState]:
        """Where each monitoring rule stands (of one model, when given)."""
        return self.store.alert_states(None if name is None else validate_key(name, "model"))

    def alert_history(
        self, name: str, *, after: int = 0, limit: int = 1000, newest: bool = False
    ) -> list[Event]:
        """``name``'s ``monitor.alert`` events (each a rule's change of state), oldest first:
        the first ``limit`` after event id ``after``, or with ``newest`` the last ``limit``."""
        validate_key(name, "model")
        if newest:
            return self.store.last_events(MONITOR_ALERT_EVENT, name, limit)
        return self.store.events_after(after, MONITOR_ALERT_EVENT, name, limit)

    def save_alert_state(self, state: AlertState, payload: Mapping[str, Any]) -> AlertState | None:
        """Store a rule's state after one evaluation (see
        :meth:`~jupyter_mlops.store.base.MonitoringStore.save_alert_state`)."""
        if state.state not in ALERT_STATES:
            raise InvalidInput(f"An alert state is one of {', '.join(ALERT_STATES)}.")
        return self.store.save_alert_state(state, check_json_object(payload, "An alert"), now_ms())

    def record_alert_delivery(self, name: str, rule: str, delivery: Mapping[str, Any]) -> None:
        self.store.record_alert_delivery(name, rule, delivery)

    def get_monitor_config(self, name: str) -> MonitorConfig:
        """``name``'s monitoring configuration (the defaults when none was set)."""
        stored = self.store.get_monitor_config(validate_key(name, "model"))
        if stored is None:
            return MonitorConfig()
        try:
            return MonitorConfig.from_dict(stored)
        except Exception as exc:  # written by a newer version with fields this one lacks
            raise NotFound(
                f"The monitoring configuration of {shown(name)} cannot be read: {exc}"
            ) from exc
