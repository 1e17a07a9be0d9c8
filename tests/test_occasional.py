"""freqlib.occasional: transforms against independent references, the NR-period logic, FR layers,
DDP, and export of the compressed structures."""

import math
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import freqlib
from freqlib import occasional as occ
from freqlib.zigzag import keep_count, zigzag_mask

ROOT = Path(__file__).resolve().parents[1]


def gaussian(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def small_net(bias=True):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 6, 3, padding=1, bias=bias),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 10),
    )


# ------------------------------------------------------------------ transforms


@pytest.mark.parametrize("shape", [(12, 20), (6, 4, 3, 3)])
def test_low_rank_matches_eckart_young(shape):
    w = gaussian(*shape)
    out = occ.low_rank(3)(w)
    m = w.reshape(shape[0], -1).numpy().astype(np.float64)
    s = np.linalg.svd(m, compute_uv=False)
    err = np.linalg.norm(m - out.reshape(shape[0], -1).numpy())
    assert out.shape == w.shape and out.dtype == w.dtype
    assert err == pytest.approx(np.sqrt(np.sum(s[3:] ** 2)), rel=1e-4)
    assert np.linalg.matrix_rank(out.reshape(shape[0], -1).numpy().astype(np.float64), tol=1e-4) == 3
    assert torch.allclose(occ.low_rank(50)(w), w, atol=1e-5)  # rank above min(m, n): exact


def _binary_error(w, bits, iters=2):
    return (occ.binary_quantize(bits, iters)(w) - w).norm().item()


def test_binary_quantize_error_falls_with_bits_and_one_bit_closed_form():
    w = gaussian(16, 64)
    errors = [_binary_error(w, b) for b in (1, 2, 3, 4)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    for b in (2, 3):  # the alternating refinement never loses to the greedy start
        assert _binary_error(w, b) <= _binary_error(w, b, iters=0) + 1e-6
    c = occ.binary_quantize(1).compress(w)
    alpha, sign = w.abs().mean(1), torch.where(w >= 0, 1.0, -1.0)
    assert torch.allclose(c.scales[:, 0], alpha) and torch.equal(c.codes[:, 0].float(), sign)
    assert torch.allclose(occ.binary_quantize(1)(w), alpha[:, None] * sign)


def test_binary_quantize_codes_rows_and_nearest_levels():
    w = gaussian(5, 4, 3, 3)
    c = occ.binary_quantize(3).compress(w)
    assert c.scales.shape == (5, 3) and c.codes.shape == (5, 3, 36)  # rows = output channels
    assert set(c.codes.unique().tolist()) <= {-1, 1}
    # given the final scales, each entry sits at (or ties with) its nearest of the 2^3 levels
    signs = torch.tensor([[a, b, d] for a in (-1, 1) for b in (-1, 1) for d in (-1, 1)], dtype=torch.float32)
    levels = c.scales @ signs.T  # (rows, 8)
    m = w.reshape(5, -1)
    best = (m[:, :, None] - levels[:, None, :]).abs().min(-1).values
    codes_levels = (c.scales[:, :, None] * c.codes.float()).sum(1)
    # the final least-squares refit moves the levels slightly; the codes stay near-optimal
    assert ((m - codes_levels).abs() - best).max() < 0.2


def test_tucker2_mode_ranks_rounding_and_full_rank_recovery():
    w = gaussian(8, 6, 3, 3)
    tr = occ.tucker2(0.5)
    assert tr.ranks_for((8, 6, 3, 3)) == (4, 3)
    assert occ.tucker2(0.3).ranks_for((16, 10, 3, 3)) == (5, 3)  # 4.8 -> 5, 3.0 -> 3
    assert occ.tucker2(0.25).ranks_for((10, 6, 1, 1)) == (3, 2)  # 2.5 -> 3 (half up), 1.5 -> 2
    assert occ.tucker2(0.01).ranks_for((8, 6, 3, 3)) == (1, 1)  # at least 1
    assert occ.tucker2(ranks=(9, 5)).ranks_for((10, 4)) == (4, 4)  # capped by the unfoldings' ranks
    out = tr(w).double()
    assert torch.linalg.matrix_rank(out.reshape(8, -1), atol=1e-4) == 4
    assert torch.linalg.matrix_rank(out.movedim(1, 0).reshape(6, -1), atol=1e-4) == 3
    assert torch.allclose(occ.tucker2(1.0)(w), w, atol=1e-5)
    hosvd, hooi = (occ.tucker2(0.5, iters=i)(w) for i in (0, 3))
    assert (hooi - w).norm() <= (hosvd - w).norm() + 1e-6
    c = tr.compress(w)
    assert c.core.shape == (4, 3, 3, 3) and torch.allclose(c.p_t.T @ c.p_t, torch.eye(4), atol=1e-5)
    lin = gaussian(10, 7)  # a Linear: P_t core P_s^T, of rank <= min(R_t, R_s)
    assert torch.linalg.matrix_rank(occ.tucker2(ranks=(3, 2))(lin), atol=1e-4) == 2
    assert tr.stored_numbers((8, 6, 3, 3)) == c.core.numel() + c.p_t.numel() + c.p_s.numel() == 6 * 3 + 9 * 12 + 8 * 4


def test_tucker2_ratio_is_a_deprecated_alias_of_rank_fraction():
    with pytest.warns(DeprecationWarning, match="rank_fraction"):
        old = occ.tucker2(ratio=0.5)
    assert old.rank_fraction == 0.5 and old.ranks_for((8, 6, 3, 3)) == occ.tucker2(0.5).ranks_for((8, 6, 3, 3))
    with pytest.warns(DeprecationWarning, match="rank_fraction"):
        assert occ.Tucker2Transform(ratio=0.25).rank_fraction == 0.25
    with pytest.warns(DeprecationWarning, match="rank_fraction"):
        assert old.ratio == 0.5
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="not also its deprecated alias"):
        occ.tucker2(0.5, ratio=0.5)


