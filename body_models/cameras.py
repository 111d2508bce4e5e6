"""Cameras, projections, person boxes and crop transforms.

Camera frame: x right, y down, z forward (OpenCV). 3D points are in metres, 2D points in pixels
unless a name says `normalized`, focal lengths in pixels, angles in degrees only where the
official code they reproduce takes degrees (`rot_deg`, `rot`).

Three families of helpers live here:

- Projections (`weak_perspective_project`, `perspective_project`,
  `weak_perspective_to_translation`, `crop_camera_to_full_image`): torch tensors or numpy
  arrays, any leading dimensions; the output has the array type, dtype and device of `points`
  (or `cam`).
- Person boxes (`box_xyxy_to_xywh`, `box_xywh_to_xyxy`, `box_to_center_scale`,
  `box_to_center_scale_square`, `center_scale_to_box`): numpy, vectorised over leading
  dimensions. "Scale" is the box size in units of 200 pixels (`PIXEL_STD`), as in HRNet and SPIN.
- Crop transforms: HRNet's affine crop (`get_affine_transform`, `affine_transform_points`) and
  SPIN's (`spin_crop_transform`, `spin_transform_points`), numpy, float64.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

from body_models.errors import InputError

ArrayLike = Union[np.ndarray, torch.Tensor]

PIXEL_STD = 200.0
"""Pixels per unit of box "scale" in HRNet and SPIN."""

SPIN_FOCAL_LENGTH = 5000.0
"""SPIN's focal length for its 224×224 crops, pixels."""

SPIN_CROP_SIZE = 224
"""SPIN's and HMR's crop side, pixels."""


# ---------------------------------------------------------------------------------------------
# Projections


def _like(value, ref: ArrayLike) -> ArrayLike:
    """`value` as the array type of `ref` (torch: same dtype and device; numpy: float dtype)."""
    if isinstance(ref, torch.Tensor):
        return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
    dtype = ref.dtype if np.issubdtype(ref.dtype, np.floating) else np.float64
    return np.asarray(value, dtype=dtype)


def _as_float_array(x) -> ArrayLike:
    if isinstance(x, torch.Tensor):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _stack_last(items: Sequence[ArrayLike], ref: ArrayLike) -> ArrayLike:
    """Broadcast `items` to one shape and stack them along a new last axis."""
    if isinstance(ref, torch.Tensor):
        return torch.stack(torch.broadcast_tensors(*items), dim=-1)
    return np.stack(np.broadcast_arrays(*items), axis=-1)


def _check_last(x: ArrayLike, size: int, name: str, expected: str, min_ndim: int = 1) -> None:
    if x.ndim < min_ndim or x.shape[-1] != size:
        raise InputError(f"{name} must have shape {expected}; got {tuple(x.shape)}")


def weak_perspective_project(points: ArrayLike, cam: ArrayLike) -> ArrayLike:
    """HMR's weak-perspective projection, x_2d = s · (X[..., :2] + (tx, ty)).

    The translation is added before scaling (HMR's `batch_orth_proj_idrot`); depth is ignored.

    Args:
        points: (..., J, 3), metres, camera frame.
        cam: (..., 3) = (s, tx, ty); leading dimensions broadcast with `points`'.

    Returns:
        (..., J, 2) normalised crop coordinates, [-1, 1] across the crop.
    """
    points = _as_float_array(points)
    cam = _like(cam, points)
    _check_last(points, 3, "points", "(..., J, 3)", min_ndim=2)
    _check_last(cam, 3, "cam", "(..., 3)")
    scale = cam[..., None, 0:1]  # (..., 1, 1)
    shift = cam[..., None, 1:3]  # (..., 1, 2)
    return scale * (points[..., :2] + shift)


