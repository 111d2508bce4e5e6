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
    """An eval-mode copy of the lifter with its BatchNorms folded (see the module doc)."""
    folded = copy.deepcopy(model).eval()
    if isinstance(getattr(folded, "expand_bn", None), torch.nn.BatchNorm1d):
        folded.expand_conv = fuse_conv_bn_eval(folded.expand_conv, folded.expand_bn)
        folded.expand_bn = torch.nn.Identity()
    convs, norms = getattr(folded, "layers_conv", None), getattr(folded, "layers_bn", None)
    if convs is not None and norms is not None:
        for i, (conv, norm) in enumerate(zip(convs, norms)):
            if isinstance(norm, torch.nn.BatchNorm1d):
                convs[i] = fuse_conv_bn_eval(conv, norm)
                norms[i] = torch.nn.Identity()
    return folded
