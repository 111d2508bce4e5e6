"""Moved to ``hmr.core.standins``; this module re-exports its names for old imports."""

from hmr.core.standins import *  # noqa: F401,F403
from hmr.core.standins import __all__  # noqa: F401
from hmr.core.standins import DEMO_HRNET_NAME, DEMO_REGRESSOR_NAME  # noqa: F401 (not in __all__, used by old imports)
