"""MobileNetV2 (width 1.0) for 32x32 inputs, in the layout of kuangliu/pytorch-cifar (models/mobilenetv2.py).

Differences from the ImageNet network (Sandler et al. 2018), as in that reference: a 3x3 stride-1
stem, stride 1 (not 2) in the second stage, a 1x1 conv-BN shortcut in stride-1 blocks whose
channel count changes, and a 4x4 average pool before the classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: (expansion, out_planes, num_blocks, stride) per stage; strides (1, 1, 2, 2, 1, 2, 1) for CIFAR.
CIFAR_CONFIG = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise 3x3 -> project (1x1), with a shortcut when stride is 1."""

    def __init__(self, in_planes: int, out_planes: int, expansion: int, stride: int):
        super().__init__()
        self.stride = stride
        planes = expansion * in_planes
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, groups=planes, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = nn.Sequential()
        if stride == 1 and in_planes != out_planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, bias=False), nn.BatchNorm2d(out_planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return out + self.shortcut(x) if self.stride == 1 else out


class MobileNetV2(nn.Module):
    """Input (N, 3, 32, 32), output logits (N, num_classes). 2,296,922 parameters for 10 classes."""

    def __init__(self, num_classes: int = 10, config=CIFAR_CONFIG):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        layers, in_planes = [], 32
        for expansion, out_planes, num_blocks, stride in config:
            for i in range(num_blocks):
                layers.append(InvertedResidual(in_planes, out_planes, expansion, stride if i == 0 else 1))
                in_planes = out_planes
        self.layers = nn.Sequential(*layers)
        self.conv2 = nn.Conv2d(in_planes, 1280, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(1280)
        self.linear = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(self.layers(out))))
        out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)  # = avg_pool2d(out, 4) on 32x32 inputs
        return self.linear(out)


def mobilenetv2_cifar(num_classes: int = 10) -> MobileNetV2:
    """MobileNetV2 (width 1.0) for CIFAR, kuangliu/pytorch-cifar layout."""
    return MobileNetV2(num_classes)
