"""Rotation conversions: the one place in the project that turns one rotation format into another.

Every function works on torch tensors with any leading dimensions (`(..., 3)`, `(..., 3, 3)`,
`(..., 4)`, `(..., 6)`), keeps the dtype and device of its input, and is differentiable. Values
and gradients stay finite at the zero rotation and near a half turn (angle π).

Conventions:

- Axis-angle: a 3-vector whose direction is the axis and whose length is the angle in radians.
  Conversions to axis-angle return angles in [0, π].
- Rotation matrices act on column vectors: `x' = R @ x`.
- Quaternions are ordered (w, x, y, z), scalar first, as in VideoPose3D.
- 6D: SPIN's layout (see `rot6d_to_matrix`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from body_models.errors import InputError

# Below these squared magnitudes a series expansion replaces a 0/0 ratio. The expansions used
# are accurate to float64 precision well past these bounds.
_SMALL_ANGLE_SQ = 1e-4
_SMALL_NORM_SQ = 1e-12


def _check_last_dims(x: torch.Tensor, dims: tuple[int, ...], name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < len(dims) or tuple(x.shape[x.ndim - len(dims):]) != dims:
        wanted = ", ".join(["..."] + [str(d) for d in dims])
        raise InputError(f"{name} must have shape ({wanted}), got {tuple(x.shape)}")


def _skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrix: `_skew(v) @ w == cross(v, w)`. (..., 3) -> (..., 3, 3)."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    rows = (
        torch.stack((zero, -z, y), dim=-1),
        torch.stack((z, zero, -x), dim=-1),
        torch.stack((-y, x, zero), dim=-1),
    )
    return torch.stack(rows, dim=-2)


def _safe_sqrt(x: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
    """sqrt(x) where `small` is False, 1 where it is True; the gradient is finite everywhere."""
    return torch.sqrt(torch.where(small, torch.ones_like(x), x))


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from axis-angle vectors (Rodrigues' formula).

    R = I + (sin θ / θ) K + ((1 − cos θ) / θ²) K², with K the cross-product matrix of the
    axis-angle vector and θ its length; both ratios use their Taylor series near θ = 0.

    Args:
        axis_angle: (..., 3), radians.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_last_dims(axis_angle, (3,), "axis_angle")
    angle_sq = (axis_angle * axis_angle).sum(-1)  # (...)
    small = angle_sq < _SMALL_ANGLE_SQ
    angle = _safe_sqrt(angle_sq, small)
    half_sin = torch.sin(0.5 * angle)
    sin_over_angle = torch.where(
        small, 1.0 - angle_sq / 6.0 + angle_sq * angle_sq / 120.0, torch.sin(angle) / angle
    )
    # 1 - cos θ = 2 sin²(θ/2), which avoids cancellation for small θ.
    one_minus_cos_over_angle_sq = torch.where(
        small,
        0.5 - angle_sq / 24.0 + angle_sq * angle_sq / 720.0,
        2.0 * half_sin * half_sin / (angle * angle),
    )
    k = _skew(axis_angle)  # (..., 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return (
        eye
        + sin_over_angle[..., None, None] * k
        + one_minus_cos_over_angle_sq[..., None, None] * (k @ k)
    )


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """Unit quaternions from axis-angle vectors.

    Args:
        axis_angle: (..., 3), radians.

    Returns:
        (..., 4) unit quaternions (w, x, y, z) with w = cos(θ/2) ≥ 0 for θ ≤ π.
    """
    _check_last_dims(axis_angle, (3,), "axis_angle")
    angle_sq = (axis_angle * axis_angle).sum(-1, keepdim=True)  # (..., 1)
    small = angle_sq < _SMALL_ANGLE_SQ
    angle = _safe_sqrt(angle_sq, small)
    # sin(θ/2) / θ and its series 1/2 − θ²/48 + θ⁴/3840.
    half_sin_over_angle = torch.where(
        small, 0.5 - angle_sq / 48.0 + angle_sq * angle_sq / 3840.0, torch.sin(0.5 * angle) / angle
    )
    w = torch.where(
        small, 1.0 - angle_sq / 8.0 + angle_sq * angle_sq / 384.0, torch.cos(0.5 * angle)
    )
    return torch.cat((w, axis_angle * half_sin_over_angle), dim=-1)


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors from quaternions.

    The quaternion need not have unit length. q and −q give the same result, with the angle in
    [0, π].

    Args:
        quaternion: (..., 4), (w, x, y, z).

    Returns:
        (..., 3) axis-angle, radians.
    """
    _check_last_dims(quaternion, (4,), "quaternion")
    # q and -q are the same rotation; pick w >= 0 so the angle lies in [0, pi].
    sign = torch.where(quaternion[..., :1] < 0, -1.0, 1.0).to(quaternion.dtype)
    quaternion = quaternion * sign
    w = quaternion[..., :1]
    xyz = quaternion[..., 1:]
    norm_sq = (xyz * xyz).sum(-1, keepdim=True)  # (..., 1), sin²(θ/2) for a unit quaternion
    small = norm_sq < _SMALL_NORM_SQ
    norm = _safe_sqrt(norm_sq, small)
    # θ / |xyz| = 2 atan2(|xyz|, w) / |xyz|; for small |xyz| its series is (2/w)(1 − |xyz|²/(3w²)).
    w_safe = torch.where(small, w, torch.ones_like(w))
    ratio = torch.where(
        small,
        2.0 / w_safe * (1.0 - norm_sq / (3.0 * w_safe * w_safe)),
        2.0 * torch.atan2(norm, w) / norm,
    )
    return xyz * ratio


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from quaternions.

    The quaternion need not have unit length; it is normalised on the way.

    Args:
        quaternion: (..., 4), (w, x, y, z).

    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_last_dims(quaternion, (4,), "quaternion")
    w, x, y, z = quaternion.unbind(-1)
    two_s = 2.0 / (quaternion * quaternion).sum(-1)
    entries = (
        1 - two_s * (y * y + z * z), two_s * (x * y - z * w), two_s * (x * z + y * w),
        two_s * (x * y + z * w), 1 - two_s * (x * x + z * z), two_s * (y * z - x * w),
        two_s * (x * z - y * w), two_s * (y * z + x * w), 1 - two_s * (x * x + y * y),
    )
    return torch.stack(entries, dim=-1).reshape(quaternion.shape[:-1] + (3, 3))


