"""The pipeline's sequence files, low in the stack so that every package reads and writes them
the same way: ``keypoints2d.npz`` (``Keypoints2D``), with one ``save`` and one ``load`` that
check the version, keys, shapes and dtypes and give a one-line error naming the file.

    kp = load_keypoints2d("run/keypoints2d.npz")
    save_keypoints2d("copy/keypoints2d.npz", kp)

Coordinates are pixels of the original frame; a missing joint is NaN with confidence 0, and a
missing person is NaN everywhere with ``valid`` False (DESIGN.md's schema).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from body_models import joints as js
from body_models.atomic import save_npz
from body_models.errors import InputError, MissingFileError
from body_models.npz import load_npz, require_numeric

KEYPOINTS2D_SCHEMA_VERSION = 1


@dataclass
class Keypoints2D:
    """2D keypoints of P tracked people over T frames.

    Attributes:
        keypoints: (T, P, J, 3) float32 pixels x, y and confidence in [0, 1]; NaN x, y where a
            joint or person is missing (confidence 0 there).
        boxes: (T, P, 4) float32 pixels x1, y1, x2, y2; NaN where the person is missing.
        valid: (T, P) bool, the person was found in that frame.
        track_ids: (P,) int64 identity of each person column.
        joint_set: name of the ``body_models.joints`` set the J joints follow.
        image_size: (width, height) pixels; (0, 0) when unknown.
        fps: frames per second; 0 when unknown.
        frame_indices: (T,) int64 frame number of each row in the source video or folder.
    """

    keypoints: np.ndarray
    boxes: np.ndarray
    valid: np.ndarray
    track_ids: np.ndarray
    joint_set: str
    image_size: tuple[int, int]
    fps: float
    frame_indices: np.ndarray

    def __post_init__(self) -> None:
        t, p = self.valid.shape if self.valid.ndim == 2 else (None, None)
        if t is None or self.keypoints.shape[:2] != (t, p) or self.keypoints.shape[-1] != 3:
            raise InputError(f"Keypoints2D: keypoints {self.keypoints.shape} and valid {self.valid.shape} "
                             "must be (T, P, J, 3) and (T, P)")
        if self.boxes.shape != (t, p, 4) or self.track_ids.shape != (p,) or self.frame_indices.shape != (t,):
            raise InputError(f"Keypoints2D: boxes {self.boxes.shape}, track_ids {self.track_ids.shape} and "
                             f"frame_indices {self.frame_indices.shape} do not fit T={t}, P={p}")
        if self.joint_set not in js.JOINT_SETS:
            raise InputError(f"Keypoints2D: unknown joint set {self.joint_set!r}")
        if self.keypoints.shape[2] != len(js.JOINT_SETS[self.joint_set]):
            raise InputError(f"Keypoints2D: {self.keypoints.shape[2]} joints, but {self.joint_set} has "
                             f"{len(js.JOINT_SETS[self.joint_set])}")

    @property
    def num_frames(self) -> int:
        return self.valid.shape[0]

    @property
    def num_people(self) -> int:
        return self.valid.shape[1]

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


def empty_keypoints(num_frames: int, num_people: int, joint_set: str = "coco_17") -> Keypoints2D:
    """A ``Keypoints2D`` with every person missing, to be filled in."""
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


def save_keypoints2d(path: str | os.PathLike, kp: Keypoints2D) -> Path:
    """Write ``keypoints2d.npz`` in DESIGN.md's schema (atomically; loads with allow_pickle=False)."""
    return save_npz(
        path,
        schema_version=np.int64(KEYPOINTS2D_SCHEMA_VERSION),
        keypoints=kp.keypoints.astype(np.float32),
        boxes=kp.boxes.astype(np.float32),
        valid=kp.valid.astype(bool),
        track_ids=kp.track_ids.astype(np.int64),
        joint_names=np.array(kp.joint_names),
        joint_set=np.array(kp.joint_set),
        image_size=np.array(kp.image_size, np.int64),
        fps=np.float64(kp.fps),
        frame_indices=kp.frame_indices.astype(np.int64),
    )


