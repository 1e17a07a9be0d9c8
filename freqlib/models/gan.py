"""DCGAN generator and discriminator for 64x64 single-channel images (the FR appendix's GAN-v1,
Tables 13-14): 4x4 (transposed) convolutions, BatchNorm between them, no biases."""

from __future__ import annotations

import torch
from torch import nn


class DCGANGenerator(nn.Module):
    """Noise (N, latent_dim) or (N, latent_dim, 1, 1) -> images (N, channels, 64, 64) in [-1, 1].

    ConvTranspose2d 4x4: latent->512 (1->4 px), 512->256, 256->128, 128->64 (stride 2), 64->channels
    (32->64 px), then tanh. Weights for the defaults: 819,200 + 2,097,152 + 524,288 + 131,072 +
    1,024 = 3,572,736.
    """

    def __init__(self, latent_dim: int = 100, channels: int = 1, width: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        w = width
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, 8 * w, 4, 1, 0, bias=False),
            nn.BatchNorm2d(8 * w),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(8 * w, 4 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w, channels, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim[, 1, 1]) -> (N, channels, 64, 64)."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """Images (N, channels, 64, 64) -> real/fake logits (N,) (use with BCEWithLogitsLoss).

    Conv2d 4x4: channels->64, 64->128, 128->256, 256->512 (stride 2, LeakyReLU 0.2, BatchNorm after
    the first), then 512->1 on the 4x4 map. Weights for the defaults: 1,024 + 131,072 + 524,288 +
    2,097,152 + 8,192 = 2,761,728.
    """

    def __init__(self, channels: int = 1, width: int = 64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(4 * w),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(4 * w, 8 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(8 * w),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(8 * w, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, channels, 64, 64) -> (N,)."""
        return self.net(x).flatten()


def dcgan_generator(latent_dim: int = 100, channels: int = 1) -> DCGANGenerator:
    """GAN-v1's generator: 100-d noise -> 1x64x64 image (3,572,736 weights)."""
    return DCGANGenerator(latent_dim, channels)


def dcgan_discriminator(channels: int = 1) -> DCGANDiscriminator:
    """GAN-v1's discriminator: 1x64x64 image -> logit (2,761,728 weights)."""
    return DCGANDiscriminator(channels)
