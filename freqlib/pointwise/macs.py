"""Multiply-accumulate counts with the transform overhead of section 3.1.

Per :class:`FrequencyBandPointwise` (or its dense form) with kept mask M (C_in, k*k), padded
input H' x W' and P = N * (H'/k) * (W'/k) macroblocks:

- DCT: ``sum(M) * P * k^2`` (each kept coefficient of a block is a k^2-term dot product),
- pointwise: ``sum(M) * C_out * P`` (each kept input coefficient meets C_out weights),
- IDCT: ``n_kept * C_out * P * k^2`` with ``n_kept`` the coefficients kept by any channel.

Unpruned, these are the paper's ``c_in*h*w*k^2``, ``c_in*h*w*c_out`` and ``c_out*h*w*k^2``.
Conv2d counts ``out.numel() * C_in/groups * kh * kw`` and Linear ``out.numel() * in_features``;
other layers (BatchNorm, pooling, activations, bias additions) count zero.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import torch
from torch import nn

from .dense import DenseBandPointwise
from .layer import FrequencyBandPointwise
from .transform import padded_size


def band_layer_macs(mask: torch.Tensor, out_channels: int, block: int, input_shape: Sequence[int]) -> dict[str, int]:
    """{'dct', 'pointwise', 'idct'} MACs of a frequency-band pointwise layer on (N, C_in, H, W)."""
    n, _, h, w = (int(s) for s in input_shape)
    hp, wp = padded_size((h, w), block)
    blocks = n * (hp // block) * (wp // block)
    mask = mask.detach().cpu() != 0
    kept, coefs = int(mask.sum()), int(mask.any(0).sum())
    return {
        "dct": kept * blocks * block**2,
        "pointwise": kept * out_channels * blocks,
        "idct": coefs * out_channels * blocks * block**2,
    }


def _macs(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> dict[str, int]:
    if isinstance(module, FrequencyBandPointwise):
        return band_layer_macs(module.kept_mask(), module.out_channels, module.block, inp.shape)
    if isinstance(module, DenseBandPointwise):
        return band_layer_macs(module.mask, module.out_channels, module.block, inp.shape)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return {"conv": out.numel() * (module.in_channels // module.groups) * kh * kw}
    if isinstance(module, nn.Linear):
        return {"linear": out.numel() * module.in_features}
    return {}


_COUNTED = (FrequencyBandPointwise, DenseBandPointwise, nn.Conv2d, nn.Linear)


def layer_macs(module: nn.Module, input_shape: Sequence[int]) -> dict[str, dict[str, int]]:
    """MACs per counted layer ({name: {part: MACs}}) for one forward pass on ``input_shape``.

    ``input_shape`` is (N, C, H, W) or (C, H, W) (batch 1). Runs a forward pass on zeros under
    ``torch.no_grad()`` with forward hooks on Conv2d, Linear and the frequency-band layers.
    """
    shape = tuple(int(s) for s in input_shape)
    shape = (1, *shape) if len(shape) == 3 else shape
    result: dict[str, dict[str, int]] = {}
    handles = []

    def hook(name: str, m: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        parts = result.setdefault(name, {})
        for key, value in _macs(m, inputs[0], out).items():  # a module called twice counts twice
            parts[key] = parts.get(key, 0) + value

    for name, sub in module.named_modules():
        if isinstance(sub, _COUNTED):
            handles.append(sub.register_forward_hook(functools.partial(hook, name)))
    # the input's dtype and device follow the module's first floating tensor (parameters, then buffers)
    tensor = next((t for t in itertools.chain(module.parameters(), module.buffers()) if t.is_floating_point()), None)
    dtype = tensor.dtype if tensor is not None else torch.float32
    device = tensor.device if tensor is not None else None
    try:
        with torch.no_grad():
            module(torch.zeros(shape, dtype=dtype, device=device))
    finally:
        for h in handles:
            h.remove()
    return result


def count_macs(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Total MACs of ``module`` on ``input_shape`` ((N, C, H, W) or (C, H, W)), transforms included."""
    return sum(sum(parts.values()) for parts in layer_macs(module, input_shape).values())
