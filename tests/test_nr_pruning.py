"""The NR paper's pruning experiment (Tables 1 and 3) and the step-limited, multi-stepper training loop."""

import math

import pandas as pd
import pytest
import torch

from freqlib.data import ImageDataset
from freqlib.experiment import ConfigError
from freqlib.experiments.nr import pruning as nr_pruning
from freqlib.models import LeNet5, LeNet300100
from freqlib.occasional import gradual_rate
from freqlib.train import train_classifier


def tiny_digits(n: int = 100, seed: int = 0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    return ImageDataset(images, torch.arange(n) % 10, "random digits")


def test_models_have_the_papers_weight_sizes():
    weights = {n: m.weight.numel() for n, m in LeNet300100().named_modules() if hasattr(m, "weight")}
    assert weights == {"fc1": 235_200, "fc2": 30_000, "fc3": 1_000}
    weights = {n: m.weight.numel() for n, m in LeNet5().named_modules() if hasattr(m, "weight")}
    assert weights == {"conv1": 500, "conv2": 25_000, "fc1": 400_000, "fc2": 5_000}
    assert LeNet300100()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_printed_tables_are_consistent_with_themselves():
    table = nr_pruning.paper_rates()
    for model, (build, names) in nr_pruning.MODELS.items():
        rows = table[table.model == nr_pruning.PAPER_NAMES[model]].set_index("layer")
        modules = dict(build().named_modules())
        sizes = {layer: modules[n].weight.numel() for n, layer in names.items()}
        weighted = sum(rows.loc[layer, "Ours"] * n for layer, n in sizes.items()) / sum(sizes.values())
        assert round(weighted, 1) == rows.loc["Total", "Ours"]
    assert list(nr_pruning.paper_accuracy().loc["LeNet-5"]) == [99.2, 99.1, 99.2, 99.1]


def test_targets_and_schedule():
    assert nr_pruning.targets("lenet-300-100") == pytest.approx({"fc1": 0.989, "fc2": 0.96, "fc3": 0.62})
    assert nr_pruning.targets("lenet-5")["conv1"] == pytest.approx(0.60)
    assert nr_pruning.schedule_for("lenet-5", 20_000) == {"period": 10, "p_i": 0.25, "E": 7, "t_i": 8000, "t_f": 12000}
    assert nr_pruning.schedule_for("lenet-300-100", 200) == {"period": 5, "p_i": 0.25, "E": 7, "t_i": 80, "t_f": 130}


def test_pruned_weights_train_freely_between_pruning_steps():
    torch.manual_seed(0)
    model = LeNet300100()
    regs = nr_pruning.pruners(model, {"fc3": 0.5}, period=3, p_i=0.5, t_i=0, t_f=1, E=7)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(32, 1, 28, 28), torch.arange(32) % 10
    zeros = []
    for _ in range(6):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        for reg in regs:
            reg.step()
        zeros.append(int((model.fc3.weight == 0).sum()))
    assert zeros[2] == zeros[5] == 500  # pruned at steps 3 and 6, exactly half of 1,000
    assert zeros[3] < 500  # the step after pruning moves pruned weights again
    assert [r["step"] for r in regs[0].history] == [3, 6]


@pytest.mark.parametrize("method", ["pnr", "every-step"])
def test_train_one_reaches_the_per_layer_targets_exactly(method):
    data = tiny_digits()
    model, history, row = nr_pruning.train_one("lenet-300-100", method, data, data, steps=40, batch_size=20)
    assert int(history.steps.iloc[-1]) == 40 and len(history) == 8
    for name, p_f in nr_pruning.targets("lenet-300-100").items():
        n = getattr(model, name).weight.numel()
        assert row[f"rate {name}"] == math.floor(p_f * n + 0.5) / n
    assert row["period"] == (5 if method == "pnr" else 1)
    assert 0.98 < row["rate"] < 0.99


def test_dense_method_prunes_nothing_and_bad_arguments_are_named():
    data = tiny_digits(40)
    _, _, row = nr_pruning.train_one("lenet-5", "dense", data, data, steps=4, batch_size=20)
    assert row["rate"] == 0 and row["period"] == 0
    with pytest.raises(ValueError, match="multiple of lenet-5's pNR"):
        nr_pruning.train_one("lenet-5", "pnr", data, data, steps=15, batch_size=20)
    with pytest.raises(ValueError, match="model_name must be one of"):
        nr_pruning.train_one("lenet-4", "pnr", data, data, steps=10)
    with pytest.raises(ValueError, match="method must be one of"):
        nr_pruning.train_one("lenet-5", "prune", data, data, steps=10)


def test_max_steps_stops_inside_an_epoch_and_steps_every_stepper():
    class Counter:
        def __init__(self):
            self.n = 0

        def step(self):
            self.n += 1

    data = tiny_digits(50)
    counters = [Counter(), Counter()]
    history = train_classifier(
        LeNet300100(), data, None, epochs=3, batch_size=20, max_steps=7, schedule=counters, progress=False
    )
    assert isinstance(history, pd.DataFrame)
    assert list(history.steps) == [3, 6, 7]  # 3 batches per epoch (the last one short)
    assert [c.n for c in counters] == [7, 7]
    with pytest.raises(ValueError, match="max_steps must be an int in \\[1, epochs"):
        train_classifier(LeNet300100(), data, None, epochs=1, batch_size=20, max_steps=4, progress=False)


def test_gradual_rate_matches_the_schedule_figure():
    s = nr_pruning.schedule_for("lenet-5", 20_000)
    assert gradual_rate(7_999, 0.25, 0.97, s["t_i"], s["t_f"], s["E"]) == 0
    assert gradual_rate(8_000, 0.25, 0.97, s["t_i"], s["t_f"], s["E"]) == 0.25
    assert gradual_rate(12_000, 0.25, 0.97, s["t_i"], s["t_f"], s["E"]) == 0.97


def test_run_on_a_tiny_config():
    cfg = nr_pruning.Config(models=("lenet-300-100",), train_subset=60, test_subset=40, steps=20)
    result = nr_pruning.run(cfg, progress=False)
    results = result.table("results")
    assert results.method.tolist() == list(nr_pruning.METHODS) and (results["test images"] == 40).all()
    assert (
        results.data.iloc[0]
        == "stand-in: Fashion-MNIST instead of MNIST; subset: 60 of 60,000 train, 40 of 10,000 test"
    )
    assert results.rate.iloc[0] == 0 and results.rate.iloc[1:].tolist() == pytest.approx([0.9843] * 2, abs=1e-4)
    assert result.table("data")[["train", "test"]].values.tolist() == [[60, 40]]
    assert result.table("schedule").loc["lenet-300-100", ["t_i", "t_f", "steps"]].tolist() == [8, 13, 20]
    table1 = result.table("table1")
    assert table1.layer.tolist() == ["FC1", "FC2", "FC3", "Total"] and table1.weights.tolist()[-1] == 266_200
    assert table1["reproduced"].tolist() == [98.9, 96.0, 62.0, 98.43]  # Table 1's rates, by construction
    table3 = result.table("table3")
    assert table3.index.tolist() == ["lenet-300-100"] and table3.loc["lenet-300-100", "Ours"] == 98.1
    assert table3.loc["lenet-300-100", "reproduced dense"] == round(100 * results.accuracy.iloc[0], 2)
    (base,) = result.baselines
    assert base.value == results.accuracy.iloc[0] and base.target == 0.85
    assert set(result.timings) == {"lenet-300-100 dense", "lenet-300-100 pnr", "lenet-300-100 every-step"}
    assert len(result.figures["schedule"]["lenet-300-100"]["fc1"]) == 21
    assert set(result.figures["weights"]) == {("lenet-300-100", "pnr"), ("lenet-300-100", "every-step")}
    assert result.figures["weights"]["lenet-300-100", "pnr"].size == 235_200 - round(0.989 * 235_200)
    assert not result.objects["models"]["lenet-300-100", "pnr"].training
    claims = nr_pruning.claims(result, cfg)
    assert [c.verdict for c in claims][:3] == ["reproduced", "reproduced", "by construction"]
    import matplotlib

    matplotlib.use("Agg")
    for plot in (nr_pruning.plot_schedule, nr_pruning.plot_history, nr_pruning.plot_weights):
        assert len(plot(result, cfg).axes) == 1


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown: \\['lenet-4'\\]"):
        nr_pruning.run(nr_pruning.Config(models=("lenet-4",)))
    with pytest.raises(ValueError, match="pruning variants must be a non-empty list"):
        nr_pruning.run(nr_pruning.Config(methods=("prune",)))
    with pytest.raises(ConfigError, match=r"Config \(nr_pruning\): profile 'cpu' sets unknown parameter\(s\) 'step'"):
        nr_pruning.Config.for_profile("cpu", {"step": 3})
