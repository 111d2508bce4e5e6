"""SMPLify on a whole 2D keypoints file: ``hmr fit --keypoints FILE --out DIR``.

``fit_keypoints_file`` reads keypoints of P tracked people over T frames (our
``keypoints2d.npz``, a COCO keypoint JSON or an OpenPose JSON folder, ``hmr.pose2d.keypoints_io``), fits
SMPL to every person in every frame with ``SMPLify`` and writes ``smpl.npz`` in DESIGN.md's
schema (and OBJ meshes when asked).

The camera is the full image's pinhole camera: focal length f (pixels; by default the image
diagonal √(W² + H²), roughly a 53° diagonal field of view, the usual guess when the true focal
length is unknown), principal point at the image centre (W/2, H/2), no rotation. Each person is
fitted in the frame of their own 224-pixel square crop around the keypoints (side = 1.2 × the
keypoints' larger extent, SPIN's demo rule for OpenPose input): with k = 224 / side, the crop
camera has focal length k·f and principal point k·((W/2, H/2) − box centre) + 112. Rescaling
pixels leaves the 3D solution unchanged, and it lets SMPLify's σ = 100 px, prior weights and
loss threshold keep the meaning they have in SPIN, whatever the image or person size.

The initial estimate is the mean pose (the mannequin's ``smpl_mean_params``, or a given SPIN
``smpl_mean_params.npz``), whose root is HMR's upright start (π about x: the body stands up in
the y-down camera frame and faces the camera).

    summary = fit_keypoints_file("run/keypoints2d.npz", "run/")               # the mannequin
    summary = fit_keypoints_file("op_json/", "out/", body_model="models/smpl", prior="gmm_08.pkl",
                                 image_size=(1920, 1080), meshes=True)
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from body_models import mannequin
from body_models.cameras import SPIN_CROP_SIZE, full_image_to_crop_camera
from body_models.errors import InputError, MissingFileError
from body_models.joints import SMPL_24
from body_models.meshes import save_obj_sequence
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from body_models.priors import GMM_SOURCE
from body_models.sequences import save_sequence_arrays
from body_models.smpl import MANNEQUIN, SMPL, load_smpl
from hmr.core.intrinsics import default_focal_length
from hmr.core.provenance import RunRecord
from hmr.pose2d.keypoints_io import Keypoints2D, boxes_from_keypoints, load_keypoints_file
from hmr.smplify.fit import SPIN_OPENPOSE_IGNORE, SMPLify, SMPLifyConfig, mean_params_to_axis_angle

CROP_RESCALE = 1.2
"""Crop side / the keypoints' larger extent (SPIN's demo box for OpenPose keypoints)."""
MIN_CROP_SIDE_PX = 8.0
"""Smallest crop side, pixels, so that a person with all keypoints on one spot stays finite."""
FITTED_JOINT_SETS = ("coco_17", "openpose_25")
SHAPE_FRAMES = 16
WARM_ITERATIONS = 20  # Adam steps per stage from the previous frame's fit (warm_start)
"""Frames per track whose fits give the track's one shape (``fit_keypoints_file(betas="track")``)."""
FIT_PRECISION = "fp32"
"""The precision SMPLify fits in on every device, whatever ``--precision`` asks of the networks:
float32 without autocast (why: ``hmr.smplify.fit.SMPLify``). ``run.json`` records it."""


@dataclass
class FitSummary:
    """What ``fit_keypoints_file`` did.

    Attributes:
        smpl_path: the ``smpl.npz`` written.
        mesh_dir: the ``meshes`` folder, or None without meshes.
        num_frames, num_people: T and P of the input.
        attempted: person-frames with enough keypoints that SMPLify ran on (rows with parameters).
        fitted: person-frames where the fit beat the initial estimate.
        valid_fits: person-frames whose reprojection loss is below the threshold.
        betas_zeroed: person-frames whose betas were reset by SPIN's |β| > 3 rule.
        focal_length: pixels, the full image's.
        seconds: wall time of the fitting.
        over_threshold: (N, 2) int64 frame index and track id of each fit whose reprojection
            loss is not below the threshold (also ``smpl.npz``'s ``over_threshold``).
    """

    smpl_path: Path
    mesh_dir: Path | None
    num_frames: int
    num_people: int
    attempted: int
    fitted: int
    valid_fits: int
    betas_zeroed: int
    focal_length: float
    seconds: float
    over_threshold: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 2), np.int64))


