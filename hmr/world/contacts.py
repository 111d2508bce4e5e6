"""Foot contacts and the contact-aware refinement of the root trajectory (world frame, y up).

A foot (SMPL's left or right foot joint) is in contact in a frame when it moves slower than
``CONTACT_SPEED_M_S`` (or is in its slowest ``CONTACT_QUANTILE`` of frames) and its sole (the lowest foot vertex) is within ``CONTACT_HEIGHT_M`` of the
floor. The refinement moves only the root translation: while a foot is in contact it is pinned
where it landed (horizontally) and onto the floor (vertically); a landing foot is pinned where the
already corrected body puts it, so the correction carries over from step to step and the drift
of a per-frame fit does not build up. Frames without contact take the correction of the nearest
contact frames (linearly between them).
"""

from __future__ import annotations

import numpy as np

from hmr.world.ground import LEFT_FOOT, RIGHT_FOOT

CONTACT_SPEED_M_S = 0.3
CONTACT_QUANTILE = 0.4  # a low foot in its slowest 40 % of frames counts as planted too
CONTACT_HEIGHT_M = 0.08
FOOT_JOINTS = (LEFT_FOOT[1], RIGHT_FOOT[1])  # SMPL's left_foot and right_foot
CONTACT_NAMES = ("left_foot", "right_foot")


def contact_labels(foot_points: np.ndarray, sole_height: np.ndarray, fps: float) -> np.ndarray:
    """(T, 2) bool contacts.

    Args:
        foot_points: (T, 2, 3) the left and right foot joints, world metres.
        sole_height: (T, 2) the feet's lowest points above the floor, metres.
        fps: frames per second.
    """
    step = np.linalg.norm(np.diff(foot_points, axis=0), axis=-1) * fps  # (T-1, 2) m/s
    speed = np.full(foot_points.shape[:2], np.inf)
    speed[1:] = step
    speed[:-1] = np.fmin(speed[:-1], step)
    limit = np.full(2, CONTACT_SPEED_M_S)
    for side in range(2):
        finite = speed[np.isfinite(speed[:, side]), side]
        if len(finite):
            limit[side] = max(CONTACT_SPEED_M_S, float(np.quantile(finite, CONTACT_QUANTILE)))
    return (speed <= limit) & (sole_height < CONTACT_HEIGHT_M)


def refine_translation(transl: np.ndarray, foot_points: np.ndarray, sole_height: np.ndarray,
                       contacts: np.ndarray) -> np.ndarray:
    """(T, 3) the root translation corrected so contact feet stay planted on the floor (y = 0).

    Args:
        transl: (T, 3) world metres (SMPL's ``transl``; any per-frame offset of the body works).
        foot_points: (T, 2, 3) the feet joints with this translation, world metres.
        sole_height: (T, 2) the feet's lowest points above the floor, metres.
        contacts: (T, 2) bool.
    """
    n = len(transl)
    correction = np.full((n, 3), np.nan)
    current = np.zeros(3)
    anchors: dict[int, np.ndarray] = {}
    for t in range(n):
        wanted = []
        for side in range(2):
            if not contacts[t, side]:
                anchors.pop(side, None)
                continue
            if side not in anchors:  # landing: pinned where the corrected body puts it
                anchors[side] = foot_points[t, side] + current
            move = anchors[side] - foot_points[t, side]
            move[1] = -sole_height[t, side]
            wanted.append(move)
        if wanted:
            current = np.mean(wanted, axis=0)
            correction[t] = current
    known = np.flatnonzero(np.isfinite(correction[:, 0]))
    if not len(known):
        return transl.copy()
    for k in range(3):
        correction[:, k] = np.interp(np.arange(n), known, correction[known, k])
    return transl + correction
