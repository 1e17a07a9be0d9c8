"""Looking at spectra: truncation to the first k zigzag coefficients and energy in zigzag order."""

from __future__ import annotations

import math

import numpy as np
import torch

from .dct import dctn, idctn
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
