"""ResNet for 32x32 inputs (CIFAR): 3x3 stem without max-pool, four stages of basic blocks."""

from __future__ import annotations

import torch
from torch import nn


class PadShortcut(nn.Module):
    """He et al.'s option-A shortcut: ``x[:, :, ::stride, ::stride]`` with ``planes - in_planes`` zero
    channels added (half before, half after), no parameters. (N, in, H, W) -> (N, planes, H/s, W/s)."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad = planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers (no bias) plus a shortcut, then ReLU.

    Where the shape changes the shortcut is a 1x1 conv-BN (``shortcut="projection"``, option B) or
    :class:`PadShortcut` (``"pad"``, option A, no parameters); otherwise the identity.
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "projection"):
        super().__init__()
        if shortcut not in ("projection", "pad"):
            raise ValueError(f"BasicBlock: shortcut must be 'projection' or 'pad', got {shortcut!r}")
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Sequential()
        if (stride != 1 or in_planes != planes) and shortcut == "pad":
            self.shortcut = PadShortcut(in_planes, planes, stride)
        elif stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """Input (N, 3, 32, 32), output logits (N, num_classes)."""

    def __init__(self, blocks: tuple[int, ...] = (2, 2, 2, 2), num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, in_planes = [], 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks)):
            stage = []
            for j in range(n):
                stage.append(BasicBlock(in_planes, planes, stride=2 if i > 0 and j == 0 else 1))
                in_planes = planes
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1)
        return self.linear(out)


def resnet18_cifar(num_classes: int = 10) -> ResNetCifar:
    """ResNet-18 for CIFAR (11.17M parameters)."""
    return ResNetCifar((2, 2, 2, 2), num_classes)
