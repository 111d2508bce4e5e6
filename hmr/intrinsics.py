"""Moved to ``hmr.core.intrinsics``; this module re-exports its names for old imports."""

from hmr.core.intrinsics import (  # noqa: F401
    K_KEYS,
    DIST_KEYS,
    DIST_LENGTHS,
    Intrinsics,
    default_focal_length,
    resolve_intrinsics,
    load_calibration,
)

__all__ = ['K_KEYS', 'DIST_KEYS', 'DIST_LENGTHS', 'Intrinsics', 'default_focal_length', 'resolve_intrinsics', 'load_calibration']
