"""Evaluation metrics for 3D joints and meshes (MPJPE and friends).

Every metric takes a prediction and a ground truth of the same shape `(..., J, 3)` (numpy
arrays or torch tensors; usually `(N, J, 3)`), computes in float64 and returns a Python float in
the unit of the input. Inputs are metres inside the project; multiply by `MM_PER_M` to report
millimetres. Root alignment (subtracting the pelvis) is the caller's job: these functions compare
the points as given.

The definitions follow the official evaluation code: VideoPose3D's `common/loss.py` for
`mpjpe`, `pa_mpjpe`, `n_mpjpe` and `mpjve`; HMMR/VIBE for `accel_error`; the MPI-INF-3DHP test
scripts for `pck` and `auc`.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch

from body_models.errors import InputError

ArrayLike = Union[np.ndarray, torch.Tensor]

MM_PER_M = 1000.0
"""Millimetres per metre: the one factor for turning metric values in metres into reports in mm."""

PCK_THRESHOLD_M = 0.150
"""MPI-INF-3DHP's PCK threshold, 150 mm, in metres."""


def _to_float64(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _check_pair(pred: ArrayLike, gt: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 numpy arrays of the same shape (..., J, 3)."""
    pred, gt = _to_float64(pred), _to_float64(gt)
    if pred.shape != gt.shape or gt.ndim < 2 or gt.shape[-1] != 3:
        raise InputError(
            "pred and gt must have the same shape (..., J, 3); "
            f"got pred {pred.shape} and gt {gt.shape}"
        )
    return pred, gt


def _joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance per point: (..., J, 3) -> (..., J)."""
    return np.linalg.norm(pred - gt, axis=-1)


def mpjpe(pred: ArrayLike, gt: ArrayLike) -> float:
    """Mean per-joint position error (Protocol #1): the mean of ‖pred_j − gt_j‖ over everything.

    Args:
        pred: (..., J, 3), e.g. (N, J, 3), metres (or any length unit).
        gt: same shape and unit as `pred`.

    Returns:
        The error in the unit of the input.
    """
    pred, gt = _check_pair(pred, gt)
    return float(np.mean(_joint_errors(pred, gt)))


def pve(pred_vertices: ArrayLike, gt_vertices: ArrayLike) -> float:
    """Per-vertex error: the mean of ‖pred_v − gt_v‖ over all vertices (VIBE's PVE).

    The same computation as `mpjpe`, on vertices. No alignment is done; VIBE compares meshes
    posed with no translation.

    Args:
        pred_vertices: (..., V, 3), e.g. (N, 6890, 3), metres.
        gt_vertices: same shape and unit.

    Returns:
        The error in the unit of the input.
    """
    pred, gt = _check_pair(pred_vertices, gt_vertices)
    return float(np.mean(_joint_errors(pred, gt)))


def _procrustes(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Best similarity transform of each pose in `pred` onto `gt`, proper rotations only.

    pred, gt: (N, J, 3) float64. Returns the aligned prediction, (N, J, 3).

    Rows are points. With centred, Frobenius-normalised G and P, the SVD of H = Gᵀ P gives the
    rotation R = V Uᵀ applied as P R. When det R < 0 the last column of V and the last singular
    value change sign (VideoPose3D's fix), which yields the best proper rotation. The scale is
    the sum of the (fixed) singular values times ‖G‖/‖P‖.
    """
    gt_mean = gt.mean(axis=1, keepdims=True)  # (N, 1, 3)
    pred_mean = pred.mean(axis=1, keepdims=True)
    gt_centred = gt - gt_mean
    pred_centred = pred - pred_mean
    gt_norm = np.sqrt((gt_centred**2).sum(axis=(1, 2), keepdims=True))  # (N, 1, 1)
    pred_norm = np.sqrt((pred_centred**2).sum(axis=(1, 2), keepdims=True))
    gt_unit = gt_centred / gt_norm
    pred_unit = pred_centred / pred_norm

    h = np.swapaxes(gt_unit, 1, 2) @ pred_unit  # (N, 3, 3)
    u, singular, vt = np.linalg.svd(h)
    v = np.swapaxes(vt, 1, 2)
    rotation = v @ np.swapaxes(u, 1, 2)

    # Reflection fix: flip the weakest direction when the optimum would be a reflection.
    sign = np.sign(np.linalg.det(rotation))  # (N,)
    v[:, :, -1] *= sign[:, None]
    singular[:, -1] *= sign
    rotation = v @ np.swapaxes(u, 1, 2)

    scale = singular.sum(axis=1)[:, None, None] * gt_norm / pred_norm  # (N, 1, 1)
    translation = gt_mean - scale * (pred_mean @ rotation)
    return scale * (pred @ rotation) + translation


def procrustes_align(pred: ArrayLike, gt: ArrayLike) -> ArrayLike:
    """Align each pose of `pred` to `gt` with the best scale, proper rotation and translation.

    The alignment used by `pa_mpjpe` (VideoPose3D's Protocol #2). Each (J, 3) pose is aligned
    on its own; a pose whose points all coincide gives NaN, as in the official code.

    Args:
        pred: (..., J, 3), metres.
        gt: same shape and unit.

    Returns:
        The aligned prediction, same shape as `pred`: a float64 numpy array for numpy input, or a
        tensor with `pred`'s dtype and device for torch input (not differentiable).
    """
    pred_np, gt_np = _check_pair(pred, gt)
    shape = pred_np.shape
    aligned = _procrustes(pred_np.reshape((-1,) + shape[-2:]), gt_np.reshape((-1,) + shape[-2:]))
    aligned = aligned.reshape(shape)
    if isinstance(pred, torch.Tensor):
        return torch.as_tensor(aligned, dtype=pred.dtype, device=pred.device)
    return aligned


def pa_mpjpe(pred: ArrayLike, gt: ArrayLike) -> float:
    """MPJPE after Procrustes alignment per pose (Protocol #2, "reconstruction error").

    Scale, rotation and translation are solved per (J, 3) pose, reflections excluded as in
    VideoPose3D's `p_mpjpe` (see `procrustes_align`).

    Args:
        pred: (..., J, 3), e.g. (N, J, 3), metres.
        gt: same shape and unit.

    Returns:
        The error in the unit of the input.
    """
    pred_np, gt_np = _check_pair(pred, gt)
    shape = pred_np.shape
    gt_np = gt_np.reshape((-1,) + shape[-2:])  # (N, J, 3)
    aligned = _procrustes(pred_np.reshape((-1,) + shape[-2:]), gt_np)
    return float(np.mean(_joint_errors(aligned, gt_np)))


def n_mpjpe(pred: ArrayLike, gt: ArrayLike) -> float:
    """MPJPE after the best uniform scale per pose (Protocol #3, VideoPose3D's `n_mpjpe`).

    Per pose, c = mean_j ⟨gt_j, pred_j⟩ / mean_j ‖pred_j‖², and the result is mpjpe(c·pred, gt).
    No translation is solved, so root-align both first.

    Args:
        pred: (..., J, 3), e.g. (N, J, 3), metres.
        gt: same shape and unit.

    Returns:
        The error in the unit of the input.
    """
    pred, gt = _check_pair(pred, gt)
    pred_sq = np.mean(np.sum(pred * pred, axis=-1, keepdims=True), axis=-2, keepdims=True)
    cross = np.mean(np.sum(gt * pred, axis=-1, keepdims=True), axis=-2, keepdims=True)
    scale = cross / pred_sq  # (..., 1, 1)
    return float(np.mean(_joint_errors(scale * pred, gt)))


def mpjve(pred: ArrayLike, gt: ArrayLike) -> float:
    """Mean per-joint velocity error (VideoPose3D's `mean_velocity_error`).

    Velocities are first differences along axis 0, which must be time; the result is the mean
    of ‖Δpred − Δgt‖. Per frame, not per second: divide by the frame interval for m/s.

    Args:
        pred: (T, ..., J, 3), e.g. (T, J, 3), metres; T ≥ 2.
        gt: same shape and unit.

    Returns:
        The error in the unit of the input (per frame).
    """
    pred, gt = _check_pair(pred, gt)
    if pred.ndim < 3 or pred.shape[0] < 2:
        raise InputError(f"mpjve needs (T, ..., J, 3) with T >= 2 frames; got {pred.shape}")
    return float(np.mean(_joint_errors(np.diff(pred, axis=0), np.diff(gt, axis=0))))


def accel_error(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None) -> float:
    """Acceleration error, as in HMMR and VIBE (`compute_error_accel`).

    Accelerations are second differences along axis 0 (time), X[t−1] − 2 X[t] + X[t+1]; the
    result is the mean of ‖accel_pred − accel_gt‖. With `valid`, a second difference counts
    only when all three of its frames are valid, which is VIBE's rule.

    Args:
        pred: (T, ..., J, 3), e.g. (T, J, 3), metres; T ≥ 3.
        gt: same shape and unit.
        valid: optional (T,) booleans, True for frames to evaluate.

    Returns:
        The error in the unit of the input per frame² (multiply by fps² for m/s²).
    """
    pred, gt = _check_pair(pred, gt)
    if pred.ndim < 3 or pred.shape[0] < 3:
        raise InputError(f"accel_error needs (T, ..., J, 3) with T >= 3 frames; got {pred.shape}")
    accel_pred = pred[:-2] - 2.0 * pred[1:-1] + pred[2:]  # (T-2, ..., J, 3)
    accel_gt = gt[:-2] - 2.0 * gt[1:-1] + gt[2:]
    errors = _joint_errors(accel_pred, accel_gt)  # (T-2, ..., J)
    if valid is not None:
        valid = _to_float64(valid) != 0
        if valid.shape != (pred.shape[0],):
            raise InputError(f"valid must have shape (T,) = ({pred.shape[0]},); got {valid.shape}")
        keep = valid[:-2] & valid[1:-1] & valid[2:]  # (T-2,)
        if not keep.any():
            raise InputError("accel_error: no three consecutive valid frames")
        errors = errors[keep]
    return float(np.mean(errors))


def _pck_per_threshold(pred: ArrayLike, gt: ArrayLike, thresholds: np.ndarray) -> np.ndarray:
    pred, gt = _check_pair(pred, gt)
    errors = _joint_errors(pred, gt).reshape(-1)  # every joint of every pose
    return 100.0 * np.mean(errors[None, :] < thresholds[:, None], axis=1)


def pck(pred: ArrayLike, gt: ArrayLike, threshold: float = PCK_THRESHOLD_M) -> float:
    """Percentage of correct keypoints: joints closer than `threshold` to the ground truth.

    As in the MPI-INF-3DHP scripts, a joint counts when its error is strictly below the
    threshold, and all joints of all poses are pooled.

    Args:
        pred: (..., J, 3), e.g. (N, J, 3), metres.
        gt: same shape and unit.
        threshold: in the unit of the input; the default, 0.150, is 150 mm in metres.

    Returns:
        A percentage in [0, 100].
    """
    return float(_pck_per_threshold(pred, gt, np.asarray([threshold], dtype=np.float64))[0])


def auc(pred: ArrayLike, gt: ArrayLike, thresholds: ArrayLike | None = None) -> float:
    """Area under the PCK curve: the mean of `pck` over `thresholds`.

    Args:
        pred: (..., J, 3), e.g. (N, J, 3), metres.
        gt: same shape and unit.
        thresholds: (K,) in the unit of the input; by default MPI-INF-3DHP's 0, 5, …, 150 mm
            written in metres, `np.linspace(0, 0.150, 31)`.

    Returns:
        A percentage in [0, 100].
    """
    if thresholds is None:
        thresholds = np.linspace(0.0, PCK_THRESHOLD_M, 31)
    thresholds = _to_float64(thresholds).reshape(-1)
    return float(np.mean(_pck_per_threshold(pred, gt, thresholds)))