def test_magnitude_prune_exact_fraction_keeps_largest():
    w = gaussian(10, 10)
    out = occ.magnitude_prune(0.37)(w)
    zeros = out == 0
    assert int(zeros.sum()) == 37 and torch.equal(out[~zeros], w[~zeros])
    assert w[~zeros].abs().min() >= w[zeros].abs().max()
    ties = torch.ones(7, 3)
    assert int((occ.magnitude_prune(0.5)(ties) == 0).sum()) == round(0.5 * 21 + 0.5)  # 10.5 -> 11
    schedule = occ.magnitude_prune(lambda t: 0.1 * t)
    assert int((schedule(w, step=3) == 0).sum()) == 30
    assert torch.equal(occ.magnitude_prune(0.0)(w), w)


def test_gradual_rate_is_eq5():
    args = dict(p_i=0.25, p_f=0.9, t_i=8000, t_f=12000, E=7)
    assert occ.gradual_rate(7999, **args) == 0.0  # pruning starts at t_i
    assert occ.gradual_rate(8000, **args) == pytest.approx(0.25)
    assert occ.gradual_rate(10000, **args) == pytest.approx(0.9 - 0.65 / 128)  # (1 - 1/2)^7
    assert occ.gradual_rate(9000, **args) == pytest.approx(0.9 - 0.65 * 0.75**7)
    assert occ.gradual_rate(12000, **args) == pytest.approx(0.9)
    assert occ.gradual_rate(20000, **args) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="t_f must be > t_i"):
        occ.gradual_rate(0, 0.0, 0.5, 10, 10, 3)
    with pytest.raises(ValueError, match=r"p_f must be in \[0.0, 1.0\)"):
        occ.gradual_rate(0, 0.0, 1.0, 0, 10, 3)


def test_tiled_low_rank_per_tile_eckart_young():
    w = gaussian(10, 14)
    out = occ.tiled_low_rank(4, 2)(w)
    total = 0.0
    for i in range(0, 10, 4):
        for j in range(0, 14, 4):
            block, approx = w[i : i + 4, j : j + 4].double().numpy(), out[i : i + 4, j : j + 4].double().numpy()
            s = np.linalg.svd(block, compute_uv=False)
            assert np.linalg.matrix_rank(approx, tol=1e-4) <= 2
            assert np.linalg.norm(block - approx) == pytest.approx(np.sqrt(np.sum(s[2:] ** 2)), rel=1e-4, abs=1e-5)
            total += np.sum(s[2:] ** 2)
    assert (out - w).norm().item() == pytest.approx(math.sqrt(total), rel=1e-4)
    c = occ.tiled_low_rank((5, 7), 1).compress(gaussian(4, 2, 3, 3))  # lowered 4 x 18
    assert [(i, j) for i, j, _, _ in c.tiles()] == [(0, 0), (0, 7), (0, 14)]
    assert [tuple(left.shape) for _, _, left, _ in c.tiles()] == [(4, 1), (4, 1), (4, 1)]
    assert len(occ.tiled_low_rank(4, 2).compress(w).tiles()) == 3 * 4


