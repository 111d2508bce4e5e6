"""The lifter's fast inference copy: every BatchNorm folded into the convolution before it.

``folded_copy(model)`` returns an eval-mode copy of a ``TemporalModel`` or
``TemporalModelOptimized1f`` whose ``expand_bn`` and ``layers_bn`` are folded into
``expand_conv`` and ``layers_conv`` (and replaced by identities). The outputs equal the
original's to float rounding; it is used with bf16 autocast (``predict_sequence(...,
precision="bf16")``), never on the exact fp32 path. For inference only: the copy cannot train.
"""

from __future__ import annotations

import copy

import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval


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
    return folded
