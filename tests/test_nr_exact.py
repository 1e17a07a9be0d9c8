"""NR-period paper: layer inventories (Tables 7-9) and the weight-noise figures (Figs 1, 17)."""

import pytest
import torch
from torch import nn

from freqlib import noise, nr_tables
from freqlib.experiment import ConfigError
from freqlib.experiments.nr import architectures
from freqlib.models.resnet_cifar import resnet32_cifar
from freqlib.models.vgg19 import vgg19_cifar
from freqlib.occasional import binary_quantize, low_rank

STRUCTURE = ["layers", "T", "S", "d", "decomposed"]


def _body(cmp):
    return cmp[cmp["row"] != "Total"]


def test_resnet32_architecture():
    model = resnet32_cifar()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 31 and all(c.kernel_size == (3, 3) for c in convs)  # option A: no 1x1 projections
    assert sum(c.weight.numel() for c in convs) == 461_232
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_vgg19_architecture():
    model = vgg19_cifar()
    weights = [m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(weights) == 19 and sum(weights) == 20_548_288
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_table7_reproduced_exactly():
    cmp = nr_tables.compare(7)
    assert (cmp["status"] == "match").all(), cmp
    assert nr_tables.inventory(7)["weights"].sum() == 461_232


def test_table8_rows_and_known_misprints():
    cmp = nr_tables.compare(8)
    status = dict(zip(cmp["row"], cmp["status"]))
    # row 8: seven 3x3 convs under the printed "FC" label; row 10: Linear(512, 10) printed T=512, S=10;
    # total: 19.597M is the sum of the rounded rows, the exact total is 19.596M (20,548,288 weights).
    assert status == {
        **{i: "match" for i in range(1, 11)},
        8: "differs: type",
        10: "differs: T, S",
        "Total": "differs: weight_size",
    }
    body = _body(cmp)
    assert (body["weight_size"] == body["paper weight_size"]).all()
    assert (body["percent"] == body["paper percent"]).all()
    arithmetic = nr_tables.paper_arithmetic(8)
    assert arithmetic["rows add up"] and not arithmetic["exact total rounds to printed"]


def test_table9_structure_and_printed_rounding():
    cmp = nr_tables.compare(9)
    body = _body(cmp)
    for field in STRUCTURE:
        assert (body[field] == body[f"paper {field}"]).all(), field
    differs = body[body["weight_size"] != body["paper weight_size"]]
    assert list(differs["row"]) == [6] and list(differs["weights"]) == [6_488_064]  # 6.1875M printed 6.18M
    total = cmp[cmp["row"] == "Total"].iloc[0]
    assert (total["paper weight_size"], total["weight_size"], total["weights"]) == ("20.11M", "20.12M", 21_095_616)
    arithmetic = nr_tables.paper_arithmetic(9)
    assert arithmetic["rows add up"]  # 20.11 = sum of the printed rows
    assert arithmetic["percent rows reproduced"]["exact sizes / printed total"] == "7/8"


def test_architectures_run():
    cfg = architectures.Config.for_profile("cpu")
    result = architectures.run(cfg)
    overview = result.table("overview")
    assert overview.index.tolist() == [7, 8, 9] and overview.loc[7, "rows"] == "7/7 match (total row included)"
    assert overview.loc[8, "differing"] == "row 8: type; row 10: T, S; row Total: weight_size"
    for t, rows in [(7, 6), (8, 10), (9, 8)]:
        assert len(result.table(f"table {t}")) == rows + 1 and len(result.table(f"layers {t}")) == rows
        arithmetic = dict(result.table(f"arithmetic {t}").values.tolist())
        assert arithmetic["rows add up"] == "True"
    assert dict(result.table("arithmetic 9").values)["percent rows reproduced: exact sizes / printed total"] == "7/8"
    assert result.table("layers 8")["our layers"].iloc[-2] == "classifier.1 … classifier.4"
    omitted = result.table("resnet-34 omitted")
    assert omitted.weights.tolist() == [8192, 32768, 131072] and omitted["shape"].iloc[0] == "(128, 64, 1, 1)"
    shares = dict(result.table("resnet-34 shares").values)
    assert shares["the 33 listed: weights"] == "21,095,616 (99.19%)"
    claims = architectures.claims(result, cfg)
    assert len(claims) == 6 and {c.profile for c in claims} == {"cpu"}
    with pytest.raises(ConfigError, match="unknown parameter"):
        architectures.Config.for_profile("smoke", {"tables": [7]})


def test_units_are_binary():
    assert nr_tables.format_like(nr_tables.Fraction(23_040, 1024), 1, "K") == "22.5K"
    assert nr_tables.format_like(nr_tables.Fraction(1_179_648, 2**20), 2, "M") == "1.13M"  # 1.125 half up


def test_fig1_full_rank_epsilon_is_zero():
    w = noise.gaussian_matrix(64, seed=1, dtype=torch.float64)
    eps = noise.epsilon(w, low_rank(64)(w))
    assert eps.abs().max() < 1e-8


def test_fig1_table_svd_equals_low_rank_transform():
    w = noise.gaussian_matrix(48, seed=2)
    eps, table = noise.noise_table(w, [12], [1])
    torch.testing.assert_close(eps["R = 12"], noise.epsilon(w, low_rank(12)(w)), atol=1e-4, rtol=1e-4)
    assert list(table["setting"]) == ["R = 12", "Q = 1"]


def test_fig1_one_bit_epsilon_closed_form():
    w = noise.gaussian_matrix(32, 40, seed=3, dtype=torch.float64)
    eps = noise.epsilon(w, binary_quantize(1)(w))
    torch.testing.assert_close(eps, noise.one_bit_epsilon(w))
    alpha = w.abs().mean(dim=1, keepdim=True)
    torch.testing.assert_close(eps, (alpha / w.abs() - 1).flatten())


@pytest.mark.parametrize(("tiles", "size", "rank"), [(1, 1024, 128), (16, 64, 8), (128, 8, 1)])
def test_fig17_tiled_svd_is_4x(tiles, size, rank):
    assert noise.tiling(1024, tiles) == (size, rank)
    w = noise.gaussian_matrix(1024)
    wc, stored = noise.tiled_svd(w, size, rank)
    assert wc.shape == w.shape and w.numel() / stored == 4.0


def test_tiling_rejects_fractional_rank():
    with pytest.raises(ValueError):
        noise.tiling(256, 128)
