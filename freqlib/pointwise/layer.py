"""Pointwise convolution in the block-DCT domain with per-channel frequency bands (sections 3.1-3.3)."""

from __future__ import annotations

import torch
from torch import nn

from .dense import DenseBandPointwise
from .masks import band_counts, band_mask, check_counts, coefficient_mask, round_fcmask
from .transform import block_dct2d, block_idct2d


def check_pointwise(conv: nn.Module) -> None:
    """Raise ValueError naming the property that makes ``conv`` not a 1x1, stride-1, ungrouped Conv2d."""
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f"expected an nn.Conv2d, got {type(conv).__name__}")
    if tuple(conv.kernel_size) != (1, 1):
        raise ValueError(f"kernel_size must be (1, 1) for a pointwise conv, got {tuple(conv.kernel_size)}")
    if tuple(conv.stride) != (1, 1):
        raise ValueError(f"stride must be (1, 1), got {tuple(conv.stride)}")
    if conv.groups != 1:
        raise ValueError(f"groups must be 1, got {conv.groups}")
    if conv.padding not in ("valid", "same") and tuple(conv.padding) != (0, 0):
        raise ValueError(f"padding must be 0, got {conv.padding}")


class FrequencyBandPointwise(nn.Module):
    """A 1x1 convolution computed as block DCT -> 1x1 -> block IDCT, with pruned input coefficients.

    Input (N, C_in, H, W), output (N, C_out, H, W); H, W not divisible by ``block`` are padded
    internally and cropped. The effective coefficient mask, (C_in, b*b) in zigzag order, is the
    product of a hard mask (all True by default; set by :meth:`set_bands` / :meth:`set_mask`) and
    the soft FCMask mask ``clamp(FCMask * N - n, 0, 1)``; ``fcmask`` (C_in,) starts at 1 (no
    pruning). The bias adds ``block * bias`` to the DC coefficient of each macroblock (a constant
    c over a b x b block has DC coefficient b*c and no other).
    """

    def __init__(self, in_channels: int, out_channels: int, block: int, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels, self.block = in_channels, out_channels, block
        self.num_coefs = block * block
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.fcmask = nn.Parameter(torch.ones(in_channels))
        self.register_buffer("hard_mask", torch.ones(in_channels, self.num_coefs, dtype=torch.bool))

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, block: int) -> FrequencyBandPointwise:
        """Wrap a 1x1 stride-1 ungrouped Conv2d, sharing its weight and bias Parameters."""
        check_pointwise(conv)
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise ValueError(f"block must be a positive int, got {block!r}")
        layer = cls(conv.in_channels, conv.out_channels, block, bias=conv.bias is not None)
        layer.weight, layer.bias = conv.weight, conv.bias
        device, dtype = conv.weight.device, conv.weight.dtype
        layer.fcmask.data = layer.fcmask.data.to(device=device, dtype=dtype)
        layer.hard_mask = layer.hard_mask.to(device)
        return layer

    # masks ------------------------------------------------------------------------------------
    def soft_mask(self) -> torch.Tensor:
        """The FCMask coefficient mask (C_in, b*b), differentiable in ``fcmask``."""
        return coefficient_mask(self.fcmask, self.num_coefs)

    def effective_mask(self) -> torch.Tensor:
        """Mask applied in forward: hard mask times FCMask mask, (C_in, b*b) float."""
        return self.soft_mask() * self.hard_mask.to(self.fcmask.dtype)

    def kept_mask(self) -> torch.Tensor:
        """(C_in, b*b) bool: coefficients with a nonzero effective mask (what must be computed)."""
        return self.effective_mask().detach() != 0

    def set_bands(self, counts) -> None:
        """Keep the first ``counts[c]`` zigzag coefficients of input channel c (counts: length C_in, 0..b*b).

        Sets the hard mask to the bands and ``fcmask`` to ``counts / N``, whose soft mask is the
        same bands exactly, so forward and :meth:`compile_dense` agree.
        """
        counts = check_counts(counts, self.in_channels, self.num_coefs)
        self.hard_mask.copy_(band_mask(counts, self.num_coefs))
        with torch.no_grad():
            self.fcmask.copy_(counts.to(self.fcmask.dtype) / self.num_coefs)

    def set_mask(self, mask: torch.Tensor) -> None:
        """Set an arbitrary (C_in, b*b) bool hard mask (e.g. from :func:`strategy_mask`); fcmask = 1."""
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != (self.in_channels, self.num_coefs):
            raise ValueError(
                f"set_mask: mask must have shape {(self.in_channels, self.num_coefs)}, got {tuple(mask.shape)}"
            )
        self.hard_mask.copy_(mask.to(self.hard_mask.device) != 0)
        with torch.no_grad():
            self.fcmask.fill_(1.0)

    def reset_mask(self) -> None:
        """No pruning: hard mask all True and fcmask = 1 (the start of FCMask learning)."""
        self.hard_mask.fill_(True)
        with torch.no_grad():
            self.fcmask.fill_(1.0)

    def round_bands(self) -> torch.Tensor:
        """Round every coefficient mask to 0/1 and fix the result as bands; returns the counts (C_in,).

        counts = floor(FCMask * N + 1/2) clipped to [0, N] and to the current hard band length.
        """
        counts = round_fcmask(self.fcmask, self.num_coefs)
        counts = torch.minimum(counts, self.hard_mask.sum(1).cpu())
        self.set_bands(counts)
        return counts

    @property
    def bands(self) -> torch.Tensor | None:
        """Per-channel band counts if the kept mask is a band mask, else None."""
        return band_counts(self.kept_mask())

    # compute ----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        coef = block_dct2d(x, self.block)  # (N, C_in, b*b, Hb, Wb)
        coef = coef * self.effective_mask().to(coef.dtype)[None, :, :, None, None]
        n, c, k, hb, wb = coef.shape
        out = torch.matmul(self.weight.reshape(self.out_channels, c), coef.reshape(n, c, -1))
        out = out.view(n, self.out_channels, k, hb, wb)
        if self.bias is not None:
            dc = torch.zeros(k, dtype=out.dtype, device=out.device)
            dc[0] = self.block
            out = out + self.bias.view(1, -1, 1, 1, 1) * dc.view(1, 1, k, 1, 1)
        return block_idct2d(out, self.block, size=x.shape[-2:])

    def compile_dense(self) -> DenseBandPointwise:
        """Inference module computing only kept coefficients densely per band (Fig 4c); equal outputs.

        Requires a binary effective mask (after :meth:`set_bands`, :meth:`set_mask` or
        :meth:`round_bands`); raises ValueError while the FCMask mask is fractional.
        """
        mask = self.effective_mask().detach()
        if not torch.all((mask == 0) | (mask == 1)):
            raise ValueError("compile_dense: the FCMask mask is fractional; call round_bands() first")
        return DenseBandPointwise(self.weight, self.bias, mask != 0, self.block)

    def extra_repr(self) -> str:
        kept = int(self.kept_mask().sum())
        return (
            f"{self.in_channels}, {self.out_channels}, block={self.block}, bias={self.bias is not None}, "
            f"kept={kept}/{self.in_channels * self.num_coefs}"
        )


def fcmask_penalty(model: nn.Module) -> torch.Tensor:
    """Section 3.3 loss term: sum over FrequencyBandPointwise layers of mean |FCMask| (scalar tensor)."""
    terms = [m.fcmask.abs().mean() for m in model.modules() if isinstance(m, FrequencyBandPointwise)]
    if not terms:
        return torch.zeros(())
    return torch.stack([t.to(terms[0].device) for t in terms]).sum()
