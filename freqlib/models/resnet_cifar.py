"""ResNet-32 for CIFAR-10 (He et al. 2016, Section 4.2), the NR-period paper's ResNet-32 (Table 7).

A 3x3 stem (3 -> 16), then three stages of ``n`` basic blocks with 16, 32 and 64 channels (the
first block of stages 2 and 3 has stride 2), global average pooling and a Linear(64, 10):
``6n + 2`` layers, ``n = 5`` for ResNet-32. The shortcuts are option A of He et al.: identity,
and where the shape changes, a stride-2 subsampling padded with zero channels, so the network has
31 convolutions and no 1x1 projection; Table 7 lists exactly those 31 (450.4K weights), which
option B (1x1 projections, 2,560 more weights) would not give.
"""

from __future__ import annotations

import torch
from torch import nn

from .resnet import BasicBlock


class ResNetCifarA(nn.Module):
    """He et al.'s CIFAR ResNet with option-A shortcuts. Input (N, 3, 32, 32), output (N, num_classes)."""

    def __init__(self, blocks_per_stage: int = 5, num_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        if blocks_per_stage < 1:
            raise ValueError(f"blocks_per_stage must be >= 1, got {blocks_per_stage}")
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages, in_planes = [], widths[0]
        for i, planes in enumerate(widths):
            blocks = []
            for j in range(blocks_per_stage):
                blocks.append(BasicBlock(in_planes, planes, stride=2 if i > 0 and j == 0 else 1, shortcut="pad"))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, num_classes)."""
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet32_cifar(num_classes: int = 10) -> ResNetCifarA:
    """ResNet-32 (5 blocks per stage, option-A shortcuts): 31 convolutions, 461,232 conv weights."""
    return ResNetCifarA(5, num_classes)
