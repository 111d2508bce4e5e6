"""One-Euro temporal smoothing of 2D keypoints (Casiez, Roussel and Vogel, CHI 2012).

A first-order low-pass filter whose cutoff rises with the speed of the signal: slow motion gets
strong smoothing (little jitter), fast motion little (little lag). Per joint and per frame:

    speed   = low-pass(|x_t − x̂_{t−1}| · fps, d_cutoff)          pixels / second
    cutoff  = min_cutoff + beta · speed                            Hz
    x̂_t     = x̂_{t−1} + α(cutoff) (x_t − x̂_{t−1}),   α(f) = 1 / (1 + fps / (2π f))

    smoothed = smooth_keypoints(kp.keypoints, fps=30, params=OneEuroParams())
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from body_models.errors import InputError


@dataclass(frozen=True)
class OneEuroParams:
    """Settings of the One-Euro filter.

    Attributes:
        min_cutoff: cutoff frequency at rest, Hz; lower smooths more.
        beta: cutoff increase per unit speed, 1 / pixel (Hz per pixel/second); higher lags less.
        d_cutoff: cutoff of the speed estimate, Hz.
    """

    min_cutoff: float = 1.0
    beta: float = 0.05
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0:
            raise InputError(f"One-Euro settings need min_cutoff > 0, d_cutoff > 0 and beta >= 0; got {self}")


def _alpha(cutoff, fps: float):
    return 1.0 / (1.0 + fps / (2.0 * math.pi * cutoff))


def smooth_keypoints(keypoints: np.ndarray, fps: float, params: OneEuroParams = OneEuroParams()) -> np.ndarray:
    """Filter keypoint positions along time, each person and joint on its own.

    A joint that is missing (NaN x or y) stays missing, and the filter restarts on the frame it
    comes back, so a gap never drags a position across the frame. Confidences are unchanged.

    Args:
        keypoints: (T, ..., 3) pixels x, y, confidence, e.g. (T, P, J, 3).
        fps: frames per second of the sequence (> 0).
        params: filter settings.

    Returns:
        (T, ..., 3) float32 copy with smoothed x, y.
    """
    keypoints = np.asarray(keypoints)
    if keypoints.ndim < 2 or keypoints.shape[-1] != 3:
        raise ValueError(f"keypoints must be (T, ..., 3), got {keypoints.shape}")
    if not fps or fps <= 0:
        raise InputError("One-Euro smoothing needs the frame rate; give fps (the video's, or --fps for image folders)")
    out = keypoints.astype(np.float32, copy=True)
    xy = keypoints[..., :2].astype(np.float64)
    present = np.isfinite(xy).all(-1)  # (T, ...)
    state = np.zeros(xy.shape[1:])  # x̂_{t-1}
    speed = np.zeros(xy.shape[1:-1])  # low-passed speed, pixels / second
    started = np.zeros(xy.shape[1:-1], bool)
    alpha_d = _alpha(params.d_cutoff, fps)
    for t in range(len(xy)):
        here = present[t]
        restart = here & ~started
        raw_speed = np.linalg.norm(np.nan_to_num(xy[t] - state), axis=-1) * fps
        speed = np.where(restart, 0.0, speed + alpha_d * (raw_speed - speed))
        alpha = _alpha(params.min_cutoff + params.beta * speed, fps)[..., None]
        filtered = np.where(restart[..., None], xy[t], state + alpha * (xy[t] - state))
        state = np.where(here[..., None], filtered, state)
        started = here  # a missing joint restarts when it returns
        out[t, ..., :2] = np.where(here[..., None], filtered, np.nan)
    return out
