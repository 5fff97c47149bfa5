"""Serving registered models over HTTP: MLflow's scoring protocol and the Open Inference
Protocol v2, every prediction recorded, versions switched live.

``launch`` (start, stop) and ``options`` import no web framework; ``app`` and ``process``
(the server itself) do, and run only in the server's own processes.
"""

from .launch import ServerHandle, split_model_ref, start_server, stop_server
from .options import ServeOptions

__all__ = ["ServeOptions", "ServerHandle", "split_model_ref", "start_server", "stop_server"]
