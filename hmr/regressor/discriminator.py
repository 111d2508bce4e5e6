"""HMR's adversarial pose and shape prior: a factorised discriminator and least-squares GAN losses.

The structure is HMR's `Discriminator_separable_rotations` (FORMATS §5.3):

- a per-joint trunk shared by the 23 body joints: 1×1 conv 9 → 32 (ReLU) → 32 (ReLU) over each
  joint's flattened relative rotation matrix (the root is not scored);
- 23 separate per-joint heads, each a linear 32 → 1;
- a whole-pose MLP on the concatenated joint features, 23 · 32 = 736 → 1024 → 1024 → 1 (ReLU
  between);
- a shape MLP on β, 10 → 10 → 5 → 1 (ReLU between).

The output is (B, 25): 23 joint scores, the whole-pose score, the shape score. Real samples come
from mocap, fake ones are the regressor's estimates after every IEF iteration.

Objectives (FORMATS §5.4), summed over the 25 scores and averaged over the batch:
`discriminator_loss = E[(D(real) − 1)²] + E[D(fake)²]`, `adversarial_loss = E[(D(fake) − 1)²]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["Discriminator", "DiscriminatorConfig", "adversarial_loss", "discriminator_loss"]


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Sizes of HMR's discriminator (defaults: the published network).

    Attributes:
        num_joints: body joints scored, 23 (SMPL without the root).
        num_betas: shape coefficients, 10.
        joint_channels: width of the shared per-joint trunk, 32.
        pose_hidden: width of the whole-pose MLP, 1024.
        shape_hidden: widths of the shape MLP's hidden layers, (10, 5).
    """

    num_joints: int = 23
    num_betas: int = 10
    joint_channels: int = 32
    pose_hidden: int = 1024
    shape_hidden: tuple[int, ...] = (10, 5)

    @property
    def num_outputs(self) -> int:
        return self.num_joints + 2


class Discriminator(nn.Module):
    """Scores how plausible SMPL body poses and shapes are (HMR's factorised discriminator).

    Args:
        config: sizes; None for HMR's.
    """

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        width = config.joint_channels
        # 1×1 convs over a (B, 9, J, 1) "image": one weight set shared by every joint.
        self.joint_trunk = nn.Sequential(
            nn.Conv2d(9, width, kernel_size=1), nn.ReLU(),
            nn.Conv2d(width, width, kernel_size=1), nn.ReLU(),
        )
        # One separate linear 32 → 1 per joint, stored together: weight (J, 32), bias (J,).
        self.joint_heads_weight = nn.Parameter(torch.empty(config.num_joints, width))
        self.joint_heads_bias = nn.Parameter(torch.zeros(config.num_joints))
        bound = 1.0 / width**0.5  # nn.Linear's default init range
        nn.init.uniform_(self.joint_heads_weight, -bound, bound)
        nn.init.uniform_(self.joint_heads_bias, -bound, bound)
        self.pose_mlp = nn.Sequential(
            nn.Linear(config.num_joints * width, config.pose_hidden), nn.ReLU(),
            nn.Linear(config.pose_hidden, config.pose_hidden), nn.ReLU(),
            nn.Linear(config.pose_hidden, 1),
        )
        layers: list[nn.Module] = []
        in_features = config.num_betas
        for hidden in config.shape_hidden:
            layers += [nn.Linear(in_features, hidden), nn.ReLU()]
            in_features = hidden
        layers.append(nn.Linear(in_features, 1))
        self.shape_mlp = nn.Sequential(*layers)

    def forward(self, body_rotmat: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        """Score poses and shapes.

        Args:
            body_rotmat: (B, 23, 3, 3) relative rotations of the body joints (SMPL joints 1..23,
                no root).
            betas: (B, 10) SMPL shape.

        Returns:
            (B, 25) scores: 23 per-joint, whole pose, shape. Near 1 reads "real", near 0 "fake".
        """
        c = self.config
        if body_rotmat.ndim != 4 or tuple(body_rotmat.shape[1:]) != (c.num_joints, 3, 3):
            raise ValueError(f"body_rotmat must have shape (B, {c.num_joints}, 3, 3); got {tuple(body_rotmat.shape)}")
        if betas.ndim != 2 or betas.shape != (body_rotmat.shape[0], c.num_betas):
            raise ValueError(f"betas must have shape ({body_rotmat.shape[0]}, {c.num_betas}); got {tuple(betas.shape)}")
        batch = body_rotmat.shape[0]
        x = body_rotmat.reshape(batch, c.num_joints, 9).transpose(1, 2).unsqueeze(-1)  # (B, 9, J, 1)
        features = self.joint_trunk(x).squeeze(-1).transpose(1, 2)  # (B, J, 32)
        joint_scores = (features * self.joint_heads_weight).sum(-1) + self.joint_heads_bias  # (B, J)
        pose_score = self.pose_mlp(features.reshape(batch, -1))  # (B, 1)
        shape_score = self.shape_mlp(betas)  # (B, 1)
        return torch.cat([joint_scores, pose_score, shape_score], dim=1)

    def extra_repr(self) -> str:
        c = self.config
        return (f"joints={c.num_joints}, joint_channels={c.joint_channels}, pose_hidden={c.pose_hidden}, "
                f"shape_hidden={c.shape_hidden}, outputs={c.num_outputs}")


def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN loss of the discriminator: mean over samples of Σ_k (D_k(real) − 1)² + Σ_k D_k(fake)².

    Args:
        real_scores: (B_real, 25) scores of mocap samples.
        fake_scores: (B_fake, 25) scores of regressor estimates (detached from the regressor).

    Returns:
        () scalar.
    """
    return ((real_scores - 1.0) ** 2).sum(-1).mean() + (fake_scores**2).sum(-1).mean()


def adversarial_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """LSGAN loss of the regressor: mean over samples of Σ_k (D_k(fake) − 1)².

    Args:
        fake_scores: (B_fake, 25) scores of regressor estimates (every IEF iteration).

    Returns:
        () scalar.
    """
    return ((fake_scores - 1.0) ** 2).sum(-1).mean()
