"""VGG for 32x32 inputs (CIFAR): 3x3 conv-BN-ReLU stacks, five max-pools, one linear head.

The FR appendix's "VGG16" (Tables 5-7) has 16 convolutions with the channel plan of VGG19
(64, 64, M, 128, 128, M, 256 x4, M, 512 x4, M, 512 x4, M) and a 512->10 linear layer: 20,024,000
weights. VGG16 proper has 13 convolutions. ``vgg_cifar("vgg19")`` is that network.
"""

from __future__ import annotations

import torch
from torch import nn

#: Channel plans; "M" is a 2x2 max-pool. The convolution count is in the name (vgg19: 16 convs + 3 FC
#: in ImageNet VGG; the CIFAR variant here has one FC).
CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


class VGG(nn.Module):
    """Input (N, in_channels, H, W) with H, W >= 32; output logits (N, num_classes).

    ``features``: for each number in the plan a 3x3 conv (padding 1) + BatchNorm + ReLU, for each
    "M" a 2x2 max-pool; then a global average pool (1x1 for 32x32 inputs) and ``classifier``, a
    single Linear(512, num_classes). ``width`` scales every channel count (``max(1, round(c * width))``;
    1: the plan as listed).
    """

    def __init__(
        self,
        cfg: str = "vgg19",
        num_classes: int = 10,
        in_channels: int = 3,
        batch_norm: bool = True,
        width: float = 1.0,
    ):
        super().__init__()
        if not width > 0:
            raise ValueError(f"VGG: width must be > 0, got {width!r}")
        if cfg not in CONFIGS:
            raise ValueError(f"VGG: unknown cfg {cfg!r}; valid: {sorted(CONFIGS)}")
        self.cfg = cfg
        layers: list[nn.Module] = []
        channels = in_channels
        for v in CONFIGS[cfg]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            v = max(1, round(v * width))
            layers.append(nn.Conv2d(channels, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            channels = v
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, num_classes)."""
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def vgg_cifar(cfg: str = "vgg19", num_classes: int = 10, batch_norm: bool = True) -> VGG:
    """CIFAR VGG with BatchNorm. ``vgg_cifar("vgg19")`` is the FR paper's "VGG16" (16 convs, 20,024,000 weights)."""
    return VGG(cfg, num_classes, batch_norm=batch_norm)
