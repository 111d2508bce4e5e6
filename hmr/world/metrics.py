"""World-motion scores as WHAM defines them, and the camera-frame root translation error.

All inputs are (T, J, 3) or (T, 3) metres; results are millimetres (``MM_PER_M``) except RTE,
a percentage of the ground truth's path length.

- **W-MPJPE**: MPJPE after aligning the prediction to the truth rigidly (rotation and
  translation, no scale) on the first two frames' joints.
- **WA-MPJPE**: MPJPE after aligning the whole sequence's joints with one similarity (scale,
  rotation, translation).
- **RTE**: root error after a rigid alignment of the root trajectory, per frame, divided by the
  truth's path length; the mean, in percent.
- **Foot skating**: the mean distance a foot joint moves between consecutive frames where the
  truth's same foot moves less than ``CONTACT_DISP_M`` (it is planted), mm per frame.
- **Jitter**: the mean norm of the third finite difference of the joints, mm / frame³.

WHAM cuts long sequences into 100-frame chunks for the world metrics; ``CHUNK_FRAMES`` does the same.
"""

from __future__ import annotations

import numpy as np

from body_models.metrics import MM_PER_M

CHUNK_FRAMES = 100
CONTACT_DISP_M = 0.01  # WHAM's threshold on the ground-truth foot displacement per frame
FOOT_JOINTS = (7, 8, 10, 11)  # SMPL's ankles and feet


def similarity_align(source: np.ndarray, target: np.ndarray, scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) minimising |s R source + t − target|² over (N, 3) point pairs (Umeyama)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    xs, xt = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(xt.T @ xs)
    d = np.ones(3)
    d[2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag(d) @ vt
    s = float((sigma * d).sum() / max((xs ** 2).sum(), 1e-12)) if scale else 1.0
    return s, rotation, mu_t - s * rotation @ mu_s


def _chunks(n: int):
    for start in range(0, n, CHUNK_FRAMES):
        stop = min(start + CHUNK_FRAMES, n)
        if stop - start >= 2:
            yield slice(start, stop)


def w_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """(T, J, 3) → mm, aligned on the first two frames of each chunk (rigid)."""
    errors = []
    for c in _chunks(len(pred)):
        _, r, t = similarity_align(pred[c][:2].reshape(-1, 3), target[c][:2].reshape(-1, 3), scale=False)
        errors.append(np.linalg.norm(pred[c] @ r.T + t - target[c], axis=-1).mean(-1))
    return float(np.concatenate(errors).mean() * MM_PER_M)


def wa_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """(T, J, 3) → mm, each chunk aligned as a whole (similarity)."""
    errors = []
    for c in _chunks(len(pred)):
        s, r, t = similarity_align(pred[c].reshape(-1, 3), target[c].reshape(-1, 3))
        errors.append(np.linalg.norm(s * pred[c] @ r.T + t - target[c], axis=-1).mean(-1))
    return float(np.concatenate(errors).mean() * MM_PER_M)


def rte(pred_root: np.ndarray, target_root: np.ndarray) -> float:
    """(T, 3) → percent of the truth's path length (rigid alignment of each chunk's trajectory)."""
    errors = []
    for c in _chunks(len(pred_root)):
        _, r, t = similarity_align(pred_root[c], target_root[c], scale=False)
        path = np.linalg.norm(np.diff(target_root[c], axis=0), axis=-1).sum()
        errors.append(np.linalg.norm(pred_root[c] @ r.T + t - target_root[c], axis=-1) / max(path, 1e-6))
    return float(np.concatenate(errors).mean() * 100.0)


def foot_skating(pred: np.ndarray, target: np.ndarray, feet=FOOT_JOINTS) -> float:
    """(T, 24, 3) → mm per frame the predicted feet slide where the true feet are planted."""
    true_step = np.linalg.norm(np.diff(target[:, list(feet)], axis=0), axis=-1)  # (T-1, F)
    pred_step = np.linalg.norm(np.diff(pred[:, list(feet)], axis=0), axis=-1)
    planted = true_step < CONTACT_DISP_M
    return float(pred_step[planted].mean() * MM_PER_M) if planted.any() else float("nan")


def jitter(joints: np.ndarray) -> float:
    """(T, J, 3) → mm / frame³, the mean norm of the third difference."""
    if len(joints) < 4:
        return float("nan")
    third = joints[3:] - 3 * joints[2:-1] + 3 * joints[1:-2] - joints[:-3]
    return float(np.linalg.norm(third, axis=-1).mean() * MM_PER_M)


def root_error(pred_root: np.ndarray, target_root: np.ndarray) -> float:
    """(T, 3) → mm, the mean distance between the roots, unaligned (camera frame)."""
    return float(np.linalg.norm(pred_root - target_root, axis=-1).mean() * MM_PER_M)
