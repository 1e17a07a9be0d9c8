"""ResNeXt-29 for 32x32 inputs (Xie et al. 2017, section 5.3), in the layout of kuangliu/pytorch-cifar
(models/resnext.py, ``ResNeXt29_32x4d``).

Three stages of three bottleneck blocks (1x1 -> grouped 3x3 -> 1x1, expansion 2); the bottleneck
width doubles per stage (group widths 128, 256, 512; outputs 256, 512, 1024), downsampling by
stride 2 in the grouped conv of each later stage's first block. As in the reference the stem is a
1x1 conv (``stem_kernel=3`` gives the paper's 3x3 stem) and the head an 8x8 average pool.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GroupedBottleneck(nn.Module):
    """1x1 -> grouped 3x3 (cardinality groups) -> 1x1 to 2 * group width, plus shortcut."""

    expansion = 2

    def __init__(self, in_planes: int, cardinality: int, bottleneck_width: int, stride: int = 1):
        super().__init__()
        width = cardinality * bottleneck_width
        out_planes = self.expansion * width
        self.conv1 = nn.Conv2d(in_planes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=cardinality, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != out_planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class ResNeXt(nn.Module):
    """Input (N, 3, 32, 32), output logits (N, num_classes)."""

    def __init__(
        self,
        num_blocks: tuple[int, ...] = (3, 3, 3),
        cardinality: int = 32,
        bottleneck_width: int = 4,
        num_classes: int = 10,
        stem_kernel: int = 1,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, stem_kernel, 1, stem_kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        stages, in_planes, width = [], 64, bottleneck_width
        for i, n in enumerate(num_blocks):
            blocks = []
            for j in range(n):
                blocks.append(GroupedBottleneck(in_planes, cardinality, width, 2 if i > 0 and j == 0 else 1))
                in_planes = GroupedBottleneck.expansion * cardinality * width
            stages.append(nn.Sequential(*blocks))
            width *= 2
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)  # = avg_pool2d(out, 8) on 32x32 inputs
        return self.linear(out)


def resnext29_32x4d(num_classes: int = 10, stem_kernel: int = 1) -> ResNeXt:
    """ResNeXt-29, cardinality 32, bottleneck width 4 (kuangliu ``ResNeXt29_32x4d``)."""
    return ResNeXt((3, 3, 3), 32, 4, num_classes, stem_kernel)
