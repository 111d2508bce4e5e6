"""SMPLify's loss terms (SPIN ``smplify/losses.py``; FORMATS.md §3.11), batched, per sample.

Every function returns one value per sample (B,) or per sample and joint (B, J), so the caller
can both optimise the batch sum and report each person's loss. The GMM pose prior itself is
``body_models.priors.MaxMixturePrior``.

- ``gmof``: the Geman–McClure robustifier ρ(r) = σ²r² / (σ² + r²).
- ``reprojection_loss``: conf² · Σ_xy ρ(projected − keypoints) per joint.
- ``torso_loss``: stage 1's plain squared 2D error on the torso joints.
- ``angle_prior``: exp(sign · θ)² on the elbows' and knees' bending angles.
- ``shape_prior``: ‖β‖².
- ``depth_loss``: (t_z − t_z,init)², keeping stage 1 near the similar-triangles depth.
- ``temporal_loss``: squared second differences over T frames (not in SMPLify; for video).
"""

from __future__ import annotations

import torch
from torch import Tensor

from body_models.joints import SMPL_24

# The angle prior's joints, axes and signs (SPIN ``angle_prior``: full-pose indices 55, 58, 12,
# 15 with signs +1, -1, -1, -1). A positive term penalises bending the joint the wrong way:
# the elbows bend about y (left negative, right positive), the knees about x (positive).
_ANGLE_PRIOR_TERMS: tuple[tuple[str, int, float], ...] = (
    ("left_elbow", 1, 1.0),
    ("right_elbow", 1, -1.0),
    ("left_knee", 0, -1.0),
    ("right_knee", 0, -1.0),
)
# Body pose holds joints 1..23 of SMPL_24 (the root is global_orient), 3 values each.
ANGLE_PRIOR_INDICES: tuple[int, ...] = tuple(
    3 * (SMPL_24.index(name) - 1) + axis for name, axis, _ in _ANGLE_PRIOR_TERMS)
ANGLE_PRIOR_SIGNS: tuple[float, ...] = tuple(sign for _, _, sign in _ANGLE_PRIOR_TERMS)


def _check_last(x: Tensor, size: int, name: str, expected: str) -> None:
    if not isinstance(x, Tensor) or x.ndim < 2 or x.shape[-1] != size:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must have shape {expected}; got {shape}")


def gmof(residual: Tensor, sigma: float) -> Tensor:
    """Geman–McClure robustifier, elementwise: ρ(r) = σ² r² / (σ² + r²).

    Args:
        residual: (...) any shape, e.g. pixels.
        sigma: σ, in the unit of ``residual`` (SMPLify: 100 pixels).

    Returns:
        (...) same shape; ≈ r² for |r| ≪ σ, approaching σ² for |r| ≫ σ.
    """
    squared = residual ** 2
    return sigma ** 2 * squared / (sigma ** 2 + squared)


def reprojection_loss(projected: Tensor, keypoints: Tensor, confidence: Tensor, sigma: float) -> Tensor:
    """Robust, confidence-weighted 2D error per joint (SPIN ``get_fitting_loss``'s per-joint term).

    Joints with zero confidence contribute exactly 0, even where the keypoint or the projection
    is not finite (a missing detection, a body behind the camera).

    Args:
        projected: (..., J, 2) model joints projected to the image, pixels.
        keypoints: (..., J, 2) detected keypoints, pixels.
        confidence: (..., J) weights in [0, 1].
        sigma: the GMoF σ, pixels.

    Returns:
        (..., J) conf² · Σ_xy ρ(projected − keypoints), pixels².
    """
    _check_last(projected, 2, "projected", "(..., J, 2)")
    if keypoints.shape != projected.shape or confidence.shape != projected.shape[:-1]:
        raise ValueError(f"keypoints {tuple(keypoints.shape)} and confidence {tuple(confidence.shape)} "
                         f"must match projected {tuple(projected.shape)} as (..., J, 2) and (..., J)")
    used = confidence > 0
    residual = torch.where(used[..., None], projected - keypoints, torch.zeros_like(projected))
    return confidence ** 2 * gmof(residual, sigma).sum(dim=-1)


