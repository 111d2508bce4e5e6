"""The demo's world and camera-translation scores against its ground truth.

Camera frame (``root_*``): the pelvis position of the full-frame fit (``smpl.npz``'s ``transl``)
against the truth, mm, and the same for the translation the weak-perspective crop camera
(s, tx, ty) gives when read as SPIN and VIBE read it, t = (tx, ty, 2 · 5000 / (224 · s)): each
person in their own 224-pixel crop with a 5000-pixel focal length.

World (``world_*``, from ``world.npz`` before and after the contact refinement): W-MPJPE,
WA-MPJPE (mm), RTE (% of the path length), root trajectory error (mm, after the same rigid
alignment as RTE), foot skating (mm per frame, ``hmr.world.metrics.foot_skating``; NaN when the
truth never plants a foot) and jitter (mm / frame³) of the 24 SMPL joints.
"""

from __future__ import annotations

import numpy as np
import torch

from body_models.cameras import SPIN_CROP_SIZE, SPIN_FOCAL_LENGTH
from body_models.metrics import MM_PER_M
from body_models.sequences import SMPLSequence, WorldSequence
from hmr.world import metrics


def camera_root_scores(gt: dict, fit: SMPLSequence, smpl) -> dict[str, float]:
    """Root translation errors (mm) of the full-frame fit and of the crop camera, person 0."""
    ok = fit.valid[:, 0] & np.isfinite(fit.transl[:, 0]).all(-1)
    if not ok.any():
        return {}
    with torch.no_grad():
        pred = smpl(**{k: torch.as_tensor(v[ok, 0], dtype=torch.float32)
                       for k, v in fit.smpl_parameters().items()}).joints[:, 0].double().numpy()
    target = gt["joints"][ok, 0, 0].astype(np.float64)
    scores = {"root_transl_error_mm": metrics.root_error(pred, target)}
    if fit.cam is not None:
        s, tx, ty = (fit.cam[ok, 0, k].astype(np.float64) for k in range(3))
        crop_transl = np.stack([tx, ty, 2.0 * SPIN_FOCAL_LENGTH / (SPIN_CROP_SIZE * s)], -1)
        scores["crop_camera_root_transl_error_mm"] = metrics.root_error(
            pred - fit.transl[ok, 0] + crop_transl, target)
    return scores


def world_scores(gt: dict, world: WorldSequence) -> dict[str, float]:
    """World scores of person 0, before (``_unrefined``) and after the contact refinement."""
    ok = world.valid[:, 0]
    if ok.sum() < 4:
        return {}
    target = gt["joints"][ok, 0].astype(np.float64)
    scores = {}
    for joints, tag in ((world.joints_unrefined, "unrefined"), (world.joints_refined, "refined")):
        pred = joints[ok, 0].astype(np.float64)
        _, r, t = metrics.similarity_align(pred[:, 0], target[:, 0], scale=False)
        scores.update({
            f"world_w_mpjpe_mm_{tag}": metrics.w_mpjpe(pred, target),
            f"world_wa_mpjpe_mm_{tag}": metrics.wa_mpjpe(pred, target),
            f"world_rte_percent_{tag}": metrics.rte(pred[:, 0], target[:, 0]),
            f"world_root_traj_error_mm_{tag}": float(
                np.linalg.norm(pred[:, 0] @ r.T + t - target[:, 0], axis=-1).mean() * MM_PER_M),
            f"world_foot_skating_mm_{tag}": metrics.foot_skating(pred, target),
            f"world_jitter_mm_{tag}": metrics.jitter(pred),
        })
    scores["world_contact_frames"] = float(world.contacts[ok, 0].any(-1).sum())
    return scores
