"""Top-down 2D keypoints: HRNet with the official state-dict layout, and its loader."""

from hmr.pose2d.checkpoints import DEMO_WEIGHTS, load_pretrained, save_checkpoint
from hmr.pose2d.hrnet import HRNet, HRNetConfig

__all__ = ["DEMO_WEIGHTS", "HRNet", "HRNetConfig", "load_pretrained", "save_checkpoint"]
