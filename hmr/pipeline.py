"""The pipeline: a video (or a 2D keypoints file) in; 3D joints, SMPL meshes and an overlay out.

Plain functions, one per stage, chained by ``run_pipeline``:

    keypoints  video → boxes → HRNet → keypoints2d.npz        (or: read a keypoints file)
    lift       keypoints2d.npz → VideoPose3D → joints3d.npz / .json
    regress    video + boxes → crops → HMR → regressor.npz      (when HMR weights are given)
    fit        keypoints (+ HMR estimate) → SMPLify → smpl.npz (or HMR alone without SMPLify)
    meshes     smpl.npz → meshes/<track>/<frame>.obj
    overlay    video + smpl.npz (+ keypoints) → overlay.mp4

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
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from body_models.atomic import remove_stale_temporaries, write_json
from body_models.errors import InputError, MissingFileError
from body_models.meshes import save_obj_sequence
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from body_models.rotations import matrix_to_axis_angle
from body_models.sequences import load_sequence_arrays, save_sequence_arrays
from hmr.pose2d.boxes import track_summary
from hmr.core.input_checks import align_frame_indices, check_fps, check_image_size
from hmr.pose2d.keypoints_io import Keypoints2D, load_keypoints2d, load_keypoints_file, save_keypoints2d
from hmr.core.provenance import RunRecord, file_sha256
from hmr.io.skeletons import skeleton_panel

CACHE_DIR = ".stages"
STAGES = ("keypoints", "lift", "regress", "fit", "meshes", "overlay")

# Every stage reports (stage name, units done, units in all) to one ``body_models.progress.Progress``
# (re-exported here); the CLI turns these into progress bars.


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


# ---------------------------------------------------------------------------------------------
# stage cache


class StageCache:
    """Fingerprints of finished stages, kept in ``out_dir/.stages``."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = Path(out_dir) / CACHE_DIR

    @staticmethod
    def fingerprint(settings: dict, inputs: list[Path | None]) -> str:
        """A digest of the stage's settings and of the content of every input file."""
        import hashlib

        digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
        for path in inputs:
            digest.update(b"-" if path is None or not Path(path).exists() else content_digest(path).encode())
        return digest.hexdigest()

    def fresh(self, stage: str, fingerprint: str) -> tuple[dict[str, Path], float, dict] | None:
        """The stage's recorded outputs, the seconds it took and where it ran (``store``'s
        ``compute``, {} when not recorded), if it finished with this fingerprint and every
        output is still there with the content it was written with (a file truncated or edited
        since is recomputed)."""
        path = self.dir / f"{stage}.json"
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
            outputs = {k: Path(v) for k, v in record["outputs"].items()}
            digests = record["digests"]
            seconds = float(record.get("seconds", 0.0))
            compute = dict(record.get("compute") or {})
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            return None
        if record.get("fingerprint") != fingerprint:
            return None
        for role, output in outputs.items():
            if not output.exists() or digests.get(role) != content_digest(output):
                return None
        return outputs, seconds, compute

    def store(self, stage: str, fingerprint: str, outputs: dict[str, Path], seconds: float,
              compute: dict | None = None) -> None:
        """Record a finished stage; ``compute`` is where it ran ({"device": ..., "precision": ...})."""
        write_json(self.dir / f"{stage}.json",
                   {"fingerprint": fingerprint, "outputs": {k: str(v) for k, v in outputs.items()},
                    "digests": {k: content_digest(v) for k, v in outputs.items()}, "seconds": seconds,
                    "compute": compute or {}})

    def forget(self, stage: str) -> None:
        (self.dir / f"{stage}.json").unlink(missing_ok=True)