def _sqrt_positive_part(x: torch.Tensor) -> torch.Tensor:
    """sqrt(max(x, 0)) with a zero gradient where x ≤ 0."""
    positive = x > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), 0.0)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """Unit quaternions from rotation matrices, stable for every angle including π.

    Each of 4|w|, 4|x|, 4|y|, 4|z| squared can be read from the diagonal; the quaternion is
    recovered from whichever of the four is largest (at least 1 for a rotation matrix), so no
    small number is ever divided by.

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 4) unit quaternions (w, x, y, z), sign chosen so that w ≥ 0.
    """
    _check_last_dims(matrix, (3, 3), "matrix")
    m = matrix.reshape(matrix.shape[:-2] + (9,)).unbind(-1)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m
    # 2|w|, 2|x|, 2|y|, 2|z|
    q_abs = _sqrt_positive_part(
        torch.stack(
            (
                1.0 + m00 + m11 + m22,
                1.0 + m00 - m11 - m22,
                1.0 - m00 + m11 - m22,
                1.0 - m00 - m11 + m22,
            ),
            dim=-1,
        )
    )  # (..., 4)
    # Row k is the quaternion scaled by 4·q_k, computed without q_k's sign ambiguity.
    candidates = torch.stack(
        (
            torch.stack((q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01), dim=-1),
            torch.stack((m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20), dim=-1),
            torch.stack((m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21), dim=-1),
            torch.stack((m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2), dim=-1),
        ),
        dim=-2,
    )  # (..., 4, 4)
    # The floor only matters for rows that are not selected; it keeps their gradients finite.
    candidates = candidates / (2.0 * q_abs.clamp(min=0.1))[..., None]
    best = q_abs.argmax(dim=-1)  # (...)
    index = best[..., None, None].expand(best.shape + (1, 4))
    quaternion = torch.gather(candidates, -2, index).squeeze(-2)  # (..., 4)
    return quaternion * torch.where(quaternion[..., :1] < 0, -1.0, 1.0).to(quaternion.dtype)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors from rotation matrices, through the quaternion (stable at 0 and π).

    At exactly π the axis sign is arbitrary (both signs are the same rotation).

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 3) axis-angle, radians, angle in [0, π].
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from SPIN's 6D representation (Zhou et al., CVPR 2019).

    The six numbers (r0, …, r5) are read as a 3×2 matrix in row-major order, so the two columns
    are interleaved: a1 = (r0, r2, r4), a2 = (r1, r3, r5). Gram-Schmidt gives
    b1 = a1/‖a1‖, b2 = normalise(a2 − (b1·a2) b1), b3 = b1 × b2, and R = [b1 | b2 | b3] with
    b1, b2, b3 as columns. This is SPIN's `rot6d_to_rotmat`; 4D-Humans (contiguous columns) and
    pytorch3d (rows) read the six numbers differently.

    SPIN's regressor outputs (B, 24·6) per image; reshape it to (B, 24, 6) first.

    Args:
        rot6d: (..., 6).

    Returns:
        (..., 3, 3) rotation matrices.
    """
    _check_last_dims(rot6d, (6,), "rot6d")
    columns = rot6d.reshape(rot6d.shape[:-1] + (3, 2))  # (..., 3, 2): row-major 3×2
    a1 = columns[..., 0]
    a2 = columns[..., 1]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """SPIN's 6D representation: the first two columns of R, flattened row-major.

    The result is (R00, R01, R10, R11, R20, R21); `rot6d_to_matrix` inverts it.

    Args:
        matrix: (..., 3, 3) rotation matrices.

    Returns:
        (..., 6).
    """
    _check_last_dims(matrix, (3, 3), "matrix")
    return matrix[..., :2].reshape(matrix.shape[:-2] + (6,))


def quaternion_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product a ⊗ b: the rotation b followed by the rotation a.

    Args:
        a: (..., 4), (w, x, y, z).
        b: (..., 4), (w, x, y, z); leading dimensions broadcast with `a`.

    Returns:
        (..., 4), (w, x, y, z).
    """
    _check_last_dims(a, (4,), "a")
    _check_last_dims(b, (4,), "b")
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def quaternion_inverse(quaternion: torch.Tensor) -> torch.Tensor:
    """Inverse of a unit quaternion, which is its conjugate (w, −x, −y, −z).

    Like VideoPose3D's `qinverse`, this assumes unit length.

    Args:
        quaternion: (..., 4), (w, x, y, z), unit length.

    Returns:
        (..., 4), (w, x, y, z).
    """
    _check_last_dims(quaternion, (4,), "quaternion")
    return torch.cat((quaternion[..., :1], -quaternion[..., 1:]), dim=-1)


def quaternion_apply(quaternion: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Rotate 3D points by unit quaternions, VideoPose3D's `qrot`.

    With q = (w, u): v' = v + 2 (w (u × v) + u × (u × v)).

    Args:
        quaternion: (..., 4), (w, x, y, z), unit length.
        points: (..., 3); leading dimensions broadcast with `quaternion`.

    Returns:
        (..., 3), same unit as `points`.
    """
    _check_last_dims(quaternion, (4,), "quaternion")
    _check_last_dims(points, (3,), "points")
    lead = torch.broadcast_shapes(quaternion.shape[:-1], points.shape[:-1])
    quaternion = quaternion.expand(lead + (4,))
    points = points.expand(lead + (3,))
    u = quaternion[..., 1:]
    uv = torch.linalg.cross(u, points, dim=-1)
    uuv = torch.linalg.cross(u, uv, dim=-1)
    return points + 2.0 * (quaternion[..., :1] * uv + uuv)
