"""VideoPose3D lifting: 2D keypoint sequences to 3D joints (depends only on ``body_models``)."""

import importlib

_HOME = {
    "load_pretrained": "lifting.checkpoints", "load_trajectory_model": "lifting.checkpoints",
    "save_checkpoint": "lifting.checkpoints", "DEMO_WEIGHTS": "lifting.inference", "LiftResult": "lifting.inference",
    "lift_keypoints": "lifting.inference", "lift_keypoints_file": "lifting.inference",
    "LiftingConfig": "lifting.model", "TemporalModel": "lifting.model", "TemporalModelOptimized1f": "lifting.model",
    "TrainConfig": "lifting.train_config", "TrainResult": "lifting.train_state", "train_lifter": "lifting.train",
}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    """The public names, imported on first use (so ``import lifting`` alone does not load torch)."""
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'lifting' has no attribute {name!r}")
