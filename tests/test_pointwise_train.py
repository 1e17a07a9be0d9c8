"""Paper 3's training chapter: strategy masks at a MAC target, FCMask learning, rounding, input-resolution
baseline, the transcribed tables and parameter errors (freqlib.experiments.pointwise.train)."""

import math

import pytest
import torch
from torch import nn

from freqlib.data import ImageDataset
from freqlib.experiments.pointwise import train as pt
from freqlib.pointwise import STRATEGIES, band_counts, convert, count_macs, fcmask_penalty, pointwise_layers


def tiny_images(n: int = 64, size: int = 8, seed: int = 0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    images = torch.randint(0, 60, (n, 3, size, size), generator=g, dtype=torch.uint8)
    images[:, labels % 3, : size // 2] += 150  # a learnable signal
    images = images.clone()
    for i, y in enumerate(labels):
        images[i, int(y) % 3, : size // 2] = 200
    return ImageDataset(images, labels, "tiny")


def tiny_net(channels: int = 16) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, channels, 3, padding=1),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 1),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, 4),
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_masks_reach_the_target_mac_reduction(strategy):
    dense = pt.build("mobilenetv2-small", seed=0)
    shape = (3, 16, 16)
    dense_macs = count_macs(dense, shape)
    model = convert(dense, 4)
    macs = pt.MacModel(model, shape)
    assert macs.total() == count_macs(model, shape)  # the analytic count agrees with a forward pass
    keep, reduction = pt.masks_for_reduction(model, strategy, 2.0, dense_macs, macs)
    measured = dense_macs / count_macs(model, shape)  # masks were set on the layers
    if strategy == "channel":  # plain channel pruning: no transforms to pay for
        assert measured < reduction == pytest.approx(dense_macs / macs.total(transforms=False))
        measured = reduction
    assert measured == pytest.approx(reduction)
    assert 0 < keep < 1
    tolerance = 0.5 if strategy in ("channel", "coefficient") else 0.05  # coarse strategies move in big steps
    assert 2.0 <= measured <= 2.0 + tolerance
    if strategy == "band":
        assert all(band_counts(m.kept_mask()) is not None for m in pointwise_layers(model).values())


def test_penalty_lowers_fcmask_and_rounding_gives_contiguous_bands():
    data = tiny_images()
    base = convert(tiny_net(), 4)
    shape = (3, 8, 8)
    dense_macs = count_macs(tiny_net(), shape)
    before = float(fcmask_penalty(base).detach())
    run = pt.train_pruned(
        base,
        data,
        data,
        scheme="learn-then-refine",
        lam=5.0,
        dense_macs=dense_macs,
        input_shape=shape,
        mask_steps=8,
        refine_steps=2,
        batch_size=16,
        mask_lr=0.05,
        snapshot_every=4,
        bn_images=32,
        progress=False,
    )
    learned = run.snapshots[8]
    assert before == 2.0 and float(fcmask_penalty(base).detach()) == 2.0  # the base model is left alone
    assert all(v.max() <= 1.0 and v.min() >= 0.0 for v in learned.values())
    assert sum(v.mean() for v in learned.values()) < 1.8  # lower than 2.0 after 8 steps
    for layer in pointwise_layers(run.model).values():
        counts = band_counts(layer.kept_mask())
        assert counts is not None  # contiguous low-frequency bands
        assert torch.equal(counts, torch.round(layer.fcmask.detach() * 16).long())
    assert run.row["reduction"] > 0 and 0 < run.row["kept"] < 1
    assert list(run.histograms.step) == [0, 4, 8, 10] and sorted(run.snapshots) == [0, 4, 8]
    assert run.mask_ends == [8] and (run.snapshots[4]["3"] >= learned["3"]).all()  # FCMask only falls
    assert run.histograms.drop(columns="step").sum(axis=1).eq(32).all()  # 2 layers x 16 channels
    assert list(run.history.phase) == ["mask"] * 8 + ["refine"] * 2


def test_alternate_splits_the_steps_into_cycles():
    data = tiny_images(32)
    base = convert(tiny_net(8), 4)
    run = pt.train_pruned(
        base,
        data,
        data,
        scheme="alternate",
        lam=1.0,
        dense_macs=1,
        input_shape=(3, 8, 8),
        mask_steps=5,
        refine_steps=4,
        cycles=2,
        batch_size=16,
        bn_images=16,
        progress=False,
    )
    assert list(run.history.phase) == ["mask"] * 3 + ["refine"] * 2 + ["mask"] * 2 + ["refine"] * 2
    assert run.mask_ends == [3, 7] and sorted(run.snapshots) == [0, 3, 7]


def test_input_resolution_mac_arithmetic():
    model = tiny_net()
    full = count_macs(model, (3, 16, 16))
    # every conv scales with the area, the 16 x 4 linear layer does not
    linear = 16 * 4
    assert count_macs(model, (3, 8, 8)) - linear == (full - linear) // 4
    r, reduction = pt.resolution_for_reduction(model, 16, 3.9)
    assert r == 8 and reduction == pytest.approx(full / count_macs(model, (3, 8, 8)))
    assert 3.9 <= reduction < 4.0  # the linear layer does not shrink
    assert pt.resolution_for_reduction(model, 16, 4.0)[0] == 7  # the largest r reaching the target
    r, reduction = pt.resolution_for_reduction(model, 16, 1.0)
    assert (r, reduction) == (16, 1.0)
    data = tiny_images(size=16)
    acc = pt.evaluate_at(model, data, 8)
    assert 0.0 <= acc <= 1.0


