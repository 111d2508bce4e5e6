"""VideoPose3D lifting: 2D keypoint sequences to 3D joints (depends only on ``body_models``)."""

from lifting.checkpoints import load_pretrained, load_trajectory_model, save_checkpoint
from lifting.inference import DEMO_WEIGHTS, LiftResult, lift_keypoints, lift_keypoints_file
from lifting.model import LiftingConfig, TemporalModel, TemporalModelOptimized1f
from lifting.train import TrainConfig, TrainResult, train_lifter

__all__ = [
    "DEMO_WEIGHTS",
    "LiftResult",
    "LiftingConfig",
    "TemporalModel",
    "TemporalModelOptimized1f",
    "TrainConfig",
    "TrainResult",
    "lift_keypoints",
    "lift_keypoints_file",
    "load_pretrained",
    "load_trajectory_model",
    "save_checkpoint",
    "train_lifter",
]
