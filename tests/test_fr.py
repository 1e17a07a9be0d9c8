import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import freqlib
from freqlib import FrequencySchedule, fr_weights, frequency_regularize, materialize, set_keep, zigzag_mask


class EveryLayer(nn.Module):
    """One of each supported layer type, plus an LSTM and an attention block converted by name."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(2, 4, 3, padding=1)
        self.t1 = nn.ConvTranspose1d(4, 2, 3, padding=1)
        self.c2 = nn.Conv2d(2, 5, 3, padding=1)
        self.t2 = nn.ConvTranspose2d(5, 2, 4, stride=2, padding=1)
        self.c3 = nn.Conv3d(2, 3, 3, padding=1)
        self.t3 = nn.ConvTranspose3d(3, 2, 3, padding=1)
        self.lstm = nn.LSTM(8, 6, batch_first=True)
        self.attn = nn.MultiheadAttention(6, 2, batch_first=True)
        self.fc = nn.Linear(6, 3)

    def forward(self, x1, x2, x3, seq):
        a = self.t1(self.c1(x1)).mean()
        b = self.t2(self.c2(x2)).mean()
        c = self.t3(self.c3(x3)).mean()
        h, _ = self.lstm(seq)
        h, _ = self.attn(h, h, h)
        return self.fc(h) + a + b + c


def inputs():
    return (torch.randn(2, 2, 9), torch.randn(2, 2, 6, 6), torch.randn(2, 2, 4, 4, 4), torch.randn(2, 5, 8))


INCLUDE = ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "attn.in_proj_weight"]


def test_full_keep_is_the_same_function_for_every_layer_type():
    model = EveryLayer().double()
    x = [t.double() for t in inputs()]
    ref = model(*x)
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    frequency_regularize(model, 1.0, include=INCLUDE)
    names = [n for n, *_ in fr_weights(model)]
    assert names == [
        "c1.weight", "t1.weight", "c2.weight", "t2.weight", "c3.weight", "t3.weight",
        "lstm.weight_ih_l0", "lstm.weight_hh_l0", "attn.in_proj_weight", "attn.out_proj.weight", "fc.weight",
    ]  # fmt: skip
    torch.testing.assert_close(model(*x), ref, atol=1e-12, rtol=0)
    # layer.weight still evaluates to the spatial weight; the spectrum is its DCT
    torch.testing.assert_close(model.c2.weight, weights["c2.weight"], atol=1e-12, rtol=0)
    torch.testing.assert_close(
        model.c2.parametrizations.weight.original, freqlib.dctn(weights["c2.weight"]), atol=1e-12, rtol=0
    )
    materialize(model)
    assert not any(parametrize.is_parametrized(m) for m in model.modules())
    assert type(model.c2) is nn.Conv2d
    torch.testing.assert_close(model(*x), ref, atol=1e-12, rtol=0)


def test_forward_uses_only_the_kept_prefix_and_materialize_keeps_it():
    conv = nn.Conv2d(6, 8, 3).double()
    spatial = conv.weight.detach().clone()
    frequency_regularize(conv, 50)
    assert conv.parametrizations.weight[0].k == 128  # raised to the conv floor
    frequency_regularize(nn.Conv2d(6, 8, 3), 50, min_keep=0)
    set_keep(conv, 50, min_keep=0)
    mask = zigzag_mask(spatial.shape, 50, box=spatial.shape)
    expected = freqlib.idctn(freqlib.dctn(spatial) * mask)
    torch.testing.assert_close(conv.weight, expected, atol=1e-12, rtol=0)
    x = torch.randn(2, 6, 7, 7, dtype=torch.float64)
    out = conv(x)
    torch.testing.assert_close(out, nn.functional.conv2d(x, expected, conv.bias), atol=1e-12, rtol=0)
    materialize(conv)
    assert type(conv) is nn.Conv2d
    torch.testing.assert_close(conv(x), out, atol=1e-12, rtol=0)


def test_materialize_on_a_deepcopy_leaves_the_original_working():
    # torch's parametrize gives the copy the same generated ParametrizedLinear class; removing the
    # parametrization from the copy must not strip the original's weight property.
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    frequency_regularize(model, 10, min_keep=0)
    x = torch.randn(4, 8, dtype=torch.float64)
    before = model(x)
    copy_ = copy.deepcopy(model)
    materialize(copy_)
    assert type(copy_[0]) is nn.Linear
    assert all(parametrize.is_parametrized(model[i], "weight") for i in (0, 2))
    torch.testing.assert_close(model(x), before, atol=0, rtol=0)
    torch.testing.assert_close(copy_(x), before, atol=1e-12, rtol=0)
    materialize(model)  # and the original still materializes afterwards
    assert type(model[2]) is nn.Linear
    torch.testing.assert_close(model(x), before, atol=1e-12, rtol=0)


def test_gradients_reach_only_kept_coefficients():
    lin = nn.Linear(20, 12)
    frequency_regularize(lin, 30, min_keep=0)
    lin(torch.randn(4, 20)).pow(2).sum().backward()
    grad = lin.parametrizations.weight.original.grad
    mask = zigzag_mask((12, 20), 30, box=(12, 20))
    assert torch.count_nonzero(grad[~mask]) == 0
    assert torch.count_nonzero(grad[mask]) == 30


def test_gradcheck_small_fr_layers():
    conv = frequency_regularize(nn.Conv2d(2, 3, 3).double(), 20, min_keep=0)
    spec = conv.parametrizations.weight.original.detach().clone().requires_grad_()
    fr = conv.parametrizations.weight[0]
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s: nn.functional.conv2d(x, fr(s)), (spec,))
    convt = frequency_regularize(nn.ConvTranspose2d(3, 2, 3).double(), 0.3, min_keep=0)
    spec = convt.parametrizations.weight.original.detach().clone().requires_grad_()
    fr = convt.parametrizations.weight[0]
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s: nn.functional.conv_transpose2d(x, fr(s)), (spec,))


def test_cached_inference_and_state_dict_round_trip():
    torch.manual_seed(1)
    a = frequency_regularize(freqlib.models.LeNet5(), 0.01)
    torch.manual_seed(2)
    b = frequency_regularize(freqlib.models.LeNet5(), 1.0)
    b.load_state_dict(a.state_dict())
    assert [fr.k for *_, fr in fr_weights(b)] == [fr.k for *_, fr in fr_weights(a)] == [128, 251, 4001, 256]
    x = torch.randn(3, 1, 28, 28)
    with parametrize.cached():
        torch.testing.assert_close(b(x), a(x))


def test_schedule_linear_and_geometric():
    for mode in ("linear", "geometric"):
        model = frequency_regularize(freqlib.models.LeNet5(), 0.01)
        targets = [fr.k for *_, fr in fr_weights(model)]
        sched = FrequencySchedule(model, steps=10, mode=mode, start=2)
        assert [fr.k for *_, fr in fr_weights(model)] == [fr.numel for *_, fr in fr_weights(model)]
        history = []
        for _ in range(15):
            sched.step()
            history.append([fr.k for *_, fr in fr_weights(model)])
        assert history[0] == history[1] == [500, 25000, 400000, 5000]  # start=2: still full
        for col in zip(*history):
            assert all(x >= y for x, y in zip(col, col[1:]))  # never increases
        assert history[-1] == targets and sched.done
        assert all(min(col) >= t for col, t in zip(zip(*history), targets))  # never below floor/target
    # geometric halves the log-distance halfway: sqrt(numel * target)
    model = frequency_regularize(nn.Linear(100, 100), 100, min_keep=0)
    sched = FrequencySchedule(model, steps=2, mode="geometric")
    sched.step()
    assert model.parametrizations.weight[0].k == 1000


def test_bad_input_names_the_layer():
    model = freqlib.models.LeNet5()
    for bad in (0, -0.1, 1.5, float("nan"), 10**9):
        with pytest.raises(ValueError, match="conv1.weight"):
            frequency_regularize(model, bad)
    with pytest.raises(TypeError, match="conv1.weight"):
        frequency_regularize(model, "0.1")
    assert not any(parametrize.is_parametrized(m) for m in model.modules())  # nothing half-converted
    with pytest.raises(TypeError, match="ReLU has no weight"):
        frequency_regularize(nn.ReLU(), 0.1)
    with pytest.raises(ValueError, match=r"include patterns \['nope'\] match no parameter"):
        frequency_regularize(model, 0.1, include=["nope"])
    with torch.no_grad():
        model.fc1.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="fc1.weight: weight has non-finite values"):
        frequency_regularize(model, 0.1)
    ok = frequency_regularize(nn.Linear(3, 3), 1.0)
    with pytest.raises(ValueError, match="already frequency-regularized"):
        frequency_regularize(ok, 1.0)
    with pytest.raises(ValueError, match="no FR weights"):
        FrequencySchedule(nn.Linear(2, 2), 5)
    with pytest.raises(ValueError, match="mode"):
        FrequencySchedule(ok, 5, mode="cosine")


def test_exclude_and_keep_mapping():
    model = freqlib.models.LeNet5()
    frequency_regularize(model, {"conv*": 0.5, "fc*": 300}, exclude="fc2.*")
    assert [(n, fr.k) for n, _, _, fr in fr_weights(model)] == [
        ("conv1.weight", 251),
        ("conv2.weight", 12501),
        ("fc1.weight", 300),
    ]