def perspective_project(
    points: ArrayLike,
    focal_length,
    principal_point,
    rotation: ArrayLike | None = None,
    translation: ArrayLike | None = None,
) -> ArrayLike:
    """Pinhole projection: X' = R X + t, divide by Z', apply K (SPIN's `perspective_projection`).

    Args:
        points: (..., J, 3), metres.
        focal_length: pixels; a number, or (...,) one per batch element, or (..., 2) as
            (fx, fy). The two array forms are told apart by their number of dimensions:
            (..., 2) has one dimension fewer than `points`, (...,) two fewer.
        principal_point: (..., 2) pixels (cx, cy).
        rotation: optional (..., 3, 3), camera-from-points rotation; identity when omitted.
        translation: optional (..., 3), metres; zero when omitted.

    Returns:
        (..., J, 2) pixels.
    """
    points = _as_float_array(points)
    _check_last(points, 3, "points", "(..., J, 3)", min_ndim=2)
    if rotation is not None:
        rotation = _like(rotation, points)
        if rotation.shape[-2:] != (3, 3):
            raise InputError(f"rotation must have shape (..., 3, 3); got {tuple(rotation.shape)}")
        # X'_j = R X_j for every point j: (..., 1, 3, 3) * (..., J, 1, 3) summed over the last axis
        points = (rotation[..., None, :, :] * points[..., :, None, :]).sum(-1)
    if translation is not None:
        translation = _like(translation, points)
        _check_last(translation, 3, "translation", "(..., 3)")
        points = points + translation[..., None, :]

    focal_length = _like(focal_length, points)
    if focal_length.ndim == 0:
        focal = focal_length
    elif focal_length.ndim == points.ndim - 1 and focal_length.shape[-1] == 2:
        focal = focal_length[..., None, :]  # (..., 1, 2)
    elif focal_length.ndim == points.ndim - 2:
        focal = focal_length[..., None, None]  # (..., 1, 1)
    else:
        raise InputError(
            "focal_length must be a number, (...,) or (..., 2) matching points "
            f"{tuple(points.shape)}; got {tuple(focal_length.shape)}"
        )
    principal_point = _like(principal_point, points)
    _check_last(principal_point, 2, "principal_point", "(..., 2)")
    return focal * points[..., :2] / points[..., 2:3] + principal_point[..., None, :]


def weak_perspective_to_translation(
    cam: ArrayLike, focal_length: float = SPIN_FOCAL_LENGTH, crop_size: int = SPIN_CROP_SIZE
) -> ArrayLike:
    """The perspective camera translation equivalent to a weak-perspective crop camera (SPIN).

    t = (tx, ty, 2f / (crop_size · s + 1e-9)). Projecting with this translation, focal length f
    and the principal point at the crop centre gives crop pixels; for points with depth small
    next to t_z, (pixels − crop_size/2) / (crop_size/2) equals `weak_perspective_project`.

    Args:
        cam: (..., 3) = (s, tx, ty).
        focal_length: pixels.
        crop_size: crop side, pixels.

    Returns:
        (..., 3) translation, metres, camera frame of the crop.
    """
    cam = _as_float_array(cam)
    _check_last(cam, 3, "cam", "(..., 3)")
    depth = 2.0 * focal_length / (crop_size * cam[..., 0] + 1e-9)
    return _stack_last((cam[..., 1], cam[..., 2], depth), cam)


