"""MPI-INF-3DHP test protocol on ``mpi_inf_3dhp_test_set/TS{1..6}/annot_data.mat`` (MATLAB v7.3).

Files (FORMATS §6.2): the test set of MPI-INF-3DHP (vcai.mpi-inf.mpg.de/3dhp-dataset, research
use only, licence accepted at download): per sequence ``TSk/annot_data.mat``, an HDF5 file read
with h5py (``annot2 (n, 1, 17, 2)`` pixels, ``univ_annot3 (n, 1, 17, 3)`` mm, ``valid_frame``,
``activity_annotation``), and ``TSk/imageSequence/img_%06d.jpg`` (1-based frame numbers).

Protocol: SPIN's test preprocessing for the frames and boxes (valid frames whose 17 joints all
lie inside the image; box = extent of ``annot2``, scale 1.2 · max side / 200); SPIN's joints
(``H36M_TO_J17`` of the prediction against ``J24_TO_J17`` of the ground truth), both relative to
the pelvis. The official test scripts' metrics on those joints: PCK = % of joints with error
strictly below 150 mm, AUC = mean PCK over thresholds 0, 5, …, 150 mm, and MPJPE; each also after
Procrustes alignment (SPIN's "rigid alignment" columns). Rows per activity; "All" pools every
valid frame; one extra row per sequence TS1–TS6.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np

from body_models import joints as js
from body_models.errors import InputError, MissingFileError
from body_models.metrics import auc, mpjpe, pa_mpjpe, pck, procrustes_align
from hmr.evaluation.report import BenchmarkReport, Row, variant_result
from hmr.evaluation.scoring import joint_summaries
from hmr.evaluation.types import SPIN_EVAL_17_PROTOCOL, MeshDataset, SequenceSpec, StoredSequence, mm

METRICS = ("pck", "auc", "mpjpe_mm", "pa_pck", "pa_auc", "pa_mpjpe_mm")
SEQUENCES = tuple(f"TS{k}" for k in range(1, 7))
ACTIVITIES = {1: "Standing/Walking", 2: "Exercising", 3: "Sitting", 4: "Reaching/Crouching",
              5: "On The Floor", 6: "Sports", 7: "Miscellaneous"}
BOX_RESCALE = 1.2
SOURCE = "vcai.mpi-inf.mpg.de/3dhp-dataset (mpi_inf_3dhp_test_set, research-only licence)"
DESCRIPTION = ("MPI-INF-3DHP test (SPIN frames and joints): TS1-TS6 valid frames with all joints in the image; "
               "17 joints relative to the pelvis; PCK@150 mm (error < t), AUC over 0:5:150 mm, MPJPE, and the same "
               "after Procrustes alignment; All pools every frame")
_GT_ROWS = js.index_map(js.MPI_INF_3DHP_17, js.SPIN_24, js.SPIN_EVAL_17)
_PELVIS = js.MPI_INF_3DHP_17.index("pelvis")


def _test_set(data: Path) -> Path:
    for candidate in (data / "mpi_inf_3dhp_test_set", data):
        if (candidate / "TS1").is_dir():
            return candidate
    if any(data.glob("S[1-8]/Seq*")) or data.name.startswith("S") and any(data.glob("Seq*")):
        raise InputError(f"{data} is the MPI-INF-3DHP training set (S1-S8); the benchmark uses the test split "
                         "mpi_inf_3dhp_test_set/TS1..TS6")
    raise MissingFileError(f"MPI-INF-3DHP test set not found at {data}; expected mpi_inf_3dhp_test_set/TS1..TS6/"
                           f"annot_data.mat with imageSequence/ from {SOURCE}")


def read_annotations(path: Path) -> dict[str, np.ndarray]:
    """The arrays of one ``annot_data.mat`` in SPIN's h5py layout.

    Returns:
        ``annot2 (n, 17, 2)`` pixels, ``univ_annot3 (n, 17, 3)`` mm, ``valid (n,)`` bool,
        ``activity (n,)`` int (0 when absent).
    """
    import h5py

    if not path.is_file():
        raise MissingFileError(f"{path} not found; every TSk folder of mpi_inf_3dhp_test_set has annot_data.mat "
                               f"({SOURCE})")
    try:
        handle = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path} is not a MATLAB v7.3 (HDF5) file; the test set's annot_data.mat is v7.3 "
                         "(the training set's annot.mat is not used here)") from None
    with handle:
        if "valid_frame" not in handle:
            raise InputError(f"{path} has no valid_frame: not the test set's annot_data.mat (the wrong split?); "
                             "expected mpi_inf_3dhp_test_set/TSk/annot_data.mat")
        for key in ("annot2", "univ_annot3"):
            if key not in handle:
                raise InputError(f"{path}: missing {key}; expected annot2, univ_annot3, valid_frame")
        arrays = {}
        for key in ("annot2", "univ_annot3", "valid_frame", "activity_annotation"):
            if key not in handle:
                continue
            value = handle[key]
            if not isinstance(value, h5py.Dataset) or value.dtype.kind not in "biuf":
                kind = value.dtype if isinstance(value, h5py.Dataset) else type(value).__name__
                raise InputError(f"{path}: {key} holds {kind}, not numbers; expected the test set's annot_data.mat "
                                 f"as published ({SOURCE})")
            arrays[key] = np.asarray(value, dtype=np.float64)
        annot2, annot3 = arrays["annot2"], arrays["univ_annot3"]
        valid = arrays["valid_frame"].reshape(-1) != 0
        activity = (arrays["activity_annotation"].reshape(-1).astype(np.int64)
                    if "activity_annotation" in arrays else np.zeros(len(valid), dtype=np.int64))
    n = len(valid)
    if annot2.shape != (n, 1, 17, 2) or annot3.shape != (n, 1, 17, 3):
        raise InputError(f"{path}: annot2 {annot2.shape} / univ_annot3 {annot3.shape} are not (n, 1, 17, 2/3) "
                         f"for n = {n} frames")
    return {"annot2": annot2[:, 0], "univ_annot3": annot3[:, 0], "valid": valid, "activity": activity}


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    if not path.is_file():
        raise MissingFileError(f"image {path} not found; the MPI-INF-3DHP test images are TSk/imageSequence/"
                               f"img_%06d.jpg ({SOURCE})")
    with Image.open(path) as image:
        return image.size  # (width, height)


def load_dataset(data: str | Path, images: str | Path | None = None, protocol: int | None = None) -> MeshDataset:
    """Read TS1–TS6 into one sequence each (valid frames with every joint inside the image).

    Args:
        data: the folder holding ``mpi_inf_3dhp_test_set``, or that folder.
        images: the folder holding ``TS1``… (default: the test-set folder).
        protocol: unused.
    """
    test_set = _test_set(Path(data))
    image_root = Path(images) if images is not None else test_set
    sequences, files, activities = [], {}, {}
    for name in SEQUENCES:
        path = test_set / name / "annot_data.mat"
        annotations = read_annotations(path)
        files[f"data_{name}"] = path
        frames, centers, scales, gts, activity = [], [], [], [], []
        for frame in np.flatnonzero(annotations["valid"]):
            joints = annotations["annot2"][frame]  # (17, 2)
            imgname = f"{name}/imageSequence/img_{frame + 1:06d}.jpg"
            width, height = _image_size(image_root / imgname)
            inside = (joints[:, 0] >= 0) & (joints[:, 0] < width) & (joints[:, 1] >= 0) & (joints[:, 1] < height)
            if not inside.all():
                continue
            low, high = joints.min(axis=0), joints.max(axis=0)
            frames.append(int(frame) + 1)
            centers.append((low + high) / 2.0)
            scales.append(BOX_RESCALE * float((high - low).max()) / 200.0)
            gt = annotations["univ_annot3"][frame] / 1000.0  # mm → metres, once at loading
            gts.append((gt - gt[_PELVIS])[list(_GT_ROWS)])
            activity.append(int(annotations["activity"][frame]))
        if not frames:
            continue
        sequences.append(SequenceSpec(
            key=name, group=name, imgnames=tuple(f"{name}/imageSequence/img_{f:06d}.jpg" for f in frames),
            center=np.array(centers), scale=np.array(scales), frame_ids=np.array(frames),
            gt_joints=np.array(gts, dtype=np.float32)))
        activities[name] = np.array(activity)
    if not sequences:
        raise InputError(f"{test_set}: no valid test frames")
    return MeshDataset(sequences=sequences, protocol=SPIN_EVAL_17_PROTOCOL, image_root=image_root, files=files,
                       description=DESCRIPTION, options={"activity": activities})


class _Frames:
    """A slice of a stored sequence: the frames of one activity."""

    def __init__(self, seq: StoredSequence, rows: np.ndarray, variant: str) -> None:
        self.pred = seq.pred_joints[variant][rows].astype(np.float64)
        self.gt = seq.gt_joints[rows].astype(np.float64)


def _metrics(items: list[_Frames]) -> dict[str, float]:
    pred = np.concatenate([f.pred for f in items])
    gt = np.concatenate([f.gt for f in items])
    aligned = procrustes_align(pred, gt)
    return {"samples": len(gt), "pck": pck(pred, gt), "auc": auc(pred, gt), "mpjpe_mm": mm(mpjpe(pred, gt)),
            "pa_pck": pck(aligned, gt), "pa_auc": auc(aligned, gt), "pa_mpjpe_mm": mm(pa_mpjpe(pred, gt))}


def score(stored: list[StoredSequence], dataset: MeshDataset) -> BenchmarkReport:
    """The report: one row per activity, All, then one row per sequence."""
    activity = dataset.options["activity"]
    variants = []
    for variant in stored[0].pred_joints if stored else ("regressor",):
        by_activity: "OrderedDict[str, list[_Frames]]" = OrderedDict()
        for code in sorted({int(a) for seq in stored for a in activity[seq.key]}):
            label = ACTIVITIES.get(code, f"activity {code}")
            for seq in stored:
                rows = np.flatnonzero(activity[seq.key] == code)
                if len(rows):
                    by_activity.setdefault(label, []).append(_Frames(seq, rows, variant))
        per_sequence = [_metrics([_Frames(seq, np.arange(len(seq.gt_joints)), variant)]) for seq in stored]
        result = variant_result(variant, by_activity, _metrics, SPIN_EVAL_17_PROTOCOL.joint_names,
                                *joint_summaries(stored, variant))
        extra = tuple(Row(seq.key, int(v.pop("samples")), v) for seq, v in zip(stored, per_sequence))
        variants.append(replace(result, extra_rows=extra))
    return BenchmarkReport("mpi-inf-3dhp", dataset.description, METRICS, tuple(variants))
