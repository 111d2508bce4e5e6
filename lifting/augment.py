"""2D input corruption for lifter training: what other cameras and a detector do to the keypoints.

The official recipe trains on exact 2D (or a fixed detector's output) and has none of this; each
kind is off at 0, so the official recipe is unchanged. Turned on, a training window of 2D
keypoints gets, in this order:

- ``shift`` and ``scale``: the whole window moved by a Gaussian offset of standard deviation
  ``shift`` (normalised screen units) and scaled about its centre by exp(N(0, ``scale``)), as a
  person seen elsewhere in the frame or from another distance or focal length (the root-relative
  3D target is unchanged to first order), so a lifter trained on four fixed cameras does not learn
  where in their images the body stands;
- ``truncation``: with this probability the window is cut by a random image-border line (a side
  and a position within the window's keypoints), and every keypoint beyond it is missing, as when
  the legs or one side of a person leave the frame;
- ``dropout``: each remaining keypoint of each frame is missing with this probability, as a
  detector's low-confidence joints are dropped;
- ``noise``: Gaussian noise of this standard deviation on x and y, in normalised screen units
  (2 / image width per pixel: 0.004 is 2 px on Human3.6M's 1000-pixel frames).

Missing keypoints are then filled as ``lifting.inference.lift_keypoints`` fills them in a video
(``lifting.filling``: each joint's offset from the hips interpolated in time and held at the ends;
a joint missing from the whole window at the mean of the frame's others), so the network learns
from exactly the inputs it will see.

    rng = np.random.default_rng([seed, epoch, step])
    keypoints = corrupt_keypoints(keypoints, rng, noise=0.004, dropout=0.05, truncation=0.2,
                                  anchor=HIP_ANCHOR["coco"])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from body_models.errors import InputError
from lifting.filling import fill_missing_joints_batch

__all__ = ["corrupt_keypoints"]


def _truncated(keypoints: np.ndarray, rng: np.random.Generator, probability: float) -> np.ndarray:
    """(B, T, J) bool: keypoints beyond a random border line, in windows drawn with ``probability``."""
    b = keypoints.shape[0]
    cut = rng.random(b) < probability
    axis = rng.integers(0, 2, b)  # 0: x, 1: y
    low_side = rng.random(b) < 0.5  # the border is below (True) or above the line
    coordinate = np.take_along_axis(keypoints[..., :2], axis[:, None, None, None], axis=3)[..., 0]  # (B, T, J)
    lo = np.nanmin(coordinate, axis=(1, 2))
    hi = np.nanmax(coordinate, axis=(1, 2))
    # the line lies within the window's keypoints, so a part of the body, never all of it, is gone
    line = lo + (hi - lo) * rng.uniform(0.15, 0.85, b)
    beyond = np.where(low_side[:, None, None], coordinate < line[:, None, None], coordinate > line[:, None, None])
    return beyond & cut[:, None, None]


def corrupt_keypoints(keypoints: np.ndarray, rng: np.random.Generator, noise: float = 0.0,
                      dropout: float = 0.0, truncation: float = 0.0, anchor: Sequence[int] = (),
                      shift: float = 0.0, scale: float = 0.0) -> np.ndarray:
    """A batch of 2D training windows as a detector would give them (module docstring).

    Args:
        keypoints: (B, T, J, F) normalised screen coordinates x, y (and, with F = 3, a confidence,
            filled like the coordinates where a keypoint goes missing, as at test time).
        rng: the source of randomness (seed it per step for an exactly resumable run).
        noise: standard deviation of the x, y noise, normalised screen units.
        dropout: probability that a keypoint of a frame goes missing.
        truncation: probability that a window is cut by a border line.
        anchor: the hips of the layout (``lifting.filling.HIP_ANCHOR``), as the lifter fills.
        shift: standard deviation of the window's 2D offset, normalised screen units.
        scale: standard deviation of the log of the window's scale factor.

    Returns:
        The corrupted (B, T, J, F) float32 copy; with all three at 0, an unchanged copy.
    """
    if not (shift >= 0 and scale >= 0):
        raise InputError(f"keypoint shift and scale must be >= 0, got {shift!r} and {scale!r}")
    if not (noise >= 0 and 0 <= dropout < 1 and 0 <= truncation <= 1):
        raise InputError(f"keypoint noise must be >= 0, dropout in [0, 1) and truncation in [0, 1], got "
                         f"{noise!r}, {dropout!r} and {truncation!r}")
    keypoints = np.array(keypoints, dtype=np.float32)
    if keypoints.ndim != 4 or keypoints.shape[-1] < 2:
        raise InputError(f"keypoints must be (B, T, J, F >= 2), got shape {keypoints.shape}")
    if shift > 0 or scale > 0:
        b = len(keypoints)
        centre = keypoints[..., :2].mean(axis=(1, 2), keepdims=True)  # (B, 1, 1, 2)
        factor = np.exp(rng.normal(0.0, scale, (b, 1, 1, 1))) if scale > 0 else 1.0
        offset = rng.normal(0.0, shift, (b, 1, 1, 2)) if shift > 0 else 0.0
        keypoints[..., :2] = ((keypoints[..., :2] - centre) * factor + centre + offset).astype(np.float32)
    missing = np.zeros(keypoints.shape[:3], dtype=bool)
    if truncation > 0:
        missing |= _truncated(keypoints, rng, truncation)
    if dropout > 0:
        missing |= rng.random(missing.shape) < dropout
    # a window keeps at least one keypoint: one with none left keeps what it had
    emptied = missing.all(axis=(1, 2))
    missing[emptied] = False
    if noise > 0:
        keypoints[..., :2] += rng.normal(0.0, noise, keypoints[..., :2].shape).astype(np.float32)
    if missing.any():
        keypoints = fill_missing_joints_batch(keypoints, ~missing, anchor)
    return keypoints
