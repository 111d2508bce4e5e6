"""What a lifter training run writes and what resuming it reads back.

One ``EpochLog`` row per epoch goes to ``log.csv``; ``TrainResult`` is what ``train_lifter``
returns. A checkpoint (``_save``) holds the models and, in its ``extra``, the optimizer, the
learning rate, the epoch, every random state and the log so far, so that ``_restore`` puts a
resumed run exactly where the interrupted one stood.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from body_models.atomic import write_text
from body_models.errors import InputError
from lifting.checkpoints import load_checkpoint, save_checkpoint
from lifting.chunks import ChunkedBatches, _EndlessBatches
from lifting.train_config import TrainConfig

__all__ = ["CSV_COLUMNS", "EpochLog", "TrainResult"]

CSV_COLUMNS = ("epoch", "lr", "bn_momentum", "loss_3d_train_mm", "loss_traj_train_mm", "loss_2d_unlabeled",
               "mpjpe_train_eval_mm", "mpjpe_valid_mm", "traj_valid_mm", "seconds")


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


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


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
