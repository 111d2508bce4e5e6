"""What every subcommand needs at run time, in one place: which device ``--device auto`` means."""

from __future__ import annotations

import os

from body_models.errors import InputError


def resolve_device(name: str) -> str:
    """The device a ``--device`` value names.

    ``auto`` is the GPU when CUDA is available (``cuda:LOCAL_RANK`` under torchrun, so each
    process of a DDP run gets its own), else ``cpu``. Any other name is checked: one that torch
    does not know, or a CUDA device on a machine without CUDA, is a one-line error.
    """
    import torch

    if name == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        return f"cuda:{int(os.environ['LOCAL_RANK'])}" if "LOCAL_RANK" in os.environ else "cuda"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {name}: not a device torch knows; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name}: CUDA is not available here; use --device cpu or auto")
    return name
