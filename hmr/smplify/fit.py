"""SMPLify: fit SMPL to 2D keypoints, batched (SPIN ``smplify/smplify.py``; FORMATS.md §3.11).

The camera is a pinhole at the origin looking down +z (x right, y down), with no rotation; the
body's ``global_orient`` and ``transl`` place it in that frame, so "camera translation" is SMPL's
``transl``. Steps, for every sample at once:

1. Translation from the torso by similar triangles (``estimate_translation_from_torso``), or
   weighted least squares over all joints (``estimate_translation``) where the torso is not
   visible. A ``transl`` passed in is kept as the start instead.
2. Stage 1: Adam on ``transl`` and ``global_orient``; loss = squared 2D error on the torso
   joints + depth_loss_weight² · (t_z − t_z,init)².
3. Stage 2: Adam on ``body_pose``, ``betas`` and ``global_orient`` (the camera stays fixed, as in
   SPIN); loss = Σ_j conf_j² Σ_xy ρ(proj − kp) + pose_prior_weight² · GMM + angle_prior_weight² ·
   angle prior + shape_prior_weight² · ‖β‖² (+ temporal_weight² · Σ‖Δ²joints‖² for sequences).
4. The fit replaces the initial estimate only where its reprojection loss is lower
   (``fitted``); samples without enough keypoints are not optimised and return the initial
   estimate (``attempted`` False).
5. SPIN's rules on the returned parameters: betas with any |β| > ``max_abs_beta`` (3) are set
   to zero (``betas_zeroed``; joints, vertices and loss are recomputed), and a sample whose
   reprojection loss is not below ``loss_threshold`` (100) is not a valid fit (``valid_fit``).

Example:
    >>> smplify = SMPLify(load_smpl("mannequin"), load_gmm(path), SMPLifyConfig(focal_length=1000,
    ...                   principal_point=(500, 500)))
    >>> result = smplify(keypoints)                 # (B, 17, 3) COCO pixels x, y, confidence
    >>> result.body_pose.shape, result.fitted, result.valid_fit
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from body_models import joints as js
from body_models.cameras import SPIN_CROP_SIZE, SPIN_FOCAL_LENGTH, perspective_project
from body_models.configs import config_from_dict, config_from_yaml
from body_models.errors import InputError
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from body_models.priors import GMMPrior, MaxMixturePrior, load_gmm
from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rot6d_to_matrix
from body_models.smpl import SMPL
from hmr.smplify import losses
from hmr.smplify.adam import Adam

# The four joints stage 1 aligns and the similar-triangles depth uses, by name in the keypoint set.
TORSO_JOINTS: tuple[str, ...] = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
# SPIN ignores these OpenPose joints in stage 2 (its ign_joints, FORMATS §3.11): SMPL's neck and
# hip joints sit inside the body, not where a 2D detector marks them. COCO hips come from the
# surface regressor (body_models.joints), so nothing needs ignoring for COCO-17.
SPIN_OPENPOSE_IGNORE: tuple[str, ...] = ("neck", "right_hip", "left_hip")
# The root of HMR's and SPIN's initial pose: π about x turns SMPL's y-up body upright in the
# y-down camera frame.
UPRIGHT_ROOT = (math.pi, 0.0, 0.0)
# Depth used internally for samples that are not attempted, so their (ignored) projections stay finite.
_PARKED_DEPTH_M = 10.0


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


# ---------------------------------------------------------------------------------------------
# Camera translation


def _camera_tensors(focal_length, principal_point, batch: int, ref: Tensor) -> tuple[Tensor, Tensor]:
    """(N,) focal lengths and (N, 2) principal points, pixels, broadcast to the batch."""
    focal = torch.as_tensor(focal_length, dtype=ref.dtype, device=ref.device)
    if focal.ndim == 0:
        focal = focal.expand(batch)
    focal = focal.reshape(-1)
    center = torch.as_tensor(principal_point, dtype=ref.dtype, device=ref.device)
    if center.ndim == 1:
        center = center.expand(batch, 2)
    center = center.reshape(-1, 2)
    if focal.shape != (batch,) or center.shape != (batch, 2):
        raise InputError(f"focal_length must be a number or ({batch},) and principal_point (2,) or "
                         f"({batch}, 2); got {tuple(focal.shape)} and {tuple(center.shape)}")
    return focal, center


def estimate_translation(joints: Tensor, keypoints: Tensor, focal_length, principal_point) -> Tensor:
    """Camera translation by confidence-weighted linear least squares (SPIN
    ``estimate_translation_np``, batched).

    For each joint (X, Y, Z) with keypoint (u, v) and principal point (cx, cy), t = (tx, ty, tz)
    solves, in the least-squares sense with weight conf on each squared residual:
    f·tx + (cx − u)·tz = (u − cx)·Z − f·X and f·ty + (cy − v)·tz = (v − cy)·Z − f·Y.

    Args:
        joints: (B, J, 3) model joints, metres, before translation.
        keypoints: (B, J, 3) pixels x, y, confidence (0 for joints to leave out).
        focal_length: pixels; a number or (B,).
        principal_point: (2,) or (B, 2) pixels.

    Returns:
        (B, 3) metres. Samples with fewer than 2 weighted joints get an ill-posed answer (a small
        ridge keeps it finite); check the confidences first.
    """
    if joints.ndim != 3 or joints.shape[-1] != 3 or keypoints.shape != joints.shape:
        raise InputError(f"joints and keypoints must both have shape (B, J, 3); got "
                         f"{tuple(joints.shape)} and {tuple(keypoints.shape)}")
    batch = joints.shape[0]
    focal, center = _camera_tensors(focal_length, principal_point, batch, joints)
    conf = keypoints[..., 2].clamp(min=0)
    uv = torch.where(conf[..., None] > 0, keypoints[..., :2], center[:, None, :])  # NaN-free
    f = focal[:, None]  # (B, 1)
    zeros = torch.zeros_like(uv[..., 0])
    # Rows for x and y equations: (B, J, 3) coefficients and (B, J) right-hand sides.
    a_x = torch.stack([f.expand_as(zeros), zeros, center[:, None, 0] - uv[..., 0]], dim=-1)
    a_y = torch.stack([zeros, f.expand_as(zeros), center[:, None, 1] - uv[..., 1]], dim=-1)
    b_x = (uv[..., 0] - center[:, None, 0]) * joints[..., 2] - f * joints[..., 0]
    b_y = (uv[..., 1] - center[:, None, 1]) * joints[..., 2] - f * joints[..., 1]
    a = torch.cat([a_x, a_y], dim=1)  # (B, 2J, 3)
    b = torch.cat([b_x, b_y], dim=1)  # (B, 2J)
    w = torch.cat([conf, conf], dim=1)  # (B, 2J)
    ata = torch.einsum("bni,bn,bnj->bij", a, w, a)
    atb = torch.einsum("bni,bn,bn->bi", a, w, b)
    ridge = 1e-9 * ata.diagonal(dim1=-2, dim2=-1).sum(-1).clamp(min=1.0)
    ata = ata + ridge[:, None, None] * torch.eye(3, dtype=ata.dtype, device=ata.device)
    return torch.linalg.solve(ata, atb[..., None])[..., 0]


def estimate_translation_from_torso(joints: Tensor, keypoints: Tensor, torso: tuple[int, int, int, int],
                                    focal_length, principal_point) -> tuple[Tensor, Tensor]:
    """Camera translation by similar triangles on the torso.

    Depth: t_z = f · L_3D / L_2D − Z̄, with L the distance from the shoulders' midpoint to the
    hips' midpoint (in the model, metres; in the image, pixels) and Z̄ the model torso's mean
    depth. Then t_x, t_y put the visible joints' confidence-weighted mean under its keypoints'
    at that depth.

    Args:
        joints: (B, J, 3) model joints in the keypoints' order, metres, before translation.
        keypoints: (B, J, 3) pixels x, y, confidence.
        torso: indices of the left shoulder, right shoulder, left hip and right hip.
        focal_length: pixels; a number or (B,).
        principal_point: (2,) or (B, 2) pixels.

    Returns:
        ((B, 3) metres, (B,) bool): the translation and where it is valid (all four torso
        joints visible and a torso at least one pixel long).
    """
    batch = joints.shape[0]
    focal, center = _camera_tensors(focal_length, principal_point, batch, joints)
    idx = list(torso)
    conf = keypoints[..., 2].clamp(min=0)
    uv = torch.where(conf[..., None] > 0, keypoints[..., :2], center[:, None, :])
    t_uv, t_xyz = uv[:, idx], joints[:, idx]  # (B, 4, 2), (B, 4, 3)
    length_2d = ((t_uv[:, :2].mean(1) - t_uv[:, 2:].mean(1)) ** 2).sum(-1).sqrt()  # (B,)
    length_3d = ((t_xyz[:, :2].mean(1) - t_xyz[:, 2:].mean(1)) ** 2).sum(-1).sqrt()
    valid = (conf[:, idx] > 0).all(dim=1) & (length_2d >= 1.0)
    depth = focal * length_3d / length_2d.clamp(min=1.0)  # (B,) camera-to-torso distance
    tz = depth - t_xyz[..., 2].mean(1)
    weights = conf / conf.sum(1, keepdim=True).clamp(min=1e-12)  # (B, J)
    z = joints[..., 2] + tz[:, None]
    # X + tx = (u − cx)·(Z + tz)/f, averaged over the visible joints with their weights.
    txy = (weights[..., None] * ((uv - center[:, None]) * z[..., None] / focal[:, None, None]
                                 - joints[..., :2])).sum(1)
    return torch.cat([txy, tz[:, None]], dim=-1), valid


# ---------------------------------------------------------------------------------------------
# SMPLify


def mean_params_to_axis_angle(mean_params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """SPIN's ``smpl_mean_params.npz`` content as axis-angle SMPL parameters.

    Args:
        mean_params: ``pose (144,)`` 24 × SPIN 6D and ``shape (10,)`` (e.g. ``np.load`` of the
            file, or ``body_models.mannequin.mean_params()``).

    Returns:
        ``global_orient (3,)``, ``body_pose (69,)``, ``betas (10,)`` float32.
    """
    pose = np.asarray(mean_params["pose"], dtype=np.float64).reshape(-1)
    if pose.shape != (144,):
        raise InputError(f"mean params 'pose' must have 144 values (24 × 6D); got {pose.shape}")
    axis_angle = matrix_to_axis_angle(rot6d_to_matrix(torch.from_numpy(pose).reshape(24, 6))).numpy()
    return {"global_orient": axis_angle[0].astype(np.float32),
            "body_pose": axis_angle[1:].reshape(69).astype(np.float32),
            "betas": np.asarray(mean_params["shape"], dtype=np.float32).reshape(-1)}


def _as_axis_angle(value: Tensor, joints: int, name: str, lead: tuple[int, ...]) -> Tensor:
    """(..., joints·3) axis-angle from axis-angle or (..., joints, 3, 3) rotation matrices."""
    if value.shape == (*lead, joints * 3):
        return value
    if value.shape == (*lead, joints, 3, 3) or (joints == 1 and value.shape == (*lead, 3, 3)):
        return matrix_to_axis_angle(value).reshape(*lead, joints * 3)
    raise InputError(f"{name} must have shape {(*lead, joints * 3)} (axis-angle) or "
                     f"{(*lead, joints, 3, 3)} (rotation matrices); got {tuple(value.shape)}")


@dataclass
class _Joints:
    """The part of an ``SMPLOutput`` the optimisation reads: (N, 24, 3) SMPL joints."""

    joints: Tensor


class SMPLify:
    """Batched SMPLify (SPIN's two-stage fit) on any device the body model is on.

    Built where its body model is (the CPU, as ``load_smpl`` makes it); ``to(device)`` moves the
    body model, the pose prior and the mean start together. The fit runs in the body model's
    dtype, float32, without autocast: the optimisation is many small steps on a handful of
    (N, <= 69) tensors, whose time goes to kernel launches rather than arithmetic, so bfloat16
    would save nothing, while its 8-bit mantissa (about 3 significant digits) would round the
    squared pixel errors, the prior terms and Adam's updates, and the fit-or-keep and loss
    threshold decisions would be taken on rounded losses. ``--precision`` is therefore for the
    networks only (``hmr.smplify.video.FIT_PRECISION``).

    Args:
        body_model: the ``SMPL`` layer (it must provide the keypoints' joint set, e.g. COCO-17
            needs ``J_regressor_extra``).
        pose_prior: the GMM pose prior: a ``MaxMixturePrior``, a ``GMMPrior`` or a
            ``gmm_08.pkl``-layout file (read safely with ``body_models.priors.load_gmm``).
        config: settings; ``SMPLifyConfig()`` gives SPIN's.
        mean_params: where to start when no initial estimate is given (SPIN's
            ``smpl_mean_params.npz`` content, see ``mean_params_to_axis_angle``); None starts from
            the zero pose turned upright (root π about x) and zero betas.
    """

    def __init__(self, body_model: SMPL, pose_prior: MaxMixturePrior | GMMPrior | str | os.PathLike,
                 config: SMPLifyConfig | None = None, mean_params: Mapping[str, Any] | None = None) -> None:
        self.body_model = body_model
        self.config = config or SMPLifyConfig()
        ref = body_model.smplx.v_template
        if isinstance(pose_prior, (str, os.PathLike)):
            pose_prior = load_gmm(pose_prior)
        if isinstance(pose_prior, GMMPrior):
            pose_prior = MaxMixturePrior(pose_prior)
        if not isinstance(pose_prior, MaxMixturePrior):
            raise InputError(f"pose_prior must be a MaxMixturePrior, GMMPrior or a file path; "
                             f"got {type(pose_prior).__name__}")
        self.pose_prior = pose_prior.to(device=ref.device, dtype=ref.dtype)
        if mean_params is None:
            start = {"global_orient": np.asarray(UPRIGHT_ROOT, dtype=np.float32),
                     "body_pose": np.zeros(69, dtype=np.float32),
                     "betas": np.zeros(body_model.num_betas, dtype=np.float32)}
        else:
            start = mean_params_to_axis_angle(mean_params)
            start["betas"] = start["betas"][:body_model.num_betas]
        self.mean = {k: torch.as_tensor(v, dtype=ref.dtype, device=ref.device) for k, v in start.items()}

    def __repr__(self) -> str:
        return f"SMPLify(body_model={self.body_model.name!r}, config={self.config})"

    @property
    def device(self) -> torch.device:
        """Where the fit runs: the body model's device."""
        return self.body_model.smplx.v_template.device

    def to(self, device: str | torch.device) -> "SMPLify":
        """Move the body model, the pose prior and the mean start to ``device`` and return self.

        The body model moves in place (``nn.Module.to``), so a layer shared with other code moves
        for it too. Inputs may stay on the CPU: every call moves them to the fit's device, and
        the result's tensors are on that device (``.cpu()`` them before ``.numpy()``).
        """
        self.body_model.to(device)
        self.pose_prior.to(device)
        self.mean = {k: v.to(device) for k, v in self.mean.items()}
        return self

    # -- helpers ------------------------------------------------------------------------------

    def _model_keypoints(self, global_orient, body_pose, betas, transl, joint_set: str):
        if self.config.joints_only:
            from body_models.joints_only import joints_only_for

            kp, joints = joints_only_for(self.body_model, joint_set)(betas, body_pose, global_orient, transl)
            return _Joints(joints), kp
        out = self.body_model(betas=betas, body_pose=body_pose, global_orient=global_orient, transl=transl)
        return out, out.joint_set(joint_set)

    def _project(self, points: Tensor, focal: Tensor, center: Tensor) -> Tensor:
        return perspective_project(points, focal, center)

    # -- the fit ------------------------------------------------------------------------------

    def __call__(self, keypoints, global_orient: Tensor | None = None, body_pose: Tensor | None = None,
                 betas: Tensor | None = None, transl: Tensor | None = None, joint_set: str = "coco_17",
                 focal_length=None, principal_point=None, fix_betas: bool = False,
                 extra_orients: Tensor | None = None,
                 progress: Progress = no_progress) -> SMPLifyResult:
        """Fit SMPL to 2D keypoints, from the start orientation, its 180° turn about the camera's
        vertical axis (``SMPLifyConfig.try_turned``) and any ``extra_orients``; the best fit of
        each sample (each sequence with the temporal term) is returned.

        Args:
            keypoints, global_orient, body_pose, betas, transl, joint_set, focal_length,
                principal_point, fix_betas: as for ``fit_once``.
            extra_orients: (K, ..., 3) axis-angle more start orientations (e.g. from the lifter's
                3D joints); NaN rows fall back to the start orientation.
            progress: a ``body_models.progress.Progress`` reporter, called after every Adam step as
                ``("smplify", steps done, steps in all)`` (the starts are fitted together).
        """
        keypoints = _checked_keypoints(keypoints, self.body_model.smplx.v_template)
        starts = [global_orient]
        if self.config.try_turned or extra_orients is not None:
            lead = tuple(keypoints.shape[:-2])
            ref = keypoints
            if global_orient is None:
                base = self.mean["global_orient"].expand(*lead, 3)
            else:
                base = _as_axis_angle(torch.as_tensor(global_orient, dtype=ref.dtype, device=ref.device), 1,
                                      "global_orient", lead)
            starts = [base]
            if self.config.try_turned:
                starts.append(turned_about_vertical(base))
            for extra in ([] if extra_orients is None else torch.as_tensor(extra_orients, dtype=ref.dtype,
                                                                          device=ref.device)):
                if extra.shape != base.shape:
                    raise InputError(f"extra_orients must be (K, {', '.join(map(str, lead))}, 3); got {tuple(extra.shape)}")
                starts.append(torch.where(torch.isfinite(extra).all(-1, keepdim=True), extra, base))
        if len(starts) == 1:
            return self.fit_once(keypoints, global_orient, body_pose, betas, transl, joint_set, focal_length,
                                 principal_point, fix_betas=fix_betas, progress=progress)
        k = len(starts)
        lead = tuple(keypoints.shape[:-2])
        if body_pose is not None:  # shape errors name the caller's batch, not the repeated one
            body_pose = _as_axis_angle(torch.as_tensor(body_pose, dtype=keypoints.dtype, device=keypoints.device),
                                       23, "body_pose", lead)
        for name, value, width in (("betas", betas, self.body_model.num_betas), ("transl", transl, 3)):
            if value is not None and tuple(torch.as_tensor(value).shape) != (*lead, width):
                raise InputError(f"{name} must have shape {(*lead, width)}; got {tuple(torch.as_tensor(value).shape)}")

        def repeat(value):  # (lead..., ...) → (k·lead0, lead1..., ...), the starts one after another
            if value is None:
                return None
            value = torch.as_tensor(value, dtype=keypoints.dtype, device=keypoints.device)
            return value.repeat(k, *([1] * (value.ndim - 1))) if value.ndim >= 1 else value

        per_sample = lambda v: v is not None and torch.as_tensor(v).ndim >= 1 and tuple(  # noqa: E731
            torch.as_tensor(v).shape[:len(lead)]) == lead
        result = self.fit_once(
            repeat(keypoints), torch.cat(starts, 0), repeat(body_pose), repeat(betas), repeat(transl), joint_set,
            repeat(focal_length) if per_sample(focal_length) else focal_length,
            repeat(principal_point) if per_sample(principal_point) and torch.as_tensor(principal_point).ndim > 1
            else principal_point, fix_betas=fix_betas, progress=progress)
        objective = self.objective(result, joint_set).reshape(k, lead[0], -1).sum(-1)  # (k, lead0)
        objective = torch.where(result.attempted.reshape(k, lead[0], -1).any(-1), objective,
                                torch.full_like(objective, float("inf")))
        best = objective.argmin(0)  # (lead0,): 0 where nothing was attempted
        rows = best * lead[0] + torch.arange(lead[0], device=best.device)
        picked = {f.name: getattr(result, f.name)[rows] for f in dataclasses.fields(result)}
        picked["start"] = best
        return SMPLifyResult(**picked)

    def objective(self, result: "SMPLifyResult", joint_set: str) -> Tensor:
        """(...,) the stage-2 objective of a result's parameters without the temporal term:
        reprojection summed over joints plus the weighted pose, angle and shape priors."""
        cfg = self.config
        num_j = len(js.JOINT_SETS[joint_set])
        pose = result.body_pose.reshape(-1, 69)
        prior = (cfg.pose_prior_weight ** 2 * self.pose_prior(pose) + cfg.angle_prior_weight ** 2
                 * losses.angle_prior(pose) + cfg.shape_prior_weight ** 2
                 * losses.shape_prior(result.betas.reshape(pose.shape[0], -1)))
        return result.reprojection_loss * num_j + prior.reshape(result.reprojection_loss.shape)

    def fit_once(self, keypoints, global_orient: Tensor | None = None, body_pose: Tensor | None = None,
                 betas: Tensor | None = None, transl: Tensor | None = None, joint_set: str = "coco_17",
                 focal_length=None, principal_point=None, fix_betas: bool = False,
                 progress: Progress = no_progress) -> SMPLifyResult:
        """Fit SMPL to 2D keypoints from one start.

        Args:
            keypoints: (B, J, 3) or (S, T, J, 3) pixels x, y, confidence, in the order of
                ``joint_set``; NaN or confidence 0 marks a missing joint. With (S, T, ...) the
                T frames of each sequence are consecutive (the temporal term uses them).
            global_orient: initial (..., 3) axis-angle or (..., 3, 3) / (..., 1, 3, 3) rotation
                matrices; the mean start when None.
            body_pose: initial (..., 69) axis-angle or (..., 23, 3, 3); the mean start when None.
            betas: initial (..., num_betas); the mean start when None.
            transl: initial (..., 3) metres, camera frame (e.g. from an HMR camera); estimated from
                the keypoints when None.
            joint_set: the keypoints' joint set, e.g. ``"coco_17"`` or ``"openpose_25"``.
            focal_length: pixels, a number or (...,); the config's when None.
            principal_point: (2,) or (..., 2) pixels; the config's when None.
            fix_betas: keep ``betas`` at their initial values (one shape already known, e.g. for
                a whole track); only pose, orientation and camera are fitted.
            progress: a ``body_models.progress.Progress`` reporter, called after every Adam step as
                ``("smplify", steps done, 2 * num_iters)``.

        Returns:
            ``SMPLifyResult`` with the keypoints' leading dims.
        """
        problem = self._prepare(keypoints, global_orient, body_pose, betas, transl, joint_set, focal_length,
                                principal_point)
        init_transl, start_transl = self._initial_translation(problem)
        fit = self._optimise(problem, start_transl, fix_betas, progress)
        return self._select(problem, fit, init_transl)

    def _prepare(self, keypoints, global_orient, body_pose, betas, transl, joint_set, focal_length,
                 principal_point) -> "_Problem":
        """Check the inputs and flatten them to N samples: the start, the camera, the keypoints
        with missing joints at confidence 0, which samples are fitted, and the stage-1 joints."""
        cfg = self.config
        ref = self.body_model.smplx.v_template
        keypoints = _checked_keypoints(keypoints, ref)
        names = js.JOINT_SETS[joint_set].names if joint_set in js.JOINT_SETS else None
        if names is None:
            raise InputError(f"unknown joint set {joint_set!r}; known: {', '.join(js.JOINT_SETS)}")
        if keypoints.shape[-2] != len(names):
            raise InputError(f"keypoints have {keypoints.shape[-2]} joints but joint set {joint_set} has "
                             f"{len(names)}; got shape {tuple(keypoints.shape)}")
        lead = tuple(keypoints.shape[:-2])
        n, num_j = math.prod(lead), len(names)

        def start(value, name, width, joints=None):
            if value is None:
                return self.mean[name].expand(n, width).clone()
            value = torch.as_tensor(value, dtype=ref.dtype, device=ref.device)
            if joints is not None:
                value = _as_axis_angle(value, joints, name, lead)
            elif value.shape != (*lead, width):
                raise InputError(f"{name} must have shape {(*lead, width)}; got {tuple(value.shape)}")
            return value.reshape(n, width).detach().clone()

        init = (start(global_orient, "global_orient", 3, joints=1), start(body_pose, "body_pose", 69, joints=23),
                start(betas, "betas", self.body_model.num_betas))
        transl_given = transl is not None
        init_transl = start(transl, "transl", 3) if transl_given else ref.new_zeros(n, 3)
        focal, center = _camera_tensors(
            cfg.focal_length if focal_length is None else focal_length,
            cfg.camera_center if principal_point is None else principal_point, n, ref)

        # Keypoints: NaN or non-positive confidence → missing (confidence 0, position 0).
        kp = keypoints.reshape(n, num_j, 3)
        present = torch.isfinite(kp).all(dim=-1) & (kp[..., 2] > 0)
        conf = torch.where(present, kp[..., 2], torch.zeros_like(kp[..., 2]))
        kp = torch.cat([torch.where(present[..., None], kp[..., :2], torch.zeros_like(kp[..., :2])),
                        conf[..., None]], dim=-1)
        for name in cfg.ignore_joints:
            if name not in names:
                raise InputError(f"ignore_joints: {name!r} is not a joint of {joint_set}")
        keep = torch.tensor([name not in cfg.ignore_joints for name in names], device=ref.device)
        conf_fit = conf * keep  # (N, J) stage 2 and reported loss
        attempted = (conf_fit > 0).sum(-1) >= cfg.min_keypoints  # (N,)

        # Torso joints (stage 1 and the similar-triangles depth).
        torso = tuple(names.index(t) for t in TORSO_JOINTS) if all(t in names for t in TORSO_JOINTS) else None
        torso_mask = torch.zeros_like(conf)
        if torso is not None:
            torso_mask[:, list(torso)] = 1.0
        torso_mask = torso_mask * (conf > 0)
        enough_torso = torso_mask.sum(-1) >= 2
        stage1_mask = torch.where(enough_torso[:, None], torso_mask, (conf > 0).to(conf))
        return _Problem(lead=lead, joint_set=joint_set, init=init, init_transl=init_transl,
                        transl_given=transl_given, focal=focal, center=center, kp=kp, conf_fit=conf_fit,
                        attempted=attempted, torso=torso, stage1_mask=stage1_mask)

    def _initial_translation(self, problem: "_Problem") -> tuple[Tensor, Tensor]:
        """(the start's translation, the translation the optimisation starts from): the given one,
        or estimated from the keypoints (similar triangles on the torso where it is seen); samples
        not fitted are parked far in front of the camera, which only keeps their projections
        finite (their loss is masked out)."""
        p = problem
        with torch.no_grad():
            _, init_joints = self._model_keypoints(*p.init, None, p.joint_set)
            init_transl = p.init_transl
            if not p.transl_given:
                estimate = estimate_translation(init_joints, p.kp, p.focal, p.center)
                if p.torso is not None:
                    similar, ok = estimate_translation_from_torso(init_joints, p.kp, p.torso, p.focal, p.center)
                    estimate = torch.where(ok[:, None], similar, estimate)
                init_transl = torch.where(p.attempted[:, None], estimate, init_transl)
            start_transl = torch.where(p.attempted[:, None], init_transl, p.parked)
        return init_transl, start_transl

    def _optimise(self, problem: "_Problem", start_transl: Tensor, fix_betas: bool,
                  progress: Progress) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """SPIN's two Adam stages: camera translation and orientation on the torso, then pose,
        shape and orientation (camera fixed unless ``fit_transl_in_stage2``); returns the fitted
        (orient, pose, betas, transl)."""
        cfg, p = self.config, problem
        n = p.num_samples
        mask = p.attempted.to(p.kp.dtype)
        seq_shape = (p.lead[0], p.lead[1]) if len(p.lead) == 2 else (n, 1)
        sequences = len(p.lead) == 2 and cfg.temporal_weight > 0
        valid_seq = p.attempted.reshape(seq_shape)

        def temporal(joints3d: Tensor) -> Tensor:
            if not sequences:
                return joints3d.new_zeros(n)
            per_seq = losses.temporal_loss(joints3d.reshape(*seq_shape, -1), valid=valid_seq)
            # Spread each sequence's term over its frames so the batch sum counts it once.
            return (per_seq[:, None] / seq_shape[1]).expand(seq_shape).reshape(n)

        init_orient, init_pose, init_betas = p.init
        orient = init_orient.clone().requires_grad_(True)
        pose = init_pose.clone()
        shape = init_betas.clone()
        cam_t = start_transl.clone().requires_grad_(True)
        counter = StageCounter(as_progress(progress), "smplify", max(2 * cfg.num_iters, 1), start=False)
        with torch.enable_grad():
            # Stage 1: camera translation and global orientation on the torso.
            optimizer = Adam([orient, cam_t], lr=cfg.step_size, betas=(0.9, 0.999))
            for _ in range(cfg.num_iters):
                out, model_kp = self._model_keypoints(orient, pose, shape, cam_t, p.joint_set)
                projected = self._project(model_kp, p.focal, p.center)
                loss = (losses.torso_loss(projected, p.kp[..., :2], p.stage1_mask)
                        + cfg.depth_loss_weight ** 2 * losses.depth_loss(cam_t, start_transl)
                        + cfg.temporal_weight ** 2 * temporal(out.joints))
                optimizer.zero_grad()
                (loss * mask).sum().backward()
                optimizer.step()
                counter.advance()

            # Stage 2: body pose, betas and global orientation (camera fixed, as SPIN).
            pose.requires_grad_(True)
            shape.requires_grad_(not fix_betas)
            params = [pose, orient] if fix_betas else [pose, shape, orient]
            if cfg.fit_transl_in_stage2:
                params.append(cam_t)
            else:
                cam_t.requires_grad_(False)
            optimizer = Adam(params, lr=cfg.step_size, betas=(0.9, 0.999))
            for _ in range(cfg.num_iters):
                out, model_kp = self._model_keypoints(orient, pose, shape, cam_t, p.joint_set)
                projected = self._project(model_kp, p.focal, p.center)
                loss = (losses.reprojection_loss(projected, p.kp[..., :2], p.conf_fit, cfg.sigma).sum(-1)
                        + cfg.pose_prior_weight ** 2 * self.pose_prior(pose)
                        + cfg.angle_prior_weight ** 2 * losses.angle_prior(pose)
                        + cfg.shape_prior_weight ** 2 * losses.shape_prior(shape)
                        + cfg.temporal_weight ** 2 * temporal(out.joints))
                optimizer.zero_grad()
                (loss * mask).sum().backward()
                optimizer.step()
                counter.advance()
        return orient.detach(), pose.detach(), shape.detach(), cam_t.detach()

    def _select(self, problem: "_Problem", fit: tuple[Tensor, ...], init_transl: Tensor) -> SMPLifyResult:
        """Keep each sample's fit where it lowers the reprojection loss below its start's (else the
        start), reset implausible shapes to the mean shape (SPIN's rule), and flag the fits
        under the loss threshold."""
        cfg, p = self.config, problem
        attempted = p.attempted
        with torch.no_grad():
            init = p.init + (torch.where(attempted[:, None], init_transl, p.parked),)

            def fitting_loss(params) -> Tensor:
                _, model_kp = self._model_keypoints(*params, p.joint_set)
                projected = self._project(model_kp, p.focal, p.center)
                return losses.reprojection_loss(projected, p.kp[..., :2], p.conf_fit, cfg.sigma).mean(-1)

            fit_loss, init_loss = fitting_loss(fit), fitting_loss(init)
            improved = attempted & (fit_loss < init_loss)
            init = init[:3] + (init_transl,)  # what an unfitted sample returns: its own start
            chosen = [torch.where(improved[:, None], a, b) for a, b in zip(fit, init)]
            loss = torch.where(improved, fit_loss, init_loss)
            if cfg.max_abs_beta is None:
                zeroed = torch.zeros_like(attempted)
            else:
                zeroed = attempted & (chosen[2].abs() > cfg.max_abs_beta).any(dim=-1)
            if zeroed.any():
                chosen[2] = torch.where(zeroed[:, None], torch.zeros_like(chosen[2]), chosen[2])
                loss = torch.where(zeroed, fitting_loss(chosen), loss)
            out = self.body_model(global_orient=chosen[0], body_pose=chosen[1], betas=chosen[2],
                                  transl=chosen[3])
            loss = torch.where(attempted, loss, torch.zeros_like(loss))
            init_loss = torch.where(attempted, init_loss, torch.zeros_like(init_loss))
            valid_fit = attempted & (loss < cfg.loss_threshold)

        def shaped(x: Tensor) -> Tensor:
            return x.reshape(*p.lead, *x.shape[1:])

        return SMPLifyResult(
            global_orient=shaped(chosen[0]), body_pose=shaped(chosen[1]), betas=shaped(chosen[2]),
            transl=shaped(chosen[3]), joints=shaped(out.joints), vertices=shaped(out.vertices),
            reprojection_loss=shaped(loss), initial_reprojection_loss=shaped(init_loss),
            attempted=shaped(attempted), fitted=shaped(improved), valid_fit=shaped(valid_fit),
            betas_zeroed=shaped(zeroed), start=torch.zeros(p.lead[:1], dtype=torch.long, device=p.kp.device))


@dataclass
class _Problem:
    """One fit's inputs, flattened to N samples (``SMPLify._prepare``)."""

    lead: tuple[int, ...]  # the keypoints' leading dims: (B,) or (S, T)
    joint_set: str
    init: tuple[Tensor, Tensor, Tensor]  # start (orient (N, 3), pose (N, 69), betas (N, num_betas))
    init_transl: Tensor  # (N, 3) the given translation, or zeros to be estimated
    transl_given: bool
    focal: Tensor
    center: Tensor
    kp: Tensor  # (N, J, 3) pixels and confidence, missing joints at 0
    conf_fit: Tensor  # (N, J) confidence of the joints the fit reads
    attempted: Tensor  # (N,) bool: enough keypoints to fit
    torso: tuple[int, ...] | None
    stage1_mask: Tensor  # (N, J)

    @property
    def num_samples(self) -> int:
        return math.prod(self.lead)

    @property
    def parked(self) -> Tensor:
        """(N, 3) where samples that are not fitted wait, far in front of the camera."""
        return self.kp.new_tensor([0.0, 0.0, _PARKED_DEPTH_M]).expand(self.num_samples, 3)


def _checked_keypoints(keypoints, ref: Tensor) -> Tensor:
    """Keypoints as a tensor like ``ref``, or an ``InputError`` when not (B, J, 3) / (S, T, J, 3)."""
    keypoints = torch.as_tensor(keypoints, dtype=ref.dtype, device=ref.device)
    if keypoints.ndim not in (3, 4) or keypoints.shape[-1] != 3:
        raise InputError(f"keypoints must have shape (B, J, 3) or (S, T, J, 3) pixels x, y, confidence; "
                         f"got {tuple(keypoints.shape)}")
    return keypoints


def turned_about_vertical(global_orient: Tensor) -> Tensor:
    """(..., 3) axis-angle → the same orientation turned 180° about the camera's vertical (y)
    axis: the body faces the other way, upright as before."""
    turn = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]], dtype=global_orient.dtype,
                        device=global_orient.device)
    return matrix_to_axis_angle(turn @ axis_angle_to_matrix(global_orient))
