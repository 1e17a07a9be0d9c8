"""Weight transforms for occasional regularization (Lee et al., "NR period"), with compressed forms.

Every transform is a callable ``w -> w'`` of the same shape and dtype, equal to
``decompress(compress(w))``; ``compress`` returns a small dataclass holding the structure that
:func:`freqlib.occasional.export` turns into real layers. ``step`` (the regularizer's step counter)
and ``index`` (the weight's position in the regularizer's selection) feed the schedules and the
seeded noise, so every DDP rank computes the same result from the same weight.

Matrix views: a weight of shape ``(T, *rest)`` is *lowered* to ``T x prod(rest)`` (a conv kernel
``(T, S, d, d)`` to ``T x (S*d*d)``, a Linear or LSTM weight stays ``out x in``). Factorizations
run in float32 (float64 stays float64) on the weight's device and are cast back.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch

from ..dct import dctn, idctn
from ..zigzag import keep_count, zigzag_prefix

Rate = float | Callable[[int], float]

# ---------------------------------------------------------------------------------------------
# validation and small helpers


def _check_int(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        kind = "a positive int" if low == 1 else f"an int >= {low}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def _check_real(name: str, value, low: float, high: float, *, high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    bad = value < low or (value >= high if high_open else value > high)
    if bad:
        raise ValueError(f"{name} must be in [{low}, {high}{')' if high_open else ']'}, got {value!r}")
    return float(value)


def _check_weight(w: torch.Tensor, who: str, min_dim: int = 1) -> None:
    if not isinstance(w, torch.Tensor) or not w.is_floating_point():
        raise TypeError(f"{who}: expected a floating-point tensor, got {type(w).__name__}")
    if w.dim() < min_dim:
        raise ValueError(f"{who}: needs a tensor with at least {min_dim} dims, got shape {tuple(w.shape)}")


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def lowered(w: torch.Tensor) -> torch.Tensor:
    """``w`` of shape (T, *rest) as a T x prod(rest) matrix in the work dtype (a 1-d w: 1 x n)."""
    m = w.reshape(1, -1) if w.dim() == 1 else w.reshape(w.shape[0], -1)
    return m.to(_work_dtype(w.dtype))


def lowered_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """(rows, cols) of :func:`lowered` for a weight of ``shape``: ``T x prod(rest)`` (1-d: ``1 x n``)."""
    shape = tuple(shape)
    return (1, shape[0]) if len(shape) == 1 else (shape[0], math.prod(shape[1:]))


def round_half_up(x: float) -> int:
    """Nearest int, halves rounded up (Python's ``round`` rounds halves to even)."""
    return int(math.floor(x + 0.5))


class Transform:
    """Base class: ``__call__(w) = decompress(compress(w))``, same shape and dtype as ``w``.

    ``projection`` is True when the result already is the compressed structure (export compresses
    the final weight); False for weight decay and noise, whose export keeps the weight dense.
    """

    name = "transform"
    projection = True

    def compress(self, w: torch.Tensor, *, step: int = 0, index: int = 0):
        raise NotImplementedError

    def decompress(self, c) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, w: torch.Tensor, *, step: int = 0, index: int = 0) -> torch.Tensor:
        return self.decompress(self.compress(w, step=step, index=index))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{self.name}({args})"


# ---------------------------------------------------------------------------------------------
# compressed forms


@dataclass
class Dense:
    """A dense weight (weight decay, noise): nothing to compress."""

    weight: torch.Tensor


@dataclass
class Pruned:
    """Kept entries of a weight: flat C-order ``indices`` (int64, sorted) and their ``values``."""

    shape: tuple[int, ...]
    indices: torch.Tensor
    values: torch.Tensor


@dataclass
class BinaryCodes:
    """Per row r of the lowered weight: ``w[r] ~ sum_i scales[r, i] * codes[r, i]``.

    ``scales``: (rows, bits) floats; ``codes``: (rows, bits, n) int8 in {-1, +1}.
    """

    shape: tuple[int, ...]
    scales: torch.Tensor
    codes: torch.Tensor
    dtype: torch.dtype


