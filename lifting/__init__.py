"""VideoPose3D lifting: 2D keypoint sequences to 3D joints (depends only on ``body_models``)."""

from lifting.checkpoints import load_pretrained, load_trajectory_model, save_checkpoint
from lifting.model import LiftingConfig, TemporalModel, TemporalModelOptimized1f

__all__ = [
    "LiftingConfig",
    "TemporalModel",
    "TemporalModelOptimized1f",
    "load_pretrained",
    "load_trajectory_model",
    "save_checkpoint",
]
