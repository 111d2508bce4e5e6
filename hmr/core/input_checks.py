"""Inputs checked against each other: a keypoints file, the video it belongs to, the flags.

Each check names both sources. What cannot be right is a one-line ``InputError``; what may be
meant but is suspicious is a ``logging`` warning:

- ``check_image_size``: ``--image-size`` or the keypoints file's recorded size against the
  video's frames (a wrong size moves every lifted joint): error.
- ``align_frame_indices``: the keypoints' frame indices (COCO ``image_id``s, our
  ``frame_indices``) plus ``frame_offset`` against the video's frame count: error when none
  lands in the video, warning when some do not.
- ``check_fps``: the keypoints' fps against the video's: warning (the video's is used).
- ``lifting.inference.check_lifter_fps``: a lifter's training frame rate against the input's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from body_models.errors import InputError

__all__ = ["align_frame_indices", "check_fps", "check_image_size"]

_log = logging.getLogger(__name__)
FPS_TOLERANCE = 0.01  # relative difference of two frame rates still taken as equal


def check_image_size(video: Path, video_size: tuple[int, int], given: Sequence[int] | None = None,
                     keypoints: Path | None = None, recorded: Sequence[int] | None = None) -> tuple[int, int]:
    """The image size to use with ``video``: its own, after checking the others against it.

    Args:
        video: the video (or image folder), for messages.
        video_size: (width, height) of its frames, pixels.
        given: ``--image-size`` (width, height), or None.
        keypoints: the keypoints file, for messages.
        recorded: the size the keypoints file records, or None / (0, 0) when it records none.

    Raises:
        InputError: ``given`` or ``recorded`` differs from the video's frames.
    """
    width, height = (int(v) for v in video_size)
    if given is not None and (int(given[0]), int(given[1])) != (width, height):
        raise InputError(f"--image-size {int(given[0])}x{int(given[1])} disagrees with the frames of {video} "
                         f"({width}x{height}); drop --image-size (the video's size is used) or give the right video")
    if recorded is not None and tuple(int(v) for v in recorded) not in ((0, 0), (width, height)):
        raise InputError(f"{keypoints} was made on {int(recorded[0])}x{int(recorded[1])} images but the frames of "
                         f"{video} are {width}x{height}; give the video the keypoints came from")
    return width, height


def align_frame_indices(frame_indices: np.ndarray, num_frames: int, keypoints: Path, video: Path,
                        frame_offset: int = 0) -> np.ndarray:
    """The keypoints' frame indices shifted by ``frame_offset``, checked against the video.

    Args:
        frame_indices: (T,) the keypoints' frame numbers (COCO ``image_id``s, OpenPose file
            numbers or ``frame_indices``).
        num_frames: the video's frame count (0 when unknown: nothing is checked).
        keypoints, video: the two sources, for messages.
        frame_offset: added to every index (``--frame-offset``), e.g. -1 when image_id 1 is the
            video's first frame.

    Returns:
        (T,) int64 video frame indices.

    Raises:
        InputError: no shifted index lies in [0, num_frames).
    """
    shifted = np.asarray(frame_indices, dtype=np.int64) + int(frame_offset)
    if num_frames <= 0 or len(shifted) == 0:
        return shifted
    inside = (shifted >= 0) & (shifted < num_frames)
    offset_note = f" (after --frame-offset {int(frame_offset)})" if frame_offset else ""
    span = f"{int(shifted.min())}..{int(shifted.max())}"
    if not inside.any():
        hint = -int(shifted.min())
        raise InputError(f"the frame indices of {keypoints} ({span}{offset_note}) all fall outside the "
                         f"{num_frames} frames of {video} (0..{num_frames - 1}); if its first index is the "
                         f"video's first frame pass --frame-offset {hint + int(frame_offset)}")
    if not inside.all():
        _log.warning("%d of the %d frame indices of %s (%s%s) fall outside the %d frames of %s; those frames get no "
                     "overlay (shift them with --frame-offset)", int((~inside).sum()), len(shifted), keypoints, span,
                     offset_note, num_frames, video)
    return shifted


def check_fps(keypoints_fps: float, video_fps: float, keypoints: Path, video: Path) -> float:
    """The frame rate to use: the video's, with a warning when the keypoints file says otherwise.

    Either rate may be 0 or NaN (unknown); the known one is returned.
    """
    k = float(keypoints_fps) if keypoints_fps and np.isfinite(keypoints_fps) else 0.0
    v = float(video_fps) if video_fps and np.isfinite(video_fps) else 0.0
    if k > 0 and v > 0 and abs(k - v) > FPS_TOLERANCE * v:
        _log.warning("%s says %g fps but %s plays at %g fps; using the video's", keypoints, k, video, v)
    return v or k
