"""The regress stage: HMR on a square crop around each person's keypoint box, batched over
frames → ``regressor.npz``.

Arrays (T, P, ...): ``global_orient``, ``body_pose`` axis-angle; ``betas``; ``cam`` (s, tx, ty)
of the crop; ``transl`` metres in the full-image camera (the focal length the fit uses);
``valid``; and the scalar ``focal_length`` (pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from body_models.progress import StageCounter, as_progress
from body_models.rotations import matrix_to_axis_angle
from body_models.sequences import RegressorEstimates, load_keypoints2d
from hmr.core.stages import CameraSettings, RunContext, StageSettings

__all__ = ["RegressSettings", "default_regressor", "regressor_network"]


def default_regressor() -> Path | None:
    """The HMR regressor a run on frames uses when none is given: the configured ``spin``
    checkpoint (``hmr weights``), else the shipped synthetic-trained demo regressor
    (``hmr.regressor.DEMO_WEIGHTS``), else none (SMPLify starts from the mean pose)."""
    from hmr.core.weights import require, resolve
    from hmr.regressor.checkpoints import DEMO_WEIGHTS

    if resolve("spin").exists:
        return require("spin")
    return DEMO_WEIGHTS if DEMO_WEIGHTS.is_file() else None


def _estimates(output) -> tuple:
    """What the stage reads of an ``HMROutput``."""
    return output.rotmat, output.cam, output.betas


def regressor_network(model, device, precision: str, compile: bool = False, batch_size: int = 16):
    """The network the regress stage calls, (B, 3, S, S) normalised crops → (rotmat, cam, betas),
    to be called under ``hmr.core.fastpath.autocast(device, precision)``.

    fp32: the model as loaded (exact). bf16: a copy with BatchNorm folded, channels_last, its
    ResNet trunk in fused oneDNN convolutions on CPU (``hmr.core.fused``). ``compile``: the model
    (or the bf16 copy, unfused) through ``torch.compile`` (``CompiledNetwork``, batches up to
    ``batch_size``).
    """
    from hmr.core.fastpath import CompiledNetwork, autocast, inference_copy

    size = model.config.image_size
    net = model
    if precision == "bf16":
        net = inference_copy(model, fuse=None if compile else "features", example_size=(1, 3, size, size))
    if not compile:
        return lambda images: _estimates(net(images))
    net = CompiledNetwork(net, max_batch=batch_size, pick=_estimates)
    with torch.no_grad(), autocast(device, precision):
        net.warm_up(torch.zeros(batch_size, 3, size, size, device=device))
    return net


@dataclass(frozen=True)
class RegressSettings(CameraSettings, StageSettings):
    """Attributes:
        hmr_weights: a SPIN/HMR or project regressor checkpoint.
        mean_params: SPIN's ``smpl_mean_params.npz`` (None: the mannequin's).
        batch_size: crops per network call (of several frames).
        compile: HMR through ``torch.compile``.
        focal_length, fov, calibration: the full image's camera (``CameraSettings``).
    """

    name: ClassVar[str] = "regress"
    uses_device: ClassVar[bool] = True
    uses_precision: ClassVar[bool] = True

    hmr_weights: Path | None = None
    mean_params: Path | None = None
    batch_size: int = 16
    compile: bool = False

    def run(self, out_dir: Path, ctx: RunContext, video: Path, keypoints: Path) -> dict[str, Path]:
        """``regressor.npz``; reports ``("regress", frames done, frames)``."""
        from hmr.regressor import load_pretrained

        kp = load_keypoints2d(keypoints)
        model = load_pretrained(self.hmr_weights, mean_params=self.mean_params).to(ctx.device)
        focal = self.intrinsics(kp.image_size).fx
        net = regressor_network(model, ctx.device, ctx.precision, self.compile, self.batch_size)
        batches = _CropBatches(kp, focal, net, ctx,
                               StageCounter(as_progress(ctx.progress), "regress", kp.num_frames))
        batches.run(video, model.config.image_size, self.batch_size)
        estimates = RegressorEstimates(valid=kp.valid, focal_length=float(focal), **batches.out)
        return {"regressor": estimates.save(Path(out_dir) / "regressor.npz")}


class _CropBatches:
    """The regress stage's loop: crops of several frames go through the network together."""

    def __init__(self, kp, focal: float, net, ctx: RunContext, counter: StageCounter) -> None:
        t_all, p_all = kp.num_frames, kp.num_people
        self.kp, self.focal, self.net, self.ctx, self.counter = kp, focal, net, ctx, counter
        self.out = {name: np.full((t_all, p_all, size), np.nan, np.float32)
                    for name, size in (("global_orient", 3), ("body_pose", 69), ("betas", 10), ("cam", 3),
                                       ("transl", 3))}
        self.pending: list[tuple[int, np.ndarray, object]] = []  # (row, people, crops) awaiting one call

    def run(self, video: Path, crop_size: int, batch_size: int) -> None:
        from hmr.io.video import iter_frames, prefetch
        from hmr.regressor.crops import crop_boxes

        kp = self.kp
        row_of = {int(f): t for t, f in enumerate(kp.frame_indices)}
        queued = 0
        for frame in prefetch(iter_frames(video)):
            t = row_of.get(frame.index)
            if t is None:
                continue
            people = np.flatnonzero(kp.valid[t] & np.isfinite(kp.boxes[t]).all(-1))
            if len(people):
                x1y1, x2y2 = kp.boxes[t, people, :2], kp.boxes[t, people, 2:]
                boxes = np.concatenate([x1y1, np.maximum(x2y2 - x1y1, 1.0)], -1)
                self.pending.append((t, people, crop_boxes(frame.image, boxes, rescale=1.2, size=crop_size)))
                queued += len(people)
            else:
                self.counter.advance()
            if queued >= batch_size:
                self.flush()
                queued = 0
        self.flush()

    def flush(self) -> None:
        from hmr.core.fastpath import autocast
        from hmr.regressor.crops import full_image_translation

        if not self.pending:
            return
        images = torch.cat([crops.images for _, _, crops in self.pending]).to(self.ctx.device)
        with torch.no_grad(), autocast(self.ctx.device, self.ctx.precision):
            rotmat, cam, betas = (x.float().cpu() for x in self.net(images))
        pose = matrix_to_axis_angle(rotmat).reshape(len(images), 72).numpy()
        start = 0
        for t, people, crops in self.pending:
            rows = slice(start, start + len(people))
            start += len(people)
            self.out["global_orient"][t, people] = pose[rows, :3]
            self.out["body_pose"][t, people] = pose[rows, 3:]
            self.out["betas"][t, people] = betas[rows].numpy()
            self.out["cam"][t, people] = cam[rows].numpy()
            self.out["transl"][t, people] = full_image_translation(cam[rows], crops, self.kp.image_size,
                                                                   self.focal).transl.numpy()
        self.counter.advance(len(self.pending))
        self.pending.clear()
