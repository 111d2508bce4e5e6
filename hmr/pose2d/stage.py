"""The 2D keypoints stage: a video or image folder → ``keypoints2d.npz`` (DESIGN.md schema).

    result = run_keypoints("clip.mp4", "out/", weights="pose_hrnet_w32_256x192.pth")
    result.keypoints.keypoints  # (T, P, 17, 3) pixels x, y, confidence

In the pipeline the stage is ``KeypointsSettings(...).run(out_dir, ctx, source=..., frames=...)``
(``hmr.core.stages``), which also reads keypoints files (our npz, COCO JSON, OpenPose folders)
in place of running HRNet.

People come from a boxes file, from a person detector (``hmr.pose2d.detectors``: OpenCV's HOG
by default in the pipeline, an ONNX model, or your own) with Hungarian tracking, or from the
single-person keypoint tracker (``hmr.boxes``). Frames are streamed; only the crops of one batch and the
keypoints are held in memory. A frame without a person is recorded with ``valid`` False and
NaN, never an error.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np
import torch

from body_models.errors import InputError
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from hmr.pose2d.boxes import Detections, IoUTracker, KeypointBoxTracker, load_boxes_file, no_detections, run_detector
from hmr.pose2d.keypoints_io import (Keypoints2D, empty_keypoints, load_keypoints_file, save_coco_keypoints,
                                     save_keypoints2d, save_vp3d_custom)
from hmr.pose2d import HRNet, HRNetConfig, load_pretrained
from hmr.pose2d.detectors import make_detector
from hmr.pose2d.smoothing import OneEuroParams, smooth_keypoints
from hmr.core.fastpath import CompiledNetwork, autocast, inference_copy
from hmr.core.input_checks import align_frame_indices, check_fps, check_image_size
from hmr.core.stages import RunContext, StageSettings
from hmr.core.imagenet import normalize_images
from hmr.pose2d.topdown import crop_people, dark_kernel_for, decode_heatmaps, predict_heatmaps
from hmr.io.video import iter_frames, prefetch, probe_video

__all__ = [
    "FOLLOW_PREFIX",
    "KeypointsSettings",
    "KeypointsStageResult",
    "OUTPUT_NAME",
    "default_hrnet",
    "is_keypoints_file",
    "run_keypoints",
]

OUTPUT_NAME = "keypoints2d.npz"
FOLLOW_PREFIX = "keypoints+"  # "keypoints+hog": one person followed by keypoints, searched for by HOG


@dataclass
class KeypointsStageResult:
    """What ``run_keypoints`` wrote.

    Attributes:
        path: the ``keypoints2d.npz`` written.
        keypoints: its content.
        frames_without_person: frames where nobody was found.
        exports: export kind ("coco", "vp3d") → path written.
        seconds: wall time of the stage.
    """

    path: Path
    keypoints: Keypoints2D
    frames_without_person: int
    exports: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Person:
    track_id: int
    keypoints: np.ndarray  # (J, 3)
    box: np.ndarray  # (4,)


def _load_model(weights) -> HRNet:
    if isinstance(weights, HRNet):
        return weights.eval()
    if weights is None:
        warnings.warn("run_keypoints: no weights given, using a random-weight HRNet-W32 (for tests only)",
                      stacklevel=3)
        torch.manual_seed(0)
        return HRNet(HRNetConfig()).eval()
    return load_pretrained(weights)


def _to_schema(keypoints: np.ndarray) -> np.ndarray:
    """Decoded (N, J, 3) → the file's convention: confidence clipped to [0, 1]; a joint whose
    heatmap has no positive value is missing (NaN, confidence 0)."""
    out = keypoints.astype(np.float32)
    missing = out[..., 2] <= 0
    out[..., 2] = np.clip(out[..., 2], 0.0, 1.0)
    out[missing, :2] = np.nan
    return out


class _Network:
    """HRNet plus the decoding settings, run on a batch of crops."""

    def __init__(self, model: HRNet, flip: bool, refine: str | None, batch_size: int, device,
                 precision: str = "fp32", compile: bool = False) -> None:
        self.model = model.to(device)
        self.device = torch.device(device)
        self.precision = precision
        # The fast path: BatchNorm folded, channels_last, bf16 (fused oneDNN convolutions on CPU,
        # autocast elsewhere and under --compile); fp32 runs the model as loaded.
        fuse = None if compile else "heatmaps"
        width, height = model.config.image_size
        self.net = (inference_copy(self.model, fuse=fuse, example_size=(1, 3, height, width))
                    if precision == "bf16" else self.model)
        if compile:  # the flip test doubles each call's batch
            self.net = CompiledNetwork(self.net, max_batch=batch_size * (2 if flip else 1))
            height, width = model.config.image_size[1], model.config.image_size[0]
            with torch.no_grad(), autocast(self.device, self.precision):
                self.net.warm_up(torch.zeros(self.net.max_batch, 3, height, width, device=self.device))
        self.flip = flip
        self.refine = refine
        self.batch_size = batch_size
        self.kernel = dark_kernel_for(model.config.sigma)

    def keypoints(self, images: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 crops → (N, J, 3) frame pixels, in chunks of ``batch_size``."""
        out = []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            with autocast(self.device, self.precision):
                heatmaps = predict_heatmaps(self.net, normalize_images(images[start:stop], self.device),
                                            flip=self.flip)
            out.append(decode_heatmaps(heatmaps, center[start:stop], scale[start:stop],
                                       refine=self.refine, dark_kernel=self.kernel, head=self.model.config.head))
        return _to_schema(np.concatenate(out)) if out else np.zeros((0, self.model.config.num_joints, 3), np.float32)

    def one(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        crops = crop_people(frame, box[None], image_size=self.model.config.image_size)
        return self.keypoints(crops.images, crops.center, crops.scale)[0]


def _track_single(frames, network: _Network, image_size, counter: StageCounter, search=None,
                  min_score: float = 0.0) -> dict[int, list[_Person]]:
    """Single-person mode: each frame's box from the last frame's keypoints. When nobody is
    followed, the frame is searched whole, or with ``search`` (a detector: its best box)."""
    tracker = KeypointBoxTracker(image_size=image_size)
    people: dict[int, list[_Person]] = {}
    for frame in frames:
        searching = tracker.searching
        box = tracker.box()
        if searching and search is not None:
            detections = run_detector(search, frame.image, min_score)
            if len(detections):
                box = detections.boxes[int(np.argmax(detections.scores))]
        keypoints = network.one(frame.image, box)
        found = tracker.update(keypoints)
        if found and searching:  # found on a whole-frame search: look again, closer
            keypoints = network.one(frame.image, tracker.box())
            found = tracker.update(keypoints)
        people[frame.index] = [_Person(0, keypoints, tracker.box())] if found else []
        counter.advance()
    return people


def _track_boxes(frames, network: _Network, boxes_of: Callable[[int, np.ndarray], Detections],
                 counter: StageCounter) -> dict[int, list[_Person]]:
    """Boxes-file or detector mode: crops of several frames per network batch, then track ids."""
    tracker = IoUTracker()
    people: dict[int, list[_Person]] = {}
    pending: list[tuple[int, Detections, object]] = []

    def flush() -> None:
        if not pending:
            return
        crops = [c for _, _, c in pending]
        images = np.concatenate([c.images for c in crops])
        keypoints = network.keypoints(images, np.concatenate([c.center for c in crops]),
                                      np.concatenate([c.scale for c in crops]))
        start = 0
        for index, detections, _ in pending:
            kp = keypoints[start:start + len(detections)]
            start += len(detections)
            ids = detections.track_ids
            if len(detections) and (ids < 0).any():
                ids = tracker.update(index, detections.boxes, kp)
            people[index] = [_Person(int(i), k, b) for i, k, b in zip(ids, kp, detections.boxes)]
        counter.advance(len(pending))
        pending.clear()

    queued = 0
    for frame in frames:
        detections = boxes_of(frame.index, frame.image)
        crops = crop_people(frame.image, detections.boxes, image_size=network.model.config.image_size)
        pending.append((frame.index, detections, crops))
        queued += len(detections)
        if queued >= network.batch_size:
            flush()
            queued = 0
    flush()
    return people


def _drop_short_tracks(people: dict[int, list[_Person]], min_frames: int) -> dict[int, list[_Person]]:
    """The same frames without the tracks seen in fewer than ``min_frames`` frames (a detector's
    one-off false positives), unless none would be left."""
    seen: dict[int, int] = {}
    for persons in people.values():
        for person in persons:
            seen[person.track_id] = seen.get(person.track_id, 0) + 1
    keep = {t for t, n in seen.items() if n >= min_frames}
    if not keep:
        return people
    return {index: [p for p in persons if p.track_id in keep] for index, persons in people.items()}


def _assemble(people: dict[int, list[_Person]], num_joints: int, info, fps: float) -> Keypoints2D:
    frames = sorted(people)
    track_ids = sorted({p.track_id for persons in people.values() for p in persons}) or [0]
    column = {t: i for i, t in enumerate(track_ids)}
    kp = empty_keypoints(len(frames), len(track_ids))
    if num_joints != kp.keypoints.shape[2]:
        raise InputError(f"the model predicts {num_joints} joints; keypoints2d.npz from this stage holds COCO-17")
    for row, index in enumerate(frames):
        for person in people[index]:
            p = column[person.track_id]
            kp.keypoints[row, p] = person.keypoints
            kp.boxes[row, p] = person.box
            kp.valid[row, p] = True
    return replace(kp, track_ids=np.asarray(track_ids, np.int64), frame_indices=np.asarray(frames, np.int64),
                   image_size=(info.width, info.height), fps=float(fps))


def _find_people(frames, network: _Network, counter: StageCounter, video, info, boxes, detector, min_score: float,
                 min_track_frames: int) -> dict[int, list[_Person]]:
    """Each frame's people: from the boxes file, else the detector (with Hungarian tracking),
    else one person followed by its keypoints (searched for by a detector with "keypoints+")."""
    if boxes is not None:
        per_frame = load_boxes_file(boxes, num_frames=info.num_frames or None)
        people = _track_boxes(frames, network, lambda index, image: per_frame.get(index, no_detections()),
                              counter)
        beyond = [f for f in per_frame if f not in people]
        if beyond:
            raise InputError(f"{boxes}: has boxes for frame {beyond[0]} but {video} has only {len(people)} frames; "
                             "is it the boxes file of another video?")
        return people
    if isinstance(detector, str) and detector.startswith(FOLLOW_PREFIX):
        search = make_detector(detector[len(FOLLOW_PREFIX):])
        return _track_single(frames, network, (info.width, info.height), counter, search, min_score)
    if (detect := make_detector(detector) if isinstance(detector, str) else detector) is not None:
        people = _track_boxes(frames, network, lambda index, image: run_detector(detect, image, min_score), counter)
        return _drop_short_tracks(people, min_track_frames)
    return _track_single(frames, network, (info.width, info.height), counter)


def _write_exports(kp: Keypoints2D, video, export_coco, export_vp3d) -> dict[str, Path]:
    exports = {}
    if export_coco is not None:
        exports["coco"] = save_coco_keypoints(export_coco, kp)
    if export_vp3d is not None:
        if kp.valid.any():
            exports["vp3d"] = save_vp3d_custom(export_vp3d, kp, person=0, video_name=Path(video).stem)
        else:
            warnings.warn(f"no person found in {video}; {export_vp3d} was not written", stacklevel=3)
    return exports


def run_keypoints(
    video: str | os.PathLike,
    out_dir: str | os.PathLike,
    weights: str | os.PathLike | HRNet | None = None,
    boxes: str | os.PathLike | None = None,
    detector: str | Callable[[np.ndarray], np.ndarray] | None = None,
    flip: bool = True,
    refine: str | None = None,
    smooth: OneEuroParams | None = None,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    compile: bool = False,
    progress: Progress = no_progress,
    fps: float | None = None,
    min_score: float = 0.0,
    export_coco: str | os.PathLike | None = None,
    export_vp3d: str | os.PathLike | None = None,
    min_track_frames: int = 3,
) -> KeypointsStageResult:
    """Top-down HRNet keypoints for every frame of a video or image folder.

    Args:
        video: a video file or a folder of .jpg/.png frames.
        out_dir: where ``keypoints2d.npz`` goes.
        weights: HRNet weights (official, MMPose or project checkpoint), or an ``HRNet`` already
            built; None builds a random-weight W32, for tests only.
        boxes: a boxes file (JSON or CSV, see ``hmr.boxes.load_boxes_file``).
        detector: a person detector callable, or its name for ``hmr.pose2d.detectors.make_detector``
            ("hog", a ``.onnx`` file, ``"module:factory"``, or "keypoints"); used when no boxes
            file is given. With neither (or "keypoints"), one person is followed by the keypoint
            tracker, which searches the whole frame when it has nobody; "keypoints+hog" (or
            "keypoints+" any detector) searches with that detector's best box instead. The
            pipeline and the CLI default to "hog".
        flip: HRNet's flip test (twice the network time, slightly better keypoints).
        refine: None for the official quarter-cell decoding, "dark" for DARK refinement.
        smooth: One-Euro settings to smooth the keypoints in time; None leaves them raw.
        batch_size: person crops per network call.
        device: where the network runs ("cpu", "cuda", ...); the caller chooses.
        precision: "fp32" (the network as loaded: exact), or "bf16" for bfloat16 autocast of a
            copy with BatchNorm folded and channels_last (decoding stays fp32).
        compile: run the network through ``torch.compile`` (``hmr.fastpath.CompiledNetwork``):
            faster per crop after a compilation per batch size (tens of seconds on a CPU).
        progress: a ``body_models.progress.Progress`` reporter, called as ``("keypoints", frames done,
            frames in the video or None when unknown)``.
        fps: frame rate of an image folder (videos carry their own).
        min_score: detector boxes below this score are dropped.
        export_coco: also write COCO keypoint results JSON here.
        export_vp3d: also write VideoPose3D's custom 2D layout (first track) here.
        min_track_frames: with a detector, tracks seen in fewer frames are dropped as false
            detections (unless that would drop every track).

    Returns:
        ``KeypointsStageResult``.

    Raises:
        MissingFileError, InputError: unreadable video or folder, a boxes file that does not
            match the video, weights that are not HRNet, a bad detector.
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    if precision not in ("fp32", "bf16"):
        raise InputError(f"precision must be fp32 or bf16, got {precision!r}")
    info = probe_video(video, fps=fps)
    rate = info.fps if not info.is_image_folder else float(fps or 0.0)
    model = _load_model(weights)
    network = _Network(model, flip=flip, refine=refine, batch_size=batch_size, device=device, precision=precision,
                       compile=compile)
    frames = prefetch(iter_frames(video, fps=rate or None))  # decoded in a background thread
    counter = StageCounter(as_progress(progress), "keypoints", info.num_frames or None)

    people = _find_people(frames, network, counter, video, info, boxes, detector, min_score, min_track_frames)
    kp = _assemble(people, model.config.num_joints, info, rate)
    if smooth is not None:
        kp = replace(kp, keypoints=smooth_keypoints(kp.keypoints, fps=rate, params=smooth))
    out_path = save_keypoints2d(Path(out_dir) / OUTPUT_NAME, kp)
    exports = _write_exports(kp, video, export_coco, export_vp3d)
    return KeypointsStageResult(path=out_path, keypoints=kp, frames_without_person=int((~kp.valid.any(1)).sum()),
                                exports=exports, seconds=time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------
# the stage in the pipeline


def is_keypoints_file(path: str | os.PathLike) -> bool:
    """True for inputs that already hold 2D keypoints (our npz, COCO JSON, OpenPose folder)."""
    path = Path(path)
    if path.is_dir():
        return any(path.glob("*_keypoints.json"))
    return path.suffix.lower() in (".npz", ".json")


def default_hrnet() -> Path:
    """The HRNet a run uses when none is given: the configured ``hrnet_w32`` (``hmr weights``),
    else the shipped synthetic-trained demo HRNet (``hmr.pose2d.DEMO_WEIGHTS``)."""
    from hmr.core.weights import require, resolve
    from hmr.pose2d.checkpoints import DEMO_WEIGHTS

    return require("hrnet_w32") if resolve("hrnet_w32").exists or not DEMO_WEIGHTS.is_file() else DEMO_WEIGHTS


@dataclass(frozen=True)
class KeypointsSettings(StageSettings):
    """The keypoints stage: HRNet on a video or image folder, or a keypoints file read and
    written again in our schema (then checked against the ``frames`` video, when given).

    Attributes:
        hrnet_weights: the HRNet checkpoint (None: ``default_hrnet()``).
        boxes: a person boxes file; else ``detector`` finds people.
        detector: "hog", an ``.onnx`` file, ``module:factory``, "keypoints" or "keypoints+<detector>".
        flip: HRNet's flip test.
        refine: None for the official quarter-cell decoding, "dark" for DARK refinement.
        image_size: (width, height) of a keypoints file that does not record it.
        frame_offset: added to a keypoints file's frame indices to give the video's frame numbers.
        batch_size: crops per network call.
        compile: HRNet through ``torch.compile``.
    """

    name: ClassVar[str] = "keypoints"
    uses_device: ClassVar[bool] = True
    uses_precision: ClassVar[bool] = True

    hrnet_weights: Path | None = None
    boxes: Path | None = None
    detector: str = "hog"
    flip: bool = True
    refine: str | None = None
    image_size: tuple[int, int] | None = None
    frame_offset: int = 0
    batch_size: int = 16
    compile: bool = False

    def compute(self, ctx: RunContext, inputs: dict) -> dict:
        if is_keypoints_file(inputs["source"]):
            return {"device": "cpu", "precision": "fp32", "note": "read from the input keypoints file (no HRNet)"}
        return super().compute(ctx, inputs)

    def run(self, out_dir: Path, ctx: RunContext, source: Path, frames: Path | None = None) -> dict[str, Path]:
        """``keypoints2d.npz`` of ``source``; HRNet reports ``("keypoints", frames done, frames)``.
        ``frames`` is the video of a keypoints file: its image size, frame indices (shifted by
        ``frame_offset``) and fps are checked against it (``hmr.core.input_checks``)."""
        video = probe_video(frames) if frames is not None else None
        if video is not None:
            check_image_size(video.path, (video.width, video.height), self.image_size)
        if is_keypoints_file(source):
            return {"keypoints2d": save_keypoints2d(Path(out_dir) / OUTPUT_NAME, self._read(source, video))}
        result = run_keypoints(source, out_dir, weights=self.hrnet_weights or default_hrnet(), boxes=self.boxes,
                               detector=self.detector, flip=self.flip, refine=self.refine, batch_size=self.batch_size,
                               device=ctx.device, precision=ctx.precision, compile=self.compile, progress=ctx.progress)
        if not result.keypoints.valid.any():
            raise InputError(f"no person was found in {source} by the {self.detector} detector; give a boxes file "
                             "(--boxes), another --detector, or check the video")
        return {"keypoints2d": result.path}

    def _read(self, source: Path, video) -> Keypoints2D:
        """A keypoints file as COCO-17 (OpenPose's BODY_25 joints picked by name), checked
        against the video when there is one."""
        kp = load_keypoints_file(source, image_size=None if video is not None else self.image_size)
        if video is not None:
            kp = replace(kp, image_size=check_image_size(video.path, (video.width, video.height), self.image_size,
                                                         source, kp.image_size),
                         frame_indices=align_frame_indices(kp.frame_indices, video.num_frames, source, video.path,
                                                           self.frame_offset),
                         fps=check_fps(kp.fps, video.fps, source, video.path))
        if kp.image_size == (0, 0):
            raise InputError(f"{source} does not record the image size; pass --image-size W H (or --video)")
        return kp.to_joint_set("coco_17")
