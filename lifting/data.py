"""Human3.6M in VideoPose3D's file layouts, and the custom 2D layout.

What lives here (FORMATS §2.5–2.7):

- ``data_3d_h36m.npz`` (`load_h36m_3d`, `save_h36m_3d`): subject → action → (T, 32, 3) world
  metres, reduced to the 17 joints of ``body_models.joints.H36M_17`` on load; `h36m_camera_views`
  turns each sequence into the four camera-frame views VideoPose3D trains and evaluates on.
- ``data_2d_h36m_<source>.npz`` (`load_h36m_2d`, `save_h36m_2d`): subject → action → one
  (T, J, 2) pixel array per camera, plus the layout metadata.
- The custom in-the-wild layout ``data_2d_custom_<name>.npz`` (`load_custom_2d`,
  `save_custom_2d`) and its conversion to and from the pipeline's ``keypoints2d.npz`` arrays.

The published cameras (`h36m_cameras`, FORMATS §2.8) live in ``lifting.h36m_cameras`` and are
importable from here too. The files are read without running code from them and written
atomically in the official layout (``lifting.pickled_npz``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from body_models.atomic import write_bytes
from body_models.cameras import normalize_screen_coordinates, world_to_camera
from body_models.errors import InputError
from body_models.joints import COCO_17, H36M_17
from body_models.sequences import KEYPOINTS2D_SCHEMA_VERSION, drop_implausible_keypoints
from lifting.filling import fill_missing_frames, fill_missing_joints
from lifting.h36m_cameras import H36M_CAMERA_IDS, H36MCamera, h36m_cameras
from lifting.pickled_npz import _dict_of, _existing, _npz_bytes, _plain, _read_npz_member

__all__ = ["H36M_32_KEPT", "H36M_32_PARENTS", "H36M_32_REMOVED", "H36M_CAMERA_IDS", "H36M_FPS", "LAYOUT_METADATA",
           "TEST_SUBJECTS", "TRAIN_SUBJECTS", "H36MCamera", "Keypoints2DFile", "custom_from_keypoints2d",
           "drop_implausible_keypoints", "expand_17_to_32", "fill_missing_frames", "fill_missing_joints",
           "h36m_camera_views", "h36m_cameras", "keypoints2d_from_custom", "load_custom_2d", "load_h36m_2d",
           "load_h36m_3d", "normalized_h36m_2d", "reduce_32_to_17", "save_custom_2d", "save_h36m_2d", "save_h36m_3d"]

H36M_FPS = 50.0
"""Frame rate of the Human3.6M mocap and videos (``Human36mDataset`` fps)."""

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
"""VideoPose3D's default split (FORMATS §2.12)."""

# The raw 32-joint Human3.6M skeleton as stored in data_3d_h36m.npz (FORMATS §2.6, from
# VideoPose3D's h36m_dataset.py). These are facts of the file format; the 17 joints kept are
# named in body_models.joints.H36M_17.
H36M_32_PARENTS = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19,
                   22, 12, 24, 25, 26, 27, 28, 27, 30)
H36M_32_REMOVED = (4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31)
H36M_32_KEPT = tuple(j for j in range(32) if j not in H36M_32_REMOVED)
"""Raw indices of the 17 joints, in ``H36M_17`` order: (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17,
18, 19, 25, 26, 27)."""


def _layout_metadata(name: str, joints) -> dict[str, Any]:
    """VideoPose3D's 2D-layout metadata (``data/data_utils.py``) for one of our joint sets."""
    return {"layout_name": name, "num_joints": len(joints.names),
            "keypoints_symmetry": [list(joints.left), list(joints.right)]}


LAYOUT_METADATA = {"coco": _layout_metadata("coco", COCO_17), "h36m": _layout_metadata("h36m", H36M_17)}
"""The ``metadata`` VideoPose3D writes for COCO-17 and H36M-17 keypoints (FORMATS §2.7)."""


# ---------------------------------------------------------------------------------------------
# 3D: data_3d_h36m.npz


