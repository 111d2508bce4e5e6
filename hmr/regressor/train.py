"""Training the HMR regressor with HMR's losses and adversarial prior.

    hmr train-regressor --config configs/regressor/train_tiny_synthetic.yaml --out runs/tiny
    hmr train-regressor --config configs/regressor/train_tiny_synthetic.yaml --out runs/tiny --resume
    torchrun --nproc_per_node 4 -m hmr.cli train-regressor --config my_recipe.yaml --out runs/big --device cuda

Each step (FORMATS §5.4):

1. the regressor predicts SMPL θ, β and the camera for a batch of augmented crops;
2. the regressor loss is 60 · 2D keypoints (last iteration) + 3D joints + SMPL parameters +
   the adversarial loss of every iteration's estimate; one Adam step on the regressor;
3. the discriminator sees mocap (real) and the same estimates, detached (fake); one Adam step.

Files in the output folder: `checkpoint.pt` (the full training state, written every
`checkpoint_every` steps and at the end; `--resume` continues from it exactly: weights, both
optimisers, step and the torch RNG), `regressor.pt` (the model alone, for
`hmr.regressor.load_pretrained`), `log.csv` (one row per logged step; `seconds` counts from the
start of the current call, so it restarts after a resume), `config.json`.

Several processes (`torchrun`) split nothing but the batches: each rank draws its own batch for
every step (seeded with the rank), gradients are averaged by DistributedDataParallel, rank 0
writes the files.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import nn

from body_models import joints as js
from body_models.atomic import atomic_path, write_json
from body_models.cameras import weak_perspective_project
from body_models.configs import config_from_dict, read_yaml
from body_models.errors import InputError
from body_models.progress import Progress, as_progress, no_progress
from body_models.rotations import axis_angle_to_matrix
from body_models.training import join_training, read_log, read_training_checkpoint, write_log
from hmr.regressor.checkpoints import load_mean_params, save_checkpoint
from hmr.regressor.data import (
    Augmentation,
    BatchSource,
    MocapData,
    SpinDataset,
    write_synthetic_dataset,
)
from hmr.regressor.discriminator import Discriminator, adversarial_loss, discriminator_loss
from hmr.regressor.losses import (
    LossWeights,
    joints3d_loss,
    keypoint_loss,
    smpl_param_loss,
)
from hmr.regressor.model import HMR, HMRConfig

__all__ = [
    "RegressorTrainConfig",
    "RegressorTrainer",
    "StepLosses",
    "TrainResult",
    "build_batch_source",
    "load_train_checkpoint",
    "load_train_config",
    "train_regressor",
]

TRAIN_CHECKPOINT_FORMAT = "hmr-video/hmr-train"
TRAIN_CHECKPOINT_VERSION = 1
LOG_COLUMNS = ("step", "loss", "keypoints", "joints3d", "smpl", "adversarial", "discriminator",
               "d_real", "d_fake", "seconds")
_LSP_FROM_SPIN_24 = list(js.index_map(js.SPIN_24, js.LSP_14))


@dataclass(frozen=True)
class RegressorTrainConfig:
    """A training recipe; `configs/regressor/train_*.yaml` are presets of it.

    Attributes:
        model: HMRConfig settings (head, n_iter, hidden_dim, dropout, image_size).
        mean_params: SPIN's smpl_mean_params.npz, or "mannequin" for the mannequin's.
        body_model: "mannequin" or an SMPL model file / folder.
        datasets: SPIN-layout datasets, each {"npz": path, "images": folder}.
        mocap: npz with poses (N, 72) and betas (N, 10) for the prior.
        init_weights: a regressor checkpoint (SPIN's ``model_checkpoint.pt`` or a project file) to
            start from, or empty (ImageNet-free random start). Its architecture (head, backbone,
            IEF iterations, width, crop size) must equal ``model``'s; dropout may differ. The
            discriminator and both optimisers start fresh.
        synthetic_samples: > 0 writes that many synthetic samples (and mocap) into
            `<out>/synthetic` on the first run and trains on them instead of `datasets`/`mocap`.
        synthetic_image_size: side of the synthetic images, pixels.
        steps: optimisation steps.
        batch_size: crops per step (per process).
        mocap_batch_size: real samples per step for the discriminator; 0 = n_iter · batch_size,
            as many as the fakes.
        lr, d_lr: Adam learning rates of the regressor and the discriminator (HMR: 1e-3).
        lr_steps: steps after which both learning rates are multiplied by `lr_gamma` (none: constant,
            as HMR and SPIN train).
        lr_gamma: the factor of each step in `lr_steps`.
        weight_decay, d_weight_decay: L2 weight decay (HMR: 1e-4 both).
        keypoint_weight, joints3d_weight, smpl_weight, adversarial_weight: `LossWeights`.
        augment, flip_prob, noise_factor, rot_factor, rot_zero_prob, scale_factor: `Augmentation`.
        amp: "none" or "bf16" (autocast for the networks; losses and the body model in float32).
        channels_last: run the ResNet in channels-last memory format.
        checkpoint_every: steps between checkpoints (and at the end).
        log_every: steps between log rows.
        num_workers: data-loading processes (0 loads in the training process).
        seed: seeds weights, batches, augmentation and dropout.
    """

    model: Mapping[str, Any] = field(default_factory=dict)
    mean_params: str = "mannequin"
    body_model: str = "mannequin"
    datasets: tuple = ()
    mocap: str = ""
    init_weights: str = ""
    synthetic_samples: int = 0
    synthetic_image_size: int = 128
    steps: int = 1000
    batch_size: int = 8
    mocap_batch_size: int = 0
    lr: float = 1e-3
    d_lr: float = 1e-3
    lr_steps: tuple = ()
    lr_gamma: float = 0.1
    weight_decay: float = 1e-4
    d_weight_decay: float = 1e-4
    keypoint_weight: float = 60.0
    joints3d_weight: float = 1.0
    smpl_weight: float = 1.0
    adversarial_weight: float = 1.0
    augment: bool = True
    flip_prob: float = 0.5
    noise_factor: float = 0.4
    rot_factor: float = 30.0
    rot_zero_prob: float = 0.6
    scale_factor: float = 0.25
    amp: str = "none"
    channels_last: bool = False
    checkpoint_every: int = 1000
    log_every: int = 10
    num_workers: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.amp not in ("none", "bf16"):
            raise InputError(f"amp must be 'none' or 'bf16', got {self.amp!r}")
        for name in ("steps", "batch_size", "checkpoint_every", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise InputError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if any(not isinstance(m, int) or m < 1 for m in self.lr_steps) or list(self.lr_steps) != sorted(self.lr_steps):
            raise InputError(f"lr_steps must be increasing positive step numbers, got {list(self.lr_steps)!r}")
        if not 0.0 < float(self.lr_gamma) <= 1.0:
            raise InputError(f"lr_gamma must be in (0, 1], got {self.lr_gamma!r}")
        for entry in self.datasets:
            if not isinstance(entry, Mapping) or set(entry) != {"npz", "images"}:
                raise InputError(f"each dataset must be a mapping with keys npz and images; got {entry!r}")
        if self.synthetic_samples <= 0 and (not self.datasets or not self.mocap):
            raise InputError("the config needs datasets and mocap, or synthetic_samples > 0")
        self.hmr_config()  # validates the model settings

    def hmr_config(self) -> HMRConfig:
        return HMRConfig.from_dict(dict(self.model), source="model")

    def lr_scale(self, step: int) -> float:
        """The learning-rate factor of step `step` (1-based): lr_gamma per milestone already passed."""
        return float(self.lr_gamma) ** sum(step > milestone for milestone in self.lr_steps)

    def loss_weights(self) -> LossWeights:
        return LossWeights(self.keypoint_weight, self.joints3d_weight, self.smpl_weight, self.adversarial_weight)

    def augmentation(self) -> Augmentation:
        return Augmentation(self.augment, self.flip_prob, self.noise_factor, self.rot_factor,
                            self.rot_zero_prob, self.scale_factor)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["model"] = dict(self.model)
        values["datasets"] = [dict(entry) for entry in self.datasets]
        values["lr_steps"] = list(self.lr_steps)
        return values


def load_train_config(path: str | os.PathLike, **overrides: Any) -> RegressorTrainConfig:
    """Read a training preset; `overrides` replace single keys (e.g. steps=10)."""
    values = read_yaml(path)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return config_from_dict(RegressorTrainConfig, values, source=str(path))


@dataclass
class StepLosses:
    """Loss values of one step (floats).

    Attributes:
        loss: the regressor's weighted total.
        keypoints, joints3d, smpl, adversarial: unweighted terms of the regressor loss.
        discriminator: the discriminator's LSGAN loss (weighted).
        d_real, d_fake: mean discriminator score on real and fake samples.
    """

    loss: float
    keypoints: float
    joints3d: float
    smpl: float
    adversarial: float
    discriminator: float
    d_real: float
    d_fake: float


@dataclass
class TrainResult:
    """What `train_regressor` did.

    Attributes:
        step: the last completed step.
        history: (step, StepLosses) of every step run in this call.
        checkpoint: the training-state checkpoint.
        model_path: the model alone, readable by `load_pretrained`.
        log_path: the CSV log.
    """

    step: int
    history: list[tuple[int, StepLosses]]
    checkpoint: Path
    model_path: Path
    log_path: Path


class RegressorTrainer:
    """The regressor, discriminator, body model, both optimisers and one training step; no files,
    no loop (`train_regressor` adds those).

    Args:
        config: the recipe (model settings, mean parameters, body model, optimiser settings).
        device: where the models live.
        ddp: wrap both networks in DistributedDataParallel (the process group must exist).
    """

    def __init__(self, config: RegressorTrainConfig, device: torch.device, ddp: bool = False) -> None:
        from body_models import mannequin
        from body_models.smpl import load_smpl

        self.config, self.device = config, device
        self.weights = config.loss_weights()
        torch.manual_seed(config.seed)
        mean_path = mannequin.mean_params_path() if config.mean_params == "mannequin" else config.mean_params
        self.model = HMR(config.hmr_config(), load_mean_params(mean_path)).to(device)
        if config.init_weights:
            self._load_init_weights(Path(config.init_weights))
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.discriminator = Discriminator().to(device)
        self.smpl = load_smpl(config.body_model).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.d_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=config.d_lr,
                                            weight_decay=config.d_weight_decay)
        self.model_ddp: nn.Module = self.model
        self.discriminator_ddp: nn.Module = self.discriminator
        if ddp:
            ids = [device.index] if device.type == "cuda" else None
            self.model_ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
            self.discriminator_ddp = nn.parallel.DistributedDataParallel(self.discriminator, device_ids=ids)

    def _load_init_weights(self, path: Path) -> None:
        from hmr.regressor.checkpoints import load_pretrained

        start = load_pretrained(path)
        ours, theirs = self.config.hmr_config(), start.config
        architecture = lambda c: dataclasses.replace(c, dropout=0.0)  # noqa: E731
        if architecture(ours) != architecture(theirs):
            raise InputError(f"{path}: init_weights is a {theirs.backbone} {theirs.head} regressor at "
                             f"{theirs.image_size} px, but the config's model is a {ours.backbone} {ours.head} "
                             f"at {ours.image_size} px (n_iter, hidden_dim must match too); fix model: or init_weights:")
        self.model.load_state_dict(start.state_dict())

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.amp == "bf16")

    def set_lr_scale(self, scale: float) -> None:
        """Both optimisers at `scale` times the config's learning rates (a pure function of the step,
        so a resumed run follows the same schedule)."""
        for optimizer, base in ((self.optimizer, self.config.lr), (self.d_optimizer, self.config.d_lr)):
            for group in optimizer.param_groups:
                group["lr"] = base * scale

    def step(self, batch: Mapping[str, torch.Tensor]) -> StepLosses:
        """One Adam step of the regressor, then one of the discriminator.

        Args:
            batch: a `BatchSource` item (image (B, 3, S, S), keypoints (B, 24, 3), joints3d
                (B, 24, 4), pose (B, 72), betas (B, 10), has_3d, has_smpl (B,), mocap_pose
                (M, 72), mocap_betas (M, 10)).

        Returns:
            StepLosses of this step (computed before the updates).
        """
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        images = batch["image"]
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        self.model_ddp.train()
        self.discriminator_ddp.train()
        with self._autocast():
            out = self.model_ddp(images)
        rotmat, betas, cam = out.rotmat.float(), out.betas.float(), out.cam.float()
        body = self.smpl(betas=betas, body_pose=rotmat[:, 1:], global_orient=rotmat[:, :1])
        joints = body.joint_set("spin_24")  # (B, 24, 3)
        loss_2d = keypoint_loss(weak_perspective_project(joints, cam), batch["keypoints"])
        loss_3d = joints3d_loss(joints[:, _LSP_FROM_SPIN_24], batch["joints3d"][:, _LSP_FROM_SPIN_24],
                                batch["has_3d"])
        loss_smpl = smpl_param_loss(rotmat, betas, batch["pose"], batch["betas"], batch["has_smpl"])
        # Every IEF iteration's estimate is a fake sample for the prior.
        fake_rotmat = out.rotmat_iters[:, :, 1:].flatten(0, 1).float()  # (n_iter · B, 23, 3, 3)
        fake_betas = out.betas_iters.flatten(0, 1).float()  # (n_iter · B, 10)
        with self._autocast():
            fake_scores = self.discriminator_ddp(fake_rotmat, fake_betas).float()
        loss_adv = adversarial_loss(fake_scores)
        w = self.weights
        loss = w.keypoints * loss_2d + w.joints3d * loss_3d + w.smpl * loss_smpl + w.adversarial * loss_adv
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

        real_rotmat = axis_angle_to_matrix(batch["mocap_pose"].reshape(-1, 24, 3))[:, 1:]  # (M, 23, 3, 3)
        num_real = real_rotmat.shape[0]
        with self._autocast():  # one forward for real and fake, so DDP sees one pass per backward
            scores = self.discriminator_ddp(torch.cat([real_rotmat, fake_rotmat.detach()]),
                                            torch.cat([batch["mocap_betas"], fake_betas.detach()])).float()
        real_scores, fake_scores_d = scores[:num_real], scores[num_real:]
        loss_d = w.adversarial * discriminator_loss(real_scores, fake_scores_d)
        self.d_optimizer.zero_grad(set_to_none=True)
        loss_d.backward()
        self.d_optimizer.step()
        return StepLosses(loss=loss.item(), keypoints=loss_2d.item(), joints3d=loss_3d.item(),
                          smpl=loss_smpl.item(), adversarial=loss_adv.item(), discriminator=loss_d.item(),
                          d_real=real_scores.mean().item(), d_fake=fake_scores_d.mean().item())

    def state(self, step: int) -> dict[str, Any]:
        """Everything a resume needs, as plain containers of tensors (torch.load weights_only)."""
        return {
            "format": TRAIN_CHECKPOINT_FORMAT,
            "version": TRAIN_CHECKPOINT_VERSION,
            "config": self.config.to_dict(),
            "step": step,
            "model": self.model.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if self.device.type == "cuda" else torch.zeros(0, dtype=torch.uint8),
        }

    def load_state(self, state: Mapping[str, Any], path: Path) -> int:
        """Restore `state()` output (read from `path`); returns its step."""
        try:
            self.model.load_state_dict(state["model"])
            self.discriminator.load_state_dict(state["discriminator"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.d_optimizer.load_state_dict(state["d_optimizer"])
        except (KeyError, RuntimeError, ValueError) as error:
            raise InputError(f"{path}: training state does not match this config "
                             f"({' '.join(str(error).split())[:200]})") from None
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state["cuda_rng"].numel():
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        return int(state["step"])


def load_train_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``checkpoint.pt`` written by ``train_regressor`` (weights_only, format checked)."""
    return read_training_checkpoint(path, TRAIN_CHECKPOINT_FORMAT, TRAIN_CHECKPOINT_VERSION, "regressor")