@dataclass
class LowRank:
    """Lowered weight ``W (m x n) ~ left (m x r) @ right (r x n)``; singular values sit in ``left``."""

    shape: tuple[int, ...]
    left: torch.Tensor
    right: torch.Tensor
    dtype: torch.dtype


@dataclass
class TileGroup:
    """An ``nr x nc`` grid of equal ``th x tw`` tiles starting at (row0, col0) of the lowered weight.

    ``left``: (nr, nc, th, r) with singular values; ``right``: (nr, nc, r, tw).
    """

    row0: int
    col0: int
    left: torch.Tensor
    right: torch.Tensor

    def product(self) -> torch.Tensor:
        """The (nr * th) x (nc * tw) block these tiles approximate."""
        nr, nc, th, _ = self.left.shape
        return (self.left @ self.right).transpose(1, 2).reshape(nr * th, nc * self.right.shape[-1])


@dataclass
class TiledLowRank:
    """Lowered weight cut into tiles, stored as up to four groups of equal-size tiles
    (whole tiles, right edge, bottom edge, corner)."""

    shape: tuple[int, ...]
    tile: tuple[int, int]
    groups: list[TileGroup]
    dtype: torch.dtype

    def tiles(self) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
        """(row0, col0, left, right) of every tile, in row-major order of the origins."""
        out = []
        for g in self.groups:
            nr, nc, th, _ = g.left.shape
            tw = g.right.shape[-1]
            out += [
                (g.row0 + i * th, g.col0 + j * tw, g.left[i, j], g.right[i, j]) for i in range(nr) for j in range(nc)
            ]
        return sorted(out, key=lambda t: (t[0], t[1]))


@dataclass
class Tucker2:
    """``w[t, s, ...] = sum_{a, b} core[a, b, ...] * p_t[t, a] * p_s[s, b]``.

    ``core``: (R_t, R_s, *kernel); ``p_t``: (T, R_t); ``p_s``: (S, R_s), both orthonormal columns.
    """

    shape: tuple[int, ...]
    core: torch.Tensor
    p_t: torch.Tensor
    p_s: torch.Tensor
    dtype: torch.dtype


@dataclass
class FrequencyCoefficients:
    """The first ``k`` zigzag DCT coefficients of a weight of ``shape``, in zigzag order."""

    shape: tuple[int, ...]
    k: int
    coefficients: torch.Tensor


# ---------------------------------------------------------------------------------------------
# weight decay and noise (Section 4)


class WeightDecay(Transform):
    name = "weight_decay"
    projection = False

    def __init__(self, theta: float, lr: float = 1.0):
        self.theta = _check_real("theta", theta, -math.inf, math.inf)
        self.lr = _check_real("lr", lr, 0.0, math.inf)

    def compress(self, w, *, step=0, index=0):
        _check_weight(w, "weight_decay")
        return Dense(w * (1.0 - self.lr * self.theta))

    def decompress(self, c):
        return c.weight


def weight_decay(theta: float, lr: float = 1.0) -> WeightDecay:
    """Decoupled weight decay as one regularization event: ``w' = (1 - lr * theta) * w``.

    The paper's Eq. 3 is printed as ``w_{t+1} = (1 - gamma theta w_t) - gamma grad``, a misprint of
    ``(1 - gamma theta) w_t - gamma grad`` (Loshchilov & Hutter); the gradient part is the
    optimizer's step, so the event is the factor ``(1 - gamma theta)``. ``lr`` is gamma: leave it
    at 1 to read ``theta`` as the whole per-event decay (the paper's Table 2 factors).
    """
    return WeightDecay(theta, lr)


class UniformNoise(Transform):
    name = "uniform_noise"
    projection = False

    def __init__(self, a: float, lr: float = 1.0, seed: int = 0):
        self.a = _check_real("a", a, 0.0, math.inf)
        self.lr = _check_real("lr", lr, 0.0, math.inf)
        self.seed = _check_int("seed", seed, 0)

    def generator(self, step: int, index: int) -> torch.Generator:
        """CPU generator seeded from (seed, step, index): identical on every rank and device."""
        state = np.random.SeedSequence([self.seed, int(step), int(index)]).generate_state(2)
        return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))

    def compress(self, w, *, step=0, index=0):
        _check_weight(w, "uniform_noise")
        u = torch.rand(w.shape, generator=self.generator(step, index), dtype=torch.float64)
        theta = ((2.0 * u - 1.0) * self.a).to(device=w.device, dtype=w.dtype)
        return Dense(w * (1.0 - self.lr * theta))

    def decompress(self, c):
        return c.weight


