"""Dataset fingerprints and profiles.

Note: ``jupyter_mlops.data.fingerprint`` is the *function* once this package is imported;
reach the module itself with ``importlib.import_module("jupyter_mlops.data.fingerprint")``
or ``from jupyter_mlops.data.fingerprint import file_fingerprint``.
"""

from jupyter_mlops.data.fingerprint import fingerprint
from jupyter_mlops.data.profile import column_schema, profile_frame

__all__ = ["column_schema", "fingerprint", "profile_frame"]
