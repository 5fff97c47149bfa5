"""Names a package exports but imports on first use, so that a process loads only the part of
jupyter-mlops it uses (the CLI needs no pandas, a cached pipeline run no orchestrator)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each name from its submodule
    (``names``: exported name -> submodule, relative to the package) when first asked for,
    then keeps it in the package, so later uses (``mlops.log_metric`` in a loop) cost a
    plain attribute lookup."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
