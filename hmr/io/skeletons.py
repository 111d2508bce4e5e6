"""Skeletons drawn for people to look at: 2D keypoints over a frame, 3D joints in a side panel.

The person's left side is drawn in ``LEFT_RGB`` (blue), the right in ``RIGHT_RGB`` (orange) and
the middle (nose to hips, the spine) in ``CENTRE_RGB``, so a figure seen from behind cannot be
mistaken for one seen from the front. The 3D panel adds a ground grid under the feet and the
camera axes (x right, y down, z forward) in a corner.
"""

from __future__ import annotations

import numpy as np

from body_models.joints import JOINT_SETS

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

LEFT_RGB = (70, 150, 255)
RIGHT_RGB = (255, 130, 50)
CENTRE_RGB = (235, 235, 235)
GRID_RGB = (90, 90, 90)
AXIS_RGB = ((230, 60, 60), (60, 200, 60), (80, 120, 255))  # x, y, z
PANEL_BACKGROUND = 24
SIDE_VIEW_YAW_DEG = 35.0  # the 3D panel looks at the joints from a little to the side
SIDE_VIEW_PITCH_DEG = 20.0  # and from a little above, so that the ground grid shows
SIDE_VIEW_HEIGHT_M = 2.2  # metres of body the 3D panel's height spans
GRID_STEP_M = 0.5
GRID_HALF_WIDTH_M = 1.5


def edge_colors(joint_set: str) -> list[tuple[int, int, int]]:
    """RGB colour of each edge of ``joint_set``: left, right, or centre by the joints' names."""
    joints = JOINT_SETS[joint_set]

    def side(index: int) -> str:
        name = joints.names[index]
        return "left" if name.startswith("left_") else "right" if name.startswith("right_") else "centre"

    colors = []
    for a, b in joints.edges:
        sides = {side(a), side(b)} - {"centre"}
        colors.append(LEFT_RGB if sides == {"left"} else RIGHT_RGB if sides == {"right"} else CENTRE_RGB)
    return colors


def draw_skeleton_2d(image: np.ndarray, keypoints: np.ndarray, joint_set: str = "coco_17",
                     min_confidence: float = 0.2, thickness: int = 2) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 RGB with the people's skeletons drawn.

    Args:
        keypoints: (P, J, 3) pixels x, y, confidence in ``joint_set``'s order; an edge is drawn
            when both its joints are finite and above ``min_confidence``.
    """
    import cv2

    out = np.ascontiguousarray(image).copy()
    edges = JOINT_SETS[joint_set].edges
    colors = edge_colors(joint_set)
    for person in np.asarray(keypoints, np.float64).reshape(-1, *np.shape(keypoints)[-2:]):
        ok = np.isfinite(person).all(-1) & (np.nan_to_num(person[:, 2]) > min_confidence)
        for (a, b), color in zip(edges, colors):
            if ok[a] and ok[b]:
                cv2.line(out, tuple(int(round(v)) for v in person[a, :2]), tuple(int(round(v)) for v in person[b, :2]),
                         color, thickness, cv2.LINE_AA)
    return out


def _side_view() -> np.ndarray:
    yaw, pitch = np.radians(SIDE_VIEW_YAW_DEG), np.radians(SIDE_VIEW_PITCH_DEG)
    turn = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    return tilt @ turn


def skeleton_panel(joints: np.ndarray, valid: np.ndarray, size: int, joint_set: str = "h36m_17") -> np.ndarray:
    """(size, size, 3) uint8 RGB: the 3D skeletons of one frame, root-relative, seen from the side
    at ``SIDE_VIEW_YAW_DEG`` and from ``SIDE_VIEW_PITCH_DEG`` above (orthographic; camera frame,
    so y points down), on a ground grid
    (``GRID_STEP_M`` squares under the lowest foot) with the camera axes in the lower left corner.

    Args:
        joints: (P, J, 3) metres, root-relative, in ``joint_set``'s order.
        valid: (P,) bool, the people to draw.
    """
    import cv2

    panel = np.full((size, size, 3), PANEL_BACKGROUND, np.uint8)
    rotation = _side_view()
    scale = size / SIDE_VIEW_HEIGHT_M

    def to_pixels(points: np.ndarray) -> np.ndarray:
        return (np.asarray(points) @ rotation.T)[..., :2] * scale + size / 2

    people = [(p, np.asarray(points)) for p, (points, ok) in enumerate(zip(joints, valid))
              if ok and np.isfinite(points).all()]
    ground = max((points[:, 1].max() for _, points in people), default=0.9)  # y down: the lowest joint
    ticks = np.arange(-GRID_HALF_WIDTH_M, GRID_HALF_WIDTH_M + 1e-9, GRID_STEP_M)
    for t in ticks:  # lines along z at x = t, and along x at z = t
        for a, b in (((t, ground, -GRID_HALF_WIDTH_M), (t, ground, GRID_HALF_WIDTH_M)),
                     ((-GRID_HALF_WIDTH_M, ground, t), (GRID_HALF_WIDTH_M, ground, t))):
            ua, ub = to_pixels(np.array([a, b]))
            cv2.line(panel, tuple(int(v) for v in ua), tuple(int(v) for v in ub), GRID_RGB, 1, cv2.LINE_AA)

    colors = edge_colors(joint_set)
    for _, points in people:
        uv = to_pixels(points)
        for (a, b), color in zip(JOINT_SETS[joint_set].edges, colors):
            cv2.line(panel, tuple(int(v) for v in uv[a]), tuple(int(v) for v in uv[b]), color, 2, cv2.LINE_AA)

    origin = np.array([0.12 * size, 0.88 * size])
    length = 0.3 / SIDE_VIEW_HEIGHT_M * size  # 0.3 m
    for axis, (name, color) in enumerate(zip("xyz", AXIS_RGB)):
        direction = (rotation @ np.eye(3)[axis])[:2]
        tip = origin + direction * length
        cv2.arrowedLine(panel, tuple(int(v) for v in origin), tuple(int(v) for v in tip), color, 2, cv2.LINE_AA,
                        tipLength=0.25)
        cv2.putText(panel, name, (int(tip[0]) + 3, int(tip[1]) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1,
                    cv2.LINE_AA)
    cv2.putText(panel, f"grid {GRID_STEP_M:g} m", (int(0.05 * size), int(0.06 * size) + 6),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 200, 200), 1, cv2.LINE_AA)
    return panel