def test_transcribed_tables_hold_the_printed_numbers():
    t1 = pt.paper_table1()
    assert t1.loc["ResNeXt", "acc_degradation"] == 0.13 and t1.loc["ResNeXt", "mac_reduction"] == 2.4
    assert t1.loc["MobileNetV2", "acc_degradation"] == -0.07 and t1.loc["MobileNetV2", "mac_reduction"] == 2.0
    assert t1.loc["MobileNetV2", "baseline_accuracy"] == 94.2 and t1.loc["ResNeXt", "baseline_accuracy"] == 95.75
    t3 = pt.paper_table3()
    assert list(t3.loc["MobileNetV2"]) == [67.92, 67.04, 3.77, 4.3e7, 5.4e7]
    assert list(t1.loc["MobileNetV2", ["baseline_macs", "dct_macs"]]) == [8.9e7, 1.1e8]
    assert list(t1.loc["ResNeXt", ["baseline_macs", "dct_macs"]]) == [7.7e8, 8.4e8]
    # "less than a percent of top-1 accuracy reductions"
    assert t3.loc["MobileNetV2", "baseline_accuracy"] - t3.loc["MobileNetV2", "accuracy"] < 1
    # "reductions in top-1 accuracy below one fifth of a percent"
    assert (t1.acc_degradation < 0.2).all()


def test_table1_run_picks_the_run_nearest_2x():
    import pandas as pd

    runs = pd.DataFrame(
        {"scheme": ["learn-then-refine", "learn-then-refine", "alternate"], "lambda": [0.1, 1.0, 1.0]}
        | {"reduction": [1.2, 2.5, 2.0]}
    )
    assert pt.table1_run(runs)["lambda"] == 1.0 and pt.table1_run(runs).scheme == "learn-then-refine"
    assert math.isclose(pt.table1_run(runs)["reduction"], 2.5)


def test_bad_parameters_are_named():
    data = tiny_images(16)
    base = convert(tiny_net(8), 4)
    kw = dict(dense_macs=1, input_shape=(3, 8, 8), mask_steps=2, refine_steps=0, progress=False)
    with pytest.raises(ValueError, match="scheme"):
        pt.train_pruned(base, data, data, scheme="both", lam=1.0, **kw)
    with pytest.raises(ValueError, match="lam"):
        pt.train_pruned(base, data, data, scheme="alternate", lam=-1.0, **kw)
    with pytest.raises(ValueError, match="mask_steps"):
        pt.train_pruned(base, data, data, scheme="alternate", lam=1.0, **(kw | {"mask_steps": 0}))
    with pytest.raises(ValueError, match="cycles"):
        pt.train_pruned(base, data, data, scheme="alternate", lam=1.0, cycles=3, **kw)
    with pytest.raises(ValueError, match="model_name"):
        pt.build("mobilenetv3")
    with pytest.raises(ValueError, match="data"):
        pt.load_data("imagenet")
    with pytest.raises(ValueError, match="profile"):
        pt.Config(profile="gpu")
    with pytest.raises(ValueError, match="targets"):
        pt.resolution_for_reduction(tiny_net(), 16, 0.5)
    with pytest.raises(ValueError, match="strategy"):
        pt.masks_for_reduction(base, "random", 2.0, 1, pt.MacModel(base, (3, 8, 8)))
    with pytest.raises(ValueError, match="lambdas"):
        pt.Config(lambdas=())
    with pytest.raises(ValueError, match="schemes"):
        pt.Config(schemes=("both",))
    with pytest.raises(ValueError, match="data"):
        pt.Config(runs=(("mobilenetv2-small", "imagenet"),))
    with pytest.raises(ValueError, match="MacModel"):
        pt.MacModel(tiny_net(), (3, 8, 8))


def test_run_on_a_tiny_config():
    from freqlib.claims import Claim

    cfg = pt.Config(train_subset=64, test_subset=32, size=8, batch_size=32, max_steps=2, targets=(1.5,))
    cfg = cfg.replace(strategies=("channel", "band"), schemes=("learn-then-refine",), mask_steps=2, refine_steps=2)
    result = pt.run(cfg.replace(cycles=1, profile_images=16), progress=False)
    assert result.table("results").part.tolist() == ["dense", "sweep", "sweep", "sweep", "learned"]
    assert result.table("sweeps").strategy.tolist() == ["channel", "band", "input_res"]
    assert result.table("compare").columns.tolist() == ["model", "strategy", "1.5x"]
    data = result.table("data").iloc[0]
    assert data.data == "fashion_mnist" and data["test images"] == 32 and data["converted MACs"] > data["dense MACs"]
    assert result.table("macs").model.tolist() == ["mobilenetv2"] and len(result.table("learned")) == 1
    assert len(result.baselines) == 1 and result.baselines[0].value == data["dense accuracy"]
    assert set(result.timings) == {
        f"mobilenetv2-small {p}" for p in ("dense training", "strategy sweep", "learned runs")
    }
    assert "mobilenetv2-small" in result.figures["fig3"] and len(result.table("layers")) > 0
    rows = pt.claims(result, cfg)
    assert all(isinstance(c, Claim) for c in rows) and rows[0].claim.startswith("MACs of mobilenetv2")
