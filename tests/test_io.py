import os

import pytest
import torch
from torch.nn.utils import parametrize

import freqlib
from freqlib import CompactFileError, fr_weights, load_compact, save_compact
from freqlib.models import LeNet5, resnet18_cifar


def fr_lenet(seed=0, keep=0.01):
    torch.manual_seed(seed)
    return freqlib.frequency_regularize(LeNet5(), keep)


def spectra(model):
    return {q: m.parametrizations[p].original.detach().clone() for q, m, p, _ in fr_weights(model)}


def test_round_trip_float32_is_exact(tmp_path):
    a = fr_lenet(0)
    path = tmp_path / "lenet.frz"
    save_compact(a, path, dtype=torch.float32)
    b = load_compact(LeNet5(), path)  # plain model: converted on load
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(a(x), b(x))
    assert [fr.k for *_, fr in fr_weights(a)] == [fr.k for *_, fr in fr_weights(b)]
    for q, s in spectra(b).items():
        mask = freqlib.zigzag_mask(s.shape, dict((n, f.k) for n, _, _, f in fr_weights(b))[q], box=s.shape)
        assert torch.equal(s[mask], spectra(a)[q][mask]) and torch.count_nonzero(s[~mask]) == 0


def test_round_trip_float16_within_rounding_and_size(tmp_path):
    a = fr_lenet(0)
    path = tmp_path / "lenet16.frz"
    nbytes = save_compact(a, path)
    assert nbytes == os.path.getsize(path)
    kept = freqlib.kept_coefficients(a)
    other = sum(p.numel() * 4 for n, p in a.named_parameters() if "parametrizations" not in n)
    assert kept * 2 + other <= nbytes <= kept * 2 + other + 1024
    b = fr_lenet(1)  # an FR model built the same way, different values
    load_compact(b, path)
    for q, s in spectra(b).items():
        ref = spectra(a)[q]
        k = dict((n, f.k) for n, _, _, f in fr_weights(a))[q]
        mask = freqlib.zigzag_mask(s.shape, k, box=s.shape)
        torch.testing.assert_close(s[mask], ref[mask].half().float(), atol=0, rtol=0)


def test_buffers_and_batchnorm_round_trip(tmp_path):
    torch.manual_seed(0)
    a = freqlib.frequency_regularize(resnet18_cifar(), 0.001)
    a.train()
    a(torch.randn(4, 3, 32, 32))  # updates running statistics
    a.eval()
    path = tmp_path / "r18.frz"
    save_compact(a, path, dtype=torch.float32)
    b = load_compact(resnet18_cifar().eval(), path)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(b(x), a(x), atol=1e-5, rtol=1e-5)
    assert torch.equal(b.bn1.num_batches_tracked, a.bn1.num_batches_tracked)


def damaged(tmp_path, mutate):
    path = tmp_path / "m.frz"
    save_compact(fr_lenet(0), path)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(mutate(data)))
    return path


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d[: len(d) // 2], "checksum mismatch"),
        (lambda d: d[:-1], "checksum mismatch"),
        (lambda d: d[:5], "not a freqlib compact file"),
        (lambda d: d[:100] + bytes([d[100] ^ 0xFF]) + d[101:], "checksum mismatch"),
        (lambda d: b"GARBAGE!" + d[8:], "bad magic"),
    ],
)
def test_damaged_files_fail_loudly_and_touch_nothing(tmp_path, mutate, message):
    path = damaged(tmp_path, mutate)
    target = LeNet5()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CompactFileError, match=message):
        load_compact(target, path)
    assert not any(parametrize.is_parametrized(m) for m in target.modules())
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_mismatched_model_names_the_layer(tmp_path):
    path = tmp_path / "m.frz"
    save_compact(fr_lenet(0), path)
    other = LeNet5(num_classes=7)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(CompactFileError, match=r"fc2.weight: file shape \(10, 500\) != model shape \(7, 500\)"):
        load_compact(other, path)
    assert all(torch.equal(before[k], v) for k, v in other.state_dict().items())
    assert not any(parametrize.is_parametrized(m) for m in other.modules())
    with pytest.raises(CompactFileError, match="layer 'conv1.weight' of the file is not in the model"):
        load_compact(torch.nn.Linear(2, 2), path)


def test_refuses_to_save_non_finite_or_overflowing(tmp_path):
    model = fr_lenet(0)
    with torch.no_grad():
        model.conv2.parametrizations.weight.original[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="conv2.weight: non-finite"):
        save_compact(model, tmp_path / "x.frz")
    with torch.no_grad():
        model.conv2.parametrizations.weight.original[0, 0, 0, 0] = 1e6
    with pytest.raises(ValueError, match="conv2.weight: kept coefficients overflow float16"):
        save_compact(model, tmp_path / "x.frz")
    assert not (tmp_path / "x.frz").exists()
    assert not list(tmp_path.iterdir())  # no temporary left behind
    with pytest.raises(ValueError, match="coefficient dtype"):
        save_compact(fr_lenet(0), tmp_path / "y.frz", dtype=torch.int8)
