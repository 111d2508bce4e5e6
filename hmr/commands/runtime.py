"""What every subcommand needs at run time, in one place: which device ``--device auto`` means,
how ``--refine`` names HRNet's heatmap decoding, and the progress bars (the library reports through ``body_models.progress``; only this module
draws)."""

from __future__ import annotations

import os

from body_models.errors import InputError


def add_refine_argument(parser, default: str = "official", prefix: str = "") -> None:
    """``--refine official|dark``: HRNet's heatmap decoding, the same spelling in every command."""
    parser.add_argument("--refine", choices=("official", "dark"), default=default,
                        help=f"{prefix}HRNet's heatmap decoding: official (argmax and a quarter-cell shift, the "
                             "official test's outputs) or dark (DARK's Taylor refinement, better on coarse heatmaps); "
                             f"default: {default}")


def resolve_refine(name: str) -> str | None:
    """A ``--refine`` value as ``hmr.pose2d.topdown`` takes it: None for the official decoding."""
    return None if name == "official" else name


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


class TqdmProgress:
    """The CLI's progress reporter (``body_models.progress.Progress``): one tqdm bar per stage,
    closed when the stage finishes or another begins. Use it as a context manager, or call
    ``close`` when the work is over.

    Args:
        unit: what a stage counts ("frame", "step", ...).
        leave: keep each finished bar on screen.
        width: stage names are right-aligned to this many characters.
    """

    def __init__(self, unit: str = "it", leave: bool = True, width: int = 0) -> None:
        self.unit, self.leave, self.width = unit, leave, width
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage != self.stage:
            self.close()
            from tqdm import tqdm

            self.stage = stage
            self.bar = tqdm(total=total or None, desc=f"{stage:>{self.width}}", unit=self.unit, leave=self.leave,
                            dynamic_ncols=True)
        if self.bar is None:  # this stage already finished
            return
        self.bar.update(done - self.bar.n)
        if total and done >= total:
            self.bar.close()
            self.bar = None

    def postfix(self, **values) -> None:
        """Show these values beside the current bar (e.g. the loss)."""
        if self.bar is not None:
            self.bar.set_postfix(values, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = None
        self.stage = None

    def __enter__(self) -> "TqdmProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class QuietProgress(TqdmProgress):
    """``--quiet``: the same interface, nothing shown (``no_progress`` with ``close``)."""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        pass

    def postfix(self, **values) -> None:
        pass


def cli_progress(quiet: bool, unit: str = "it", leave: bool = True, width: int = 0, main: bool | None = None):
    """The reporter a subcommand passes to the library: tqdm bars, or silence with ``--quiet``
    and (``main`` None: read from ``RANK``) on every process but rank 0 of a torchrun job."""
    if main is None:
        main = int(os.environ.get("RANK", "0")) == 0
    if quiet or not main:
        return QuietProgress()
    return TqdmProgress(unit=unit, leave=leave, width=width)
