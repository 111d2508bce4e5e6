"""One person's SMPL motion read from a run folder, in the frame an export asks for.

``load_motion(run_dir, person)`` reads ``smpl.npz`` (and ``world.npz`` when the run has one, whose
``global_orient`` and ``transl`` then replace the camera-frame ones) and returns a ``Motion``:
a contiguous clip from the person's first to last fitted frame, one shape ``betas`` for the
whole clip (the median over the fitted frames, since a skeleton has one set of bone lengths),
and frames without a fit filled with the nearest fitted frame (``filled`` says which).

``Motion.to_up(up, smpl)`` expresses the body in a right-handed frame with y or z up, metres:
from the camera frame (x right, y down, z forward) by a half turn about x (y up: x right,
y up, z towards the camera) and then a quarter turn about x for z up (x right, y away from the
camera, z up); from the world frame (already y up) by the quarter turn alone for z up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from body_models.errors import InputError
from body_models.sequences import SMPLSequence, WorldSequence
from body_models.smpl import MANNEQUIN, SMPL, rigid_transform_params

FRAMES = ("camera", "world")
UPS = ("y", "z")

# Rotations taking a frame's vectors into a y-up or z-up output frame (x' = R x).
_HALF_TURN_X = np.diag([1.0, -1.0, -1.0])
_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def frame_rotation(frame: str, up: str) -> np.ndarray:
    """(3, 3) rotation from ``frame`` (``camera`` y down, or ``world`` y up) into the ``up``
    output frame."""
    if frame not in FRAMES:
        raise InputError(f"unknown frame {frame!r}; expected one of {', '.join(FRAMES)}")
    if up not in UPS:
        raise InputError(f"unknown up axis {up!r}; expected y or z")
    to_y_up = _HALF_TURN_X if frame == "camera" else np.eye(3)
    return to_y_up if up == "y" else _Y_UP_TO_Z_UP @ to_y_up


def rest_frame_rotation(up: str) -> np.ndarray:
    """(3, 3) rotation from SMPL's own y-up rest frame into the ``up`` output frame."""
    return np.eye(3) if up == "y" else _Y_UP_TO_Z_UP


@dataclass
class Motion:
    """One person's motion over T frames.

    Attributes:
        global_orient: (T, 3) axis-angle radians, in ``frame``.
        body_pose: (T, 69) axis-angle radians (SMPL's 23 joints, each relative to its parent).
        transl: (T, 3) metres, in ``frame`` (SMPL's ``transl``).
        betas: (B,) one shape for the clip.
        fps: frames per second.
        frame: ``camera`` (OpenCV, y down), ``world`` (y up, floor at y = 0), or after ``to_up``
            a description of the output frame.
        up: None in the source frame, else ``y`` or ``z``.
        body_model: the model file's name, or ``mannequin``.
        gender: neutral, male or female.
        track_id: the person's track ID.
        frame_indices: (T,) video frame numbers.
        filled: (T,) True where the frame had no fit and repeats the nearest fitted frame.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray
    fps: float
    frame: str
    body_model: str
    track_id: int
    frame_indices: np.ndarray
    filled: np.ndarray
    gender: str = "neutral"
    up: str | None = None

    @property
    def num_frames(self) -> int:
        return int(self.global_orient.shape[0])

    @property
    def is_mannequin(self) -> bool:
        return self.body_model == MANNEQUIN

    @property
    def frame_description(self) -> str:
        """What the coordinates mean, for the files' headers."""
        source = ("camera frame (OpenCV camera at the origin)" if self.frame == "camera"
                  else "world frame (floor at height 0, origin under the first frame's pelvis)")
        if self.up is None:
            return source
        axes = "x right, y up, z towards the camera" if self.frame == "camera" else "y up"
        if self.up == "z":
            axes = "x right, y away from the camera, z up" if self.frame == "camera" else "z up"
        return f"{source}, turned to {axes}; metres"

    def to_up(self, up: str, smpl: SMPL) -> "Motion":
        """The same motion with its root turned into the y-up or z-up output frame."""
        if self.up is not None:
            raise InputError("this motion is already in an output frame")
        rotation = torch.as_tensor(frame_rotation(self.frame, up), dtype=torch.float64)
        betas = torch.as_tensor(self.betas[None], dtype=torch.float32)
        with torch.no_grad():
            root = smpl.rest_root(betas).double()
        orient, transl = rigid_transform_params(
            torch.as_tensor(self.global_orient, dtype=torch.float64), torch.as_tensor(self.transl, dtype=torch.float64),
            root, rotation, torch.zeros(3, dtype=torch.float64))
        return replace(self, global_orient=orient.numpy(), transl=transl.numpy(), up=up)

    def smpl_output(self, smpl: SMPL, rows: np.ndarray | None = None):
        """The SMPL layer's output (vertices, joints) for the clip's frames ``rows`` (all when None)."""
        rows = np.arange(self.num_frames) if rows is None else np.asarray(rows)
        n = len(rows)
        with torch.no_grad():
            return smpl(betas=torch.as_tensor(np.repeat(self.betas[None], n, 0), dtype=torch.float32),
                        body_pose=torch.as_tensor(self.body_pose[rows], dtype=torch.float32),
                        global_orient=torch.as_tensor(self.global_orient[rows], dtype=torch.float32),
                        transl=torch.as_tensor(self.transl[rows], dtype=torch.float32))


