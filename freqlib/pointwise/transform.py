"""Block (macroblock) DCT of activations, as in JPEG and section 3.1 of the paper.

Layout: :func:`block_dct2d` maps activations (N, C, H, W) to coefficients
(N, C, b*b, ceil(H/b), ceil(W/b)). Axis 2 holds the b*b coefficients of each b x b macroblock in
zigzag order (:func:`freqlib.zigzag_order` of (b, b): by (row + column frequency, row frequency)),
so coefficient ``n`` of every channel is one downsampled map and a low-frequency band is the
prefix ``[:, :, :k]``. Sizes not divisible by ``b`` are zero-padded at the bottom and right;
:func:`block_idct2d` crops back when given ``size=(H, W)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..dct import dct_matrix
from ..zigzag import zigzag_order

_FLOATS = (torch.float32, torch.float64)


def _check_block(block: int) -> int:
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be a positive int, got {block!r}")
    return block


@functools.lru_cache(maxsize=64)
def _basis_cached(block: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    d = dct_matrix(block, torch.float64)
    basis = torch.kron(d, d)  # row (u, v) -> column (i, j): d[u, i] * d[v, j]
    return basis[zigzag_order((block, block))].to(dtype=dtype, device=device).contiguous()


def block_basis(block: int, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """Orthonormal 2-D DCT-II basis of a b x b block, shape (b*b, b*b).

    Row ``n`` is coefficient ``n`` in zigzag order; column ``i*b + j`` is pixel (i, j) of the
    block (row-major). Coefficients of a flattened block ``p`` are ``basis @ p``; the inverse is
    ``basis.T @ coef``.
    """
    return _basis_cached(_check_block(block), dtype, torch.device(device or "cpu"))


def padded_size(size: Sequence[int], block: int) -> tuple[int, int]:
    """(H, W) rounded up to multiples of ``block``."""
    h, w = (int(s) for s in size)
    return -(-h // block) * block, -(-w // block) * block


def _check_x(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"{name}: expected a 4-d tensor (N, C, H, W), got {getattr(x, 'shape', type(x))}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"{name}: dtype {x.dtype} is not supported (use float32 or float64)")


def pad_to_block(x: torch.Tensor, block: int) -> torch.Tensor:
    """Zero-pad (N, C, H, W) at the bottom and right to multiples of ``block`` (no copy if none)."""
    hp, wp = padded_size(x.shape[-2:], block)
    if (hp, wp) == tuple(x.shape[-2:]):
        return x
    return F.pad(x, (0, wp - x.shape[-1], 0, hp - x.shape[-2]))


def block_dct2d(x: torch.Tensor, block: int) -> torch.Tensor:
    """Orthonormal 2-D DCT-II of each b x b macroblock: (N, C, H, W) -> (N, C, b*b, H'/b, W'/b).

    ``H'``, ``W'`` are H, W zero-padded up to multiples of ``b``; axis 2 is in zigzag order.
    """
    _check_x(x, "block_dct2d")
    b = _check_block(block)
    x = pad_to_block(x, b)
    n, c, h, w = x.shape
    patches = x.reshape(n, c, h // b, b, w // b, b).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // b, w // b, b * b)
    coef = patches @ block_basis(b, x.dtype, x.device).T  # (n, c, hb, wb, b*b)
    return coef.permute(0, 1, 4, 2, 3).contiguous()


def block_idct2d(X: torch.Tensor, block: int, size: Sequence[int] | None = None) -> torch.Tensor:
    """Inverse of :func:`block_dct2d`: (N, C, b*b, Hb, Wb) -> (N, C, Hb*b, Wb*b).

    With ``size=(H, W)`` the result is cropped to its top-left H x W (undoing the padding).
    """
    b = _check_block(block)
    if not isinstance(X, torch.Tensor) or X.dim() != 5 or X.shape[2] != b * b:
        raise ValueError(f"block_idct2d: expected (N, C, {b * b}, Hb, Wb), got {getattr(X, 'shape', type(X))}")
    if X.dtype not in _FLOATS:
        raise TypeError(f"block_idct2d: dtype {X.dtype} is not supported (use float32 or float64)")
    n, c, _, hb, wb = X.shape
    pix = X.permute(0, 1, 3, 4, 2) @ block_basis(b, X.dtype, X.device)  # (n, c, hb, wb, b*b)
    out = pix.reshape(n, c, hb, wb, b, b).permute(0, 1, 2, 4, 3, 5).reshape(n, c, hb * b, wb * b)
    if size is not None:
        h, w = (int(s) for s in size)
        if h > hb * b or w > wb * b or h < 1 or w < 1:
            raise ValueError(f"block_idct2d: size {(h, w)} does not fit in {(hb * b, wb * b)}")
        out = out[:, :, :h, :w]
    return out.contiguous()
