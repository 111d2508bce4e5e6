"""How ``fit_keypoints_file`` fits a video (``FitOptions``), what it reports (``FitSummary``), and
the constants of the video fit: the crop rule, the shape frames, the warm start's steps and the
fit's precision. ``hmr.smplify.video`` re-exports every name."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from body_models.errors import InputError
from body_models.sequences import SMPLSequence
from body_models.smpl import MANNEQUIN
from hmr.smplify.fit import SMPLifyConfig


CROP_RESCALE = 1.2
"""Crop side / the keypoints' larger extent (SPIN's demo box for OpenPose keypoints)."""
MIN_CROP_SIDE_PX = 8.0
"""Smallest crop side, pixels, so that a person with all keypoints on one spot stays finite."""
FITTED_JOINT_SETS = ("coco_17", "openpose_25")
SHAPE_FRAMES = 16
"""Frames per track whose fits give the track's one shape (``FitOptions.betas`` "track")."""
WARM_ITERATIONS = 20
"""Adam steps per stage from the previous frame's fit (``FitOptions.warm_start``)."""
FIT_PRECISION = "fp32"
"""The precision SMPLify fits in on every device, whatever ``--precision`` asks of the networks:
float32 without autocast (why: ``hmr.smplify.fit.SMPLify``). ``run.json`` records it."""


@dataclass(frozen=True)
class FitOptions:
    """How ``fit_keypoints_file`` fits (``hmr fit``'s options).

    Attributes:
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
        meshes: also write one OBJ per fitted person and frame (``meshes/<track>/<frame>.obj``).
        batch_size: person-frames per SMPLify call; memory grows linearly with it.
        config: SMPLify settings (default SPIN's); its focal length and principal point are
            replaced by the full-image camera. OpenPose input with no ``ignore_joints`` gets
            SPIN's (neck and hips).
        mean_params: SPIN's ``smpl_mean_params.npz`` for the initial estimate; None uses the
            mannequin's (a relaxed standing pose, HMR's upright root).
        j_regressor_extra: ``J_regressor_extra.npy``, needed for COCO-17 keypoints with a real
            SMPL model.
        initial: the pipeline's HMR ``regressor.npz`` (same T and P as the keypoints; ``transl``
            metres, the full-image camera frame) to start from; rows holding NaN start from the
            mean pose. None starts everyone from the mean pose.
        principal_point: (cx, cy) pixels of the full image; None means the image centre.
        betas: "track" (default): one shape per person for the whole file. A first pass fits
            the ``shape_frames`` frames of each track with the most keypoint confidence, the
            mean of their β becomes the track's shape, and every frame is then fitted with that
            β held fixed. "frame": β fitted in every frame on its own (it may flicker).
        shape_frames: frames per track in the first pass.
        orientation_joints: a ``joints3d.npz`` (the lifter's, same T and P as the keypoints);
            SMPLify also starts from the orientation its joints give
            (``hmr.smplify.orientation``), besides the start and its 180° turn.
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
    """

    body_model: str | os.PathLike = MANNEQUIN
    gender: str = "neutral"
    prior: str | os.PathLike | None = None
    focal_length: float | None = None
    image_size: tuple[int, int] | None = None
    temporal_weight: float | None = None
    iterations: int | None = None
    meshes: bool = False
    batch_size: int = 64
    config: SMPLifyConfig | None = None
    mean_params: str | os.PathLike | None = None
    j_regressor_extra: str | os.PathLike | None = None
    initial: str | os.PathLike | None = None
    principal_point: tuple[float, float] | None = None
    betas: str = "track"
    shape_frames: int = SHAPE_FRAMES
    orientation_joints: str | os.PathLike | None = None
    joints_only: bool | None = None
    warm_start: int = 0
    warm_iterations: int | None = None
    write_run_json: bool = True
    device: str | torch.device = "cpu"

    def __post_init__(self) -> None:
        if int(self.batch_size) < 1:
            raise InputError(f"batch_size must be at least 1, got {self.batch_size!r}")
        if self.betas not in ("track", "frame"):
            raise InputError(f"betas must be 'track' (one shape per person) or 'frame', got {self.betas!r}")
        if int(self.shape_frames) < 1:
            raise InputError(f"shape_frames must be at least 1, got {self.shape_frames!r}")
        if self.warm_iterations is None:
            object.__setattr__(self, "warm_iterations", WARM_ITERATIONS)  # frozen: only here
        if int(self.warm_start) < 0 or int(self.warm_iterations) < 1:
            raise InputError(f"warm_start must be 0 (off) or a keyframe stride >= 1 and warm_iterations >= 1; got "
                             f"{self.warm_start!r} and {self.warm_iterations!r}")

    def run_json_arguments(self, keypoints_path: str | os.PathLike) -> dict:
        """The fit's arguments as ``run.json`` records them."""
        return {"keypoints": str(keypoints_path), "body_model": str(self.body_model), "gender": self.gender,
                "prior": None if self.prior is None else str(self.prior), "focal_length": self.focal_length,
                "image_size": None if self.image_size is None else list(self.image_size),
                "temporal_weight": self.temporal_weight, "iterations": self.iterations, "meshes": self.meshes,
                "batch_size": self.batch_size, "betas": self.betas, "shape_frames": self.shape_frames,
                "joints_only": self.joints_only, "warm_start": self.warm_start,
                "warm_iterations": self.warm_iterations, "device": str(self.device)}


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

    @classmethod
    def of(cls, fit: SMPLSequence, smpl_path: Path, mesh_dir: Path | None, seconds: float) -> "FitSummary":
        """The summary of the fits in ``fit``, as written to ``smpl_path``."""
        return cls(smpl_path=smpl_path, mesh_dir=mesh_dir, num_frames=fit.num_frames, num_people=fit.num_people,
                   attempted=int(fit.valid.sum()), fitted=int(fit.fitted.sum()), valid_fits=int(fit.valid_fit.sum()),
                   betas_zeroed=int(fit.betas_zeroed.sum()), focal_length=fit.focal_length, seconds=seconds,
                   over_threshold=fit.over_threshold)
