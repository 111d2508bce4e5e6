"""HMR regressor: ResNet-50 + iterative error feedback from a person crop to SMPL parameters."""

from hmr.regressor.checkpoints import DEMO_WEIGHTS, load_mean_params, load_pretrained, save_checkpoint
from hmr.regressor.crops import CameraTranslation, Crops, crop_boxes, full_image_translation
from hmr.regressor.model import HMR, HMRConfig, HMROutput, MeanParams
from hmr.regressor.resnet import ResNet50

__all__ = [
    "DEMO_WEIGHTS",
    "CameraTranslation",
    "Crops",
    "HMR",
    "HMRConfig",
    "HMROutput",
    "MeanParams",
    "ResNet50",
    "crop_boxes",
    "full_image_translation",
    "load_mean_params",
    "load_pretrained",
    "save_checkpoint",
]
