"""Moved to ``hmr.io.render``; this module re-exports its names for old imports."""

from hmr.io.render import *  # noqa: F401,F403
from hmr.io.render import __all__  # noqa: F401