def load_motion(run_dir: str | os.PathLike, person: int | None = None) -> Motion:
    """One person's motion from a run folder (``smpl.npz``, and ``world.npz`` when present).

    Args:
        run_dir: the ``hmr run`` / ``hmr demo`` output folder.
        person: a track ID from ``smpl.npz``'s ``track_ids``; None for the person fitted in the
            most frames.

    Returns:
        a ``Motion`` in the world frame when the run has ``world.npz``, else in the camera frame.
    """
    run_dir = Path(run_dir)
    smpl_path = run_dir / "smpl.npz"
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a folder; give the output folder of `hmr run` or `hmr demo`")
    if not smpl_path.is_file():
        raise InputError(f"{run_dir} has no SMPL output (smpl.npz); run `hmr run` with SMPLify on (no --no-smplify) "
                         "or with HMR weights, then export")
    fit = SMPLSequence.load(smpl_path)
    track_ids = fit.track_ids
    ok = fit.posable
    frame, global_orient, transl = "camera", fit.global_orient, fit.transl
    world_path = run_dir / "world.npz"
    if world_path.is_file():
        world = WorldSequence.load(world_path)
        if world.global_orient.shape != fit.global_orient.shape:
            raise InputError(f"{world_path} does not match {smpl_path} (shapes {world.global_orient.shape} and "
                             f"{fit.global_orient.shape}); rerun `hmr run`")
        frame, global_orient, transl = "world", world.global_orient, world.transl
        ok &= np.isfinite(transl).all(-1)
    if person is None:
        if not ok.any():
            raise InputError(f"{smpl_path} holds no fitted frame of anybody; nothing to export")
        column = int(np.argmax(ok.sum(0)))
    else:
        matches = np.flatnonzero(track_ids == int(person))
        if not len(matches):
            raise InputError(f"{smpl_path} has no person {person}; its track IDs are "
                             f"{', '.join(str(int(t)) for t in track_ids)}")
        column = int(matches[0])
        if not ok[:, column].any():
            raise InputError(f"person {person} has no fitted frame in {smpl_path}; nothing to export")
    rows = np.flatnonzero(ok[:, column])
    span = np.arange(rows[0], rows[-1] + 1)
    nearest = rows[np.abs(span[:, None] - rows[None, :]).argmin(1)]  # (T,) the fitted row each frame uses
    take = lambda values: values[nearest, column].astype(np.float64)  # noqa: E731
    return Motion(global_orient=take(global_orient), body_pose=take(fit.body_pose), transl=take(transl),
                  betas=np.median(fit.betas[rows, column].astype(np.float64), axis=0), fps=fit.fps or 30.0,
                  frame=frame, body_model=fit.body_model or MANNEQUIN, track_id=int(track_ids[column]),
                  frame_indices=fit.frame_indices[span], filled=~ok[span, column])


@dataclass(frozen=True)
class RestBody:
    """The shaped body at rest (zero pose) in SMPL's own y-up frame, metres.

    Attributes:
        joints: (24, 3) joint positions.
        vertices: (V, 3) shaped template (no pose correctives).
        parents: (24,) parent index, -1 for the pelvis.
        names: (24,) SMPL joint names.
    """

    joints: np.ndarray
    vertices: np.ndarray
    parents: tuple[int, ...]
    names: tuple[str, ...]

    @property
    def offsets(self) -> np.ndarray:
        """(24, 3) each joint's rest offset from its parent (the pelvis: from the origin)."""
        parent_pos = np.where(np.array(self.parents)[:, None] >= 0, self.joints[list(max(p, 0) for p in self.parents)], 0.0)
        return self.joints - parent_pos

    @property
    def children(self) -> list[list[int]]:
        kids: list[list[int]] = [[] for _ in self.parents]
        for joint, parent in enumerate(self.parents):
            if parent >= 0:
                kids[parent].append(joint)
        return kids


def rest_body(smpl: SMPL, betas: np.ndarray) -> RestBody:
    """The rest skeleton and shaped template of ``smpl`` for ``betas`` (B,)."""
    from body_models.joints import SMPL_24

    layer = smpl.smplx
    b = torch.as_tensor(betas, dtype=layer.shapedirs.dtype)[: smpl.num_betas]
    with torch.no_grad():
        vertices = layer.v_template + torch.einsum("l,vcl->vc", b, layer.shapedirs[..., : len(b)])
        joints = layer.J_regressor @ vertices
    parents = tuple(int(p) for p in layer.parents)
    if parents != SMPL_24.parents:
        raise InputError(f"{smpl.name} has a kinematic tree other than SMPL's 24 joints; it cannot be exported")
    return RestBody(joints=joints.double().numpy(), vertices=vertices.double().numpy(), parents=parents,
                    names=SMPL_24.names)


def local_rotations(motion: Motion) -> np.ndarray:
    """(T, 24, 3, 3) every joint's rotation relative to its parent (the pelvis: to the frame)."""
    from scipy.spatial.transform import Rotation

    pose = np.concatenate([motion.global_orient, motion.body_pose], axis=1).reshape(-1, 3)
    return Rotation.from_rotvec(pose).as_matrix().reshape(motion.num_frames, 24, 3, 3)
