"""Moved to ``hmr.pose2d.stage``; this module re-exports its names for old imports."""

from hmr.pose2d.stage import *  # noqa: F401,F403
from hmr.pose2d.stage import __all__  # noqa: F401