def torso_loss(projected: Tensor, keypoints: Tensor, mask: Tensor) -> Tensor:
    """Stage 1's camera-fitting data term: plain squared 2D error on the chosen joints.

    Args:
        projected: (..., J, 2) pixels.
        keypoints: (..., J, 2) pixels.
        mask: (..., J) 1 for the joints to use (SPIN: the four torso joints), else 0.

    Returns:
        (...) Σ_j mask_j ‖projected_j − keypoints_j‖², pixels².
    """
    used = mask > 0
    residual = torch.where(used[..., None], projected - keypoints, torch.zeros_like(projected))
    return (mask * (residual ** 2).sum(dim=-1)).sum(dim=-1)


def angle_prior(body_pose: Tensor) -> Tensor:
    """SMPLify's prior against bending elbows and knees the unnatural way.

    Σ over (left elbow y, right elbow y, left knee x, right knee x) of exp(sign · θ)², with signs
    (+1, −1, −1, −1) (``ANGLE_PRIOR_INDICES``, ``ANGLE_PRIOR_SIGNS``).

    Args:
        body_pose: (..., 69) axis-angle, radians.

    Returns:
        (...) the prior, dimensionless.
    """
    _check_last(body_pose, 69, "body_pose", "(..., 69)")
    signs = body_pose.new_tensor(ANGLE_PRIOR_SIGNS)
    return (torch.exp(body_pose[..., list(ANGLE_PRIOR_INDICES)] * signs) ** 2).sum(dim=-1)


def shape_prior(betas: Tensor) -> Tensor:
    """‖β‖² per sample.

    Args:
        betas: (..., num_betas).

    Returns:
        (...) dimensionless.
    """
    return (betas ** 2).sum(dim=-1)


def depth_loss(transl: Tensor, transl_init: Tensor) -> Tensor:
    """(t_z − t_z,init)² per sample, metres² (stage 1 multiplies it by 100²).

    Args:
        transl: (..., 3) metres, camera frame.
        transl_init: (..., 3) metres.

    Returns:
        (...) metres².
    """
    return (transl[..., 2] - transl_init[..., 2]) ** 2


def temporal_loss(x: Tensor, valid: Tensor | None = None) -> Tensor:
    """Squared second differences along time: Σ_t ‖x[:, t−1] − 2 x[:, t] + x[:, t+1]‖².

    Used on joints in metres (camera frame) so that jitter in a fitted sequence costs; the sum
    runs over the frames and every trailing value.

    Args:
        x: (S, T, ...) S sequences of T frames.
        valid: optional (S, T) booleans; a second difference counts only when its three frames
            are all valid (so frames without a fit do not pull on their neighbours).

    Returns:
        (S,) per sequence, in the unit of ``x`` squared; zeros when T < 3.
    """
    if x.ndim < 2:
        raise ValueError(f"x must have shape (S, T, ...); got {tuple(x.shape)}")
    if valid is not None and tuple(valid.shape) != tuple(x.shape[:2]):
        raise ValueError(f"valid must have shape (S, T) = {tuple(x.shape[:2])}; got {tuple(valid.shape)}")
    if x.shape[1] < 3:
        return x.new_zeros(x.shape[0])
    accel = x[:, :-2] - 2.0 * x[:, 1:-1] + x[:, 2:]  # (S, T-2, ...)
    per_step = (accel ** 2).flatten(start_dim=2).sum(dim=-1)  # (S, T-2)
    if valid is not None:
        keep = valid[:, :-2] & valid[:, 1:-1] & valid[:, 2:]
        per_step = torch.where(keep, per_step, torch.zeros_like(per_step))
    return per_step.sum(dim=-1)
