"""Moved to ``hmr.core.input_checks``; this module re-exports its names for old imports."""

from hmr.core.input_checks import *  # noqa: F401,F403
from hmr.core.input_checks import __all__  # noqa: F401
from hmr.core.input_checks import FPS_TOLERANCE  # noqa: F401 (not in __all__, used by old imports)