def uniform_noise(a: float, lr: float = 1.0, seed: int = 0) -> UniformNoise:
    """Eq. 3 with a random factor: ``w' = (1 - lr * theta) * w``, ``theta ~ U(-a, a)`` per element.

    The paper "plugs theta ~ U(-a, +a) into Eq. (3)", i.e. multiplicative noise
    ``w' = w (1 + eps)`` as in its Fig. 1. The draw comes from a CPU generator seeded with
    ``(seed, step, index)``, so it is reproducible and the same on every DDP rank.
    """
    return UniformNoise(a, lr, seed)


# ---------------------------------------------------------------------------------------------
# pruning (Section 6.1)


def gradual_rate(step: int, p_i: float, p_f: float, t_i: int, t_f: int, E: float = 3) -> float:
    """Eq. 5 (Zhu & Gupta 2017): ``p_t = p_f + (p_i - p_f) * (1 - (t - t_i) / (t_f - t_i)) ** E``.

    ``E`` is the exponent of the schedule (the paper: "a constant"; 7 for LeNet, 3 for the LSTM).
    Pruning starts at ``t_i``: the rate is 0 before ``t_i``, ``p_i`` at ``t_i``, rises to ``p_f``
    at ``t_f`` and stays there. Rates are fractions in [0, 1).
    """
    p_i = _check_real("p_i", p_i, 0.0, 1.0, high_open=True)
    p_f = _check_real("p_f", p_f, 0.0, 1.0, high_open=True)
    t_i = _check_int("t_i", t_i, 0)
    t_f = _check_int("t_f", t_f, 0)
    E = _check_real("E", E, 0.0, math.inf)
    if t_f <= t_i:
        raise ValueError(f"t_f must be > t_i, got t_i={t_i}, t_f={t_f}")
    if step < t_i:
        return 0.0
    if step >= t_f:
        return p_f
    return p_f + (p_i - p_f) * (1.0 - (step - t_i) / (t_f - t_i)) ** E


def smallest_mask(a: torch.Tensor, count: int) -> torch.Tensor:
    """Mask of the ``count`` smallest entries of the 1-d ``a``; ties broken by lower index first.

    The same set as ``argsort(a, stable=True)[:count]``, in O(n) with ``kthvalue``.
    """
    if count <= 0:
        return torch.zeros_like(a, dtype=torch.bool)
    value = torch.kthvalue(a, count).values
    below, ties = a < value, a == value
    need = count - int(below.sum())
    return below | (ties & (torch.cumsum(ties, 0) <= need))


class MagnitudePrune(Transform):
    name = "magnitude_prune"

    def __init__(self, rate: Rate):
        if not callable(rate):
            _check_real("rate", rate, 0.0, 1.0, high_open=True)
        self.rate = rate

    def rate_at(self, step: int) -> float:
        rate = self.rate(step) if callable(self.rate) else self.rate
        return _check_real("rate", rate, 0.0, 1.0, high_open=True)

    def compress(self, w, *, step=0, index=0):
        _check_weight(w, "magnitude_prune")
        n = w.numel()
        drop = round_half_up(self.rate_at(step) * n)
        kept = torch.nonzero(~smallest_mask(w.detach().abs().flatten(), drop)).squeeze(1)
        return Pruned(tuple(w.shape), kept, w.flatten()[kept].clone())

    def decompress(self, c):
        return pruned_weight(c)


def pruned_weight(c: Pruned) -> torch.Tensor:
    """The dense weight of a :class:`Pruned` form (zeros elsewhere)."""
    flat = c.values.new_zeros(math.prod(c.shape))
    flat[c.indices] = c.values
    return flat.view(c.shape)


