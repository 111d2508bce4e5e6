"""The embedded default: a synthetic clip with known truth, through the real pipeline, scored.

    hmr demo --out demo_out

1. Builds the mannequin and its prior files (cached).
2. Synthesises a short clip: the mannequin walking, filmed by a known camera, rendered to
   ``synthetic/clip.mp4`` with ground truth in 2D, 3D and SMPL (``synthetic/ground_truth.npz``).
3. Runs the same pipeline as ``hmr run`` on it. Learned models are used wherever weights are
   configured (``hmr weights``); otherwise stand-ins, said so in the summary:
   - no HRNet weights: the project's demo HRNet (``hmr.pose2d.DEMO_WEIGHTS``), trained on the
     synthetic image world, on the clip's pixels, the person followed by a tracker; with
     ``keypoints="noisy-truth"``, the ground-truth 2D keypoints with pixel noise and dropped joints;
   - no VideoPose3D weights: the project's small lifter trained on synthetic mannequin data
     (``lifting.DEMO_WEIGHTS``);
   - no HMR weights: the project's demo regressor trained on the synthetic image world
     (``hmr.regressor.DEMO_WEIGHTS``), on the clip's pixels; SMPLify starts from its estimate.
4. Scores the 3D joints and the meshes against the ground truth (MPJPE, PA-MPJPE, PVE): HMR
   alone (``hmr_mesh_*``), SMPLify from HMR (``mesh_*``) and, as the baseline, SMPLify from the
   mean pose (``mean_start_mesh_*``); and
   whether the lifter follows the motion (knee and elbow flexion range and correlation with the
   truth, MPJPE against a static mean pose), and writes ``scores.json``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from body_models.atomic import write_json
from body_models.errors import InputError
from body_models.metrics import MM_PER_M, mpjpe, pa_mpjpe, pve
from body_models.progress import Progress, no_progress
from body_models.sequences import (SMPL_PARAMETERS, Joints3D, Keypoints2D, RegressorEstimates, SMPLSequence,
                                   WorldSequence)
from hmr.pose2d.keypoints_io import empty_keypoints
from hmr.pipeline import PipelineOptions, PipelineResult, run_pipeline
from hmr.core.provenance import RunRecord
from hmr.synthetic.clip import make_synthetic_clip
from hmr.pose2d.stage import FOLLOW_PREFIX
from hmr.pose2d.checkpoints import DEMO_WEIGHTS as DEMO_HRNET  # hmr/pose2d/weights/demo_*.pt
from hmr.regressor.checkpoints import DEMO_WEIGHTS as DEMO_REGRESSOR  # hmr/regressor/weights/demo_*.pt
from lifting import DEMO_WEIGHTS

DEMO_LIFTER = DEMO_WEIGHTS  # lifting/weights/demo_*.pt, installed with the package
DEMO_KEYPOINTS = ("hrnet", "noisy-truth")  # run_demo's keypoints: HRNet on the pixels, or the stand-in
KEYPOINT_NOISE_PX = 2.0
KEYPOINT_DROPOUT = 0.05
# The demo camera films like a Human3.6M camera: from 15 degrees above, 25 degrees to the side,
# with a similar field of view (focal length / width about 1.15).
CAMERA = {"image_size": (640, 480), "focal_length": 736.0, "camera_distance": 5.0,
          "elevation_deg": 15.0, "azimuth_deg": 25.0}


# The regressor's bar on the demo clip (PA-MPJPE, mm): HMR alone, SMPLify from HMR, and how far
# SMPLify from HMR must beat SMPLify from the mean pose.
HMR_BAR = {"hmr_mesh_pa_mpjpe_mm": 60.0, "mesh_pa_mpjpe_mm": 45.0, "gain_over_mean_start_mm": 10.0}
MESH_ROWS = (("HMR alone", "hmr_"), ("SMPLify from HMR", ""), ("SMPLify from the mean pose", "mean_start_"))


def mesh_table(scores: dict[str, float]) -> list[str]:
    """The stage-by-stage mesh errors as printable lines, and whether they meet ``HMR_BAR``."""
    lines = [f"  {'':<28}{'MPJPE':>8}{'PA-MPJPE':>10}{'PVE':>8}"]
    for label, prefix in MESH_ROWS:
        if f"{prefix}mesh_mpjpe_mm" in scores:
            values = [scores.get(f"{prefix}mesh_{m}_mm") for m in ("mpjpe", "pa_mpjpe", "pve")]
            lines.append(f"  {label:<28}" + "".join(f"{v:>{w}.1f}" if v is not None else f"{'-':>{w}}"
                                                 for v, w in zip(values, (8, 10, 8))))
    if all(f"{prefix}mesh_pa_mpjpe_mm" in scores for _, prefix in MESH_ROWS):
        gain = scores["mean_start_mesh_pa_mpjpe_mm"] - scores["mesh_pa_mpjpe_mm"]
        met = (scores["hmr_mesh_pa_mpjpe_mm"] <= HMR_BAR["hmr_mesh_pa_mpjpe_mm"]
               and scores["mesh_pa_mpjpe_mm"] <= HMR_BAR["mesh_pa_mpjpe_mm"]
               and gain >= HMR_BAR["gain_over_mean_start_mm"])
        lines.append(f"  bar: {'met' if met else 'NOT met'} (PA-MPJPE: HMR <= 60, SMPLify from HMR <= 45 and "
                     f"{gain:.1f} mm under the mean-pose start, >= 10)")
    return lines


@dataclass
class DemoResult:
    pipeline: PipelineResult
    scores: dict[str, float]  # millimetres
    stages: dict[str, str]  # stage -> "learned: ..." or "stand-in: ..."
    outputs: dict[str, Path] = field(default_factory=dict)
    motion: dict[str, float] = field(default_factory=dict)  # the lifter's motion following (motion_scores)
    keypoint_scores: dict[str, float] = field(default_factory=dict)  # px error, PCK@0.05 %, detected %


def motion_scores(ground_truth: Path, joints3d: Path) -> dict[str, float]:
    """Does the lifter follow the motion (``body_models.motion_metrics``)? Knee and elbow flexion
    range as a percentage of the truth's and correlation r over time; MPJPE (mm) of a static pose
    (the clip's mean true pose in every frame) and how much lower the lifter's MPJPE is, in %."""
    from body_models.motion_metrics import motion_following

    with np.load(ground_truth, allow_pickle=False) as z:
        target = z["joints3d"][:, 0]
    lifted = Joints3D.load(joints3d)
    s = motion_following(np.where(lifted.valid[:, 0, None, None], lifted.joints[:, 0], np.nan), target)
    scores = {"knee_range_pct": 100.0 * s["knee_range_ratio"], "knee_r": s["knee_correlation"],
              "elbow_range_pct": 100.0 * s["elbow_range_ratio"], "elbow_r": s["elbow_correlation"],
              "knee_range_true_deg": s["knee_range_true_deg"], "static_pose_mpjpe_mm": s["static_mpjpe_mm"],
              "beats_static_by_pct": 100.0 * s["static_improvement"]}
    return {k: round(float(v), 3) for k, v in scores.items()}


MOTION_BAR = {"knee_range_pct": 70.0, "knee_r": 0.8, "beats_static_by_pct": 30.0}
"""What a lifter that follows the motion reaches on the demo: minimums of ``motion_scores``."""


def noisy_keypoints(ground_truth: Path, out_path: Path, noise_px: float = KEYPOINT_NOISE_PX,
                    dropout: float = KEYPOINT_DROPOUT, seed: int = 0) -> Path:
    """The ground-truth COCO-17 keypoints with Gaussian pixel noise and randomly dropped joints,
    written as ``keypoints2d.npz``: what a decent 2D detector would give."""
    rng = np.random.default_rng(seed)
    with np.load(ground_truth, allow_pickle=False) as z:
        gt = dict(z)
    t, p = gt["valid"].shape
    kp = empty_keypoints(t, p, "coco_17")
    keypoints = gt["keypoints"].copy()
    keypoints[..., :2] += rng.normal(0.0, noise_px, keypoints[..., :2].shape)
    conf = np.clip(rng.normal(0.85, 0.08, keypoints.shape[:3]), 0.3, 1.0) * (keypoints[..., 2] > 0)
    dropped = rng.random(keypoints.shape[:3]) < dropout
    conf[dropped] = 0.0
    keypoints[..., 2] = conf
    keypoints[conf == 0, :2] = np.nan
    kp.keypoints[:] = keypoints
    kp.boxes[:] = gt["boxes"]
    kp.valid[:] = gt["valid"]
    kp = dataclasses.replace(kp, image_size=tuple(int(v) for v in gt["image_size"]), fps=float(gt["fps"]),
                             frame_indices=gt["frame_indices"])
    return kp.save(out_path)


def _mesh_scores(gt: dict, fit: SMPLSequence | RegressorEstimates, smpl, prefix: str) -> dict[str, float]:
    """``{prefix}mesh_mpjpe_mm``, ``..._pa_mpjpe_mm`` (H36M joints, pelvis-relative), ``..._pve_mm``
    (pelvis-aligned vertices) and ``{prefix}fitted_frames`` of body parameters against the truth."""
    ok = fit.valid[:, 0] & np.isfinite(fit.body_pose[:, 0]).all(-1)

    def body(params: dict[str, np.ndarray], rows):
        return smpl(**{k: torch.as_tensor(params[k][rows, 0], dtype=torch.float32) for k in SMPL_PARAMETERS})

    with torch.no_grad():
        pred, target = body(fit.smpl_parameters(), ok), body(gt, ok)
    pj, tj = pred.h36m.numpy(), target.h36m.numpy()
    pj, tj = pj - pj[:, :1], tj - tj[:, :1]
    pv = pred.vertices.numpy() - pred.h36m.numpy()[:, :1]
    tv = target.vertices.numpy() - target.h36m.numpy()[:, :1]
    return {f"{prefix}mesh_mpjpe_mm": mpjpe(pj, tj) * MM_PER_M, f"{prefix}mesh_pa_mpjpe_mm": pa_mpjpe(pj, tj) * MM_PER_M,
            f"{prefix}mesh_pve_mm": pve(pv, tv) * MM_PER_M, f"{prefix}fitted_frames": float(ok.sum())}


def score_outputs(ground_truth: Path, outputs: dict[str, Path], body_model: str = "mannequin") -> dict[str, float]:
    """MPJPE / PA-MPJPE of the lifter's joints and of the meshes' H36M joints, and PVE, against the
    ground truth, in millimetres: the fit (``smpl``: ``mesh_*``), HMR alone (``regressor``:
    ``hmr_mesh_*``) and SMPLify from the mean pose (``smpl_from_mean_pose``: ``mean_start_mesh_*``),
    whichever ``outputs`` has. Joints are root-relative (pelvis); PVE compares pelvis-aligned
    vertices."""
    from body_models.smpl import load_smpl

    with np.load(ground_truth, allow_pickle=False) as z:
        gt = dict(z)
    layers = []

    def smpl_layer():
        if not layers:
            layers.append(load_smpl(body_model))
        return layers[0]

    scores: dict[str, float] = {}
    if "joints3d" in outputs:
        lifted = Joints3D.load(outputs["joints3d"])
        pred, valid = lifted.joints[:, 0], lifted.valid[:, 0]
        target = gt["joints3d"][:, 0]
        scores["joints3d_mpjpe_mm"] = mpjpe(pred[valid], target[valid]) * MM_PER_M
        scores["joints3d_pa_mpjpe_mm"] = pa_mpjpe(pred[valid], target[valid]) * MM_PER_M
    if "regressor" in outputs:
        scores.update(_mesh_scores(gt, RegressorEstimates.load(outputs["regressor"]), smpl_layer(), "hmr_"))
    if "smpl_from_mean_pose" in outputs:
        scores.update(_mesh_scores(gt, SMPLSequence.load(outputs["smpl_from_mean_pose"]), smpl_layer(), "mean_start_"))
    if "smpl" in outputs:
        fit = SMPLSequence.load(outputs["smpl"])
        smpl = smpl_layer()
        scores.update(_mesh_scores(gt, fit, smpl, ""))
        from hmr.world.scores import camera_root_scores, world_scores

        scores.update(camera_root_scores(gt, fit, smpl))
        if "world" in outputs:
            scores.update(world_scores(gt, WorldSequence.load(outputs["world"])))
    return {k: round(float(v), 2) if np.isfinite(v) else None for k, v in scores.items()}


def lifter_on_true_2d(ground_truth: Path, out_dir: Path, options: PipelineOptions) -> dict[str, float]:
    """The lifter's MPJPE and PA-MPJPE (mm) on the clip's true 2D keypoints, beside its scores on
    the keypoints stage's output: how much of its error the 2D keypoints cause."""
    from hmr.core.fastpath import resolve_precision
    from lifting.inference import lift_keypoints_file

    true_2d = noisy_keypoints(ground_truth, out_dir / "keypoints2d_true.npz", noise_px=0.0, dropout=0.0)
    lifted = lift_keypoints_file(true_2d, options.lifter_weights, out_dir / "lift_true_2d", flip=options.flip,
                                 precision=resolve_precision(options.precision, options.device))
    scores = score_outputs(ground_truth, {"joints3d": lifted["npz"]})
    return {f"{name}_on_true_2d": value for name, value in scores.items()}


def score_keypoints(ground_truth: Path, keypoints2d: Path) -> dict[str, float]:
    """The keypoints stage against the ground truth: mean error over the visible joints (image
    pixels), PCK@0.05 of the longer side of the true box and the fraction of joints given, in %."""
    from hmr.pose2d.evaluation import score_keypoint_sequence

    with np.load(ground_truth, allow_pickle=False) as z:
        truth, boxes = z["keypoints"][:, 0], z["boxes"][:, 0]
    kp = Keypoints2D.load(keypoints2d)
    scores = score_keypoint_sequence(kp.keypoints, kp.valid, truth, boxes)
    return {"mean_px_error": round(scores["mean_px_error"], 2), "pck_0.05_pct": round(100 * scores["pck"], 1),
            "detected_pct": round(100 * scores["detected"], 1)}


def fit_from_mean_pose(keypoints: Path, out_dir: Path, options: PipelineOptions) -> Path:
    """The run's fit started from the mean pose instead of HMR's estimate: the baseline HMR's
    start has to beat; ``out_dir/fit_from_mean_pose/smpl.npz``."""
    from hmr.core.stages import RunContext
    from hmr.smplify.stage import FitSettings

    return FitSettings.from_options(options).run(out_dir / "fit_from_mean_pose", RunContext(device=options.device),
                                                 keypoints=keypoints)["smpl"]


def _keypoints_source(clip, options: PipelineOptions, keypoints: str, seed: int):
    """What the pipeline's keypoints stage reads: the clip itself for HRNet (the demo HRNet
    unless weights are given; the person followed by a tracker) or the noisy true keypoints.
    Returns (source, video, options, the stage's description)."""
    if keypoints == "noisy-truth":
        options = dataclasses.replace(options, hrnet_weights=None)
        source = noisy_keypoints(clip.ground_truth, clip.video.parent / "keypoints2d_noisy.npz", seed=seed)
        return source, clip.video, options, (f"stand-in: ground-truth 2D + {KEYPOINT_NOISE_PX:g} px noise, "
                                              f"{KEYPOINT_DROPOUT:.0%} joints dropped (--keypoints noisy-truth)")
    if options.hrnet_weights is None:
        options = dataclasses.replace(options, hrnet_weights=DEMO_HRNET)
    if Path(options.hrnet_weights).resolve() == DEMO_HRNET.resolve():
        what = (f"learned (synthetic): the project's demo HRNet {DEMO_HRNET.name}, trained on the synthetic image "
                "world, on the clip's pixels")
    else:
        what = f"learned: HRNet {options.hrnet_weights.name}, on the clip's pixels"
    # One person, known to be there: followed by its own keypoints, found by HOG when lost (the
    # first frame), so that no box comes from the ground truth.
    if options.detector == PipelineOptions.detector:
        options = dataclasses.replace(options, detector=FOLLOW_PREFIX + "hog")
    decoding = "DARK decoding" if options.refine == "dark" else "the official quarter-cell decoding"
    return clip.video, None, options, f"{what}, boxes from the {options.detector} tracker, {decoding}"


def run_demo(out_dir: str | os.PathLike, num_frames: int = 48, motion: str = "walk", seed: int = 0,
             options: PipelineOptions | None = None, progress: Progress = no_progress,
             on_progress: Progress | None = None, keypoints: str = "hrnet") -> DemoResult:
    """Synthesise the clip, run the pipeline on it and score it (see the module docstring).

    Args:
        out_dir: output folder; ``synthetic/`` holds the clip and its ground truth.
        num_frames: clip length.
        motion: a ``body_models.motion`` kind.
        seed: varies the motion and the keypoint noise.
        options: pipeline settings; weights left None use the stand-ins.
        progress: a ``body_models.progress.Progress`` reporter, as for ``run_pipeline``.
        on_progress: the old name of ``progress``, still accepted.
        keypoints: "hrnet" runs HRNet on the clip's pixels (``options.hrnet_weights``, else the
            shipped demo HRNet); "noisy-truth" gives the pipeline the true 2D keypoints with
            pixel noise and dropped joints instead, to score the later stages apart from HRNet.
    """
    if keypoints not in DEMO_KEYPOINTS:
        raise InputError(f"unknown demo keypoints {keypoints!r}: use one of {', '.join(DEMO_KEYPOINTS)}")
    out_dir = Path(out_dir)
    options = options or PipelineOptions()
    record = RunRecord("demo", {"num_frames": num_frames, "motion": motion, "seed": seed})
    stages = {}
    with record.stage("synthesise"):
        clip = make_synthetic_clip(out_dir / "synthetic", motion=motion, num_frames=num_frames, seed=seed, **CAMERA)
    source, video, options, stages["keypoints"] = _keypoints_source(clip, options, keypoints, seed)
    if options.lifter_weights is None:
        options = dataclasses.replace(options, lifter_weights=DEMO_LIFTER)
        stages["lift"] = "learned (synthetic): the project's demo lifter, trained on mannequin data"
    else:
        stages["lift"] = f"learned: VideoPose3D {options.lifter_weights.name}"
    if options.hmr_weights is None:
        options = dataclasses.replace(options, hmr_weights=DEMO_REGRESSOR)
        stages["regress"] = (f"learned (synthetic): the project's demo regressor {DEMO_REGRESSOR.name}, trained on "
                             "the synthetic image world, on the clip's pixels")
    else:
        stages["regress"] = f"learned: HMR {options.hmr_weights.name}, on the clip's pixels"
    stages["fit"] = ("SMPLify with the mannequin's pose prior, started from HMR; and from the mean pose, as the "
                     "baseline" if options.smplify else "off")
    result = run_pipeline(source, out_dir, options, video=video,
                          progress=on_progress if on_progress is not None else progress, record=record)
    if options.smplify and "regressor" in result.outputs:
        with record.stage("fit_from_mean_pose"):  # the baseline HMR's start has to beat
            result.outputs["smpl_from_mean_pose"] = fit_from_mean_pose(result.outputs["keypoints2d"],
                                                                       out_dir / "synthetic", options)
    with record.stage("score"):
        scores = score_outputs(clip.ground_truth, result.outputs, options.body_model)
        motion = motion_scores(clip.ground_truth, result.outputs["joints3d"]) if "joints3d" in result.outputs else {}
        keypoint_scores = score_keypoints(clip.ground_truth, result.outputs["keypoints2d"])
        if "joints3d" in result.outputs:
            scores.update(lifter_on_true_2d(clip.ground_truth, out_dir / "synthetic", options))
    scores_path = write_json(out_dir / "scores.json", {"scores_mm": scores, "motion_following": motion,
                                                       "keypoints_px": keypoint_scores, "stages": stages})
    record.data["scores_mm"] = scores
    record.data["motion_following"] = motion
    record.data["keypoints_px"] = keypoint_scores
    record.data["stages"] = stages
    result.outputs["run"] = record.save(out_dir / "run.json")
    result.outputs["scores"] = scores_path
    result.outputs["clip"] = clip.video
    result.outputs["ground_truth"] = clip.ground_truth
    return DemoResult(pipeline=result, scores=scores, stages=stages, outputs=result.outputs, motion=motion,
                      keypoint_scores=keypoint_scores)
