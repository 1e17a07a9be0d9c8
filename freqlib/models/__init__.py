"""The papers' architectures as plain torch.nn modules, one file per family."""

from .alexnet import AlexNet, alexnet_cifar
from .gan import DCGANDiscriminator, DCGANGenerator, dcgan_discriminator, dcgan_generator
from .lenet import LeNet5, LeNet300100
from .lstm_lm import WordLSTM, lstm_large, lstm_medium, lstm_small
from .mobilenetv2 import MobileNetV2, mobilenetv2_cifar
from .resnet import resnet18_cifar
from .resnet_cifar import ResNetCifarA, resnet32_cifar
from .resnext import ResNeXt, resnext29_32x4d
from .unet import UNet
from .vae import VAE
from .vgg import VGG, vgg_cifar
from .vgg19 import VGG19Cifar, vgg19_cifar
from .vit import ViT, vit_cifar

__all__ = [
    "VGG",
    "AlexNet",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "LeNet5",
    "LeNet300100",
    "MobileNetV2",
    "ResNeXt",
    "ResNetCifarA",
    "VGG19Cifar",
    "UNet",
    "VAE",
    "ViT",
    "WordLSTM",
    "alexnet_cifar",
    "dcgan_discriminator",
    "dcgan_generator",
    "lstm_large",
    "lstm_medium",
    "lstm_small",
    "mobilenetv2_cifar",
    "resnet18_cifar",
    "resnet32_cifar",
    "resnext29_32x4d",
    "vgg19_cifar",
    "vgg_cifar",
    "vit_cifar",
]
