"""Stores by URL scheme: a small registry, open to plug-ins through an entry-point group.

``open_store("sqlite:///…")`` or ``open_store("postgresql://…")`` gives a
:class:`~jupyter_mlops.store.base.Store`. Another backend (an HTTP store for teams, say)
declares itself in its package's metadata, with no change here::

    [project.entry-points."jupyter_mlops.stores"]
    https = "mlops_http_store:HttpStore"   # a Store subclass taking the URL

The built-in schemes are looked up without reading entry points, so opening the default store
costs no scan of the installed distributions.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidInput, shown

if TYPE_CHECKING:
    from .base import RecordStore, Store

ENTRY_POINT_GROUP = "jupyter_mlops.stores"
StoreFactory = Callable[[str], "Store"]

_SQL = "jupyter_mlops.store.sql.store:SqlStore"
_BUILTIN: dict[str, str] = {
    "sqlite": _SQL,
    "postgresql": _SQL,
    "postgresql+psycopg": _SQL,
}
_registered: dict[str, StoreFactory] = {}
# Run records that open faster than their store (see open_records).
_RECORDS_BUILTIN = {"sqlite": "jupyter_mlops.store.sql.lite:sqlite_records"}


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Use ``factory(url)`` for URLs of ``scheme`` in this process (over any other)."""
    _registered[scheme.lower()] = factory


def scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise InvalidInput(
            f"Store URL {shown(url)} has no scheme: use sqlite:///path/to/mlops.db or "
            "postgresql://user@host/db."
        )
    return scheme.lower()


def _load(target: str) -> Any:
    """``package.module:name``, imported."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def store_factory(url: str) -> StoreFactory:
    """The factory for ``url``'s scheme: registered in this process, built in, or declared
    by an installed package under the ``jupyter_mlops.stores`` entry-point group."""
    scheme = scheme_of(url)
    if scheme in _registered:
        return _registered[scheme]
    if scheme in _BUILTIN:
        builtin: StoreFactory = _load(_BUILTIN[scheme])
        return builtin
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.lower() == scheme:
            factory: StoreFactory = ep.load()
            return factory
    plugins = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    known = sorted({*_BUILTIN, *_registered, *plugins})
    raise InvalidInput(
        f"No store for URLs of scheme {scheme!r}; known schemes: {', '.join(known)}."
    )


def open_store(url: str) -> Store:
    """Open (creating or upgrading its schema if needed) the store at ``url``."""
    return store_factory(url)(url)


def open_records(url: str) -> RecordStore | None:
    """What recording and listing runs needs, opened without the store when its backend can
    do that faster: a SQLite file at the current schema, through plain ``sqlite3`` (opening
    the store imports SQLAlchemy, most of a short command's time). None when the store
    itself must be opened: any other backend, a file to create or upgrade."""
    scheme = scheme_of(url)
    if scheme in _registered or scheme not in _RECORDS_BUILTIN:
        return None
    records: Callable[[str], RecordStore | None] = _load(_RECORDS_BUILTIN[scheme])
    return records(url)
