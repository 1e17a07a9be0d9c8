"""The chapter "DCT and zigzag, seen": how much energy a zigzag prefix of the DCT holds, whether
freqlib's zigzag order is the authors' (``frereg`` 0.1.0), and the chapter's claims (all exact: no
training, fixed pictures and seeded noise)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ...claims import Claim, exact
from ...zigzag import zigzag_order

#: How many times a white-noise signal's share the image's zigzag prefix must hold, besides most of the
#: energy, for the premise to hold (our reading of "high frequency components ... less critical").
NOISE_FACTOR = 10.0


def prefix_energy(curve: Sequence[float] | np.ndarray, fraction: float) -> float:
    """The share of the energy in the first ``fraction`` of the coefficients (at least one), read off a
    cumulative curve of :func:`freqlib.spectrum.zigzag_energy` (shares, length = number of coefficients)."""
    k = max(1, round(fraction * len(curve)))
    return float(curve[k - 1])


def frereg_matches(shape: Sequence[int] = (6, 5, 3, 3)) -> bool | None:
    """Whether ``frereg``'s ZMAT ranks of a convolution weight of ``shape`` equal freqlib's zigzag ranks
    element by element; None when ``frereg`` is not installed."""
    try:
        from frereg._freqreg_eva import ZIdx2Int, getZIdx_4d
    except ImportError:
        return None
    shape = tuple(shape)
    zmat = ZIdx2Int(getZIdx_4d(torch.empty(shape))).reshape(-1).long()
    ours = torch.empty(math.prod(shape), dtype=torch.long)
    ours[zigzag_order(shape)] = torch.arange(math.prod(shape))
    return bool(torch.equal(zmat, ours))


def claims(
    photo_energy: float,
    noise_energy: float,
    frereg_match: bool | None,
    *,
    fraction: float,
    profile: str,
    data: str,
) -> list[Claim]:
    """The chapter's claims. ``photo_energy`` / ``noise_energy``: the shares of the energy (fractions)
    that the first ``fraction`` of the zigzag coefficients hold for the photograph (mean removed) and
    for white noise of its size (:func:`prefix_energy`); ``frereg_match``: :func:`frereg_matches` (no
    row when None); ``data``: the photograph's label. The premise holds when the photograph's prefix
    holds most of its energy (over half) and :data:`NOISE_FACTOR` times the noise's share."""
    most, ahead = photo_energy > 0.5, photo_energy > NOISE_FACTOR * noise_energy
    rows = [
        exact(
            "FR premise: a zigzag prefix of the DCT holds most of a natural image's energy",
            "qualitative (FR abstract: high frequency components of images are less critical)",
            f"{fraction:.0%} of coefficients: {photo_energy:.1%} of the photo's energy vs {noise_energy:.1%} of "
            "white noise's",
            holds=most and ahead,
            reason=f"the photograph's first {fraction:.0%} holds {photo_energy:.1%} of its energy "
            f"({'over' if most else 'not over'} half) and {photo_energy / noise_energy:.3g}x white noise's share "
            f"({'at least' if ahead else 'under'} {NOISE_FACTOR:g}x)"
            if noise_energy > 0
            else f"white noise's prefix holds no energy; the photograph's {photo_energy:.1%}",
            profile=profile,
            data=data,
            source="FR abstract",
        )
    ]
    if frereg_match is not None:
        rows.append(
            exact(
                "Zigzag order equals the authors' frereg 0.1.0 (ZMAT)",
                "frereg's order",
                "identical ranks" if frereg_match else "ranks differ",
                holds=frereg_match,
                reason="ZMAT of a convolution weight compared with freqlib.zigzag_order element by "
                f"element: {'equal' if frereg_match else 'different'}",
                profile=profile,
                data="none (index order)",
                source="frereg 0.1.0",
            )
        )
    return rows
