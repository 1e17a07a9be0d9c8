"""The papers' architectures as plain torch.nn modules, one file per family."""

from .lenet import LeNet5
from .resnet import resnet18_cifar

__all__ = ["LeNet5", "resnet18_cifar"]
