"""Looking at spectra: truncation to the first k zigzag coefficients, energy in zigzag order, and
how a model's weights spread their energy over frequency."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from .dct import dctn, idctn
from .fr import SUPPORTED_LAYERS
from .zigzag import zigzag_mask, zigzag_order


def truncate(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` rebuilt from the first ``k`` zigzag coefficients of its DCT (all dims). Same shape."""
    mask = zigzag_mask(tuple(x.shape), k, box=tuple(x.shape)).to(device=x.device, dtype=x.dtype)
    return idctn(dctn(x) * mask)


def zigzag_energy(x: torch.Tensor) -> np.ndarray:
    """Cumulative fraction of ``x``'s energy held by its first 1, 2, ..., numel zigzag coefficients.

    The DCT is orthonormal, so the energy (sum of squares) of the spectrum equals that of ``x``.
    Returns a float64 array of length ``x.numel()`` ending at 1.0.
    """
    spectrum = dctn(x.detach().double().cpu()).reshape(-1)
    energy = spectrum[zigzag_order(tuple(x.shape))].pow(2).cumsum(0)
    return (energy / energy[-1]).numpy()


def psnr(x: torch.Tensor, reference: torch.Tensor, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio of ``x`` against ``reference`` in dB (inf when equal)."""
    mse = float((x.double() - reference.double()).pow(2).mean())
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def energy_density(x: torch.Tensor, edges: Sequence[float]) -> np.ndarray:
    """Energy per coefficient of ``x``'s spectrum in bands of zigzag position, relative to a flat spectrum.

    The coefficient at zigzag rank ``i`` (0-based) of ``n`` sits at position ``(i + 1) / n`` in (0, 1];
    band ``b`` holds the positions in ``(edges[b], edges[b + 1]]``. The value is the band's share of
    the energy divided by its share of the coefficients: 1 everywhere for white noise (an i.i.d.
    random weight), above 1 where energy concentrates. Bands without coefficients give NaN.
    Returns ``len(edges) - 1`` float64 values.
    """
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be an increasing sequence of at least 2 numbers, got {edges!r}")
    cumulative = np.concatenate([[0.0], zigzag_energy(x)])
    n = x.numel()
    counts = np.clip(np.floor(edges * n + 1e-9), 0, n).astype(np.int64)  # coefficients at positions <= edge
    energy, share = np.diff(cumulative[counts]), np.diff(counts) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(share > 0, energy / share, np.nan)


def energy_profile(model: nn.Module, fractions: Sequence[float] = (0.001, 0.01, 0.1)) -> pd.DataFrame:
    """Per weight of ``model`` (every Conv/ConvTranspose/Linear, FR or dense; the spatial weight the
    layer uses): the share of its energy in the first ``f`` of its zigzag-ordered DCT coefficients,
    for each ``f`` in ``fractions`` (at least one coefficient). For white noise the share is ``f``.

    Index: weight names; columns: "numel" and "energy in first {f:.1%}" as fractions in [0, 1].
    """
    rows = {}
    for name, module in model.named_modules():
        if isinstance(module, SUPPORTED_LAYERS):
            weight = module.weight.detach()
            cumulative = zigzag_energy(weight)
            row = {"numel": weight.numel()}
            for f in fractions:
                row[f"energy in first {f:.1%}"] = float(cumulative[max(1, round(f * weight.numel())) - 1])
            rows[f"{name}.weight" if name else "weight"] = row
    if not rows:
        raise ValueError("energy_profile: the model has no Conv/ConvTranspose/Linear weight")
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("weight")
