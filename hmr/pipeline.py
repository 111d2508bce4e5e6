"""The pipeline: a video (or a 2D keypoints file) in; 3D joints, SMPL meshes and an overlay out.

    keypoints  video → boxes → HRNet → keypoints2d.npz        (or: read a keypoints file)
    lift       keypoints2d.npz → VideoPose3D → joints3d.npz / .json
    regress    video + boxes → crops → HMR → regressor.npz      (when HMR weights are given)
    fit        keypoints (+ HMR estimate) → SMPLify → smpl.npz (or HMR alone without SMPLify)
    meshes     smpl.npz → meshes/<track>/<frame>.obj
    overlay    video + smpl.npz (+ keypoints) → overlay.mp4
    world      smpl.npz → world.npz                             (static camera: floor, contacts)
    export     smpl.npz → BVH, glTF, AMASS                      (when asked)

Each stage lives with its code (``hmr.pose2d.stage``, ``hmr.lift.stage``, ``hmr.regressor.stage``,
``hmr.smplify.stage``, ``hmr.io.stages``, ``hmr.world.stage``) as a frozen settings dataclass,
picked by field name from ``PipelineOptions``, with a ``run(out_dir, ctx, **inputs)`` method
(``hmr.core.stages``). ``run_pipeline`` builds the run context once (device, precision,
progress, ``run.json``'s record) and chains the stages.

Each stage's outputs are cached in the output folder with a fingerprint of its settings and of
the files it read (``.stages/<stage>.json``). A rerun skips every stage whose fingerprint still
matches, so an interrupted run resumes where it stopped, and a changed argument or weight file
reruns exactly the stages it affects (and those downstream, whose inputs then change).

``--device`` reaches HRNet, HMR and SMPLify; the lifter and the stages after the fit run on the
CPU. ``--precision`` reaches the networks; SMPLify fits in float32 on every device
(``hmr.smplify.video.FIT_PRECISION``). ``run.json``'s ``compute`` says, per stage, on which device
and in which precision it ran (for a cached stage: the run that computed it).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from body_models.atomic import remove_stale_temporaries
from body_models.errors import InputError, MissingFileError
from body_models.progress import Progress, as_progress, no_progress
from body_models.sequences import SMPLSequence, load_keypoints2d
from hmr.core.provenance import RunRecord
from hmr.core.stages import CACHE_DIR, CameraSettings, RunContext, StageCache, StageRunner, content_digest
from hmr.io.stages import MeshesSettings, OverlaySettings
from hmr.lift.stage import LiftSettings
from hmr.pose2d.boxes import track_summary
from hmr.pose2d.stage import KeypointsSettings, default_hrnet, is_keypoints_file
from hmr.regressor.stage import RegressSettings, default_regressor
from hmr.smplify.stage import FitSettings
from hmr.world.stage import WorldSettings

__all__ = [
    "CACHE_DIR",
    "PipelineOptions",
    "PipelineResult",
    "STAGES",
    "StageCache",
    "content_digest",
    "default_hrnet",
    "default_regressor",
    "is_keypoints_file",
    "run_pipeline",
]

STAGES = ("keypoints", "lift", "regress", "fit", "meshes", "overlay")


@dataclass(frozen=True)
class PipelineOptions:
    """Settings of ``run_pipeline``. Paths left None are not used; the stages that need them
    are skipped and ``run.json`` says so.

    Attributes:
        hrnet_weights: HRNet checkpoint (needed for video input).
        lifter_weights: VideoPose3D checkpoint taking COCO-17 (default: the shipped demo lifter,
            ``lifting.DEMO_WEIGHTS``, a synthetic-trained stand-in).
        hmr_weights: SPIN/HMR checkpoint; SMPLify then starts from its estimate.
        mean_params: SPIN's ``smpl_mean_params.npz`` (the mannequin's by default).
        body_model: ``"mannequin"`` or an SMPL model file or folder.
        gender: for a model folder.
        prior: ``gmm_08.pkl`` for SMPLify (the mannequin's own with the mannequin).
        j_regressor_extra: ``J_regressor_extra.npy`` (COCO joints on a real SMPL model).
        smplify: refine the body with SMPLify against the 2D keypoints.
        smplify_iterations: Adam steps per SMPLify stage (SPIN's 100 by default).
        smplify_full_mesh: SMPLify skins the full mesh at every step (SPIN's way) instead of only
            the joints its loss reads; the same fit, slower.
        smplify_warm_start: 0, or N: SMPLify fits every N-th frame of each person from its own
            start and the frames between from the previous frame's fit
            (``hmr.smplify.video.fit_keypoints_file``'s ``warm_start``).
        smplify_warm_iterations: Adam steps per stage of a warm-started frame; None: the fit's
            default (``hmr.smplify.video.WARM_ITERATIONS``).
        temporal_weight: SMPLify smoothness over frames (0: off).
        orient_from_lifter: SMPLify also starts from the orientation of the lifter's 3D joints.
        focal_length: full-image focal length, pixels (default: the image diagonal).
        fov: horizontal field of view, degrees (used when ``focal_length`` is None).
        calibration: an OpenCV-style calibration file (K and distortion; ``hmr.intrinsics``),
            which overrides ``focal_length`` and ``fov``.
        image_size: (width, height) for keypoint files that do not record it.
        frame_offset: added to a keypoints file's frame indices (COCO image ids) to give the
            video's frame numbers.
        boxes: a person boxes file for the keypoints stage.
        detector: the person detector when no boxes file is given: "hog" (OpenCV's, built in),
            an ``.onnx`` file, ``module:factory``, or "keypoints" (one person, followed by its
            keypoints); see ``hmr.pose2d.detectors``.
        flip: HRNet's and the lifter's flip test.
        refine: how HRNet's heatmap peaks become coordinates: None for the official quarter-cell
            shift (the official test's outputs), "dark" for DARK's Taylor refinement.
        device: "cpu", "cuda", ...: where HRNet, HMR and SMPLify run (the lifter and the
            later stages run on the CPU).
        precision: "fp32" (the exact official outputs), "bf16" (autocast for the networks, with
            BatchNorm folded and channels_last) or "auto" (bf16 where the hardware has it,
            ``hmr.fastpath.resolve_precision``). SMPLify fits in fp32 whatever this says
            (``hmr.smplify.video.FIT_PRECISION``); run.json records both.
        batch_size: crops per network call.
        compile: HRNet and HMR through ``torch.compile`` (``hmr.fastpath.CompiledNetwork``):
            faster per crop after tens of seconds of compilation per network on a CPU.
        meshes: write OBJ files.
        overlay: write overlay.mp4 (needs the video).
        skeleton: draw the 2D keypoints on the overlay too.
        side_by_side: add a panel with the lifter's 3D joints beside each overlay frame.
        smooth: ``none``, ``one-euro`` or ``temporal`` smoothing over time of the SMPL
            parameters (rotations on the rotation manifold) and the lifter's 3D joints
            (``hmr.world.smoothing``); ``smpl_unsmoothed.npz`` keeps the fit as it was.
        world: place the people in a world frame for a static camera (``world.npz``,
            ``hmr.world``): ground plane, contacts.
        refine_contacts: pin contact feet in ``world.npz`` (the contact-aware refinement; off
            by default: it removes foot sliding but can add drift, see the README).
        export: animation files to write at the end (``hmr.io.export.FORMATS``: bvh, glb, amass).
    """

    hrnet_weights: Path | None = None
    lifter_weights: Path | None = None
    hmr_weights: Path | None = None
    mean_params: Path | None = None
    body_model: str = "mannequin"
    gender: str = "neutral"
    prior: Path | None = None
    j_regressor_extra: Path | None = None
    smplify: bool = True
    smplify_iterations: int | None = None
    smplify_full_mesh: bool = False
    smplify_warm_start: int = 0
    smplify_warm_iterations: int | None = None
    temporal_weight: float = 0.0
    orient_from_lifter: bool = False
    focal_length: float | None = None
    fov: float | None = None
    calibration: Path | None = None
    image_size: tuple[int, int] | None = None
    frame_offset: int = 0
    boxes: Path | None = None
    detector: str = "hog"
    flip: bool = True
    refine: str | None = None
    device: str = "cpu"
    precision: str = "fp32"
    batch_size: int = 16
    compile: bool = False
    meshes: bool = True
    overlay: bool = True
    skeleton: bool = True
    side_by_side: bool = False
    smooth: str = "none"
    world: bool = True
    refine_contacts: bool = False
    export: tuple[str, ...] = ()


@dataclass
class PipelineResult:
    """Where the outputs went, how long each stage took (in the run that computed it), and
    one-line notes for the user (e.g. fits above the loss threshold)."""

    out_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def run_pipeline(source: str | os.PathLike, out_dir: str | os.PathLike, options: PipelineOptions | None = None,
                 video: str | os.PathLike | None = None, progress: Progress = no_progress,
                 record: RunRecord | None = None, on_progress: Progress | None = None) -> PipelineResult:
    """Run every stage that the inputs and weights allow, reusing cached stages.

    Args:
        source: a video file, an image folder, or a 2D keypoints file (our npz, COCO JSON,
            OpenPose folder; HRNet is then skipped).
        out_dir: output folder.
        options: the settings.
        video: the frames for the overlay and the regressor when ``source`` is a keypoints file.
        progress: a ``body_models.progress.Progress`` reporter, called as ``(stage, done, total)``
            by each stage that runs (not by cached ones): "keypoints", "regress" and "overlay" in
            frames, "fit" and "meshes" in person-frames.
        record: a ``RunRecord`` to extend (the CLI passes its own); ``run.json`` is written.
        on_progress: the old name of ``progress``, still accepted.
    """
    from hmr.core.fastpath import resolve_precision
    from hmr.world.smoothing import check_method

    options = options or PipelineOptions()
    options = dataclasses.replace(options, precision=resolve_precision(options.precision, options.device))
    check_method(options.smooth)
    source, out_dir = Path(source), Path(out_dir)
    if not source.exists():
        raise MissingFileError(f"input not found: {source}")
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)  # left by a run killed mid-write (kill -9)
    frames = Path(video) if video is not None else (None if is_keypoints_file(source) else source)
    record = record or RunRecord("run", {"source": str(source), **{
        k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()}})
    options = _with_default_weights(options, frames_are_source=frames == source)
    _record_stand_ins(options, record)
    run = StageRunner(out_dir, RunContext(options.device, options.precision,
                                          as_progress(on_progress if on_progress is not None else progress), record))
    result = PipelineResult(out_dir, outputs=run.outputs, seconds=run.seconds, cached=run.cached)

    keypoints = run(KeypointsSettings.from_options(options), source=source, frames=frames)["keypoints2d"]
    _record_tracks(keypoints, options, record, result)
    joints3d = run(LiftSettings.from_options(options), keypoints=keypoints)["joints3d"]
    regressor = _regress(run, options, frames, keypoints, result)
    smpl = None
    if options.smplify or regressor is not None:
        smpl = run(FitSettings.from_options(options), keypoints=keypoints, regressor=regressor,
                   joints3d=joints3d if options.orient_from_lifter else None)["smpl"]
        _record_over_threshold(smpl, record, result)
    else:
        result.skipped["fit"] = "SMPLify is off and there is no HMR estimate"
    if smpl is not None and options.meshes:
        run(MeshesSettings.from_options(options), smpl=smpl)
    if options.overlay and frames is not None:
        run(OverlaySettings.from_options(options), video=frames, keypoints=keypoints, smpl=smpl,
            joints3d=joints3d if options.side_by_side else None)
    elif options.overlay:
        result.skipped["overlay"] = "no video frames (give --video with a keypoints file)"
    _world(run, options, smpl, result)
    _export(options, smpl, record, result)
    return _finish(record, result, options, source, video)


def _with_default_weights(options: PipelineOptions, frames_are_source: bool) -> PipelineOptions:
    """One rule for defaults, as in ``hmr lift`` and ``hmr keypoints``: a video without HRNet
    weights gets ``default_hrnet()``, and every run without a lifter the shipped demo lifter."""
    from lifting import DEMO_WEIGHTS

    if options.hrnet_weights is None and frames_are_source:
        options = dataclasses.replace(options, hrnet_weights=default_hrnet())
    if options.lifter_weights is None:
        options = dataclasses.replace(options, lifter_weights=DEMO_WEIGHTS)
    return options


def _record_stand_ins(options: PipelineOptions, record: RunRecord) -> None:
    """``run.json``'s ``stand_ins``: each stage that runs one of the project's synthetic-trained models."""
    from hmr.pose2d.checkpoints import DEMO_WEIGHTS as DEMO_HRNET
    from hmr.regressor.checkpoints import DEMO_WEIGHTS as DEMO_REGRESSOR
    from lifting import DEMO_WEIGHTS as DEMO_LIFTER

    notes = (("keypoints", options.hrnet_weights, DEMO_HRNET,
              "the project's demo HRNet trained on synthetic mannequin images (no HRNet weights given: "
              "--hrnet-weights or HMR_WEIGHTS_HRNET_W32)"),
             ("lift", options.lifter_weights, DEMO_LIFTER,
              "the project's synthetic-trained demo lifter (no VideoPose3D weights given: --lifter-weights or "
              "HMR_WEIGHTS_VP3D_COCO)"),
             ("regress", options.hmr_weights, DEMO_REGRESSOR,
              "the project's demo HMR regressor trained on the synthetic image world (no HMR weights given: "
              "--hmr-weights or HMR_WEIGHTS_SPIN)"))
    for stage, given, demo, what in notes:
        if given is not None and Path(given).resolve() == demo.resolve():
            record.data.setdefault("stand_ins", {})[stage] = f"{demo.name}, {what}"


def _record_tracks(keypoints: Path, options: PipelineOptions, record: RunRecord, result: PipelineResult) -> None:
    """Who was tracked and for how long, and the camera the later stages use, into ``run.json``."""
    kp = load_keypoints2d(keypoints)
    record.data["tracks"], tracks_line = track_summary(kp.valid, kp.track_ids, kp.frame_indices)
    result.notes.append(tracks_line)
    record.data["intrinsics"] = CameraSettings.from_options(options).intrinsics(kp.image_size).to_json()


def _regress(run: StageRunner, options: PipelineOptions, frames: Path | None, keypoints: Path,
             result: PipelineResult) -> Path | None:
    if options.hmr_weights is None:
        result.skipped["regress"] = "no HMR weights given; SMPLify starts from the mean pose"
        return None
    if frames is None:
        result.skipped["regress"] = "no video frames to crop (give --video with a keypoints file)"
        return None
    return run(RegressSettings.from_options(options), video=frames, keypoints=keypoints)["regressor"]


def _record_over_threshold(smpl: Path, record: RunRecord, result: PipelineResult) -> None:
    """The fits above SPIN's loss threshold, from ``smpl.npz``, into run.json and the notes."""
    from hmr.smplify.fit import SMPLifyConfig
    from hmr.smplify.video import over_threshold_hint, over_threshold_report

    over = SMPLSequence.load(smpl).over_threshold
    record.data["over_threshold"] = over_threshold_report(over, SMPLifyConfig().loss_threshold)
    hint = over_threshold_hint(over)
    if hint:
        result.notes.append(hint)


def _world(run: StageRunner, options: PipelineOptions, smpl: Path | None, result: PipelineResult) -> None:
    """``world.npz`` when asked and there is a fit; a run with no floor to be found stands without it."""
    world = result.out_dir / "world.npz"
    if smpl is None or not options.world:
        if smpl is not None:
            world.unlink(missing_ok=True)
        return
    try:
        run(WorldSettings.from_options(options), smpl=smpl)
    except InputError as err:
        world.unlink(missing_ok=True)
        result.skipped["world"] = str(err)


def _export(options: PipelineOptions, smpl: Path | None, record: RunRecord, result: PipelineResult) -> None:
    """The animation files asked for (``hmr.io.export``), written from the run's outputs."""
    if not options.export:
        return
    if smpl is None:
        result.skipped["export"] = "no SMPL output to export"
        return
    from hmr.io.export import export_run

    with record.stage("export"):
        result.outputs.update(export_run(result.out_dir, options.export, body_model=options.body_model,
                                         gender=options.gender))
    record.data["compute"]["export"] = {"device": "cpu", "precision": "fp32"}


def _finish(record: RunRecord, result: PipelineResult, options: PipelineOptions, source: Path,
            video: str | os.PathLike | None) -> PipelineResult:
    """The files read (with their hashes), the timings and the cached and skipped stages into
    ``run.json``, written once."""
    body_file = None if options.body_model == "mannequin" else Path(options.body_model)
    for role, path in (("input", source if source.is_file() else None), ("video", video),
                       ("body_model", body_file), ("hrnet_weights", options.hrnet_weights),
                       ("lifter_weights", options.lifter_weights), ("hmr_weights", options.hmr_weights),
                       ("mean_params", options.mean_params), ("pose_prior", options.prior),
                       ("j_regressor_extra", options.j_regressor_extra), ("calibration", options.calibration)):
        if path is not None and Path(path).is_file():
            record.add_file(role, path)
    record.data["timings_s"].update(result.seconds)
    record.data["cached_stages"] = result.cached
    record.data["skipped_stages"] = result.skipped
    result.outputs["run"] = record.save(result.out_dir / "run.json")
    return result