def build_batch_source(config: RegressorTrainConfig, out_dir: Path, rank: int = 0, is_main: bool = True) -> BatchSource:
    """The config's training batches; a synthetic config writes its data into `<out_dir>/synthetic`
    first (rank 0 only; other ranks wait)."""
    if config.synthetic_samples > 0:
        folder = out_dir / "synthetic"
        if is_main and not (folder / "synthetic.npz").is_file():
            write_synthetic_dataset(folder, num_samples=config.synthetic_samples,
                                    image_size=config.synthetic_image_size, seed=config.seed,
                                    body_model=config.body_model)
        if torch.distributed.is_initialized():
            torch.distributed.barrier()
        datasets = [SpinDataset(folder / "synthetic.npz", folder)]
        mocap = MocapData(folder / "mocap.npz")
    else:
        datasets = [SpinDataset(entry["npz"], entry["images"]) for entry in config.datasets]
        mocap = MocapData(config.mocap)
    hmr = config.hmr_config()
    mocap_batch = config.mocap_batch_size or hmr.n_iter * config.batch_size
    return BatchSource(datasets, mocap, config.batch_size, mocap_batch, hmr.image_size,
                       config.augmentation(), config.seed, rank)


def _step_batches(source: BatchSource, steps: range, num_workers: int) -> Iterator[Any]:
    """The batches of ``steps``, in order: made by ``num_workers`` worker processes, or here when 0."""
    if num_workers > 0:
        return iter(torch.utils.data.DataLoader(source, batch_size=None, sampler=list(steps),
                                                num_workers=num_workers, persistent_workers=False))
    return (source[step] for step in steps)


