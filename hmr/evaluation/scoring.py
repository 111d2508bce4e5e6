"""Errors of stored sequences, shared by the benchmark adapters' ``score`` functions.

Per-sample joint errors before and after Procrustes alignment, their per-joint and over-time
summaries, and the acceleration error over consecutive frames; metres in, millimetres (``mm``)
in the summaries.
"""

from __future__ import annotations

import numpy as np

from hmr.evaluation.types import StoredSequence, mm


def per_sample_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, J) joint errors before and after per-sample Procrustes alignment, metres."""
    from body_models.metrics import procrustes_align

    if len(pred) == 0:
        return np.zeros((0, pred.shape[1])), np.zeros((0, pred.shape[1]))
    aligned = procrustes_align(pred.astype(np.float64), gt.astype(np.float64))
    return (np.linalg.norm(pred.astype(np.float64) - gt, axis=-1),
            np.linalg.norm(aligned - gt, axis=-1))


def joint_summaries(stored: list[StoredSequence], variant: str) -> tuple[dict, dict]:
    """(per-joint MPJPE and PA-MPJPE in mm, per-sequence per-frame MPJPE in mm)."""
    errors, aligned, over_time = [], [], {}
    for seq in stored:
        err, pa = per_sample_errors(seq.pred_joints[variant], seq.gt_joints)
        errors.append(err)
        aligned.append(pa)
        over_time[seq.key] = (seq.frame_ids.tolist(), [mm(e) for e in err.mean(axis=1)])
    if not errors:
        return {}, {}
    per_joint = {"mpjpe_mm": [mm(e) for e in np.concatenate(errors).mean(axis=0)],
                 "pa_mpjpe_mm": [mm(e) for e in np.concatenate(aligned).mean(axis=0)]}
    return per_joint, over_time


def consecutive_triples(frame_ids: np.ndarray) -> np.ndarray:
    """(N − 2,) True where samples i, i+1, i+2 are consecutive frames (acceleration is defined)."""
    frame_ids = np.asarray(frame_ids)
    if len(frame_ids) < 3:
        return np.zeros(0, dtype=bool)
    step = np.diff(frame_ids) == 1
    return step[:-1] & step[1:]


def acceleration_errors(pred: np.ndarray, gt: np.ndarray, frame_ids: np.ndarray) -> np.ndarray:
    """(K,) per-triple acceleration errors (mean over joints of ‖Δ²pred − Δ²gt‖), metres/frame²,
    for the K consecutive-frame triples of one sequence (HMMR/VIBE ``compute_error_accel``)."""
    keep = consecutive_triples(frame_ids)
    if not keep.any():
        return np.zeros(0)
    accel_pred = pred[:-2] - 2.0 * pred[1:-1] + pred[2:]
    accel_gt = gt[:-2] - 2.0 * gt[1:-1] + gt[2:]
    return np.linalg.norm(accel_pred - accel_gt, axis=-1).mean(axis=-1)[keep]

