"""UNet in the widely used PyTorch layout (``inc``, ``down1``-``down4``, ``up1``-``up4``, ``outc``;
DoubleConv as a ``double_conv`` Sequential; transposed-convolution or bilinear upsampling), so state
dicts in that layout load by name."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _norm(channels: int, affine: bool, track: bool) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, affine=affine, track_running_stats=track)


class DoubleConv(nn.Module):
    """(conv 3x3 without bias -> BN -> ReLU) x 2."""

    def __init__(self, in_ch: int, out_ch: int, mid_ch: int | None = None, affine: bool = True, track: bool = True):
        super().__init__()
        mid_ch = mid_ch or out_ch
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 3, padding=1, bias=False),
            _norm(mid_ch, affine, track),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, 3, padding=1, bias=False),
            _norm(out_ch, affine, track),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.double_conv(x)


class Down(nn.Module):
    """Max-pool 2x2, then DoubleConv."""

    def __init__(self, in_ch: int, out_ch: int, affine: bool = True, track: bool = True):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_ch, out_ch, affine=affine, track=track))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upsample x1 (2x), pad it to x2's size, concatenate [x2, x1] on channels, DoubleConv."""

    def __init__(
        self, in_ch: int, out_ch: int, bilinear: bool, bias: bool = True, affine: bool = True, track: bool = True
    ):
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_ch, out_ch, in_ch // 2, affine=affine, track=track)
        else:
            self.up = nn.ConvTranspose2d(in_ch, in_ch // 2, kernel_size=2, stride=2, bias=bias)
            self.conv = DoubleConv(in_ch, out_ch, affine=affine, track=track)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        x1 = self.up(x1)
        dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class OutConv(nn.Module):
    """1x1 convolution to the class logits."""

    def __init__(self, in_ch: int, out_ch: int, bias: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class UNet(nn.Module):
    """Input (N, n_channels, H, W), output logits (N, n_classes, H, W).

    ``bias`` applies to the transposed convolutions and the output convolution (the 3x3
    convolutions never have one); ``norm_affine`` and ``track_running_stats`` configure every
    BatchNorm. ``width``: base channels (widths ``w, 2w, 4w, 8w, 16w``; the same module names and
    23 weights at any width). With the defaults this is the common layout (31.0M weights with 3
    input channels and 2 classes); ``freqlib.paper.build("unet-frereg")`` sets what the authors'
    checkpoint has.
    """

    def __init__(
        self,
        n_channels: int = 3,
        n_classes: int = 2,
        bilinear: bool = False,
        *,
        bias: bool = True,
        norm_affine: bool = True,
        track_running_stats: bool = True,
        width: int = 64,
    ):
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"UNet: width must be a positive int, got {width!r}")
        self.n_channels, self.n_classes, self.bilinear, self.width = n_channels, n_classes, bilinear, width
        kw = {"affine": norm_affine, "track": track_running_stats}
        factor = 2 if bilinear else 1
        w = width
        self.inc = DoubleConv(n_channels, w, **kw)
        self.down1 = Down(w, 2 * w, **kw)
        self.down2 = Down(2 * w, 4 * w, **kw)
        self.down3 = Down(4 * w, 8 * w, **kw)
        self.down4 = Down(8 * w, 16 * w // factor, **kw)
        self.up1 = Up(16 * w, 8 * w // factor, bilinear, bias, **kw)
        self.up2 = Up(8 * w, 4 * w // factor, bilinear, bias, **kw)
        self.up3 = Up(4 * w, 2 * w // factor, bilinear, bias, **kw)
        self.up4 = Up(2 * w, w, bilinear, bias, **kw)
        self.outc = OutConv(w, n_classes, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)
