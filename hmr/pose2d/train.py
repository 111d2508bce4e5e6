"""Top-down training of ``hmr.pose2d.HRNet`` on COCO-format keypoint data (the official recipe).

    hmr train-pose2d --config configs/pose2d/train_demo.yaml --out runs/pose2d_demo
    hmr train-pose2d --config configs/pose2d/train_demo.yaml --out runs/pose2d_demo --resume
    torchrun --nproc_per_node 4 -m hmr.cli train-pose2d --config my.yaml --out runs/big --device cuda

The recipe follows deep-high-resolution-net.pytorch (``experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml``):
Adam, learning rate 1e-3 divided by 10 at epochs 170 and 200 of 210, batches of shuffled
people, the augmentation and targets of ``hmr.pose2d.data``, and ``JointsMSELoss`` with target
weights (or its OHKM variant). ``head: dsnt`` trains the same network with the DSNT loss instead
(``hmr.pose2d.losses.dsnt_loss``). ``init_weights`` starts from an official or project checkpoint
(fine-tuning); a different joint count gets a freshly initialised final layer.

Files in the output folder: ``checkpoint.pt`` (the training state: weights, optimiser, epoch and
position in the epoch; ``--resume`` continues exactly as an uninterrupted run would), ``hrnet.pt``
(the model alone, for ``hmr.pose2d.load_pretrained``), ``log.csv`` (one row per logged step and
per validation), ``config.json``.

Under torchrun every rank takes every world-th person of the epoch's shuffled order; gradients
are averaged by DistributedDataParallel; rank 0 writes the files.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from body_models import joints as js
from body_models.atomic import atomic_path, write_json
from body_models.configs import config_from_dict, read_yaml
from body_models.errors import InputError
from body_models.progress import Progress, as_progress, no_progress
from body_models.training import join_training, read_log, read_training_checkpoint, write_log
from hmr.pose2d.checkpoints import load_pretrained, save_checkpoint
from hmr.pose2d.data import Augmentation, CocoKeypoints
from hmr.pose2d.hrnet import HRNet, HRNetConfig
from hmr.pose2d.losses import dsnt_loss, joints_mse_loss

__all__ = ["Pose2DTrainConfig", "Pose2DTrainer", "TrainResult", "load_train_config", "train_pose2d"]

TRAIN_CHECKPOINT_FORMAT = "hmr-video/pose2d-train"
TRAIN_CHECKPOINT_VERSION = 1
LOG_COLUMNS = ("step", "epoch", "lr", "loss", "val_loss", "val_px", "val_pck", "seconds")


@dataclass(frozen=True)
class Pose2DTrainConfig:
    """One training recipe (``configs/pose2d/train_*.yaml``). Paths are relative to the working
    directory.

    Attributes:
        model: ``HRNetConfig`` settings (width, num_joints, image_size, sigma, head, ...).
        train_annotations, train_images: COCO keypoint JSON and the folder its file names are in.
        val_annotations, val_images: the held-out set, validated after every ``val_every`` epochs
            (its first ``val_max_people`` people); empty to skip.
        flip_pairs: (left, right) joint pairs for flip augmentation; empty means COCO-17's pairs
            when the model has 17 joints.
        epochs, batch_size, lr, lr_steps, lr_factor, weight_decay: the optimiser schedule (Adam;
            the learning rate is multiplied by ``lr_factor`` at each epoch in ``lr_steps``).
        max_steps: stop after this many optimiser steps in total (0: run every epoch).
        scale_factor, rotation_factor, flip, half_body_prob, half_body_min_joints: augmentation.
        loss: "mse" (JointsMSELoss) or "ohkm" (keep the ``ohkm_topk`` hardest joints).
        use_target_weight: weight joints by their target weight (HRNet's USE_TARGET_WEIGHT).
        dsnt_sigma, dsnt_js_weight: the DSNT regulariser's σ (cells) and weight (``head: dsnt``).
        init_weights: official or project HRNet weights to start from, or empty.
        amp: "none" or "bf16" (autocast for the network; the loss in float32).
        seed: seeds the initial weights, the shuffling and the augmentation.
        num_workers: DataLoader worker processes (0: load in the training process).
        log_every, checkpoint_every: in steps.
    """

    model: Mapping[str, Any] = field(default_factory=dict)
    train_annotations: str = ""
    train_images: str = ""
    val_annotations: str = ""
    val_images: str = ""
    val_every: int = 1
    val_max_people: int = 500
    flip_pairs: tuple = ()
    epochs: int = 210
    batch_size: int = 32
    lr: float = 1e-3
    lr_steps: tuple[int, ...] = (170, 200)
    lr_factor: float = 0.1
    weight_decay: float = 0.0
    max_steps: int = 0
    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    flip: bool = True
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8
    loss: str = "mse"
    ohkm_topk: int = 8
    use_target_weight: bool = True
    dsnt_sigma: float = 1.0
    dsnt_js_weight: float = 1.0
    init_weights: str = ""
    amp: str = "none"
    seed: int = 0
    num_workers: int = 0
    log_every: int = 20
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        if not self.train_annotations or not self.train_images:
            raise InputError("the training config needs train_annotations and train_images")
        if self.loss not in ("mse", "ohkm"):
            raise InputError(f"loss must be mse or ohkm, got {self.loss!r}")
        if self.amp not in ("none", "bf16"):
            raise InputError(f"amp must be none or bf16, got {self.amp!r}")
        for name in ("epochs", "batch_size", "log_every", "checkpoint_every", "val_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InputError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        object.__setattr__(self, "model", dict(self.model))
        object.__setattr__(self, "flip_pairs", tuple(tuple(int(v) for v in p) for p in self.flip_pairs))
        object.__setattr__(self, "lr_steps", tuple(int(v) for v in self.lr_steps))
        self.hrnet_config()  # an unknown or bad model key fails here, with its name

    def hrnet_config(self) -> HRNetConfig:
        return HRNetConfig.from_dict(self.model, source="train config 'model'")

    def pairs(self) -> tuple[tuple[int, int], ...]:
        if self.flip_pairs:
            return self.flip_pairs
        if self.hrnet_config().num_joints == len(js.COCO_17):
            return tuple((a, b) for a, b in enumerate(js.COCO_17.flip_perm) if a < b)
        return ()

    def augmentation(self) -> Augmentation:
        upper = tuple(range(11)) if self.hrnet_config().num_joints == len(js.COCO_17) else ()
        return Augmentation(scale_factor=self.scale_factor, rotation_factor=self.rotation_factor,
                            flip=self.flip, half_body_prob=self.half_body_prob if upper else 0.0,
                            half_body_min_joints=self.half_body_min_joints, upper_body=upper)

    def lr_at(self, epoch: int) -> float:
        return self.lr * self.lr_factor ** sum(epoch >= s for s in self.lr_steps)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["model"] = self.hrnet_config().to_dict()
        return {k: [list(p) if isinstance(p, tuple) else p for p in v] if isinstance(v, tuple) else v
                for k, v in out.items()}


def load_train_config(path: str | os.PathLike, **overrides: Any) -> Pose2DTrainConfig:
    """Read a preset; ``overrides`` (None values ignored) replace its settings."""
    values = read_yaml(path)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return config_from_dict(Pose2DTrainConfig, values, source=str(path))


def _fresh_final_layer(model: HRNet, state_dict: Mapping[str, torch.Tensor], source: str) -> list[str]:
    """Load ``state_dict`` into ``model`` keeping the model's own final layer when its shape
    differs (a new joint count); any other difference is an error. Returns the fresh keys."""
    own = model.state_dict()
    fresh, merged = [], {}
    for key, value in own.items():
        given = state_dict.get(key)
        if key.startswith("final_layer.") and (given is None or given.shape != value.shape):
            fresh.append(key)
            merged[key] = value
        elif given is None or given.shape != value.shape:
            raise InputError(f"{source}: init_weights do not fit HRNet(width={model.config.width}): key {key} "
                             f"{'missing' if given is None else f'has shape {tuple(given.shape)}'}; "
                             "use weights of the same width")
        else:
            merged[key] = given
    model.load_state_dict(merged, strict=True)
    return fresh


@dataclass
class TrainResult:
    step: int
    epoch: int
    history: list[tuple[int, float]]
    checkpoint: Path
    model_path: Path
    log_path: Path
    fresh_keys: list[str]
    model: HRNet | None = None  # the trained network (on the training device, train mode)


class Pose2DTrainer:
    """The network, its optimiser and one training step.

    Args:
        config: the recipe.
        device: where to train.
        ddp: wrap the network in DistributedDataParallel (the process group must exist).
    """

    def __init__(self, config: Pose2DTrainConfig, device: torch.device, ddp: bool = False) -> None:
        self.config = config
        self.device = device
        torch.manual_seed(config.seed)
        self.model = HRNet(config.hrnet_config())
        self.fresh_keys: list[str] = []
        if config.init_weights:
            start = load_pretrained(config.init_weights)
            self.fresh_keys = _fresh_final_layer(self.model, start.state_dict(), config.init_weights)
        self.model.to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.network: nn.Module = self.model
        if ddp:
            ids = [device.index] if device.type == "cuda" else None
            self.network = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    def set_epoch(self, epoch: int) -> float:
        lr = self.config.lr_at(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def loss(self, output: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        weight = batch["target_weight"].to(self.device)
        if self.model.config.head == "dsnt":
            loss, _ = dsnt_loss(output, batch["joints"].to(self.device), weight, self.config.dsnt_sigma,
                                self.config.dsnt_js_weight)
            return loss
        return joints_mse_loss(output, batch["target"].to(self.device),
                               weight if self.config.use_target_weight else None,
                               self.config.ohkm_topk if self.config.loss == "ohkm" else 0)

    def step(self, batch: Mapping[str, torch.Tensor]) -> float:
        self.network.train()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.amp == "bf16"):
            output = self.network(batch["image"].to(self.device))
        loss = self.loss(output.float(), batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def state(self, step: int, epoch: int, batch_in_epoch: int) -> dict[str, Any]:
        """Everything a resume needs, as plain containers of tensors (torch.load weights_only)."""
        return {"format": TRAIN_CHECKPOINT_FORMAT, "version": TRAIN_CHECKPOINT_VERSION,
                "config": self.config.to_dict(), "step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "torch_rng": torch.get_rng_state()}

    def load_state(self, state: Mapping[str, Any], path: Path) -> tuple[int, int, int]:
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, RuntimeError, ValueError) as error:
            raise InputError(f"{path}: training state does not match this config "
                             f"({' '.join(str(error).split())[:200]})") from None
        torch.set_rng_state(state["torch_rng"])
        return int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"])


def load_train_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``checkpoint.pt`` written by ``train_pose2d`` (weights_only, format checked)."""
    return read_training_checkpoint(path, TRAIN_CHECKPOINT_FORMAT, TRAIN_CHECKPOINT_VERSION, "pose2d")


def epoch_order(num_people: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled person order of one epoch (the same on every rank and every resume)."""
    return np.random.default_rng([seed, epoch, 7919]).permutation(num_people)


def _batches(order: np.ndarray, batch_size: int, rank: int, world: int) -> list[list[int]]:
    mine = order[rank::world]
    per_rank = len(order) // world  # equal counts on every rank, so DDP steps stay in lockstep
    mine = mine[:per_rank]
    return [mine[i:i + batch_size].tolist() for i in range(0, len(mine) - batch_size + 1, batch_size)] or \
        ([mine.tolist()] if len(mine) else [])


def _datasets(config: Pose2DTrainConfig) -> tuple[CocoKeypoints, CocoKeypoints | None]:
    """The training people (augmented) and the validation people, when the config names them."""
    hrnet = config.hrnet_config()
    dataset = CocoKeypoints(config.train_annotations, config.train_images, hrnet.image_size, hrnet.heatmap_size,
                            hrnet.sigma, config.pairs(), config.augmentation(), config.seed, hrnet.num_joints)
    val = None
    if config.val_annotations:
        val = CocoKeypoints(config.val_annotations, config.val_images or config.train_images, hrnet.image_size,
                            hrnet.heatmap_size, hrnet.sigma, config.pairs(), None, config.seed, hrnet.num_joints)
    return dataset, val


def _total_steps(config: Pose2DTrainConfig, num_people: int, rank: int, world: int, step: int) -> int:
    """The steps the run will take: all epochs, or ``config.max_steps`` (never fewer than done)."""
    per_epoch = len(_batches(np.arange(num_people), config.batch_size, rank, world))
    total_steps = config.epochs * per_epoch
    if config.max_steps:
        total_steps = min(total_steps, max(int(config.max_steps), step))
    return total_steps


def _log_row(step: int, epoch: int, lr: float, began: float, **values: str) -> dict[str, Any]:
    """A ``log.csv`` row: step, epoch and learning rate, ``values``, and the seconds since ``began``."""
    return {"step": step, "epoch": epoch, "lr": f"{lr:.3g}", **values, "seconds": f"{time.perf_counter() - began:.1f}"}


def _validation(trainer: Pose2DTrainer, val: CocoKeypoints, config: Pose2DTrainConfig,
                device: torch.device) -> dict[str, str]:
    """The validation columns of a log row: loss, mean pixel error and PCK of the model on ``val``."""
    from hmr.pose2d.evaluation import evaluate_dataset

    metrics = evaluate_dataset(trainer.model, val, max_people=config.val_max_people, device=device,
                               loss_fn=trainer.loss)
    return {"val_loss": f"{metrics['loss']:.6g}", "val_px": f"{metrics['mean_px_error']:.4g}",
            "val_pck": f"{metrics['pck']:.4g}"}


def train_pose2d(config: Pose2DTrainConfig, out_dir: str | os.PathLike, resume: bool = False,
                 device: str | torch.device = "cpu",
                 on_step: Callable[[int, int, float], None] | None = None,
                 progress: Progress = no_progress) -> TrainResult:
    """Train HRNet top-down on the config's COCO-format data.

    Args:
        config: the recipe.
        out_dir: folder for ``checkpoint.pt``, ``hrnet.pt``, ``log.csv`` and ``config.json``.
        resume: continue from ``<out_dir>/checkpoint.pt``.
        device: "cpu", "cuda", "cuda:1"; under torchrun, CUDA uses LOCAL_RANK.
        on_step: called after every step with (step, epoch, loss).
        progress: a ``body_models.progress.Progress`` reporter, called on rank 0 as ``("train",
            steps done, steps the run will take)`` (all epochs, or ``config.max_steps``; counting
            the steps of a resumed run from its start).

    Raises:
        MissingFileError, InputError: data or the checkpoint to resume are missing or malformed.
    """
    out_dir = Path(out_dir)
    process = join_training(device)
    device, rank, world, is_main = process.device, process.rank, process.world, process.rank == 0
    dataset, val = _datasets(config)
    checkpoint_path, model_path, log_path = out_dir / "checkpoint.pt", out_dir / "hrnet.pt", out_dir / "log.csv"
    saved = load_train_checkpoint(checkpoint_path) if resume else None
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "config.json", config.to_dict())
    trainer = Pose2DTrainer(config, device, process.ddp)
    step, epoch, done_in_epoch = trainer.load_state(saved, checkpoint_path) if saved is not None else (0, 0, 0)
    rows: list[dict[str, Any]] = read_log(log_path, step) if is_main else []

    def save(step: int, epoch: int, batch_in_epoch: int) -> None:
        if is_main:
            with atomic_path(checkpoint_path) as tmp:
                torch.save(trainer.state(step, epoch, batch_in_epoch), tmp)
            save_checkpoint(model_path, trainer.model)
            write_log(log_path, rows, LOG_COLUMNS)

    history: list[tuple[int, float]] = []
    began = time.perf_counter()
    finished = False
    total_steps = _total_steps(config, len(dataset), rank, world, step)
    report = as_progress(progress) if is_main else no_progress
    report("train", step, total_steps)
    while epoch < config.epochs and not finished:
        lr = trainer.set_epoch(epoch)
        dataset.set_epoch(epoch)
        batches = _batches(epoch_order(len(dataset), config.seed, epoch), config.batch_size, rank, world)
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches[done_in_epoch:],
                                             num_workers=config.num_workers)
        for position, batch in enumerate(loader, start=done_in_epoch + 1):
            loss = trainer.step(batch)
            step += 1
            history.append((step, loss))
            if is_main and step % config.log_every == 0:
                rows.append(_log_row(step, epoch, lr, began, loss=f"{loss:.6g}"))
            at_end = position == len(batches)
            finished = bool(config.max_steps and step >= config.max_steps)
            if at_end:
                epoch, position = epoch + 1, 0
                if val is not None and is_main and epoch % config.val_every == 0:
                    rows.append(_log_row(step, epoch, lr, began, **_validation(trainer, val, config, device)))
            if finished or at_end or step % config.checkpoint_every == 0:
                save(step, epoch, position)
            report("train", step, total_steps)
            if on_step is not None:
                on_step(step, epoch, loss)
            if finished or at_end:
                break
        done_in_epoch = 0
    if not history:  # nothing left to run: still leave the files in place
        save(step, epoch, 0)
    process.leave()
    return TrainResult(step=step, epoch=epoch, history=history, checkpoint=checkpoint_path, model_path=model_path,
                       log_path=log_path, fresh_keys=trainer.fresh_keys, model=trainer.model)
