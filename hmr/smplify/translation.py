"""SMPLify's first step: the camera translation that puts the body under its keypoints.

``estimate_translation_from_torso`` by similar triangles on the torso where it is seen,
``estimate_translation`` by weighted least squares over all joints elsewhere (SPIN's
``estimate_translation_np``, batched). The camera is a pinhole at the origin looking down +z.
"""

from __future__ import annotations

import torch
from torch import Tensor

from body_models.errors import InputError

__all__ = ["TORSO_JOINTS", "estimate_translation", "estimate_translation_from_torso"]

# The four joints stage 1 aligns and the similar-triangles depth uses, by name in the keypoint set.
TORSO_JOINTS: tuple[str, ...] = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


def _camera_tensors(focal_length, principal_point, batch: int, ref: Tensor) -> tuple[Tensor, Tensor]:
    """(N,) focal lengths and (N, 2) principal points, pixels, broadcast to the batch."""
    focal = torch.as_tensor(focal_length, dtype=ref.dtype, device=ref.device)
    if focal.ndim == 0:
        focal = focal.expand(batch)
    focal = focal.reshape(-1)
    center = torch.as_tensor(principal_point, dtype=ref.dtype, device=ref.device)
    if center.ndim == 1:
        center = center.expand(batch, 2)
    center = center.reshape(-1, 2)
    if focal.shape != (batch,) or center.shape != (batch, 2):
        raise InputError(f"focal_length must be a number or ({batch},) and principal_point (2,) or "
                         f"({batch}, 2); got {tuple(focal.shape)} and {tuple(center.shape)}")
    return focal, center


def estimate_translation(joints: Tensor, keypoints: Tensor, focal_length, principal_point) -> Tensor:
    """Camera translation by confidence-weighted linear least squares (SPIN
    ``estimate_translation_np``, batched).

    For each joint (X, Y, Z) with keypoint (u, v) and principal point (cx, cy), t = (tx, ty, tz)
    solves, in the least-squares sense with weight conf on each squared residual:
    f·tx + (cx − u)·tz = (u − cx)·Z − f·X and f·ty + (cy − v)·tz = (v − cy)·Z − f·Y.

    Args:
        joints: (B, J, 3) model joints, metres, before translation.
        keypoints: (B, J, 3) pixels x, y, confidence (0 for joints to leave out).
        focal_length: pixels; a number or (B,).
        principal_point: (2,) or (B, 2) pixels.

    Returns:
        (B, 3) metres. Samples with fewer than 2 weighted joints get an ill-posed answer (a small
        ridge keeps it finite); check the confidences first.
    """
    if joints.ndim != 3 or joints.shape[-1] != 3 or keypoints.shape != joints.shape:
        raise InputError(f"joints and keypoints must both have shape (B, J, 3); got "
                         f"{tuple(joints.shape)} and {tuple(keypoints.shape)}")
    batch = joints.shape[0]
    focal, center = _camera_tensors(focal_length, principal_point, batch, joints)
    conf = keypoints[..., 2].clamp(min=0)
    uv = torch.where(conf[..., None] > 0, keypoints[..., :2], center[:, None, :])  # NaN-free
    f = focal[:, None]  # (B, 1)
    zeros = torch.zeros_like(uv[..., 0])
    # Rows for x and y equations: (B, J, 3) coefficients and (B, J) right-hand sides.
    a_x = torch.stack([f.expand_as(zeros), zeros, center[:, None, 0] - uv[..., 0]], dim=-1)
    a_y = torch.stack([zeros, f.expand_as(zeros), center[:, None, 1] - uv[..., 1]], dim=-1)
    b_x = (uv[..., 0] - center[:, None, 0]) * joints[..., 2] - f * joints[..., 0]
    b_y = (uv[..., 1] - center[:, None, 1]) * joints[..., 2] - f * joints[..., 1]
    a = torch.cat([a_x, a_y], dim=1)  # (B, 2J, 3)
    b = torch.cat([b_x, b_y], dim=1)  # (B, 2J)
    w = torch.cat([conf, conf], dim=1)  # (B, 2J)
    ata = torch.einsum("bni,bn,bnj->bij", a, w, a)
    atb = torch.einsum("bni,bn,bn->bi", a, w, b)
    ridge = 1e-9 * ata.diagonal(dim1=-2, dim2=-1).sum(-1).clamp(min=1.0)
    ata = ata + ridge[:, None, None] * torch.eye(3, dtype=ata.dtype, device=ata.device)
    return torch.linalg.solve(ata, atb[..., None])[..., 0]


def estimate_translation_from_torso(joints: Tensor, keypoints: Tensor, torso: tuple[int, int, int, int],
                                    focal_length, principal_point) -> tuple[Tensor, Tensor]:
    """Camera translation by similar triangles on the torso.

    Depth: t_z = f · L_3D / L_2D − Z̄, with L the distance from the shoulders' midpoint to the
    hips' midpoint (in the model, metres; in the image, pixels) and Z̄ the model torso's mean
    depth. Then t_x, t_y put the visible joints' confidence-weighted mean under its keypoints'
    at that depth.

    Args:
        joints: (B, J, 3) model joints in the keypoints' order, metres, before translation.
        keypoints: (B, J, 3) pixels x, y, confidence.
        torso: indices of the left shoulder, right shoulder, left hip and right hip.
        focal_length: pixels; a number or (B,).
        principal_point: (2,) or (B, 2) pixels.

    Returns:
        ((B, 3) metres, (B,) bool): the translation and where it is valid (all four torso
        joints visible and a torso at least one pixel long).
    """
    batch = joints.shape[0]
    focal, center = _camera_tensors(focal_length, principal_point, batch, joints)
    idx = list(torso)
    conf = keypoints[..., 2].clamp(min=0)
    uv = torch.where(conf[..., None] > 0, keypoints[..., :2], center[:, None, :])
    t_uv, t_xyz = uv[:, idx], joints[:, idx]  # (B, 4, 2), (B, 4, 3)
    length_2d = ((t_uv[:, :2].mean(1) - t_uv[:, 2:].mean(1)) ** 2).sum(-1).sqrt()  # (B,)
    length_3d = ((t_xyz[:, :2].mean(1) - t_xyz[:, 2:].mean(1)) ** 2).sum(-1).sqrt()
    valid = (conf[:, idx] > 0).all(dim=1) & (length_2d >= 1.0)
    depth = focal * length_3d / length_2d.clamp(min=1.0)  # (B,) camera-to-torso distance
    tz = depth - t_xyz[..., 2].mean(1)
    weights = conf / conf.sum(1, keepdim=True).clamp(min=1e-12)  # (B, J)
    z = joints[..., 2] + tz[:, None]
    # X + tx = (u − cx)·(Z + tz)/f, averaged over the visible joints with their weights.
    txy = (weights[..., None] * ((uv - center[:, None]) * z[..., None] / focal[:, None, None]
                                 - joints[..., :2])).sum(1)
    return torch.cat([txy, tz[:, None]], dim=-1), valid