def content_digest(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, recursively)."""
    import hashlib

    path = Path(path)
    if not path.is_dir():
        return file_sha256(path)
    digest = hashlib.sha256()
    for child in sorted(path.rglob("*")):
        if child.is_file() and ".tmp" not in child.name:
            digest.update(str(child.relative_to(path)).encode() + file_sha256(child).encode())
    return digest.hexdigest()


def _options_for(options: PipelineOptions, *names: str) -> dict:
    return {name: getattr(options, name) for name in names}


def fit_settings(options: PipelineOptions) -> dict:
    """The settings in the fit stage's fingerprint.

    The device is in it only when it is not the CPU, and then as its type ("cuda"): a GPU fit
    rounds differently from the CPU's, so the two must not stand in for each other, while on the
    CPU the key stays what it was before the fit took a device, and the caches of earlier runs
    stay valid. ``precision`` is not in it: the fit is fp32 whatever it says.
    """
    settings = _options_for(options, "smplify", "body_model", "gender", "prior", "j_regressor_extra",
                            "smplify_iterations", "temporal_weight", "focal_length", "fov", "mean_params",
                            "smooth", "orient_from_lifter", "smplify_full_mesh", "smplify_warm_start",
                            "smplify_warm_iterations")
    kind = torch.device(options.device).type
    if options.smplify and kind != "cpu":
        settings["device"] = kind
    return settings


def fit_compute(options: PipelineOptions) -> dict:
    """Where the fit stage runs and in which precision, for ``run.json``'s ``compute``."""
    from hmr.smplify.video import FIT_PRECISION

    if not options.smplify:
        return {"device": "cpu", "precision": "fp32", "note": "HMR's estimate alone (SMPLify off)"}
    compute = {"device": str(options.device), "precision": FIT_PRECISION}
    if options.precision != FIT_PRECISION:
        compute["note"] = (f"SMPLify fits in {FIT_PRECISION} whatever --precision says; "
                           f"--precision {options.precision} applies to the networks")
    return compute


# ---------------------------------------------------------------------------------------------
# stages


def is_keypoints_file(path: Path) -> bool:
    """True for inputs that already hold 2D keypoints (our npz, COCO JSON, OpenPose folder)."""
    path = Path(path)
    if path.is_dir():
        return any(path.glob("*_keypoints.json"))
    return path.suffix.lower() in (".npz", ".json")


def stage_keypoints(source: Path, out_dir: Path, options: PipelineOptions,
                    progress: Progress = no_progress, video=None) -> dict[str, Path]:
    """2D keypoints of every person and frame → ``keypoints2d.npz``; HRNet reports
    ``("keypoints", frames done, frames)`` to ``progress``.

    A video or image folder goes through HRNet (``hmr.keypoints_stage.run_keypoints``); a
    keypoints file is read and written again in our schema. With ``video`` (the frames'
    ``hmr.video.VideoInfo``) the file's image size, frame indices (shifted by
    ``options.frame_offset``) and fps are checked against the video (``hmr.input_checks``).
    """
    if video is not None:
        check_image_size(video.path, (video.width, video.height), options.image_size)
    if is_keypoints_file(source):
        kp = load_keypoints_file(source, image_size=None if video is not None else options.image_size)
        if video is not None:
            kp = dataclasses.replace(
                kp, image_size=check_image_size(video.path, (video.width, video.height), options.image_size,
                                                source, kp.image_size),
                frame_indices=align_frame_indices(kp.frame_indices, video.num_frames, source, video.path,
                                                  options.frame_offset),
                fps=check_fps(kp.fps, video.fps, source, video.path))
        if kp.image_size == (0, 0):
            raise InputError(f"{source} does not record the image size; pass --image-size W H (or --video)")
        # The lifter and the rest of the pipeline take COCO-17 (HRNet's output); OpenPose's
        # BODY_25 joints are picked by name.
        return {"keypoints2d": save_keypoints2d(out_dir / "keypoints2d.npz", kp.to_joint_set("coco_17"))}
    from hmr.keypoints_stage import run_keypoints

    result = run_keypoints(source, out_dir, weights=options.hrnet_weights or default_hrnet(), boxes=options.boxes,
                           detector=options.detector,
                           flip=options.flip,
                           batch_size=options.batch_size, device=options.device, precision=options.precision,
                           compile=options.compile, progress=progress)
    if not result.keypoints.valid.any():
        raise InputError(f"no person was found in {source} by the {options.detector} detector; give a boxes file "
                         "(--boxes), another --detector, or check the video")
    return {"keypoints2d": result.path}


