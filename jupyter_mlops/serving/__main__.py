"""``python -m jupyter_mlops.serving``: a model server process (started by ``serve``)."""

import sys

from .process import main

sys.exit(main())
