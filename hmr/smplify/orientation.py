"""A body orientation from 3D joints (the lifter's), to start SMPLify facing the right way.

    orient = orientation_from_joints(joints3d)   # (..., 17, 3) H36M-17, camera frame → (..., 3)

SMPL's own frame has x towards the body's left, y up and z the way it faces; the orientation is
the rotation taking those axes onto the joints' left (hips and shoulders, right to left), up
(pelvis to thorax) and their cross product, in the camera frame (x right, y down, z forward).
"""

from __future__ import annotations

import numpy as np
import torch

from body_models.joints import H36M_17
from body_models.rotations import matrix_to_axis_angle

_NAMES = H36M_17.names
_LEFT = [_NAMES.index("left_hip"), _NAMES.index("left_shoulder")]
_RIGHT = [_NAMES.index("right_hip"), _NAMES.index("right_shoulder")]
_PELVIS, _THORAX = _NAMES.index("pelvis"), _NAMES.index("thorax")


def orientation_from_joints(joints: np.ndarray) -> np.ndarray:
    """(..., 17, 3) H36M-17 joints, metres, camera frame → (..., 3) axis-angle ``global_orient``;
    NaN where a joint is missing or the torso is degenerate."""
    joints = np.asarray(joints, np.float64)
    left = (joints[..., _LEFT, :] - joints[..., _RIGHT, :]).sum(-2)  # (..., 3) towards the body's left
    up = joints[..., _THORAX, :] - joints[..., _PELVIS, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        x = left / np.linalg.norm(left, axis=-1, keepdims=True)
        y = up - (up * x).sum(-1, keepdims=True) * x
        y = y / np.linalg.norm(y, axis=-1, keepdims=True)
    z = np.cross(x, y)
    rotation = np.stack([x, y, z], -1)  # columns: the body's axes in the camera frame
    ok = np.isfinite(rotation).all((-1, -2))
    out = np.full(joints.shape[:-2] + (3,), np.nan)
    if ok.any():
        out[ok] = matrix_to_axis_angle(torch.from_numpy(rotation[ok])).numpy()
    return out.astype(np.float32)
