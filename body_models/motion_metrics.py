"""Does a 3D pose sequence follow the motion? Metrics beside MPJPE.

A low MPJPE on a narrow motion set can come from predicting the mean pose. These metrics catch
that, on root-relative H36M-17 joint sequences:

- ``flexion_angles``: knee and elbow flexion over time (0 for a straight limb), radians;
- ``motion_following``: for each flexion, the predicted range as a share of the true range and the
  correlation over time with the truth; and MPJPE against a static baseline that predicts the
  clip's mean true pose in every frame.

    scores = motion_following(pred_joints, true_joints)
    scores["knee_range_ratio"], scores["knee_correlation"], scores["static_improvement"]
"""

from __future__ import annotations

import numpy as np

from body_models.errors import InputError
from body_models.joints import H36M_17
from body_models.metrics import MM_PER_M, mpjpe

__all__ = ["FLEXIONS", "flexion_angles", "motion_following", "static_baseline_mpjpe"]

# name -> (proximal joint, hinge joint, distal joint) in H36M-17.
FLEXIONS: dict[str, tuple[str, str, str]] = {
    "left_knee": ("left_hip", "left_knee", "left_ankle"),
    "right_knee": ("right_hip", "right_knee", "right_ankle"),
    "left_elbow": ("left_shoulder", "left_elbow", "left_wrist"),
    "right_elbow": ("right_shoulder", "right_elbow", "right_wrist"),
}


def _check_sequence(joints: np.ndarray, name: str) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (len(H36M_17), 3):
        raise InputError(f"{name} must be (T, {len(H36M_17)}, 3) H36M-17 joints, got shape {joints.shape}")
    return joints


def flexion_angles(joints: np.ndarray) -> dict[str, np.ndarray]:
    """Knee and elbow flexion of an H36M-17 joint sequence.

    Args:
        joints: (T, 17, 3) H36M-17 joints, any unit.

    Returns:
        name (``FLEXIONS``) -> (T,) radians: π minus the angle at the hinge between its two bones,
        so 0 for a straight limb and about π/2 for a right angle.
    """
    joints = _check_sequence(joints, "joints")
    out = {}
    for name, (a, b, c) in FLEXIONS.items():
        upper = joints[:, H36M_17.index(a)] - joints[:, H36M_17.index(b)]
        lower = joints[:, H36M_17.index(c)] - joints[:, H36M_17.index(b)]
        cos = (upper * lower).sum(-1) / np.maximum(np.linalg.norm(upper, axis=-1) * np.linalg.norm(lower, axis=-1), 1e-12)
        out[name] = np.pi - np.arccos(np.clip(cos, -1.0, 1.0))
    return out


def static_baseline_mpjpe(target: np.ndarray) -> float:
    """MPJPE of predicting the clip's mean true pose in every frame, in the input's unit.

    Args:
        target: (T, J, 3) root-relative joints.
    """
    target = np.asarray(target, dtype=np.float64)
    return mpjpe(np.broadcast_to(target.mean(axis=0), target.shape), target)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 1e-12 else float("nan")


def motion_following(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Motion-following scores of a predicted joint sequence against the truth.

    Args:
        pred: (T, 17, 3) predicted H36M-17 joints, metres, root-relative.
        target: (T, 17, 3) true joints, metres, root-relative. Frames with a NaN in either are
            left out.

    Returns:
        For each of "knee" and "elbow" (left and right pooled): ``<limb>_range_ratio`` (the
        predicted flexion range, max - min over time, over the true range, averaged over both
        sides), ``<limb>_correlation`` (Pearson r over time of predicted and true flexion,
        averaged over both sides), ``<limb>_range_true_deg`` and ``<limb>_range_pred_deg``;
        and ``mpjpe_mm``, ``static_mpjpe_mm`` (the mean-true-pose baseline) and
        ``static_improvement`` (1 - mpjpe / static mpjpe: 0.3 means 30 % better than the
        static pose).
    """
    pred, target = _check_sequence(pred, "pred"), _check_sequence(target, "target")
    if pred.shape != target.shape:
        raise InputError(f"pred and target must have the same shape, got {pred.shape} and {target.shape}")
    keep = np.isfinite(pred).all(axis=(1, 2)) & np.isfinite(target).all(axis=(1, 2))
    if keep.sum() < 2:
        raise InputError(f"motion-following scores need at least 2 frames with joints, got {int(keep.sum())}")
    pred, target = pred[keep], target[keep]
    angles_pred, angles_true = flexion_angles(pred), flexion_angles(target)
    scores: dict[str, float] = {}
    for limb in ("knee", "elbow"):
        ratios, corrs, true_ranges, pred_ranges = [], [], [], []
        for side in ("left", "right"):
            p, t = angles_pred[f"{side}_{limb}"], angles_true[f"{side}_{limb}"]
            true_range, pred_range = np.ptp(t), np.ptp(p)
            true_ranges.append(true_range)
            pred_ranges.append(pred_range)
            ratios.append(pred_range / true_range if true_range > 1e-6 else np.nan)
            corrs.append(_correlation(p, t))
        scores[f"{limb}_range_ratio"] = float(np.nanmean(ratios)) if np.isfinite(ratios).any() else float("nan")
        scores[f"{limb}_correlation"] = float(np.nanmean(corrs)) if np.isfinite(corrs).any() else float("nan")
        scores[f"{limb}_range_true_deg"] = float(np.degrees(np.mean(true_ranges)))
        scores[f"{limb}_range_pred_deg"] = float(np.degrees(np.mean(pred_ranges)))
    error, static = mpjpe(pred, target), static_baseline_mpjpe(target)
    scores["mpjpe_mm"] = float(error * MM_PER_M)
    scores["static_mpjpe_mm"] = float(static * MM_PER_M)
    scores["static_improvement"] = float(1.0 - error / static) if static > 0 else float("nan")
    return scores
