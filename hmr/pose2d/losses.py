"""Keypoint losses: HRNet's heatmap MSE (with target weights, optionally online hard keypoint
mining) and DSNT (Nibali et al. 2018, "Numerical Coordinate Regression with Convolutional Neural
Networks"): a soft-argmax over a spatially normalised heatmap, trained on the coordinates with a
Jensen-Shannon regulariser toward a Gaussian.
"""

from __future__ import annotations

import torch

__all__ = ["dsnt_loss", "joints_mse_loss", "normalized_heatmaps", "soft_argmax"]


def joints_mse_loss(output: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor | None = None,
                    ohkm_topk: int = 0) -> torch.Tensor:
    """HRNet's ``JointsMSELoss`` (``ohkm_topk`` 0) or ``JointsOHKMMSELoss`` (``ohkm_topk`` k).

    Per joint: half the mean squared error of the (target-weighted) maps. Plain: the mean over
    joints. OHKM: for each sample the k largest joint losses, summed and divided by k, then the
    mean over the batch.

    Args:
        output, target: (B, J, h, w) heatmaps.
        target_weight: (B, J, 1) weights, or None for all ones.
        ohkm_topk: 0, or the number of hardest joints kept per sample.

    Returns:
        () scalar.
    """
    batch, num_joints = output.shape[:2]
    pred = output.reshape(batch, num_joints, -1).float()
    gt = target.reshape(batch, num_joints, -1).float()
    if target_weight is not None:
        w = target_weight.reshape(batch, num_joints, 1).float()
        pred, gt = pred * w, gt * w
    per_joint = 0.5 * (pred - gt).square().mean(-1)  # (B, J)
    if ohkm_topk:
        return (per_joint.topk(min(ohkm_topk, num_joints), dim=1).values.sum(1) / ohkm_topk).mean()
    return per_joint.mean()


def normalized_heatmaps(logits: torch.Tensor) -> torch.Tensor:
    """(B, J, h, w) network output → a probability map per joint (spatial softmax)."""
    b, j, h, w = logits.shape
    return logits.float().reshape(b, j, h * w).softmax(-1).reshape(b, j, h, w)


def soft_argmax(probabilities: torch.Tensor) -> torch.Tensor:
    """DSNT: the expected position under each map; (B, J, h, w) → (B, J, 2) heatmap cells x, y.

    Cell (i, j) is at x = j, y = i, the convention of the heatmap decoder (``hmr.pose2d.topdown``)."""
    h, w = probabilities.shape[-2:]
    xs = torch.arange(w, dtype=probabilities.dtype, device=probabilities.device)
    ys = torch.arange(h, dtype=probabilities.dtype, device=probabilities.device)
    x = (probabilities.sum(-2) * xs).sum(-1)
    y = (probabilities.sum(-1) * ys).sum(-1)
    return torch.stack([x, y], dim=-1)


def _gaussian_maps(centres: torch.Tensor, h: int, w: int, sigma: float) -> torch.Tensor:
    """(B, J, 2) cells → (B, J, h, w) Gaussians normalised to sum 1 over the grid."""
    xs = torch.arange(w, dtype=centres.dtype, device=centres.device)
    ys = torch.arange(h, dtype=centres.dtype, device=centres.device)
    gx = torch.exp(-(xs - centres[..., :1]).square() / (2 * sigma ** 2))  # (B, J, w)
    gy = torch.exp(-(ys - centres[..., 1:]).square() / (2 * sigma ** 2))  # (B, J, h)
    maps = gy[..., :, None] * gx[..., None, :]
    return maps / maps.sum((-2, -1), keepdim=True).clamp_min(1e-12)


def dsnt_loss(logits: torch.Tensor, joints: torch.Tensor, target_weight: torch.Tensor, sigma: float = 1.0,
              js_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """DSNT's loss: Euclidean coordinate error plus ``js_weight`` × JS(map ‖ Gaussian(joint, σ)).

    Coordinates are compared in DSNT's normalised units (the map's width and height span 2), so
    the two terms keep the paper's balance whatever the heatmap resolution.

    Args:
        logits: (B, J, h, w) network output.
        joints: (B, J, 2) target positions, heatmap cells.
        target_weight: (B, J, 1); 0 drops a joint.
        sigma: the regulariser's Gaussian σ, cells.
        js_weight: λ of the regulariser.

    Returns:
        (loss (), predicted coordinates (B, J, 2) cells).
    """
    h, w = logits.shape[-2:]
    probabilities = normalized_heatmaps(logits)
    coords = soft_argmax(probabilities)
    scale = torch.tensor([2.0 / w, 2.0 / h], device=logits.device)
    joints = joints.float()
    weight = target_weight.reshape(coords.shape[:2]).float()
    distance = ((coords - joints) * scale).square().sum(-1).clamp_min(1e-12).sqrt()  # (B, J)
    target = _gaussian_maps(joints, h, w, sigma)
    mixture = 0.5 * (probabilities + target)

    def kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum((-2, -1))

    js = 0.5 * kl(probabilities, mixture) + 0.5 * kl(target, mixture)  # (B, J)
    per_joint = (distance + js_weight * js) * weight
    return per_joint.sum() / weight.sum().clamp_min(1.0), coords
