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

The pieces live beside this module: the settings and result in ``hmr.smplify.config``, step 1 in
``hmr.smplify.translation``, the starts in ``hmr.smplify.starts``, the loss terms in
``hmr.smplify.losses``; their names are importable from here too.
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
from body_models.cameras import perspective_project
from body_models.errors import InputError
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from body_models.priors import GMMPrior, MaxMixturePrior, load_gmm
from body_models.smpl import SMPL
from hmr.smplify import losses
from hmr.smplify.adam import Adam
from hmr.smplify.config import SPIN_OPENPOSE_IGNORE, SMPLifyConfig, SMPLifyResult
from hmr.smplify.starts import UPRIGHT_ROOT, _as_axis_angle, mean_params_to_axis_angle, turned_about_vertical
from hmr.smplify.translation import (TORSO_JOINTS, _camera_tensors, estimate_translation,
                                     estimate_translation_from_torso)

__all__ = ["SPIN_OPENPOSE_IGNORE", "TORSO_JOINTS", "UPRIGHT_ROOT", "SMPLify", "SMPLifyConfig", "SMPLifyResult",
           "estimate_translation", "estimate_translation_from_torso", "mean_params_to_axis_angle",
           "turned_about_vertical"]

# Depth used internally for samples that are not attempted, so their (ignored) projections stay finite.
_PARKED_DEPTH_M = 10.0


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
