"""AlexNet in torchvision's layout with a CIFAR-10 head (the FR appendix's AlexNet, Tables 1-4)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Smallest input side the 11x11/stride-4 stem and three 3x3/stride-2 max-pools accept.
MIN_SIDE = 63


class AlexNet(nn.Module):
    """torchvision's AlexNet (5 convs, 3 linears) with ``num_classes`` outputs.

    Weights: convs 64x3x11x11, 192x64x5x5, 384x192x3x3, 256x384x3x3, 256x256x3x3 (23,232 +
    307,200 + 663,552 + 884,736 + 589,824) and linears 9216->4096, 4096->4096, 4096->num_classes
    (37,748,736 + 16,777,216 + 40,960 for 10 classes): 57,035,456 in all, the FR appendix's count.

    Input (N, 3, H, W), output logits (N, num_classes). The stem cannot run on 32x32 images:
    with ``resize`` (default 224, torchvision's size) every input is first resized bilinearly to
    ``resize x resize``, so CIFAR batches (N, 3, 32, 32) can be fed as they are. With
    ``resize=None`` inputs go in unchanged and need H, W >= 63; the adaptive pool before the
    classifier makes any such size give the 256x6x6 = 9216 features.
    """

    def __init__(self, num_classes: int = 10, resize: int | None = 224, dropout: float = 0.5):
        super().__init__()
        if resize is not None and resize < MIN_SIDE:
            raise ValueError(f"AlexNet: resize must be >= {MIN_SIDE} (or None), got {resize}")
        self.resize = resize
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, num_classes)."""
        if self.resize is not None and tuple(x.shape[-2:]) != (self.resize, self.resize):
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False)
        elif min(x.shape[-2:]) < MIN_SIDE:
            raise ValueError(f"AlexNet: input sides must be >= {MIN_SIDE} with resize=None, got {tuple(x.shape)}")
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def alexnet_cifar(num_classes: int = 10, resize: int | None = 224) -> AlexNet:
    """AlexNet for CIFAR-10 (57,035,456 weights): 32x32 inputs resized to 224x224 inside."""
    return AlexNet(num_classes, resize=resize)
