"""One progress bar for long work: a widget in a notebook, text on a terminal, nothing
elsewhere (a log file, a server). tqdm, and for the widget IPython, are imported only when a
bar is shown."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar"]


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(wanted: bool, total: int, name: str, unit: str) -> Any:
    """A tqdm bar of ``total`` ``unit``\\ s titled ``name`` when ``wanted`` and someone can
    see it; otherwise an object with the same methods that draws nothing."""
    if wanted and "IPython" in sys.modules:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=name, unit=unit, disable=None)
    if wanted and sys.stderr is not None and sys.stderr.isatty():
        from tqdm import tqdm as text_bar

        return text_bar(total=total, desc=name, unit=unit, leave=False)
    return _NoBar()