def default_hrnet() -> Path:
    """The HRNet a run uses when none is given: the configured ``hrnet_w32`` (``hmr weights``),
    else the shipped synthetic-trained demo HRNet (``hmr.pose2d.DEMO_WEIGHTS``)."""
    from hmr.pose2d.checkpoints import DEMO_WEIGHTS
    from hmr.core.weights import require, resolve

    return require("hrnet_w32") if resolve("hrnet_w32").exists or not DEMO_WEIGHTS.is_file() else DEMO_WEIGHTS


def default_regressor() -> Path | None:
    """The HMR regressor a run on frames uses when none is given: the configured ``spin``
    checkpoint (``hmr weights``), else the shipped synthetic-trained demo regressor
    (``hmr.regressor.DEMO_WEIGHTS``), else none (SMPLify starts from the mean pose)."""
    from hmr.regressor.checkpoints import DEMO_WEIGHTS
    from hmr.core.weights import require, resolve

    if resolve("spin").exists:
        return require("spin")
    return DEMO_WEIGHTS if DEMO_WEIGHTS.is_file() else None


def stage_lift(keypoints_path: Path, out_dir: Path, options: PipelineOptions) -> dict[str, Path]:
    """VideoPose3D on every tracked person → ``joints3d.npz`` and ``joints3d.json``."""
    from lifting.inference import lift_keypoints_file

    written = lift_keypoints_file(keypoints_path, options.lifter_weights, out_dir, flip=options.flip,
                                  precision=options.precision)
    if options.smooth != "none":
        from hmr.world.smoothing import smooth_joints3d_file

        smooth_joints3d_file(written["npz"], options.smooth)
    return {"joints3d": written["npz"], "joints3d_json": written["json"]}


def stage_regress(video: Path, keypoints_path: Path, out_dir: Path, options: PipelineOptions,
                  progress: Progress = no_progress) -> dict[str, Path]:
    """HMR on square crops around each person's keypoint box → ``regressor.npz``; reports
    ``("regress", frames done, frames)`` to ``progress``.

    Arrays (T, P, ...): ``global_orient``, ``body_pose`` axis-angle; ``betas``; ``cam`` (s, tx,
    ty) of the crop; ``transl`` metres in the full-image camera (focal length as the fit uses);
    ``valid``.
    """
    from hmr.core.fastpath import CompiledNetwork, autocast, inference_copy
    from hmr.regressor import load_pretrained
    from hmr.regressor.crops import crop_boxes, full_image_translation
    from hmr.io.video import iter_frames, prefetch

    kp = load_keypoints2d(keypoints_path)
    model = load_pretrained(options.hmr_weights, mean_params=options.mean_params).to(options.device)
    t_all, p_all = kp.num_frames, kp.num_people
    focal = camera_intrinsics(kp, options).fx
    out = {"global_orient": np.full((t_all, p_all, 3), np.nan, np.float32),
           "body_pose": np.full((t_all, p_all, 69), np.nan, np.float32),
           "betas": np.full((t_all, p_all, 10), np.nan, np.float32),
           "cam": np.full((t_all, p_all, 3), np.nan, np.float32),
           "transl": np.full((t_all, p_all, 3), np.nan, np.float32)}
    row_of = {int(f): t for t, f in enumerate(kp.frame_indices)}
    # fp32 runs the model as loaded (exact); bf16 a copy with BatchNorm folded and channels_last.
    net = inference_copy(model) if options.precision == "bf16" else model

    def estimates(output) -> tuple:  # what the stage reads of an HMROutput
        return output.rotmat, output.cam, output.betas

    if options.compile:
        net = CompiledNetwork(net, max_batch=options.batch_size, pick=estimates)
        with torch.no_grad(), autocast(options.device, options.precision):
            net.warm_up(torch.zeros(options.batch_size, 3, model.config.image_size, model.config.image_size,
                                    device=options.device))
    pending: list[tuple[int, np.ndarray, object]] = []  # (row, people, crops) awaiting one network call
    counter = StageCounter(as_progress(progress), "regress", t_all)

    def flush() -> None:
        if not pending:
            return
        images = torch.cat([crops.images for _, _, crops in pending]).to(options.device)
        with torch.no_grad(), autocast(options.device, options.precision):
            output = net(images)
        rotmat, cam, betas = (x.float().cpu() for x in (output if options.compile else estimates(output)))
        pose = matrix_to_axis_angle(rotmat).reshape(len(images), 72).numpy()
        start = 0
        for t, people, crops in pending:
            rows = slice(start, start + len(people))
            start += len(people)
            out["global_orient"][t, people] = pose[rows, :3]
            out["body_pose"][t, people] = pose[rows, 3:]
            out["betas"][t, people] = betas[rows].numpy()
            out["cam"][t, people] = cam[rows].numpy()
            out["transl"][t, people] = full_image_translation(cam[rows], crops, kp.image_size, focal).transl.numpy()
        counter.advance(len(pending))
        pending.clear()

    # Crops of several frames go through the network together (options.batch_size people).
    queued = 0
    for frame in prefetch(iter_frames(video)):
        t = row_of.get(frame.index)
        if t is None:
            continue
        people = np.flatnonzero(kp.valid[t] & np.isfinite(kp.boxes[t]).all(-1))
        if len(people):
            x1y1, x2y2 = kp.boxes[t, people, :2], kp.boxes[t, people, 2:]
            boxes = np.concatenate([x1y1, np.maximum(x2y2 - x1y1, 1.0)], -1)
            pending.append((t, people, crop_boxes(frame.image, boxes, rescale=1.2, size=model.config.image_size)))
            queued += len(people)
        else:
            counter.advance()
        if queued >= options.batch_size:
            flush()
            queued = 0
    flush()
    path = save_sequence_arrays(out_dir / "regressor.npz", "regressor", valid=kp.valid,
                                focal_length=np.float64(focal), **out)
    return {"regressor": path}


