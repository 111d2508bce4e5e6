"""HRNet top-down 2D pose model (Sun et al., "Deep High-Resolution Representation Learning", 2019).

``HRNet`` rebuilds the official ``PoseHighResolutionNet`` module tree so that its ``state_dict()``
keys and shapes are the official ones (FORMATS.md §1.3): the released ``pose_hrnet_*.pth`` files
load into it unchanged. It is written from the key scheme and the paper, not copied.

The network in one picture (C_i = width · 2^i, resolution 1/4 · 1/2^i of the input)::

    image ─ stem (two stride-2 3×3 convs, 64 ch) ─ layer1 (4 Bottlenecks, 256 ch)
          ─ transition1 ─ stage2 (2 branches) ─ transition2 ─ stage3 (3 branches)
          ─ transition3 ─ stage4 (4 branches; last module keeps branch 0 only)
          ─ final_layer (conv C_0 → J) ─ heatmaps (B, J, H/4, W/4)

Each stage module runs a few BasicBlocks per branch, then fuses: output branch i is the ReLU of
the sum over input branches j of j's features brought to i's resolution and width (1×1 conv and
nearest upsampling when j is lower resolution, a chain of stride-2 3×3 convs when j is higher).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from body_models.configs import config_from_dict, config_from_yaml
from body_models.errors import InputError

__all__ = ["HRNet", "HRNetConfig"]

BN_MOMENTUM = 0.1  # every BatchNorm of the official model (explicit or PyTorch's default)
STEM_CHANNELS = 64
LAYER1_BLOCKS = 4
NUM_BRANCHES = (2, 3, 4)  # stages 2, 3, 4
STRIDE = 4  # input pixels per heatmap cell
SIZE_MULTIPLE = 32
HEADS = ("heatmap", "dsnt")  # the stem (4) times three halvings: branches must line up when fused


def _as_pair(value: Any, name: str) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise InputError(f"HRNetConfig.{name} must be two integers (width, height), got {value!r}")
    return (int(value[0]), int(value[1]))


def _as_triple(value: Any, name: str) -> tuple[int, int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(isinstance(v, int) for v in value):
        raise InputError(f"HRNetConfig.{name} must be three integers (stages 2, 3, 4), got {value!r}")
    return (int(value[0]), int(value[1]), int(value[2]))


@dataclass(frozen=True)
class HRNetConfig:
    """Architecture and input settings of one HRNet variant (FORMATS.md §1.2).

    Attributes:
        width: channels of the highest-resolution branch, W (32 or 48 for the COCO models);
            branch i has W · 2^i channels.
        num_joints: heatmap channels J (17 for COCO, 68 for a face model, ...).
        image_size: network input (width, height) in pixels; both multiples of 32.
        heatmap_size: heatmap (width, height) in cells, always image_size / 4; filled in when
            left as None.
        sigma: Gaussian radius of the training target, heatmap cells.
        final_conv_kernel: kernel of the head conv, 1 or 3 (padding 0 or 1).
        num_modules: HighResolutionModules in stages 2, 3, 4 (official (1, 4, 3)).
        num_blocks: BasicBlocks per branch in stages 2, 3, 4 (official (4, 4, 4)).
        head: how the maps are read: "heatmap" (HRNet's argmax of Gaussian heatmaps) or "dsnt"
            (soft-argmax of the spatially normalised maps); the layers are the same.
    """

    width: int = 32
    num_joints: int = 17
    image_size: tuple[int, int] = (192, 256)
    heatmap_size: tuple[int, int] | None = None
    sigma: float = 2.0
    final_conv_kernel: int = 1
    num_modules: tuple[int, int, int] = (1, 4, 3)
    num_blocks: tuple[int, int, int] = (4, 4, 4)
    head: str = "heatmap"

    def __post_init__(self) -> None:
        for name in ("width", "num_joints"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(f"HRNetConfig.{name} must be a positive integer, got {value!r}")
        image_size = _as_pair(self.image_size, "image_size")
        if image_size[0] % SIZE_MULTIPLE or image_size[1] % SIZE_MULTIPLE or min(image_size) < 1:
            raise InputError(f"HRNetConfig.image_size must be positive multiples of {SIZE_MULTIPLE}, got {image_size}")
        expected_heatmap = (image_size[0] // STRIDE, image_size[1] // STRIDE)
        heatmap_size = expected_heatmap if self.heatmap_size is None else _as_pair(self.heatmap_size, "heatmap_size")
        if heatmap_size != expected_heatmap:
            raise InputError(
                f"HRNetConfig.heatmap_size must be image_size / {STRIDE} = {expected_heatmap}, got {heatmap_size}"
            )
        if self.final_conv_kernel not in (1, 3):
            raise InputError(f"HRNetConfig.final_conv_kernel must be 1 or 3, got {self.final_conv_kernel!r}")
        num_modules = _as_triple(self.num_modules, "num_modules")
        num_blocks = _as_triple(self.num_blocks, "num_blocks")
        if min(num_modules) < 1 or min(num_blocks) < 1:
            raise InputError(f"HRNetConfig.num_modules and num_blocks must be >= 1, got {num_modules}, {num_blocks}")
        if not isinstance(self.sigma, (int, float)) or self.sigma <= 0:
            raise InputError(f"HRNetConfig.sigma must be a positive number, got {self.sigma!r}")
        if self.head not in HEADS:
            raise InputError(f"HRNetConfig.head must be one of {', '.join(HEADS)}, got {self.head!r}")
        object.__setattr__(self, "image_size", image_size)
        object.__setattr__(self, "heatmap_size", heatmap_size)
        object.__setattr__(self, "num_modules", num_modules)
        object.__setattr__(self, "num_blocks", num_blocks)
        object.__setattr__(self, "sigma", float(self.sigma))

    @property
    def branch_channels(self) -> tuple[int, int, int, int]:
        """Channels of branches 0..3: W, 2W, 4W, 8W."""
        return tuple(self.width * 2**i for i in range(4))  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (lists, ints, floats), as stored in project checkpoints and YAML."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> "HRNetConfig":
        """Build from a mapping (a YAML preset, a checkpoint's config); unknown keys are an error."""
        return config_from_dict(cls, values, source)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "HRNetConfig":
        """Read a preset such as ``configs/pose2d/hrnet_w32_256x192.yaml``."""
        return config_from_yaml(cls, path)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class _BasicBlock(nn.Module):
    """Two 3×3 convs with a residual connection; channels unchanged (keys conv1, bn1, conv2, bn2)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.bn1 = _bn(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = _bn(channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class _Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 (×4 channels) with a residual; ``downsample`` projects the residual."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = _bn(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = _bn(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, kernel_size=1, bias=False)
        self.bn3 = _bn(out_channels)
        self.relu = nn.ReLU()
        self.downsample = None
        if in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False), _bn(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


def _fuse_path(channels: tuple[int, ...], source: int, target: int) -> nn.Module:
    """The layers that bring branch ``source`` to the resolution and width of branch ``target``."""
    if source == target:
        return nn.Identity()
    if source > target:  # lower resolution: 1×1 conv to the target width, then upsample
        return nn.Sequential(
            nn.Conv2d(channels[source], channels[target], kernel_size=1, bias=False),
            _bn(channels[target]),
            nn.Upsample(scale_factor=2 ** (source - target), mode="nearest"),
        )
    steps = []  # higher resolution: halve (target - source) times; only the last step widens
    for k in range(target - source):
        last = k == target - source - 1
        out_channels = channels[target] if last else channels[source]
        layers = [_conv3x3(channels[source], out_channels, stride=2), _bn(out_channels)]
        if not last:
            layers.append(nn.ReLU())
        steps.append(nn.Sequential(*layers))
    return nn.Sequential(*steps)


class _HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks, then the exchange between them (keys branches, fuse_layers).

    With ``multi_scale_output=False`` only output branch 0 is computed (the last module of stage 4).
    """

    def __init__(self, channels: tuple[int, ...], num_blocks: int, multi_scale_output: bool) -> None:
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(
            nn.Sequential(*(_BasicBlock(c) for _ in range(num_blocks))) for c in channels
        )
        num_outputs = self.num_branches if multi_scale_output else 1
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse_path(channels, j, i) for j in range(self.num_branches)) for i in range(num_outputs)
        )
        self.relu = nn.ReLU()

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        outputs = []
        for row in self.fuse_layers:
            y = row[0](xs[0])
            for j in range(1, self.num_branches):  # summed in branch order, as the official model
                y = y + row[j](xs[j])
            outputs.append(self.relu(y))
        return outputs