# ---------------------------------------------------------------------------------------------
# Cameras


def crop_boxes_from_keypoints(keypoints: np.ndarray, rescale: float = CROP_RESCALE) -> np.ndarray:
    """Square crop boxes around keypoints.

    Args:
        keypoints: (..., J, 3) pixels x, y, confidence (confidence 0 or NaN x, y: missing).
        rescale: crop side / the larger side of the keypoints' tight box.

    Returns:
        (..., 4) pixels x1, y1, x2, y2 of a square centred on the tight box, side at least
        ``MIN_CROP_SIDE_PX``; NaN where no keypoint is present.
    """
    tight = boxes_from_keypoints(keypoints).astype(np.float64)
    center = 0.5 * (tight[..., :2] + tight[..., 2:])
    side = np.maximum(rescale * np.max(tight[..., 2:] - tight[..., :2], axis=-1), MIN_CROP_SIDE_PX)
    half = 0.5 * side[..., None]
    return np.concatenate([center - half, center + half], axis=-1)


# ---------------------------------------------------------------------------------------------
# Inputs


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


def _initial_estimate(path, kp: Keypoints2D, mean: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Initial SMPL parameters per frame and person from an ``.npz`` (NaN rows → the mean pose)."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"initial estimates not found: {path}")
    widths = {"global_orient": 3, "body_pose": 69, "betas": len(mean["betas"]), "transl": 3}
    with np.load(path, allow_pickle=False) as z:
        missing = [name for name in widths if name not in z]
        if missing:
            raise InputError(f"{path} lacks {', '.join(missing)}; expected (T, P, ...) SMPL parameters")
        values = {name: z[name].astype(np.float32) for name in widths}
    for name, width in widths.items():
        if values[name].shape != (kp.num_frames, kp.num_people, width):
            raise InputError(f"{path}: {name} has shape {values[name].shape}, expected "
                             f"({kp.num_frames}, {kp.num_people}, {width}) to match the keypoints")
    unknown = ~np.isfinite(values["body_pose"]).all(-1)
    for name in ("global_orient", "body_pose", "betas"):
        values[name][unknown] = mean[name]
    return values


def _orientations(path, kp: Keypoints2D) -> np.ndarray | None:
    """(T, P, 3) axis-angle orientations from a joints3d.npz's H36M-17 joints (NaN where the
    lifter has no person), or None without a file."""
    if path is None:
        return None
    from body_models.sequences import load_sequence_arrays
    from hmr.smplify.orientation import orientation_from_joints

    arrays = load_sequence_arrays(path, "joints3d")
    if "joints" not in arrays or arrays["joints"].shape[:2] != (kp.num_frames, kp.num_people):
        shape = arrays["joints"].shape if "joints" in arrays else "none"
        raise InputError(f"{path}: joints {shape} do not match the keypoints' {kp.num_frames} frames and "
                         f"{kp.num_people} people; give the joints3d.npz lifted from these keypoints")
    orient = orientation_from_joints(arrays["joints"])
    if "valid" in arrays:
        orient[~arrays["valid"].astype(bool)] = np.nan
    return orient


def _batches(kp: Keypoints2D, present: np.ndarray, batch_size: int, temporal: bool):
    """Yield lists of (t, p) index arrays: flat batches, or per-person windows of frames."""
    if not temporal:
        t_idx, p_idx = np.nonzero(present)
        for start in range(0, len(t_idx), batch_size):
            yield t_idx[start:start + batch_size], p_idx[start:start + batch_size]
        return
    for p in range(kp.num_people):
        frames = np.nonzero(present[:, p])[0]
        if len(frames) == 0:
            continue
        span = np.arange(frames[0], frames[-1] + 1)  # consecutive frames, gaps included
        for start in range(0, len(span), batch_size):
            window = span[start:start + batch_size]
            yield window, np.full(len(window), p)


def _warm_waves(present: np.ndarray, stride: int):
    """Yield (t_idx, p_idx, previous) waves for ``warm_start``: wave 0 the keyframes (every
    ``stride``-th present frame of each person, previous None), wave j the frames j after a
    keyframe, with the row of each one's previous present frame."""
    order = np.zeros(present.shape, np.int64)  # position of each present frame in its person's track
    previous = np.full(present.shape, -1, np.int64)
    for p in range(present.shape[1]):
        frames = np.flatnonzero(present[:, p])
        order[frames, p] = np.arange(len(frames))
        previous[frames[1:], p] = frames[:-1]
    for j in range(stride):
        t_idx, p_idx = np.nonzero(present & (order % stride == j))
        yield t_idx, p_idx, (None if j == 0 else previous[t_idx, p_idx])


def _track_shapes(smplify: SMPLify, kp: Keypoints2D, keypoints: np.ndarray, present: np.ndarray, frames: int,
                  crop_inputs, initial_rows, mean_betas: np.ndarray) -> np.ndarray:
    """(P, num_betas) float32 one shape per person: the mean β of SMPLify fits on the ``frames``
    frames of the track with the largest summed keypoint confidence; the mean shape for a
    person with no attempted fit."""
    shapes = np.tile(np.asarray(mean_betas, np.float32), (kp.num_people, 1))
    confidence = np.where(np.isfinite(keypoints[..., 2]), np.clip(keypoints[..., 2], 0.0, None), 0.0).sum(-1)
    for p in range(kp.num_people):
        candidates = np.nonzero(present[:, p])[0]
        if len(candidates) == 0:
            continue
        best = np.sort(candidates[np.argsort(-confidence[candidates, p], kind="stable")[:frames]])
        people = np.full(len(best), p)
        crop_kp, crop_focal, crop_center, _, _ = crop_inputs(best, people)
        result = smplify(torch.from_numpy(crop_kp).float(), joint_set=kp.joint_set, **initial_rows(best, people),
                         focal_length=torch.from_numpy(crop_focal).float(),
                         principal_point=torch.from_numpy(crop_center).float())
        ok = result.attempted.cpu().numpy()
        if ok.any():
            shapes[p] = result.betas.cpu().numpy()[ok].mean(axis=0)
    return shapes


# ---------------------------------------------------------------------------------------------
# The file-level fit


def fit_keypoints_file(keypoints_path: str | os.PathLike, out_dir: str | os.PathLike,
                       body_model: str | os.PathLike = MANNEQUIN, gender: str = "neutral",
                       prior: str | os.PathLike | None = None, focal_length: float | None = None,
                       image_size: tuple[int, int] | None = None, temporal_weight: float | None = None,
                       iterations: int | None = None, meshes: bool = False, batch_size: int = 64,
                       config: SMPLifyConfig | None = None, mean_params: str | os.PathLike | None = None,
                       j_regressor_extra: str | os.PathLike | None = None,
                       initial: str | os.PathLike | None = None,
                       principal_point: tuple[float, float] | None = None,
                       progress: Progress = no_progress,
                       betas: str = "track", shape_frames: int = SHAPE_FRAMES,
                       orientation_joints: str | os.PathLike | None = None,
                       joints_only: bool | None = None, warm_start: int = 0,
                       warm_iterations: int | None = None, write_run_json: bool = True,
                       device: str | torch.device = "cpu") -> FitSummary:
    """Fit SMPL to every person in a 2D keypoints file and write ``smpl.npz`` (+ meshes).

    Args:
        keypoints_path: our ``keypoints2d.npz``, a COCO keypoint ``.json`` or an OpenPose JSON
            folder (COCO-17 or BODY_25; full-image pixels, not crops).
        out_dir: output folder; ``smpl.npz``, ``run.json`` and with ``meshes``
            ``meshes/<track>/<frame>.obj`` are written there.
        body_model: ``"mannequin"`` or an SMPL model file or folder (``body_models.load_smpl``).
        gender: for a model folder.
        prior: a ``gmm_08.pkl``-layout pose prior; None means the mannequin's own prior with the
            mannequin, and is an error with a real SMPL model.
        focal_length: pixels; None means the image diagonal √(W² + H²).
        image_size: (width, height) pixels, overriding the file's (COCO results and OpenPose
            files do not record it).
        temporal_weight: SMPLify's smoothness weight over consecutive frames of each person;
            None keeps the config's (0, off). With it, each person's frames are fitted in
            windows of ``batch_size`` consecutive frames (the term does not cross windows).
        iterations: Adam steps per stage; None keeps the config's (SPIN's 100).
        meshes: also write one OBJ per fitted person and frame.
        batch_size: person-frames per SMPLify call; memory grows linearly with it.
        config: SMPLify settings (default SPIN's); its focal length and principal point are
            replaced by the full-image camera. OpenPose input with no ``ignore_joints`` gets
            SPIN's (neck and hips).
        mean_params: SPIN's ``smpl_mean_params.npz`` for the initial estimate; None uses the
            mannequin's (a relaxed standing pose, HMR's upright root).
        j_regressor_extra: ``J_regressor_extra.npy``, needed for COCO-17 keypoints with a real
            SMPL model.
        initial: an ``.npz`` of initial estimates with ``global_orient (T, P, 3)``,
            ``body_pose (T, P, 69)``, ``betas (T, P, 10)`` and ``transl (T, P, 3)`` (metres, the
            full-image camera frame), e.g. the pipeline's HMR ``regressor.npz``; rows holding NaN
            start from the mean pose. None starts everyone from the mean pose.
        principal_point: (cx, cy) pixels of the full image; None means the image centre.
        orientation_joints: a ``joints3d.npz`` (the lifter's, same T and P as the keypoints);
            SMPLify also starts from the orientation its joints give
            (``hmr.smplify.orientation``), besides the start and its 180° turn.
        progress: a ``body_models.progress.Progress`` reporter, called as ``("fit", person-frames
            done, person-frames to fit)``, within a batch as its Adam steps go.
        betas: "track" (default): one shape per person for the whole file. A first pass fits
            the ``shape_frames`` frames of each track with the most keypoint confidence, the
            mean of their β becomes the track's shape, and every frame is then fitted with that
            β held fixed. "frame": β fitted in every frame on its own (it may flicker).
        shape_frames: frames per track in the first pass.
        joints_only: False skins the full mesh at every Adam step (SPIN's way, slower, the same
            fit); True only the joints the loss reads; None keeps the config's (True).
        warm_start: 0 (default) fits every frame from its own start (the regressor's or the
            mean pose), SPIN's way. N > 0: every N-th frame of each person is fitted so, and each
            other frame starts from the fit of the person's previous frame, with
            ``warm_iterations`` steps per stage and no 180° turn tried. The frames are fitted in
            waves (the keyframes, then each keyframe's next frame, ...), so every wave is still
            one batch over all people and keyframes. A frame whose previous fit was not attempted
            is fitted from its own start. Not with the temporal term.
        warm_iterations: Adam steps per stage of a warm-started frame; None: ``WARM_ITERATIONS``.
        write_run_json: also write the fit's own ``run.json`` (off inside ``hmr run``, whose
            record covers the whole run).
        device: where SMPLify runs (its body model, prior and tensors); the results come back to
            the CPU for writing. On the CPU the fit is the same to the bit whether or not the
            device is given; on a GPU it differs by float32 rounding. The fit is float32 on
            every device (``FIT_PRECISION``); ``run.json``'s ``compute`` records both.

    Returns:
        ``FitSummary``. The ``smpl.npz`` holds, with T frames and P people (NaN rows where a
        person is missing or has fewer than ``config.min_keypoints`` keypoints, and ``valid``
        False there): ``global_orient (T, P, 3)``, ``body_pose (T, P, 69)`` axis-angle radians;
        ``betas (T, P, 10)``; ``transl (T, P, 3)`` metres, camera frame; ``cam (T, P, 3)``
        weak perspective (s, tx, ty) for the square box ``crop_boxes (T, P, 4)`` (pixels x1, y1,
        x2, y2; see ``body_models.cameras.full_image_to_crop_camera``); ``joints (T, P, 24, 3)`` metres,
        camera frame; ``focal_length`` and ``principal_point (2,)`` pixels, ``image_size (2,)``;
        ``valid``, ``fitted`` (SMPLify ran and improved the fit), ``valid_fit`` (loss below
        ``config.loss_threshold``), ``betas_zeroed (T, P)`` bool; ``reprojection_loss (T, P)``
        crop pixels²; ``track_ids (P,)``, ``frame_indices (T,)``, ``fps``, ``joint_names``,
        ``body_model``, ``schema_version``.
    """
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size!r}")
    if betas not in ("track", "frame"):
        raise InputError(f"betas must be 'track' (one shape per person) or 'frame', got {betas!r}")
    if int(shape_frames) < 1:
        raise InputError(f"shape_frames must be at least 1, got {shape_frames!r}")
    warm_iterations = WARM_ITERATIONS if warm_iterations is None else warm_iterations
    if int(warm_start) < 0 or int(warm_iterations) < 1:
        raise InputError(f"warm_start must be 0 (off) or a keyframe stride >= 1 and warm_iterations >= 1; got "
                         f"{warm_start!r} and {warm_iterations!r}")
    out_dir = Path(out_dir)
    record = RunRecord("fit", {"keypoints": str(keypoints_path), "body_model": str(body_model), "gender": gender,
                               "prior": None if prior is None else str(prior), "focal_length": focal_length,
                               "image_size": None if image_size is None else list(image_size),
                               "temporal_weight": temporal_weight, "iterations": iterations, "meshes": meshes,
                               "batch_size": batch_size, "betas": betas, "shape_frames": shape_frames,
                               "joints_only": joints_only, "warm_start": warm_start,
                               "warm_iterations": warm_iterations, "device": str(device)})
    record.data["compute"] = {"fit": {"device": str(device), "precision": FIT_PRECISION}}
    with record.stage("load"):
        kp = _keypoints(keypoints_path, image_size)
        prior_path = _prior_path(prior, body_model)
        smpl = _body_model(body_model, gender, j_regressor_extra, kp.joint_set)
        cfg = config or SMPLifyConfig()
        overrides = {}
        if iterations is not None:
            overrides["num_iters"] = int(iterations)
        if temporal_weight is not None:
            overrides["temporal_weight"] = float(temporal_weight)
        if joints_only is not None:
            overrides["joints_only"] = bool(joints_only)
        if kp.joint_set == "openpose_25" and not cfg.ignore_joints:
            overrides["ignore_joints"] = SPIN_OPENPOSE_IGNORE
        cfg = dataclasses.replace(cfg, **overrides)
        smplify = SMPLify(smpl, prior_path, cfg, mean_params=_mean_params(mean_params)).to(device)
        start_from = _initial_estimate(initial, kp, mean_params_to_axis_angle(_mean_params(mean_params)))
        lifted_orient = _orientations(orientation_joints, kp)
    if Path(keypoints_path).is_file():
        record.add_file("keypoints", keypoints_path)
    record.add_file("pose_prior", prior_path)

    width, height = kp.image_size
    focal = float(focal_length) if focal_length is not None else default_focal_length((width, height))
    if not focal > 0:
        raise InputError(f"focal length must be positive pixels, got {focal_length!r}")
    image_center = (np.array([0.5 * width, 0.5 * height]) if principal_point is None
                    else np.asarray(principal_point, dtype=np.float64).reshape(2))
    keypoints = kp.keypoints.astype(np.float64)
    boxes = crop_boxes_from_keypoints(keypoints)
    present = kp.valid & np.isfinite(boxes).all(-1)

    t_all, p_all, b = kp.num_frames, kp.num_people, smpl.num_betas
    nan = np.float32(np.nan)
    out = {"global_orient": np.full((t_all, p_all, 3), nan), "body_pose": np.full((t_all, p_all, 69), nan),
           "betas": np.full((t_all, p_all, b), nan), "transl": np.full((t_all, p_all, 3), nan),
           "cam": np.full((t_all, p_all, 3), nan), "joints": np.full((t_all, p_all, 24, 3), nan),
           "reprojection_loss": np.full((t_all, p_all), nan)}
    flags = {name: np.zeros((t_all, p_all), bool) for name in ("valid", "fitted", "valid_fit", "betas_zeroed")}
    mesh_dir = out_dir / "meshes" if meshes else None
    header = f"body model: {smpl.name}" + (" (synthetic stand-in, not SMPL)" if smpl.is_mannequin else "")

    def crop_inputs(t_idx: np.ndarray, p_idx: np.ndarray):
        """Keypoints, focal lengths and principal points in each person-frame's crop."""
        box = boxes[t_idx, p_idx]  # (B, 4)
        gap = ~present[t_idx, p_idx]  # frames inside a temporal window without the person
        center = np.where(gap[:, None], image_center, 0.5 * (box[:, :2] + box[:, 2:]))
        side = np.where(gap, float(SPIN_CROP_SIZE), box[:, 2] - box[:, 0])
        k = SPIN_CROP_SIZE / side  # (B,) crop pixels per image pixel
        crop_kp = keypoints[t_idx, p_idx].copy()  # (B, J, 3)
        crop_kp[..., :2] = (crop_kp[..., :2] - center[:, None]) * k[:, None, None] + SPIN_CROP_SIZE / 2
        crop_kp[gap] = np.nan
        return crop_kp, focal * k, (image_center - center) * k[:, None] + SPIN_CROP_SIZE / 2, center, side

    def initial_rows(t_idx: np.ndarray, p_idx: np.ndarray) -> dict[str, torch.Tensor]:
        init = {}
        if start_from is not None:
            init = {name: torch.from_numpy(value[t_idx, p_idx]) for name, value in start_from.items()}
            if not torch.isfinite(init["transl"]).all():
                del init["transl"]  # estimated from the keypoints instead
        return init

    track_betas = None
    if betas == "track":
        with record.stage("shape"):
            track_betas = _track_shapes(smplify, kp, keypoints, present, int(shape_frames), crop_inputs,
                                        initial_rows, mean_params_to_axis_angle(_mean_params(mean_params))["betas"])

    total, done = int(present.sum()), 0
    temporal = cfg.temporal_weight > 0
    if temporal and warm_start:
        raise InputError("warm_start fits frame after frame; it does not combine with the temporal term "
                         "(temporal_weight > 0), which fits windows of frames together")
    warm = None
    if warm_start:  # the same body, prior and start; fewer steps, no 180° turn
        warm = copy.copy(smplify)
        warm.config = dataclasses.replace(cfg, num_iters=int(warm_iterations), try_turned=False)

    def fit_rows(t_idx: np.ndarray, p_idx: np.ndarray, from_previous: np.ndarray | None = None) -> None:
        """Fit these person-frames (one window of a person with the temporal term) and store them;
        ``from_previous`` (rows of the person's previous fitted frame) warm-starts them."""
        nonlocal done
        crop_kp, crop_focal, crop_center, center, side = crop_inputs(t_idx, p_idx)
        if from_previous is None:
            fitter, init = smplify, initial_rows(t_idx, p_idx)
            if lifted_orient is not None:  # (K = 1, ..., 3)
                extra = torch.from_numpy(lifted_orient[t_idx, p_idx])
                init["extra_orients"] = extra[None, None] if temporal else extra[None]
        else:
            fitter = warm
            init = {name: torch.from_numpy(out[name][from_previous, p_idx])
                    for name in ("global_orient", "body_pose", "betas", "transl")}
        if track_betas is not None:
            init["betas"] = torch.from_numpy(track_betas[p_idx])
        in_batch = int(present[t_idx, p_idx].sum())

        def on_step(stage: str, steps: int, steps_total: int | None, before: int = done) -> None:
            counter.reach(before + in_batch * steps // steps_total)
        lead = (lambda x: x[None]) if temporal else (lambda x: x)  # one sequence: (1, W, ...)
        if temporal:
            init = {name: value if name == "extra_orients" else value[None] for name, value in init.items()}
        result = fitter(torch.from_numpy(lead(crop_kp)).float(), joint_set=kp.joint_set, **init,
                        focal_length=torch.from_numpy(lead(crop_focal)).float(),
                        principal_point=torch.from_numpy(lead(crop_center)).float(),
                        fix_betas=track_betas is not None, progress=on_step)
        ok = result.attempted.reshape(-1).cpu().numpy()
        rows = (t_idx[ok], p_idx[ok])
        for name in ("global_orient", "body_pose", "betas", "transl", "joints", "reprojection_loss"):
            value = getattr(result, name).cpu()
            out[name][rows] = value.reshape(len(t_idx), *value.shape[len(result.attempted.shape):]).numpy()[ok]
        out["cam"][rows] = full_image_to_crop_camera(
            out["transl"][rows], center[ok], side[ok], (width, height), focal)
        flags["valid"][rows] = True
        for name in ("fitted", "valid_fit", "betas_zeroed"):
            flags[name][rows] = getattr(result, name).reshape(-1).cpu().numpy()[ok]
        if mesh_dir is not None and ok.any():
            vertices = result.vertices.reshape(len(t_idx), -1, 3).cpu().numpy()[ok]
            for p in np.unique(rows[1]):
                mine = rows[1] == p
                save_obj_sequence(mesh_dir / str(int(kp.track_ids[p])), vertices[mine], smpl.faces,
                                  frame_indices=kp.frame_indices[rows[0][mine]], header=header)
        done += in_batch
        counter.reach(done)

    counter = StageCounter(as_progress(progress), "fit", total)  # after loading, so a bar times the fit alone
    start_time = time.perf_counter()
    with record.stage("fit"):
        if not warm_start:
            for t_idx, p_idx in _batches(kp, present, int(batch_size), temporal):
                fit_rows(t_idx, p_idx)
        else:
            for t_idx, p_idx, previous in _warm_waves(present, int(warm_start)):
                cold = np.ones(len(t_idx), bool) if previous is None else ~flags["valid"][previous, p_idx]
                for start in range(0, len(t_idx), int(batch_size)):
                    part = slice(start, start + int(batch_size))
                    mine = cold[part]
                    if mine.any():
                        fit_rows(t_idx[part][mine], p_idx[part][mine])
                    if (~mine).any():
                        fit_rows(t_idx[part][~mine], p_idx[part][~mine], previous[part][~mine])
    seconds = time.perf_counter() - start_time

    over = flags["valid"] & ~flags["valid_fit"]
    over_rows = np.argwhere(over)  # (N, 2) frame row, person column
    over_threshold = np.stack([kp.frame_indices[over_rows[:, 0]], kp.track_ids[over_rows[:, 1]]], -1).astype(np.int64)
    record.data["over_threshold"] = over_threshold_report(over_threshold, cfg.loss_threshold)
    with record.stage("export"):
        smpl_path = save_smpl_npz(
            out_dir / "smpl.npz", **out, **flags, over_threshold=over_threshold,
            crop_boxes=np.where(flags["valid"][..., None], boxes, np.nan), focal_length=focal,
            principal_point=image_center, image_size=(width, height), track_ids=kp.track_ids,
            frame_indices=kp.frame_indices, fps=kp.fps, body_model=smpl.name, keypoints_joint_set=kp.joint_set,
            betas_per=betas)
    if write_run_json:
        record.save(out_dir / "run.json")
    return FitSummary(smpl_path=smpl_path, mesh_dir=mesh_dir, num_frames=t_all, num_people=p_all,
                      attempted=int(flags["valid"].sum()), fitted=int(flags["fitted"].sum()),
                      valid_fits=int(flags["valid_fit"].sum()), betas_zeroed=int(flags["betas_zeroed"].sum()),
                      focal_length=focal, seconds=seconds, over_threshold=over_threshold)


def save_smpl_npz(path: str | os.PathLike, *, global_orient, body_pose, betas, transl, cam, joints, valid,
                  focal_length: float, image_size: tuple[int, int], track_ids, frame_indices, fps: float,
                  body_model: str, keypoints_joint_set: str, betas_per: str, fitted=None, valid_fit=None,
                  betas_zeroed=None, reprojection_loss=None, crop_boxes=None, over_threshold=None,
                  principal_point=None) -> Path:
    """Write ``smpl.npz`` (the schema of ``fit_keypoints_file``'s docstring), atomically: the one
    writer for SMPLify's fits and for the regressor's estimates alone. T frames, P people.

    The (T, P) flags and per-fit values that only a fit has default to "no fit": ``fitted``,
    ``valid_fit`` and ``betas_zeroed`` False, ``reprojection_loss`` and ``crop_boxes`` NaN, no
    ``over_threshold`` rows; ``principal_point`` defaults to the image centre.
    """
    valid = np.asarray(valid, bool)
    t_all, p_all = valid.shape
    for name, value, tail in (("global_orient", global_orient, (3,)), ("body_pose", body_pose, (69,)),
                              ("transl", transl, (3,)), ("cam", cam, (3,)), ("joints", joints, (24, 3))):
        shape = np.shape(value)
        if shape != (t_all, p_all, *tail):
            raise InputError(f"{path}: {name} must be {(t_all, p_all, *tail)}, got {shape}")
    no = np.zeros((t_all, p_all), bool)
    width, height = image_size
    return save_sequence_arrays(
        path, "smpl",
        global_orient=np.asarray(global_orient, np.float32), body_pose=np.asarray(body_pose, np.float32),
        betas=np.asarray(betas, np.float32), transl=np.asarray(transl, np.float32), cam=np.asarray(cam, np.float32),
        joints=np.asarray(joints, np.float32),
        reprojection_loss=(np.full((t_all, p_all), np.nan, np.float32) if reprojection_loss is None
                           else np.asarray(reprojection_loss, np.float32)),
        valid=valid,
        fitted=no if fitted is None else np.asarray(fitted, bool),
        valid_fit=no if valid_fit is None else np.asarray(valid_fit, bool),
        betas_zeroed=no if betas_zeroed is None else np.asarray(betas_zeroed, bool),
        over_threshold=np.zeros((0, 2), np.int64) if over_threshold is None
        else np.asarray(over_threshold, np.int64).reshape(-1, 2),
        crop_boxes=(np.full((t_all, p_all, 4), np.nan, np.float32) if crop_boxes is None
                    else np.asarray(crop_boxes, np.float32)),
        focal_length=np.float64(focal_length),
        principal_point=(np.array([0.5 * width, 0.5 * height]) if principal_point is None
                         else np.asarray(principal_point, np.float64).reshape(2)),
        image_size=np.array([width, height], np.int64),
        joint_names=np.array(SMPL_24.names),
        track_ids=np.asarray(track_ids, np.int64),
        frame_indices=np.asarray(frame_indices, np.int64),
        fps=np.float64(fps),
        body_model=np.array(body_model),
        keypoints_joint_set=np.array(keypoints_joint_set),
        betas_per=np.array(betas_per),
    )


def over_threshold_report(over_threshold: np.ndarray, loss_threshold: float) -> dict:
    """``run.json``'s record of the fits above SPIN's loss threshold: a count and, per track,
    the frame indices. ``over_threshold`` is (N, 2) int frame index, track id."""
    frames: dict[str, list[int]] = {}
    for frame, track in np.asarray(over_threshold).reshape(-1, 2).tolist():
        frames.setdefault(str(track), []).append(int(frame))
    return {"count": int(len(np.asarray(over_threshold).reshape(-1, 2))), "loss_threshold": float(loss_threshold),
            "frames_by_track": frames}


def over_threshold_hint(over_threshold: np.ndarray, shown: int = 8) -> str | None:
    """One line for the summary naming the frames above the loss threshold, or None."""
    rows = np.asarray(over_threshold).reshape(-1, 2)
    if not len(rows):
        return None
    listed = ", ".join(f"{f}" + (f" (track {t})" if len(np.unique(rows[:, 1])) > 1 else "") for f, t in rows[:shown])
    more = f" and {len(rows) - shown} more" if len(rows) > shown else ""
    return (f"{len(rows)} fits above the loss threshold, frames {listed}{more} (smpl.npz over_threshold); "
            "check their keypoints, or fit longer with --iterations")
