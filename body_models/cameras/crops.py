"""Crop transforms: HRNet's affine crop and SPIN's, reproduced to the official code's numbers.

numpy, float64; pixels in and out. HRNet's crop is a 2×3 affine matrix (``get_affine_transform``,
``affine_transform_points``), SPIN's a 3×3 homogeneous one applied to 1-based pixels
(``spin_crop_transform``, ``spin_transform_points``).
"""

from __future__ import annotations

import numpy as np

from body_models.cameras.boxes import PIXEL_STD
from body_models.errors import InputError


# ---------------------------------------------------------------------------------------------
# HRNet's affine crop


def get_affine_transform(
    center,
    scale,
    rot_deg: float,
    output_size,
    inv: bool = False,
    shift=(0.0, 0.0),
    pixel_std: float = PIXEL_STD,
) -> np.ndarray:
    """HRNet's crop transform (`get_affine_transform` in `lib/utils/transforms.py`), without cv2.

    The box side s_w = pixel_std · scale[0] (only the width is used) maps to the output width:

    - the center maps to the output centre (W_out/2, H_out/2);
    - center + Rot(θ)·(0, −s_w/2) maps to (W_out/2, H_out/2 − W_out/2), θ = rot_deg in radians;
    - a third point on each side lies at b + (−d_y, d_x), d = a − b, for the two points a, b above.

    The result is a similarity with scale W_out / s_w, rotating by −θ. Like HRNet, the six
    points are rounded to float32 before the exact float64 solve, so the matrix matches
    HRNet's to about 1e-12 (not the closed form, which differs by the rounding).
    `shift` moves the source center by shift · pixel_std · scale (both components).

    Args:
        center: (..., 2) pixels.
        scale: (..., 2) (width, height) or (...,) in units of `pixel_std`.
        rot_deg: rotation, degrees; a number or (...,).
        output_size: (W_out, H_out) pixels.
        inv: return the inverse map, output pixels → input pixels.
        shift: (2,) fraction of the box.
        pixel_std: pixels per unit of scale.

    Returns:
        (..., 2, 3) float64 affine matrices, input pixels → output pixels (or back with `inv`).
    """
    center = np.asarray(center, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    if center.ndim < 1 or center.shape[-1] != 2:
        raise InputError(f"center must have shape (..., 2); got {center.shape}")
    if scale.shape != center.shape:
        scale = np.stack([scale, scale], axis=-1)  # a single number is used for both sides
    out_w, out_h = float(output_size[0]), float(output_size[1])
    box = scale * pixel_std  # (..., 2)
    src_w = box[..., 0]
    theta = np.pi * np.asarray(rot_deg, dtype=np.float64) / 180
    sin, cos = np.sin(theta), np.cos(theta)

    # (0, -s_w/2) rotated by theta
    up_x = src_w * 0.5 * sin
    up_y = -(src_w * 0.5) * cos
    src_up = np.stack(np.broadcast_arrays(up_x, up_y), axis=-1)
    src_center = center + box * np.asarray(shift, dtype=np.float64)
    src_a = src_center.astype(np.float32)
    src_b = (center + src_up + box * np.asarray(shift, dtype=np.float64)).astype(np.float32)
    src_a, src_b = np.broadcast_arrays(src_a, src_b)

    dst_a = np.broadcast_to(np.array([out_w * 0.5, out_h * 0.5], dtype=np.float32), src_a.shape)
    dst_b = np.broadcast_to(
        np.array([out_w * 0.5, out_h * 0.5 - out_w * 0.5], dtype=np.float32), src_a.shape
    )

    src = np.stack([src_a, src_b, _third_point(src_a, src_b)], axis=-2)  # (..., 3, 2) float32
    dst = np.stack([dst_a, dst_b, _third_point(dst_a, dst_b)], axis=-2)
    if inv:
        src, dst = dst, src
    return _affine_from_three_points(src.astype(np.float64), dst.astype(np.float64))


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b + (a − b) turned by +90°: b + (−d_y, d_x) with d = a − b, in float32 like HRNet."""
    d = a - b
    return b + np.stack([-d[..., 1], d[..., 0]], axis=-1)


def _affine_from_three_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 matrix M with M [src_i; 1] = dst_i for three pairs; (..., 3, 2) → (..., 2, 3)."""
    ones = np.ones(src.shape[:-1] + (1,))
    design = np.concatenate([src, ones], axis=-1)  # (..., 3, 3), rows (x, y, 1)
    return np.swapaxes(np.linalg.solve(design, dst), -1, -2)


def affine_transform_points(points, matrix) -> np.ndarray:
    """Apply a 2×3 affine map to 2D points (HRNet's `affine_transform`, vectorised).

    Args:
        points: (..., N, 2) pixels.
        matrix: (2, 3) or (..., 2, 3), broadcast over the leading dimensions of `points`.

    Returns:
        (..., N, 2) float64 pixels.
    """
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    if points.ndim < 2 or points.shape[-1] != 2:
        raise InputError(f"points must have shape (..., N, 2); got {points.shape}")
    if matrix.ndim < 2 or matrix.shape[-2:] != (2, 3):
        raise InputError(f"matrix must have shape (..., 2, 3); got {matrix.shape}")
    linear = matrix[..., None, :, :2]  # (..., 1, 2, 2)
    return (linear * points[..., None, :]).sum(-1) + matrix[..., None, :, 2]


# ---------------------------------------------------------------------------------------------
# SPIN's crop


def _res_xy(res) -> tuple[float, float]:
    """SPIN passes res as [rows, cols]; a single number means a square crop."""
    res = np.atleast_1d(np.asarray(res, dtype=np.float64))
    if res.shape == (1,):
        return float(res[0]), float(res[0])
    if res.shape != (2,):
        raise InputError(f"res must be a number or (2,); got {res.shape}")
    return float(res[1]), float(res[0])  # x from res[1], y from res[0], as SPIN does


def spin_crop_transform(center, scale: float, res, rot: float = 0.0) -> np.ndarray:
    """SPIN's image → crop transform (`get_transform` in `utils/imutils.py`).

    With h = 200 · scale the box side in pixels, the crop matrix is
    [[res/h, 0, res (−cx/h + 0.5)], [0, res/h, res (−cy/h + 0.5)], [0, 0, 1]]. A non-zero `rot`
    then rotates the crop by −rot degrees about its centre (res/2, res/2), SPIN's sign.
    SPIN applies this matrix to 1-based pixel coordinates minus one (see `spin_transform_points`).

    Args:
        center: (2,) pixels (cx, cy).
        scale: box side in units of 200 pixels.
        res: crop size, a number (square) or SPIN's [rows, cols].
        rot: degrees.

    Returns:
        (3, 3) float64 homogeneous matrix, image pixels → crop pixels.
    """
    res_x, res_y = _res_xy(res)
    cx, cy = (float(c) for c in np.asarray(center, dtype=np.float64).reshape(2))
    side = PIXEL_STD * float(scale)
    matrix = np.array(
        [
            [res_x / side, 0.0, res_x * (-cx / side + 0.5)],
            [0.0, res_y / side, res_y * (-cy / side + 0.5)],
            [0.0, 0.0, 1.0],
        ]
    )
    if rot != 0:
        angle = -rot * np.pi / 180  # SPIN negates the angle to match its image rotation
        sin, cos = np.sin(angle), np.cos(angle)
        rotate = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        to_origin = np.array([[1.0, 0.0, -res_x / 2], [0.0, 1.0, -res_y / 2], [0.0, 0.0, 1.0]])
        from_origin = np.array([[1.0, 0.0, res_x / 2], [0.0, 1.0, res_y / 2], [0.0, 0.0, 1.0]])
        matrix = from_origin @ (rotate @ (to_origin @ matrix))
    return matrix


def spin_transform_points(
    points, center, scale: float, res, invert: bool = False, rot: float = 0.0, truncate: bool = True
) -> np.ndarray:
    """SPIN's point transform between image and crop pixels (`transform` in `utils/imutils.py`).

    SPIN works in 1-based pixels: p' = M (p − 1) + 1, with M from `spin_crop_transform`
    (inverted with `invert`). With `truncate` (the official behaviour) the result before the +1
    is cast to int, which truncates toward zero, so the output is an integer pixel. SPIN maps its
    0-based keypoints with `transform(kp + 1)`, giving int(M kp) + 1.

    Args:
        points: (..., 2) pixels, 1-based as SPIN passes them.
        center: (2,) pixels.
        scale: box side in units of 200 pixels.
        res: crop size, a number or [rows, cols].
        invert: map crop pixels back to image pixels.
        rot: degrees.
        truncate: True for SPIN's integer output (int64); False for the same map without
            truncation (float64).

    Returns:
        (..., 2) pixels, int64 with `truncate`, else float64.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 1 or points.shape[-1] != 2:
        raise InputError(f"points must have shape (..., 2); got {points.shape}")
    matrix = spin_crop_transform(center, scale, res, rot=rot)
    if invert:
        matrix = np.linalg.inv(matrix)
    moved = (matrix[:2, :2] * (points - 1.0)[..., None, :]).sum(-1) + matrix[:2, 2]
    if truncate:
        return moved.astype(np.int64) + 1
    return moved + 1.0
