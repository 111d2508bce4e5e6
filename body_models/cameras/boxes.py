"""Person boxes: corner and size layouts, and HRNet's and SPIN's (center, scale) crops of a box.

numpy, vectorised over leading dimensions, pixels. "Scale" is the box size in units of 200
pixels (``PIXEL_STD``), as in HRNet and SPIN.
"""

from __future__ import annotations

import numpy as np

from body_models.errors import InputError

PIXEL_STD = 200.0
"""Pixels per unit of box "scale" in HRNet and SPIN."""


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
