"""SMPLify: fit SMPL to 2D keypoints with the GMM pose prior, batched (FORMATS.md §3.11)."""

from hmr.smplify.config import SMPLifyConfig, SMPLifyResult
from hmr.smplify.fit import SMPLify
from hmr.smplify.losses import (angle_prior, depth_loss, gmof, reprojection_loss, shape_prior,
                                temporal_loss, torso_loss)
from hmr.smplify.starts import mean_params_to_axis_angle
from hmr.smplify.translation import estimate_translation, estimate_translation_from_torso
from hmr.smplify.video import FitSummary, fit_keypoints_file

__all__ = [
    "FitSummary",
    "SMPLify",
    "SMPLifyConfig",
    "SMPLifyResult",
    "angle_prior",
    "depth_loss",
    "estimate_translation",
    "estimate_translation_from_torso",
    "fit_keypoints_file",
    "gmof",
    "mean_params_to_axis_angle",
    "reprojection_loss",
    "shape_prior",
    "temporal_loss",
    "torso_loss",
]
