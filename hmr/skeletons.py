"""Moved to ``hmr.io.skeletons``; this module re-exports its names for old imports."""

from hmr.io.skeletons import *  # noqa: F401,F403
from hmr.io.skeletons import __all__  # noqa: F401