def reduce_32_to_17(positions: np.ndarray) -> np.ndarray:
    """Keep the 17 moving joints of the raw skeleton, in ``H36M_17`` order (FORMATS §2.6).

    Args:
        positions: (..., 32, 3).

    Returns:
        (..., 17, 3).
    """
    positions = np.asarray(positions)
    if positions.ndim < 2 or positions.shape[-2:] != (32, 3):
        raise InputError(f"expected raw Human3.6M joints of shape (..., 32, 3), got {positions.shape}")
    return positions[..., H36M_32_KEPT, :]


def expand_17_to_32(positions: np.ndarray) -> np.ndarray:
    """Place H36M-17 joints in the raw 32-joint layout; each removed joint copies its parent.

    ``reduce_32_to_17`` undoes this exactly. The removed joints of the real data are static or
    duplicate markers (toes, hand tips, duplicated neck and shoulder markers), so copying the
    parent is a stand-in that official tools, which drop them, never see.

    Args:
        positions: (..., 17, 3).

    Returns:
        (..., 32, 3).
    """
    positions = np.asarray(positions)
    if positions.ndim < 2 or positions.shape[-2:] != (17, 3):
        raise InputError(f"expected H36M-17 joints of shape (..., 17, 3), got {positions.shape}")
    out = np.zeros(positions.shape[:-2] + (32, 3), dtype=positions.dtype)
    out[..., H36M_32_KEPT, :] = positions
    for joint in H36M_32_REMOVED:  # parents come before children in the raw order
        out[..., joint, :] = out[..., H36M_32_PARENTS[joint], :]
    return out


