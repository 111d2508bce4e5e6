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

import csv
import dataclasses
import io
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from body_models.atomic import write_text
from body_models.cameras import project_to_2d, project_to_2d_linear
from body_models.configs import config_from_dict, config_from_yaml
from body_models.errors import InputError, MissingFileError
from body_models.joints import H36M_17
from body_models.metrics import MM_PER_M
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from lifting.augment import corrupt_keypoints
from lifting.checkpoints import load_checkpoint, save_checkpoint
from lifting.chunks import ChunkBatch, ChunkedBatches, _EndlessBatches, _rank_batches  # noqa: F401 (re-exported)
from lifting.data import TEST_SUBJECTS, TRAIN_SUBJECTS
from lifting.evaluate import predict_sequence
from lifting.train_data import _Data, _Videos, load_training_data
from lifting.model import LiftingConfig, TemporalModel, TemporalModelOptimized1f

__all__ = ["ChunkBatch", "ChunkedBatches", "EpochLog", "TrainConfig", "TrainResult", "bn_momentum",
           "train_lifter"]

INITIAL_BN_MOMENTUM = 0.1
FINAL_BN_MOMENTUM = 0.001
"""BatchNorm momentum at the first epoch and (approached) at the last, as in ``run.py``."""

CSV_COLUMNS = ("epoch", "lr", "bn_momentum", "loss_3d_train_mm", "loss_traj_train_mm", "loss_2d_unlabeled",
               "mpjpe_train_eval_mm", "mpjpe_valid_mm", "traj_valid_mm", "seconds")


