"""Training a VideoPose3D lifter the way the official ``run.py`` trains it.

    config = TrainConfig.from_yaml("configs/lifting/train_demo.yaml")
    result = train_lifter(config, "out/lifter_demo")
    print(result.history[-1].mpjpe_valid_mm)

What it does, as in VideoPose3D (FORMATS §2.2, §2.10–2.12):

- Every (subject, action, camera) video of the training subjects is cut into chunks of
  ``stride`` output frames; the 2D input of a chunk reaches ``pad = (R - 1) / 2`` frames further
  on each side (shifted ``pad`` frames into the past for causal models) and is edge-padded where
  it leaves the video (``ChunkedBatches``). With ``augment`` every chunk is listed a second time,
  mirrored: x negated and the left/right keypoints and joints swapped.
- Supervised loss: MPJPE on root-relative 3D joints (joint 0 set to zero in the target).
- Semi-supervised (``subjects_unlabeled`` not empty): a trajectory model (one output joint,
  the root's camera-frame position) trained with MPJPE weighted by 1/depth; after ``warmup``
  epochs, unlabeled chunks join the batch, their predicted pose plus trajectory is projected
  through the camera (``body_models.cameras.project_to_2d``) and compared with the input 2D, and
  a bone-length term pulls the unlabeled bone lengths towards the labelled ones.
- Adam with amsgrad; the learning rate decays by ``lr_decay`` after each epoch, the BatchNorm
  momentum from 0.1 to 0.001 exponentially over the run.
- After each epoch the ``TemporalModel`` copy is evaluated on the test subjects (whole videos,
  no flip averaging) and on the training subjects, and one row goes to ``log.csv``.
- Checkpoints ``epoch_NNNN.pt`` every ``checkpoint_frequency`` epochs and ``final.pt``: project
  checkpoints (``lifting.load_pretrained`` reads them) whose ``extra`` holds what resuming needs
  (optimizer, learning rate, epoch, every random state, the log so far), so a resumed run
  continues bit for bit.

Several processes, e.g. two CPU processes on one machine (gloo) or one per GPU (nccl)::

    torchrun --standalone --nproc_per_node=2 -m hmr.cli train-lifter --config configs/lifting/train_demo.yaml

When ``WORLD_SIZE`` > 1 each process takes every ``WORLD_SIZE``-th chunk of the shared shuffled
order (padded by repetition so all get the same number of batches, as ``DistributedSampler``
does) with ``batch_size / WORLD_SIZE`` chunks per step, and ``DistributedDataParallel`` averages
the gradients. Only rank 0 evaluates, logs and writes checkpoints.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from body_models.cameras import project_to_2d, project_to_2d_linear
from body_models.errors import MissingFileError
from body_models.joints import H36M_17
from body_models.metrics import MM_PER_M
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from lifting.augment import corrupt_keypoints
from lifting.chunks import ChunkBatch, ChunkedBatches, _EndlessBatches, _rank_batches  # noqa: F401 (re-exported)
from lifting.evaluate import predict_sequence
from lifting.model import TemporalModel, TemporalModelOptimized1f
from lifting.train_config import TrainConfig
from lifting.train_data import _Data, _Videos, load_training_data
from lifting.train_state import (CSV_COLUMNS, EpochLog, TrainResult,  # noqa: F401 (CSV_COLUMNS re-exported)
                                 _latest_checkpoint, _restore, _save, _unwrap, _write_log)

__all__ = ["ChunkBatch", "ChunkedBatches", "EpochLog", "TrainConfig", "TrainResult", "bn_momentum",
           "train_lifter"]

INITIAL_BN_MOMENTUM = 0.1
FINAL_BN_MOMENTUM = 0.001
"""BatchNorm momentum at the first epoch and (approached) at the last, as in ``run.py``."""


def bn_momentum(epoch: int, epochs: int) -> float:
    """BatchNorm momentum after ``epoch`` finished epochs of ``epochs``: 0.1 decaying
    exponentially towards 0.001 (``run.py``)."""
    return INITIAL_BN_MOMENTUM * math.exp(-epoch / epochs * math.log(INITIAL_BN_MOMENTUM / FINAL_BN_MOMENTUM))


# ---------------------------------------------------------------------------------------------
# Losses (torch, differentiable; body_models.metrics reports floats)


def _mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance over all leading axes; (..., D) → scalar, unit of the input."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def _weighted_mpjpe(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of weights · distance; weights broadcast against (..., J)."""
    return (weights * torch.linalg.vector_norm(pred - target, dim=-1)).mean()


