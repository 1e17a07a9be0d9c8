import math

import numpy as np
import torch

from freqlib import dctn, idctn, zigzag_mask
from freqlib.spectrum import psnr, truncate, zigzag_energy


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