def crop_camera_to_full_image(
    cam: ArrayLike, box_center, box_size, image_size, focal_length
) -> ArrayLike:
    """Full-image perspective translation for a weak-perspective camera of a square crop.

    The conversion used by CLIFF, PARE and 4D-Humans (`cam_crop_to_full`). With b = box_size ·
    s, the translation is (tx + 2 (cx − W/2) / b, ty + 2 (cy − H/2) / b, 2 f / b) (1e-9 is added
    to b against division by zero). Projecting with it, focal length f and the principal point at
    the image centre (W/2, H/2) puts a point X at

        u = f (X + tx_full) / (Z + tz) + W/2,

    which for Z = 0 equals cx + (box_size / 2) · s (X + tx): the weak-perspective crop coordinate
    mapped back into the image. For Z ≠ 0 the two differ by the perspective effect, a factor
    tz / (Z + tz) on the offset from the principal point.

    Args:
        cam: (..., 3) = (s, tx, ty) of the crop.
        box_center: (..., 2) pixels (cx, cy) of the square crop in the full image.
        box_size: (...,) side of the square crop in the full image, pixels (200 · scale for
            SPIN's boxes).
        image_size: (..., 2) full image (width, height), pixels.
        focal_length: pixels, a number or (...,).

    Returns:
        (..., 3) translation, metres, camera frame of the full image.
    """
    cam = _as_float_array(cam)
    _check_last(cam, 3, "cam", "(..., 3)")
    box_center = _like(box_center, cam)
    image_size = _like(image_size, cam)
    _check_last(box_center, 2, "box_center", "(..., 2)")
    _check_last(image_size, 2, "image_size", "(..., 2)")
    box_size = _like(box_size, cam)
    focal_length = _like(focal_length, cam)

    box_scale = box_size * cam[..., 0] + 1e-9  # box size in pixels per unit of weak-perspective x
    tz = 2.0 * focal_length / box_scale
    tx = cam[..., 1] + 2.0 * (box_center[..., 0] - 0.5 * image_size[..., 0]) / box_scale
    ty = cam[..., 2] + 2.0 * (box_center[..., 1] - 0.5 * image_size[..., 1]) / box_scale
    return _stack_last((tx, ty, tz), cam)


# ---------------------------------------------------------------------------------------------
# Person boxes (numpy)


def full_image_to_crop_camera(transl, box_center, box_size, image_size, focal_length) -> np.ndarray:
    """Weak-perspective crop camera (s, tx, ty) for a body at ``transl`` in the full-image camera.

    The exact inverse of ``crop_camera_to_full_image``: with b = 2f / t_z,
    s = b / box_size, tx = t_x − 2 (c_x − W/2) / b and ty = t_y − 2 (c_y − H/2) / b. Projected
    weakly with this camera (``x = s · (X + (tx, ty))`` in the crop's [-1, 1] coordinates, X the
    body's points without ``transl``), the body lands where the full-image perspective camera
    puts its points at the depth of ``transl``.

    Args:
        transl: (..., 3) metres, full-image camera frame.
        box_center: (..., 2) pixels, the square crop's centre in the full image.
        box_size: (...,) pixels, the crop's side.
        image_size: (2,) or (..., 2) pixels (width, height).
        focal_length: pixels.

    Returns:
        (..., 3) float (s, tx, ty).
    """
    transl = np.asarray(transl, dtype=np.float64)
    center = np.asarray(box_center, dtype=np.float64)
    image_size = np.asarray(image_size, dtype=np.float64)
    box_scale = 2.0 * focal_length / transl[..., 2]  # pixels per unit of weak-perspective x
    s = box_scale / np.asarray(box_size, dtype=np.float64)
    tx = transl[..., 0] - 2.0 * (center[..., 0] - 0.5 * image_size[..., 0]) / box_scale
    ty = transl[..., 1] - 2.0 * (center[..., 1] - 0.5 * image_size[..., 1]) / box_scale
    return np.stack([s, tx, ty], axis=-1)


def _boxes(box) -> np.ndarray:
    box = np.asarray(box, dtype=np.float64)
    if box.ndim < 1 or box.shape[-1] != 4:
        raise InputError(f"box must have shape (..., 4); got {box.shape}")
    return box


def box_xyxy_to_xywh(box_xyxy) -> np.ndarray:
    """(x1, y1, x2, y2) → (x, y, w, h) with w = x2 − x1, h = y2 − y1.

    Args:
        box_xyxy: (..., 4) pixels.

    Returns:
        (..., 4) float64 pixels.
    """
    box = _boxes(box_xyxy)
    return np.concatenate([box[..., :2], box[..., 2:] - box[..., :2]], axis=-1)


def box_xywh_to_xyxy(box_xywh) -> np.ndarray:
    """(x, y, w, h) → (x1, y1, x2, y2) with x2 = x + w, y2 = y + h.

    Args:
        box_xywh: (..., 4) pixels.

    Returns:
        (..., 4) float64 pixels.
    """
    box = _boxes(box_xywh)
    return np.concatenate([box[..., :2], box[..., :2] + box[..., 2:]], axis=-1)


