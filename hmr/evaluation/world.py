"""The synthetic image world's held-out split as a mesh benchmark (``hmr eval world``).

Data: ``spin/val.npz`` written by ``hmr world-to-spin`` (imgname, center, scale, pose with the root
in the camera frame, shape), images under the world's ``images/``. Each image is one person in a
pose of its own, so there is no motion to score: the protocol is 3DPW's without acceleration.
The ground-truth mesh comes from the neutral body the world was posed with (the mannequin), both
meshes go through the same ``J_regressor_h36m``, MPJPE and PA-MPJPE use the 14 LSP joints
relative to regressor row 0, and PVE is taken after moving both meshes' pelvis to the origin.

There are no published numbers: the world, and the mannequin that poses it, are the project's.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from body_models.errors import InputError, MissingFileError
from body_models.metrics import mpjpe, pa_mpjpe
from hmr.evaluation.report import BenchmarkReport, variant_result
from hmr.evaluation.scoring import joint_summaries
from hmr.evaluation.types import LSP_14_PROTOCOL, MeshDataset, SequenceSpec, StoredSequence, mm

METRICS = ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm")
CHUNK = 100  # images per stored unit (the resume granularity)
DESCRIPTION = ("synthetic image world, held-out split (hmr world-to-spin): one person per image; 14 LSP joints "
               "from J_regressor_h36m relative to regressor row 0; GT mesh from the neutral body that posed the "
               "world; PVE after pelvis centring of both meshes")
_KEYS = ("imgname", "center", "scale", "pose", "shape")


def load_dataset(data: str | Path, images: str | Path | None = None, protocol: int | None = None) -> MeshDataset:
    """Read ``spin/val.npz`` (or any split ``hmr world-to-spin`` wrote) in units of 100 images.

    Args:
        data: the npz.
        images: the image root (default: the world folder, two levels above ``spin/val.npz``'s
            ``images``, i.e. ``<world>/images``).
        protocol: unused.
    """
    data = Path(data)
    if not data.is_file():
        raise MissingFileError(f"{data} not found; write it with hmr world-to-spin WORLD (from hmr make-synthetic-images)")
    try:
        with np.load(data, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as error:
        raise InputError(f"{data}: not an npz without pickles ({' '.join(str(error).split())[:200]})") from None
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise InputError(f"{data}: missing {', '.join(missing)}; hmr world-to-spin writes imgname, center, scale, "
                         f"pose, shape")
    names = [str(n) for n in arrays["imgname"]]
    if not names:
        raise InputError(f"{data}: no images")
    split = data.stem
    sequences = []
    for start in range(0, len(names), CHUNK):
        rows = slice(start, start + CHUNK)
        sequences.append(SequenceSpec(
            key=f"{split}_{start // CHUNK:04d}", group=split, imgnames=tuple(names[rows]),
            center=arrays["center"][rows].astype(np.float64), scale=arrays["scale"][rows].astype(np.float64),
            frame_ids=np.arange(start, min(start + CHUNK, len(names))),
            gt_pose=arrays["pose"][rows].astype(np.float64), gt_betas=arrays["shape"][rows].astype(np.float64),
            gender="neutral"))
    root = Path(images) if images is not None else data.parent.parent / "images"
    return MeshDataset(sequences=sequences, protocol=LSP_14_PROTOCOL, image_root=root, files={"data": data},
                       needs_gendered_bodies=True, description=DESCRIPTION)


def _metrics(variant: str):
    def compute(items: list[StoredSequence]) -> dict[str, float]:
        pred = np.concatenate([s.pred_joints[variant] for s in items])
        gt = np.concatenate([s.gt_joints for s in items])
        return {"samples": len(gt), "mpjpe_mm": mm(mpjpe(pred, gt)), "pa_mpjpe_mm": mm(pa_mpjpe(pred, gt)),
                "pve_mm": mm(float(np.mean(np.concatenate([s.pve[variant] for s in items]))))}
    return compute


def score(stored: list[StoredSequence], dataset: MeshDataset) -> BenchmarkReport:
    """The report: one row for the split, and All."""
    groups: "OrderedDict[str, list[StoredSequence]]" = OrderedDict()
    for seq in stored:
        groups.setdefault(seq.group, []).append(seq)
    variants = tuple(variant_result(v, groups, _metrics(v), LSP_14_PROTOCOL.joint_names, *joint_summaries(stored, v))
                     for v in (stored[0].pred_joints if stored else ("regressor",)))
    return BenchmarkReport("world", dataset.description, METRICS, variants)
