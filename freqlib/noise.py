"""Weight noise from compression (NR-period paper, Figures 1 and 17).

Figure 1: a Gaussian matrix ``w`` is compressed (truncated SVD at rank R, or Q-bit binary codes)
and the noise is read as ``w' = w (1 + eps)``, i.e. ``eps = w'/w - 1`` element by element.
Figure 17: the matrix is cut into tiles, each tile truncated to the same rank, so that every
tiling stores the same number of values; the weights after SVD are compared across tilings.
The compressions are :mod:`freqlib.occasional`'s transforms (``low_rank``, ``binary_quantize``
per row of the matrix, ``tiled_low_rank`` with the tile *size*). Figure 2's diagram descends a toy
loss (:func:`toy_loss`, :func:`descend`); :func:`claims` checks the figures' statements (all exact).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from .claims import Claim, by_construction, exact
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


# ---------------------------------------------------------------------------------------------
# Figure 2's diagram: gradient descent on a one-dimensional loss

#: The seeds of the N(0, 1) matrices of Figures 1 and 17.
FIG1_SEED, FIG17_SEED = 0, 1


def data_label(n: int, seed: int) -> str:
    """The data label of an ``n x n`` N(0, 1) matrix drawn with ``seed`` (:func:`gaussian_matrix`)."""
    return f"synthetic {n}x{n} N(0,1), seed {seed}"


def toy_loss(x):
    """A one-dimensional loss with several local minima (Figure 2's drawing); ``x`` a float or array."""
    return 0.6 * np.sin(3 * x) + 0.1 * (x - 0.5) ** 2 + 0.15 * x


def descend(x: float, steps: int, lr: float = 0.08, h: float = 1e-5) -> np.ndarray:
    """``steps`` of gradient descent on :func:`toy_loss` from ``x`` (central-difference gradient, step ``h``):
    the path, ``steps + 1`` positions."""
    path = [x]
    for _ in range(steps):
        x = x - lr * (toy_loss(x + h) - toy_loss(x - h)) / (2 * h)
        path.append(x)
    return np.array(path)


# ---------------------------------------------------------------------------------------------
# the chapter's claims (exact: deterministic computations on seeded matrices, no training)


def _fmt(frame: pd.DataFrame, key: str, column: str, digits: int) -> str:
    """``setting: value, ...`` for ``column`` of ``frame`` keyed by ``key``."""
    return ", ".join(f"{k}: {v:.{digits}f}" for k, v in zip(frame[key], frame[column]))


def claims(
    fig1: pd.DataFrame,
    fig17: pd.DataFrame,
    *,
    profile: str,
    size: int,
    tiled_size: int,
    window: float = 2.0,
    ratio: int = 4,
) -> list[Claim]:
    """The chapter's claims from :func:`noise_table`'s ``fig1`` (on a ``size`` x ``size`` matrix, seed
    :data:`FIG1_SEED`, statistics in ``window``) and :func:`tiling_table`'s ``fig17`` (``tiled_size``,
    seed :data:`FIG17_SEED`, tilings at ``ratio`` x). All exact (no training): each statement of the paper
    split into the checks it makes, so that a part that fails is named; the 4x of Figure 17 is by
    construction (the rank per tile is chosen for it), unless the stored counts say otherwise."""
    meta1 = {"profile": profile, "data": data_label(size, FIG1_SEED), "source": "NR Fig 1"}
    meta17 = {"profile": profile, "data": data_label(tiled_size, FIG17_SEED), "source": "NR Fig 17"}
    return [*_fig1_claims(fig1, window, meta1), *_fig17_claims(fig17, ratio, meta17)]


def _fig1_claims(fig1: pd.DataFrame, window: float, meta: dict) -> list[Claim]:
    svd = fig1[fig1["method"] == "SVD"]  # rank falling: compression rising
    q = fig1[fig1["method"] == "binary codes"].sort_values("setting", ascending=False)  # Q = 4 ... 1
    std = f"std in ±{window:g}"
    negative = "skewed negative (weights decay), more so at higher compression"
    wider = "a wider range of noise at higher compression"

    def check(claim, paper, frame, column, digits, holds, rule):
        ours = f"{column} {_fmt(frame, 'setting', column, digits)}"
        return exact(claim, paper, ours, holds=bool(holds), reason=f"{rule}: {'holds' if holds else 'fails'}", **meta)

    return [
        check(
            "Fig 1 SVD: most ε negative at every rank",
            negative,
            svd,
            "% negative",
            0,
            (svd["% negative"] > 50).all(),
            "more than 50% of ε below 0 at every rank",
        ),
        check(
            "Fig 1 SVD: more decay with lower rank",
            negative,
            svd,
            "median",
            2,
            monotone(list(svd["median"]), increasing=False),
            "the median of ε falls strictly as the rank falls",
        ),
        check(
            "Fig 1 SVD: the error grows with compression",
            wider,
            svd,
            "rms error / rms w",
            2,
            monotone(list(svd["rms error / rms w"])),
            "rms(w' - w) / rms(w) rises strictly as the rank falls",
        ),
        check(
            "Fig 1 SVD: the spread of ε grows with compression",
            wider,
            svd,
            std,
            2,
            monotone(list(svd[std])),
            f"the std of ε inside ±{window:g} rises strictly as the rank falls",
        ),
        check(
            "Fig 1 quantization: the peak of ε is negative",
            negative,
            q,
            "mode",
            2,
            (q["mode"] < 0).all(),
            "the fullest histogram bin lies below 0 for every bit count",
        ),
        check(
            "Fig 1 quantization: most ε negative",
            negative,
            q,
            "% negative",
            0,
            (q["% negative"] > 50).all() and (q["median"] < 0).all(),
            "more than 50% of ε below 0 (median below 0) for every bit count",
        ),
        check(
            "Fig 1 quantization: the spread of ε grows with fewer bits",
            wider,
            q,
            std,
            2,
            monotone(list(q[std])),
            f"the std of ε inside ±{window:g} rises strictly as the bits fall",
        ),
    ]


def _fig17_claims(fig17: pd.DataFrame, ratio: int, meta: dict) -> list[Claim]:
    ratios = sorted(set(fig17["compression"]))
    ours = ", ".join(
        f"{t}: {r:g}x ({n:,} numbers)"
        for t, r, n in zip(fig17["tiling"], fig17["compression"], fig17["stored numbers"])
    )
    claim = f"Fig 17: the tilings compress {ratio}x"
    if ratios == [float(ratio)]:
        first = by_construction(
            claim,
            f"{ratio}x",
            ours,
            reason=f"the rank per tile is chosen as tile size / {2 * ratio} (a t x t tile at rank r stores 2tr "
            "numbers); the stored counts, read from the compressed factors, confirm it",
            **meta,
        )
    else:
        first = exact(
            claim, f"{ratio}x", ours, holds=False, reason=f"the stored counts give {ratios}, not {ratio}x", **meta
        )
    near, large = (
        [c for c in fig17.columns if c.startswith("% |w'| <")][0],
        [c for c in fig17.columns if c.startswith("% |w'| >")][0],
    )
    parts = {
        f"{near} rises": monotone(list(fig17[near])),
        f"{large} rises": monotone(list(fig17[large])),
        "the variance rises": monotone(list(fig17["variance"])),
    }
    fails = [k for k, ok in parts.items() if not ok]
    second = exact(
        "Fig 17: more tiles -> more near-zero and large weights (variance grows)",
        "more near-zero and large weights, variance increases",
        f"{near} {_fmt(fig17, 'tiling', near, 1)}; {large} {_fmt(fig17, 'tiling', large, 2)}; variance "
        f"{_fmt(fig17, 'tiling', 'variance', 4)}",
        holds=not fails,
        reason="strictly, with more tiles: "
        + ("; ".join(parts) + ": all hold" if not fails else "fails: " + "; ".join(fails)),
        **meta,
    )
    return [first, second]