def _bone_lengths(joints: torch.Tensor, parents: Sequence[int]) -> torch.Tensor:
    """(B, L, J, 3) → (B, J - 1) bone lengths averaged over time, metres."""
    bones = joints[:, :, 1:] - joints[:, :, list(parents[1:])]
    return torch.linalg.vector_norm(bones, dim=-1).mean(dim=1)


# ---------------------------------------------------------------------------------------------
# The training loop


def _distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size); starts the process group when torchrun asked for several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _evaluate(model: TemporalModel, traj_model: TemporalModel | None, videos: _Videos) -> tuple[float, float]:
    """(MPJPE mm, trajectory error mm or NaN) over whole videos, frame-weighted, no flip."""
    total = total_traj = 0.0
    frames = 0
    for keypoints, target in zip(videos.keypoints, videos.targets):
        prediction = predict_sequence(model, keypoints, flip=False)
        root_relative = target.copy()
        root_relative[:, 0] = 0
        total += len(target) * float(np.linalg.norm(prediction - root_relative, axis=-1).mean())
        if traj_model is not None:
            trajectory = predict_sequence(traj_model, keypoints, flip=False)
            total_traj += len(target) * float(np.linalg.norm(trajectory - target[:, :1], axis=-1).mean())
        frames += len(target)
    traj = total_traj / frames * MM_PER_M if traj_model is not None else math.nan
    return total / frames * MM_PER_M, traj


def train_lifter(config: TrainConfig, out_dir: str | os.PathLike, resume: bool = False,
                 progress: Progress | bool = True, device: str | torch.device = "cpu") -> TrainResult:
    """Train a pose lifter (and, semi-supervised, a trajectory model) from a recipe.

    Args:
        config: the recipe.
        out_dir: where ``log.csv``, ``epoch_NNNN.pt`` and ``final.pt`` go.
        resume: continue from the latest checkpoint in ``out_dir`` (the recipe must be the same,
            except ``epochs``, which may grow).
        progress: a ``body_models.progress.Progress`` reporter, called on rank 0 only as
            ``("epoch E/N", batches done, batches in the epoch)``; True prints plain lines to
            stderr, False is silent (the CLI passes its tqdm bars).
        device: where to train ("cpu", "cuda", "cuda:1", ...); the data stay on the CPU.

    Returns:
        A ``TrainResult``; ``final.pt`` loads with ``lifting.load_pretrained``.

    Raises:
        InputError, MissingFileError: bad recipe, data files or resume state (one line).
    """
    out_dir = Path(out_dir)
    device = torch.device(device)
    rank, world = _distributed(device)
    data = load_training_data(config)
    run = _build(config, data, device, rank, world)
    epoch, history, resumed_from = 0, [], None
    if resume:
        resumed_from = _latest_checkpoint(out_dir)
        if resumed_from is None:
            raise MissingFileError(f"nothing to resume in {out_dir}: no epoch_*.pt or final.pt; start without --resume")
        epoch, history = _restore(resumed_from, config, run.model, run.traj, run.optimizer, run.chunks, run.unlabeled)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        run.model = DistributedDataParallel(run.model)
        if run.traj is not None:
            run.traj = DistributedDataParallel(run.traj)

    report = as_progress(progress) if rank == 0 else no_progress
    log_path = out_dir / "log.csv"
    final_path = out_dir / "final.pt"
    while epoch < config.epochs:
        started = time.perf_counter()
        lr = run.optimizer.param_groups[0]["lr"]
        momentum = bn_momentum(epoch, config.epochs)
        losses = _train_epoch(run, config, data, epoch, momentum, report)
        scores = _evaluate_epoch(run, data, device) if rank == 0 and config.evaluate else (math.nan,) * 3
        history.append(EpochLog(epoch + 1, lr, momentum, *losses, *scores, time.perf_counter() - started))
        for group in run.optimizer.param_groups:
            group["lr"] *= config.lr_decay
        epoch += 1
        if rank == 0:
            _write_log(log_path, history)
            state = dict(epoch=epoch, optimizer=run.optimizer, config=config, train_chunks=run.chunks,
                         unlabeled=run.unlabeled, history=history)
            if epoch % config.checkpoint_frequency == 0:
                _save(out_dir / f"epoch_{epoch:04d}.pt", _unwrap(run.model), run.traj, **state)
            if epoch == config.epochs:
                _save(final_path, _unwrap(run.model), run.traj, **state)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    return TrainResult(out_dir, final_path, log_path, tuple(history), resumed_from)


