"""Moved to ``hmr.core.weights``; this module re-exports its names for old imports."""

from hmr.core.weights import *  # noqa: F401,F403
from hmr.core.weights import __all__  # noqa: F401
