"""VideoPose3D temporal convolution lifter: a 2D keypoint sequence in, 3D joints out.

Two classes with the same weights (FORMATS.md §2.1, §2.2):

- ``TemporalModel`` runs dilated 1D convolutions over a whole sequence and gives one 3D pose per
  frame that has a full receptive field. It is the model for evaluation and inference.
- ``TemporalModelOptimized1f`` replaces every dilated convolution by a strided one. With an input
  of exactly one receptive field it computes only the centre (or, causal, the last) frame, which
  is what single-frame training batches need.

Their ``state_dict()`` keys, order and shapes are those of the official VideoPose3D classes
(github.com/facebookresearch/VideoPose3D, ``common/model.py``), so weights move freely between
the two classes and the official ``.bin`` files. For filter widths F (n = len(F)), C channels,
J_in input joints with F_in features each and J_out output joints:

=================================  ====================  ==========================================
key                                shape                 notes
=================================  ====================  ==========================================
``expand_bn.*``                    (C,)                  weight, bias, running_mean, running_var,
                                                         num_batches_tracked
``shrink.weight`` / ``.bias``      (J_out·3, C, 1)       the only convolution with a bias
``expand_conv.weight``             (C, J_in·F_in, F[0])  no bias
``layers_conv.{2i}.weight``        (C, C, F[i+1])        i = 0..n-2; dilated (dense: wider kernel)
``layers_conv.{2i+1}.weight``      (C, C, 1)             1x1 convolution
``layers_bn.{0..2n-3}.*``          (C,)                  one BatchNorm after every layers_conv
=================================  ====================  ==========================================

``LiftingConfig`` holds the constructor arguments; ``configs/lifting/*.yaml`` are presets of it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from body_models.configs import config_from_dict, config_from_yaml
from body_models.errors import InputError

__all__ = ["LiftingConfig", "TemporalModel", "TemporalModelOptimized1f"]

BN_MOMENTUM = 0.1  # the official default for every BatchNorm of the lifter


@dataclass(frozen=True)
class LiftingConfig:
    """Architecture of a temporal lifter: the constructor arguments of ``TemporalModel``.

    Attributes:
        num_joints_in: J_in, joints per input frame (17 for H36M-17 or COCO-17 keypoints).
        in_features: values per input joint (2 for x, y; 3 when a confidence is appended).
        num_joints_out: J_out, joints per output frame (17 for H36M, 15 for HumanEva, 1 for the
            trajectory model).
        filter_widths: odd temporal kernel width of each block, e.g. (3, 3, 3, 3, 3) for 243 frames.
        causal: use only past frames (real-time); otherwise the window is centred.
        dropout: dropout probability after every ReLU (training only).
        channels: C, width of every convolution.
        dense: ablation with plain wide kernels instead of dilated ones (``TemporalModel`` only).
    """

    num_joints_in: int = 17
    in_features: int = 2
    num_joints_out: int = 17
    filter_widths: tuple[int, ...] = field(default=(3, 3, 3, 3, 3))
    causal: bool = False
    dropout: float = 0.25
    channels: int = 1024
    dense: bool = False

    def __post_init__(self) -> None:
        widths = self.filter_widths
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
            raise InputError(f"filter_widths must be a list of odd integers, got {widths!r}")
        widths = tuple(widths)
        object.__setattr__(self, "filter_widths", widths)
        if not widths:
            raise InputError("filter_widths must hold at least one width")
        for w in widths:
            if isinstance(w, bool) or not isinstance(w, int) or w < 1 or w % 2 == 0:
                raise InputError(f"filter_widths must be odd positive integers, got {widths}")
        for name in ("num_joints_in", "in_features", "num_joints_out", "channels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        for name in ("causal", "dense"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise InputError(f"dropout must lie in [0, 1), got {self.dropout!r}")

    @property
    def receptive_field(self) -> int:
        """Frames that one output frame sees: 1 + 2·Σ pad (27, 81, 243 for 3, 4, 5 blocks of 3)."""
        return 1 + 2 * sum(_pads(self.filter_widths))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "LiftingConfig":
        """Build a config from a mapping; an unknown key is an ``InputError`` that names it."""
        return config_from_dict(cls, values, source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "LiftingConfig":
        """Read a preset such as ``configs/lifting/pretrained_h36m_cpn.yaml``."""
        return config_from_yaml(cls, path)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (filter widths as a list), as stored in project checkpoints."""
        values = dataclasses.asdict(self)
        values["filter_widths"] = list(self.filter_widths)
        return values


