"""SMPLify on a whole 2D keypoints file: ``hmr fit --keypoints FILE --out DIR``.

``fit_keypoints_file`` reads keypoints of P tracked people over T frames (our
``keypoints2d.npz``, a COCO keypoint JSON or an OpenPose JSON folder, ``hmr.pose2d.keypoints_io``), fits
SMPL to every person in every frame with ``SMPLify`` and writes ``smpl.npz``
(``body_models.sequences.SMPLSequence``; and OBJ meshes when asked). ``FitOptions`` says how.

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
the y-down camera frame and faces the camera), or the pipeline's HMR estimates.

The fit runs in steps: load the keypoints, the body model and the starts; with one shape per
track, fit each track's best frames first and hold their mean β; fit every person-frame (in
batches, in windows of a person's frames with the temporal term, or in waves from the previous
frame's fit with a warm start); write ``smpl.npz`` and ``run.json``.

What the fit reads is loaded in ``hmr.smplify.video_inputs``; its options, summary and constants
are in ``hmr.smplify.video_options`` (and import from here too).

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
from typing import Callable, NamedTuple

import numpy as np
import torch

from body_models.cameras import SPIN_CROP_SIZE, full_image_to_crop_camera
from body_models.errors import InputError
from body_models.meshes import save_obj_sequence
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from body_models.sequences import Keypoints2D, SMPLSequence
from hmr.core.intrinsics import default_focal_length
from hmr.core.provenance import RunRecord
from hmr.pose2d.keypoints_io import boxes_from_keypoints
from hmr.smplify.fit import SMPLify, SMPLifyResult
from hmr.smplify.video_inputs import _load, _Loaded
from hmr.smplify.video_options import CROP_RESCALE, FIT_PRECISION, MIN_CROP_SIDE_PX, FitOptions, FitSummary
from hmr.smplify.video_options import FITTED_JOINT_SETS, SHAPE_FRAMES, WARM_ITERATIONS  # noqa: F401 (public here too)

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


class _CropCameras(NamedTuple):
    """Some person-frames seen by their crop cameras (B of them)."""

    keypoints: np.ndarray  # (B, J, 3) crop pixels x, y, confidence
    focal_length: np.ndarray  # (B,) crop pixels
    principal_point: np.ndarray  # (B, 2) crop pixels
    center: np.ndarray  # (B, 2) the crop's centre, full-image pixels
    side: np.ndarray  # (B,) the crop's side, full-image pixels

    def smplify_inputs(self, sequence: bool) -> dict[str, torch.Tensor]:
        """The keypoints and cameras as SMPLify takes them: (B, ...), or one (1, B, ...) sequence."""
        lead = (lambda x: x[None]) if sequence else (lambda x: x)
        return {name: torch.from_numpy(lead(getattr(self, name))).float()
                for name in ("keypoints", "focal_length", "principal_point")}


@dataclass(frozen=True)
class _Crops:
    """The full image's pinhole camera and every person-frame's square crop (the module docstring)."""

    keypoints: np.ndarray  # (T, P, J, 3) float64 full-image pixels x, y, confidence
    boxes: np.ndarray  # (T, P, 4) the crop boxes, full-image pixels; NaN without keypoints
    present: np.ndarray  # (T, P) bool: the person is there with a crop box, to be fitted
    focal_length: float  # pixels
    principal_point: np.ndarray  # (2,) pixels
    image_size: tuple[int, int]

    @classmethod
    def around(cls, kp: Keypoints2D, focal_length: float | None, principal_point) -> "_Crops":
        width, height = kp.image_size
        focal = float(focal_length) if focal_length is not None else default_focal_length((width, height))
        if not focal > 0:
            raise InputError(f"focal length must be positive pixels, got {focal_length!r}")
        center = (np.array([0.5 * width, 0.5 * height]) if principal_point is None
                  else np.asarray(principal_point, dtype=np.float64).reshape(2))
        keypoints = kp.keypoints.astype(np.float64)
        boxes = crop_boxes_from_keypoints(keypoints)
        return cls(keypoints, boxes, kp.valid & np.isfinite(boxes).all(-1), focal, center, (width, height))

    def cameras(self, t_idx: np.ndarray, p_idx: np.ndarray) -> _CropCameras:
        """These person-frames in their crops; a frame inside a temporal window without the
        person gets NaN keypoints and the image-centred crop."""
        box = self.boxes[t_idx, p_idx]  # (B, 4)
        gap = ~self.present[t_idx, p_idx]
        center = np.where(gap[:, None], self.principal_point, 0.5 * (box[:, :2] + box[:, 2:]))
        side = np.where(gap, float(SPIN_CROP_SIZE), box[:, 2] - box[:, 0])
        k = SPIN_CROP_SIZE / side  # (B,) crop pixels per image pixel
        keypoints = self.keypoints[t_idx, p_idx].copy()  # (B, J, 3)
        keypoints[..., :2] = (keypoints[..., :2] - center[:, None]) * k[:, None, None] + SPIN_CROP_SIZE / 2
        keypoints[gap] = np.nan
        return _CropCameras(keypoints, self.focal_length * k,
                            (self.principal_point - center) * k[:, None] + SPIN_CROP_SIZE / 2, center, side)


# ---------------------------------------------------------------------------------------------
# Fitting


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


def _track_shapes(loaded: _Loaded, crops: _Crops, frames: int) -> np.ndarray:
    """(P, num_betas) float32 one shape per person: the mean β of SMPLify fits on the ``frames``
    frames of the track with the largest summed keypoint confidence; the mean shape for a
    person with no attempted fit."""
    kp = loaded.kp
    shapes = np.tile(np.asarray(loaded.mean_betas, np.float32), (kp.num_people, 1))
    confidence = np.where(np.isfinite(crops.keypoints[..., 2]), np.clip(crops.keypoints[..., 2], 0.0, None), 0.0).sum(-1)
    for p in range(kp.num_people):
        candidates = np.nonzero(crops.present[:, p])[0]
        if len(candidates) == 0:
            continue
        best = np.sort(candidates[np.argsort(-confidence[candidates, p], kind="stable")[:frames]])
        people = np.full(len(best), p)
        result = loaded.smplify(**crops.cameras(best, people).smplify_inputs(sequence=False), joint_set=kp.joint_set,
                                **loaded.starts.initial_rows(best, people))
        ok = result.attempted.cpu().numpy()
        if ok.any():
            shapes[p] = result.betas.cpu().numpy()[ok].mean(axis=0)
    return shapes


class _Fits:
    """Every person-frame's fit as it comes in: ``smpl.npz``'s arrays, NaN (flags False) until
    the person-frame is fitted."""

    RESULT_VALUES = ("global_orient", "body_pose", "betas", "transl", "joints", "reprojection_loss")
    FLAGS = ("fitted", "valid_fit", "betas_zeroed")

    def __init__(self, num_frames: int, num_people: int, num_betas: int) -> None:
        t, p, nan = num_frames, num_people, np.float32(np.nan)
        self.values = {"global_orient": np.full((t, p, 3), nan), "body_pose": np.full((t, p, 69), nan),
                       "betas": np.full((t, p, num_betas), nan), "transl": np.full((t, p, 3), nan),
                       "cam": np.full((t, p, 3), nan), "joints": np.full((t, p, 24, 3), nan),
                       "reprojection_loss": np.full((t, p), nan)}
        self.flags = {name: np.zeros((t, p), bool) for name in ("valid", *self.FLAGS)}

    def previous_rows(self, t_idx: np.ndarray, p_idx: np.ndarray) -> dict[str, torch.Tensor]:
        """These person-frames' fits, as the start of their next frames (``warm_start``)."""
        return {name: torch.from_numpy(self.values[name][t_idx, p_idx])
                for name in ("global_orient", "body_pose", "betas", "transl")}

    def store(self, t_idx: np.ndarray, p_idx: np.ndarray, result: SMPLifyResult, cameras: _CropCameras,
              crops: _Crops) -> np.ndarray:
        """Keep SMPLify's ``result`` for these person-frames where it attempted a fit (returned)."""
        ok = result.attempted.reshape(-1).cpu().numpy()
        rows = (t_idx[ok], p_idx[ok])
        for name in self.RESULT_VALUES:
            value = getattr(result, name).cpu()
            self.values[name][rows] = value.reshape(len(t_idx), *value.shape[len(result.attempted.shape):]).numpy()[ok]
        self.values["cam"][rows] = full_image_to_crop_camera(
            self.values["transl"][rows], cameras.center[ok], cameras.side[ok], crops.image_size, crops.focal_length)
        self.flags["valid"][rows] = True
        for name in self.FLAGS:
            self.flags[name][rows] = getattr(result, name).reshape(-1).cpu().numpy()[ok]
        return ok

    def over_threshold(self, kp: Keypoints2D) -> np.ndarray:
        """(N, 2) int64 frame index and track id of each fit not under the loss threshold."""
        rows = np.argwhere(self.flags["valid"] & ~self.flags["valid_fit"])  # (N, 2) frame row, person column
        return np.stack([kp.frame_indices[rows[:, 0]], kp.track_ids[rows[:, 1]]], -1).astype(np.int64)

    def sequence(self, loaded: _Loaded, crops: _Crops, betas_per: str) -> SMPLSequence:
        """The fits as ``smpl.npz``'s ``SMPLSequence``, with the camera and the keypoints' tracks."""
        kp = loaded.kp
        return SMPLSequence(
            **self.values, **self.flags, over_threshold=self.over_threshold(kp),
            crop_boxes=np.where(self.flags["valid"][..., None], crops.boxes, np.nan),
            focal_length=crops.focal_length, principal_point=crops.principal_point, image_size=crops.image_size,
            track_ids=kp.track_ids, frame_indices=kp.frame_indices, fps=kp.fps, body_model=loaded.smpl.name,
            keypoints_joint_set=kp.joint_set, betas_per=betas_per)


