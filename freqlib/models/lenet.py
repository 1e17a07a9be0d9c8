"""LeNet-5 in the Caffe layout (430,500 weights) and LeNet-300-100 (266,200), as in the pruning literature."""

from __future__ import annotations

import torch
from torch import nn


class LeNet5(nn.Module):
    """conv 5x5 (1->20) - maxpool - conv 5x5 (20->50) - maxpool - fc 800->500 - fc 500->10.

    Input (N, 1, 28, 28), output logits (N, 10). Weights: 500 + 25,000 + 400,000 + 5,000 =
    430,500 (the "0.4M" of the FR paper and the 431K of the pruning literature).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


class LeNet300100(nn.Module):
    """The fully connected LeNet-300-100: 784 -> 300 -> 100 -> 10 with ReLU, no dropout.

    Input (N, 1, 28, 28) (flattened inside), output logits (N, 10). Weights: 235,200 + 30,000 +
    1,000 = 266,200 (the 266.2K of the pruning literature; biases not counted).
    """

    def __init__(self, num_classes: int = 10, in_features: int = 784):
        super().__init__()
        self.fc1 = nn.Linear(in_features, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(x.flatten(1)))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)