@dataclass
class _Run:
    """What one training run updates: the models (DDP-wrapped when distributed), their
    evaluation copies, the optimizer and the chunk sources."""

    model: torch.nn.Module
    model_eval: TemporalModel
    traj: torch.nn.Module | None
    traj_eval: TemporalModel | None
    optimizer: torch.optim.Optimizer
    chunks: ChunkedBatches
    unlabeled: _EndlessBatches | None
    chunk_batch: int  # chunks per step and process
    pad: int
    causal_shift: int
    rank: int
    world: int
    device: torch.device


def _build(config: TrainConfig, data: _Data, device: torch.device, rank: int, world: int) -> _Run:
    """Seeded models, Adam and the chunk sources of a recipe, as ``run.py`` builds them."""
    model_config = config.model
    pad = (model_config.receptive_field - 1) // 2
    causal_shift = pad if model_config.causal else 0
    chunk_batch = max(1, config.batch_size // config.stride // world)
    torch.manual_seed(config.seed)
    train_class = TemporalModelOptimized1f if config.stride == 1 and not model_config.dense else TemporalModel
    model = train_class.from_config(model_config).to(device)
    model_eval = TemporalModel.from_config(model_config)
    traj = traj_eval = None
    if config.semi_supervised:
        traj_config = dataclasses.replace(model_config, num_joints_out=1)
        traj = train_class.from_config(traj_config).to(device)
        traj_eval = TemporalModel.from_config(traj_config)
    parameters = list(model.parameters()) + (list(traj.parameters()) if traj else [])
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, amsgrad=True)
    symmetry = dict(kps_left=data.kps_left, kps_right=data.kps_right)
    chunks = ChunkedBatches(data.train.keypoints, data.train.targets, data.train.cameras, config.stride,
                            pad, causal_shift, config.augment, seed=config.seed, **symmetry)
    unlabeled = None
    if config.semi_supervised:
        unlabeled = _EndlessBatches(
            ChunkedBatches(data.unlabeled.keypoints, None, data.unlabeled.cameras, config.stride, pad, causal_shift,
                           config.augment, seed=config.seed_unlabeled, **symmetry),
            chunk_batch, rank, world)
    return _Run(model, model_eval, traj, traj_eval, optimizer, chunks, unlabeled, chunk_batch, pad, causal_shift,
                rank, world, device)


def _train_epoch(run: _Run, config: TrainConfig, data: _Data, epoch: int, momentum: float,
                 progress: Progress) -> tuple[float, float, float]:
    """One pass over the shuffled training chunks; returns the epoch's mean 3D loss (mm), trajectory
    loss (mm) and unlabeled 2D loss (NaN where they do not apply)."""
    _unwrap(run.model).set_bn_momentum(momentum)
    run.model.train()
    if run.traj is not None:
        _unwrap(run.traj).set_bn_momentum(momentum)
        run.traj.train()
    corrupt = any(v > 0 for v in (config.keypoint_noise, config.keypoint_dropout, config.keypoint_truncation,
                                  config.keypoint_shift, config.keypoint_scale))
    sums = np.zeros(3)  # 3D loss, trajectory loss, 2D loss, each × frames
    frames = frames_unlabeled = 0
    batches = _rank_batches(run.chunks.shuffled(), run.chunk_batch, run.rank, run.world)
    counter = StageCounter(progress, f"epoch {epoch + 1}/{config.epochs}", len(batches))
    for step, pairs in enumerate(batches):
        batch = run.chunks.batch(pairs)
        if corrupt:
            batch.keypoints = corrupt_keypoints(
                batch.keypoints, np.random.default_rng([config.seed, epoch, step, run.rank]), config.keypoint_noise,
                config.keypoint_dropout, config.keypoint_truncation, data.hips, config.keypoint_shift,
                config.keypoint_scale)
        keypoints = torch.from_numpy(batch.keypoints).to(run.device)
        targets = torch.from_numpy(batch.targets).to(run.device)
        trajectory = targets[:, :, :1].clone()
        targets[:, :, 0] = 0
        run.optimizer.zero_grad()
        if run.traj is None:
            loss_3d = _mpjpe(run.model(keypoints), targets)
            total = loss_3d
        else:
            loss_3d, total, seen_frames = _semi_supervised_losses(run, config, epoch, keypoints, targets, trajectory,
                                                                  sums)
            frames_unlabeled += seen_frames
        total.backward()
        run.optimizer.step()
        sums[0] += loss_3d.item() * targets.shape[0] * targets.shape[1]
        frames += targets.shape[0] * targets.shape[1]
        counter.advance()
    return (float(sums[0] / frames * MM_PER_M),
            math.nan if run.traj is None else float(sums[1] / frames * MM_PER_M),
            float(sums[2] / frames_unlabeled) if frames_unlabeled else math.nan)