@dataclass(frozen=True)
class TrainConfig:
    """A training recipe; ``configs/lifting/train_*.yaml`` are presets of it.

    Attributes:
        data_3d: ``data_3d_h36m.npz`` (VideoPose3D layout); relative paths are taken from the
            working directory.
        data_2d: ``data_2d_h36m_<source>.npz``, the keypoint source (gt, cpn, detectron, ...);
            its metadata gives the flip symmetry of the input layout.
        model: the architecture (``LiftingConfig`` fields; a mapping in YAML).
        subjects_train: labelled subjects.
        subjects_test: subjects evaluated after every epoch.
        subjects_unlabeled: 2D-only subjects; not empty turns the semi-supervised mode on.
        actions: action-name prefixes to keep (None: all).
        epochs: total epochs.
        batch_size: output frames per step (``batch_size // stride`` chunks).
        learning_rate: Adam's initial learning rate.
        lr_decay: factor applied to the learning rate after every epoch.
        stride: output frames per training chunk (1 trains ``TemporalModelOptimized1f``).
        augment: flip augmentation (every chunk also mirrored).
        seed: seeds the weights, dropout and the chunk order (``run.py``'s generator uses 1234).
        seed_unlabeled: seeds the unlabeled chunk order (``run.py`` uses 4321).
        warmup: epochs of supervised-only training before the unlabeled terms start.
        projection_loss: use the 2D reprojection loss in the semi-supervised mode.
        linear_projection: project without lens distortion.
        bone_length_weight: weight of the bone-length term (0 turns it off).
        checkpoint_frequency: write ``epoch_NNNN.pt`` every this many epochs.
        evaluate: evaluate after every epoch (``run.py``'s ``--no-eval`` turns it off).
        downsample: keep every n-th frame of the 2D and 3D sequences.
        subset: fraction of every training video to keep, one contiguous piece whose start is a
            hash of the video length (``run.py``'s ``--subset``, for data-scarce experiments).
        keypoint_noise, keypoint_dropout, keypoint_truncation, keypoint_shift, keypoint_scale:
            corrupt the labelled 2D input as a detector and other cameras would
            (``lifting.augment.corrupt_keypoints``: x, y noise in normalised screen units, the
            share of keypoints dropped, the share of windows cut by a border line, the window's
            2D offset and log-scale spread), each step from its own seed; 0, the official recipe,
            turns each off.
    """

    data_3d: str
    data_2d: str
    model: LiftingConfig = field(default_factory=lambda: LiftingConfig(filter_widths=(3, 3, 3)))
    subjects_train: tuple[str, ...] = TRAIN_SUBJECTS
    subjects_test: tuple[str, ...] = TEST_SUBJECTS
    subjects_unlabeled: tuple[str, ...] = ()
    actions: tuple[str, ...] | None = None
    epochs: int = 60
    batch_size: int = 1024
    learning_rate: float = 0.001
    lr_decay: float = 0.95
    stride: int = 1
    augment: bool = True
    seed: int = 1234
    seed_unlabeled: int = 4321
    warmup: int = 1
    projection_loss: bool = True
    linear_projection: bool = False
    bone_length_weight: float = 1.0
    checkpoint_frequency: int = 10
    evaluate: bool = True
    downsample: int = 1
    subset: float = 1.0
    keypoint_noise: float = 0.0
    keypoint_dropout: float = 0.0
    keypoint_truncation: float = 0.0
    keypoint_shift: float = 0.0
    keypoint_scale: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.model, Mapping):
            object.__setattr__(self, "model", LiftingConfig.from_dict(self.model, source="TrainConfig.model"))
        if not isinstance(self.model, LiftingConfig):
            raise InputError(f"model must be a mapping of LiftingConfig settings, got {type(self.model).__name__}")
        for name in ("subjects_train", "subjects_test", "subjects_unlabeled", "actions"):
            value = getattr(self, name)
            if value is None and name == "actions":
                continue
            if isinstance(value, str):
                value = tuple(v.strip() for v in value.split(",") if v.strip())
            object.__setattr__(self, name, tuple(str(v) for v in value))
        if not self.subjects_train:
            raise InputError("subjects_train must name at least one subject")
        for name in ("epochs", "batch_size", "stride", "checkpoint_frequency", "downsample"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.subset <= 1:
            raise InputError(f"subset must lie in (0, 1], got {self.subset!r}")
        if not (self.keypoint_shift >= 0 and self.keypoint_scale >= 0):
            raise InputError(f"keypoint_shift and keypoint_scale must be >= 0, got {self.keypoint_shift!r} and "
                             f"{self.keypoint_scale!r}")
        if not (self.keypoint_noise >= 0 and 0 <= self.keypoint_dropout < 1 and 0 <= self.keypoint_truncation <= 1):
            raise InputError(f"keypoint_noise must be >= 0, keypoint_dropout in [0, 1) and keypoint_truncation in "
                             f"[0, 1], got {self.keypoint_noise!r}, {self.keypoint_dropout!r} and "
                             f"{self.keypoint_truncation!r}")
        if self.warmup < 0 or self.bone_length_weight < 0:
            raise InputError("warmup and bone_length_weight must not be negative")
        if not (self.learning_rate > 0 and 0 < self.lr_decay <= 1):
            raise InputError(f"learning_rate must be > 0 and lr_decay in (0, 1], got {self.learning_rate}, "
                             f"{self.lr_decay}")

    @property
    def semi_supervised(self) -> bool:
        return bool(self.subjects_unlabeled)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "TrainConfig":
        """Read a recipe such as ``configs/lifting/train_demo.yaml``; unknown keys are errors."""
        return config_from_yaml(cls, path)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "TrainConfig":
        return config_from_dict(cls, values, source)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the model as a dict, tuples as lists), as stored in checkpoints."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["model"] = self.model.to_dict()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


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
# Logs, results, checkpoint state


@dataclass(frozen=True)
class EpochLog:
    """One row of ``log.csv``. Losses are means over the epoch's output frames; NaN where they
    do not apply (no trajectory model, evaluation off).

    Attributes:
        epoch: 1-based epoch number.
        lr: learning rate used in this epoch.
        bn_momentum: BatchNorm momentum used in this epoch.
        loss_3d_train_mm: training MPJPE (train mode, with dropout), mm.
        loss_traj_train_mm: trajectory loss (1/depth-weighted), mm.
        loss_2d_unlabeled: reprojection error of unlabeled chunks, normalised screen units.
        mpjpe_train_eval_mm: MPJPE on the training videos in eval mode, mm.
        mpjpe_valid_mm: MPJPE on the test subjects' videos, mm (no flip averaging).
        traj_valid_mm: trajectory error on the test videos, mm.
        seconds: wall time of the epoch.
    """

    epoch: int
    lr: float
    bn_momentum: float
    loss_3d_train_mm: float
    loss_traj_train_mm: float
    loss_2d_unlabeled: float
    mpjpe_train_eval_mm: float
    mpjpe_valid_mm: float
    traj_valid_mm: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """What ``train_lifter`` did.

    Attributes:
        out_dir: the run folder.
        checkpoint: ``final.pt``, readable by ``lifting.load_pretrained``.
        log: ``log.csv``.
        history: one ``EpochLog`` per epoch since the start of the run (resumed ones included).
        resumed_from: the checkpoint resumed, or None.
    """

    out_dir: Path
    checkpoint: Path
    log: Path
    history: tuple[EpochLog, ...]
    resumed_from: Path | None


