"""Moved to ``hmr.core.standins``; this module re-exports its names for old imports."""

from hmr.core.standins import (  # noqa: F401
    DEMO_HRNET_NAME,
    DEMO_REGRESSOR_NAME,
    stand_in_lines,
)

__all__ = [
    "stand_in_lines",
]