def test_frequency_truncate_is_fr_projection_and_idempotent():
    w = gaussian(6, 4, 3, 3)
    tr = occ.frequency_truncate(0.1)
    k = keep_count(w.numel(), 0.1, min_keep=0, kind="other")
    expected = freqlib.idctn(zigzag_mask(w.shape, k, box=w.shape).float() * freqlib.dctn(w))
    out = tr(w)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(tr(out), out, atol=1e-6)
    assert tr.compress(w).coefficients.shape == (k,)


def test_weight_decay_and_uniform_noise():
    w = gaussian(4, 5)
    assert torch.allclose(occ.weight_decay(0.1)(w), 0.9 * w)
    assert torch.allclose(occ.weight_decay(0.1, lr=0.5)(w), 0.95 * w)
    noise = occ.uniform_noise(0.2, seed=3)
    a = noise(w, step=5, index=1)
    assert torch.equal(a, occ.uniform_noise(0.2, seed=3)(w, step=5, index=1))  # reproducible
    assert not torch.equal(a, noise(w, step=6, index=1)) and not torch.equal(a, noise(w, step=5, index=2))
    ratio = a / w  # multiplicative: w' = (1 - theta) w, theta ~ U(-a, a)
    assert ((ratio - 1).abs() <= 0.2 + 1e-6).all() and (ratio - 1).abs().max() > 0.1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: occ.OccasionalRegularizer(small_net(), occ.low_rank(1), 0), "period must be a positive int, got 0"),
        (lambda: occ.OccasionalRegularizer(small_net(), occ.low_rank(1), 2, start=-1), "start must be an int >= 0"),
        (lambda: occ.low_rank(0), "rank must be a positive int, got 0"),
        (lambda: occ.binary_quantize(0), "bits must be a positive int, got 0"),
        (lambda: occ.magnitude_prune(1.0), r"rate must be in \[0.0, 1.0\)"),
        (lambda: occ.magnitude_prune(lambda t: 1.5)(torch.ones(3)), r"rate must be in \[0.0, 1.0\)"),
        (lambda: occ.tiled_low_rank(0, 2), "tile must be a positive int"),
        (lambda: occ.tucker2(0.0), r"rank_fraction must be in \(0, 1\]"),
        (lambda: occ.tucker2(0.5)(torch.ones(4)), "at least 2 dims"),
        (lambda: occ.uniform_noise(-1.0), r"a must be in \[0.0, inf\]"),
        (lambda: occ.frequency_truncate(0.0)(torch.ones(4, 4)), r"keep rate must be in \(0, 1\]"),
        (lambda: occ.OccasionalRegularizer(small_net(), occ.low_rank(1), 1, modules=["nope"]), "names no module"),
        (lambda: occ.OccasionalRegularizer(nn.ReLU(), occ.low_rank(1), 1), "no Linear, Conv or LSTM weight"),
    ],
)
def test_bad_input_names_the_parameter(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------------------------ the regularizer


def test_period_start_stop_and_history_for_weight_decay():
    model = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    reg = occ.OccasionalRegularizer(model, occ.weight_decay(0.5), 3)
    applied = [t for t in range(1, 11) if reg.step()]
    assert applied == [3, 6, 9] and [r["step"] for r in reg.history] == [3, 6, 9]
    assert [r["e_w"] for r in reg.history] == pytest.approx([1.0, 0.5, 0.25])  # 2 -> 1 -> 0.5 -> 0.25
    assert reg.history[0]["per_weight"] == {"weight": pytest.approx(1.0)}
    assert torch.allclose(model.weight, torch.full((2, 3), 0.25))
    ranged = occ.OccasionalRegularizer(nn.Linear(2, 2), occ.weight_decay(0.1), 3, start=4, stop=12)
    assert [t for t in range(1, 16) if ranged.step()] == [6, 9]  # start inclusive, stop exclusive
    state = reg.state_dict()
    fresh = occ.OccasionalRegularizer(model, occ.weight_decay(0.5), 3)
    fresh.load_state_dict(state)
    assert fresh.step_count == 10 and len(fresh.history) == 3 and fresh.step() is False and fresh.step() is True


def test_history_overall_mean_is_numel_weighted():
    model = nn.Sequential(nn.Linear(4, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[1].weight.fill_(4.0)
    reg = occ.OccasionalRegularizer(model, occ.weight_decay(0.5), 1)
    record = reg.apply()
    assert record["per_weight"] == {"0.weight": pytest.approx(0.5), "1.weight": pytest.approx(2.0)}
    assert record["e_w"] == pytest.approx((8 * 0.5 + 2 * 2.0) / 10)
    assert record["delta_w"] == pytest.approx((8 * 0.25 + 2 * 4.0) / 10)
    plain = occ.OccasionalRegularizer(model, lambda w: torch.zeros_like(w), 1)  # any callable works
    assert plain.apply()["e_w"] == pytest.approx((8 * 0.5 + 2 * 2.0) / 10) and not plain.compressed
    frame = reg.history_frame()
    assert list(frame.columns) == ["step", "weight", "e_w"] and len(frame) == 2


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.up = nn.ConvTranspose1d(4, 2, 2)
        self.norm = nn.BatchNorm1d(2)
        self.lstm = nn.LSTM(2, 3, num_layers=2)
        self.head = nn.Linear(3, 5)

    def forward(self, tokens):  # tokens (N, L)
        x = self.conv(self.emb(tokens).transpose(1, 2))
        x = self.norm(self.up(x)).permute(2, 0, 1)  # (L', N, 2)
        return self.head(self.lstm(x)[0])


def test_default_and_explicit_selection():
    model = Mixed()
    names = occ.OccasionalRegularizer(model, occ.low_rank(1), 1).names
    assert names == [
        "conv.weight",
        "up.weight",
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.weight_ih_l1",
        "lstm.weight_hh_l1",
        "head.weight",
    ]
    explicit = occ.OccasionalRegularizer(model, occ.low_rank(1), 1, modules=[model.head, "emb", "lstm.weight_hh_l1"])
    assert explicit.names == ["emb.weight", "lstm.weight_hh_l1", "head.weight"]
    ddp_like = nn.DataParallel(model)  # unwrapped like DDP
    assert occ.OccasionalRegularizer(ddp_like, occ.low_rank(1), 1).names == names


def test_lstm_weights_are_regularized_and_exported_dense():
    model = Mixed()
    reg = occ.OccasionalRegularizer(model, occ.low_rank(1), 1)
    reg.step()
    assert torch.linalg.matrix_rank(model.lstm.weight_hh_l1.detach(), atol=1e-5) == 1
    tokens = torch.randint(0, 5, (2, 6))
    model.eval()
    new, report = occ.export(reg, example_input=tokens)
    new.eval()
    assert torch.allclose(new(tokens), model(tokens), atol=1e-5)
    rows = report.set_index("layer")
    assert rows.loc["lstm.weight_ih_l0", "structure"] == "low_rank (stored dense)"
    assert rows.loc["up.weight", "structure"] == "low_rank (stored dense)"
    assert rows.loc["conv.weight", "structure"] == "svd"
    assert rows.loc["lstm.weight_hh_l0", "dense_macs"] == 12 * 3 * 7 * 2  # 4H x H per (step, example)


def test_fr_layers_act_on_spatial_weight_and_keep_the_spectrum_prefix():
    model = freqlib.frequency_regularize(small_net(), 0.3, min_keep=0)
    (name, module, pname, fr) = next(iter(freqlib.fr_weights(model)))
    original = module.parametrizations.weight.original
    before_spec = original.detach().clone()
    w = module.weight.detach().clone()
    reg = occ.OccasionalRegularizer(model, occ.low_rank(2), 1)
    reg.step()
    mask = zigzag_mask(fr.shape, fr.k, box=fr.shape)
    expected = freqlib.idctn(mask.float() * freqlib.dctn(occ.low_rank(2)(w)))
    assert torch.allclose(module.weight, expected, atol=1e-5)
    assert torch.equal(original.detach()[~mask], before_spec[~mask])  # dropped coefficients untouched
    assert reg.history[0]["per_weight"][name] == pytest.approx((w - expected).abs().mean().item(), rel=1e-4)
    # a frequency truncation inside FR's prefix is exact under FR, and exports exactly
    model = freqlib.frequency_regularize(small_net(), 0.5, min_keep=0)
    reg = occ.OccasionalRegularizer(model, occ.frequency_truncate(0.2), 2)
    for _ in range(2):
        reg.step()
    x = gaussian(2, 3, 8, 8)
    new, report = occ.export(reg)
    assert set(report.structure) == {"dct_coefficients"} and len(list(freqlib.fr_weights(model))) == 3
    assert torch.allclose(new(x), model(x), atol=1e-5)


def test_training_loop_prunes_every_period():
    model = small_net()
    reg = occ.OccasionalRegularizer(model, occ.magnitude_prune(0.5), 2)
    g = torch.Generator().manual_seed(1)
    for t in range(1, 5):
        with torch.no_grad():  # stands in for an optimizer step (no backward: keeps the test instant)
            for p in model.parameters():
                p.sub_(0.01 * torch.randn(p.shape, generator=g))
        reg.step()
        zero_frac = (model[4].weight == 0).float().mean().item()
        assert zero_frac == (0.5 if t % 2 == 0 else 0.0)
    assert len(reg.history) == 2 and reg.history[1]["e_w"] > 0


# ------------------------------------------------------------------ export

TRANSFORMS = {
    "weight_decay": occ.weight_decay(0.1),
    "uniform_noise": occ.uniform_noise(0.1),
    "magnitude_prune": occ.magnitude_prune(0.8),
    "binary_quantize": occ.binary_quantize(2),
    "low_rank": occ.low_rank(2),
    "tiled_low_rank": occ.tiled_low_rank(4, 1),
    "tucker2": occ.tucker2(0.5),
    "frequency_truncate": occ.frequency_truncate(0.2),
}
STRUCTURE = {
    "weight_decay": "dense",
    "uniform_noise": "dense",
    "magnitude_prune": "sparse_csr",
    "binary_quantize": "binary_codes",
    "low_rank": "svd",
    "tiled_low_rank": "tiled_svd",
    "tucker2": "tucker2",
    "frequency_truncate": "dct_coefficients",
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_export_equals_regularized_model(name):
    model = small_net(bias=False)
    reg = occ.OccasionalRegularizer(model, TRANSFORMS[name], 2)
    reg.step(), reg.step()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new, report = occ.export(reg, input_shape=(1, 3, 8, 8))
    x = gaussian(3, 3, 8, 8, seed=1)
    assert torch.allclose(new(x), model(x), atol=1e-5)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # input untouched
    assert set(report.structure) == {STRUCTURE[name]}
    assert report.dense_macs.tolist() == [3 * 8 * 9 * 16, 8 * 6 * 9 * 16, 96 * 10]
    if name in ("weight_decay", "uniform_noise"):
        assert (report.compressed_bytes == report.dense_bytes).all()
    else:
        assert report.compressed_bytes.sum() < report.dense_bytes.sum()
    if name in ("magnitude_prune", "low_rank", "tiled_low_rank"):
        assert report.compressed_macs.sum() < report.dense_macs.sum()


def test_export_sparse_bytes_and_macs_formula():
    model = small_net()
    reg = occ.OccasionalRegularizer(model, occ.magnitude_prune(0.75), 1)
    reg.step()
    new, report = occ.export(reg, input_shape=(1, 3, 8, 8))
    for row, (_, module, _) in zip(report.itertuples(), reg.targets):
        nnz = int((module.weight != 0).sum())
        rows = module.weight.shape[0]
        assert row.compressed_bytes == nnz * (4 + 4) + (rows + 1) * 4  # float32 values, int32 cols and rows
        assert row.compressed_macs == nnz * row.dense_macs / module.weight.numel()
    assert isinstance(new[4], occ.SparseLinear) and new[4].csr().layout == torch.sparse_csr


def test_export_without_regularizer_recompresses_final_weights():
    model = small_net()
    reg = occ.OccasionalRegularizer(model, occ.low_rank(1), 1)
    reg.step()
    with torch.no_grad():  # training continued after the last application
        for p in model.parameters():
            p.add_(0.01)
    new, report = occ.export(model, occ.low_rank(1))
    reference = small_net()
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        for _, module, _ in reg.targets:
            name = [n for n, m in model.named_modules() if m is module][0]
            reference.get_submodule(name).weight.copy_(occ.low_rank(1)(module.weight))
    x = gaussian(2, 3, 8, 8)
    assert torch.allclose(new(x), reference(x), atol=1e-5)
    with pytest.raises(ValueError, match="pass step="):
        occ.export(model, occ.magnitude_prune(lambda t: 0.5))


@pytest.mark.parametrize("name", ["magnitude_prune", "low_rank", "tiled_low_rank", "tucker2", "binary_quantize"])
def test_export_conv_variants(name):
    torch.manual_seed(1)
    model = nn.ModuleDict(
        {
            "c1": nn.Conv1d(2, 4, 3, stride=2, padding=2, dilation=2),
            "c2": nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
            "c3": nn.Conv3d(2, 3, 2),
            "g": nn.Conv2d(4, 4, 3, groups=2),
        }
    )
    reg = occ.OccasionalRegularizer(model, TRANSFORMS[name], 1)
    reg.step()
    new, report = occ.export(reg)
    inputs = {
        "c1": gaussian(2, 2, 9),
        "c2": gaussian(2, 3, 5, 5),
        "c3": gaussian(1, 2, 3, 4, 4),
        "g": gaussian(1, 4, 5, 5),
    }
    for key, x in inputs.items():
        assert torch.allclose(new[key](x), model[key](x), atol=1e-5), key
    assert torch.allclose(new["c1"](inputs["c1"][0]), model["c1"](inputs["c1"][0]), atol=1e-5)  # unbatched
    grouped = report.set_index("layer").loc["g.weight", "structure"]
    assert grouped == ("binary_codes" if name == "binary_quantize" else f"{TRANSFORMS[name].name} (stored dense)")


DEVICES = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]  # the GPU case where there is one


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_regularize_and_export_on_each_device(name, device):
    model = small_net().to(device)
    reg = occ.OccasionalRegularizer(model, TRANSFORMS[name], 1)
    reg.step()
    new, report = occ.export(reg, input_shape=(1, 3, 8, 8))
    x = gaussian(2, 3, 8, 8).to(device)
    assert torch.allclose(new(x), model(x), atol=1e-4) and len(report) == 3


def test_pack_codes_round_trip():
    codes = torch.where(gaussian(3, 2, 13) > 0, 1, -1).to(torch.int8)
    packed = occ.pack_codes(codes)
    assert packed.dtype == torch.uint8 and packed.shape == (3, 2, 2)
    assert torch.equal(occ.unpack_codes(packed, 13, torch.float32), codes.float())


# ------------------------------------------------------------------ DDP (2 processes, gloo)


def _ddp_worker(rank: int, port: int, out_dir: str) -> None:
    """One rank: 4 SGD steps on its own data under DDP, uniform noise every 2 steps (no broadcast)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    torch.rand(1 + rank)  # the global RNGs now differ (as with dropout); the seeded noise must not care
    ddp = nn.parallel.DistributedDataParallel(model)
    reg = occ.OccasionalRegularizer(ddp, occ.uniform_noise(0.3, seed=7), 2, broadcast=False)
    g = torch.Generator().manual_seed(100 + rank)  # each rank sees different data
    for _ in range(4):
        model.zero_grad()
        ddp(torch.randn(5, 6, generator=g)).pow(2).mean().backward()  # DDP averages the gradients
        with torch.no_grad():  # plain SGD (torch.optim's first use costs seconds of imports)
            for p in model.parameters():
                p.sub_(0.1 * p.grad)
        reg.step()
    torch.save({"state": model.state_dict(), "history": reg.history}, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(sys.platform != "linux", reason="forks the test process")
def test_ddp_two_ranks_agree(tmp_path):
    """Two forked ranks on gloo (fork: no torch import per rank; a few seconds in all)."""
    import torch._dynamo  # noqa: F401  (DDP imports it: once here, not once per forked rank)

    ctx = torch.multiprocessing.get_context("fork")
    port = _free_port()
    procs = [ctx.Process(target=_ddp_worker, args=(r, port, str(tmp_path))) for r in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    for p in procs:
        if p.is_alive():  # never leave a hung rank behind
            p.kill()
            p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert [h["step"] for h in r0["history"]] == [2, 4] and r0["history"] == r1["history"]
    assert r0["history"][0]["e_w"] > 0
    for key, value in r0["state"].items():
        assert torch.equal(value, r1["state"][key]), key
