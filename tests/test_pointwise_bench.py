import math

import pytest
import torch

from freqlib.models import mobilenetv2_cifar
from freqlib.pointwise import DenseBandPointwise, FrequencyBandPointwise, bench, compile_dense, count_macs


@pytest.mark.parametrize("mean", [1, 4, 8, 13, 16])
def test_band_counts_for_mean_and_range(mean):
    for kind in ("uniform", "varying"):
        c = bench.band_counts_for(256, 16, mean, kind)
        assert c.shape == (256,) and int(c.sum()) == 256 * mean
        assert int(c.min()) >= 1 and int(c.max()) <= 16
    assert len(set(bench.band_counts_for(256, 16, 4, "varying").tolist())) == 7  # 1 .. 7
    with pytest.raises(ValueError):
        bench.band_counts_for(8, 16, 4, "random")


def test_num_threads_restores():
    before = torch.get_num_threads()
    with bench.num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_layer_speed_frame():
    df = bench.layer_speed(channels=8, size=8, levels=[4, 16], min_run_time=0.001, repeats=1)
    assert list(df.kind) == ["uniform", "uniform", "varying", "varying"]
    assert (df.ratio > 0).all() and df.mac_ratio.tolist()[1] == pytest.approx(1 + 2 * 16 / 8)


def test_prune_to_macs_hits_target_and_stays_exact():
    torch.manual_seed(0)
    model = mobilenetv2_cifar().eval()
    ref = mobilenetv2_cifar().eval()
    ref.load_state_dict(model.state_dict())
    info = bench.prune_to_macs(model, (1, 3, 32, 32), 0.8)
    assert info["macs_plain"] == 91_154_944
    assert info["macs"] == count_macs(model, (1, 3, 32, 32))
    assert info["macs"] / info["macs_plain"] == pytest.approx(0.8, abs=0.005)
    layers = [m for m in model.modules() if isinstance(m, FrequencyBandPointwise)]
    assert len(layers) == len(info["banded"]) and info["plain"]  # some layers cannot pay
    again = mobilenetv2_cifar()
    info2 = bench.prune_to_macs(again, (1, 3, 32, 32), 0.8, exclude=info["banded"][:3])
    assert not set(info["banded"][:3]) & set(info2["banded"])
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        banded = model(x)
        dense = compile_dense(model)(x)
    assert any(isinstance(m, DenseBandPointwise) for m in model.modules())
    torch.testing.assert_close(dense, banded, atol=1e-4, rtol=1e-4)


def test_network_speed_frame():
    df = bench.network_speed(mobilenetv2_cifar, batches=[1], fallback=("macs",), min_run_time=0.001, repeats=1)
    assert df.shape[0] == 1 and df.mac_ratio[0] == pytest.approx(0.8, abs=0.005) and df.ratio[0] > 0


def test_compiled_sides_agree_with_eager_and_are_labelled():
    """torch.compile's "eager" backend runs the plumbing (both sides compiled, warm-up, columns) without a C++ build."""
    conv = torch.nn.Conv2d(4, 4, 1).eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.inference_mode():
        fn = bench.compiled(conv, "eager", x)
        torch.testing.assert_close(fn(x), conv(x))
        assert bench.compiled(conv, None, x) is conv
    layer = bench.layer_speed(channels=8, size=8, levels=[4], kinds=("uniform",), min_run_time=0.001, repeats=1,
                              compiler="eager")  # fmt: skip
    assert layer.compiler.tolist() == ["eager"] and layer.ratio[0] > 0

    def tiny():
        return torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.Conv2d(64, 64, 1), torch.nn.ReLU())

    args = dict(input_size=(3, 16, 16), batches=[1], fallback=("macs",), target=0.9, min_run_time=0.001, repeats=1)
    net = bench.network_speed(tiny, compiler="eager", **args)
    assert net.compiler[0] == "eager" and net.compile_s[0] > 0 and net.ratio[0] > 0 and net.banded_layers[0] == 1
    eager = bench.network_speed(tiny, **args)
    assert eager.compiler[0] == "none" and math.isnan(eager.compile_s[0])


def test_speed_functions_take_a_device():
    """The GPU path's plumbing, on the CPU (no GPU here): models and inputs go to ``device``."""
    layer = bench.layer_speed(channels=8, size=8, levels=[4], kinds=("uniform",), min_run_time=0.001, repeats=1,
                              device=torch.device("cpu"))  # fmt: skip
    assert layer.ratio[0] > 0
    net = bench.network_speed(mobilenetv2_cifar, batches=[1], fallback=("time",), min_run_time=0.001, repeats=1,
                              device="cpu")  # fmt: skip
    assert net.fallback[0] == "time" and net.ratio[0] > 0