def stage_fit(keypoints_path: Path, regressor_path: Path | None, out_dir: Path, options: PipelineOptions,
              progress: Progress = no_progress, joints3d_path: Path | None = None) -> dict[str, Path]:
    """SMPL bodies → ``smpl.npz``: SMPLify against the 2D keypoints, started from the HMR
    estimate when there is one (and with ``joints3d_path`` also from the lifter's orientation);
    or the HMR estimate alone when SMPLify is off. SMPLify reports ``("fit", person-frames done,
    person-frames)`` to ``progress``."""
    from hmr.smplify.video import fit_keypoints_file

    if options.smplify:
        kp = load_keypoints2d(keypoints_path)
        camera = camera_intrinsics(kp, options)
        if not camera.is_ideal:  # distortion or non-square pixels: fit the ideal camera's keypoints
            kp = dataclasses.replace(kp, keypoints=camera.ideal_keypoints(kp.keypoints).astype(np.float32))
            keypoints_path = save_keypoints2d(out_dir / CACHE_DIR / "keypoints2d_ideal_camera.npz", kp)
        fit_keypoints_file(
            keypoints_path, out_dir, body_model=options.body_model, gender=options.gender, prior=options.prior,
            focal_length=camera.fx, principal_point=(camera.cx, camera.cy),
            temporal_weight=options.temporal_weight, iterations=options.smplify_iterations, meshes=False,
            mean_params=options.mean_params, j_regressor_extra=options.j_regressor_extra,
            initial=regressor_path, progress=progress, orientation_joints=joints3d_path,
            joints_only=False if options.smplify_full_mesh else None, warm_start=options.smplify_warm_start,
            warm_iterations=options.smplify_warm_iterations, write_run_json=False, device=options.device)
        smpl_path = out_dir / "smpl.npz"
    else:
        smpl_path = _smpl_from_regressor(keypoints_path, regressor_path, out_dir, options)
    if options.smooth != "none":
        from body_models.smpl import load_smpl
        from hmr.world.smoothing import smooth_smpl_file

        smooth_smpl_file(smpl_path, load_smpl(options.body_model, gender=options.gender), options.smooth)
    return {"smpl": smpl_path}


