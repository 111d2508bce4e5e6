"""Where a fit starts: SPIN's mean parameters as axis-angle, the upright root, rotations given as
matrices, and the start turned to face the other way."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from body_models.errors import InputError
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rot6d_to_matrix

__all__ = ["UPRIGHT_ROOT", "mean_params_to_axis_angle", "turned_about_vertical"]

# The root of HMR's and SPIN's initial pose: π about x turns SMPL's y-up body upright in the
# y-down camera frame.
UPRIGHT_ROOT = (math.pi, 0.0, 0.0)


def mean_params_to_axis_angle(mean_params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """SPIN's ``smpl_mean_params.npz`` content as axis-angle SMPL parameters.

    Args:
        mean_params: ``pose (144,)`` 24 × SPIN 6D and ``shape (10,)`` (e.g. ``np.load`` of the
            file, or ``body_models.mannequin.mean_params()``).

    Returns:
        ``global_orient (3,)``, ``body_pose (69,)``, ``betas (10,)`` float32.
    """
    pose = np.asarray(mean_params["pose"], dtype=np.float64).reshape(-1)
    if pose.shape != (144,):
        raise InputError(f"mean params 'pose' must have 144 values (24 × 6D); got {pose.shape}")
    axis_angle = matrix_to_axis_angle(rot6d_to_matrix(torch.from_numpy(pose).reshape(24, 6))).numpy()
    return {"global_orient": axis_angle[0].astype(np.float32),
            "body_pose": axis_angle[1:].reshape(69).astype(np.float32),
            "betas": np.asarray(mean_params["shape"], dtype=np.float32).reshape(-1)}


def _as_axis_angle(value: Tensor, joints: int, name: str, lead: tuple[int, ...]) -> Tensor:
    """(..., joints·3) axis-angle from axis-angle or (..., joints, 3, 3) rotation matrices."""
    if value.shape == (*lead, joints * 3):
        return value
    if value.shape == (*lead, joints, 3, 3) or (joints == 1 and value.shape == (*lead, 3, 3)):
        return matrix_to_axis_angle(value).reshape(*lead, joints * 3)
    raise InputError(f"{name} must have shape {(*lead, joints * 3)} (axis-angle) or "
                     f"{(*lead, joints, 3, 3)} (rotation matrices); got {tuple(value.shape)}")


def turned_about_vertical(global_orient: Tensor) -> Tensor:
    """(..., 3) axis-angle → the same orientation turned 180° about the camera's vertical (y)
    axis: the body faces the other way, upright as before."""
    turn = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]], dtype=global_orient.dtype,
                        device=global_orient.device)
    return matrix_to_axis_angle(turn @ axis_angle_to_matrix(global_orient))
