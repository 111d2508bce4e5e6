"""3DPW test protocol on the official ``sequenceFiles/test/*.pkl`` or SPIN's ``3dpw_test.npz``.

Files (FORMATS §6.1): 3DPW (virtualhumans.mpi-inf.mpg.de/3DPW, non-commercial research licence)
ships ``sequenceFiles/{train,validation,test}/<sequence>.pkl`` (Python 2 pickles, read here with
the restricted unpickler) and ``imageFiles/<sequence>/image_%05d.jpg``. SPIN's ``3dpw_test.npz``
(``dataset_extras``) holds the same test frames already converted: imgname, center, scale, pose
(root in the camera frame), shape, gender.

Protocol (SPIN ``eval.py`` and ``datasets/preprocess/pw3d.py``): every actor, frames with
``campose_valid``; the ground-truth root rotation is moved into the camera frame
(R_root ← R_cam · R_root); the ground-truth mesh comes from the gender-specific SMPL with the
pose and ``betas[:10]``; the box is the extent of the ``poses2d`` joints with confidence > 0,
scale 1.2 · max side / 200. Both meshes go through the same ``J_regressor_h36m``; MPJPE and
PA-MPJPE use the 14 LSP joints relative to regressor row 0 (the pelvis), not VIBE's mid-hip.

PVE: the mean over the 6,890 vertices of ‖pred − GT‖ after moving each mesh so its regressor
pelvis (row 0) is at the origin; GT from the gendered model (VIBE uses the neutral model and no
centring, so its PVE differs slightly). Acceleration error: per actor, over every three
consecutive evaluated frames, ‖Δ²pred − Δ²GT‖ averaged over the 14 joints, in mm/frame²; "All"
pools the triples of every actor. "All" for the other metrics is the mean over frames.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from body_models.errors import InputError, MissingFileError
from body_models.metrics import mpjpe, pa_mpjpe
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from body_models.safe_pickle import load_pickle
from hmr.evaluation.report import BenchmarkReport, variant_result
from hmr.evaluation.scoring import acceleration_errors, joint_summaries
from hmr.evaluation.types import LSP_14_PROTOCOL, MeshDataset, SequenceSpec, StoredSequence, mm

METRICS = ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "accel_mm")
BOX_RESCALE = 1.2
SOURCE = "virtualhumans.mpi-inf.mpg.de/3DPW (non-commercial research licence)"
DESCRIPTION = ("3DPW test (SPIN): every actor, campose_valid frames; 14 LSP joints from J_regressor_h36m "
               "relative to regressor row 0; GT mesh from the gendered SMPL; PVE after pelvis centring of "
               "both meshes; accel over consecutive frames (mm/frame^2); All = mean over frames")
_GENDERS = {"m": "male", "male": "male", "f": "female", "female": "female"}


def _gender(value: object) -> str:
    """3DPW's 'm'/'f' → "male"/"female" (SPIN maps 'm' to male and anything else to female)."""
    text = value.decode() if isinstance(value, bytes) else str(value)
    return "male" if _GENDERS.get(text.strip().lower()) == "male" else "female"


def _test_folder(data: Path) -> Path:
    """The folder of test pickles, from the 3DPW root, ``sequenceFiles`` or ``sequenceFiles/test``."""
    for candidate in (data / "sequenceFiles" / "test", data / "test", data):
        if candidate.is_dir() and candidate.name == "test" and any(candidate.glob("*.pkl")):
            return candidate
    if data.name in ("train", "validation") or data.name.endswith(("_train.npz", "_validation.npz")):
        raise InputError(f"{data} is the 3DPW {data.name.split('_')[-1].split('.')[0]} split; the benchmark uses the "
                         "test split: sequenceFiles/test (or SPIN's 3dpw_test.npz)")
    if (data / "sequenceFiles").is_dir() or data.name == "sequenceFiles":
        raise InputError(f"{data} has no sequenceFiles/test/*.pkl; the 3DPW benchmark uses the test split")
    raise MissingFileError(f"3DPW not found at {data}; expected sequenceFiles/test/*.pkl and imageFiles/ from "
                           f"{SOURCE}, or SPIN's 3dpw_test.npz (fetch_data.sh)")


def load_dataset(data: str | Path, images: str | Path | None = None, protocol: int | None = None) -> MeshDataset:
    """Read the 3DPW test split (official pickles or SPIN's npz) into one sequence per actor.

    Args:
        data: the 3DPW folder, its ``sequenceFiles/test`` folder, or SPIN's ``3dpw_test.npz``.
        images: the folder holding ``imageFiles`` (default: the 3DPW root, or the npz's folder).
        protocol: unused (3DPW has one protocol).

    Raises:
        MissingFileError: nothing at ``data``.
        InputError: the train or validation split, or a layout that is not 3DPW's.
    """
    data = Path(data)
    if data.suffix == ".npz":
        if "test" not in data.name:
            raise InputError(f"{data} is not the 3DPW test split; pass 3dpw_test.npz or sequenceFiles/test")
        if not data.is_file():
            raise MissingFileError(f"{data} not found; SPIN's 3dpw_test.npz comes with its fetch_data.sh "
                                   f"(dataset_extras), the images from {SOURCE}")
        sequences, files = _from_spin_npz(data), {"data": data}
        root = Path(images) if images is not None else data.parent
    else:
        folder = _test_folder(data)
        pickles = sorted(folder.glob("*.pkl"))
        sequences, files = [], {}
        for path in pickles:
            sequences += _from_pickle(path)
            files[f"data_{path.stem}"] = path
        root = Path(images) if images is not None else folder.parent.parent
    if not sequences:
        raise InputError(f"{data}: no valid 3DPW test frames")
    return MeshDataset(sequences=sequences, protocol=LSP_14_PROTOCOL, image_root=root, files=files,
                       needs_gendered_bodies=True, description=DESCRIPTION)


