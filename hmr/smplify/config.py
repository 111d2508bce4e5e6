"""What SMPLify takes and gives: its settings, with SPIN's published defaults, and its result."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Mapping

from torch import Tensor

from body_models.cameras import SPIN_CROP_SIZE, SPIN_FOCAL_LENGTH
from body_models.configs import config_from_dict, config_from_yaml
from body_models.errors import InputError

__all__ = ["SPIN_OPENPOSE_IGNORE", "SMPLifyConfig", "SMPLifyResult"]

# SPIN ignores these OpenPose joints in stage 2 (its ign_joints, FORMATS §3.11): SMPL's neck and
# hip joints sit inside the body, not where a 2D detector marks them. COCO hips come from the
# surface regressor (body_models.joints), so nothing needs ignoring for COCO-17.
SPIN_OPENPOSE_IGNORE: tuple[str, ...] = ("neck", "right_hip", "left_hip")


@dataclass(frozen=True)
class SMPLifyConfig:
    """SMPLify's settings, with SPIN's published defaults (FORMATS §3.11).

    Attributes:
        num_iters: Adam steps in each of the two stages.
        step_size: Adam learning rate.
        sigma: Geman–McClure σ, pixels.
        pose_prior_weight: GMM pose prior weight (squared in the loss).
        angle_prior_weight: elbow/knee angle prior weight (squared in the loss).
        shape_prior_weight: ‖β‖² weight (squared in the loss).
        depth_loss_weight: stage 1's pull of t_z towards its start (squared in the loss).
        temporal_weight: weight (squared in the loss) of the squared second differences of the
            3D joints, metres, over the frames of a sequence; 0 turns the term off. Applies only
            to (S, T, J, 3) input.
        ignore_joints: names in the keypoint set whose confidence is set to 0 in stage 2 and in
            the reported loss (SPIN uses ``SPIN_OPENPOSE_IGNORE`` for OpenPose input).
        focal_length: pixels (SPIN: 5000 for its 224-pixel crops).
        principal_point: (cx, cy) pixels; None for the centre of a 224-pixel crop.
        min_keypoints: a sample is attempted only with at least this many keypoints of confidence > 0
            (after ``ignore_joints``).
        fit_transl_in_stage2: also optimise ``transl`` in stage 2 (SPIN keeps it fixed).
        max_abs_beta: SPIN zeroes the betas of a fit with any |β| above this; None keeps them.
        loss_threshold: a fit is valid (``SMPLifyResult.valid_fit``) when its reprojection loss
            (mean over the keypoint set's joints of conf² · Σ_xy ρ, pixels²) is below this
            (SPIN's ``--smplify_threshold``, in its 224-pixel crop pixels).
        joints_only: inside the optimisation, compute only the joints the loss reads
            (``body_models.joints_only``: skinning of the few vertices the keypoint regressors
            use) instead of the full mesh; equal to rounding. The returned mesh is always full.
        try_turned: also fit from the start orientation turned 180° about the camera's vertical
            axis and keep, per sample (per sequence with the temporal term), the start whose fit
            has the lower stage-2 objective, as the original SMPLify does. A start facing away
            from the person (the mean pose faces the camera; a person walks away) otherwise
            ends sideways in a local minimum. Doubles the work.
    """

    num_iters: int = 100
    step_size: float = 1e-2
    sigma: float = 100.0
    pose_prior_weight: float = 4.78
    angle_prior_weight: float = 15.2
    shape_prior_weight: float = 5.0
    depth_loss_weight: float = 100.0
    temporal_weight: float = 0.0
    ignore_joints: tuple[str, ...] = ()
    focal_length: float = SPIN_FOCAL_LENGTH
    principal_point: tuple[float, float] | None = None
    min_keypoints: int = 4
    fit_transl_in_stage2: bool = False
    max_abs_beta: float | None = 3.0
    loss_threshold: float = 100.0
    joints_only: bool = True
    try_turned: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignore_joints", tuple(self.ignore_joints))
        if self.principal_point is not None:
            point = tuple(float(v) for v in self.principal_point)
            if len(point) != 2:
                raise InputError(f"SMPLifyConfig.principal_point must be (cx, cy), got {self.principal_point!r}")
            object.__setattr__(self, "principal_point", point)
        if not isinstance(self.num_iters, int) or self.num_iters < 0:
            raise InputError(f"SMPLifyConfig.num_iters must be a non-negative integer, got {self.num_iters!r}")
        if self.max_abs_beta is not None and not float(self.max_abs_beta) > 0:
            raise InputError(f"SMPLifyConfig.max_abs_beta must be positive or null, got {self.max_abs_beta!r}")
        for name in ("step_size", "sigma", "focal_length", "loss_threshold"):
            if not float(getattr(self, name)) > 0:
                raise InputError(f"SMPLifyConfig.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("pose_prior_weight", "angle_prior_weight", "shape_prior_weight",
                     "depth_loss_weight", "temporal_weight"):
            if not float(getattr(self, name)) >= 0:
                raise InputError(f"SMPLifyConfig.{name} must be non-negative, got {getattr(self, name)!r}")

    @property
    def camera_center(self) -> tuple[float, float]:
        """(cx, cy) pixels."""
        if self.principal_point is None:
            return (SPIN_CROP_SIZE / 2.0, SPIN_CROP_SIZE / 2.0)
        return self.principal_point

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "SMPLifyConfig":
        """Build from a mapping (a YAML preset); an unknown key is an ``InputError`` naming it."""
        return config_from_dict(cls, values, source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "SMPLifyConfig":
        """Read a preset such as ``configs/smplify/default.yaml``."""
        return config_from_yaml(cls, path)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["ignore_joints"] = list(self.ignore_joints)
        if self.principal_point is not None:
            values["principal_point"] = list(self.principal_point)
        return values


@dataclass
class SMPLifyResult:
    """What ``SMPLify`` returns; leading dims (...) are the keypoints' (B,) or (S, T).

    The parameters are the fit where ``fitted`` is True and the initial estimate elsewhere
    (with SPIN's beta rule applied to every attempted sample).

    Attributes:
        global_orient: (..., 3) axis-angle, radians.
        body_pose: (..., 69) axis-angle, radians.
        betas: (..., 10).
        transl: (..., 3) metres, camera frame.
        joints: (..., 24, 3) SMPL joints, metres, camera frame.
        vertices: (..., V, 3) metres, camera frame.
        reprojection_loss: (...,) mean over joints of conf² · Σ_xy ρ, pixels², of the returned
            parameters (0 for a sample without keypoints).
        initial_reprojection_loss: (...,) the same for the initial estimate.
        attempted: (...,) bool, the sample had at least ``min_keypoints`` usable keypoints and
            was optimised; where False the initial estimate is returned untouched.
        fitted: (...,) bool, SMPLify ran and improved the fit: the fit's reprojection loss beat
            the initial estimate's, so the fit was kept (DESIGN.md's ``fitted``).
        valid_fit: (...,) bool, attempted and the returned parameters' reprojection loss is
            below ``loss_threshold`` (SPIN's ``valid_fit``).
        betas_zeroed: (...,) bool, the returned betas had some |β| > ``max_abs_beta`` and were
            set to zero (SPIN's rule).
        start: (lead0,) int, which start orientation won: 0 the given one, 1 its 180° turn
            (with ``try_turned``), then the ``extra_orients`` in order.
    """

    global_orient: Tensor
    body_pose: Tensor
    betas: Tensor
    transl: Tensor
    joints: Tensor
    vertices: Tensor
    reprojection_loss: Tensor
    initial_reprojection_loss: Tensor
    attempted: Tensor
    fitted: Tensor
    valid_fit: Tensor
    betas_zeroed: Tensor
    start: Tensor | None = None