def _smpl_from_regressor(keypoints_path: Path, regressor_path: Path, out_dir: Path,
                         options: PipelineOptions) -> Path:
    """``smpl.npz`` from the HMR estimate alone (SMPLify off): the fit's schema, with no fit."""
    from body_models.smpl import load_smpl
    from hmr.smplify.video import save_smpl_npz

    kp = load_keypoints2d(keypoints_path)
    est = load_sequence_arrays(regressor_path, "regressor")
    smpl = load_smpl(options.body_model, gender=options.gender)
    t_all, p_all = est["valid"].shape
    joints = np.full((t_all, p_all, 24, 3), np.nan, np.float32)
    ok = est["valid"] & np.isfinite(est["transl"]).all(-1)
    if ok.any():
        with torch.no_grad():
            body = smpl(betas=torch.as_tensor(est["betas"][ok]), body_pose=torch.as_tensor(est["body_pose"][ok]),
                        global_orient=torch.as_tensor(est["global_orient"][ok]),
                        transl=torch.as_tensor(est["transl"][ok]))
        joints[ok] = body.joints.numpy()
    return save_smpl_npz(out_dir / "smpl.npz", global_orient=est["global_orient"], body_pose=est["body_pose"],
                         betas=est["betas"], cam=est["cam"], transl=est["transl"], joints=joints, valid=ok,
                         focal_length=float(est["focal_length"]), image_size=kp.image_size, track_ids=kp.track_ids,
                         frame_indices=kp.frame_indices, fps=kp.fps, body_model=smpl.name,
                         keypoints_joint_set=kp.joint_set, betas_per="frame")


def _smpl_arrays(smpl_path: Path) -> dict[str, np.ndarray]:
    return load_sequence_arrays(smpl_path, "smpl")


def _bodies(smpl_path: Path, options: PipelineOptions):
    """The SMPL layer and, per frame row, the (person, vertices) present in ``smpl.npz``."""
    from body_models.smpl import load_smpl

    data = _smpl_arrays(smpl_path)
    smpl = load_smpl(options.body_model, gender=options.gender)
    ok = data["valid"].astype(bool) & np.isfinite(data["transl"]).all(-1) & np.isfinite(data["body_pose"]).all(-1)
    return smpl, data, ok