def _transition(in_channels: tuple[int, ...], out_channels: tuple[int, ...]) -> nn.ModuleList:
    """Adapt the previous stage's outputs to the next stage's branches.

    Existing branches pass through (or get a 3×3 conv when their width changes, as after layer1);
    each new branch is made from the previous stage's last (lowest-resolution) output by stride-2
    3×3 convs.
    """
    layers: list[nn.Module] = []
    for i, c_out in enumerate(out_channels):
        if i < len(in_channels):
            if in_channels[i] == c_out:
                layers.append(nn.Identity())
            else:
                layers.append(nn.Sequential(_conv3x3(in_channels[i], c_out), _bn(c_out), nn.ReLU()))
        else:
            steps = []
            num_steps = i + 1 - len(in_channels)
            for k in range(num_steps):
                c_in = in_channels[-1]
                c_step = c_out if k == num_steps - 1 else c_in
                steps.append(nn.Sequential(_conv3x3(c_in, c_step, stride=2), _bn(c_step), nn.ReLU()))
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


class HRNet(nn.Module):
    """HRNet pose network with the official ``PoseHighResolutionNet`` state-dict layout.

    Args:
        config: architecture settings; ``HRNetConfig()`` is the COCO W32 256×192 model.

    Forward:
        images: (B, 3, H, W) RGB normalised with ImageNet mean/std (FORMATS.md §1.4); H and W
            multiples of 32 (the network is fully convolutional; ``config.image_size`` is the
            size it was trained on).
        returns: (B, J, H/4, W/4) heatmaps, one per joint.
    """

    def __init__(self, config: HRNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config if config is not None else HRNetConfig()
        channels = config.branch_channels

        self.conv1 = _conv3x3(3, STEM_CHANNELS, stride=2)
        self.bn1 = _bn(STEM_CHANNELS)
        self.conv2 = _conv3x3(STEM_CHANNELS, STEM_CHANNELS, stride=2)
        self.bn2 = _bn(STEM_CHANNELS)
        self.relu = nn.ReLU()
        layer1_out = STEM_CHANNELS * _Bottleneck.expansion
        self.layer1 = nn.Sequential(
            *(_Bottleneck(STEM_CHANNELS if b == 0 else layer1_out, STEM_CHANNELS) for b in range(LAYER1_BLOCKS))
        )

        previous: tuple[int, ...] = (layer1_out,)
        for s, (n_branches, n_modules, n_blocks) in enumerate(
            zip(NUM_BRANCHES, config.num_modules, config.num_blocks), start=2
        ):
            current = channels[:n_branches]
            setattr(self, f"transition{s - 1}", _transition(previous, current))
            last_stage = s == 4
            modules = [
                _HighResolutionModule(current, n_blocks, multi_scale_output=not (last_stage and m == n_modules - 1))
                for m in range(n_modules)
            ]
            setattr(self, f"stage{s}", nn.Sequential(*modules))
            previous = current

        kernel = config.final_conv_kernel
        self.final_layer = nn.Conv2d(channels[0], config.num_joints, kernel_size=kernel, padding=kernel // 2)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"width={c.width}, num_joints={c.num_joints}, image_size={c.image_size[0]}x{c.image_size[1]} (WxH), "
            f"heatmap_size={c.heatmap_size[0]}x{c.heatmap_size[1]}"
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if (
            images.ndim != 4
            or images.shape[1] != 3
            or images.shape[2] % SIZE_MULTIPLE
            or images.shape[3] % SIZE_MULTIPLE
            or images.shape[2] == 0
            or images.shape[3] == 0
        ):
            raise ValueError(
                f"HRNet expects images (B, 3, H, W) with H and W positive multiples of {SIZE_MULTIPLE}, "
                f"got {tuple(images.shape)}"
            )
        return self.heatmaps(images)

    def heatmaps(self, images: torch.Tensor) -> torch.Tensor:
        """``forward`` without its input check (traceable by ``torch.fx``): (B, 3, H, W) → (B, J, H/4, W/4)."""
        x = self.relu(self.bn1(self.conv1(images)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)  # (B, 256, H/4, W/4)

        features = [x]
        for s in (2, 3, 4):
            transition = getattr(self, f"transition{s - 1}")
            # branch i continues output i; a new branch starts from the lowest-resolution output
            features = [
                layer(features[i] if i < len(features) else features[-1]) for i, layer in enumerate(transition)
            ]
            for module in getattr(self, f"stage{s}"):
                features = module(features)
        return self.final_layer(features[0])  # (B, J, H/4, W/4)