def box_to_center_scale(
    box_xywh, aspect_ratio: float = 0.75, padding: float = 1.25, pixel_std: float = PIXEL_STD
) -> tuple[np.ndarray, np.ndarray]:
    """HRNet's box → (center, scale) (`_xywh2cs` in `lib/dataset/coco.py`).

    center = (x + w/2, y + h/2). The box grows to the crop's aspect ratio w/h = `aspect_ratio`
    (the narrower side is lengthened), and scale = (w, h) / pixel_std · padding.
    HRNet skips the padding for the sentinel center x = −1; this function does not.

    Args:
        box_xywh: (..., 4) pixels (x, y, w, h).
        aspect_ratio: crop width / height; 192/256 = 0.75 for HRNet's COCO models.
        padding: context factor, 1.25 in HRNet.
        pixel_std: pixels per unit of scale.

    Returns:
        center (..., 2) pixels and scale (..., 2) (width, height) in units of `pixel_std`.
    """
    box = _boxes(box_xywh)
    x, y, w, h = np.moveaxis(box, -1, 0)
    center = np.stack([x + w * 0.5, y + h * 0.5], axis=-1)
    too_wide = w > aspect_ratio * h
    too_tall = w < aspect_ratio * h
    h = np.where(too_wide, w / aspect_ratio, h)
    w = np.where(too_tall, h * aspect_ratio, w)
    scale = np.stack([w / pixel_std, h / pixel_std], axis=-1) * padding
    return center, scale


def box_to_center_scale_square(box_xywh, rescale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """SPIN's box → (center, scale) for square crops.

    center = (x + w/2, y + h/2) and scale = rescale · max(w, h) / 200. SPIN's demo uses
    rescale 1; its 3DPW and MPI-INF-3DHP preprocessing 1.2 and H36M 0.9 (FORMATS §3.6).

    Args:
        box_xywh: (..., 4) pixels (x, y, w, h).
        rescale: context factor.

    Returns:
        center (..., 2) pixels and scale (...,): the crop side is 200 · scale pixels.
    """
    box = _boxes(box_xywh)
    center = box[..., :2] + 0.5 * box[..., 2:]
    scale = rescale * np.max(box[..., 2:], axis=-1) / PIXEL_STD
    return center, scale


def center_scale_to_box(center, scale, pixel_std: float = PIXEL_STD) -> np.ndarray:
    """The region a (center, scale) crop covers, as (x1, y1, x2, y2).

    Any padding already in the scale stays in the box: this inverts `box_to_center_scale` only
    up to its padding and aspect-ratio change.

    Args:
        center: (..., 2) pixels.
        scale: (..., 2) (width, height) or (...,) for a square, in units of `pixel_std`.
        pixel_std: pixels per unit of scale.

    Returns:
        (..., 4) float64 pixels (x1, y1, x2, y2).
    """
    center = np.asarray(center, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    if center.ndim < 1 or center.shape[-1] != 2:
        raise InputError(f"center must have shape (..., 2); got {center.shape}")
    if scale.shape != center.shape:
        scale = scale[..., None]  # one side for both axes
    half = 0.5 * pixel_std * scale
    return np.concatenate([center - half, center + half], axis=-1)


# ---------------------------------------------------------------------------------------------
# HRNet's affine crop (numpy)


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
# SPIN's crop (numpy)


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


# ---------------------------------------------------------------------------------------------
# Human3.6M / VideoPose3D camera maths (FORMATS §2.9), numpy or torch


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

    points, was_numpy = _torch_view(X)
    _check_last(points, 3, "X", "(..., 3)")
    q = _like(R_quat, points)
    t = _like(t, points)
    _check_last(q, 4, "R_quat", "(..., 4)")
    _check_last(t, 3, "t", "(..., 3)")
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

    points, was_numpy = _torch_view(X)
    _check_last(points, 3, "X", "(..., 3)")
    q = _like(R_quat, points)
    t = _like(t, points)
    _check_last(q, 4, "R_quat", "(..., 4)")
    _check_last(t, 3, "t", "(..., 3)")
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
