"""ImageNet input normalisation, shared by HRNet and the HMR regressor (both were trained with it)."""

from __future__ import annotations

import numpy as np
import torch

from body_models.errors import InputError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PIXEL_MAX",
    "normalize_images",
]

# ImageNet channel statistics of RGB values scaled to [0, 1], as torchvision, HRNet and SPIN use them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PIXEL_MAX = 255.0


def normalize_images(images: np.ndarray | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 RGB crops → network input: /255, minus the ImageNet mean, over its std, channels first.

    Args:
        images: (B, H, W, 3) uint8 RGB (convert OpenCV's BGR first), numpy or torch.
        device: where the result goes; the input's device when None.

    Returns:
        (B, 3, H, W) float32.
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise InputError(f"normalize_images expects a numpy array or torch tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"normalize_images expects (B, H, W, 3) RGB crops, got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        raise InputError(f"normalize_images expects uint8 pixels 0-255, got {images.dtype}")
    if device is not None:
        images = images.to(device)
    mean = torch.tensor(IMAGENET_MEAN, device=images.device)
    std = torch.tensor(IMAGENET_STD, device=images.device)
    scaled = images.to(torch.float32) / PIXEL_MAX  # (B, H, W, 3) in [0, 1]
    return ((scaled - mean) / std).permute(0, 3, 1, 2).contiguous()  # (B, 3, H, W)
