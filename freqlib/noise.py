"""Weight noise from compression (NR-period paper, Figures 1 and 17).

Figure 1: a Gaussian matrix ``w`` is compressed (truncated SVD at rank R, or Q-bit binary codes)
and the noise is read as ``w' = w (1 + eps)``, i.e. ``eps = w'/w - 1`` element by element.
Figure 17: the matrix is cut into tiles, each tile truncated to the same rank, so that every
tiling stores the same number of values; the weights after SVD are compared across tilings.
The compressions are :mod:`freqlib.occasional`'s transforms (``low_rank``, ``binary_quantize``
per row of the matrix, ``tiled_low_rank`` with the tile *size*).
"""

from __future__ import annotations

import math

import pandas as pd
import torch

from .occasional import binary_quantize, low_rank, tiled_low_rank


def gaussian_matrix(n: int, m: int | None = None, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An ``n x m`` (default square) matrix of N(0, 1) entries from a generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, n if m is None else m, generator=g, dtype=dtype)


def epsilon(w: torch.Tensor, w_compressed: torch.Tensor) -> torch.Tensor:
    """Relative noise ``eps`` of ``w' = w (1 + eps)``: ``w'/w - 1`` (flattened). Zeros of ``w`` are dropped."""
    w, wc = w.flatten(), w_compressed.flatten()
    keep = w != 0
    return wc[keep] / w[keep] - 1


def compressed(w: torch.Tensor, method: str, level: int) -> torch.Tensor:
    """``w`` after ``method`` "svd" (rank ``level``) or "quant" (``level`` bits of binary codes per row)."""
    if method == "svd":
        return low_rank(level)(w)
    if method == "quant":
        return binary_quantize(level)(w)
    raise ValueError(f"method must be 'svd' or 'quant', got {method!r}")


def one_bit_epsilon(w: torch.Tensor) -> torch.Tensor:
    """Closed form of 1-bit binary codes per row: ``w' = mean|w_row| sign(w)``, so
    ``eps = mean|w_row| / |w| - 1`` (flattened; zeros of ``w`` dropped)."""
    alpha = w.abs().mean(dim=1, keepdim=True).expand_as(w)
    keep = (w != 0).flatten()
    return (alpha.flatten() / w.abs().flatten())[keep] - 1


#: Histogram bins over [-window, window] for the mode of eps.
HIST_BINS = 100


def epsilon_stats(eps: torch.Tensor, window: float = 2.0) -> dict[str, float]:
    """Summary of ``eps``: the mode (centre of the fullest of :data:`HIST_BINS` bins in the window).
    Its tails are heavy (``w`` near 0 gives ``|eps|`` without bound), so mean
    and std are taken inside ``[-window, window]`` (the histogram's x-range); the median and the
    share of negative values over all of ``eps``."""
    e = eps.double()
    inside = e[e.abs() <= window]
    counts = torch.histc(inside, bins=HIST_BINS, min=-window, max=window)
    mode = -window + (int(counts.argmax()) + 0.5) * 2 * window / HIST_BINS
    return {
        "mode": mode,
        "median": float(e.median()),
        f"mean in ±{window:g}": float(inside.mean()),
        f"std in ±{window:g}": float(inside.std()),
        "% negative": 100 * float((e < 0).double().mean()),
        f"% outside ±{window:g}": 100 * float((e.abs() > window).double().mean()),
        "rms error / rms w": 0.0,  # filled by noise_table
    }


def noise_table(w: torch.Tensor, ranks: list[int], bits: list[int], window: float = 2.0):
    """Figure 1's settings: ``({label: eps}, table)``, one row per SVD rank and per bit count:
    method, setting, compression (stored numbers, float32 for SVD factors; bits for codes + a
    float32 scale per bit and row), and :func:`epsilon_stats`."""
    n, m = w.shape
    out, rows = {}, []
    u, s, vh = torch.linalg.svd(w, full_matrices=False)  # one SVD serves every rank (= low_rank(R)(w))
    for method, levels in (("svd", ranks), ("quant", bits)):
        for level in levels:
            if method == "svd":
                wc = ((u[:, :level] * s[:level]) @ vh[:level]).to(w.dtype)
            else:
                wc = compressed(w, method, level)
            eps = epsilon(w, wc)
            label = f"R = {level}" if method == "svd" else f"Q = {level}"
            out[label] = eps
            if method == "svd":
                ratio = n * m / (level * (n + m))
            else:
                ratio = 32 * n * m / (level * (n * m + 32 * n))
            stats = epsilon_stats(eps, window)
            stats["rms error / rms w"] = float((wc - w).double().norm() / w.double().norm())
            rows.append(
                {
                    "method": "SVD" if method == "svd" else "binary codes",
                    "setting": label,
                    "compression": ratio,
                    **stats,
                }
            )
    return out, pd.DataFrame(rows)


def tiling(n: int, tiles_per_side: int, ratio: int = 4) -> tuple[int, int]:
    """(tile size, rank per tile) for an ``n x n`` matrix cut into ``tiles_per_side``^2 square tiles,
    each truncated so the whole stores ``ratio`` times fewer numbers: a t x t tile at rank r keeps
    2 t r numbers, so r = t / (2 ratio). ValueError when that is not a positive integer."""
    if n % tiles_per_side:
        raise ValueError(f"{tiles_per_side} tiles per side do not divide {n}")
    t = n // tiles_per_side
    if t % (2 * ratio):
        raise ValueError(f"tile {t} gives rank {t / (2 * ratio)}: not an integer")
    return t, t // (2 * ratio)


def tiled_svd(w: torch.Tensor, tile: int, rank: int) -> tuple[torch.Tensor, int]:
    """``w`` after tiled SVD (tile size ``tile``, rank ``rank`` per tile) and the count of stored
    numbers (all tile factors)."""
    transform = tiled_low_rank(tile, rank)
    c = transform.compress(w)
    stored = sum(g.left.numel() + g.right.numel() for g in c.groups)
    return transform.decompress(c), stored


def tiling_table(w: torch.Tensor, tiles_per_side: list[int], ratio: int = 4, near: float = 0.1, large: float = 2.0):
    """Figure 17's settings: ``({label: w'}, table)``, one row per tiling: tiles, tile size, rank,
    stored numbers, compression, variance of w', % of |w'| < ``near``, % of |w'| > ``large``,
    excess kurtosis of w'."""
    n = w.shape[0]
    out, rows = {}, []
    for k in tiles_per_side:
        t, r = tiling(n, k, ratio)
        wc, stored = tiled_svd(w, t, r)
        label = f"{k}x{k} tiles ({t}x{t}, r={r})"
        out[label] = wc
        v = wc.double().flatten()
        z = (v - v.mean()) / v.std()
        rows.append(
            {
                "tiling": f"{k}x{k}",
                "tile size": f"{t}x{t}",
                "rank per tile": r,
                "stored numbers": stored,
                "compression": w.numel() / stored,
                "variance": float(v.var()),
                f"% |w'| < {near:g}": 100 * float((v.abs() < near).double().mean()),
                f"% |w'| > {large:g}": 100 * float((v.abs() > large).double().mean()),
                "excess kurtosis": float((z**4).mean() - 3),
            }
        )
    return out, pd.DataFrame(rows)


def monotone(values: list[float], increasing: bool = True) -> bool:
    """True if ``values`` strictly increase (or decrease)."""
    pairs = list(zip(values, values[1:]))
    return all((b > a) if increasing else (b < a) for a, b in pairs) and not any(math.isnan(v) for v in values)