def load_h36m_3d(path: str | os.PathLike, remove_static_joints: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """Read VideoPose3D's ``data_3d_h36m.npz`` without running code from it.

    Args:
        path: the file.
        remove_static_joints: reduce the 32 raw joints to H36M-17 (what VideoPose3D trains on).

    Returns:
        subject → action → (T, 17, 3) (or (T, 32, 3)) float32, metres, world frame.
    """
    path = _existing(path, "Human3.6M 3D file (data_3d_h36m.npz)")
    data = _dict_of(_read_npz_member(path, "positions_3d"), path, "positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in data.items():
        actions = _dict_of(actions, path, f"positions_3d[{subject!r}]")
        out[subject] = {}
        for action, positions in actions.items():
            positions = np.asarray(positions)
            if positions.ndim != 3 or positions.shape[1:] != (32, 3):
                raise InputError(f"{path}: {subject}/{action} has shape {positions.shape}, expected (T, 32, 3) "
                                 "(the raw 32-joint Human3.6M skeleton, metres)")
            positions = positions.astype(np.float32, copy=False)
            out[subject][action] = reduce_32_to_17(positions) if remove_static_joints else positions
    return out


def save_h36m_3d(path: str | os.PathLike, positions: Mapping[str, Mapping[str, np.ndarray]]) -> Path:
    """Write ``data_3d_h36m.npz`` in VideoPose3D's layout (official code can read it).

    Args:
        path: the output file.
        positions: subject → action → (T, 32, 3) metres, world frame; (T, 17, 3) is expanded
            with `expand_17_to_32`.

    Returns:
        The path written (atomically).
    """
    data: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in positions.items():
        data[str(subject)] = {}
        for action, array in actions.items():
            array = np.asarray(array, dtype=np.float32)
            if array.ndim == 3 and array.shape[1:] == (17, 3):
                array = expand_17_to_32(array)
            if array.ndim != 3 or array.shape[1:] != (32, 3):
                raise InputError(f"{subject}/{action}: expected (T, 32, 3) or (T, 17, 3), got {array.shape}")
            data[str(subject)][str(action)] = array
    return write_bytes(path, _npz_bytes(positions_3d=data))


def h36m_camera_views(positions: Mapping[str, Mapping[str, np.ndarray]],
                      root_relative: bool = True) -> dict[str, dict[str, list[np.ndarray]]]:
    """World-frame sequences → the four camera-frame views, as VideoPose3D's run.py prepares them.

    Args:
        positions: subject → action → (T, 17, 3) metres, world frame (``load_h36m_3d``).
        root_relative: joints 1.. relative to joint 0, which keeps the camera-frame trajectory
            (run.py's ``pos_3d[:, 1:] -= pos_3d[:, :1]``).

    Returns:
        subject → action → list of four (T, 17, 3) float32 arrays, metres, camera frame.
    """
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions.items():
        cams = h36m_cameras(subject)
        if cams[0].orientation is None:
            raise InputError(f"subject {subject} has no published camera extrinsics")
        out[subject] = {}
        for action, world in actions.items():
            views = []
            for cam in cams:
                view = world_to_camera(np.asarray(world, dtype=np.float32), cam.orientation, cam.translation)
                if root_relative:
                    view[:, 1:] -= view[:, :1]
                views.append(view.astype(np.float32))
            out[subject][action] = views
    return out


# ---------------------------------------------------------------------------------------------
# 2D: data_2d_h36m_<source>.npz


@dataclass
class Keypoints2DFile:
    """A VideoPose3D 2D keypoint file.

    Attributes:
        positions_2d: subject (or video) → action (or "custom") → list per camera of (T, J, 2 or
            3) float32 pixels.
        metadata: the file's metadata dict (``num_joints``, ``keypoints_symmetry``, and
            ``layout_name`` except in the ``gt`` file; ``video_metadata`` in the custom layout).
    """

    positions_2d: dict[str, dict[str, list[np.ndarray]]]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        return int(self.metadata["num_joints"])

    @property
    def layout_name(self) -> str | None:
        return self.metadata.get("layout_name")

    @property
    def keypoints_left(self) -> list[int]:
        return [int(i) for i in self.metadata["keypoints_symmetry"][0]]

    @property
    def keypoints_right(self) -> list[int]:
        return [int(i) for i in self.metadata["keypoints_symmetry"][1]]


def _check_metadata(metadata: Any, path: Path) -> dict[str, Any]:
    metadata = _dict_of(metadata, path, "metadata")
    for key in ("num_joints", "keypoints_symmetry"):
        if key not in metadata:
            raise InputError(f"{path}: metadata has no {key!r} (has {sorted(metadata)}); not a VideoPose3D 2D file")
    symmetry = metadata["keypoints_symmetry"]
    num_joints = int(metadata["num_joints"])
    if len(symmetry) != 2 or len(symmetry[0]) != len(symmetry[1]) or \
            any(not 0 <= int(i) < num_joints for side in symmetry for i in side):
        raise InputError(f"{path}: metadata keypoints_symmetry {symmetry!r:.80} is not two equal lists of joint indices")
    return metadata


def _check_sequences(positions: Any, path: Path, num_joints: int) -> dict[str, dict[str, list[np.ndarray]]]:
    positions = _dict_of(positions, path, "positions_2d")
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions.items():
        actions = _dict_of(actions, path, f"positions_2d[{subject!r}]")
        out[subject] = {}
        for action, views in actions.items():
            if not isinstance(views, (list, tuple)):
                raise InputError(f"{path}: {subject}/{action} must be a list of per-camera arrays")
            arrays = []
            for view in views:
                view = np.asarray(view)
                if view.ndim != 3 or view.shape[1] != num_joints or view.shape[2] not in (2, 3):
                    raise InputError(f"{path}: {subject}/{action} has keypoints of shape {view.shape}, expected "
                                     f"(T, {num_joints}, 2 or 3) as metadata num_joints says")
                arrays.append(view.astype(np.float32, copy=False))
            out[subject][action] = arrays
    return out


def load_h36m_2d(path: str | os.PathLike) -> Keypoints2DFile:
    """Read a ``data_2d_<dataset>_<source>.npz`` (gt, cpn, detectron, custom) without running code.

    Args:
        path: the file.

    Returns:
        A ``Keypoints2DFile``, keypoints in pixels.
    """
    path = _existing(path, "2D keypoint file (data_2d_*.npz)")
    metadata = _check_metadata(_read_npz_member(path, "metadata"), path)
    positions = _check_sequences(_read_npz_member(path, "positions_2d"), path, int(metadata["num_joints"]))
    return Keypoints2DFile(positions, metadata)


def save_h36m_2d(path: str | os.PathLike, keypoints: Keypoints2DFile) -> Path:
    """Write a 2D keypoint file in VideoPose3D's layout (the official run.py can read it).

    Returns:
        The path written (atomically).
    """
    positions = {str(s): {str(a): [np.asarray(v, dtype=np.float32) for v in views]
                          for a, views in actions.items()}
                 for s, actions in keypoints.positions_2d.items()}
    return write_bytes(path, _npz_bytes(positions_2d=positions, metadata=_plain(dict(keypoints.metadata))))


def normalized_h36m_2d(keypoints: Keypoints2DFile,
                       positions_3d: Mapping[str, Mapping[str, Sequence[np.ndarray]]] | None = None,
                       ) -> dict[str, dict[str, list[np.ndarray]]]:
    """Human3.6M 2D keypoints as the lifter takes them, like VideoPose3D's run.py.

    Each view is cut to the length of its 3D sequence when ``positions_3d`` is given (the 2D may
    be longer, never shorter), and x, y are normalised with that camera's width and height.

    Args:
        keypoints: from ``load_h36m_2d`` (subjects S1..S11, four cameras per action).
        positions_3d: optional subject → action → per-camera (T, 17, 3) (``h36m_camera_views``).

    Returns:
        subject → action → four (T, J, 2 or 3) float32 arrays, x, y normalised.
    """
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in keypoints.positions_2d.items():
        cams = h36m_cameras(subject)
        out[subject] = {}
        for action, views in actions.items():
            if len(views) != len(cams):
                raise InputError(f"{subject}/{action}: {len(views)} camera views, expected {len(cams)}")
            if positions_3d is not None:
                if subject not in positions_3d or action not in positions_3d[subject]:
                    continue  # VideoPose3D drops 2D sequences without 3D ground truth
                targets = positions_3d[subject][action]
            normalised = []
            for index, (view, cam) in enumerate(zip(views, cams)):
                view = np.array(view, dtype=np.float32)
                if positions_3d is not None:
                    frames = len(targets[index])
                    if len(view) < frames:
                        raise InputError(f"{subject}/{action} camera {index}: {len(view)} 2D frames but "
                                         f"{frames} 3D frames; 2D must cover the whole mocap sequence")
                    view = view[:frames]
                view[..., :2] = normalize_screen_coordinates(view[..., :2], w=cam.res_w, h=cam.res_h)
                normalised.append(view)
            out[subject][action] = normalised
    return out


# ---------------------------------------------------------------------------------------------
# The custom in-the-wild layout data_2d_custom_<name>.npz and our keypoints2d.npz


def load_custom_2d(path: str | os.PathLike) -> tuple[Keypoints2DFile, dict[str, tuple[int, int]]]:
    """Read a ``data_2d_custom_<name>.npz`` (one camera per video, FORMATS §2.7).

    Returns:
        The file (``positions_2d``: video → {"custom": [(T, J, 2 or 3) pixels]}) and video →
        (width, height) pixels from ``metadata['video_metadata']``.
    """
    keypoints = load_h36m_2d(path)
    videos = keypoints.metadata.get("video_metadata")
    if not isinstance(videos, dict):
        raise InputError(f"{path}: metadata has no 'video_metadata' dict; not a custom-layout 2D file")
    sizes = {}
    for video, actions in keypoints.positions_2d.items():
        if set(actions) != {"custom"} or len(actions["custom"]) != 1:
            raise InputError(f"{path}: video {video!r} must hold {{'custom': [one array]}}, has {sorted(actions)}")
        info = videos.get(video)
        if not isinstance(info, dict) or "w" not in info or "h" not in info:
            raise InputError(f"{path}: video_metadata has no 'w' and 'h' for video {video!r}")
        sizes[video] = (int(info["w"]), int(info["h"]))
    return keypoints, sizes


def save_custom_2d(path: str | os.PathLike, keypoints: Mapping[str, np.ndarray],
                   image_sizes: Mapping[str, tuple[int, int]], layout: str = "coco") -> Path:
    """Write the custom layout the official ``run.py -d custom`` reads.

    Args:
        path: the output file (VideoPose3D looks for ``data/data_2d_custom_<name>.npz``).
        keypoints: video name → (T, J, 2 or 3) pixels (x, y[, confidence]).
        image_sizes: video name → (width, height) pixels.
        layout: "coco" (the published COCO-input model) or "h36m".

    Returns:
        The path written (atomically).
    """
    if layout not in LAYOUT_METADATA:
        raise InputError(f"layout must be one of {sorted(LAYOUT_METADATA)}, got {layout!r}")
    metadata = _plain(LAYOUT_METADATA[layout])
    metadata["video_metadata"] = {}
    positions = {}
    for video, array in keypoints.items():
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 3 or array.shape[1] != metadata["num_joints"] or array.shape[2] not in (2, 3):
            raise InputError(f"video {video!r}: keypoints must be (T, {metadata['num_joints']}, 2 or 3) for "
                             f"layout {layout!r}, got {array.shape}")
        if video not in image_sizes:
            raise InputError(f"video {video!r} has no image size")
        width, height = image_sizes[video]
        positions[str(video)] = {"custom": [array]}
        metadata["video_metadata"][str(video)] = {"w": int(width), "h": int(height)}
    return write_bytes(path, _npz_bytes(positions_2d=positions, metadata=metadata))


def custom_from_keypoints2d(arrays: Mapping[str, np.ndarray], person: int = 0,
                            with_confidence: bool = False) -> tuple[np.ndarray, tuple[int, int]]:
    """One tracked person of our ``keypoints2d.npz`` as a custom-layout sequence.

    Missing frames (``valid`` False or NaN) are filled by `fill_missing_frames`.

    Args:
        arrays: the npz's arrays (``keypoints (T, P, J, 3)``, ``valid (T, P)``, ``image_size``).
        person: index p along P.
        with_confidence: keep the third (confidence) channel.

    Returns:
        (T, J, 2 or 3) float32 pixels, and (width, height).
    """
    for key in ("keypoints", "valid", "image_size"):
        if key not in arrays:
            raise InputError(f"keypoints2d arrays have no {key!r} (have {sorted(arrays)})")
    keypoints = np.asarray(arrays["keypoints"])
    if keypoints.ndim != 4 or keypoints.shape[-1] != 3:
        raise InputError(f"keypoints2d 'keypoints' must be (T, P, J, 3), got {keypoints.shape}")
    if not 0 <= person < keypoints.shape[1]:
        raise InputError(f"person {person} out of range: the file tracks {keypoints.shape[1]} people")
    sequence, _ = fill_missing_frames(keypoints[:, person], np.asarray(arrays["valid"])[:, person])
    width, height = (int(v) for v in np.asarray(arrays["image_size"]).reshape(2))
    return (sequence if with_confidence else sequence[..., :2]), (width, height)


def keypoints2d_from_custom(keypoints: np.ndarray, image_size: tuple[int, int], fps: float | None = None,
                            joint_names: Sequence[str] = COCO_17.names) -> dict[str, np.ndarray]:
    """A custom-layout sequence as the arrays of our ``keypoints2d.npz`` (one person, P = 1).

    Frames with non-finite x, y are stored as NaN with ``valid`` False; confidence is 1 where
    the file has none. Boxes are the keypoints' bounding boxes.

    Args:
        keypoints: (T, J, 2 or 3) pixels.
        image_size: (width, height) pixels.
        fps: frames per second; NaN when unknown (VideoPose3D's custom data has none).
        joint_names: (J,) names, COCO-17 by default.

    Returns:
        The arrays, ready for ``body_models.atomic.save_npz``.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[2] not in (2, 3) or keypoints.shape[1] != len(joint_names):
        raise InputError(f"keypoints must be (T, {len(joint_names)}, 2 or 3), got {keypoints.shape}")
    frames = len(keypoints)
    if keypoints.shape[2] == 2:
        keypoints = np.concatenate([keypoints, np.ones_like(keypoints[..., :1])], axis=-1)
    valid = np.isfinite(keypoints[..., :2]).all(axis=(1, 2))
    keypoints = np.where(valid[:, None, None], keypoints, np.nan).astype(np.float32)
    boxes = np.full((frames, 4), np.nan, dtype=np.float32)
    if valid.any():
        boxes[valid] = np.concatenate([keypoints[valid, :, :2].min(axis=1), keypoints[valid, :, :2].max(axis=1)], -1)
    return {
        "schema_version": np.int64(KEYPOINTS2D_SCHEMA_VERSION),
        "keypoints": keypoints[:, None],
        "boxes": boxes[:, None],
        "valid": valid[:, None],
        "track_ids": np.zeros(1, dtype=np.int64),
        "joint_names": np.array(joint_names),
        "image_size": np.array(image_size, dtype=np.int64).reshape(2),
        "fps": np.float64(np.nan if fps is None else fps),
        "frame_indices": np.arange(frames, dtype=np.int64),
    }
