"""VGG-19 for CIFAR-10 as the NR-period paper uses it (Table 8; github.com/chengyangfu/pytorch-vgg-cifar10).

The 16 convolutions of VGG-19 (the channel plan ``freqlib.models.vgg.CONFIGS["vgg19"]``), five
max-pools (512x1x1 features for 32x32 inputs), then the classifier of that repository:
Dropout, Linear(512, 512), ReLU, Dropout, Linear(512, 512), ReLU, Linear(512, 10).
``freqlib.models.vgg_cifar("vgg19")`` (the FR paper's "VGG16") has the same convolutions but a
single Linear(512, 10).
"""

from __future__ import annotations

import torch
from torch import nn

from .vgg import VGG


class VGG19Cifar(VGG):
    """Input (N, 3, 32, 32), output logits (N, num_classes). ``features`` as :class:`VGG` (BatchNorm
    optional: the repository's ``vgg19`` has none, ``vgg19_bn`` has it); ``classifier`` three Linear layers.
    ``width`` scales every channel and hidden-unit count (1: the paper's; below 1: a narrower stand-in)."""

    def __init__(self, num_classes: int = 10, batch_norm: bool = False, dropout: float = 0.5, width: float = 1.0):
        super().__init__("vgg19", num_classes, batch_norm=batch_norm, width=width)
        self.pool = nn.Identity()  # five max-pools already give 1x1 on 32x32 inputs
        c = max(1, round(512 * width))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(c, c),
            nn.ReLU(True),
            nn.Dropout(dropout),
            nn.Linear(c, c),
            nn.ReLU(True),
            nn.Linear(c, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 32, 32) -> (N, num_classes)."""
        return self.classifier(torch.flatten(self.features(x), 1))


def vgg19_cifar(num_classes: int = 10, batch_norm: bool = False, width: float = 1.0) -> VGG19Cifar:
    """VGG-19 with the three-layer classifier of Table 8: 16 convs + 3 FC, 20,548,288 weights (no biases)
    at ``width`` 1; ``width`` scales the channel and hidden-unit counts."""
    return VGG19Cifar(num_classes, batch_norm=batch_norm, width=width)
