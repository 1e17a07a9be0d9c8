"""Coefficient masks of the four pruning strategies (Fig 1) and the FCMask of section 3.3.

A mask has shape (C, N): one row per input channel, one column per DCT coefficient of the
b x b macroblock (N = b*b) in zigzag order; True keeps the coefficient of that channel.
"""

from __future__ import annotations

import numpy as np
import torch

#: Fig 1 (a)-(d): channel, coefficient, channel-coefficient and channel-frequency band pruning.
STRATEGIES = ("channel", "coefficient", "channel_coefficient", "band")


def check_counts(counts, channels: int, num_coefs: int, name: str = "set_bands") -> torch.Tensor:
    """Validate band counts: an integer vector of length ``channels`` in [0, num_coefs]; int64 tensor."""
    counts = torch.as_tensor(counts)
    if counts.dim() != 1 or counts.numel() != channels:
        raise ValueError(
            f"{name}: counts must have length {channels} (one per input channel), got {tuple(counts.shape)}"
        )
    if counts.is_floating_point() or counts.is_complex() or counts.dtype == torch.bool:
        if counts.dtype == torch.bool or not torch.equal(counts, counts.round()):
            raise ValueError(f"{name}: counts must be integers, got dtype {counts.dtype}")
    counts = counts.to(torch.int64).cpu()
    if counts.numel() and (int(counts.min()) < 0 or int(counts.max()) > num_coefs):
        raise ValueError(
            f"{name}: counts must lie in [0, {num_coefs}] (block*block), got range "
            f"[{int(counts.min())}, {int(counts.max())}]"
        )
    return counts


def band_mask(counts: torch.Tensor, num_coefs: int) -> torch.Tensor:
    """(C, N) bool mask keeping the first ``counts[c]`` zigzag coefficients of channel c."""
    counts = torch.as_tensor(counts, dtype=torch.int64)
    return torch.arange(num_coefs, device=counts.device)[None, :] < counts[:, None]


def band_counts(mask: torch.Tensor) -> torch.Tensor | None:
    """Band counts of a (C, N) mask if every row is a low-frequency prefix, else None."""
    mask = mask.detach().cpu() != 0
    counts = mask.sum(1)
    return counts if torch.equal(band_mask(counts, mask.shape[1]), mask) else None


def coefficient_mask(fcmask: torch.Tensor, num_coefs: int) -> torch.Tensor:
    """Soft mask of section 3.3: coefmask[c, n] = clamp((FCMask[c] - n/N) * N, 0, 1), shape (C, N).

    Computed as ``clamp(FCMask * N - n, 0, 1)`` (the same value, exact at integers). A plain clamp
    as in Fig 2 (no straight-through): the gradient to FCMask is N times the gradient of the one
    coefficient inside its linear ramp; coefficients held at 0 or 1 pass none, and neither do the
    bounds themselves (``torch.clamp``), so at F*N integral (e.g. the initial F = 1) only the
    penalty moves F.
    """
    n = torch.arange(num_coefs, dtype=fcmask.dtype, device=fcmask.device)
    return torch.clamp(fcmask[:, None] * num_coefs - n[None, :], 0.0, 1.0)


def round_fcmask(fcmask: torch.Tensor, num_coefs: int) -> torch.Tensor:
    """Band counts after rounding every coefficient mask to 0 or 1 (half up): floor(F*N + 1/2) in [0, N]."""
    counts = torch.floor(fcmask.detach().to(torch.float64) * num_coefs + 0.5)
    return counts.clamp(0, num_coefs).to(torch.int64).cpu()


def _top(values: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask of the k largest entries of a 1-d tensor (ties: lower index first)."""
    order = torch.sort(-values.to(torch.float64), stable=True).indices
    keep = torch.zeros(values.numel(), dtype=torch.bool)
    keep[order[:k]] = True
    return keep


def default_scores(channels: int, num_coefs: int) -> torch.Tensor:
    """Scores preferring low frequencies, then low channel indices: (C, N) float64."""
    n = torch.arange(num_coefs, dtype=torch.float64)[None, :]
    c = torch.arange(channels, dtype=torch.float64)[:, None]
    return -(n + c / (channels * num_coefs + 1))


def strategy_mask(
    strategy: str,
    channels: int,
    block: int,
    keep_fraction: float,
    scores: torch.Tensor | None = None,
) -> torch.Tensor:
    """(C, b*b) bool mask of one Fig 1 strategy keeping about ``keep_fraction`` of the entries.

    ``scores`` (C, N), higher = more important (e.g. mean |coefficient| from profiling; default
    :func:`default_scores`). ``channel`` keeps the round(f*C) channels of highest total score,
    ``coefficient`` the round(f*N) coefficients of highest total score (same for all channels),
    ``channel_coefficient`` the round(f*C*N) highest entries, and ``band`` round(f*C*N) entries as
    per-channel low-frequency prefixes: entry (c, n) is ranked by min(scores[c, :n+1]), so a
    coefficient is only kept with all lower ones.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy_mask: unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    if not 0.0 <= float(keep_fraction) <= 1.0:
        raise ValueError(f"strategy_mask: keep_fraction must be in [0, 1], got {keep_fraction!r}")
    num = block * block
    s = default_scores(channels, num) if scores is None else torch.as_tensor(scores, dtype=torch.float64).cpu()
    if tuple(s.shape) != (channels, num):
        raise ValueError(f"strategy_mask: scores must have shape {(channels, num)}, got {tuple(s.shape)}")
    f = float(keep_fraction)
    if strategy == "channel":
        return _top(s.sum(1), round(f * channels))[:, None].expand(channels, num).clone()
    if strategy == "coefficient":
        return _top(s.sum(0), round(f * num))[None, :].expand(channels, num).clone()
    k = round(f * channels * num)
    if strategy == "channel_coefficient":
        return _top(s.reshape(-1), k).reshape(channels, num)
    prefix_min = torch.cummin(s, dim=1).values
    c_idx, n_idx = np.indices((channels, num)).reshape(2, -1)
    order = np.lexsort((c_idx, n_idx, -prefix_min.numpy().reshape(-1)))  # last key is primary
    keep = torch.zeros(channels * num, dtype=torch.bool)
    keep[torch.from_numpy(order[:k])] = True
    return keep.reshape(channels, num)
