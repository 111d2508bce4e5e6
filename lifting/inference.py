"""Lifting 2D keypoint sequences in pixels to 3D joints, and the ``joints3d.npz`` file.

    model = lifting.load_pretrained("lifting/weights/demo_27f_256c_coco.pt")
    result = lift_keypoints(model, keypoints, image_size=(1920, 1080), layout="coco")
    result.joints          # (T, 17, 3) metres, camera frame, root-relative (H36M-17)

The input goes through VideoPose3D's normalisation (``normalize_screen_coordinates`` with the
image width and height), frames without keypoints are filled by linear interpolation in time and
flagged, the sequence is edge-padded by (R - 1) / 2 frames on each side (so any length works,
even one frame), and with ``flip`` the mirrored sequence is lifted too and averaged
(``lifting.evaluate.predict_sequence``), as the official inference does.

The layout is the order of the input joints: ``coco`` (COCO-17 as HRNet and Detectron give it,
the input of ``pretrained_h36m_detectron_coco.bin``) or ``h36m`` (H36M-17, the input of
``pretrained_h36m_cpn.bin``). It picks the flip symmetry; the model must have been trained on it.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from body_models.atomic import write_json
from body_models.cameras import normalize_screen_coordinates
from body_models.errors import InputError, MissingFileError
from body_models.joints import COCO_17, H36M_17, JointSet
from body_models.sequences import SCHEMA_VERSIONS, Joints3D, Keypoints2D
from lifting.filling import HIP_ANCHOR, fill_missing_joints
from lifting.evaluate import predict_sequence

__all__ = ["CHUNK_FRAMES", "DEMO_WEIGHTS", "JOINTS3D_SCHEMA_VERSION", "LAYOUTS", "LiftResult", "lift_keypoints",
           "lift_keypoints_file", "save_joints3d_json"]

JOINTS3D_SCHEMA_VERSION = SCHEMA_VERSIONS["joints3d"]  # public name, kept for callers

DEMO_WEIGHTS = Path(__file__).resolve().parent / "weights" / "demo_27f_256c_coco.pt"
"""The demo lifter shipped with the package: 27 frames, 256 channels, COCO-17 in, H36M-17 out,
trained on synthetic mannequin data only (``configs/lifting/train_demo.yaml``)."""

CHUNK_FRAMES = 1024
"""Output frames per lifter call in inference: the receptive field's overlap is added to each chunk, so
memory stays flat on any sequence length and the result equals the whole sequence at once."""

LAYOUTS: dict[str, JointSet] = {"coco": COCO_17, "h36m": H36M_17}
"""Input layouts the lifter takes: name → joint set (order and flip symmetry)."""


@dataclass(frozen=True)
class LiftResult:
    """3D joints lifted from one 2D sequence.

    Attributes:
        joints: (T, 17, 3) float32 metres, camera frame (x right, y down, z forward),
            root-relative (joint 0, the pelvis, is zero), H36M-17 order.
        trajectory: (T, 3) float32 metres, the pelvis in the camera frame, or None without a
            trajectory model.
        interpolated: (T,) bool, frames with at least one joint missing and filled in time.
        empty: (T,) bool, frames with no keypoint at all (wholly interpolated).
    """

    joints: np.ndarray
    trajectory: np.ndarray | None
    interpolated: np.ndarray
    empty: np.ndarray


def _check_image_size(image_size: Sequence[float]) -> tuple[float, float]:
    size = np.asarray(image_size, dtype=np.float64).reshape(-1)
    if size.shape != (2,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise InputError(f"image_size must be (width, height) in pixels, both positive, got {image_size!r}")
    return float(size[0]), float(size[1])


def lift_keypoints(model: torch.nn.Module, keypoints: np.ndarray, image_size: Sequence[float],
                   layout: str = "coco", trajectory_model: torch.nn.Module | None = None,
                   flip: bool = True, chunk_frames: int | None = CHUNK_FRAMES, precision: str = "fp32") -> LiftResult:
    """Lift a 2D keypoint sequence of one person to 3D.

    Args:
        model: a pose lifter (``lifting.load_pretrained``), taking 17 joints of ``layout``;
            it is run in eval mode and left as it was.
        keypoints: (T, 17, 2) pixels x, y, or (T, 17, 3) with a confidence. A frame is missing
            when any x, y is NaN or any confidence is 0; missing frames are interpolated.
        image_size: (width, height) of the video, pixels.
        layout: "coco" (COCO-17, HRNet's order) or "h36m" (H36M-17).
        trajectory_model: optional (``lifting.load_trajectory_model``) for the pelvis position.
        flip: average with the lifted mirror image (test-time augmentation).
        chunk_frames: output frames per network call, with the receptive field's overlap
            (memory bounded on any length, same result); None: the whole sequence at once.
        precision: "fp32" (exact), or "bf16" autocast (faster where the CPU or GPU has bf16).

    Returns:
        A ``LiftResult``.

    Raises:
        InputError: unknown layout, wrong shape or joint count, no frame with keypoints, or a
            model that takes another number of joints (one line each).
    """
    if layout not in LAYOUTS:
        raise InputError(f"unknown keypoint layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    joint_set = LAYOUTS[layout]
    keypoints = np.asarray(keypoints, dtype=np.float32)
    expected = len(joint_set)
    if keypoints.ndim != 3 or keypoints.shape[2] not in (2, 3):
        raise InputError(f"keypoints must be (T, {expected}, 2 or 3) pixels, got shape {keypoints.shape}")
    if keypoints.shape[1] != expected:
        raise InputError(f"keypoints have {keypoints.shape[1]} joints but layout {layout!r} has {expected}; "
                         f"give (T, {expected}, 2 or 3) keypoints in {joint_set.name} order")
    if len(keypoints) == 0:
        raise InputError("the keypoint sequence is empty (T = 0)")
    if model.num_joints_in != expected:
        raise InputError(f"the lifter takes {model.num_joints_in} joints per frame, layout {layout!r} has "
                         f"{expected}; use weights trained on {layout} keypoints")
    width, height = _check_image_size(image_size)
    present = np.isfinite(keypoints[..., :2]).all(axis=-1)  # (T, J)
    if keypoints.shape[2] == 3:
        present &= keypoints[..., 2] > 0
    if not present.any():
        raise InputError(f"no frame of the {len(keypoints)}-frame sequence has keypoints (all NaN or confidence 0)")
    filled = fill_missing_joints(keypoints, present, HIP_ANCHOR[layout])
    features = model.in_features
    if features > filled.shape[2]:
        raise InputError(f"the lifter takes {features} values per joint (x, y, confidence) but the keypoints "
                         f"have {filled.shape[2]}")
    inputs = filled[..., :features].copy()
    inputs[..., :2] = normalize_screen_coordinates(inputs[..., :2], w=width, h=height)
    symmetry = dict(keypoints_left=joint_set.left, keypoints_right=joint_set.right)
    was_training = model.training
    model.eval()
    try:
        joints = predict_sequence(model, inputs, flip=flip, chunk_frames=chunk_frames, precision=precision,
                                  **symmetry)  # (T, 17, 3)
    finally:
        model.train(was_training)
    joints = (joints - joints[:, :1]).astype(np.float32)  # exactly root-relative
    trajectory = None
    if trajectory_model is not None:
        was_training = trajectory_model.training
        trajectory_model.eval()
        try:
            trajectory = predict_sequence(trajectory_model, inputs, flip=flip, chunk_frames=chunk_frames,
                                          precision=precision, **symmetry)[:, 0].astype(np.float32)
        finally:
            trajectory_model.train(was_training)
    return LiftResult(joints=joints, trajectory=trajectory, interpolated=~present.all(axis=1),
                      empty=~present.any(axis=1))


LIFTER_FPS_RATIO = 1.25  # input and training frame rates further apart than this get a warning


def check_lifter_fps(training_fps: float | None, input_fps: float, weights: str | os.PathLike,
                     keypoints: str | os.PathLike) -> bool:
    """Warn (``logging``) when a lifter meets keypoints at a frame rate far from its training
    rate: its receptive field then spans a different stretch of time. Returns whether the two
    agree (True also when either is unknown)."""
    if training_fps is None or not np.isfinite(input_fps) or input_fps <= 0:
        return True
    ratio = max(input_fps / training_fps, training_fps / input_fps)
    if ratio <= LIFTER_FPS_RATIO:
        return True
    logging.getLogger(__name__).warning(
        "the lifter %s was trained on %g fps input but %s is %g fps; its window of frames covers a different "
        "time span (resample the keypoints to about %g fps or use weights trained near %g fps)",
        Path(weights).name, training_fps, keypoints, input_fps, training_fps, input_fps)
    return False


def _layout_of(kp: Keypoints2D, path: Path) -> str:
    for layout, joint_set in LAYOUTS.items():
        if kp.joint_names == joint_set.names:
            return layout
    raise InputError(f"{path}: its joints are {kp.joint_set}, neither COCO-17 nor H36M-17; the lifter takes one of "
                     "these layouts")


def _read_keypoints2d(path: Path) -> Keypoints2D:
    """A ``keypoints2d.npz`` through its one loader (``Keypoints2D.load``: keys, shapes, version,
    implausible values)."""
    if not path.is_file():
        raise MissingFileError(f"keypoints file not found: {path}; make one with the keypoints stage")
    if path.suffix.lower() != ".npz":
        raise InputError(f"{path}: the lifter reads a keypoints2d.npz; `hmr lift` also takes COCO JSON and "
                         "OpenPose folders and converts them")
    return Keypoints2D.load(path)


def lift_keypoints_file(keypoints_path: str | os.PathLike, weights: str | os.PathLike, out_dir: str | os.PathLike,
                        flip: bool = True, trajectory: bool = True, chunk_frames: int | None = None,
                        precision: str = "fp32") -> dict[str, Path]:
    """Lift every tracked person of a ``keypoints2d.npz`` and write ``joints3d.npz`` and
    ``joints3d.json`` (``body_models.sequences.Joints3D``: ``joints (T, P, 17, 3)`` metres, camera
    frame, root-relative, H36M-17; ``trajectory (T, P, 3)`` only when the weights hold a
    trajectory model; ``valid (T, P)``, False where the person's keypoints were missing: those
    frames hold NaN; ``fps``, ``input_layout``, ``weights``).

    Args:
        keypoints_path: the keypoints stage's ``keypoints2d.npz``; its joint set chooses the
            layout (COCO-17 or H36M-17).
        weights: lifter weights (official ``.bin`` or project checkpoint) taking that layout.
        out_dir: output folder.
        flip: test-time flip averaging.
        trajectory: also run the trajectory model when the weights have one.
        chunk_frames: output frames per network call (``lift_keypoints``); None for
            ``CHUNK_FRAMES``.
        precision: "fp32" or "bf16" (``lift_keypoints``).

    Returns:
        {"npz": path, "json": path}.
    """
    from lifting.checkpoints import load_pretrained, load_trajectory_model, training_info

    keypoints_path, out_dir = Path(keypoints_path), Path(out_dir)
    kp = _read_keypoints2d(keypoints_path)
    layout = _layout_of(kp, keypoints_path)
    model = load_pretrained(weights)
    traj_model = load_trajectory_model(weights) if trajectory else None
    check_lifter_fps(training_info(weights)["fps"], kp.fps, weights, keypoints_path)
    frames, people = kp.num_frames, kp.num_people
    joints = np.full((frames, people, len(H36M_17), 3), np.nan, dtype=np.float32)
    root = np.full((frames, people, 3), np.nan, dtype=np.float32)
    valid = np.zeros((frames, people), dtype=bool)
    for person in range(people):
        sequence = kp.keypoints[:, person].copy()
        sequence[~kp.valid[:, person]] = np.nan
        if not np.isfinite(sequence[..., :2]).any():
            continue  # this track has no keypoint at all
        result = lift_keypoints(model, sequence, kp.image_size, layout=layout,
                                trajectory_model=traj_model, flip=flip, precision=precision,
                                chunk_frames=chunk_frames or CHUNK_FRAMES)
        present = ~result.empty & kp.valid[:, person]  # frames where the person was seen
        joints[present, person] = result.joints[present]
        if result.trajectory is not None:
            root[present, person] = result.trajectory[present]
        valid[:, person] = present
    if not valid.any():
        raise InputError(f"{keypoints_path}: no person has keypoints in any frame (all NaN or invalid); nothing to lift")
    lifted = Joints3D(joints=joints, valid=valid, trajectory=root if traj_model is not None else None, fps=kp.fps,
                      input_layout=layout, weights=str(weights))
    return {"npz": lifted.save(out_dir / "joints3d.npz"), "json": save_joints3d_json(out_dir / "joints3d.json", lifted)}


def save_joints3d_json(path: str | os.PathLike, lifted: Joints3D) -> Path:
    """Write ``joints3d.json``: the arrays of ``joints3d.npz`` as JSON values (NaN → null), with units."""
    return write_json(path, _json_record({"schema_version": np.int64(JOINTS3D_SCHEMA_VERSION), **lifted.as_arrays()}))


def _json_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The npz arrays as JSON values (NaN → null), with units."""

    def plain(value: Any) -> Any:
        value = np.asarray(value)
        if value.dtype.kind == "f":
            as_list = value.astype(np.float64).round(6).tolist()
            return _nan_to_none(as_list)
        return value.tolist()

    out = {key: plain(value) for key, value in record.items()}
    out["units"] = {"joints": "metres, camera frame (x right, y down, z forward), root-relative",
                    "trajectory": "metres, camera frame"}
    return out


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
