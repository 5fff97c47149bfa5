"""``python -m jupyter_mlops.cli``: how launched pipeline runs start."""

from . import run

run()
