"""REST routes of the panel's model servers: list them, start one for a registered version,
read one, stop one.

A server is started by ``serving.launch.start_server``, as a notebook or ``jupyter-mlops serve
--detach`` starts it: its own process and session (it outlives the lab), its options read by
:meth:`ServeOptions.from_json` limited to the fields declared for REST, the Jupyter user as
who started it. Starting blocks until the server answers (seconds; minutes for a large
model) and stopping until its record ends, so both run on the store threads, never on the
event loop. The model is resolved before anything is spawned: a target that names no
version is a 404 at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tornado import web

from ..entities import ACTIVE_SERVER_STATES, ID_PREFIX_PATTERN
from ..exceptions import InvalidInput, shown
from .registry_handlers import RegistryHandler

if TYPE_CHECKING:
    from ..client import Client
    from ..entities import ModelServer
    from ..serving.options import ServeOptions

_MAX_MODEL = 1000
_FLAGS = {"": True, "1": True, "true": True, "0": False, "false": False}


def _serve_options(data: Any) -> ServeOptions:
    """The options of a start request (``{}`` when left out), as the REST fields allow."""
    from ..serving.options import ServeOptions, rest_fields

    if data is None:
        data = {}
    # from_json iterates allowed_hosts as given: a number would escape as a TypeError, and
    # text would be taken as its characters. A list (or null) is the only JSON shape of it.
    if isinstance(data, dict) and not isinstance(data.get("allowed_hosts"), list | None):
        raise InvalidInput(
            f"allowed_hosts must be a list of host names, got {shown(data['allowed_hosts'])}."
        )
    return ServeOptions.from_json(data, allowed=rest_fields())


class ServingHandler(RegistryHandler):
    """Base of the serving routes: the registry's actor and body fields."""

    async def stop(self, server_id: str) -> None:
        """Stop the server and answer with its ended record (202 with the live one if it has
        not ended within the wait: it stops at its next heartbeat, wherever it runs)."""
        from ..serving.launch import stop_server

        record = await self.call(stop_server, self.client, server_id)
        self.reply(record.to_dict(), status=202 if record.status in ACTIVE_SERVER_STATES else 200)


class ServersHandler(ServingHandler):
    @web.authenticated
    async def get(self) -> None:
        model = self.text_arg("model", _MAX_MODEL) or None
        show_all = self._flag_arg("all")
        servers = await self.call(self.client.list_model_servers, model, active_only=not show_all)
        self.reply({"servers": [s.to_dict() for s in servers]})

    @web.authenticated
    async def post(self) -> None:
        data = self.fields(("target", "options"), ("target",))
        target = self.text(data, "target") or ""
        options = _serve_options(data.get("options"))

        def start(client: Client, actor: str) -> ModelServer:
            from ..serving.launch import start_server

            handle = start_server(client, target, options, actor=actor)
            return client.get_model_server(handle.id)

        record = await self.call(start, self.client, self.actor)
        self.reply(record.to_dict(), status=201)

    def _flag_arg(self, name: str) -> bool:
        """``?all``, ``?all=1`` or ``?all=true``: on; absent, ``0`` or ``false``: off."""
        text = self.text_arg(name, 10)
        if text is None:
            return False
        value = _FLAGS.get(text.strip().lower())
        if value is None:
            raise InvalidInput(f"Query argument {name!r} must be 1 or 0, got {shown(text)}.")
        return value


class ServerHandler(ServingHandler):
    @web.authenticated
    async def get(self, server_id: str) -> None:
        record = await self.call(self.client.get_model_server, server_id)
        self.reply(record.to_dict())

    @web.authenticated
    async def delete(self, server_id: str) -> None:
        await self.stop(server_id)


class StopHandler(ServingHandler):
    @web.authenticated
    async def post(self, server_id: str) -> None:
        self.fields(())
        await self.stop(server_id)


def serving_routes(prefix: str) -> list[tuple[str, type[RegistryHandler]]]:
    server = rf"/{prefix}/servers/(?P<server_id>{ID_PREFIX_PATTERN})"
    return [
        (rf"/{prefix}/servers", ServersHandler),
        (server, ServerHandler),
        (rf"{server}/stop", StopHandler),
    ]
