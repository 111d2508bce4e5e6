"""Projections of HMR's and SPIN's cameras, and conversions between crop and full-image cameras.

Torch tensors or numpy arrays with any leading dimensions; the output has the array type, dtype
and device of ``points`` (or ``cam``). Camera frame: x right, y down, z forward (OpenCV), metres.
"""

from __future__ import annotations

import numpy as np

from body_models.cameras.arrays import ArrayLike, _as_float_array, _check_last, _like, _stack_last
from body_models.errors import InputError

SPIN_FOCAL_LENGTH = 5000.0
"""SPIN's focal length for its 224×224 crops, pixels."""

SPIN_CROP_SIZE = 224
"""SPIN's and HMR's crop side, pixels."""


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
