"""The shared vocabulary of the mesh benchmarks: what an adapter hands the harness and what the
harness stores per sequence.

A benchmark adapter (``h36m_mesh``, ``pw3d``, ``mpi_inf_3dhp``, ``world``) turns the published
files into a ``MeshDataset`` of ``SequenceSpec`` units scored on a ``JointProtocol``; the harness
(``hmr.evaluation.harness``) predicts each unit and writes it as a ``StoredSequence``, which the
adapter's ``score`` turns into the report. Adapters import this module, ``scoring`` and
``report``, never the harness.

Joint convention (SPIN's ``eval.py``, FORMATS §3.10): the evaluation joints are rows of the
Human3.6M regressor applied to the mesh; both prediction and ground truth are made relative to
regressor row 0 (the pelvis) before the subset is taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from body_models import joints as js
from body_models.atomic import save_npz

FORMAT_VERSION = 1
"""Version of the per-sequence result files; a different version is recomputed."""


@dataclass(frozen=True)
class JointProtocol:
    """Which joints a benchmark scores, as rows of ``SMPLOutput.h36m`` (VideoPose3D order).

    Attributes:
        name: e.g. ``"lsp_14"`` or ``"spin_eval_17"``.
        joint_names: (J,) names in the order of the evaluation arrays.
        h36m_rows: (J,) indices into the 17 Human3.6M regressor joints (``joints.H36M_17``).
    """

    name: str
    joint_names: tuple[str, ...]
    h36m_rows: tuple[int, ...]


LSP_14_PROTOCOL = JointProtocol("spin_eval_14", js.SPIN_EVAL_17[:14],
                                 js.index_map(js.H36M_17, js.SPIN_24, js.SPIN_EVAL_17[:14]))
"""SPIN's H36M_TO_J14 / J24_TO_J14 (Human3.6M and 3DPW): the 13 LSP joints up to the neck and the
H36M head. SPIN's ``J24_TO_J14`` is ``J24_TO_J17[:14]``, whose last entry is slot 18 (H36M head),
not LSP's head top (its Human3.6M ground truth has no head top)."""

SPIN_EVAL_17_PROTOCOL = JointProtocol("spin_eval_17", js.SPIN_EVAL_17,
                                      js.index_map(js.H36M_17, js.SPIN_24, js.SPIN_EVAL_17))
"""SPIN's H36M_TO_J17 (MPI-INF-3DHP): the LSP joints to the neck, head, pelvis, spine, jaw."""


@dataclass(frozen=True)
class SequenceSpec:
    """One unit of work, predicted and stored as a whole (the resume granularity).

    Attributes:
        key: file-safe identifier, e.g. ``"S9_Directions_1.54138969"``.
        group: the row of the per-group table it belongs to (action, activity or sequence).
        imgnames: (N,) image paths relative to the image root.
        center: (N, 2) SPIN box centres, pixels.
        scale: (N,) SPIN box side / 200.
        frame_ids: (N,) frame numbers within the sequence (for error over time and acceleration).
        gt_joints: (N, J, 3) metres, pelvis-relative, in the protocol's joint order; None when
            the ground truth is a body (``gt_pose``).
        gt_pose: (N, 72) axis-angle radians, root in the camera frame (3DPW), or None.
        gt_betas: (N, 10) or None.
        gender: "male" / "female" for ``gt_pose`` (3DPW), else None.
        actor: person index within the images (3DPW has two actors in some sequences).
    """

    key: str
    group: str
    imgnames: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    frame_ids: np.ndarray
    gt_joints: np.ndarray | None = None
    gt_pose: np.ndarray | None = None
    gt_betas: np.ndarray | None = None
    gender: str | None = None
    actor: int = 0

    def __len__(self) -> int:
        return len(self.imgnames)


@dataclass
class PredictedBodies:
    """What a predictor returns for a batch of crops.

    Attributes:
        rotmat: (B, 24, 3, 3) SMPL joint rotations; joint 0 is the global orientation.
        betas: (B, 10).
        cam: (B, 3) weak perspective (s, tx, ty) in normalised crop coordinates.
    """

    rotmat: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor


Predictor = Callable[[torch.Tensor, Sequence[str]], PredictedBodies]
"""(crops (B, 3, S, S) normalised RGB, image names (B,)) → PredictedBodies."""


@dataclass
class StoredSequence:
    """One sequence's predictions and ground truth as written to ``sequences/<key>.npz``.

    Attributes:
        key, group: as in ``SequenceSpec``.
        frame_ids: (N,).
        gt_joints: (N, J, 3) metres, pelvis-relative.
        pred_joints: variant → (N, J, 3) metres, pelvis-relative ("regressor", "smplify").
        pve: variant → (N,) metres per sample, NaN where there is no ground-truth mesh.
        fitted: (N,) bool, SMPLify improved the fit (all False without SMPLify).
    """

    key: str
    group: str
    frame_ids: np.ndarray
    gt_joints: np.ndarray
    pred_joints: dict[str, np.ndarray]
    pve: dict[str, np.ndarray]
    fitted: np.ndarray

    def save(self, path: Path, fingerprint: str) -> Path:
        arrays = {"format_version": np.int64(FORMAT_VERSION), "fingerprint": np.str_(fingerprint),
                  "key": np.str_(self.key), "group": np.str_(self.group), "frame_ids": self.frame_ids,
                  "gt_joints": self.gt_joints, "fitted": self.fitted,
                  "variants": np.array(sorted(self.pred_joints), dtype=str)}
        for name in self.pred_joints:
            arrays[f"pred_joints_{name}"] = self.pred_joints[name]
            arrays[f"pve_{name}"] = self.pve[name]
        return save_npz(path, **arrays)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> "StoredSequence | None":
        """The stored sequence, or None when the file is unreadable or from other settings."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError):
            return None
        if int(arrays.get("format_version", -1)) != FORMAT_VERSION or str(arrays.get("fingerprint")) != fingerprint:
            return None
        variants = [str(v) for v in arrays["variants"]]
        return cls(key=str(arrays["key"]), group=str(arrays["group"]), frame_ids=arrays["frame_ids"],
                   gt_joints=arrays["gt_joints"], fitted=arrays["fitted"],
                   pred_joints={v: arrays[f"pred_joints_{v}"] for v in variants},
                   pve={v: arrays[f"pve_{v}"] for v in variants})


@dataclass
class MeshDataset:
    """What an adapter's ``load_dataset`` returns.

    Attributes:
        sequences: the work units, in report order.
        protocol: the scored joints.
        image_root: folder the image names are relative to.
        files: role → path of every annotation file read (hashed into run.json).
        needs_gendered_bodies: the ground truth is SMPL parameters (3DPW).
        description: one line naming the protocol, for the report.
        options: adapter-specific settings kept for scoring (e.g. the H36M protocol number).
    """

    sequences: list[SequenceSpec]
    protocol: JointProtocol
    image_root: Path
    files: dict[str, Path]
    needs_gendered_bodies: bool = False
    description: str = ""
    options: dict = field(default_factory=dict)


def mm(value: float) -> float:
    """Metres → millimetres for reports (NaN passes through)."""
    from body_models.metrics import MM_PER_M

    return float(value) * MM_PER_M if not math.isnan(value) else math.nan
