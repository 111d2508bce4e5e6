"""The HMR paper's training losses for the regressor (FORMATS §5.4), weights configurable.

- 2D: confidence-weighted L1 between projected and annotated keypoints, normalised crop
  coordinates, final IEF iteration only; weight 60.
- 3D joints: ½ · squared error of the 14 LSP joints after both sets are moved to the midpoint of
  their hips, for samples with 3D; weight 1.
- SMPL parameters: ½ · squared error of the 24 rotation matrices (216 values) and the 10 betas,
  for samples with SMPL labels; weight 1.
- Adversarial: the LSGAN regressor loss of the discriminator on every iteration's estimate;
  weight 1 (`hmr.regressor.discriminator.adversarial_loss`).

Masked means divide by the number of contributing values, like TensorFlow's
`SUM_BY_NONZERO_WEIGHTS` reduction that HMR uses, and are 0 when nothing contributes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from body_models import joints as js
from body_models.rotations import axis_angle_to_matrix

__all__ = ["LossWeights", "joints3d_loss", "keypoint_loss", "smpl_param_loss"]

_HIPS = (js.LSP_14.index("left_hip"), js.LSP_14.index("right_hip"))


@dataclass(frozen=True)
class LossWeights:
    """Weights of the regressor's loss terms; defaults from HMR (`src/config.py`).

    Attributes:
        keypoints: 2D reprojection (e_loss_weight, 60).
        joints3d: 3D joints (e_3d_weight, 1).
        smpl: SMPL parameters (e_3d_weight, 1).
        adversarial: regressor's adversarial term and the discriminator's loss (d_loss_weight, 1).
    """

    keypoints: float = 60.0
    joints3d: float = 1.0
    smpl: float = 1.0
    adversarial: float = 1.0


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ w · v / #(w > 0) over broadcast shapes; 0 when no weight is positive."""
    weights = weights.expand_as(values)
    count = (weights > 0).sum().clamp(min=1)
    return (weights * values).sum() / count


def keypoint_loss(pred_2d: torch.Tensor, gt_2d: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted L1 reprojection loss.

    Args:
        pred_2d: (B, J, 2) projected keypoints, normalised crop coordinates.
        gt_2d: (B, J, 3) annotated keypoints, normalised crop coordinates, then confidence
            (0 = not annotated).

    Returns:
        () Σ conf · |pred − gt| / (2 · #visible joints).
    """
    if pred_2d.shape[:-1] != gt_2d.shape[:-1] or pred_2d.shape[-1] != 2 or gt_2d.shape[-1] != 3:
        raise ValueError(f"keypoint_loss expects pred (B, J, 2) and gt (B, J, 3); got {tuple(pred_2d.shape)}, "
                         f"{tuple(gt_2d.shape)}")
    return _masked_mean((pred_2d - gt_2d[..., :2]).abs(), gt_2d[..., 2:])


def joints3d_loss(pred_3d: torch.Tensor, gt_3d: torch.Tensor, has_3d: torch.Tensor) -> torch.Tensor:
    """½ · squared error of hip-midpoint-aligned LSP-14 joints where 3D is known.

    Args:
        pred_3d: (B, 14, 3) metres, `joints.LSP_14` order.
        gt_3d: (B, 14, 4) metres x, y, z, then confidence.
        has_3d: (B,) 1 where the sample has 3D joints.

    Returns:
        () scalar.
    """
    if pred_3d.shape[1:] != (len(js.LSP_14), 3) or gt_3d.shape[1:] != (len(js.LSP_14), 4):
        raise ValueError(f"joints3d_loss expects pred (B, 14, 3) and gt (B, 14, 4); got {tuple(pred_3d.shape)}, "
                         f"{tuple(gt_3d.shape)}")
    pred = pred_3d - pred_3d[:, _HIPS].mean(dim=1, keepdim=True)
    gt = gt_3d[..., :3] - gt_3d[:, _HIPS, :3].mean(dim=1, keepdim=True)
    weights = gt_3d[..., 3:] * has_3d.to(pred.dtype)[:, None, None]  # (B, 14, 1)
    return 0.5 * _masked_mean((pred - gt) ** 2, weights)


def smpl_param_loss(pred_rotmat: torch.Tensor, pred_betas: torch.Tensor, gt_pose: torch.Tensor,
                    gt_betas: torch.Tensor, has_smpl: torch.Tensor) -> torch.Tensor:
    """½ · squared error of the SMPL parameters (24 rotation matrices and 10 betas).

    Args:
        pred_rotmat: (B, 24, 3, 3).
        pred_betas: (B, 10).
        gt_pose: (B, 72) axis-angle, radians.
        gt_betas: (B, 10).
        has_smpl: (B,) 1 where the sample has SMPL labels.

    Returns:
        () mean over the 226 values of the labelled samples.
    """
    gt_rotmat = axis_angle_to_matrix(gt_pose.reshape(-1, 24, 3))  # (B, 24, 3, 3)
    pred = torch.cat([pred_rotmat.flatten(1), pred_betas], dim=1)  # (B, 226)
    gt = torch.cat([gt_rotmat.flatten(1), gt_betas], dim=1)
    return 0.5 * _masked_mean((pred - gt) ** 2, has_smpl.to(pred.dtype)[:, None])