def train_regressor(
    config: RegressorTrainConfig,
    out_dir: str | os.PathLike,
    resume: bool = False,
    device: str | torch.device = "cpu",
    on_step: Callable[[int, StepLosses], None] | None = None,
    progress: Progress = no_progress,
) -> TrainResult:
    """Train the HMR regressor and its discriminator.

    Args:
        config: the recipe.
        out_dir: folder for checkpoints, the log and (synthetic configs) the generated data.
        resume: continue from `<out_dir>/checkpoint.pt` (same data, RNG and optimiser state as
            an uninterrupted run).
        device: where to train ("cpu", "cuda", "cuda:1"); under torchrun, CUDA uses LOCAL_RANK.
        on_step: called after every step with (step, losses), e.g. to show the losses.
        progress: a ``body_models.progress.Progress`` reporter, called on rank 0 as ``("train",
            steps done, config.steps)`` (counting the steps of a resumed run from its start).

    Returns:
        TrainResult.

    Raises:
        MissingFileError, InputError: data, mean parameters or the checkpoint to resume are
            missing or malformed.
    """
    out_dir = Path(out_dir)
    process = join_training(device)
    is_main = process.rank == 0
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "config.json", config.to_dict())

    checkpoint_path, model_path, log_path = out_dir / "checkpoint.pt", out_dir / "regressor.pt", out_dir / "log.csv"
    saved = load_train_checkpoint(checkpoint_path) if resume else None
    # the data first, so that its errors surface before the models are built
    source = build_batch_source(config, out_dir, process.rank, is_main)
    trainer = RegressorTrainer(config, process.device, process.ddp)
    start = trainer.load_state(saved, checkpoint_path) if saved is not None else 0
    rows: list[dict[str, Any]] = read_log(log_path, start) if is_main else []
    steps = range(start + 1, config.steps + 1)
    batches = _step_batches(source, steps, config.num_workers)

    def save(step: int) -> None:
        if is_main:
            with atomic_path(checkpoint_path) as tmp:
                torch.save(trainer.state(step), tmp)
            save_checkpoint(model_path, trainer.model)
            write_log(log_path, rows, LOG_COLUMNS)

    history: list[tuple[int, StepLosses]] = []
    began = time.perf_counter()
    step = start
    report = as_progress(progress) if is_main else no_progress
    report("train", start, config.steps)
    for step, batch in zip(steps, batches):
        trainer.set_lr_scale(config.lr_scale(step))
        losses = trainer.step(batch)
        history.append((step, losses))
        if is_main and (step % config.log_every == 0 or step == config.steps):
            rows.append({"step": step, **{k: f"{v:.6g}" for k, v in dataclasses.asdict(losses).items()},
                         "seconds": f"{time.perf_counter() - began:.3f}"})
        if step % config.checkpoint_every == 0 or step == config.steps:
            save(step)
        report("train", step, config.steps)
        if on_step is not None:
            on_step(step, losses)
    if step == start and is_main:  # nothing left to run: still leave the files in place
        save(step)
    process.leave()
    return TrainResult(step=step, history=history, checkpoint=checkpoint_path, model_path=model_path,
                       log_path=log_path)