def _box(keypoints: np.ndarray) -> tuple[np.ndarray, float] | None:
    """SPIN's center and scale from (J, 3) keypoints with confidence > 0; None when none are."""
    seen = keypoints[keypoints[:, 2] > 0, :2]
    if len(seen) == 0:
        return None
    low, high = seen.min(axis=0), seen.max(axis=0)
    return (low + high) / 2.0, BOX_RESCALE * float((high - low).max()) / 200.0


def _from_pickle(path: Path) -> list[SequenceSpec]:
    record = load_pickle(path)
    if not isinstance(record, dict):
        raise InputError(f"{path}: expected a 3DPW sequence dict, got {type(record).__name__}")
    missing = [k for k in ("sequence", "poses", "betas", "genders", "poses2d", "cam_poses", "campose_valid")
               if k not in record]
    if missing:
        raise InputError(f"{path}: missing {', '.join(missing)}; not a 3DPW sequenceFiles pickle")
    name = str(record["sequence"])
    cam_poses = np.asarray(record["cam_poses"], dtype=np.float64)  # (N, 4, 4) world → camera
    sequences = []
    for actor in range(len(record["poses"])):
        poses = np.asarray(record["poses"][actor], dtype=np.float64)  # (N, 72), root in world
        valid = np.asarray(record["campose_valid"][actor]).astype(bool)
        keypoints = np.asarray(record["poses2d"][actor], dtype=np.float64).transpose(0, 2, 1)  # (N, 18, 3)
        betas = np.asarray(record["betas"][actor], dtype=np.float64).reshape(-1)[:10]
        frames, centers, scales = [], [], []
        for frame in np.flatnonzero(valid):
            box = _box(keypoints[frame])
            if box is None:
                continue  # no 2D joints to place the crop (SPIN's preprocessing would fail here)
            frames.append(int(frame))
            centers.append(box[0])
            scales.append(box[1])
        if not frames:
            continue
        frames_arr = np.array(frames)
        pose = poses[frames_arr].copy()
        root = axis_angle_to_matrix(torch.from_numpy(pose[:, :3]))
        pose[:, :3] = matrix_to_axis_angle(torch.from_numpy(cam_poses[frames_arr, :3, :3]) @ root).numpy()
        sequences.append(SequenceSpec(
            key=f"{name}_{actor}", group=name,
            imgnames=tuple(f"imageFiles/{name}/image_{f:05d}.jpg" for f in frames),
            center=np.array(centers), scale=np.array(scales), frame_ids=frames_arr,
            gt_pose=pose, gt_betas=np.tile(betas, (len(frames), 1)), gender=_gender(record["genders"][actor]),
            actor=actor))
    return sequences


def _from_spin_npz(path: Path) -> list[SequenceSpec]:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for key in ("imgname", "center", "scale", "pose", "shape", "gender"):
        if key not in arrays:
            raise InputError(f"{path}: missing {key!r}; SPIN's 3dpw_test.npz has imgname, center, scale, pose, "
                             "shape, gender")
    names = [str(n) for n in arrays["imgname"]]
    # SPIN writes each actor's frames in order, actor after actor: a new unit starts when the
    # sequence changes or the frame number does not increase.
    units: list[list[int]] = []
    last_seq, last_frame = None, None
    for i, name in enumerate(names):
        seq, frame = Path(name).parent.name, int(Path(name).stem.split("_")[-1])
        if seq != last_seq or frame <= last_frame:
            units.append([])
        units[-1].append(i)
        last_seq, last_frame = seq, frame
    sequences, actors = [], {}
    for rows in units:
        seq = Path(names[rows[0]]).parent.name
        actor = actors[seq] = actors.get(seq, -1) + 1
        sequences.append(SequenceSpec(
            key=f"{seq}_{actor}", group=seq, imgnames=tuple(names[i] for i in rows),
            center=arrays["center"][rows].astype(np.float64), scale=arrays["scale"][rows].astype(np.float64),
            frame_ids=np.array([int(Path(names[i]).stem.split("_")[-1]) for i in rows]),
            gt_pose=arrays["pose"][rows].astype(np.float64), gt_betas=arrays["shape"][rows].astype(np.float64),
            gender=_gender(arrays["gender"][rows[0]]), actor=actor))
    return sequences


def _metrics(variant: str):
    def compute(items: list[StoredSequence]) -> dict[str, float]:
        pred = np.concatenate([s.pred_joints[variant] for s in items])
        gt = np.concatenate([s.gt_joints for s in items])
        accel = np.concatenate([acceleration_errors(s.pred_joints[variant].astype(np.float64), s.gt_joints,
                                                    s.frame_ids) for s in items])
        return {"samples": len(gt), "mpjpe_mm": mm(mpjpe(pred, gt)), "pa_mpjpe_mm": mm(pa_mpjpe(pred, gt)),
                "pve_mm": mm(float(np.mean(np.concatenate([s.pve[variant] for s in items])))),
                "accel_mm": mm(float(accel.mean())) if len(accel) else float("nan")}
    return compute


def score(stored: list[StoredSequence], dataset: MeshDataset) -> BenchmarkReport:
    """The report: one row per sequence (its actors pooled) and All."""
    groups: "OrderedDict[str, list[StoredSequence]]" = OrderedDict()
    for seq in stored:
        groups.setdefault(seq.group, []).append(seq)
    variants = tuple(variant_result(v, groups, _metrics(v), LSP_14_PROTOCOL.joint_names, *joint_summaries(stored, v))
                     for v in (stored[0].pred_joints if stored else ("regressor",)))
    return BenchmarkReport("3dpw", dataset.description, METRICS, variants)
