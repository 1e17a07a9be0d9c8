"""Dense pruning of pointwise convolutions in the frequency domain (paper 3).

Activations are split into b x b macroblocks and transformed by the orthonormal 2-D DCT
(:func:`block_dct2d`, layout (N, C, b*b, H/b, W/b) with coefficients in zigzag order). A 1x1
convolution commutes with this transform, so :class:`FrequencyBandPointwise` computes it on the
coefficients, where each input channel keeps a low-frequency band (:meth:`~FrequencyBandPointwise.set_bands`)
or learns it through its FCMask (:func:`fcmask_penalty`, :meth:`~FrequencyBandPointwise.round_bands`).
:meth:`~FrequencyBandPointwise.compile_dense` gives the dense per-band inference form (Fig 4c),
:func:`count_macs` the MACs with transform overhead (section 3.1), :func:`strategy_mask` the
four pruning strategies of Fig 1, and :func:`convert` wraps a whole model.
"""

from .convert import compile_dense, convert, is_pointwise, pointwise_layers
from .dense import DenseBandPointwise
from .layer import FrequencyBandPointwise, check_pointwise, fcmask_penalty
from .macs import band_layer_macs, count_macs, layer_macs
from .masks import (
    STRATEGIES,
    band_counts,
    band_mask,
    coefficient_mask,
    default_scores,
    round_fcmask,
    strategy_mask,
)
from .transform import block_basis, block_dct2d, block_idct2d, pad_to_block, padded_size

__all__ = [
    "STRATEGIES",
    "DenseBandPointwise",
    "FrequencyBandPointwise",
    "band_counts",
    "band_layer_macs",
    "band_mask",
    "block_basis",
    "block_dct2d",
    "block_idct2d",
    "check_pointwise",
    "coefficient_mask",
    "compile_dense",
    "convert",
    "count_macs",
    "default_scores",
    "fcmask_penalty",
    "is_pointwise",
    "layer_macs",
    "pad_to_block",
    "padded_size",
    "pointwise_layers",
    "round_fcmask",
    "strategy_mask",
]