def _write_log(path: Path, history: Sequence[EpochLog]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in history:
        writer.writerow([row.epoch] + [f"{getattr(row, name):.6g}" for name in CSV_COLUMNS[1:]])
    return write_text(path, buffer.getvalue())


def _numpy_random_state(random: np.random.RandomState) -> dict[str, Any]:
    """A RandomState as plain values (readable with ``torch.load(weights_only=True)``)."""
    name, keys, position, has_gauss, cached = random.get_state(legacy=True)
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _set_numpy_random_state(random: np.random.RandomState, state: Mapping[str, Any]) -> None:
    random.set_state((state["name"], state["keys"].numpy().astype(np.uint32), state["position"],
                      state["has_gauss"], state["cached_gaussian"]))


def _latest_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint of ``out_dir`` with the most epochs (``epoch_NNNN.pt`` or ``final.pt``)."""
    found = []
    for path in out_dir.glob("epoch_*.pt"):
        digits = path.stem.removeprefix("epoch_")
        if digits.isdigit():
            found.append((int(digits), 0, path))
    final = out_dir / "final.pt"
    if final.is_file():
        extra = load_checkpoint(final).get("extra") or {}
        found.append((int(extra.get("epoch", 0)), 1, final))
    return max(found)[2] if found else None


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


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


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


def _save(path: Path, model: torch.nn.Module, traj_model: torch.nn.Module | None, *, epoch: int,
          optimizer: torch.optim.Optimizer, config: TrainConfig, train_chunks: ChunkedBatches,
          unlabeled: _EndlessBatches | None, history: Sequence[EpochLog]) -> Path:
    extra = {
        "epoch": epoch,
        "lr": optimizer.param_groups[0]["lr"],
        "optimizer": optimizer.state_dict(),
        "train_config": config.to_dict(),
        "random_state": _numpy_random_state(train_chunks.random),
        "torch_random_state": torch.get_rng_state(),
        "history": [dataclasses.asdict(row) for row in history],
    }
    if unlabeled is not None:
        extra["random_state_unlabeled"] = _numpy_random_state(unlabeled.chunks.random)
        extra["unlabeled_order"] = None if unlabeled.order is None else torch.from_numpy(unlabeled.order)
        extra["unlabeled_cursor"] = unlabeled.cursor
    return save_checkpoint(path, model, None if traj_model is None else _unwrap(traj_model), extra=extra)


def _restore(path: Path, config: TrainConfig, model: torch.nn.Module, traj_model: torch.nn.Module | None,
             optimizer: torch.optim.Optimizer, train_chunks: ChunkedBatches,
             unlabeled: _EndlessBatches | None) -> tuple[int, list[EpochLog]]:
    """Load a training checkpoint into the live objects; returns (epoch, history)."""
    checkpoint = load_checkpoint(path)
    extra = checkpoint.get("extra")
    if not isinstance(extra, Mapping) or "optimizer" not in extra or "train_config" not in extra:
        raise InputError(f"{path}: not a training checkpoint (no optimizer state); cannot resume from it")
    stored = TrainConfig.from_dict(extra["train_config"], source=f"{path} (train_config)")
    changed = [f.name for f in dataclasses.fields(TrainConfig)
               if f.name != "epochs" and getattr(stored, f.name) != getattr(config, f.name)]
    if changed:
        raise InputError(f"{path} was trained with a different recipe ({', '.join(changed)} differ); resume with "
                         "the same config or start a new --out folder")
    if (checkpoint["model_traj"] is None) != (traj_model is None):
        raise InputError(f"{path}: trajectory model presence does not match the recipe")
    model.load_state_dict(checkpoint["model_pos"], strict=True)
    if traj_model is not None:
        traj_model.load_state_dict(checkpoint["model_traj"], strict=True)
    optimizer.load_state_dict(extra["optimizer"])
    _set_numpy_random_state(train_chunks.random, extra["random_state"])
    torch.set_rng_state(extra["torch_random_state"])
    if unlabeled is not None:
        _set_numpy_random_state(unlabeled.chunks.random, extra["random_state_unlabeled"])
        order = extra.get("unlabeled_order")
        unlabeled.order = None if order is None else order.numpy()
        unlabeled.cursor = int(extra.get("unlabeled_cursor", 0))
    history = [EpochLog(**row) for row in extra.get("history", [])]
    return int(extra["epoch"]), history
