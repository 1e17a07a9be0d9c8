import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

import freqlib
from freqlib.models.lenet import LeNet5
from freqlib.train import evaluate, keep_budget, steps_per_epoch, train_classifier, train_fr, train_steps


def toy_data(n: int = 256, seed: int = 0) -> TensorDataset:
    """4 classes of 1x8x8 images: a fixed class pattern plus noise drawn from ``seed``."""
    patterns = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1234))
    y = torch.arange(n) % 4
    x = (0.5 * patterns[y] + 0.5 * torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)
    return TensorDataset(x, y)


def toy_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 36, 4))


class PlainDataset(Dataset):
    """A data set without batch indexing (goes through the default DataLoader path)."""

    def __init__(self, inner: TensorDataset):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        x, y = self.inner.tensors
        return x[i], y[i]


def test_training_lowers_loss_and_learns():
    train, test = toy_data(256, 0), toy_data(128, 1)
    model = toy_model()
    before = evaluate(model, test)
    history = train_classifier(model, train, test, epochs=4, batch_size=32, lr=1e-2, progress=False)
    assert list(history.columns) == ["epoch", "steps", "train_loss", "train_accuracy", "test_accuracy", "kept", "lr"]
    assert history.epoch.tolist() == [1, 2, 3, 4] and history.steps.iloc[-1] == 4 * 8
    assert history.train_loss.iloc[-1] < 0.5 * history.train_loss.iloc[0]
    assert history.test_accuracy.iloc[-1] > max(0.9, before)
    assert (history.kept == 0).all()
    assert evaluate(model, test) == history.test_accuracy.iloc[-1]


def test_bitwise_reproducible_with_same_seed():
    train = toy_data(192)
    m1, m2, m3 = toy_model(), toy_model(), toy_model()
    h1 = train_classifier(m1, train, None, epochs=2, batch_size=16, seed=5, progress=False)
    h2 = train_classifier(m2, train, None, epochs=2, batch_size=16, seed=5, progress=False)
    train_classifier(m3, train, None, epochs=2, batch_size=16, seed=6, progress=False)
    assert h1.equals(h2)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert any(not torch.equal(a, c) for a, c in zip(m1.state_dict().values(), m3.state_dict().values()))


def test_plain_dataset_path_matches_batched_path():
    train, test = toy_data(96), toy_data(64, 1)
    m1, m2 = toy_model(), toy_model()
    h1 = train_classifier(m1, train, test, epochs=1, batch_size=32, seed=1, progress=False)
    h2 = train_classifier(m2, PlainDataset(train), PlainDataset(test), epochs=1, batch_size=32, seed=1, progress=False)
    assert h1.equals(h2)
    assert evaluate(m1, PlainDataset(test), batch_size=7) == evaluate(m1, test)


def test_schedule_is_stepped_per_optimizer_step_and_reaches_targets():
    train = toy_data(128)
    model = freqlib.frequency_regularize(toy_model(), {"0.weight": 10, "3.weight": 40}, min_keep=0)
    schedule = freqlib.FrequencySchedule(model, steps=6, mode="geometric")
    assert freqlib.kept_coefficients(model) == 54 + 864
    history = train_classifier(model, train, None, epochs=3, batch_size=32, schedule=schedule, progress=False)
    assert schedule.t == 3 * steps_per_epoch(train, 32) == 12 and schedule.done
    assert history.kept.iloc[-1] == 50 == freqlib.kept_coefficients(model)
    assert history.kept.is_monotonic_decreasing


def test_train_fr_progressive_and_direct():
    train, test = toy_data(128), toy_data(64, 1)
    keep = {"0.weight": 20, "3.weight": 200}
    history = train_fr(
        toy_model(), keep, train, test, epochs=6, batch_size=32, schedule_fraction=0.3, lr=3e-2, progress=False
    )
    # 24 steps, the schedule descends over the first round(0.3 * 24) = 7: targets from epoch 2 on
    assert history.kept.iloc[0] > 220 and history.kept.tolist()[1:] == [220] * 5
    assert history.train_loss.iloc[-1] < 0.5 * history.train_loss.iloc[1]
    assert history.test_accuracy.iloc[-1] > 0.8
    direct = train_fr(toy_model(), 20, train, None, epochs=1, batch_size=32, schedule_fraction=0.0, progress=False)
    assert direct.kept.tolist() == [40]
    with pytest.raises(ValueError, match="schedule_fraction"):
        train_fr(toy_model(), 20, train, None, epochs=1, schedule_fraction=1.5, progress=False)


def test_cosine_anneals_to_zero_and_progress_summary(capsys):
    model = toy_model()
    history = train_classifier(
        model, toy_data(64), toy_data(32), epochs=2, batch_size=32, lr=0.1, cosine=True, desc="toy"
    )
    assert history.lr.iloc[0] == pytest.approx(0.05) and history.lr.iloc[-1] == pytest.approx(0.0, abs=1e-12)
    out, err = capsys.readouterr()
    assert out.startswith("toy: 2 epochs, 4 steps, train loss ") and "wall time: " in out
    assert "4/4" in err  # the tqdm bar went to stderr
    with pytest.raises(ValueError, match="epochs"):
        train_classifier(model, toy_data(8), None, epochs=0)
    with pytest.raises(ValueError, match="optimizer"):
        train_classifier(model, toy_data(8), None, epochs=1, optimizer="lbfgs", progress=False)


def test_keep_budget_lenet():
    model = LeNet5()
    split = keep_budget(model, 776)
    assert split == {"conv1.weight": 128, "conv2.weight": 128, "fc1.weight": 264, "fc2.weight": 256}
    for total in (4, 50, 200, 767, 768, 3000, 20000, 430_500):
        counts = keep_budget(model, total)
        assert sum(counts.values()) == total, total
        assert all(1 <= counts[n] <= p.numel() for n, p in model.named_parameters() if n in counts)
    big = keep_budget(model, 20000)
    assert big["fc1.weight"] > big["conv2.weight"] > big["conv1.weight"] == 128
    small = keep_budget(model, 384)  # half the floors: floors scaled down
    assert small == {"conv1.weight": 64, "conv2.weight": 64, "fc1.weight": 128, "fc2.weight": 128}
    freqlib.frequency_regularize(model, split, min_keep=0)
    assert freqlib.kept_coefficients(model) == 776
    assert keep_budget(model, 776) == split  # works on a converted model too
    for bad in (3, 430_501, 776.0):
        with pytest.raises(ValueError, match="keep_budget"):
            keep_budget(LeNet5(), bad)


def test_train_steps_runs_exactly_that_many_steps_and_checks_them():
    class Counter:
        calls = 0

        def step(self):
            Counter.calls += 1

    data = toy_data(100)  # 4 batches of 32 per epoch (the last one partial)
    history = train_steps(toy_model(), data, None, steps=6, batch_size=32, schedule=Counter(), progress=False)
    assert Counter.calls == 6 and list(history.steps) == [4, 6]
    with pytest.raises(ValueError, match="train_steps: steps must be a positive int"):
        train_steps(toy_model(), data, None, steps=0)
