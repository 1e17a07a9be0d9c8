"""A small convolutional VAE for 28x28 grey images, the model of the book's VAE chapter.

The FR paper lists VAE among the architectures it evaluated but prints no VAE table, number or
architecture, so this one is ours. It is the PyTorch examples VAE (``examples/vae``: 784-400-20,
Bernoulli likelihood on [0, 1] pixels) made convolutional, so FR acts on all three weight kinds its
keep rule distinguishes (Conv2d, Linear, ConvTranspose2d):

- encoder: Conv2d 1->32 and 32->64 (4x4, stride 2, padding 1; 28 -> 14 -> 7 px), flatten (3,136),
  Linear 3,136->256, then two Linear 256->16 heads for the mean and the log-variance of q(z|x);
- decoder, mirrored: Linear 16->256, Linear 256->3,136, reshape (64, 7, 7), ConvTranspose2d
  64->32 and 32->1 (4x4, stride 2, padding 1; 7 -> 14 -> 28 px); outputs Bernoulli logits.

The hidden 256-wide layer (the examples VAE has 400) also gives the appendix's keep rule room:
without it every weight but one sits at its floor at 0.1%, and the v2 and v3 variants would differ
by a single coefficient. ReLU between layers; no normalization layers (nothing but biases stays
dense under FR).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class VAE(nn.Module):
    """Convolutional VAE: images (N, channels, S, S) in [0, 1] -> (logits, mu, logvar).

    ``S = image_size`` must be divisible by 4. With ``w = width``, ``c = channels``, ``h = hidden``,
    ``d = latent_dim`` and ``f = 2w * (S/4)**2`` (the flattened feature size), the weights number

        16 c w + 32 w**2  (encoder convs)  +  f h + 2 h d  (encoder linears)
        + d h + h f  (decoder linears)  +  32 w**2 + 16 w c  (decoder transposed convs)

    = 1,684,480 for the defaults (c=1, S=28, w=32, h=256, d=16; f=3,136); biases
    (4w + 2h + 2d + f + c = 3,809 for the defaults) are not counted, as in the FR paper.
    """

    def __init__(
        self, latent_dim: int = 16, hidden: int = 256, width: int = 32, channels: int = 1, image_size: int = 28
    ):
        super().__init__()
        for name, value in (("latent_dim", latent_dim), ("hidden", hidden), ("width", width), ("channels", channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"VAE: {name} must be a positive int, got {value!r}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 4 or image_size % 4:
            raise ValueError(f"VAE: image_size must be a positive multiple of 4, got {image_size!r}")
        self.latent_dim, self.hidden, self.width = latent_dim, hidden, width
        self.channels, self.image_size = channels, image_size
        side = image_size // 4
        self.feature_shape = (2 * width, side, side)
        features = math.prod(self.feature_shape)
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(features, hidden),
            nn.ReLU(),
        )
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, features),
            nn.ReLU(),
            nn.Unflatten(1, self.feature_shape),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1),
        )

    @staticmethod
    def weight_count(
        latent_dim: int = 16, hidden: int = 256, width: int = 32, channels: int = 1, image_size: int = 28
    ) -> int:
        """Number of Conv/Linear/ConvTranspose weights (biases excluded) of ``VAE(...)`` with these arguments."""
        c, w, h, d = channels, width, hidden, latent_dim
        f = 2 * w * (image_size // 4) ** 2
        return 16 * c * w + 32 * w * w + f * h + 2 * h * d + d * h + h * f + 32 * w * w + 16 * w * c

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, channels, S, S) -> (mu, logvar) of q(z|x), each (N, latent_dim)."""
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (N, latent_dim) -> Bernoulli logits (N, channels, S, S) of p(x|z)."""
        return self.decoder(z)

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """One draw ``mu + exp(logvar / 2) * eps``, eps ~ N(0, I) from ``generator`` (global RNG if None)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images (N, channels, S, S) -> (logits (N, channels, S, S), mu (N, d), logvar (N, d)).

        The logits decode one reparameterized draw z ~ q(z|x) (noise from ``generator``), in
        training and evaluation alike; ``decode(mu)`` gives the mean reconstruction.
        """
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar, generator)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images from the prior: z ~ N(0, I) (from ``generator``), decoded to pixel
        probabilities sigmoid(logits) in [0, 1], shape (n, channels, S, S)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"VAE.sample: n must be a positive int, got {n!r}")
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return torch.sigmoid(self.decode(z))
