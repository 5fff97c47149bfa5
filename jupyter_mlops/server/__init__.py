"""The Jupyter Server extension: the store over an authenticated REST API for the lab."""

from .app import MlopsApp

__all__ = ["MlopsApp"]
