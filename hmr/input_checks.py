"""Moved to ``hmr.core.input_checks``; this module re-exports its names for old imports."""

from hmr.core.input_checks import (  # noqa: F401
    FPS_TOLERANCE,
    align_frame_indices,
    check_fps,
    check_image_size,
)

__all__ = [
    "align_frame_indices",
    "check_fps",
    "check_image_size",
]
