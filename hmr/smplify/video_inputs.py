"""What a video fit reads before it fits (``hmr.smplify.video``): the keypoints, the body model
with its keypoint regressors, the pose prior, the mean-pose start, HMR's estimates and the
lifter's orientations, each checked with a one-line error naming its file."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from body_models import mannequin
from body_models.errors import InputError, MissingFileError
from body_models.priors import GMM_SOURCE
from body_models.sequences import Joints3D, Keypoints2D, RegressorEstimates
from body_models.smpl import MANNEQUIN, SMPL, load_smpl
from hmr.pose2d.keypoints_io import load_keypoints_file
from hmr.smplify.fit import SPIN_OPENPOSE_IGNORE, SMPLify, SMPLifyConfig, mean_params_to_axis_angle


from hmr.smplify.video_options import FITTED_JOINT_SETS, FitOptions



def _body_model(body_model: str | os.PathLike, gender: str, j_regressor_extra, joint_set: str) -> SMPL:
    smpl = load_smpl(body_model, gender=gender, j_regressor_extra=j_regressor_extra)
    if joint_set == "coco_17" and smpl.J_regressor_extra is None:
        raise MissingFileError(f"fitting COCO-17 keypoints with {smpl.name} needs J_regressor_extra.npy (COCO hips "
                               "sit on the body surface); pass --j-regressor-extra, it comes with SPIN's data "
                               "(fetch_data.sh)")
    return smpl


def _prior_path(prior, body_model) -> Path:
    if prior is not None:
        return Path(prior)
    if str(body_model) == MANNEQUIN:
        return mannequin.gmm_prior_path()
    raise MissingFileError(f"SMPLify needs a pose prior for {body_model}; pass --prior gmm_08.pkl. {GMM_SOURCE}")


def _mean_params(path) -> dict[str, np.ndarray]:
    if path is None:
        return mannequin.mean_params()
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"mean parameters not found: {path}; smpl_mean_params.npz comes with SPIN's data "
                               "(fetch_data.sh)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {"pose": z["pose"], "shape": z["shape"]}
    except (KeyError, ValueError, OSError) as err:
        raise InputError(f"{path} is not an smpl_mean_params.npz with 'pose' (144,) and 'shape' (10,) ({err})") from None


def _keypoints(path, image_size) -> Keypoints2D:
    kp = load_keypoints_file(path, image_size=image_size)
    if image_size is not None:
        width, height = (int(v) for v in image_size)
        if width <= 0 or height <= 0:
            raise InputError(f"image size must be positive width and height, got {tuple(image_size)}")
        kp = dataclasses.replace(kp, image_size=(width, height))
    if min(kp.image_size) <= 0:
        raise InputError(f"{path} does not record the image size; pass it (--image-size W H)")
    if kp.joint_set not in FITTED_JOINT_SETS:
        try:
            kp = kp.to_joint_set("coco_17")
        except KeyError:
            raise InputError(f"{path}: keypoints in {kp.joint_set} cannot be fitted; give COCO-17 or "
                             "OpenPose BODY_25 keypoints") from None
    return kp


def _smplify_config(options: FitOptions, joint_set: str) -> SMPLifyConfig:
    """The config with the options' overrides (and SPIN's ignored joints for OpenPose input)."""
    cfg = options.config or SMPLifyConfig()
    overrides = {}
    if options.iterations is not None:
        overrides["num_iters"] = int(options.iterations)
    if options.temporal_weight is not None:
        overrides["temporal_weight"] = float(options.temporal_weight)
    if options.joints_only is not None:
        overrides["joints_only"] = bool(options.joints_only)
    if joint_set == "openpose_25" and not cfg.ignore_joints:
        overrides["ignore_joints"] = SPIN_OPENPOSE_IGNORE
    cfg = dataclasses.replace(cfg, **overrides)
    if cfg.temporal_weight > 0 and options.warm_start:
        raise InputError("warm_start fits frame after frame; it does not combine with the temporal term "
                         "(temporal_weight > 0), which fits windows of frames together")
    return cfg


def _initial_estimate(path, kp: Keypoints2D, mean: dict[str, np.ndarray]) -> RegressorEstimates | None:
    """HMR's estimates per frame and person from a ``regressor.npz``, rows without a body pose
    at the mean pose."""
    if path is None:
        return None
    estimates = RegressorEstimates.load(path)
    widths = {"global_orient": 3, "body_pose": 69, "betas": len(mean["betas"]), "transl": 3}
    for name, value in estimates.smpl_parameters().items():
        if value.shape != (kp.num_frames, kp.num_people, widths[name]):
            raise InputError(f"{path}: {name} has shape {value.shape}, expected "
                             f"({kp.num_frames}, {kp.num_people}, {widths[name]}) to match the keypoints")
    unknown = ~np.isfinite(estimates.body_pose).all(-1)[..., None]
    return dataclasses.replace(estimates, **{name: np.where(unknown, mean[name], getattr(estimates, name)).astype(np.float32)
                                             for name in ("global_orient", "body_pose", "betas")})


def _orientations(path, kp: Keypoints2D) -> np.ndarray | None:
    """(T, P, 3) axis-angle orientations from a joints3d.npz's H36M-17 joints (NaN where the
    lifter has no person), or None without a file."""
    if path is None:
        return None
    from hmr.smplify.orientation import orientation_from_joints

    lifted = Joints3D.load(path)
    if lifted.joints.shape[:2] != (kp.num_frames, kp.num_people):
        raise InputError(f"{path}: joints {lifted.joints.shape} do not match the keypoints' {kp.num_frames} frames "
                         f"and {kp.num_people} people; give the joints3d.npz lifted from these keypoints")
    orient = orientation_from_joints(lifted.joints)
    orient[~lifted.valid] = np.nan
    return orient


@dataclass(frozen=True)
class _Starts:
    """Where the fits start: HMR's estimates per person-frame (None: the mean pose) and the
    lifter's orientations as one more start."""

    initial: RegressorEstimates | None
    lifted_orient: np.ndarray | None  # (T, P, 3) axis-angle

    def initial_rows(self, t_idx: np.ndarray, p_idx: np.ndarray) -> dict[str, torch.Tensor]:
        """The initial estimates of these person-frames; without ``transl`` when some are
        unknown (then estimated from the keypoints)."""
        if self.initial is None:
            return {}
        init = {name: torch.from_numpy(value[t_idx, p_idx]) for name, value in self.initial.smpl_parameters().items()}
        if not torch.isfinite(init["transl"]).all():
            del init["transl"]
        return init

    def rows(self, t_idx: np.ndarray, p_idx: np.ndarray, temporal: bool) -> dict[str, torch.Tensor]:
        """SMPLify's starting arguments for these person-frames fitted from their own start."""
        init = self.initial_rows(t_idx, p_idx)
        if self.lifted_orient is not None:  # (K = 1, ..., 3)
            extra = torch.from_numpy(self.lifted_orient[t_idx, p_idx])
            init["extra_orients"] = extra[None, None] if temporal else extra[None]
        return init


@dataclass(frozen=True)
class _Loaded:
    """What the fit reads before it starts."""

    kp: Keypoints2D
    smpl: SMPL
    prior_path: Path
    config: SMPLifyConfig
    smplify: SMPLify
    starts: _Starts
    mean_betas: np.ndarray  # (num_betas,) the mean shape


def _load(keypoints_path, options: FitOptions) -> _Loaded:
    """The keypoints, the body model and its prior, SMPLify and where its fits start."""
    kp = _keypoints(keypoints_path, options.image_size)
    prior_path = _prior_path(options.prior, options.body_model)
    smpl = _body_model(options.body_model, options.gender, options.j_regressor_extra, kp.joint_set)
    cfg = _smplify_config(options, kp.joint_set)
    mean_params = _mean_params(options.mean_params)
    smplify = SMPLify(smpl, prior_path, cfg, mean_params=mean_params).to(options.device)
    mean = mean_params_to_axis_angle(mean_params)
    starts = _Starts(_initial_estimate(options.initial, kp, mean), _orientations(options.orientation_joints, kp))
    return _Loaded(kp, smpl, prior_path, cfg, smplify, starts, mean["betas"])
