"""Moved to ``hmr.core.imagenet``; this module re-exports its names for old imports."""

from hmr.core.imagenet import *  # noqa: F401,F403
from hmr.core.imagenet import __all__  # noqa: F401
