"""Moved to ``hmr.regressor.discriminator``; this module re-exports its names for old imports."""

from hmr.regressor.discriminator import *  # noqa: F401,F403
from hmr.regressor.discriminator import __all__  # noqa: F401
