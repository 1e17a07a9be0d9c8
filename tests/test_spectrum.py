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


# --- the chapter's experiment (freqlib.experiments.fr.spectrum) ------------------------------------


def test_run_on_a_tiny_config():
    from freqlib.experiments.fr import spectrum
    from freqlib.train import evaluate

    cfg = spectrum.Config(families=("vae",), train_subset=64, test_subset=40, batch_size=32, keep_totals=(776, 3000))
    result = spectrum.run(cfg, progress=False)
    assert result.table("data")[["train", "test"]].values.tolist() == [[64, 40]]
    assert result.table("data").label.iloc[0].startswith("stand-in: Fashion-MNIST instead of MNIST; subset: 64 of")
    dense, fr = result.objects["dense"], result.objects["fr"]
    assert result.table("dense").values.tolist() == [[430_500, evaluate(dense, _test(cfg))]]
    truncation = result.table("truncation")
    assert truncation.budget.tolist() == [776, 3000]
    assert truncation["FR trained"].tolist() == [evaluate(fr[776], _test(cfg)), evaluate(fr[3000], _test(cfg))]
    energy = result.table("energy")
    assert list(energy.index.get_level_values(0).unique()) == ["initial", "dense trained", "FR 776", "FR 3000"]
    assert energy.loc[("FR 776", "fc1.weight"), "% energy in first 0.1%"] == 100.0  # 264 of 400,000 coefficients
    figure = result.figures["energy"]
    assert list(figure) == ["conv1", "conv2", "fc1", "fc2"] and figure["fc1"]["numel"] == 400_000
    assert list(figure["conv1"]["density"]) == ["initial", "dense trained", "dense update", "FR 3000 trained"]
    assert all(len(d) == cfg.bands for d in figure["fc2"]["density"].values())
    quality = result.table("quality")
    assert (quality.family == "vae").all() and quality["relative quality"].iloc[0] == 1.0  # the dense row
    (base,) = result.baselines
    assert base.value == result.table("dense").accuracy.iloc[0] and base.target == 0.85
    assert [c.kind for c in spectrum.claims(result, cfg)] == ["trained", "trained"]
    assert len(spectrum.plot_energy(result, cfg).axes) == 4 and len(spectrum.plot_quality(result, cfg).axes) == 1


def _test(cfg):
    from freqlib.experiments.fr import lenet5

    return lenet5.load_data(cfg.data, train_subset=cfg.train_subset, test_subset=cfg.test_subset)[1]


def test_spectrum_run_rejects_bad_arguments():
    from freqlib.experiment import ConfigError
    from freqlib.experiments.fr import spectrum

    with pytest.raises(ValueError, match="results_source must be"):
        spectrum.run(spectrum.Config(results_source="book"))
    with pytest.raises(ValueError, match="no convergence target for data set 'kmnist'"):
        spectrum.run(spectrum.Config(data="kmnist"))
    with pytest.raises(ValueError, match="keep_totals"):
        spectrum.run(spectrum.Config(keep_totals=()))
    with pytest.raises(ConfigError, match=r"Config \(spectrum\): profile 'cpu' sets unknown parameter\(s\) 'band'"):
        spectrum.Config.for_profile("cpu", {"band": 3})
    assert spectrum.Config.for_profile("cpu").results_source == "executed"  # notebooks/profiles.yml
