import math

import numpy as np
import pytest
import torch

from freqlib import dctn, frequency_regularize, idctn, zigzag_mask, zigzag_order
from freqlib.models import LeNet5
from freqlib.spectrum import energy_density, energy_profile, psnr, truncate, zigzag_energy


def test_truncate_is_masked_inverse_and_exact_at_full_keep():
    x = torch.randn(6, 7, 3, dtype=torch.float64)
    torch.testing.assert_close(truncate(x, x.numel()), x)
    mask = zigzag_mask(x.shape, 17, box=x.shape).double()
    torch.testing.assert_close(truncate(x, 17), idctn(dctn(x) * mask))
    assert torch.count_nonzero(dctn(truncate(x, 17)).abs() > 1e-12) == 17


def test_zigzag_energy_is_monotone_and_ends_at_one():
    x = torch.randn(9, 11)
    e = zigzag_energy(x)
    assert e.shape == (99,) and np.all(np.diff(e) >= 0) and math.isclose(e[-1], 1.0)
    # a constant image has all its energy in the first (DC) coefficient
    np.testing.assert_allclose(zigzag_energy(torch.ones(5, 5))[0], 1.0)


def test_psnr():
    ref = torch.zeros(4, 4)
    assert psnr(ref, ref) == math.inf
    assert math.isclose(psnr(ref + 0.1, ref), 20.0, rel_tol=1e-6)  # 0.1 is inexact in float32


def test_energy_density_against_brute_force():
    torch.manual_seed(0)
    x = torch.randn(6, 10, dtype=torch.float64)
    edges = [0.0, 0.05, 0.2, 0.5, 1.0]
    coeffs = dctn(x).reshape(-1)[zigzag_order(x.shape)]
    energy = coeffs.pow(2) / coeffs.pow(2).sum()
    pos = (torch.arange(60, dtype=torch.float64) + 1) / 60
    expected = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (pos > lo) & (pos <= hi + 1e-12)
        expected.append(float(energy[sel].sum() / (sel.sum() / 60)))
    np.testing.assert_allclose(energy_density(x, edges), expected, rtol=1e-6)
    # a constant tensor: all energy in the DC coefficient (first band); bands too thin are NaN
    flat = energy_density(torch.ones(10, 10), [0.0, 0.001, 0.01, 1.0])
    assert math.isnan(flat[0]) and flat[1] == 100.0 and flat[2] == 0.0


def test_energy_density_rejects_bad_edges():
    with pytest.raises(ValueError, match="increasing"):
        energy_density(torch.ones(3), [0.5, 0.1])


def test_energy_profile_of_fr_model_holds_all_energy_in_kept_prefix():
    model = frequency_regularize(LeNet5(), {"fc1.weight": 400, "*": 1.0}, min_keep=0)
    profile = energy_profile(model, fractions=(0.001, 0.5))
    assert list(profile.index) == ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]
    assert profile.loc["fc1.weight", "numel"] == 400_000
    assert profile.loc["fc1.weight", "energy in first 0.1%"] == pytest.approx(1.0)  # 400 = 0.1% of 400,000
    plain = LeNet5()
    w = plain.conv2.weight.detach()
    assert energy_profile(plain).loc["conv2.weight", "energy in first 10.0%"] == pytest.approx(zigzag_energy(w)[2499])