def load_keypoints2d(path: str | os.PathLike) -> Keypoints2D:
    """Read our ``keypoints2d.npz``."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"keypoints file not found: {path}")
    data = load_sequence_arrays(path, "keypoints2d")
    names = tuple(str(n) for n in data["joint_names"])
    joint_set = str(data["joint_set"]) if "joint_set" in data else _joint_set_from_names(names, path)
    numbers = {k: require_numeric(path, k, data[k]) for k in ("keypoints", "boxes", "image_size", "fps",
                                                             "track_ids", "frame_indices")}
    if numbers["image_size"].shape != (2,) or numbers["fps"].shape != ():
        raise InputError(f"{path}: image_size must be (2,) and fps a scalar, got {numbers['image_size'].shape} "
                         f"and {numbers['fps'].shape}")
    size = tuple(int(v) for v in np.nan_to_num(numbers["image_size"]))
    keypoints = plausible_keypoints(numbers["keypoints"], size, path)
    return Keypoints2D(keypoints=keypoints, boxes=numbers["boxes"],
                       valid=data["valid"].astype(bool), track_ids=numbers["track_ids"].astype(np.int64),
                       joint_set=joint_set, image_size=size,
                       fps=float(numbers["fps"]), frame_indices=numbers["frame_indices"].astype(np.int64))


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
    raise InputError(f"{path}: its joint_names match no known joint set")


# ---------------------------------------------------------------------------------------------
# the other sequence files, read as arrays with their version and keys checked

SCHEMA_VERSIONS = {"keypoints2d": KEYPOINTS2D_SCHEMA_VERSION, "joints3d": 1, "smpl": 1, "regressor": 1, "world": 1}
"""The newest ``schema_version`` this code writes and reads, per file kind."""

REQUIRED_KEYS = {
    "keypoints2d": ("keypoints", "boxes", "valid", "track_ids", "joint_names", "image_size", "fps", "frame_indices"),
    "joints3d": ("joints", "valid"),
    "smpl": ("global_orient", "body_pose", "betas", "transl", "valid"),
    "regressor": ("global_orient", "body_pose", "betas", "cam", "transl", "valid"),
    "world": ("valid",),
}


def save_sequence_arrays(path: str | os.PathLike, kind: str, **arrays) -> Path:
    """Write one of the pipeline's own files (``kind`` as in ``load_sequence_arrays``) atomically,
    stamped with its ``schema_version`` from ``SCHEMA_VERSIONS``; a writer that leaves out a
    required key or stamps its own version is a bug, refused here rather than by the reader."""
    if kind not in REQUIRED_KEYS:
        raise InputError(f"unknown sequence file kind {kind!r}; known: {', '.join(REQUIRED_KEYS)}")
    if "schema_version" in arrays:
        raise ValueError(f"the {kind}.npz writer must not set schema_version itself")
    missing = [key for key in REQUIRED_KEYS[kind] if key not in arrays]
    if missing:
        raise ValueError(f"a {kind}.npz needs {', '.join(missing)}")
    return save_npz(path, schema_version=np.int64(SCHEMA_VERSIONS[kind]), **arrays)


def load_sequence_arrays(path: str | os.PathLike, kind: str) -> dict[str, np.ndarray]:
    """The arrays of one of the pipeline's own files (``keypoints2d.npz``, ``joints3d.npz``,
    ``smpl.npz``, ``regressor.npz``, ``world.npz``: ``kind`` without the suffix), loaded without pickle, with
    its ``schema_version`` and required keys checked; every problem is a one-line error naming
    the file."""
    if kind not in REQUIRED_KEYS:
        raise InputError(f"unknown sequence file kind {kind!r}; known: {', '.join(REQUIRED_KEYS)}")
    path = Path(path)
    arrays = load_npz(path, what=f"a {kind}.npz")
    stored = arrays.get("schema_version", np.int64(0))
    if stored.shape != () or stored.dtype.kind not in "iuf":
        raise InputError(f"{path}: schema_version must be one integer, got {stored.dtype} {stored.shape}; rerun the "
                         "command that wrote it")
    version = int(stored)
    if version > SCHEMA_VERSIONS[kind]:
        raise InputError(f"{path} has schema_version {version}; this version of hmr reads {kind}.npz up to "
                         f"{SCHEMA_VERSIONS[kind]} (upgrade hmr, or rerun the command that wrote it)")
    missing = [key for key in REQUIRED_KEYS[kind] if key not in arrays]
    if missing:
        raise InputError(f"{path} lacks {', '.join(missing)}; expected a {kind}.npz written by hmr (rerun the "
                         "command that writes it)")
    return arrays