def _vertices(smpl, data, rows: np.ndarray, people: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        body = smpl(betas=torch.as_tensor(data["betas"][rows, people], dtype=torch.float32),
                    body_pose=torch.as_tensor(data["body_pose"][rows, people], dtype=torch.float32),
                    global_orient=torch.as_tensor(data["global_orient"][rows, people], dtype=torch.float32),
                    transl=torch.as_tensor(data["transl"][rows, people], dtype=torch.float32))
    return body.vertices.numpy()


def stage_meshes(smpl_path: Path, out_dir: Path, options: PipelineOptions,
                 progress: Progress = no_progress) -> dict[str, Path]:
    """One OBJ per person and frame: ``meshes/<track>/<frame>.obj`` (SMPL vertex order, camera
    frame, metres); reports ``("meshes", meshes written, meshes)`` to ``progress``."""
    smpl, data, ok = _bodies(smpl_path, options)
    counter = StageCounter(as_progress(progress), "meshes", int(ok.sum()))
    header = f"body model: {smpl.name}" + (" (synthetic stand-in, not SMPL)" if smpl.is_mannequin else "")
    track_ids = data.get("track_ids", np.arange(ok.shape[1]))
    frames = data.get("frame_indices", np.arange(ok.shape[0]))
    for p in range(ok.shape[1]):
        rows = np.flatnonzero(ok[:, p])
        for start in range(0, len(rows), 64):
            chunk = rows[start:start + 64]
            vertices = _vertices(smpl, data, chunk, np.full(len(chunk), p))
            save_obj_sequence(out_dir / "meshes" / str(int(track_ids[p])), vertices, smpl.faces,
                              frame_indices=frames[chunk], header=header)
            counter.advance(len(chunk))
    return {"meshes": out_dir / "meshes"}


def stage_overlay(video: Path, smpl_path: Path | None, keypoints_path: Path, out_dir: Path,
                  options: PipelineOptions, progress: Progress = no_progress,
                  joints3d_path: Path | None = None) -> dict[str, Path]:
    """The input frames with the meshes (and optionally the 2D skeletons) drawn on top, and with
    ``options.side_by_side`` a panel of the lifter's 3D joints beside them; reports
    ``("overlay", frames written, frames in the video)`` to ``progress``."""
    from hmr.io.render import Camera, MeshRenderer
    from hmr.io.skeletons import PANEL_BACKGROUND, draw_skeleton_2d
    from hmr.io.video import VideoWriter, iter_frames, prefetch, probe_video

    info = probe_video(video)
    kp = load_keypoints2d(keypoints_path)
    row_of = {int(f): t for t, f in enumerate(kp.frame_indices)}
    bodies = _bodies(smpl_path, options) if smpl_path is not None else None
    renderer = None
    if bodies is not None:
        camera = camera_intrinsics(kp, options)
        renderer = MeshRenderer(Camera(info.width, info.height, (camera.fx, camera.fy), (camera.cx, camera.cy)))
    lifted = None
    if options.side_by_side and joints3d_path is not None:
        z = load_sequence_arrays(joints3d_path, "joints3d")
        lifted = (z["joints"], z["valid"])
    counter = StageCounter(as_progress(progress), "overlay", info.num_frames or None)
    with VideoWriter(out_dir / "overlay.mp4", fps=info.fps or kp.fps or 30.0) as writer:
        for frame in prefetch(iter_frames(video)):
            image = frame.image
            t = row_of.get(frame.index)
            if t is not None and renderer is not None:
                smpl, data, ok = bodies
                people = np.flatnonzero(ok[t])
                if len(people):
                    vertices = _vertices(smpl, data, np.full(len(people), t), people)
                    image = renderer.overlay(image, [(v.astype(np.float64), smpl.faces) for v in vertices])
            if t is not None and options.skeleton:  # left blue, right orange (hmr.skeletons)
                coco = kp.to_joint_set("coco_17").keypoints[t] if kp.joint_set != "coco_17" else kp.keypoints[t]
                image = draw_skeleton_2d(image, coco, "coco_17")
            if lifted is not None:
                panel = (skeleton_panel(lifted[0][t], lifted[1][t], image.shape[0]) if t is not None
                         else np.full((image.shape[0], image.shape[0], 3), PANEL_BACKGROUND, np.uint8))
                image = np.concatenate([image, panel], axis=1)
            writer.write(image, frame.time_s)
            counter.advance()
    return {"overlay": out_dir / "overlay.mp4"}


def camera_intrinsics(kp: Keypoints2D, options: PipelineOptions):
    """The full image's camera (``hmr.intrinsics.Intrinsics``): the calibration file, the focal
    length, the field of view, or the image diagonal."""
    from hmr.core.intrinsics import resolve_intrinsics

    return resolve_intrinsics(kp.image_size, focal_length=options.focal_length, fov_deg=options.fov,
                              calibration=options.calibration)


def _record_over_threshold(smpl_path: Path, record: RunRecord, result: PipelineResult) -> None:
    """The fits above SPIN's loss threshold, from ``smpl.npz``, into run.json and the notes."""
    from hmr.smplify.fit import SMPLifyConfig
    from hmr.smplify.video import over_threshold_hint, over_threshold_report

    data = _smpl_arrays(smpl_path)
    over = data.get("over_threshold", np.zeros((0, 2), np.int64))
    record.data["over_threshold"] = over_threshold_report(over, SMPLifyConfig().loss_threshold)
    hint = over_threshold_hint(over)
    if hint:
        result.notes.append(hint)


# ---------------------------------------------------------------------------------------------


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
    options = options or PipelineOptions()
    progress = as_progress(on_progress if on_progress is not None else progress)
    from hmr.core.fastpath import resolve_precision

    options = dataclasses.replace(options, precision=resolve_precision(options.precision, options.device))
    from hmr.world.smoothing import check_method

    check_method(options.smooth)
    source = Path(source)
    if not source.exists():
        raise MissingFileError(f"input not found: {source}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)  # left by a run killed mid-write (kill -9)
    frames_source = Path(video) if video is not None else (None if is_keypoints_file(source) else source)
    cache = StageCache(out_dir)
    result = PipelineResult(out_dir)
    record = record or RunRecord("run", {"source": str(source), **{
        k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(options).items()}})

    computed_on = record.data.setdefault("compute", {})  # stage → {"device", "precision"[, "note"]}

    def run(stage: str, settings: dict, inputs: list, fn, compute: dict | None = None) -> dict[str, Path] | None:
        compute = compute or {"device": "cpu", "precision": "fp32"}
        fingerprint = cache.fingerprint({"stage": stage, **settings}, inputs)
        cached = cache.fresh(stage, fingerprint)
        if cached is not None:
            outputs, seconds, stored = cached
            result.cached.append(stage)
            result.seconds[stage] = seconds  # the time of the run that computed it
            # where the run that computed it ran (a fingerprint need not hold the device)
            computed_on[stage] = {**compute, **{k: stored[k] for k in ("device", "precision") if k in stored}}
            result.outputs.update(outputs)
            return outputs
        cache.forget(stage)
        start = time.perf_counter()
        outputs = fn()
        result.seconds[stage] = round(time.perf_counter() - start, 3)
        cache.store(stage, fingerprint, outputs, result.seconds[stage],
                    {k: compute[k] for k in ("device", "precision")})
        computed_on[stage] = compute
        result.outputs.update(outputs)
        return outputs

    from hmr.io.video import probe_video

    info = probe_video(frames_source) if frames_source is not None else None

    body_file = None if options.body_model == "mannequin" else Path(options.body_model)
    if options.hrnet_weights is None and frames_source == source:  # one rule for defaults, as for the lifter
        options = dataclasses.replace(options, hrnet_weights=default_hrnet())
    from hmr.pose2d.checkpoints import DEMO_WEIGHTS as DEMO_HRNET

    if options.hrnet_weights is not None and Path(options.hrnet_weights).resolve() == DEMO_HRNET.resolve():
        record.data.setdefault("stand_ins", {})["keypoints"] = (
            f"{DEMO_HRNET.name}, the project's demo HRNet trained on synthetic mannequin images (no HRNet "
            "weights given: --hrnet-weights or HMR_WEIGHTS_HRNET_W32)")
    kp_out = run("keypoints", {**_options_for(options, "hrnet_weights", "boxes", "detector", "flip", "image_size",
                                              "precision", "compile", "frame_offset"),
                              "video": str(frames_source)},
                 [source, options.hrnet_weights, options.boxes, frames_source,
                  Path(options.detector) if options.detector.lower().endswith(".onnx") else None],
                 lambda: stage_keypoints(source, out_dir, options, progress, info),
                 {"device": "cpu", "precision": "fp32", "note": "read from the input keypoints file (no HRNet)"}
                 if is_keypoints_file(source) else {"device": str(options.device), "precision": options.precision})
    keypoints_path = kp_out["keypoints2d"]
    kp = load_keypoints2d(keypoints_path)
    record.data["tracks"], tracks_line = track_summary(kp.valid, kp.track_ids, kp.frame_indices)
    result.notes.append(tracks_line)
    record.data["intrinsics"] = camera_intrinsics(kp, options).to_json()

    from lifting import DEMO_WEIGHTS

    if options.lifter_weights is None:  # one rule for defaults: the shipped lifter, as in `hmr lift`
        options = dataclasses.replace(options, lifter_weights=DEMO_WEIGHTS)
    if Path(options.lifter_weights).resolve() == DEMO_WEIGHTS.resolve():
        record.data.setdefault("stand_ins", {})["lift"] = (
            f"{DEMO_WEIGHTS.name}, the project's synthetic-trained demo lifter (no VideoPose3D weights given: "
            "--lifter-weights or HMR_WEIGHTS_VP3D_COCO)")
    run("lift", _options_for(options, "lifter_weights", "flip", "precision", "smooth"),
        [keypoints_path, options.lifter_weights],
        lambda: stage_lift(keypoints_path, out_dir, options), {"device": "cpu", "precision": options.precision})

    from hmr.regressor.checkpoints import DEMO_WEIGHTS as DEMO_REGRESSOR

    if options.hmr_weights is not None and Path(options.hmr_weights).resolve() == DEMO_REGRESSOR.resolve():
        record.data.setdefault("stand_ins", {})["regress"] = (
            f"{DEMO_REGRESSOR.name}, the project's demo HMR regressor trained on the synthetic image world (no HMR "
            "weights given: --hmr-weights or HMR_WEIGHTS_SPIN)")
    regressor_path = None
    if options.hmr_weights is not None and frames_source is not None:
        regressor_path = run(
            "regress", _options_for(options, "hmr_weights", "mean_params", "focal_length", "fov", "precision",
                                   "compile"),
            [frames_source, keypoints_path, options.hmr_weights, options.mean_params, options.calibration],
            lambda: stage_regress(frames_source, keypoints_path, out_dir, options, progress),
            {"device": str(options.device), "precision": options.precision})["regressor"]
    elif options.hmr_weights is None:
        result.skipped["regress"] = "no HMR weights given; SMPLify starts from the mean pose"
    else:
        result.skipped["regress"] = "no video frames to crop (give --video with a keypoints file)"

    smpl_path = None
    if options.smplify or regressor_path is not None:
        lifted = result.outputs.get("joints3d") if options.orient_from_lifter else None
        smpl_path = run(
            "fit", fit_settings(options),
            [keypoints_path, regressor_path, options.prior, options.calibration, body_file, options.mean_params,
             options.j_regressor_extra, lifted],
            lambda: stage_fit(keypoints_path, regressor_path, out_dir, options, progress, joints3d_path=lifted),
            fit_compute(options))["smpl"]
    else:
        result.skipped["fit"] = "SMPLify is off and there is no HMR estimate"

    if smpl_path is not None:
        _record_over_threshold(smpl_path, record, result)
    if smpl_path is not None and options.meshes:
        run("meshes", _options_for(options, "body_model", "gender"), [smpl_path, body_file],
            lambda: stage_meshes(smpl_path, out_dir, options, progress))
    if options.overlay and frames_source is not None:
        joints3d_path = result.outputs.get("joints3d")
        run("overlay", _options_for(options, "skeleton", "side_by_side", "body_model", "gender", "focal_length", "fov"),
            [frames_source, smpl_path, keypoints_path, joints3d_path if options.side_by_side else None,
             options.calibration, body_file],
            lambda: stage_overlay(frames_source, smpl_path, keypoints_path, out_dir, options,
                                  progress, joints3d_path=joints3d_path))
    elif options.overlay:
        result.skipped["overlay"] = "no video frames (give --video with a keypoints file)"
    if smpl_path is not None and options.world:
        from hmr.world.world import make_world

        def world_stage() -> dict[str, Path]:
            from body_models.smpl import load_smpl

            smpl = load_smpl(options.body_model, gender=options.gender)
            return {"world": make_world(smpl_path, smpl, out_dir / "world.npz", refine=options.refine_contacts)}
        try:
            run("world", _options_for(options, "body_model", "gender", "refine_contacts"), [smpl_path], world_stage)
        except InputError as err:  # no floor to be found: the rest of the run stands
            (out_dir / "world.npz").unlink(missing_ok=True)
            result.skipped["world"] = str(err)
    elif smpl_path is not None:
        (out_dir / "world.npz").unlink(missing_ok=True)
    if options.export and smpl_path is not None:
        from hmr.io.export import export_run

        with record.stage("export"):
            result.outputs.update(export_run(out_dir, options.export, body_model=options.body_model,
                                             gender=options.gender))
        computed_on["export"] = {"device": "cpu", "precision": "fp32"}
    elif options.export:
        result.skipped["export"] = "no SMPL output to export"

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
    result.outputs["run"] = record.save(out_dir / "run.json")
    return result
