"""Moved to ``hmr.io.skeletons``; this module re-exports its names for old imports."""

from hmr.io.skeletons import (  # noqa: F401
    AXIS_RGB,
    CENTRE_RGB,
    GRID_HALF_WIDTH_M,
    GRID_RGB,
    GRID_STEP_M,
    LEFT_RGB,
    PANEL_BACKGROUND,
    RIGHT_RGB,
    SIDE_VIEW_HEIGHT_M,
    SIDE_VIEW_PITCH_DEG,
    SIDE_VIEW_YAW_DEG,
    draw_skeleton_2d,
    edge_colors,
    skeleton_panel,
)

__all__ = [
    "AXIS_RGB",
    "CENTRE_RGB",
    "GRID_HALF_WIDTH_M",
    "GRID_RGB",
    "GRID_STEP_M",
    "LEFT_RGB",
    "PANEL_BACKGROUND",
    "RIGHT_RGB",
    "SIDE_VIEW_HEIGHT_M",
    "SIDE_VIEW_PITCH_DEG",
    "SIDE_VIEW_YAW_DEG",
    "draw_skeleton_2d",
    "edge_colors",
    "skeleton_panel",
]