def _save_meshes(mesh_dir: Path, loaded: _Loaded, rows: tuple[np.ndarray, np.ndarray], vertices: np.ndarray) -> None:
    """One OBJ per fitted person-frame: ``mesh_dir/<track>/<frame>.obj``."""
    smpl, kp = loaded.smpl, loaded.kp
    header = f"body model: {smpl.name}" + (" (synthetic stand-in, not SMPL)" if smpl.is_mannequin else "")
    for p in np.unique(rows[1]):
        mine = rows[1] == p
        save_obj_sequence(mesh_dir / str(int(kp.track_ids[p])), vertices[mine], smpl.faces,
                          frame_indices=kp.frame_indices[rows[0][mine]], header=header)


@dataclass
class _Fitter:
    """SMPLify over the person-frames of a keypoints file, batch by batch, into ``fits``."""

    loaded: _Loaded
    crops: _Crops
    options: FitOptions
    fits: _Fits
    counter: StageCounter
    mesh_dir: Path | None  # where the OBJ meshes go; None: no meshes
    track_betas: np.ndarray | None  # (P, num_betas) one shape per person, held fixed; None: fitted per frame
    done: int = 0  # person-frames fitted

    @property
    def temporal(self) -> bool:
        return self.loaded.config.temporal_weight > 0

    def fit_all(self) -> None:
        """Every present person-frame: in batches (or windows) from their own start, or with a
        warm start in waves, each frame from its previous frame's fit where it has one."""
        batch_size, stride, present = int(self.options.batch_size), int(self.options.warm_start), self.crops.present
        if not stride:
            for t_idx, p_idx in _batches(self.loaded.kp, present, batch_size, self.temporal):
                self.fit_rows(t_idx, p_idx)
            return
        warm = copy.copy(self.loaded.smplify)  # the same body, prior and start; fewer steps, no 180° turn
        warm.config = dataclasses.replace(self.loaded.config, num_iters=int(self.options.warm_iterations),
                                          try_turned=False)
        for t_idx, p_idx, previous in _warm_waves(present, stride):
            cold = np.ones(len(t_idx), bool) if previous is None else ~self.fits.flags["valid"][previous, p_idx]
            for start in range(0, len(t_idx), batch_size):
                part = slice(start, start + batch_size)
                mine = cold[part]
                if mine.any():
                    self.fit_rows(t_idx[part][mine], p_idx[part][mine])
                if (~mine).any():
                    self.fit_rows(t_idx[part][~mine], p_idx[part][~mine], previous[part][~mine], warm)

    def fit_rows(self, t_idx: np.ndarray, p_idx: np.ndarray, from_previous: np.ndarray | None = None,
                 warm: SMPLify | None = None) -> None:
        """Fit these person-frames (one window of a person with the temporal term) and store them;
        ``from_previous`` (rows of the person's previous fitted frame) warm-starts them with ``warm``."""
        cameras = self.crops.cameras(t_idx, p_idx)
        if from_previous is None:
            fitter, init = self.loaded.smplify, self.loaded.starts.rows(t_idx, p_idx, self.temporal)
        else:
            fitter, init = warm, self.fits.previous_rows(from_previous, p_idx)
        if self.track_betas is not None:
            init["betas"] = torch.from_numpy(self.track_betas[p_idx])
        if self.temporal:  # one sequence: (1, W, ...)
            init = {name: value if name == "extra_orients" else value[None] for name, value in init.items()}
        result = fitter(**cameras.smplify_inputs(sequence=self.temporal), joint_set=self.loaded.kp.joint_set, **init,
                        fix_betas=self.track_betas is not None, progress=self._on_step(t_idx, p_idx))
        ok = self.fits.store(t_idx, p_idx, result, cameras, self.crops)
        if self.mesh_dir is not None and ok.any():
            vertices = result.vertices.reshape(len(t_idx), -1, 3).cpu().numpy()[ok]
            _save_meshes(self.mesh_dir, self.loaded, (t_idx[ok], p_idx[ok]), vertices)
        self.done += int(self.crops.present[t_idx, p_idx].sum())
        self.counter.reach(self.done)

    def _on_step(self, t_idx: np.ndarray, p_idx: np.ndarray) -> Callable:
        """SMPLify's progress within one batch, as person-frames of the whole fit."""
        before, in_batch = self.done, int(self.crops.present[t_idx, p_idx].sum())

        def on_step(stage: str, steps: int, steps_total: int | None) -> None:
            self.counter.reach(before + in_batch * steps // steps_total)
        return on_step


# ---------------------------------------------------------------------------------------------
# The file-level fit


def fit_keypoints_file(keypoints_path: str | os.PathLike, out_dir: str | os.PathLike,
                       options: FitOptions | None = None, progress: Progress = no_progress,
                       **settings) -> FitSummary:
    """Fit SMPL to every person in a 2D keypoints file and write ``smpl.npz`` (+ meshes, ``run.json``).

    Args:
        keypoints_path: our ``keypoints2d.npz``, a COCO keypoint ``.json`` or an OpenPose JSON
            folder (COCO-17 or BODY_25; full-image pixels, not crops).
        out_dir: output folder for ``smpl.npz``, ``run.json`` and ``meshes/<track>/<frame>.obj``.
        options: how to fit (``FitOptions``; its defaults when None).
        progress: a ``body_models.progress.Progress`` reporter, called as ``("fit", person-frames
            done, person-frames to fit)``, within a batch as its Adam steps go.
        settings: ``FitOptions`` fields by name, over ``options`` (``iterations=20, meshes=True``).

    Returns:
        ``FitSummary``. The ``smpl.npz`` is a ``body_models.sequences.SMPLSequence``, NaN and
        ``valid`` False where a person is missing or has fewer than ``config.min_keypoints``
        keypoints; ``cam`` is the weak perspective camera of the fit's crop (``crop_boxes``,
        ``body_models.cameras.full_image_to_crop_camera``), ``reprojection_loss`` crop pixels².
    """
    options = dataclasses.replace(options or FitOptions(), **settings)
    out_dir = Path(out_dir)
    record = RunRecord("fit", options.run_json_arguments(keypoints_path))
    record.data["compute"] = {"fit": {"device": str(options.device), "precision": FIT_PRECISION}}
    with record.stage("load"):
        loaded = _load(keypoints_path, options)
    if Path(keypoints_path).is_file():
        record.add_file("keypoints", keypoints_path)
    record.add_file("pose_prior", loaded.prior_path)
    crops = _Crops.around(loaded.kp, options.focal_length, options.principal_point)
    track_betas = None
    if options.betas == "track":
        with record.stage("shape"):
            track_betas = _track_shapes(loaded, crops, int(options.shape_frames))
    fits = _Fits(loaded.kp.num_frames, loaded.kp.num_people, loaded.smpl.num_betas)
    counter = StageCounter(as_progress(progress), "fit", int(crops.present.sum()))  # a bar times the fit alone
    fitter = _Fitter(loaded, crops, options, fits, counter, mesh_dir=out_dir / "meshes" if options.meshes else None,
                     track_betas=track_betas)
    start_time = time.perf_counter()
    with record.stage("fit"):
        fitter.fit_all()
    seconds = time.perf_counter() - start_time
    fit = fits.sequence(loaded, crops, options.betas)
    record.data["over_threshold"] = over_threshold_report(fit.over_threshold, loaded.config.loss_threshold)
    with record.stage("export"):
        smpl_path = fit.save(out_dir / "smpl.npz")
    if options.write_run_json:
        record.save(out_dir / "run.json")
    return FitSummary.of(fit, smpl_path, fitter.mesh_dir, seconds)


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
