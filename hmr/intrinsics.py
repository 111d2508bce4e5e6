"""Moved to ``hmr.core.intrinsics``; this module re-exports its names for old imports."""

from hmr.core.intrinsics import *  # noqa: F401,F403
from hmr.core.intrinsics import __all__  # noqa: F401
