"""Moved to ``hmr.core.intrinsics``; this module re-exports its names for old imports."""

from hmr.core.intrinsics import (  # noqa: F401
    DIST_KEYS,
    DIST_LENGTHS,
    Intrinsics,
    K_KEYS,
    default_focal_length,
    load_calibration,
    resolve_intrinsics,
)

__all__ = [
    "DIST_KEYS",
    "DIST_LENGTHS",
    "Intrinsics",
    "K_KEYS",
    "default_focal_length",
    "load_calibration",
    "resolve_intrinsics",
]
