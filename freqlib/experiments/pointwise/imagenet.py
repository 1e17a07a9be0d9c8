"""The MAC axis of paper 3's ImageNet figures (Fig 7 Pareto curve, Fig 8), exact and without training.

Fig 7 places MobileNetV2 configurations "width-resolution" (and "width-resolution-fraction of
FLOPs" for the pruned ones) by MACs against top-1 accuracy on ImageNet. The MACs of the unpruned
configurations follow from the architecture alone: :func:`mobilenetv2_imagenet` is torchvision's
MobileNetV2 (ImageNet layout, 1000 classes, random weights: nothing is downloaded), counted with
:func:`freqlib.pointwise.count_macs`. The paper's macroblocks (section 4.1.2): 3x3 at 192x192;
at 224x224, 2x2 "for the layers up to block 13" and 7x7 after. We read "block 13" as torchvision's
``features.13`` (the last inverted residual block at 14x14), so the 7x7 blocks cover the 7x7 maps
of ``features.14`` onwards: whole-map DCTs.

The accuracy axis needs ImageNet training (not done here; see the chapter).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from ...pointwise import band_layer_macs, convert, count_macs
from ...pointwise.convert import is_pointwise

#: Width multipliers and input resolutions of MobileNetV2's published grid (Sandler et al., 2018).
WIDTHS = (0.5, 0.75, 1.0, 1.4)
RESOLUTIONS = (96, 128, 160, 192, 224)
#: Paper 3's anchors: Fig 8's 1.0-224 configuration pruned to 205M FLOPs, "0.68x FLOP reduction",
#: and section 4.3's (1.0-192-0.80) configuration, 20% fewer FLOPs (22.1% faster on one thread).
FIG8_PRUNED_MACS, FIG8_RATIO = 205e6, 0.68
SPEED_CONFIG = (1.0, 192, 0.80)


def mobilenetv2_imagenet(width: float = 1.0) -> nn.Module:
    """torchvision's MobileNetV2 for ImageNet (1000 classes) at width multiplier ``width``, random weights."""
    from torchvision.models import mobilenet_v2

    if not 0 < float(width) <= 4:
        raise ValueError(f"width must be a multiplier in (0, 4], got {width!r}")
    return mobilenet_v2(weights=None, width_mult=float(width))


def paper_blocks(resolution: int) -> list[tuple[str, int]]:
    """[(fnmatch pattern on module names, macroblock size)] of section 4.1.2 for ``resolution``:
    3x3 everywhere at 192; at 224, 2x2 for ``features.1``-``features.13`` and 7x7 from
    ``features.14`` on (the 7x7 maps). Other resolutions: the largest of 2, 3, 4 that divides the
    smallest feature map (resolution / 32), else 2 (padded)."""
    if resolution == 224:
        early = [f"features.{i}.*" for i in range(14)]
        return [(p, 2) for p in early] + [("*", 7)]
    if resolution == 192:
        return [("*", 3)]
    last = resolution // 32
    block = next((b for b in (4, 3, 2) if last % b == 0), 2)
    return [("*", block)]


def convert_paper(model: nn.Module, resolution: int) -> nn.Module:
    """Wrap every pointwise conv of ``model`` in place with :func:`paper_blocks`' macroblocks (the
    first matching pattern wins); returns ``model``."""
    done: list[str] = []
    for pattern, block in paper_blocks(resolution):
        convert(model, block, include=[pattern], exclude=done)
        done.append(pattern)
    return model


def block_for(name: str, resolution: int) -> int:
    """The macroblock of :func:`paper_blocks` for the module called ``name`` (first match wins)."""
    return next(b for pattern, b in paper_blocks(resolution) if fnmatch.fnmatchcase(name, pattern))


def pointwise_inputs(model: nn.Module, resolution: int) -> dict[str, tuple[nn.Conv2d, tuple[int, ...]]]:
    """{name: (pointwise conv, input shape (1, C_in, H, W))} of ``model`` on one square image."""
    found: dict[str, tuple[nn.Conv2d, tuple[int, ...]]] = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, n=name: found.__setitem__(n, (mod, tuple(inp[0].shape))))
        for name, m in model.named_modules()
        if is_pointwise(m)
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, resolution, resolution))
    finally:
        for h in hooks:
            h.remove()
    return found


def macs_grid(widths: Sequence[float] = WIDTHS, resolutions: Sequence[int] = RESOLUTIONS) -> pd.DataFrame:
    """One row per (width, resolution): ``config`` ("1.0-224"), ``dense`` MACs of one image,
    ``converted`` MACs with every pointwise conv in the frequency domain (the paper's macroblocks,
    nothing pruned: the transform overhead alone; section 3.1's formula per layer, equal to
    ``count_macs(convert_paper(model, resolution))``) and ``pointwise share`` (fraction of the
    dense MACs in pointwise convs: what band pruning can remove)."""
    rows = []
    for width in widths:
        for resolution in resolutions:
            if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 32 or resolution % 32:
                raise ValueError(f"resolutions must be int multiples of 32, got {resolution!r}")
            model = mobilenetv2_imagenet(width)
            dense = count_macs(model, (3, resolution, resolution))
            pointwise = transformed = 0
            for name, (conv, shape) in pointwise_inputs(model, resolution).items():
                pointwise += conv.in_channels * conv.out_channels * shape[2] * shape[3]
                block = block_for(name, resolution)
                full = torch.ones(conv.in_channels, block * block)
                transformed += sum(band_layer_macs(full, conv.out_channels, block, shape).values())
            rows.append(
                {
                    "config": f"{float(width)}-{resolution}",
                    "width": float(width),
                    "resolution": resolution,
                    "dense": dense,
                    "converted": dense - pointwise + transformed,
                    "pointwise share": pointwise / dense,
                }
            )
    return pd.DataFrame(rows)


#: ``freqlib experiment pointwise_imagenet -p widths [0.5,1.0]``: :func:`macs_grid`.
run = macs_grid
