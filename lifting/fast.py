"""The lifter's fast inference copy: every BatchNorm folded into the convolution before it.

``folded_copy(model)`` returns an eval-mode copy of a ``TemporalModel`` or
``TemporalModelOptimized1f`` whose ``expand_bn`` and ``layers_bn`` are folded into
``expand_conv`` and ``layers_conv`` (and replaced by identities), and whose first and last
layers (``expand_conv``, ``shrink``) always run in float32. The outputs equal the original's to
float rounding; it is used with bf16 autocast (``predict_sequence(..., precision="bf16")``),
never on the exact fp32 path. For inference only: the copy cannot train.

Why the ends stay in float32: bfloat16 keeps 8 bits of mantissa, so a 2D coordinate or a 3D
joint of about 0.5 m rounds to about 2 mm. With every layer in bf16, the demo lifter's joints
moved by 8.8 mm on average (39 mm at most) from the exact path on a 1,000-frame walk; with the
two ends in float32, by 0.24 mm (1.2 mm at most), for about 10 % of the speed-up. Because the
first layer's output is float32, the residual stream stays float32 too (each block's bf16
output is added to it).

``cached_folded_copy(model)`` keeps the copy with the model, so that lifting person after person
(or chunk after chunk of calls) folds once; it folds again when any parameter or buffer of the
model has changed since (PyTorch counts every in-place change of a tensor).
"""

from __future__ import annotations

import copy
import itertools
import weakref

import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval


class FullPrecision(torch.nn.Module):
    """A layer that runs in float32 inside a bf16 autocast region."""

    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return self.layer(x.float())


def folded_copy(model: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode copy of the lifter with its BatchNorms folded (see the module doc).

    Only the folded convolutions are new; the other submodules (the output convolution,
    dropout) are shared with ``model``, which is never changed. A deep copy of the whole model
    would cost more than lifting a thousand frames with the demo lifter.
    """
    if model.training:
        model = copy.deepcopy(model).eval()
    folded = copy.copy(model)
    for store in ("_modules", "_parameters", "_buffers"):
        setattr(folded, store, dict(getattr(model, store)))
    if isinstance(getattr(model, "expand_bn", None), torch.nn.BatchNorm1d):
        folded.expand_conv = fuse_conv_bn_eval(model.expand_conv, model.expand_bn)
        folded.expand_bn = torch.nn.Identity()
    convs, norms = getattr(model, "layers_conv", None), getattr(model, "layers_bn", None)
    if convs is not None and norms is not None:
        pairs = list(zip(convs, norms))
        folded.layers_conv = torch.nn.ModuleList(
            fuse_conv_bn_eval(c, n) if isinstance(n, torch.nn.BatchNorm1d) else c for c, n in pairs)
        folded.layers_bn = torch.nn.ModuleList(
            torch.nn.Identity() if isinstance(n, torch.nn.BatchNorm1d) else n for _, n in pairs)
    for name in ("expand_conv", "shrink"):
        if isinstance(getattr(folded, name, None), torch.nn.Conv1d):
            setattr(folded, name, FullPrecision(getattr(folded, name)))
    return folded


_FOLDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _stamp(model: torch.nn.Module) -> tuple:
    """Which tensors the model holds and how often each was changed in place."""
    return tuple((id(t), t._version) for t in itertools.chain(model.parameters(), model.buffers()))


def cached_folded_copy(model: torch.nn.Module) -> torch.nn.Module:
    """``folded_copy(model)``, made once per state of the model (see the module doc)."""
    stamp = _stamp(model)
    hit = _FOLDED.get(model)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    folded = folded_copy(model)
    _FOLDED[model] = (stamp, folded)
    return folded
