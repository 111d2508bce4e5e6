"""Moved to ``hmr.pose2d.boxes``; this module re-exports its names for old imports."""

from hmr.pose2d.boxes import *  # noqa: F401,F403
from hmr.pose2d.boxes import __all__  # noqa: F401
