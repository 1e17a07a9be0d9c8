"""Zigzag order of N-d tensors and the rules for how many coefficients a layer keeps.

The zigzag order sorts the multi-indices of a tensor by (sum of indices, index 0, index 1, ...)
ascending, the order of the authors' ``frereg`` package. Because the sort key does not depend on
the shape, the first ``k`` entries of the order always lie in a small low-frequency box; the
functions here work inside that box, so a prefix of a 4096x9216 weight costs what the box costs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch

#: Per-layer floors of the paper's appendix tables (and of ``frereg``): 128 coefficients for
#: convolutions, 256 for linear layers, 32 for transposed convolutions.
DEFAULT_MIN_KEEP = {"conv": 128, "linear": 256, "conv_transpose": 32, "other": 128}

#: Added to ``round(numel * rate)`` per layer kind. ``frereg`` keeps the zigzag ranks
#: ``0..round(numel * rate)`` inclusive for Conv and Linear (one more than the rate) and exactly
#: ``round(numel * rate)`` for ConvTranspose; the appendix tables print these counts.
RATE_OFFSET = {"conv": 1, "linear": 1, "conv_transpose": 0, "other": 1}


def _shape(shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"zigzag: shape must be non-empty with positive sizes, got {shape}")
    return shape


def _index_sums(box: tuple[int, ...]) -> np.ndarray:
    """Array of shape ``box`` holding the sum of each element's indices."""
    sums = np.zeros(box, dtype=np.int32)
    for d, n in enumerate(box):
        sums += np.arange(n, dtype=np.int32).reshape([n if i == d else 1 for i in range(len(box))])
    return sums


def zigzag_order(shape: Sequence[int]) -> torch.Tensor:
    """Flat (C-order) indices of a tensor of ``shape`` in zigzag order, as an int64 tensor.

    Sorted by (sum of indices, index 0, index 1, ...): a stable sort of the C-order flat indices
    by index sum, since C order is already lexicographic in (index 0, index 1, ...).
    """
    shape = _shape(shape)
    return torch.from_numpy(np.argsort(_index_sums(shape).ravel(), kind="stable"))


@functools.lru_cache(maxsize=512)
def diagonal_counts(shape: tuple[int, ...]) -> np.ndarray:
    """``counts[s]`` = number of multi-indices of ``shape`` whose indices sum to ``s``."""
    counts = np.ones(1, dtype=np.int64)
    for n in shape:
        counts = np.convolve(counts, np.ones(n, dtype=np.int64))
    return counts


@functools.lru_cache(maxsize=4096)
def _prefix_geometry(shape: tuple[int, ...], k: int) -> tuple[int, int, tuple[int, ...]]:
    """(last diagonal s, how many of diagonal s are kept, tight bounding box) of the first k entries."""
    cum = np.cumsum(diagonal_counts(shape))
    s = int(np.searchsorted(cum, k))  # first diagonal whose cumulative count reaches k
    before = int(cum[s - 1]) if s > 0 else 0
    take = k - before
    loose = tuple(min(n, s + 1) for n in shape)
    diagonal = np.flatnonzero(_index_sums(loose) == s)[:take]  # C order = lexicographic
    reach = np.unravel_index(diagonal, loose)
    box = tuple(max(min(n, s), int(r.max()) + 1) for n, r in zip(shape, reach))
    return s, take, box


def _check_k(shape: tuple[int, ...], k: int) -> None:
    numel = math.prod(shape)
    if not 0 <= k <= numel:
        raise ValueError(f"zigzag: k={k} is outside [0, {numel}] for shape {shape}")


def zigzag_box(shape: Sequence[int], k: int) -> tuple[int, ...]:
    """Smallest low-frequency box ``(b0, b1, ...)`` that holds the first ``k`` zigzag entries."""
    shape = _shape(shape)
    _check_k(shape, k)
    if k == 0:
        return tuple(0 for _ in shape)
    return _prefix_geometry(shape, int(k))[2]


def zigzag_mask(shape: Sequence[int], k: int, box: Sequence[int] | None = None) -> torch.Tensor:
    """Boolean mask of the first ``k`` zigzag entries of ``shape``, restricted to ``box``.

    ``box`` defaults to :func:`zigzag_box`; pass ``shape`` itself for the full-size mask.
    """
    shape = _shape(shape)
    _check_k(shape, k)
    if k == 0:
        return torch.zeros(tuple(box) if box is not None else (0,) * len(shape), dtype=torch.bool)
    s, take, tight = _prefix_geometry(shape, int(k))
    box = tight if box is None else tuple(int(b) for b in box)
    if any(b < t for b, t in zip(box, tight)) or any(b > n for b, n in zip(box, shape)):
        raise ValueError(f"zigzag_mask: box {box} must lie between {tight} and {shape}")
    sums = _index_sums(box)
    mask = sums < s
    diagonal = np.flatnonzero(sums == s)[:take]  # C order inside the box = lexicographic
    mask.ravel()[diagonal] = True
    return torch.from_numpy(mask)


def zigzag_prefix(shape: Sequence[int], k: int) -> torch.Tensor:
    """Flat (C-order, in ``shape``) indices of the first ``k`` zigzag entries, in zigzag order."""
    shape = _shape(shape)
    _check_k(shape, k)
    if k == 0:
        return torch.zeros(0, dtype=torch.int64)
    box = zigzag_box(shape, k)
    in_box = zigzag_order(box)[:k]
    multi = np.unravel_index(in_box.numpy(), box)
    return torch.from_numpy(np.ravel_multi_index(multi, shape).astype(np.int64))


def is_zigzag_prefix(mask: torch.Tensor) -> bool:
    """True if the non-zero pattern of ``mask`` is exactly a zigzag prefix of its shape."""
    k = int(torch.count_nonzero(mask))
    if k == 0:
        return True
    full = zigzag_mask(tuple(mask.shape), k, box=tuple(mask.shape))
    return bool(torch.equal(full, mask.detach().cpu() != 0))


def keep_count(
    numel: int,
    keep: float | int,
    *,
    min_keep: int | None = None,
    kind: str = "other",
    name: str = "layer",
) -> int:
    """Number of coefficients a layer of ``numel`` weights keeps.

    ``keep`` is a rate in (0, 1] or an int count in [1, numel]. A rate keeps
    ``round(numel * rate) + RATE_OFFSET[kind]`` (the paper's tables; never above ``numel``); the
    result is raised to the floor ``min_keep`` (default ``DEFAULT_MIN_KEEP[kind]``) and capped at
    ``numel``. An int count is taken as given, floor included.
    """
    if kind not in DEFAULT_MIN_KEEP:
        raise ValueError(f"{name}: unknown layer kind {kind!r}")
    if isinstance(keep, bool) or not isinstance(keep, Real):
        raise TypeError(f"{name}: keep must be a rate in (0, 1] or an int count, got {keep!r}")
    floor = DEFAULT_MIN_KEEP[kind] if min_keep is None else min_keep
    if isinstance(floor, bool) or not isinstance(floor, Integral) or floor < 0:
        raise ValueError(f"{name}: min_keep must be a non-negative int, got {min_keep!r}")
    if isinstance(keep, Integral):
        if not 1 <= keep <= numel:
            raise ValueError(f"{name}: keep={keep} is outside [1, {numel}] (the weight's size)")
        count = int(keep)
    else:
        if not math.isfinite(keep) or not 0.0 < keep <= 1.0:
            raise ValueError(f"{name}: keep rate must be in (0, 1], got {keep!r}")
        count = round(numel * keep) + RATE_OFFSET[kind] if keep < 1.0 else numel
    return int(min(max(count, floor), numel))
