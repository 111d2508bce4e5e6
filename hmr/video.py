"""Moved to ``hmr.io.video``; this module re-exports its names for old imports."""

from hmr.io.video import *  # noqa: F401,F403
from hmr.io.video import __all__  # noqa: F401
