"""The HMR regressor: ResNet-50 features and iterative error feedback (IEF) to SMPL parameters.

Two heads share the trunk and the IEF loop:

- ``"rot6d"`` is SPIN's regressor (SPIN: `models/hmr.py`), with identical state-dict keys: the
  ResNet-50 trunk at the top level (`conv1`, `bn1`, `layer1` … `layer4`, no `fc`), then `fc1`,
  `fc2`, `decpose`, `decshape`, `deccam` and the buffers `init_pose` (1, 144), `init_shape`
  (1, 10), `init_cam` (1, 3). The pose is 24 joints × SPIN's 6D (`rot6d_to_matrix`).
- ``"axis_angle"`` is the original HMR parameter vector θ (85 = cam 3 | pose 72 axis-angle |
  shape 10), regressed by one `dectheta` layer from the buffer `init_theta` (1, 85).

Each of the `n_iter` iterations computes
``x = concat(feature, estimate) → fc1 → dropout → fc2 → dropout → estimate += decoder(x)``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from body_models.configs import config_from_dict, config_from_yaml
from body_models.errors import InputError
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rot6d_to_matrix
from hmr.regressor.resnet import ResNetTrunk

NUM_JOINTS = 24
NUM_BETAS = 10
CAM_DIM = 3  # weak perspective (s, tx, ty)
ROT6D_POSE_DIM = NUM_JOINTS * 6  # 144
AXIS_ANGLE_POSE_DIM = NUM_JOINTS * 3  # 72
THETA_DIM = CAM_DIM + AXIS_ANGLE_POSE_DIM + NUM_BETAS  # 85, original HMR's θ
IMAGE_SIZE = 224  # crop side in pixels; SPIN's AvgPool2d(7) after /32 downsampling needs it
TRUNK_STRIDE = 32  # ResNet-50 downsampling from the input to the last stage
HEADS = ("rot6d", "axis_angle")
# Trunks by name; "resnet50" is SPIN's and HMR's, the smaller two keep torchvision's key names.
BACKBONES = {"resnet18": 18, "resnet34": 34, "resnet50": 50}

# Original HMR's initial θ (HMR: src/trainer.py load_mean_param): camera (s, tx, ty) and the
# root rotation π about x, which turns SMPL's y-up body upright in the y-down image frame.
HMR_INIT_CAM = (0.9, 0.0, 0.0)
HMR_INIT_ROOT = (math.pi, 0.0, 0.0)
# Small Xavier gain on the decoders, so the first estimates stay near the mean (SPIN, HMR).
DECODER_INIT_GAIN = 0.01


@dataclass(frozen=True)
class HMRConfig:
    """Settings of the HMR regressor; `configs/regressor/*.yaml` are presets of it.

    Attributes:
        head: "rot6d" (SPIN, 24 × 6D pose) or "axis_angle" (original HMR's 85-vector θ).
        n_iter: IEF iterations (3 in SPIN and HMR).
        hidden_dim: width of fc1 and fc2.
        dropout: dropout probability after fc1 and fc2.
        image_size: crop side in pixels, a multiple of 32. SPIN and HMR use 224; smaller crops
            (e.g. 64 for CPU smoke runs) keep every layer and weight shape, only the pooled
            map shrinks (AvgPool over the (image_size/32)² map).
        backbone: "resnet50" (SPIN and HMR, 2048 features), or "resnet18" / "resnet34"
            (torchvision's, 512 features) for a smaller model.
    """

    head: str = "rot6d"
    n_iter: int = 3
    hidden_dim: int = 1024
    dropout: float = 0.5
    image_size: int = IMAGE_SIZE
    backbone: str = "resnet50"

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise InputError(f"HMRConfig.head must be one of {HEADS}, got {self.head!r}")
        if not isinstance(self.n_iter, int) or self.n_iter < 1:
            raise InputError(f"HMRConfig.n_iter must be a positive integer, got {self.n_iter!r}")
        if not isinstance(self.hidden_dim, int) or self.hidden_dim < 1:
            raise InputError(f"HMRConfig.hidden_dim must be a positive integer, got {self.hidden_dim!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise InputError(f"HMRConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.image_size, int) or self.image_size < TRUNK_STRIDE or self.image_size % TRUNK_STRIDE:
            raise InputError(f"HMRConfig.image_size must be a positive multiple of {TRUNK_STRIDE}, got {self.image_size!r}")
        if self.backbone not in BACKBONES:
            raise InputError(f"HMRConfig.backbone must be one of {tuple(BACKBONES)}, got {self.backbone!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "HMRConfig":
        """Build from a dict (a YAML preset, a checkpoint's "config"); unknown keys are an error."""
        return config_from_dict(cls, values, source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "HMRConfig":
        """Read a preset such as ``configs/regressor/spin.yaml``."""
        return config_from_yaml(cls, path)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MeanParams:
    """SPIN's `smpl_mean_params.npz`: where the IEF loop starts.

    Attributes:
        pose: (144,) float32, 24 joints × SPIN's 6D (see `rot6d_to_matrix`); joint 0 is the root.
        shape: (10,) float32 betas.
        cam: (3,) float32 weak perspective (s, tx, ty).
    """

    pose: np.ndarray
    shape: np.ndarray
    cam: np.ndarray

    def hmr_theta(self) -> np.ndarray:
        """(85,) float32 original-HMR θ₀: cam (0.9, 0, 0) | axis-angle pose, root (π, 0, 0) | shape.

        The body joints are the mean 6D pose converted to axis-angle; root and camera follow
        HMR's `load_mean_param`.
        """
        rot6d = torch.from_numpy(np.asarray(self.pose, dtype=np.float64)).reshape(NUM_JOINTS, 6)
        axis_angle = matrix_to_axis_angle(rot6d_to_matrix(rot6d)).numpy()  # (24, 3)
        axis_angle[0] = HMR_INIT_ROOT
        theta = np.concatenate([np.asarray(HMR_INIT_CAM), axis_angle.reshape(-1), np.asarray(self.shape)])
        return theta.astype(np.float32)


def _default_mean_params() -> MeanParams:
    """Placeholder start (identity rotations, zero betas, HMR's camera) for models whose buffers
    are about to be overwritten by a checkpoint."""
    identity_6d = np.tile(np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], dtype=np.float32), NUM_JOINTS)
    return MeanParams(
        pose=identity_6d,
        shape=np.zeros(NUM_BETAS, dtype=np.float32),
        cam=np.asarray(HMR_INIT_CAM, dtype=np.float32),
    )


@dataclass
class HMROutput:
    """What the regressor predicts for a batch of crops (final iteration, plus every iteration).

    Attributes:
        rotmat: (B, 24, 3, 3) SMPL joint rotations; joint 0 is `global_orient`, 1..23 `body_pose`.
        betas: (B, 10) SMPL shape.
        cam: (B, 3) weak-perspective camera (s, tx, ty), normalised crop coordinates [-1, 1].
        features: (B, F) pooled trunk features (2048 for ResNet-50, 512 for ResNet-18/34).
        pose: (B, 144) 6D pose (rot6d head) or (B, 72) axis-angle, radians (axis_angle head),
            the raw regressed values.
        rotmat_iters: (n_iter, B, 24, 3, 3) rotations after each IEF iteration (last = rotmat),
            for the adversarial prior, which scores every iteration.
        betas_iters: (n_iter, B, 10).
        cam_iters: (n_iter, B, 3).
    """

    rotmat: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    features: torch.Tensor
    pose: torch.Tensor
    rotmat_iters: torch.Tensor
    betas_iters: torch.Tensor
    cam_iters: torch.Tensor


class HMR(ResNetTrunk):
    """ResNet-50 (or -18/-34, `HMRConfig.backbone`) + IEF regressor of SMPL pose, shape and weak-perspective camera.

    `__init__` only builds layers: pass `mean_params` (from `load_mean_params`) to set the
    starting estimate, or leave it None when a checkpoint (which stores the start as buffers)
    will be loaded next. Use `hmr.regressor.load_pretrained` to get a trained model.

    Args:
        config: head and IEF settings.
        mean_params: the IEF start; None gives a placeholder (identity pose, zero betas).
    """

    def __init__(self, config: HMRConfig | None = None, mean_params: MeanParams | None = None) -> None:
        config = config or HMRConfig()
        super().__init__(depth=BACKBONES[config.backbone])
        self.config = config
        mean_params = mean_params or _default_mean_params()
        # SPIN pools the fixed 7 × 7 map with AvgPool2d(7); the same op keeps outputs bit-close.
        self.avgpool = nn.AvgPool2d(config.image_size // TRUNK_STRIDE, stride=1)
        estimate_dim = ROT6D_POSE_DIM + NUM_BETAS + CAM_DIM if config.head == "rot6d" else THETA_DIM
        self.fc1 = nn.Linear(self.feature_dim + estimate_dim, config.hidden_dim)
        self.drop1 = nn.Dropout(config.dropout)
        self.fc2 = nn.Linear(config.hidden_dim, config.hidden_dim)
        self.drop2 = nn.Dropout(config.dropout)
        if config.head == "rot6d":
            self.decpose = nn.Linear(config.hidden_dim, ROT6D_POSE_DIM)
            self.decshape = nn.Linear(config.hidden_dim, NUM_BETAS)
            self.deccam = nn.Linear(config.hidden_dim, CAM_DIM)
            decoders = (self.decpose, self.decshape, self.deccam)
            self.register_buffer("init_pose", _row(mean_params.pose))  # (1, 144)
            self.register_buffer("init_shape", _row(mean_params.shape))  # (1, 10)
            self.register_buffer("init_cam", _row(mean_params.cam))  # (1, 3)
        else:
            self.dectheta = nn.Linear(config.hidden_dim, THETA_DIM)
            decoders = (self.dectheta,)
            self.register_buffer("init_theta", _row(mean_params.hmr_theta()))  # (1, 85)
        for decoder in decoders:
            nn.init.xavier_uniform_(decoder.weight, gain=DECODER_INIT_GAIN)

    def forward(self, images: torch.Tensor) -> HMROutput:
        """Regress SMPL parameters from person crops.

        Args:
            images: (B, 3, S, S) RGB crops, S = config.image_size (224), normalised with
                ImageNet mean and std (`hmr.core.imagenet.normalize_images`).

        Returns:
            HMROutput with rotmat (B, 24, 3, 3), betas (B, 10), cam (B, 3) and per-iteration values.
        """
        size = self.config.image_size
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, size, size):
            raise InputError(
                f"HMR expects images of shape (B, 3, {size}, {size}), got {tuple(images.shape)}; "
                f"crop with hmr.regressor.crops.crop_boxes(size={size})"
            )
        batch = images.shape[0]
        features = self.features(images)  # (B, 2048) for ResNet-50
        if self.config.head == "rot6d":
            estimate = torch.cat([self.init_pose, self.init_shape, self.init_cam], dim=1)
            decoders = (self.decpose, self.decshape, self.deccam)
        else:
            estimate = self.init_theta
            decoders = (self.dectheta,)
        estimate = estimate.expand(batch, -1)  # (B, 157) or (B, 85)
        estimates = []
        for _ in range(self.config.n_iter):
            x = torch.cat([features, estimate], dim=1)
            x = self.drop2(self.fc2(self.drop1(self.fc1(x))))  # (B, hidden_dim)
            estimate = estimate + torch.cat([decoder(x) for decoder in decoders], dim=1)
            estimates.append(estimate)
        stacked = torch.stack(estimates)  # (n_iter, B, 157 or 85)
        pose, betas, cam = self._split(stacked)
        if self.config.head == "rot6d":
            rotmat = rot6d_to_matrix(pose.reshape(self.config.n_iter, batch, NUM_JOINTS, 6))
        else:
            rotmat = axis_angle_to_matrix(pose.reshape(self.config.n_iter, batch, NUM_JOINTS, 3))
        return HMROutput(
            rotmat=rotmat[-1],
            betas=betas[-1],
            cam=cam[-1],
            features=features,
            pose=pose[-1],
            rotmat_iters=rotmat,
            betas_iters=betas,
            cam_iters=cam,
        )

    def _split(self, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(..., D) head estimate -> pose (..., 144 or 72), betas (..., 10), cam (..., 3)."""
        if self.config.head == "rot6d":
            return estimate.split((ROT6D_POSE_DIM, NUM_BETAS, CAM_DIM), dim=-1)
        cam, pose, betas = estimate.split((CAM_DIM, AXIS_ANGLE_POSE_DIM, NUM_BETAS), dim=-1)
        return pose, betas, cam

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"backbone={c.backbone!r}, head={c.head!r}, n_iter={c.n_iter}, hidden_dim={c.hidden_dim}, dropout={c.dropout}, "
            f"input=(B, 3, {c.image_size}, {c.image_size})"
        )


def _row(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32)).reshape(1, -1).clone()
