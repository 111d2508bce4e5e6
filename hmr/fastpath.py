"""Fast inference paths for the networks: precision choice, BatchNorm folding, channels_last.

- ``resolve_precision``: ``"auto"`` becomes ``"bf16"`` where the hardware computes bfloat16
  natively (a CUDA device that supports it; a CPU with AMX-BF16 or AVX512-BF16, read from the
  kernel's CPU flags) and ``"fp32"`` elsewhere. ``"fp32"`` and ``"bf16"`` pass through.
- ``inference_copy``: a copy of an eval-mode convolutional network (HRNet, the HMR ResNet) with
  every BatchNorm folded into the convolution before it, in channels_last memory layout. Its
  outputs equal the original's to float rounding, so it is used only off the exact fp32 path.

The exact path (``--precision fp32``) runs the networks as loaded: the official outputs exactly.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import TYPE_CHECKING

from body_models.errors import InputError

if TYPE_CHECKING:  # torch is imported where it is used, so `hmr --help` does not load it
    import torch

PRECISIONS = ("auto", "fp32", "bf16")


@lru_cache(maxsize=1)
def cpu_bf16_flags() -> tuple[str, ...]:
    """The CPU's native bfloat16 flags (``amx_bf16``, ``avx512_bf16``) from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return tuple(flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags)
    except OSError:
        pass
    return ()


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``"fp32"`` or ``"bf16"`` for a requested precision on a device (see the module doc)."""
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision != "auto":
        return precision
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    if kind == "cpu":
        return "bf16" if cpu_bf16_flags() else "fp32"
    return "fp32"


def autocast(device: str | torch.device, precision: str):
    """bfloat16 autocast on the device for ``"bf16"``; a no-op context for ``"fp32"``."""
    if precision == "bf16":
        import torch

        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def inference_copy(model: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode copy with BatchNorm folded into the convolutions, in channels_last layout
    (inputs may stay contiguous: the first convolution converts them)."""
    import torch

    from hmr.pose2d.topdown import fold_batchnorm

    return fold_batchnorm(model).to(memory_format=torch.channels_last)
