"""Moved to ``hmr.core.fastpath``; this module re-exports its names for old imports."""

from hmr.core.fastpath import *  # noqa: F401,F403
from hmr.core.fastpath import __all__  # noqa: F401