def _semi_supervised_losses(run: _Run, config: TrainConfig, epoch: int, keypoints: torch.Tensor,
                            targets: torch.Tensor, trajectory: torch.Tensor, sums: np.ndarray):
    """The semi-supervised step's losses (``run.py``): the labelled 3D and trajectory terms and,
    after warm-up, the unlabeled reprojection and bone-length terms. Adds the trajectory and 2D
    losses × frames to ``sums``; returns (3D loss, total, unlabeled frames)."""
    skip = epoch < config.warmup  # supervised only at first, for stability
    split = len(keypoints)
    batch_u = run.unlabeled.next()  # drawn during warm-up too, as run.py's zip() does
    keypoints_u = torch.from_numpy(batch_u.keypoints).to(run.device)
    cameras_u = torch.from_numpy(batch_u.cameras).to(run.device)
    if not skip:
        keypoints = torch.cat([keypoints, keypoints_u])
    predicted = run.model(keypoints)
    predicted_traj = run.traj(keypoints)
    loss_3d = _mpjpe(predicted[:split], targets)
    loss_traj = _weighted_mpjpe(predicted_traj[:split], trajectory, 1 / trajectory[..., 2])
    total = loss_3d + loss_traj
    sums[1] += loss_traj.item() * targets.shape[0] * targets.shape[1]
    if skip:
        return loss_3d, total, 0
    # the output frames of an unlabeled chunk are its input frames pad + shift onward
    start = run.pad + run.causal_shift
    seen = keypoints_u[:, start: start + config.stride, :, :2]
    project = project_to_2d_linear if config.linear_projection else project_to_2d
    loss_2d = _mpjpe(project(predicted[split:] + predicted_traj[split:], cameras_u), seen)
    if config.projection_loss:
        total = total + loss_2d
    if config.bone_length_weight > 0:
        lengths = _bone_lengths(predicted, H36M_17.parents)
        total = total + config.bone_length_weight * (lengths[:split].mean(0) - lengths[split:].mean(0)).abs().mean()
    sums[2] += loss_2d.item() * seen.shape[0] * seen.shape[1]
    return loss_3d, total, seen.shape[0] * seen.shape[1]


def _evaluate_epoch(run: _Run, data: _Data, device: torch.device) -> tuple[float, float, float]:
    """The evaluation copies on the training subjects and the test subjects: (training MPJPE,
    test MPJPE, test trajectory error), mm, NaN where there is nothing to score."""
    run.model_eval.load_state_dict(_unwrap(run.model).state_dict())
    run.model_eval.to(device).eval()
    if run.traj_eval is not None:
        run.traj_eval.load_state_dict(_unwrap(run.traj).state_dict())
        run.traj_eval.to(device).eval()
    mpjpe_train, _ = _evaluate(run.model_eval, None, data.train)
    mpjpe_valid = traj_valid = math.nan
    if data.test is not None:
        mpjpe_valid, traj_valid = _evaluate(run.model_eval, run.traj_eval, data.test)
    return mpjpe_train, mpjpe_valid, traj_valid
