"""HMR regressor: ResNet-50 + iterative error feedback from a person crop to SMPL parameters."""

from hmr.regressor.checkpoints import load_mean_params, load_pretrained, save_checkpoint
from hmr.regressor.model import HMR, HMRConfig, HMROutput, MeanParams
from hmr.regressor.preprocess import normalize_crop
from hmr.regressor.resnet import ResNet50

__all__ = [
    "HMR",
    "HMRConfig",
    "HMROutput",
    "MeanParams",
    "ResNet50",
    "load_mean_params",
    "load_pretrained",
    "normalize_crop",
    "save_checkpoint",
]
