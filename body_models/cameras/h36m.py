"""Human3.6M's camera maths as VideoPose3D does it (FORMATS §2.9): world ↔ camera frames by a
quaternion, normalised screen coordinates, and the projection with lens distortion.

numpy or torch in, the same type out.
"""

from __future__ import annotations

import numpy as np
import torch

from body_models.cameras.arrays import ArrayLike, _as_float_array, _check_last, _like, _stack_last
from body_models.errors import InputError


def _torch_view(x) -> tuple[torch.Tensor, bool]:
    """`x` as a float tensor and whether it came in as numpy (numpy shares memory when it can)."""
    if isinstance(x, torch.Tensor):
        return x, False
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(array)), True


def _back(result: torch.Tensor, was_numpy: bool) -> ArrayLike:
    return result.numpy() if was_numpy else result


def _rigid_inputs(X, R_quat, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]:
    """(points, quaternion, translation) as tensors like the points, their shapes checked, and
    whether the points came in as numpy."""
    points, was_numpy = _torch_view(X)
    _check_last(points, 3, "X", "(..., 3)")
    q = _like(R_quat, points)
    t = _like(t, points)
    _check_last(q, 4, "R_quat", "(..., 4)")
    _check_last(t, 3, "t", "(..., 3)")
    return points, q, t, was_numpy


def world_to_camera(X: ArrayLike, R_quat: ArrayLike, t: ArrayLike) -> ArrayLike:
    """World coordinates → camera coordinates of a Human3.6M camera (VideoPose3D convention).

    X_cam = q⁻¹ · (X − t) · q, with q = `R_quat` rotating camera-frame vectors into the world and
    t the camera position in the world.

    Args:
        X: (..., 3), metres, world frame.
        R_quat: (4,) or (..., 4) broadcasting with X's leading dimensions; (w, x, y, z), unit.
        t: (3,) or (..., 3), metres, world frame.

    Returns:
        (..., 3) metres, camera frame; numpy in → numpy out, with X's dtype.
    """
    from body_models.rotations import quaternion_apply, quaternion_inverse

    points, q, t, was_numpy = _rigid_inputs(X, R_quat, t)
    return _back(quaternion_apply(quaternion_inverse(q), points - t), was_numpy)


def camera_to_world(X: ArrayLike, R_quat: ArrayLike, t: ArrayLike) -> ArrayLike:
    """Camera coordinates → world coordinates, the inverse of `world_to_camera`: q · X + t.

    Args:
        X: (..., 3), metres, camera frame.
        R_quat: (4,) or (..., 4), (w, x, y, z), unit.
        t: (3,) or (..., 3), metres, world frame.

    Returns:
        (..., 3) metres, world frame; numpy in → numpy out, with X's dtype.
    """
    from body_models.rotations import quaternion_apply

    points, q, t, was_numpy = _rigid_inputs(X, R_quat, t)
    return _back(quaternion_apply(q, points) + t, was_numpy)


def normalize_screen_coordinates(X: ArrayLike, w: float, h: float) -> ArrayLike:
    """Pixels → VideoPose3D's normalised screen coordinates: X · 2/w − (1, h/w).

    x in [0, w] maps to [−1, 1]; y keeps the aspect ratio and spans [−h/w, h/w].

    Args:
        X: (..., 2) pixels.
        w, h: image width and height, pixels.

    Returns:
        (..., 2) normalised; numpy or torch like X.
    """
    X = _as_float_array(X)
    _check_last(X, 2, "X", "(..., 2)")
    return X / w * 2 - _like([1.0, h / w], X)


def image_coordinates(X: ArrayLike, w: float, h: float) -> ArrayLike:
    """Normalised screen coordinates → pixels, the inverse of `normalize_screen_coordinates`.

    Args:
        X: (..., 2) normalised.
        w, h: image width and height, pixels.

    Returns:
        (..., 2) pixels; numpy or torch like X.
    """
    X = _as_float_array(X)
    _check_last(X, 2, "X", "(..., 2)")
    return (X + _like([1.0, h / w], X)) * w / 2


def _intrinsic_for(intrinsic: ArrayLike, points: ArrayLike) -> ArrayLike:
    """(9,) or (N, 9) intrinsics shaped to broadcast against (N, ..., 3) points."""
    intrinsic = _like(intrinsic, points)
    _check_last(intrinsic, 9, "intrinsic", "(9,) or (N, 9)")
    if intrinsic.ndim > 1:
        if intrinsic.ndim != 2 or intrinsic.shape[0] != points.shape[0]:
            raise InputError(
                f"intrinsic must have shape (9,) or (N, 9) with N = X.shape[0] = {points.shape[0]}; "
                f"got {tuple(intrinsic.shape)}"
            )
        intrinsic = intrinsic.reshape((intrinsic.shape[0],) + (1,) * (points.ndim - 2) + (9,))
    return intrinsic


def _clamped_image_plane(points: ArrayLike) -> ArrayLike:
    """(x/z, y/z) clamped to [−1, 1], as VideoPose3D does before distortion."""
    ratio = points[..., :2] / points[..., 2:3]
    if isinstance(ratio, torch.Tensor):
        return torch.clamp(ratio, -1.0, 1.0)
    return np.clip(ratio, -1.0, 1.0)


def project_to_2d(X_cam: ArrayLike, intrinsic: ArrayLike) -> ArrayLike:
    """Human3.6M's projection with radial and tangential distortion (VideoPose3D `project_to_2d`).

    With p = clamp((x/z, y/z), −1, 1), r² = |p|², radial = 1 + k1 r² + k2 r⁴ + k3 r⁶ and
    tan = p1 p_x + p2 p_y: p' = p · (radial + tan) + (p1, p2) · r², output f ⊙ p' + c.

    Args:
        X_cam: (N, ..., 3) metres, camera frame (or (..., 3) with a single intrinsic vector).
        intrinsic: (9,) or (N, 9) = (fx, fy, cx, cy, k1, k2, k3, p1, p2), f and c in normalised
            screen units (the 9-value vector of FORMATS §2.8).

    Returns:
        (N, ..., 2) normalised screen coordinates (`image_coordinates` turns them into pixels).
    """
    points = _as_float_array(X_cam)
    _check_last(points, 3, "X_cam", "(N, ..., 3)")
    params = _intrinsic_for(intrinsic, points)
    f, c, k, p = params[..., 0:2], params[..., 2:4], params[..., 4:7], params[..., 7:9]
    plane = _clamped_image_plane(points)
    r2 = (plane ** 2).sum(-1)[..., None]  # (..., 1)
    radial = 1 + (k * _stack_last((r2[..., 0], r2[..., 0] ** 2, r2[..., 0] ** 3), r2)).sum(-1)[..., None]
    tangential = (p * plane).sum(-1)[..., None]
    distorted = plane * (radial + tangential) + p * r2
    return f * distorted + c


def project_to_2d_linear(X_cam: ArrayLike, intrinsic: ArrayLike) -> ArrayLike:
    """Pinhole projection with Human3.6M intrinsics and no distortion: f ⊙ clamp(xy/z, −1, 1) + c.

    Args:
        X_cam: (N, ..., 3) metres, camera frame.
        intrinsic: (9,) or (N, 9); only fx, fy, cx, cy are used.

    Returns:
        (N, ..., 2) normalised screen coordinates.
    """
    points = _as_float_array(X_cam)
    _check_last(points, 3, "X_cam", "(N, ..., 3)")
    params = _intrinsic_for(intrinsic, points)
    return params[..., 0:2] * _clamped_image_plane(points) + params[..., 2:4]
