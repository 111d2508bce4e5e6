"""Filling missing 2D keypoints before lifting: one rule for a video, a training batch and exports.

A lifter needs every joint of every frame. Where the detector gave none:

- a missing joint is interpolated in time from the frames that have it, and held at the ends;
- with an ``anchor`` (the two hips, ``HIP_ANCHOR``), what is interpolated and held is the joint's
  offset from the anchor, so a joint that stays missing to the end of a clip (legs leaving the
  frame) moves on with the body instead of standing still in the image while the body walks away;
- a joint never seen takes, frame by frame, the mean of the frame's other joints.

    filled = fill_missing_joints(keypoints, present, anchor=HIP_ANCHOR["coco"])  # (T, J, C)
    filled = fill_missing_joints_batch(windows, present, anchor)  # (B, T, J, C), the same rule

``fill_missing_frames`` fills whole frames without the person by interpolation in time.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from body_models.errors import InputError
from body_models.joints import COCO_17, H36M_17

__all__ = ["HIP_ANCHOR", "fill_missing_frames", "fill_missing_joints", "fill_missing_joints_batch"]

HIP_ANCHOR: dict[str, tuple[int, int]] = {
    "coco": (COCO_17.index("left_hip"), COCO_17.index("right_hip")),
    "h36m": (H36M_17.index("left_hip"), H36M_17.index("right_hip")),
}
"""Layout → the two hip keypoints whose midpoint anchors the filling."""


def _interpolate_in_time(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Fill (B, T, J, C) ``values`` where (B, T, J) ``present`` is False by linear interpolation
    along T between the nearest present frames, held at the ends; a row without any present frame
    is returned unchanged."""
    t = present.shape[1]
    frames = np.arange(t).reshape(1, t, *([1] * (present.ndim - 2)))
    before = np.maximum.accumulate(np.where(present, frames, -1), axis=1)  # last present frame <= t
    after = np.flip(np.minimum.accumulate(np.flip(np.where(present, frames, t), axis=1), axis=1), axis=1)
    has_before, has_after = before >= 0, after < t
    lo = np.where(has_before, before, after).clip(0, t - 1)
    hi = np.where(has_after, after, before).clip(0, t - 1)
    weight = np.where(hi > lo, (frames - lo) / np.maximum(hi - lo, 1), 0.0)[..., None]

    def at(index: np.ndarray) -> np.ndarray:
        return np.take_along_axis(values, index[..., None].astype(np.int64), axis=1)

    filled = at(lo) * (1.0 - weight) + at(hi) * weight
    keep = present[..., None] | ~(has_before | has_after)[..., None]
    return np.where(keep, values, filled).astype(values.dtype)


def _fill_joints(keypoints: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The rule without an anchor, on (B, T, J, C)."""
    seen = present.any(axis=1)  # (B, J): joints seen somewhere in the window
    filled = _interpolate_in_time(keypoints, present)
    if (~seen).any():
        # the seen joints filled frame-wise where none of them is present, and each never-seen
        # joint at the mean of the frame's seen joints
        frame_present = (present & seen[:, None]).any(axis=2)  # (B, T)
        framewise = _interpolate_in_time(filled, np.broadcast_to(frame_present[..., None], present.shape))
        filled = np.where(seen[:, None, :, None], framewise, filled)
        weights = seen[:, None, :, None].astype(np.float32)
        mean = (np.where(weights > 0, filled, 0.0)).sum(axis=2, keepdims=True) / weights.sum(axis=2, keepdims=True)
        filled = np.where(seen[:, None, :, None], filled, mean)
    return filled


def fill_missing_joints_batch(keypoints: np.ndarray, present: np.ndarray,
                              anchor: Sequence[int] = ()) -> np.ndarray:
    """Fill the missing joints of a batch of keypoint windows (module docstring).

    Args:
        keypoints: (B, T, J, C), x and y first (any further channel, such as a confidence, is
            filled in time without the anchor).
        present: (B, T, J) bool; every window needs at least one present joint.
        anchor: joint indices whose mean, where all are present, anchors x and y (interpolated in
            time where they are not); () fills the positions themselves. A window in which the
            anchor is never whole is filled without it.

    Returns:
        The filled (B, T, J, C) float32 copy; present joints are unchanged.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    present = np.asarray(present, dtype=bool)
    if keypoints.ndim != 4 or present.shape != keypoints.shape[:3]:
        raise InputError(f"keypoints must be (B, T, J, C) with present (B, T, J), got {keypoints.shape} "
                         f"and {present.shape}")
    if not present.any(axis=(1, 2)).all():
        raise InputError("a keypoint sequence has no present keypoint to fill the others from")
    anchor = list(anchor)
    if not anchor:
        return _fill_joints(keypoints, present).astype(np.float32)
    whole = present[:, :, anchor].all(axis=2)  # (B, T)
    usable = whole.any(axis=1)  # (B,)
    reference = np.where(whole[..., None], keypoints[:, :, anchor, :2].mean(axis=2), 0.0)  # (B, T, 2)
    reference = _interpolate_in_time(reference[:, :, None], whole[:, :, None])[:, :, 0]
    reference = np.where(usable[:, None, None], reference, 0.0)[:, :, None]  # (B, T, 1, 2)
    offsets = keypoints.copy()
    offsets[..., :2] -= reference
    filled = _fill_joints(offsets, present)
    filled[..., :2] += reference
    return np.where(present[..., None], keypoints, filled).astype(np.float32)


def fill_missing_joints(keypoints: np.ndarray, present: np.ndarray, anchor: Sequence[int] = ()) -> np.ndarray:
    """Fill the missing joints of one person's sequence (module docstring).

    Args:
        keypoints: (T, J, C) pixels.
        present: (T, J) bool, the joints that were observed.
        anchor: as in ``fill_missing_joints_batch`` (``HIP_ANCHOR[layout]``); () fills the
            positions themselves.

    Returns:
        The filled (T, J, C) float32 copy.

    Raises:
        InputError: no joint of any frame is present.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    present = np.asarray(present, dtype=bool)
    if not present.any():
        raise InputError(f"the keypoint sequence of {len(keypoints)} frames has no frame with keypoints (all NaN)")
    return fill_missing_joints_batch(keypoints[None], present[None], anchor)[0]


def fill_missing_frames(keypoints: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fill frames without keypoints by linear interpolation in time (held constant at the ends).

    Args:
        keypoints: (T, J, C) pixels; a frame is missing when ``valid`` is False or any of its
            x, y values is not finite.
        valid: optional (T,) bool.

    Returns:
        The filled (T, J, C) float32 copy and the (T,) bool mask of frames that were present.
    """
    keypoints = np.array(keypoints, dtype=np.float32)
    present = np.isfinite(keypoints[..., :2]).all(axis=(1, 2))
    if valid is not None:
        present &= np.asarray(valid, dtype=bool)
    if not present.any():
        raise InputError(f"the keypoint sequence of {len(keypoints)} frames has no frame with keypoints (all NaN)")
    mask = np.broadcast_to(present[None, :, None], (1, *keypoints.shape[:2]))
    return _interpolate_in_time(keypoints[None], mask)[0], present
