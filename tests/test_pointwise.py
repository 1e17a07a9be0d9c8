"""freqlib.pointwise: block DCT of activations, frequency-band pointwise layers, dense form, MACs."""

import copy
import itertools
import math

import numpy as np
import pytest
import scipy.fft
import torch
from torch import nn

from freqlib.models.mobilenetv2 import MobileNetV2, mobilenetv2_cifar
from freqlib.models.resnext import resnext29_32x4d
from freqlib.pointwise import (
    STRATEGIES,
    DenseBandPointwise,
    FrequencyBandPointwise,
    band_counts,
    band_mask,
    block_dct2d,
    block_idct2d,
    coefficient_mask,
    compile_dense,
    convert,
    count_macs,
    fcmask_penalty,
    layer_macs,
    strategy_mask,
)
from freqlib.zigzag import zigzag_order

SIZES = [(8, 8), (10, 13), (5, 3)]


def scipy_block_dct(x: np.ndarray, b: int) -> np.ndarray:
    """Reference: zero-pad, scipy.fft.dctn(norm='ortho') per block, coefficients in zigzag order."""
    n, c, h, w = x.shape
    hp, wp = -(-h // b) * b, -(-w // b) * b
    xp = np.zeros((n, c, hp, wp))
    xp[:, :, :h, :w] = x
    order = zigzag_order((b, b)).numpy()
    out = np.zeros((n, c, b * b, hp // b, wp // b))
    for i, j in itertools.product(range(hp // b), range(wp // b)):
        block = xp[:, :, i * b : (i + 1) * b, j * b : (j + 1) * b]
        coef = scipy.fft.dctn(block, axes=(-2, -1), norm="ortho").reshape(n, c, b * b)
        out[:, :, :, i, j] = coef[:, :, order]
    return out


def random_conv(cin=6, cout=5, bias=True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, bias=bias).double()


def freq_conv(conv: nn.Conv2d, x: torch.Tensor, b: int, mask=None) -> torch.Tensor:
    """IDCT(Conv1x1(mask * DCT(x))) written with einsum, bias on the DC coefficient."""
    coef = block_dct2d(x, b)
    if mask is not None:
        coef = coef * mask.to(coef.dtype)[None, :, :, None, None]
    y = torch.einsum("oc,nckhw->nokhw", conv.weight[:, :, 0, 0], coef)
    if conv.bias is not None:
        y[:, :, 0] += b * conv.bias[:, None, None]
    return block_idct2d(y, b, size=x.shape[-2:])


# block DCT --------------------------------------------------------------------------------------
@pytest.mark.parametrize("b", [1, 2, 3, 4])
@pytest.mark.parametrize("size", SIZES)
def test_block_dct_matches_scipy_and_inverts(b, size):
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    coef = block_dct2d(x, b)
    assert coef.shape == (2, 3, b * b, -(-size[0] // b), -(-size[1] // b))
    np.testing.assert_allclose(coef.numpy(), scipy_block_dct(x.numpy(), b), atol=1e-12)
    back = block_idct2d(coef, b, size=size)
    assert back.shape == x.shape
    torch.testing.assert_close(back, x, atol=1e-12, rtol=0)
    assert block_idct2d(coef, b).shape[-2:] == (coef.shape[-2] * b, coef.shape[-1] * b)


def test_block_idct_without_size_keeps_padding():
    x = torch.randn(1, 2, 5, 7, dtype=torch.float64)
    full = block_idct2d(block_dct2d(x, 4), 4)
    assert full.shape == (1, 2, 8, 8)
    torch.testing.assert_close(full[:, :, :5, :7], x)
    assert full[:, :, 5:].abs().max() < 1e-12 and full[:, :, :, 7:].abs().max() < 1e-12


def test_constant_block_has_only_dc():
    coef = block_dct2d(torch.full((1, 1, 4, 4), 2.5, dtype=torch.float64), 4)
    assert coef[0, 0, 0, 0, 0].item() == pytest.approx(4 * 2.5)
    assert coef[0, 0, 1:].abs().max() < 1e-12


# commutation and the wrapped layer ----------------------------------------------------------------
@pytest.mark.parametrize("b", [2, 3, 4])
@pytest.mark.parametrize("size", SIZES)
def test_commutation_identity(b, size):
    conv = random_conv()
    x = torch.randn(2, 6, *size, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(freq_conv(conv, x, b), conv(x), atol=1e-12, rtol=0)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("b", [1, 3, 4])
def test_from_conv_equals_conv(bias, b):
    conv = random_conv(bias=bias)
    layer = FrequencyBandPointwise.from_conv(conv, b)
    assert layer.weight is conv.weight and layer.bias is conv.bias
    x = torch.randn(2, 6, 10, 13, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), conv(x), atol=1e-12, rtol=0)


def test_bias_only_moves_dc_coefficient():
    conv = random_conv()
    layer = FrequencyBandPointwise.from_conv(conv, 4)
    layer.set_bands(torch.randint(0, 17, (6,)))
    x = torch.randn(1, 6, 8, 8, dtype=torch.float64)
    bias = conv.bias.detach().clone()
    with torch.no_grad():
        with_bias = layer(x)
        layer.bias.zero_()
        diff = block_dct2d(with_bias - layer(x), 4)
    torch.testing.assert_close(diff[:, :, 0], 4 * bias[None, :, None, None].expand(1, 5, 2, 2))
    assert diff[:, :, 1:].abs().max() < 1e-12


# masks ------------------------------------------------------------------------------------------
def test_band_mask_brute_force():
    counts = torch.tensor([0, 3, 16, 7, 1])
    mask = band_mask(counts, 16)
    for c, n in itertools.product(range(5), range(16)):
        assert bool(mask[c, n]) == (n < int(counts[c]))
    assert torch.equal(band_counts(mask), counts)
    mask[1, 0] = False
    assert band_counts(mask) is None


@pytest.mark.parametrize("b", [2, 3])
def test_set_bands_equals_brute_force_masking(b):
    conv = random_conv()
    layer = FrequencyBandPointwise.from_conv(conv, b)
    counts = torch.randint(0, b * b + 1, (6,))
    layer.set_bands(counts)
    mask = torch.zeros(6, b * b)
    for c in range(6):
        for n in range(int(counts[c])):
            mask[c, n] = 1
    x = torch.randn(2, 6, 7, 9, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), freq_conv(conv, x, b, mask), atol=1e-12, rtol=0)
    assert torch.equal(layer.bands, counts)


def brute_strategy(strategy, scores, k_frac):
    """Independent loop implementation of the four Fig 1 strategies."""
    c, n = scores.shape
    s = scores.tolist()
    keep = [[False] * n for _ in range(c)]
    if strategy == "channel":
        ranked = sorted(range(c), key=lambda i: (-sum(s[i]), i))[: round(k_frac * c)]
        for i in ranked:
            keep[i] = [True] * n
    elif strategy == "coefficient":
        ranked = sorted(range(n), key=lambda j: (-sum(s[i][j] for i in range(c)), j))[: round(k_frac * n)]
        for i, j in itertools.product(range(c), ranked):
            keep[i][j] = True
    elif strategy == "channel_coefficient":
        ranked = sorted(itertools.product(range(c), range(n)), key=lambda t: (-s[t[0]][t[1]], t[0] * n + t[1]))
        for i, j in ranked[: round(k_frac * c * n)]:
            keep[i][j] = True
    else:  # band: repeatedly extend the band whose next coefficient has the best prefix-min score
        lengths = [0] * c
        for _ in range(round(k_frac * c * n)):
            best = None
            for i in range(c):
                if lengths[i] < n:
                    score = min(s[i][: lengths[i] + 1])
                    key = (-score, lengths[i], i)
                    best = key if best is None or key < best else best
            lengths[best[2]] += 1
        for i in range(c):
            keep[i][: lengths[i]] = [True] * lengths[i]
    return torch.tensor(keep)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("k_frac", [0.0, 0.3, 0.5, 1.0])
def test_strategy_masks_brute_force(strategy, k_frac):
    scores = torch.rand(7, 9, dtype=torch.float64)
    mask = strategy_mask(strategy, 7, 3, k_frac, scores)
    assert mask.dtype == torch.bool and mask.shape == (7, 9)
    assert torch.equal(mask, brute_strategy(strategy, scores, k_frac))
    if strategy == "band":
        assert band_counts(mask) is not None and int(mask.sum()) == round(k_frac * 63)


def test_strategy_mask_defaults_and_errors():
    assert band_counts(strategy_mask("band", 4, 2, 0.5)) is not None
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_mask("random", 4, 2, 0.5)
    with pytest.raises(ValueError, match="keep_fraction"):
        strategy_mask("band", 4, 2, 1.5)
    with pytest.raises(ValueError, match="shape"):
        strategy_mask("band", 4, 2, 0.5, torch.rand(4, 3))


# dense per-band form -------------------------------------------------------------------------------
@pytest.mark.parametrize("b,size,batch,bias", [(4, (8, 8), 1, True), (3, (10, 13), 2, True), (2, (5, 7), 3, False)])
def test_compile_dense_equals_masked(b, size, batch, bias):
    conv = random_conv(9, 7, bias)
    layer = FrequencyBandPointwise.from_conv(conv, b)
    x = torch.randn(batch, 9, *size, dtype=torch.float64)
    for trial in range(4):
        counts = torch.randint(0, b * b + 1, (9,))
        if trial == 1:
            counts[:] = 0  # nothing kept: output is the bias alone
        if trial == 2:
            counts[0] = 0  # DC band empty for one channel only
        layer.set_bands(counts)
        dense = layer.compile_dense()
        with torch.no_grad():
            torch.testing.assert_close(dense(x), layer(x), atol=1e-10, rtol=0)
        kept = sorted({n for c in range(9) for n in range(int(counts[c]))})
        assert sorted(dense.kept_coefficients) == kept  # no DCT work for coefficients nobody keeps
        assert dense.inverse_basis.shape == (b * b, len(kept))
        assert len(dense.groups) == len(set(int(v) for v in counts if v > 0))  # one product set per channel set


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_compile_dense_general_masks(strategy):
    conv = random_conv(8, 5)
    layer = FrequencyBandPointwise.from_conv(conv, 3)
    layer.set_mask(strategy_mask(strategy, 8, 3, 0.4, torch.rand(8, 9)))
    x = torch.randn(2, 8, 7, 6, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(layer.compile_dense()(x), layer(x), atol=1e-10, rtol=0)


def test_compile_dense_float32_full_equals_conv_and_is_inference_only():
    conv = nn.Conv2d(16, 8, 1)
    dense = FrequencyBandPointwise.from_conv(conv, 4).compile_dense()
    x = torch.randn(1, 16, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(dense(x), conv(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(dense(x), conv(x), atol=1e-5, rtol=1e-5)  # work buffers reused
    with pytest.raises(RuntimeError, match="inference-only"):
        dense(x.requires_grad_())


# MACs ----------------------------------------------------------------------------------------------
def test_count_macs_matches_section_3_1_formula():
    cin, cout, h, w, k = 12, 20, 16, 8, 4
    conv = nn.Conv2d(cin, cout, 1)
    assert count_macs(conv, (cin, h, w)) == cin * h * w * cout
    layer = FrequencyBandPointwise.from_conv(conv, k)
    dct, pointwise, idct = cin * h * w * k**2, cin * h * w * cout, cout * h * w * k**2
    assert count_macs(layer, (1, cin, h, w)) == dct + pointwise + idct
    assert (dct + idct) / pointwise == pytest.approx((cin + cout) * k**2 / (cin * cout))
    assert count_macs(layer, (3, cin, h, w)) == 3 * (dct + pointwise + idct)
    # pruned: each kept (channel, coefficient) costs k^2 per block in the DCT and cout in the 1x1
    counts = torch.randint(0, 17, (cin,))
    counts[0] = 5
    layer.set_bands(counts)
    blocks = (h // k) * (w // k)
    union = int(counts.max())
    expected = int(counts.sum()) * blocks * (k**2 + cout) + union * cout * blocks * k**2
    assert count_macs(layer, (cin, h, w)) == expected
    assert count_macs(layer.compile_dense(), (cin, h, w)) == expected
    dense64 = copy.deepcopy(layer).double().compile_dense()  # float64 buffers: the probe input follows them
    assert count_macs(dense64, (cin, h, w)) == expected
    # sizes not divisible by the block count the padded blocks
    assert layer_macs(layer, (cin, 9, 9))[""]["idct"] == union * cout * 9 * k**2


# FCMask --------------------------------------------------------------------------------------------
def test_coefficient_mask_values():
    f = torch.tensor([0.0, 0.3, 0.9, 1.0, 1.4, -0.2], dtype=torch.float64)
    m = coefficient_mask(f, 4)
    for c, n in itertools.product(range(6), range(4)):
        assert m[c, n].item() == pytest.approx(min(max((f[c].item() - n / 4) * 4, 0.0), 1.0))


def test_fcmask_gradients():
    conv = random_conv(5, 4)
    layer = FrequencyBandPointwise.from_conv(conv, 2)  # N = 4
    f = torch.tensor([0.3, 0.9, 1.0, 1.5, -0.2], dtype=torch.float64)
    layer.fcmask.data.copy_(f)
    x = torch.randn(2, 5, 6, 6, dtype=torch.float64)
    target = torch.randn(2, 4, 6, 6, dtype=torch.float64)

    def loss(fc):
        layer.fcmask.data.copy_(fc)
        return ((layer(x) - target) ** 2).sum()

    layer.fcmask.grad = None
    loss(f).backward()
    grad = layer.fcmask.grad.clone()
    assert torch.isfinite(grad).all()
    assert (grad[:2] != 0).all()  # F*N inside the ramp of one coefficient
    # beyond the clamp every coefficient mask is saturated; torch.clamp passes no gradient at the
    # bounds either, so F = 1 (the initial value) moves only through the penalty, as in the paper
    assert grad[2] == 0 and grad[3] == 0 and grad[4] == 0
    with torch.no_grad():  # the ramp is linear in F: central differences are exact up to rounding
        for c in (0, 1):
            e = torch.zeros(5, dtype=torch.float64)
            e[c] = 1e-4
            numeric = (loss(f + e) - loss(f - e)) / 2e-4
            assert numeric.item() == pytest.approx(grad[c].item(), rel=1e-6)
    assert layer.weight.grad is not None  # weights stay trainable; freezing them is the caller's choice


def test_fcmask_penalty_and_round_bands():
    model = nn.Sequential(nn.Conv2d(4, 6, 1), nn.ReLU(), nn.Conv2d(6, 3, 1), nn.Conv2d(3, 3, 3, padding=1))
    convert(model, 4)
    a, b = model[0], model[2]
    a.fcmask.data = torch.tensor([0.5, -0.25, 1.0, 0.0])
    b.fcmask.data = torch.tensor([0.2, 0.4, 0.6, 0.8, 1.0, 0.1])
    penalty = fcmask_penalty(model)
    assert penalty.item() == pytest.approx(1.75 / 4 + 3.1 / 6)
    penalty.backward()
    torch.testing.assert_close(a.fcmask.grad, torch.tensor([1.0, -1.0, 1.0, 0.0]) / 4)
    x = torch.randn(1, 4, 8, 8)
    with pytest.raises(ValueError, match="round_bands"):
        b.compile_dense()
    counts = b.round_bands()
    assert counts.tolist() == [math.floor(v * 16 + 0.5) for v in [0.2, 0.4, 0.6, 0.8, 1.0, 0.1]]
    assert torch.equal(b.bands, counts)
    assert a.round_bands().tolist() == [8, 0, 16, 0]
    with torch.no_grad():
        torch.testing.assert_close(b.compile_dense()(a(x)), b(a(x)), atol=1e-5, rtol=1e-5)
    assert fcmask_penalty(nn.Linear(2, 2)).item() == 0


# errors --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "conv,word",
    [
        (nn.Conv2d(4, 4, 3), "kernel_size"),
        (nn.Conv2d(4, 4, 1, stride=2), "stride"),
        (nn.Conv2d(4, 4, 1, groups=2), "groups"),
        (nn.Conv2d(4, 4, 1, padding=1), "padding"),
        (nn.Linear(4, 4), "Conv2d"),
    ],
)
def test_from_conv_rejects_non_pointwise(conv, word):
    with pytest.raises(ValueError, match=word):
        FrequencyBandPointwise.from_conv(conv, 4)


def test_set_bands_validation():
    layer = FrequencyBandPointwise.from_conv(nn.Conv2d(3, 2, 1), 2)
    with pytest.raises(ValueError, match="length 3"):
        layer.set_bands(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        layer.set_bands(torch.tensor([1, 5, 0]))
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        layer.set_bands(torch.tensor([-1, 2, 0]))
    with pytest.raises(ValueError, match="integers"):
        layer.set_bands(torch.tensor([0.5, 2.0, 0.0]))
    layer.set_bands([1.0, 4.0, 0.0])  # integral floats are fine
    with pytest.raises(ValueError, match="shape"):
        layer.set_mask(torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="block"):
        FrequencyBandPointwise.from_conv(nn.Conv2d(3, 2, 1), 0)
    with pytest.raises(ValueError, match="4-d"):
        block_dct2d(torch.randn(3, 8, 8), 2)


# models and convert --------------------------------------------------------------------------------
def test_model_parameter_counts():
    # kuangliu/pytorch-cifar MobileNetV2 and ResNeXt29_32x4d give these counts for 10 classes
    assert sum(p.numel() for p in mobilenetv2_cifar().parameters()) == 2_296_922
    assert sum(p.numel() for p in MobileNetV2(num_classes=100).parameters()) == 2_412_212
    assert sum(p.numel() for p in resnext29_32x4d().parameters()) == 4_774_218
    assert sum(p.numel() for p in resnext29_32x4d(100).parameters()) == 4_866_468
    assert resnext29_32x4d().eval()(torch.randn(1, 3, 8, 8)).shape == (1, 10)


def test_convert_mobilenetv2_unchanged_and_macs():
    torch.manual_seed(1)
    model = mobilenetv2_cifar().double().eval()
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        before = model(x)
    assert count_macs(model, (3, 32, 32)) == 91_154_944  # paper: 8.9e7 for CIFAR-10
    convert(model, 4)
    layers = [m for m in model.modules() if isinstance(m, FrequencyBandPointwise)]
    assert len(layers) == 2 * 17 + 4 + 1  # expand + project per block, 4 conv shortcuts, the last 1x1
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, atol=1e-10, rtol=0)
    assert count_macs(model, (3, 32, 32)) == 121_850_368  # paper: 1.1e8 with 4x4 macroblocks
    for layer in layers:
        layer.set_bands(torch.randint(0, 17, (layer.in_channels,)))
    dense = compile_dense(copy.deepcopy(model))
    assert not any(isinstance(m, FrequencyBandPointwise) for m in dense.modules())
    with torch.no_grad():
        torch.testing.assert_close(dense(x), model(x), atol=1e-10, rtol=0)
    assert count_macs(dense, (3, 32, 32)) == count_macs(model, (3, 32, 32)) < 121_850_368
    picked = convert(mobilenetv2_cifar(), 4, include=["layers.1*"], exclude=["*.shortcut.*"], min_channels=20)
    names = {n for n, m in picked.named_modules() if isinstance(m, FrequencyBandPointwise)}
    expected = {f"layers.{i}.conv{j}" for i in [1, *range(10, 17)] for j in (1, 3)} - {"layers.1.conv1"}  # 16 < 20
    assert names == expected
    assert isinstance(convert(nn.Sequential(nn.Conv2d(4, 4, 1)), 2)[0], FrequencyBandPointwise)
    assert isinstance(FrequencyBandPointwise.from_conv(nn.Conv2d(4, 4, 1), 2).compile_dense(), DenseBandPointwise)
