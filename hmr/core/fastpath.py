"""Fast inference paths for the networks: precision choice, BatchNorm folding, channels_last.

- ``resolve_precision``: ``"auto"`` becomes ``"bf16"`` where the hardware computes bfloat16
  natively (a CUDA device that supports it; a CPU with AMX-BF16 or AVX512-BF16, read from the
  kernel's CPU flags) and ``"fp32"`` elsewhere. ``"fp32"`` and ``"bf16"`` pass through.
- ``inference_copy``: a copy of an eval-mode convolutional network (HRNet, the HMR ResNet) with
  every BatchNorm folded into the convolution before it, in channels_last memory layout. Its
  outputs equal the original's to float rounding, so it is used only off the exact fp32 path.
  On CPU its convolutions also run fused with the sums and ReLUs after them (``hmr.core.fused``).
- ``CompiledNetwork`` (``--compile``): the network through ``torch.compile`` (inductor, with
  weight freezing), called on batches padded to a power of two so that a video's varying crop
  counts reuse a few compiled graphs. Each new batch size costs a compilation (about 30 s for
  HRNet W32 on one CPU core), so it pays on long videos only; off by default.

The exact path (``--precision fp32``) runs the networks as loaded: the official outputs exactly.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import TYPE_CHECKING

from body_models.errors import InputError

__all__ = [
    "CompiledNetwork",
    "PRECISIONS",
    "autocast",
    "cpu_bf16_flags",
    "inference_copy",
    "resolve_precision",
]

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


def inference_copy(model: torch.nn.Module, fuse: str | None = None,
                   example_size: tuple[int, ...] | None = None) -> torch.nn.Module:
    """An eval-mode copy with BatchNorm folded into the convolutions, in channels_last layout
    (inputs may stay contiguous: the first convolution converts them).

    ``fuse`` names a method of the model (HRNet's ``heatmaps``, the ResNet's ``features``) to run
    as fused bf16 oneDNN calls (``hmr.core.fused``) where the model is on a CPU with oneDNN; the
    copy then computes that method in bf16 whether or not autocast is on. Elsewhere it is ignored.
    ``example_size`` is the method's input size, (B, 3, H, W) (any B), needed with ``fuse``.
    """
    import torch

    from hmr.core.fused import can_fuse, fuse_convolutions
    from hmr.pose2d.topdown import fold_batchnorm

    folded = fold_batchnorm(model).to(memory_format=torch.channels_last)
    device = next(folded.parameters()).device
    if fuse is not None and can_fuse(device):
        example = torch.zeros((1, *example_size[1:]), device=device)
        fused = fuse_convolutions(folded, example, fuse)
        folded.add_module(f"fused_{fuse}", fused)  # a child, so that .to() and .modules() see it
        folded.__dict__[fuse] = fused  # shadows the class's method on this copy only
    return folded


class CompiledNetwork:
    """A network compiled by ``torch.compile`` (inductor, frozen weights, static shapes), called
    like the network on any batch: inputs are split into chunks of at most ``max_batch`` and each
    chunk is zero-padded to the next power of two, so at most log2(max_batch) + 1 graphs are
    compiled. ``pick`` maps the network's output to a tensor or a tuple of batch-first tensors
    (the padding rows are cut off); the default keeps a tensor output as it is.

    A compiler that cannot run (no C++ toolchain for the CPU backend) fails on the first call,
    where ``warm_up`` turns it into a one-line ``InputError``.
    """

    def __init__(self, net: torch.nn.Module, max_batch: int, pick=None) -> None:
        import torch

        self.eager = net
        self.net = torch.compile(net, dynamic=False, options={"freezing": True})
        self.max_batch = max(1, int(max_batch))
        self.pick = pick or (lambda out: out)

    def _padded_size(self, n: int) -> int:
        return min(1 << max(0, n - 1).bit_length(), self.max_batch)

    def warm_up(self, example: torch.Tensor) -> None:
        """Compile for ``example``'s batch size now, with a clear error when compiling fails."""
        try:
            self(example)
        except Exception as err:  # inductor's errors come from deep inside (compiler, codegen)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(f"torch.compile failed ({type(err).__name__}: {first[:200]}); run without "
                             "--compile (the same numbers, without the compiled speed-up)") from None

    def __call__(self, images: torch.Tensor):
        import torch

        if len(images) == 0:
            return self.pick(self.eager(images))
        parts = []
        for start in range(0, len(images), self.max_batch):
            chunk = images[start:start + self.max_batch]
            n = len(chunk)
            size = self._padded_size(n)
            if size > n:
                chunk = torch.cat([chunk, chunk.new_zeros((size - n, *chunk.shape[1:]))])
            out = self.pick(self.net(chunk))
            parts.append(out[:n] if isinstance(out, torch.Tensor) else tuple(o[:n] for o in out))
        if isinstance(parts[0], torch.Tensor):
            return torch.cat(parts)
        return tuple(torch.cat(column) for column in zip(*parts))
