"""Skeleton drawing: left and right in two colours; the 3D panel's ground grid and axes."""

import numpy as np

from body_models.joints import COCO_17, H36M_17
from hmr.io.skeletons import (AXIS_RGB, CENTRE_RGB, GRID_RGB, LEFT_RGB, PANEL_BACKGROUND, RIGHT_RGB, draw_skeleton_2d,
                           edge_colors, skeleton_panel)


def _count(image, rgb, tolerance=0):
    return int((np.abs(image.astype(int) - np.array(rgb)) <= tolerance).all(-1).sum())


def test_left_and_right_are_drawn_in_two_colours():
    colors = dict(zip(COCO_17.edges, edge_colors("coco_17")))
    names = COCO_17.names
    assert colors[(names.index("left_elbow"), names.index("left_wrist"))] == LEFT_RGB
    assert colors[(names.index("right_elbow"), names.index("right_wrist"))] == RIGHT_RGB
    assert set(edge_colors("h36m_17")) == {LEFT_RGB, RIGHT_RGB, CENTRE_RGB}

    keypoints = np.full((1, 17, 3), np.nan)
    keypoints[0, names.index("left_elbow")] = (20, 10, 1.0)
    keypoints[0, names.index("left_wrist")] = (20, 50, 1.0)
    keypoints[0, names.index("right_elbow")] = (60, 10, 1.0)
    keypoints[0, names.index("right_wrist")] = (60, 50, 0.1)  # too unsure: not drawn
    image = draw_skeleton_2d(np.zeros((64, 80, 3), np.uint8), keypoints, "coco_17")
    assert _count(image[:, 15:25], LEFT_RGB) > 30 and _count(image, RIGHT_RGB) == 0


def test_the_3d_panel_has_a_ground_grid_and_axes():
    joints = np.zeros((1, 17, 3))
    joints[0, :, 1] = np.linspace(-0.8, 0.9, 17)  # a standing figure, feet at y = 0.9 m
    empty = skeleton_panel(joints, np.array([False]), 200)
    drawn = skeleton_panel(joints, np.array([True]), 200)
    assert _count(empty[100:], GRID_RGB, tolerance=40) > 300, "the grid is there even without a person"
    for rgb in AXIS_RGB:
        assert _count(drawn, rgb, tolerance=40) > 10
    assert (drawn != empty).any(-1).sum() > 100 and _count(drawn, (PANEL_BACKGROUND,) * 3) > 0.5 * 200 * 200
    assert len(H36M_17.edges) == len(edge_colors("h36m_17"))
