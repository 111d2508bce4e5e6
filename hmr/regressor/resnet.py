"""ResNet-18, -34 and -50 with torchvision's parameter names, so ImageNet weights load without
renaming.

ResNet-50's block is the "v1.5" bottleneck that torchvision ships: 1×1 conv, 3×3 conv carrying the
stride, 1×1 conv expanding the channels four times, each followed by BatchNorm, with a
projection shortcut (`downsample.0` conv, `downsample.1` BN) in block 0 of every stage that
changes the shape. ResNet-18 and -34 use torchvision's basic block: two 3×3 convs (`conv1`,
`conv2`, the first carrying the stride) with BatchNorm, and the same shortcut names.
SPIN's regressor uses the ResNet-50 trunk and names, without the classifier `fc`.

`ResNetTrunk` holds the layers up to the pooled feature (`ResNet50Trunk` is its ResNet-50);
`ResNet50` adds the ImageNet classifier. Subclasses (the HMR regressor) inherit the trunk so its
keys stay at the top level of the state dict (`conv1.weight`, `layer1.0.conv1.weight`, …), as in
SPIN's checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn

# Blocks per stage and block widths of ResNet-50; each stage outputs 4 × width channels.
RESNET50_BLOCKS = (3, 4, 6, 3)
RESNET50_WIDTHS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4
FEATURE_DIM = RESNET50_WIDTHS[-1] * BOTTLENECK_EXPANSION  # 2048, ResNet-50's pooled feature
# Blocks per stage of each depth (torchvision's resnet18 / resnet34 / resnet50); the widths are
# RESNET50_WIDTHS for all three, the basic block (18, 34) outputs its width unexpanded.
DEPTH_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: RESNET50_BLOCKS}


class Bottleneck(nn.Module):
    """Residual bottleneck block (torchvision's, stride on the 3×3 conv).

    Args:
        in_channels: C_in of the block input.
        width: channels of the inner 1×1 and 3×3 convs; the block outputs 4 × width.
        stride: stride of the 3×3 conv (and of the shortcut projection).
        downsample: shortcut projection, or None for the identity shortcut.
    """

    expansion = BOTTLENECK_EXPANSION

    def __init__(self, in_channels: int, width: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        out_channels = width * BOTTLENECK_EXPANSION
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, 4·width, H/stride, W/stride)."""
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class BasicBlock(nn.Module):
    """Residual basic block of ResNet-18/34 (torchvision's): two 3×3 convs, stride on the first.

    Args:
        in_channels: C_in of the block input.
        width: channels of both convs and of the block output.
        stride: stride of the first conv (and of the shortcut projection).
        downsample: shortcut projection, or None for the identity shortcut.
    """

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, H, W) -> (B, width, H/stride, W/stride)."""
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)



def _make_stage(block: type[nn.Module], in_channels: int, width: int, blocks: int,
                stride: int) -> nn.Sequential:
    out_channels = width * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )
    layers = [block(in_channels, width, stride, downsample)]
    layers += [block(out_channels, width) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def feature_dim(depth: int) -> int:
    """Channels of the pooled feature of a ResNet of this depth: 512 (18, 34) or 2048 (50)."""
    if depth not in DEPTH_BLOCKS:
        raise ValueError(f"ResNet depth must be one of {sorted(DEPTH_BLOCKS)}, got {depth!r}")
    return RESNET50_WIDTHS[-1] * (BOTTLENECK_EXPANSION if depth == 50 else 1)


class ResNetTrunk(nn.Module):
    """A ResNet up to global average pooling: `conv1`, `bn1`, `layer1` … `layer4`.

    Conv weights start as He-normal (fan-out), BN as weight 1, bias 0, as in torchvision and SPIN.

    Args:
        depth: 18, 34 or 50.
    """

    def __init__(self, depth: int = 50) -> None:
        super().__init__()
        self.feature_dim = feature_dim(depth)
        self.depth = depth
        block = Bottleneck if depth == 50 else BasicBlock
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        for index, (width, blocks) in enumerate(zip(RESNET50_WIDTHS, DEPTH_BLOCKS[depth])):
            stride = 1 if index == 0 else 2
            self.add_module(f"layer{index + 1}", _make_stage(block, in_channels, width, blocks, stride))
            in_channels = width * block.expansion
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled trunk features.

        Args:
            images: (B, 3, H, W), ImageNet-normalised RGB (see `hmr.core.imagenet.normalize_images`).

        Returns:
            (B, F) average of the last stage's (B, F, H/32, W/32) map; F = 2048 for ResNet-50,
            512 for ResNet-18/34.
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))  # (B, 64, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, F, H/32, W/32)
        return torch.flatten(self.avgpool(x), 1)


class ResNet50Trunk(ResNetTrunk):
    """ResNet-50 up to global average pooling (SPIN's trunk)."""

    def __init__(self) -> None:
        super().__init__(depth=50)


class ResNet50(ResNet50Trunk):
    """ResNet-50 image classifier with torchvision's `resnet50` state-dict keys and shapes.

    Args:
        num_classes: outputs of the final `fc` layer (1000 for ImageNet weights).
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.fc = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised RGB -> (B, num_classes) logits."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"ResNet50 expects images of shape (B, 3, H, W), got {tuple(images.shape)}")
        return self.fc(self.features(images))

    def extra_repr(self) -> str:
        return f"blocks={RESNET50_BLOCKS}, feature_dim={FEATURE_DIM}, num_classes={self.num_classes}"
