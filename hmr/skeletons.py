"""Moved to ``hmr.io.skeletons``; this module re-exports its names for old imports."""

from hmr.io.skeletons import (  # noqa: F401
    LEFT_RGB,
    RIGHT_RGB,
    CENTRE_RGB,
    GRID_RGB,
    AXIS_RGB,
    PANEL_BACKGROUND,
    SIDE_VIEW_YAW_DEG,
    SIDE_VIEW_PITCH_DEG,
    SIDE_VIEW_HEIGHT_M,
    GRID_STEP_M,
    GRID_HALF_WIDTH_M,
    edge_colors,
    draw_skeleton_2d,
    skeleton_panel,
)

__all__ = ['LEFT_RGB', 'RIGHT_RGB', 'CENTRE_RGB', 'GRID_RGB', 'AXIS_RGB', 'PANEL_BACKGROUND', 'SIDE_VIEW_YAW_DEG', 'SIDE_VIEW_PITCH_DEG', 'SIDE_VIEW_HEIGHT_M', 'GRID_STEP_M', 'GRID_HALF_WIDTH_M', 'edge_colors', 'draw_skeleton_2d', 'skeleton_panel']