def plot_losses(log_path: str | os.PathLike, png_path: str | os.PathLike) -> Path:
    """The training log as a PNG: the regressor's terms (unweighted, log scale) above, and the
    adversarial game below (the generator's and the discriminator's losses and the
    discriminator's mean score on mocap and on the regressor's estimates), so it shows whether the
    prior is doing anything. Written atomically; returns ``png_path``."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with Path(log_path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise InputError(f"{log_path}: the training log has no rows; train for at least log_every steps")
    steps = [int(row["step"]) for row in rows]

    def column(name: str) -> list[float]:
        return [float(row[name]) for row in rows]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name in ("keypoints", "joints3d", "smpl"):
        top.plot(steps, column(name), lw=1, label=name)
    top.set_yscale("log")
    top.set_ylabel("loss term (unweighted)")
    top.set_title(f"HMR regressor training: {Path(log_path).parent.name}")
    top.legend()
    for name, label in (("adversarial", "generator (adversarial)"), ("discriminator", "discriminator")):
        bottom.plot(steps, column(name), lw=1, label=label)
    bottom.set_ylabel("adversarial losses")
    scores = bottom.twinx()
    scores.plot(steps, column("d_real"), "k--", lw=0.8, label="D(mocap)")
    scores.plot(steps, column("d_fake"), "k:", lw=0.8, label="D(estimate)")
    scores.set_ylabel("mean discriminator score")
    bottom.set_xlabel("step")
    lines = bottom.get_legend_handles_labels(), scores.get_legend_handles_labels()
    bottom.legend(lines[0][0] + lines[1][0], lines[0][1] + lines[1][1], fontsize=8, loc="center right")
    fig.tight_layout()
    with atomic_path(Path(png_path)) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return Path(png_path)
