"""Small pieces every training loop of the project shares (the lifter's, HRNet's and HMR's): the
CSV training log that a resumed run continues, and torchrun's process layout (``join_training``
starts a process's part in a distributed run, ``TrainingProcess.leave`` ends it).

Kept here, at the bottom of the stack beside ``atomic`` and ``configs``, so that every package may
use them without importing sideways.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import torch

from body_models.atomic import write_text
from body_models.errors import InputError, MissingFileError
from body_models.safe_torch import load_torch_file


def read_log(path: Path, up_to_step: int) -> list[dict[str, str]]:
    """The rows of a training log (``train_log.csv``) up to and including ``up_to_step``, so a run
    resumed from that step rewrites nothing it had not logged; none when there is no log yet."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if int(row["step"]) <= up_to_step]


def write_log(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Write the whole training log atomically, one row per logged step, in ``columns`` order."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def read_training_checkpoint(path: str | os.PathLike, fmt: str, version: int, what: str) -> dict[str, Any]:
    """A resumable training state (``checkpoint.pt``) written by one of the project's training
    commands: loaded with ``weights_only``, its ``format`` and ``version`` checked.

    Args:
        path: the checkpoint.
        fmt: the ``format`` string the command writes.
        version: the ``version`` it writes.
        what: what the checkpoint is, for errors (``"pose2d"``, ``"regressor"``).

    Raises:
        MissingFileError: no file at ``path``.
        InputError: another command's checkpoint, or another version of this one.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no training checkpoint at {path}; run without --resume to start")
    state = load_torch_file(path, "training checkpoint", "resume from a checkpoint this command wrote")
    if not isinstance(state, Mapping) or state.get("format") != fmt:
        raise InputError(f"{path}: not a {what} training checkpoint (format {fmt!r})")
    if state.get("version") != version:
        raise InputError(f"{path}: training checkpoint version {state.get('version')!r} is not supported")
    return dict(state)


def torchrun_environment() -> tuple[bool, int, int]:
    """(use DDP, rank, world size) from torchrun's ``WORLD_SIZE`` and ``RANK`` variables."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return False, 0, 1
    return True, int(os.environ.get("RANK", "0")), world


class TrainingProcess(NamedTuple):
    """This process's part in a training run, as ``join_training`` set it up."""

    ddp: bool  # several processes under torchrun: the model is wrapped in DistributedDataParallel
    rank: int
    world: int
    device: torch.device  # under torchrun, CUDA means this process's LOCAL_RANK device
    owns_group: bool  # the process group was started by ``join_training``, so ``leave`` ends it

    def leave(self) -> None:
        """End the process group if ``join_training`` started it."""
        if self.owns_group:
            torch.distributed.destroy_process_group()


def join_training(device: str | torch.device) -> TrainingProcess:
    """Join torchrun's run: start the process group when several processes were asked for and none
    is running yet (NCCL on CUDA, gloo otherwise), and train CUDA on this process's ``LOCAL_RANK``
    device. A single process (no torchrun) just gets ``device``."""
    ddp, rank, world = torchrun_environment()
    device = torch.device(device)
    owns_group = ddp and not torch.distributed.is_initialized()
    if ddp:
        if owns_group:
            torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    return TrainingProcess(ddp, rank, world, device, owns_group)
