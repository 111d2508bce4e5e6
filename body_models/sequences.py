"""The pipeline's sequence files, low in the stack so that every package reads and writes them
the same way. Each file has one frozen type, with one ``save`` and one ``load`` that check the
version, keys, shapes and dtypes and give a one-line error naming the file:

    keypoints2d.npz   Keypoints2D         2D keypoints and boxes of the tracked people
    joints3d.npz      Joints3D            the lifter's 3D joints
    smpl.npz          SMPLSequence        SMPL bodies: SMPLify's fits, or HMR's estimates alone
    regressor.npz     RegressorEstimates  HMR's estimates (SMPLify's start)
    world.npz         WorldSequence       the bodies in a gravity-aligned world frame

    kp = Keypoints2D.load("run/keypoints2d.npz")         # or load_keypoints2d(path)
    fit = SMPLSequence.load("run/smpl.npz")
    dataclasses.replace(fit, fps=30.0).save("copy/smpl.npz")

Sizes: T frames (rows), P people (one column per track), J joints. Per-frame, per-person arrays
are (T, P, ...); a missing person is NaN there with ``valid`` False. 2D coordinates are pixels of
the original frame; 3D ones metres, in the camera frame (x right, y down, z forward) unless the
field says otherwise (README's *Output files*).

The objects are frozen: ``dataclasses.replace`` makes a changed copy. Building one checks each
array's shape and the kind of its values (floats, integers, booleans or text), with a one-line
``InputError``. ``save`` writes floats as float32 (float64 where a field says so), integers as
int64, and ``load`` converts what a file holds to those dtypes, so a file written by other numpy
code with float64 arrays loads the same. A field that is None was not in the file it was loaded
from (an older or hand-made file) and is not written; a few (``track_ids``, ``frame_indices``,
the fit-only flags) fall back to what their docs say instead.

How a field is stored (its shape in named sizes and its dtype), the types' shared base
``SequenceFile``, and ``save_sequence_arrays`` / ``load_sequence_arrays`` underneath, which stamp
and check each file kind's ``schema_version`` and required keys, live in
``body_models.sequence_fields``; their names import from here too.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from body_models import joints as js
from body_models.errors import InputError
from body_models.sequence_fields import (INDEX, KEYPOINTS2D_SCHEMA_VERSION, REQUIRED_KEYS, REWRITE_HINT,
                                         SCHEMA_VERSIONS, SequenceFile, _fail, array, load_sequence_arrays,
                                         save_sequence_arrays, scalar, size)

__all__ = ["INDEX", "KEYPOINTS2D_SCHEMA_VERSION", "PLAUSIBLE_MARGIN", "REQUIRED_KEYS", "SCHEMA_VERSIONS", "Joints3D",
           "Keypoints2D", "RegressorEstimates", "SMPLSequence", "SequenceFile", "WorldSequence",
           "drop_implausible_keypoints", "empty_keypoints", "load_keypoints2d", "load_sequence_arrays",
           "plausible_keypoints", "save_keypoints2d", "save_sequence_arrays"]

# ---------------------------------------------------------------------------------------------
# keypoints2d.npz


@dataclass(frozen=True)
class Keypoints2D(SequenceFile):
    """2D keypoints of P tracked people over T frames (``keypoints2d.npz``).

    Attributes:
        keypoints: (T, P, J, 3) float32 pixels x, y and confidence in [0, 1]; NaN x, y where a
            joint or person is missing (confidence 0 there).
        boxes: (T, P, 4) float32 pixels x1, y1, x2, y2; NaN where the person is missing.
        valid: (T, P) bool, the person was found in that frame.
        track_ids: (P,) int64 identity of each person column.
        joint_set: name of the ``body_models.joints`` set the J joints follow (the file also holds
            their ``joint_names``).
        image_size: (width, height) pixels; (0, 0) when unknown.
        fps: frames per second; 0 when unknown.
        frame_indices: (T,) int64 frame number of each row in the source video or folder.
    """

    KIND: ClassVar[str] = "keypoints2d"

    keypoints: np.ndarray = array("T P J 3", np.float32)
    boxes: np.ndarray = array("T P 4", np.float32)
    valid: np.ndarray = array("T P", bool)
    track_ids: np.ndarray = array("P", np.int64)
    joint_set: str = scalar(str)
    image_size: tuple[int, int] = size()
    fps: float = scalar(float)
    frame_indices: np.ndarray = array("T", np.int64)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return js.JOINT_SETS[self.joint_set].names

    def to_joint_set(self, name: str) -> "Keypoints2D":
        """The same people with their joints picked into another set by name (e.g. OpenPose-25
        to COCO-17); a ``KeyError`` names a joint the source cannot provide."""
        if name == self.joint_set:
            return self
        index = list(js.index_map(self.joint_set, name))
        return replace(self, keypoints=self.keypoints[:, :, index].copy(), joint_set=name)

    @classmethod
    def _check_values(cls, values: Mapping[str, Any], sizes: dict[str, int], where: str | Path) -> None:
        joint_set = values["joint_set"]
        if joint_set not in js.JOINT_SETS:
            _fail(where, f"unknown joint set {joint_set!r}; known: {', '.join(js.JOINT_SETS)}")
        if sizes["J"] != len(js.JOINT_SETS[joint_set]):
            _fail(where, f"{sizes['J']} joints, but {joint_set} has {len(js.JOINT_SETS[joint_set])}")

    @classmethod
    def _read(cls, path: Path, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """A file without ``joint_set`` names it by its ``joint_names``; values no frame can hold
        (1e30, inf) become missing joints, with a warning."""
        values = super()._read(path, arrays)
        if "joint_set" not in values:
            values["joint_set"] = _joint_set_from_names(tuple(str(n) for n in arrays["joint_names"]), path)
        values["keypoints"] = plausible_keypoints(values["keypoints"], values["image_size"], path)
        return values

    def _derived_arrays(self) -> dict[str, np.ndarray]:
        return {"joint_names": np.array(self.joint_names)}


def save_keypoints2d(path: str | os.PathLike, kp: Keypoints2D) -> Path:
    """Write ``keypoints2d.npz`` (``Keypoints2D.save``)."""
    return kp.save(path)


def load_keypoints2d(path: str | os.PathLike) -> Keypoints2D:
    """Read our ``keypoints2d.npz`` (``Keypoints2D.load``)."""
    return Keypoints2D.load(path)


def empty_keypoints(num_frames: int, num_people: int, joint_set: str = "coco_17") -> Keypoints2D:
    """A ``Keypoints2D`` with every person missing, its arrays to be filled in place."""
    j = len(js.JOINT_SETS[joint_set])
    keypoints = np.full((num_frames, num_people, j, 3), np.nan, np.float32)
    keypoints[..., 2] = 0.0
    return Keypoints2D(keypoints=keypoints, boxes=np.full((num_frames, num_people, 4), np.nan, np.float32),
                       valid=np.zeros((num_frames, num_people), bool), track_ids=np.arange(num_people),
                       joint_set=joint_set, image_size=(0, 0), fps=0.0,
                       frame_indices=np.arange(num_frames))


PLAUSIBLE_MARGIN = 1.0  # keypoints farther than this many image sizes outside the frame are errors


def drop_implausible_keypoints(keypoints: np.ndarray, image_size) -> tuple[np.ndarray, int]:
    """Mark joints that cannot be pixels of the frame as missing (NaN x, y and confidence 0).

    A detector that diverged writes values like 1e30; lifted or fitted, they give garbage that
    looks like a result. A joint is dropped when x or y is not finite or lies more than
    ``PLAUSIBLE_MARGIN`` image widths (heights) outside the frame; with no known image size, when
    its magnitude exceeds 1e6 pixels.

    Args:
        keypoints: (..., J, 3) pixels x, y, confidence.
        image_size: (width, height) pixels, or (0, 0) when unknown.

    Returns:
        (a float32 copy with those joints missing, how many finite joints were dropped).
    """
    out = np.array(keypoints, dtype=np.float32)
    width, height = (float(v) for v in image_size) if image_size is not None else (0.0, 0.0)
    xy = out[..., :2].astype(np.float64)
    with np.errstate(invalid="ignore"):
        if width > 0 and height > 0:
            low = -PLAUSIBLE_MARGIN * np.array([width, height])
            high = (1 + PLAUSIBLE_MARGIN) * np.array([width, height])
            bad = ((xy < low) | (xy > high)).any(-1)
        else:
            bad = (np.abs(xy) > 1e6).any(-1)
    bad |= np.isinf(xy).any(-1)
    dropped = int((bad & ~np.isnan(xy).any(-1)).sum())
    out[..., :2][bad] = np.nan
    out[..., 2][bad] = 0.0
    return out, dropped


def plausible_keypoints(keypoints: np.ndarray, image_size, path) -> np.ndarray:
    """Keypoints with values no frame can hold (1e30, inf) turned into missing joints, with a warning."""
    if keypoints.ndim != 4 or keypoints.shape[-1] != 3:
        raise InputError(f"{path}: keypoints must be (T, P, J, 3) pixels x, y, confidence, got {keypoints.shape}")
    keypoints, dropped = drop_implausible_keypoints(keypoints, image_size)
    if dropped:
        logging.getLogger(__name__).warning(f"{path}: {dropped} keypoints lie far outside the image (or are "
                                            "infinite); they are treated as missing")
    return keypoints


def _joint_set_from_names(names: tuple[str, ...], path: Path) -> str:
    for name, joint_set in js.JOINT_SETS.items():
        if joint_set.names == names:
            return name
    raise InputError(f"{path}: its joint_names match no known joint set; {REWRITE_HINT}")


# ---------------------------------------------------------------------------------------------
# joints3d.npz


@dataclass(frozen=True)
class Joints3D(SequenceFile):
    """The lifter's 3D joints of P tracked people over T frames (``joints3d.npz``, written by
    ``lifting.lift_keypoints_file``; ``joints3d.json`` holds the same values).

    Attributes:
        joints: (T, P, 17, 3) float32 metres, camera frame, root-relative (the pelvis is zero),
            H36M-17 order (the file also holds its ``joint_names`` and ``parents``); NaN where
            ``valid`` is False.
        valid: (T, P) bool, the person's keypoints were there to lift.
        trajectory: (T, P, 3) float32 metres, the pelvis in the camera frame; None when the
            weights hold no trajectory model.
        fps: frames per second of the keypoints; 0 when unknown.
        input_layout: the 2D joints the lifter took, "coco" or "h36m"; None when not recorded.
        weights: the lifter weights file; None when not recorded.
    """

    KIND: ClassVar[str] = "joints3d"

    joints: np.ndarray = array("T P 17 3", np.float32)
    valid: np.ndarray = array("T P", bool)
    trajectory: np.ndarray | None = array("T P 3", np.float32, absent=None)
    fps: float = scalar(float, 0.0)
    input_layout: str | None = scalar(str, None)
    weights: str | None = scalar(str, None)

    def _derived_arrays(self) -> dict[str, np.ndarray]:
        return {"joint_names": np.array(js.H36M_17.names), "parents": np.array(js.H36M_17.parents, np.int64)}


# ---------------------------------------------------------------------------------------------
# smpl.npz and regressor.npz

SMPL_PARAMETERS = ("betas", "body_pose", "global_orient", "transl")
"""The arrays the SMPL layer takes (``body_models.smpl.SMPL``), in ``SMPLSequence`` and ``RegressorEstimates``."""


class _SMPLParameters:
    def smpl_parameters(self) -> dict[str, np.ndarray]:
        """{betas, body_pose, global_orient, transl}: the (T, P, ...) arrays the SMPL layer takes."""
        return {name: getattr(self, name) for name in SMPL_PARAMETERS}


@dataclass(frozen=True)
class SMPLSequence(_SMPLParameters, SequenceFile):
    """SMPL bodies of P tracked people over T frames (``smpl.npz``; ``smpl_unsmoothed.npz`` too):
    SMPLify's fits (``hmr fit``, ``hmr run``) or, with SMPLify off, HMR's estimates alone. NaN
    rows and ``valid`` False where a person has no body.

    Attributes:
        global_orient: (T, P, 3) float32 axis-angle radians, the root's rotation (camera frame).
        body_pose: (T, P, 69) float32 axis-angle radians of the 23 body joints.
        betas: (T, P, B) float32 shape coefficients (B = 10 for SMPL), the same in every frame of
            a track when ``betas_per`` is "track".
        transl: (T, P, 3) float32 metres, camera frame.
        valid: (T, P) bool, the person has a body in that frame.
        cam: (T, P, 3) float32 weak perspective (s, tx, ty) of the square crop ``crop_boxes``.
        joints: (T, P, 24, 3) float32 metres, camera frame, SMPL-24 (the file also holds their
            ``joint_names``).
        fitted: (T, P) bool, SMPLify ran and improved on its start (False without a fit).
        valid_fit: (T, P) bool, the fit's loss is under SPIN's threshold (False without a fit).
        betas_zeroed: (T, P) bool, SPIN's |β| > 3 rule reset the shape (False without a fit).
        reprojection_loss: (T, P) float32 crop pixels² (NaN without a fit).
        crop_boxes: (T, P, 4) float32 pixels x1, y1, x2, y2 of each fit's square crop (NaN
            without a fit).
        over_threshold: (N, 2) int64 frame index and track id of each fit whose loss is not under
            the threshold (none without a fit).
        focal_length: pixels, the full image's camera.
        principal_point: (2,) float64 pixels, the full image's camera.
        image_size: (width, height) pixels.
        track_ids: (P,) int64 identity of each person column (0, 1, ... when not recorded).
        frame_indices: (T,) int64 frame number of each row (0, 1, ... when not recorded).
        fps: frames per second; 0 when unknown.
        body_model: the model the bodies are for, a file or "mannequin".
        keypoints_joint_set: the joint set of the 2D keypoints fitted.
        betas_per: "track" (one shape per person) or "frame".
        smoothing: the ``--smooth`` method applied (``hmr.world.smoothing``).

    Fields left None (``cam`` and after it, but for those said to fall back) were not recorded.
    """

    KIND: ClassVar[str] = "smpl"

    global_orient: np.ndarray = array("T P 3", np.float32)
    body_pose: np.ndarray = array("T P 69", np.float32)
    betas: np.ndarray = array("T P B", np.float32)
    transl: np.ndarray = array("T P 3", np.float32)
    valid: np.ndarray = array("T P", bool)
    cam: np.ndarray | None = array("T P 3", np.float32, absent=None)
    joints: np.ndarray | None = array("T P 24 3", np.float32, absent=None)
    fitted: np.ndarray = array("T P", bool, absent=False)
    valid_fit: np.ndarray = array("T P", bool, absent=False)
    betas_zeroed: np.ndarray = array("T P", bool, absent=False)
    reprojection_loss: np.ndarray = array("T P", np.float32, absent=np.nan)
    crop_boxes: np.ndarray = array("T P 4", np.float32, absent=np.nan)
    over_threshold: np.ndarray = array("N 2", np.int64, absent=0)
    focal_length: float | None = scalar(float, None)
    principal_point: np.ndarray | None = array("2", np.float64, absent=None)
    image_size: tuple[int, int] | None = size(None)
    track_ids: np.ndarray = array("P", np.int64, absent=INDEX)
    frame_indices: np.ndarray = array("T", np.int64, absent=INDEX)
    fps: float = scalar(float, 0.0)
    body_model: str | None = scalar(str, None)
    keypoints_joint_set: str | None = scalar(str, None)
    betas_per: str | None = scalar(str, None)
    smoothing: str | None = scalar(str, None)

    @property
    def posable(self) -> np.ndarray:
        """(T, P) bool: ``valid`` with finite ``global_orient``, ``body_pose`` and ``transl``, the
        person-frames an SMPL layer can pose."""
        return (self.valid & np.isfinite(self.transl).all(-1) & np.isfinite(self.body_pose).all(-1)
                & np.isfinite(self.global_orient).all(-1))

    def _derived_arrays(self) -> dict[str, np.ndarray]:
        return {"joint_names": np.array(js.SMPL_24.names)} if self.joints is not None else {}


@dataclass(frozen=True)
class RegressorEstimates(_SMPLParameters, SequenceFile):
    """HMR's SMPL estimates of P tracked people over T frames (``regressor.npz``), from the
    person crops of the video; SMPLify starts from them. NaN rows where a person has no crop.

    Attributes:
        global_orient: (T, P, 3) float32 axis-angle radians (camera frame).
        body_pose: (T, P, 69) float32 axis-angle radians.
        betas: (T, P, B) float32 shape coefficients.
        cam: (T, P, 3) float32 weak perspective (s, tx, ty) of HMR's crop.
        transl: (T, P, 3) float32 metres, camera frame (from ``cam`` and the full image's camera).
        valid: (T, P) bool, the person was found in that frame.
        focal_length: pixels, the full image's camera ``transl`` is for; None when not recorded.
    """

    KIND: ClassVar[str] = "regressor"

    global_orient: np.ndarray = array("T P 3", np.float32)
    body_pose: np.ndarray = array("T P 69", np.float32)
    betas: np.ndarray = array("T P B", np.float32)
    cam: np.ndarray = array("T P 3", np.float32)
    transl: np.ndarray = array("T P 3", np.float32)
    valid: np.ndarray = array("T P", bool)
    focal_length: float | None = scalar(float, None)


# ---------------------------------------------------------------------------------------------
# world.npz


@dataclass(frozen=True)
class WorldSequence(SequenceFile):
    """The fitted people in a gravity-aligned world frame for a static camera (``world.npz``,
    ``hmr.world.world.make_world``): y up, the floor at y = 0, the origin on the floor under the
    first pelvis, metres. NaN and ``valid`` False where a person has no fit.

    Attributes:
        global_orient: (T, P, 3) float32 axis-angle radians, world frame.
        transl: (T, P, 3) float32 metres, world frame: ``transl_refined`` when ``refined``, else
            ``transl_unrefined``.
        transl_unrefined: (T, P, 3) float32 before the contact refinement.
        transl_refined: (T, P, 3) float32 with the feet in contact pinned.
        joints: (T, P, 24, 3) float32 SMPL-24 metres, world frame, likewise refined or not.
        joints_unrefined: (T, P, 24, 3) float32.
        joints_refined: (T, P, 24, 3) float32.
        contacts: (T, P, C) bool, the feet ``contact_names`` on the floor.
        contact_names: (C,) str, e.g. left_foot, right_foot.
        valid: (T, P) bool.
        refined: whether ``transl`` and ``joints`` are the refined ones.
        camera_rotation: (3, 3) float64, x_world = camera_rotation @ x_camera + camera_position.
        camera_position: (3,) float64 metres, world frame.
        ground_plane: (4,) float64 (nx, ny, nz, d), n · x + d = 0 in the camera frame, n up.
        ground_inliers: how many foot points the floor was fitted to.
        fps: frames per second; 0 when unknown.
        track_ids: (P,) int64 (0, 1, ... when not recorded).
        frame_indices: (T,) int64 (0, 1, ... when not recorded).
    """

    KIND: ClassVar[str] = "world"

    global_orient: np.ndarray = array("T P 3", np.float32)
    transl: np.ndarray = array("T P 3", np.float32)
    transl_unrefined: np.ndarray = array("T P 3", np.float32)
    transl_refined: np.ndarray = array("T P 3", np.float32)
    joints: np.ndarray = array("T P 24 3", np.float32)
    joints_unrefined: np.ndarray = array("T P 24 3", np.float32)
    joints_refined: np.ndarray = array("T P 24 3", np.float32)
    contacts: np.ndarray = array("T P C", bool)
    contact_names: np.ndarray = array("C", str)
    valid: np.ndarray = array("T P", bool)
    refined: bool = scalar(bool)
    camera_rotation: np.ndarray = array("3 3", np.float64)
    camera_position: np.ndarray = array("3", np.float64)
    ground_plane: np.ndarray = array("4", np.float64)
    ground_inliers: int = scalar(int)
    fps: float = scalar(float, 0.0)
    track_ids: np.ndarray = array("P", np.int64, absent=INDEX)
    frame_indices: np.ndarray = array("T", np.int64, absent=INDEX)
