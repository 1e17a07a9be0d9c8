"""Data augmentation of image batches on the device, seeded: the CIFAR recipe of He et al. (2016).

``RandomCropFlip(pad=4)`` pads each image of a batch ``(N, C, H, W)`` with ``pad`` zeros on every
side, crops a random ``H x W`` window and mirrors it left-right with probability 1/2: the standard
augmentation of ResNet-32 / ResNeXt / MobileNetV2 on CIFAR-10/100, which the papers' schedules assume.
It acts on whole batches (one gather), so it costs little beside a training step, and draws its
offsets from its own CPU ``torch.Generator``: two runs with the same seed see the same images.
Zero padding is applied to the normalized images (as torchvision's ``RandomCrop(32, padding=4)``
after ``Normalize`` would), i.e. the padding is the data set's mean colour, not black.
"""

from __future__ import annotations

import torch
from torch import Tensor


class RandomCropFlip:
    """Random ``pad``-pixel translation (crop of the zero-padded image) and horizontal flip of a batch.

    ``augment(x)``: ``x`` of shape ``(N, C, H, W)`` on any device -> a new tensor of the same shape,
    dtype and device. ``pad`` 0 disables the crop, ``flip=False`` the mirror.
    """

    def __init__(self, pad: int = 4, flip: bool = True, seed: int = 0):
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            raise ValueError(f"RandomCropFlip: pad must be an int >= 0, got {pad!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"RandomCropFlip: seed must be an int, got {seed!r}")
        self.pad, self.flip = pad, bool(flip)
        self.generator = torch.Generator().manual_seed(seed)

    def offsets(self, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """(dy, dx, mirrored) for ``n`` images: int64 offsets in ``[0, 2 pad]`` and a bool mask."""
        dy = torch.randint(0, 2 * self.pad + 1, (n,), generator=self.generator)
        dx = torch.randint(0, 2 * self.pad + 1, (n,), generator=self.generator)
        mirrored = torch.rand(n, generator=self.generator) < 0.5 if self.flip else torch.zeros(n, dtype=torch.bool)
        return dy, dx, mirrored

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"RandomCropFlip: expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
        n, c, h, w = x.shape
        dy, dx, mirrored = (t.to(x.device) for t in self.offsets(n))
        out = x
        if self.pad:
            padded = torch.nn.functional.pad(x, (self.pad,) * 4)
            rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
            cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
            batch = torch.arange(n, device=x.device)[:, None, None, None]
            channel = torch.arange(c, device=x.device)[None, :, None, None]
            out = padded[batch, channel, rows, cols]
        if self.flip:
            out = torch.where(mirrored[:, None, None, None], out.flip(-1), out)
        return out

    def __repr__(self) -> str:
        return f"RandomCropFlip(pad={self.pad}, flip={self.flip})"
