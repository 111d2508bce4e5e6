"""Moved to ``hmr.core.provenance``; this module re-exports its names for old imports."""

from hmr.core.provenance import *  # noqa: F401,F403
from hmr.core.provenance import __all__  # noqa: F401
