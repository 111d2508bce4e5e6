"""Human3.6M mesh-regressor protocols on SPIN's ``h36m_valid_protocol{1,2}.npz`` and its images.

Files (FORMATS §3.9–3.10): ``h36m_valid_protocol1.npz`` / ``h36m_valid_protocol2.npz`` from
SPIN's ``dataset_extras`` (made by its ``datasets/preprocess/h36m.py`` from the Human3.6M
videos, bounding-box masks and ``D3_Positions_mono``), with ``imgname`` (``images/S9_Directions_1.
54138969_000001.jpg``), ``center``, ``scale`` (0.9 · max box side / 200) and ``S (N, 24, 4)``
ground-truth joints in metres, camera frame, relative to the pelvis. The images are the frames
SPIN extracted (every 5th frame of S9 and S11), under the Human3.6M root.

Protocol (SPIN ``eval.py``): prediction → neutral SMPL → ``J_regressor_h36m``; minus regressor
row 0; the 14 joints ``H36M_TO_J14`` against ``S[:, J24_TO_J14, :3]`` (13 LSP joints and the
H36M head, ``types.LSP_14_PROTOCOL``). Protocol 1 is all
four cameras and reports MPJPE; protocol 2 is camera 60457274 and reports PA-MPJPE (both metrics
are printed for both). "All" is the mean over images, as SPIN reports; per-action rows group the
sequences by the action name before its take number, and "Mean over actions" is their unweighted
mean (HMR's way of averaging).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np

from body_models import joints as js
from body_models.errors import InputError, MissingFileError
from body_models.metrics import mpjpe, pa_mpjpe
from hmr.evaluation.report import BenchmarkReport, Row, variant_result
from hmr.evaluation.scoring import joint_summaries
from hmr.evaluation.types import LSP_14_PROTOCOL, MeshDataset, SequenceSpec, StoredSequence, mm

TEST_SUBJECTS = ("S9", "S11")
PROTOCOL_2_CAMERA = "60457274"
METRICS = ("mpjpe_mm", "pa_mpjpe_mm")
SOURCE = ("SPIN's dataset_extras (fetch_data.sh, github.com/nkolot/SPIN) made from Human3.6M "
          "(vision.imar.ro/human3.6m, academic licence after registration)")
# images/S9_Directions_1.54138969_000001.jpg: subject, action (spaces as _), camera, 1-based frame.
_IMGNAME = re.compile(r"^(S\d+)_(.+)\.(\d+)_(\d+)\.\w+$")


def parse_imgname(imgname: str) -> tuple[str, str, str, int]:
    """(subject, action, camera, 1-based frame) of a SPIN Human3.6M image name."""
    match = _IMGNAME.match(Path(imgname).name)
    if match is None:
        raise InputError(f"image name {imgname!r} is not SPIN's Human3.6M form "
                         f"images/<subject>_<action>.<camera>_<frame>.jpg")
    subject, action, camera, frame = match.groups()
    return subject, action, camera, int(frame)


def action_group(action: str) -> str:
    """The action without its take: ``Directions_1`` → ``Directions`` (VideoPose3D's grouping)."""
    return action.replace(" ", "_").split("_")[0]


def load_dataset(data: str | Path, images: str | Path | None = None, protocol: int | None = None) -> MeshDataset:
    """Read ``h36m_valid_protocol{1,2}.npz`` into per-video sequences, checking split and protocol.

    Args:
        data: the npz.
        images: the folder ``imgname`` is relative to (default: the npz's folder).
        protocol: 1 or 2; by default read from the file name.

    Raises:
        MissingFileError: no npz at ``data``.
        InputError: the wrong split (not S9/S11), cameras that do not fit the protocol, or a
            layout that is not SPIN's.
    """
    path = Path(data)
    if not path.is_file():
        raise MissingFileError(f"{path} not found; h36m-mesh needs h36m_valid_protocol1.npz or "
                               f"h36m_valid_protocol2.npz from {SOURCE}, with the extracted images")
    if protocol is None:
        match = re.search(r"protocol([12])", path.name)
        if match is None:
            raise InputError(f"{path}: cannot tell the protocol from the name; pass --protocol 1 or 2")
        protocol = int(match.group(1))
    if protocol not in (1, 2):
        raise InputError(f"Human3.6M mesh protocol must be 1 or 2, got {protocol!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as err:
        raise InputError(f"{path}: not an npz without pickles ({err})") from None
    for key in ("imgname", "center", "scale", "S"):
        if key not in arrays:
            raise InputError(f"{path}: missing {key!r}; SPIN's h36m_valid_protocol*.npz has imgname, center, scale, S")
    n = len(arrays["imgname"])
    if arrays["S"].shape != (n, len(js.SPIN_24), 4):
        raise InputError(f"{path}: S has shape {arrays['S'].shape}, expected ({n}, 24, 4)")
    parsed = [parse_imgname(str(name)) for name in arrays["imgname"]]
    subjects = sorted({p[0] for p in parsed})
    wrong = [s for s in subjects if s not in TEST_SUBJECTS]
    if wrong:
        raise InputError(f"{path} holds subjects {', '.join(wrong)}: the wrong split; the Human3.6M protocols "
                         f"evaluate {' and '.join(TEST_SUBJECTS)} (h36m_valid_protocol*.npz)")
    cameras = sorted({p[2] for p in parsed})
    if protocol == 2 and cameras != [PROTOCOL_2_CAMERA]:
        raise InputError(f"{path} has cameras {', '.join(cameras)} but protocol 2 uses only camera "
                         f"{PROTOCOL_2_CAMERA}; pass h36m_valid_protocol2.npz or use --protocol 1")
    gt_rows = js.index_map(js.SPIN_24, js.SPIN_24, LSP_14_PROTOCOL.joint_names)  # SPIN's J24_TO_J14
    gt = arrays["S"][:, list(gt_rows), :3].astype(np.float32)
    units: "OrderedDict[str, list[int]]" = OrderedDict()
    for i, (subject, action, camera, _) in enumerate(parsed):
        units.setdefault(f"{subject}_{action}.{camera}", []).append(i)
    sequences = []
    for key, rows in units.items():
        subject, action, camera, _ = parsed[rows[0]]
        sequences.append(SequenceSpec(
            key=key, group=action_group(action), imgnames=tuple(str(arrays["imgname"][i]) for i in rows),
            center=arrays["center"][rows].astype(np.float64), scale=arrays["scale"][rows].astype(np.float64),
            frame_ids=np.array([parsed[i][3] for i in rows]), gt_joints=gt[rows]))
    description = (f"Human3.6M protocol {protocol} (SPIN): {'+'.join(subjects)}, "
                   f"{'all cameras' if protocol == 1 else 'camera ' + PROTOCOL_2_CAMERA}, every 5th frame; "
                   "14 LSP joints from J_regressor_h36m, pelvis (row 0) subtracted; All = mean over images, "
                   "Mean over actions = unweighted mean of the action rows")
    return MeshDataset(sequences=sequences, protocol=LSP_14_PROTOCOL,
                       image_root=Path(images) if images is not None else path.parent,
                       files={"data": path}, description=description, options={"protocol": protocol})


def _metrics(variant: str):
    def compute(items: list[StoredSequence]) -> dict[str, float]:
        pred = np.concatenate([s.pred_joints[variant] for s in items])
        gt = np.concatenate([s.gt_joints for s in items])
        return {"samples": len(gt), "mpjpe_mm": mm(mpjpe(pred, gt)), "pa_mpjpe_mm": mm(pa_mpjpe(pred, gt))}
    return compute


def score(stored: list[StoredSequence], dataset: MeshDataset) -> BenchmarkReport:
    """The report from the stored sequences: per-action rows, All, and the mean over actions."""
    groups: "OrderedDict[str, list[StoredSequence]]" = OrderedDict()
    for seq in stored:
        groups.setdefault(seq.group, []).append(seq)
    variants = []
    for variant in stored[0].pred_joints if stored else ("regressor",):
        result = variant_result(variant, groups, _metrics(variant), LSP_14_PROTOCOL.joint_names,
                                *joint_summaries(stored, variant))
        means = {m: float(np.mean([row.values[m] for row in result.rows])) for m in METRICS}
        extra = Row("Mean over actions", result.overall.samples, means)
        variants.append(replace(result, extra_rows=(extra,)))
    protocol = dataset.options["protocol"]
    return BenchmarkReport(f"h36m-mesh-p{protocol}", dataset.description, METRICS, tuple(variants))

