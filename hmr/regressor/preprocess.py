"""Crop normalisation for the regressor's input (SPIN: `constants.IMG_NORM_MEAN/STD`, ImageNet)."""

from __future__ import annotations

import numpy as np
import torch

from body_models.errors import InputError

# ImageNet channel statistics of RGB values scaled to [0, 1], as torchvision and SPIN use them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PIXEL_MAX = 255.0


def normalize_crop(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Turn uint8 RGB crops into the regressor's input.

    Pixels are divided by 255, then each channel has the ImageNet mean subtracted and is
    divided by the ImageNet std. Crops must already be RGB (convert OpenCV's BGR first) and
    square; the regressor wants 224 × 224.

    Args:
        images: (B, H, W, 3) uint8 RGB, numpy or torch.

    Returns:
        (B, 3, H, W) float32 torch tensor (on the input's device for a tensor input).
    """
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise InputError(f"normalize_crop expects a numpy array or torch tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"normalize_crop expects (B, H, W, 3) RGB crops, got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        raise InputError(f"normalize_crop expects uint8 pixels 0-255, got {images.dtype}")
    mean = torch.tensor(IMAGENET_MEAN, device=images.device)
    std = torch.tensor(IMAGENET_STD, device=images.device)
    scaled = images.to(torch.float32) / PIXEL_MAX  # (B, H, W, 3) in [0, 1]
    return ((scaled - mean) / std).permute(0, 3, 1, 2).contiguous()  # (B, 3, H, W)
