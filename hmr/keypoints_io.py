"""Moved to ``hmr.pose2d.keypoints_io``; this module re-exports its names for old imports."""

from hmr.pose2d.keypoints_io import *  # noqa: F401,F403
from hmr.pose2d.keypoints_io import __all__  # noqa: F401