def _pads(filter_widths: Sequence[int]) -> list[int]:
    """Frames each block trims from either side: F[0]//2, then (F[i]-1)·D_{i-1}/2."""
    pads = [filter_widths[0] // 2]
    dilation = filter_widths[0]
    for width in filter_widths[1:]:
        pads.append((width - 1) * dilation // 2)
        dilation *= width
    return pads


class _TemporalBase(nn.Module):
    """What both lifters share: the BatchNorm after the expand convolution, the output 1x1
    convolution, shape checks and the receptive-field arithmetic. Not for direct use."""

    def __init__(self, config: LiftingConfig) -> None:
        super().__init__()
        self.num_joints_in = config.num_joints_in
        self.in_features = config.in_features
        self.num_joints_out = config.num_joints_out
        self.filter_widths = config.filter_widths
        self.causal = config.causal
        self.dense = config.dense
        self.channels = config.channels
        self.dropout = config.dropout
        # pad[i]: frames block i trims on each side; causal_shift[i]: how far its window moves back.
        self.pad = _pads(config.filter_widths)
        self.causal_shift: list[int] = []
        # Registration order fixes the state-dict order: expand_bn, shrink, expand_conv,
        # layers_conv, layers_bn (as in the official files).
        self.drop = nn.Dropout(config.dropout)
        self.expand_bn = nn.BatchNorm1d(config.channels, momentum=BN_MOMENTUM)
        self.shrink = nn.Conv1d(config.channels, config.num_joints_out * 3, 1)

    @property
    def config(self) -> LiftingConfig:
        """The architecture of this model, e.g. for ``lifting.checkpoints.save_checkpoint``."""
        return LiftingConfig(
            num_joints_in=self.num_joints_in, in_features=self.in_features,
            num_joints_out=self.num_joints_out, filter_widths=tuple(self.filter_widths),
            causal=self.causal, dropout=self.dropout, channels=self.channels, dense=self.dense,
        )

    @classmethod
    def from_config(cls, config: LiftingConfig):
        """Build the model described by ``config`` (random weights)."""
        return cls(**dataclasses.asdict(config))

    def set_bn_momentum(self, momentum: float) -> None:
        """Set the momentum of every BatchNorm (training decays it from 0.1 towards 0.001)."""
        self.expand_bn.momentum = momentum
        for bn in self.layers_bn:
            bn.momentum = momentum

    def receptive_field(self) -> int:
        """Frames of input per output frame: 1 + 2·Σ pad (243 for filter widths 3,3,3,3,3)."""
        return 1 + 2 * sum(self.pad)

    def total_causal_shift(self) -> int:
        """Frames by which the causal window lies behind the centred one: (R - 1) / 2 when
        causal, 0 otherwise. ``run.py`` pads causal sequences by this many extra frames in front.

        The official method returns the same for ``TemporalModelOptimized1f``; for its
        ``TemporalModel`` it multiplies the already dilated shifts by the dilation once more
        (and nothing calls it). Here both classes return the documented value.
        """
        return (self.receptive_field() - 1) // 2 if self.causal else 0

    def extra_repr(self) -> str:
        return (
            f"filter_widths={tuple(self.filter_widths)}, receptive_field={self.receptive_field()}, "
            f"channels={self.channels}, causal={self.causal}, dense={self.dense}, "
            f"joints_in={self.num_joints_in}x{self.in_features}, joints_out={self.num_joints_out}"
        )

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise InputError(f"{type(self).__name__} expects a tensor, got {type(x).__name__}")
        if x.ndim != 4 or x.shape[-2] != self.num_joints_in or x.shape[-1] != self.in_features:
            raise InputError(
                f"{type(self).__name__} expects keypoints of shape (B, T, {self.num_joints_in}, "
                f"{self.in_features}), got {tuple(x.shape)}"
            )
        frames = self.receptive_field()
        if x.shape[1] < frames:
            raise InputError(
                f"{type(self).__name__} needs at least T = {frames} frames (its receptive field), "
                f"got input of shape {tuple(x.shape)}; pad the sequence by {(frames - 1) // 2} "
                "frames on each side"
            )

    def _expand(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, J_in, F_in) → (B, C, T') after expand conv, BN, ReLU, dropout."""
        x = x.flatten(2).transpose(1, 2)  # (B, J_in·F_in, T), joint-major features
        return self.drop(torch.relu(self.expand_bn(self.expand_conv(x))))

    def _block(self, i: int, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """Block i: wide conv, BN, ReLU, dropout, 1x1 conv, BN, ReLU, dropout, plus residual."""
        x = self.drop(torch.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
        return residual + self.drop(torch.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))

    def _shrink(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        """(B, C, T_out) → (B, T_out, J_out, 3); channels are joint-major, [j·3 + xyz]."""
        x = self.shrink(x).transpose(1, 2)  # (B, T_out, J_out·3)
        return x.reshape(batch, x.shape[1], self.num_joints_out, 3)


class TemporalModel(_TemporalBase):
    """The reference lifter: dilated temporal convolutions over a whole sequence.

    Args:
        num_joints_in: J_in, joints per input frame.
        in_features: F_in, values per input joint (2: x, y normalised to [-1, 1]).
        num_joints_out: J_out, joints per output frame (1 for the trajectory model).
        filter_widths: odd kernel width of each block; block i (i >= 1) is dilated by the product
            of the widths before it, so the receptive field is the product of all widths.
        causal: shift every window into the past so the output frame is the last one seen.
        dropout: dropout probability.
        channels: C, convolution width.
        dense: ablation: kernels of width 2·pad + 1 without dilation (same receptive field).

    Forward: keypoints (B, T, J_in, F_in), T >= R → joints (B, T - R + 1, J_out, 3),
    R = ``receptive_field()``; metres, camera frame, root-relative for the pose model.
    """

    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: Sequence[int], causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024, dense: bool = False) -> None:
        config = LiftingConfig(num_joints_in, in_features, num_joints_out, tuple(filter_widths),
                               causal, dropout, channels, dense)
        super().__init__(config)
        widths = config.filter_widths
        self.expand_conv = nn.Conv1d(num_joints_in * in_features, channels, widths[0], bias=False)
        convs, bns = [], []
        dilation = widths[0]
        self.causal_shift = [widths[0] // 2 if causal else 0]
        for width, pad in zip(widths[1:], self.pad[1:]):
            self.causal_shift.append(width // 2 * dilation if causal else 0)
            if dense:
                convs.append(nn.Conv1d(channels, channels, 2 * pad + 1, bias=False))
            else:
                convs.append(nn.Conv1d(channels, channels, width, dilation=dilation, bias=False))
            convs.append(nn.Conv1d(channels, channels, 1, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=BN_MOMENTUM))
            bns.append(nn.BatchNorm1d(channels, momentum=BN_MOMENTUM))
            dilation *= width
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """keypoints (B, T, J_in, F_in) → joints (B, T - R + 1, J_out, 3)."""
        self._check_input(x)
        batch = x.shape[0]
        x = self._expand(x)  # (B, C, T - 2·pad[0])
        for i, (pad, shift) in enumerate(zip(self.pad[1:], self.causal_shift[1:])):
            residual = x[:, :, pad + shift: x.shape[2] - pad + shift]
            x = self._block(i, x, residual)  # (B, C, T_prev - 2·pad)
        return self._shrink(x, batch)


class TemporalModelOptimized1f(_TemporalBase):
    """The training lifter: strided instead of dilated convolutions, same weights as
    ``TemporalModel``.

    Args: as ``TemporalModel`` (``dense`` must stay False: wide dense kernels have no strided
    equivalent, and the official class has no such option).

    Forward: keypoints (B, T, J_in, F_in) → joints (B, T - R + 1, J_out, 3), equal to
    ``TemporalModel`` with the same weights. It is efficient for T == R (one output frame, the
    training case); a longer input is cut into its T - R + 1 windows of R frames, which are run
    as a batch (memory grows with T · R).
    """

    def __init__(self, num_joints_in: int, in_features: int, num_joints_out: int,
                 filter_widths: Sequence[int], causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024, dense: bool = False) -> None:
        if dense:
            raise InputError("TemporalModelOptimized1f has no dense variant; use TemporalModel")
        config = LiftingConfig(num_joints_in, in_features, num_joints_out, tuple(filter_widths),
                               causal, dropout, channels, False)
        super().__init__(config)
        widths = config.filter_widths
        self.expand_conv = nn.Conv1d(num_joints_in * in_features, channels, widths[0],
                                     stride=widths[0], bias=False)
        convs, bns = [], []
        # After the strided layers one time step is one window, so shifts are in steps, not frames.
        self.causal_shift = [widths[0] // 2 if causal else 0]
        for width in widths[1:]:
            self.causal_shift.append(width // 2 if causal else 0)
            convs.append(nn.Conv1d(channels, channels, width, stride=width, bias=False))
            convs.append(nn.Conv1d(channels, channels, 1, bias=False))
            bns.append(nn.BatchNorm1d(channels, momentum=BN_MOMENTUM))
            bns.append(nn.BatchNorm1d(channels, momentum=BN_MOMENTUM))
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """keypoints (B, T, J_in, F_in) → joints (B, T - R + 1, J_out, 3)."""
        self._check_input(x)
        batch, frames = x.shape[:2]
        windows = frames - self.receptive_field() + 1
        if windows > 1:
            # (B, W, J, F, R) → (B·W, R, J, F): every output frame gets its own window
            x = x.unfold(1, self.receptive_field(), 1).permute(0, 1, 4, 2, 3).flatten(0, 1)
        x = self._expand(x)  # (B·W, C, R / F[0])
        for i, (width, shift) in enumerate(zip(self.filter_widths[1:], self.causal_shift[1:])):
            residual = x[:, :, width // 2 + shift:: width]  # the step each strided window centres on
            x = self._block(i, x, residual)
        return self._shrink(x, batch * windows).reshape(batch, windows, self.num_joints_out, 3)