def magnitude_prune(rate: Rate) -> MagnitudePrune:
    """Zero the ``round_half_up(rate * numel)`` smallest-magnitude entries of each weight.

    Ties are broken by flat index (a stable sort), so the zero fraction is exact. ``rate`` is a
    fraction in [0, 1) or a callable ``step -> rate`` (e.g. ``lambda t: gradual_rate(t, ...)``).
    Each weight is pruned separately (per layer); use one regularizer per group for per-layer rates.
    """
    return MagnitudePrune(rate)


# ---------------------------------------------------------------------------------------------
# binary-code quantization (Section 2; Xu et al. 2018)


def _sign(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


def _greedy_codes(m: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy init: alpha_i = mean|r|, b_i = sign(r), r -= alpha_i b_i. Shapes (rows, bits[, n])."""
    residual, scales, codes = m.clone(), [], []
    for _ in range(bits):
        b = _sign(residual)
        alpha = residual.abs().mean(dim=1)
        residual -= alpha[:, None] * b
        scales.append(alpha)
        codes.append(b)
    return torch.stack(scales, 1), torch.stack(codes, 1)


def _least_squares_scales(m: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Scales minimizing ||m_r - B_r^T alpha_r|| per row (pseudo-inverse: safe for repeated codes)."""
    gram = codes @ codes.transpose(1, 2)  # (rows, bits, bits)
    rhs = (codes @ m.unsqueeze(2)).squeeze(2)  # (rows, bits)
    return (torch.linalg.pinv(gram) @ rhs.unsqueeze(2)).squeeze(2)


def _nearest_codes(m: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Codes choosing, per entry, the nearest of the 2^bits values sum_i alpha_i s_i."""
    bits = scales.shape[1]
    signs = torch.tensor(list(itertools.product((-1.0, 1.0), repeat=bits)), dtype=m.dtype, device=m.device)
    levels = scales @ signs.T  # (rows, 2^bits)
    levels, order = torch.sort(levels, dim=1)
    mids = (levels[:, 1:] + levels[:, :-1]) / 2
    slot = torch.searchsorted(mids.contiguous(), m.contiguous(), right=True)  # (rows, n)
    choice = torch.gather(order, 1, slot)
    return signs[choice].permute(0, 2, 1)  # (rows, bits, n)


class BinaryQuantize(Transform):
    name = "binary_quantize"

    def __init__(self, bits: int, iters: int = 2):
        self.bits = _check_int("bits", bits)
        self.iters = _check_int("iters", iters, 0)

    def compress(self, w, *, step=0, index=0):
        _check_weight(w, "binary_quantize")
        m = lowered(w)
        scales, codes = _greedy_codes(m, self.bits)
        for _ in range(self.iters if self.bits > 1 else 0):
            scales = _least_squares_scales(m, codes)
            codes = _nearest_codes(m, scales)
        if self.bits > 1:
            scales = _least_squares_scales(m, codes)
        return BinaryCodes(tuple(w.shape), scales, codes.to(torch.int8), w.dtype)

    def decompress(self, c):
        return binary_weight(c.scales, c.codes.to(c.scales.dtype), c.shape, c.dtype)


def binary_weight(scales: torch.Tensor, codes: torch.Tensor, shape, dtype) -> torch.Tensor:
    """``sum_i scales[:, i] * codes[:, i]`` reshaped to ``shape``; codes as floats (rows, bits, n)."""
    return (scales.unsqueeze(2) * codes).sum(1).reshape(shape).to(dtype)


def binary_quantize(bits: int, iters: int = 2) -> BinaryQuantize:
    """Multi-bit binary codes per row of the lowered weight: ``w_row ~ sum_{i<bits} alpha_i b_i``.

    Xu et al. (2018) alternating multi-bit quantization: greedy init (``alpha = mean|r|``,
    ``b = sign(r)`` on the running residual), then ``iters`` rounds of least-squares scales given
    the codes and the best codes given the scales (the nearest of the 2^bits levels), ending with
    a least-squares refit. 1 bit is the closed form ``alpha = mean|w_row|``, ``b = sign(w_row)``
    (sign(0) = +1). Conv rows are output channels.
    """
    return BinaryQuantize(bits, iters)


# ---------------------------------------------------------------------------------------------
# low rank (SVD, tiled SVD, Tucker-2)


def _truncated(m: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Best rank-``rank`` factors (left ... x m x r with singular values, right ... x r x n) of a
    matrix or a batch of matrices; r = min(rank, m, n)."""
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    r = min(rank, s.shape[-1])
    return u[..., :r] * s[..., None, :r], vh[..., :r, :]


def _tile_groups(shape: tuple[int, int], tile: tuple[int, int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Row and column ranges whose tiles share one size: the whole tiles, then the edge remainders."""

    def spans(n, t):
        whole = (n // t) * t
        return [s for s in ((0, whole), (whole, n)) if s[1] > s[0]]

    return [(r, c) for r in spans(shape[0], tile[0]) for c in spans(shape[1], tile[1])]


class LowRankSVD(Transform):
    name = "low_rank"

    def __init__(self, rank: int):
        self.rank = _check_int("rank", rank)

    def compress(self, w, *, step=0, index=0):
        _check_weight(w, "low_rank")
        left, right = _truncated(lowered(w), self.rank)
        return LowRank(tuple(w.shape), left, right, w.dtype)

    def stored_numbers(self, shape: tuple[int, ...]) -> int:
        """Numbers the factors of a weight of ``shape`` store: ``r (m + n)`` for the lowered ``m x n``,
        ``r = min(rank, m, n)``."""
        m, n = lowered_shape(shape)
        return min(self.rank, m, n) * (m + n)

    def decompress(self, c):
        return (c.left @ c.right).reshape(c.shape).to(c.dtype)


def low_rank(rank: int) -> LowRankSVD:
    """Truncated SVD of the lowered weight (conv ``(T, S, d, d)`` -> ``T x (S*d*d)``).

    Ranks above ``min(m, n)`` are clipped to it (an exact copy).
    """
    return LowRankSVD(rank)


class TiledSVD(Transform):
    name = "tiled_low_rank"

    def __init__(self, tile: int | tuple[int, int], rank: int):
        pair = (tile, tile) if not isinstance(tile, tuple | list) else tuple(tile)
        if len(pair) != 2:
            raise ValueError(f"tile must be an int or a (rows, cols) pair, got {tile!r}")
        self.tile = tuple(_check_int("tile", t) for t in pair)
        self.rank = _check_int("rank", rank)

    def compress(self, w, *, step=0, index=0):
        _check_weight(w, "tiled_low_rank")
        m = lowered(w)
        groups = []
        for rows, cols in _tile_groups(m.shape, self.tile):
            block = m[rows[0] : rows[1], cols[0] : cols[1]]
            th, tw = min(self.tile[0], block.shape[0]), min(self.tile[1], block.shape[1])
            nr, nc = block.shape[0] // th, block.shape[1] // tw
            left, right = _truncated(block.reshape(nr, th, nc, tw).transpose(1, 2), self.rank)  # batched SVD
            groups.append(TileGroup(rows[0], cols[0], left, right))
        return TiledLowRank(tuple(w.shape), self.tile, groups, w.dtype)

    def stored_numbers(self, shape: tuple[int, ...]) -> int:
        """Numbers the tile factors of a weight of ``shape`` store: ``sum min(rank, th, tw) (th + tw)``
        over the tiles ``th x tw`` of :meth:`compress` (edge tiles smaller)."""
        total = 0
        for rows, cols in _tile_groups(lowered_shape(shape), self.tile):
            h, w = rows[1] - rows[0], cols[1] - cols[0]
            th, tw = min(self.tile[0], h), min(self.tile[1], w)
            total += (h // th) * (w // tw) * min(self.rank, th, tw) * (th + tw)
        return total

    def decompress(self, c):
        return tiled_matrix(c).reshape(c.shape).to(c.dtype)


def tiled_matrix(c: TiledLowRank) -> torch.Tensor:
    """The lowered matrix (work dtype) assembled from the tile factors."""
    rows = c.shape[0] if len(c.shape) > 1 else 1
    m = c.groups[0].left.new_zeros(rows, math.prod(c.shape) // rows)
    for g in c.groups:
        block = g.product()
        m[g.row0 : g.row0 + block.shape[0], g.col0 : g.col0 + block.shape[1]] = block
    return m


def tiled_low_rank(tile: int | tuple[int, int], rank: int) -> TiledSVD:
    """Tiled SVD (paper A.4.2): cut the lowered weight into ``tile`` x ``tile`` blocks (``tile``: an
    int or a (rows, cols) pair, the size of each block, as in Table 5) and truncate each block's SVD
    to ``min(rank, block rows, block cols)``. Edge blocks are smaller when the size does not divide.
    """
    return TiledSVD(tile, rank)


def _leading(m: torch.Tensor, r: int) -> torch.Tensor:
    """The r leading left singular vectors of m (columns)."""
    return torch.linalg.svd(m, full_matrices=False)[0][:, :r]


def _unfold(x: torch.Tensor, mode: int) -> torch.Tensor:
    return x.movedim(mode, 0).reshape(x.shape[mode], -1)


class Tucker2Transform(Transform):
    name = "tucker2"

    def __init__(
        self,
        rank_fraction: float | None = None,
        *,
        ranks: tuple[int, int] | None = None,
        iters: int = 2,
        ratio: float | None = None,
    ):
        rank_fraction = _deprecated_ratio(rank_fraction, ratio)
        if (rank_fraction is None) == (ranks is None):
            raise ValueError("tucker2: give exactly one of rank_fraction and ranks")
        if rank_fraction is not None:
            _check_real("rank_fraction", rank_fraction, 0.0, 1.0)
            if rank_fraction == 0:
                raise ValueError(f"rank_fraction must be in (0, 1], got {rank_fraction!r}")
        if ranks is not None:
            ranks = tuple(_check_int("ranks", r) for r in ranks)
            if len(ranks) != 2:
                raise ValueError(f"ranks must be a pair (R_t, R_s), got {ranks!r}")
        self.rank_fraction, self.ranks, self.iters = rank_fraction, ranks, _check_int("iters", iters, 0)

    @property
    def ratio(self) -> float | None:
        """Deprecated name of :attr:`rank_fraction`."""
        warnings.warn(_RATIO_DEPRECATED, DeprecationWarning, stacklevel=2)
        return self.rank_fraction

    def ranks_for(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(R_t, R_s): ``max(1, round_half_up(rank_fraction * T or S))`` (or ``ranks``), capped at the ranks
        the mode unfoldings can have: ``R_t <= min(T, S * k)``, ``R_s <= min(S, T * k)``, k = prod(kernel)."""
        T, S, k = shape[0], shape[1], math.prod(shape[2:])
        if self.ranks is not None:
            rt, rs = self.ranks
        else:
            rt, rs = (max(1, round_half_up(self.rank_fraction * n)) for n in (T, S))
        return min(rt, T, S * k), min(rs, S, T * k)

    def stored_numbers(self, shape: tuple[int, ...]) -> int:
        """Numbers the Tucker-2 of a weight of ``shape`` ``(T, S, *kernel)`` stores at :meth:`ranks_for`:
        ``S R_s + k R_s R_t + T R_t`` (``P_s``, the core, ``P_t``; k = prod(kernel), Section 6.2 of the paper)."""
        T, S, k = shape[0], shape[1], math.prod(shape[2:])
        rt, rs = self.ranks_for(tuple(shape))
        return S * rs + k * rs * rt + T * rt

    def compress(self, w, *, step=0, index=0):
        _check_weight(w, "tucker2", min_dim=2)
        x = w.to(_work_dtype(w.dtype))
        rt, rs = self.ranks_for(tuple(w.shape))
        p_t, p_s = _leading(_unfold(x, 0), rt), _leading(_unfold(x, 1), rs)  # HOSVD
        kernel = math.prod(w.shape[2:])
        if rt <= rs * kernel and rs <= rt * kernel:  # HOOI keeps the ranks: refine
            for _ in range(self.iters):
                p_t = _leading(_unfold(torch.tensordot(x, p_s, dims=([1], [0])), 0), rt)
                y = torch.tensordot(x, p_t, dims=([0], [0])).movedim(-1, 0)
                p_s = _leading(_unfold(y, 1), rs)
        core = torch.einsum("ts...,ta,sb->ab...", x, p_t, p_s)
        return Tucker2(tuple(w.shape), core, p_t, p_s, w.dtype)

    def decompress(self, c):
        return torch.einsum("ab...,ta,sb->ts...", c.core, c.p_t, c.p_s).to(c.dtype)


_RATIO_DEPRECATED = "tucker2(ratio=...) is deprecated: the fraction of T and S kept is now rank_fraction=..."


def _deprecated_ratio(rank_fraction: float | None, ratio: float | None) -> float | None:
    """``rank_fraction``, or the deprecated ``ratio`` (with a DeprecationWarning pointing at the caller of
    :func:`tucker2` or :class:`Tucker2Transform`)."""
    if ratio is None:
        return rank_fraction
    warnings.warn(_RATIO_DEPRECATED, DeprecationWarning, stacklevel=3)
    if rank_fraction is not None:
        raise ValueError("tucker2: give rank_fraction, not also its deprecated alias ratio")
    return ratio


def tucker2(
    rank_fraction: float | None = None,
    *,
    ranks: tuple[int, int] | None = None,
    iters: int = 2,
    ratio: float | None = None,
) -> Tucker2Transform:
    """Tucker-2 over the output (T) and input (S) modes of a weight ``(T, S, *kernel)`` (Eq. 6).

    ``R_t = max(1, round_half_up(rank_fraction * T))``, ``R_s = max(1, round_half_up(rank_fraction * S))``
    (``rank_fraction`` is the paper's ``R_c``, in (0, 1]), or explicit ``ranks=(R_t, R_s)``; HOSVD then
    ``iters`` HOOI sweeps (skipped when a rank exceeds what the other mode allows, e.g. a Linear with
    R_t > R_s). A Linear weight (T, S) is a 2-mode tensor: its Tucker-2 is ``P_t core P_s^T``, exported
    as three Linears. ``ratio=`` is the deprecated name of ``rank_fraction`` (a DeprecationWarning).
    """
    if ratio is not None:
        rank_fraction = _deprecated_ratio(rank_fraction, ratio)
    return Tucker2Transform(rank_fraction, ranks=ranks, iters=iters)


# ---------------------------------------------------------------------------------------------
# frequency truncation (the first paper's FR, applied occasionally)


class FrequencyTruncate(Transform):
    name = "frequency_truncate"

    def __init__(self, keep: float | int, *, min_keep: int = 0, kind: str = "other"):
        if isinstance(keep, bool) or not isinstance(keep, Real):
            raise ValueError(f"keep must be a rate in (0, 1] or an int count, got {keep!r}")
        self.keep, self.min_keep, self.kind = keep, min_keep, kind

    def k_for(self, numel: int) -> int:
        return keep_count(numel, self.keep, min_keep=self.min_keep, kind=self.kind, name="frequency_truncate")

    def compress(self, w, *, step=0, index=0):
        _check_weight(w, "frequency_truncate")
        k = self.k_for(w.numel())
        prefix = zigzag_prefix(tuple(w.shape), k).to(w.device)
        return FrequencyCoefficients(tuple(w.shape), k, dctn(w).flatten()[prefix].clone())

    def decompress(self, c):
        return frequency_weight(c.coefficients, c.shape, c.k)


def frequency_weight(coefficients: torch.Tensor, shape: tuple[int, ...], k: int) -> torch.Tensor:
    """``idctn`` of the spectrum holding ``coefficients`` at the first ``k`` zigzag positions."""
    flat = coefficients.new_zeros(math.prod(shape))
    flat[zigzag_prefix(shape, k).to(coefficients.device)] = coefficients
    return idctn(flat.view(shape))


def frequency_truncate(keep: float | int, *, min_keep: int = 0, kind: str = "other") -> FrequencyTruncate:
    """``w' = idctn(zigzag_mask * dctn(w))`` keeping :func:`freqlib.zigzag.keep_count` coefficients.

    ``keep`` is a rate in (0, 1] or an int count; ``kind`` and ``min_keep`` follow ``keep_count``
    (defaults: kind "other", so a rate keeps ``round(numel * rate) + 1``; no floor).
    """
    return FrequencyTruncate(keep, min_keep=min_keep, kind=kind)
