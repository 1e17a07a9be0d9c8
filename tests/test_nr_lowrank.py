"""The NR paper's low-rank experiments (Figures 7, 8, 16, 18; Tables 5, 6): ranks, plans, monitoring, printed tables."""

import copy
import math
import re

import pandas as pd
import pytest
import torch
from torch import nn

from freqlib.data import ImageDataset
from freqlib.experiment import ChapterResult, ConfigError
from freqlib.experiments.nr import lowrank as lr
from freqlib.occasional import OccasionalRegularizer, export, low_rank, tiled_low_rank, tucker2
from freqlib.occasional.monitor import EventMonitor, probe_loss


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tiny models run fastest on one thread (and far faster when other processes share the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_images(n: int = 64, size: int = 8, seed: int = 0) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    return ImageDataset(images, torch.arange(n) % 10, "random images")


def brute_force_params(shape, tile, rank) -> int:
    """Numbers held by the factors tiled_low_rank actually computes."""
    w = torch.randn(shape)
    transform = (
        tiled_low_rank(tile, rank) if tile is not None else tiled_low_rank(max(shape[0], math.prod(shape[1:])), rank)
    )
    c = transform.compress(w)
    return sum(g.left.numel() + g.right.numel() for g in c.groups)


@pytest.mark.parametrize("shape", [(32, 16, 3, 3), (10, 7, 3, 3), (16, 16, 1, 1), (24, 8, 2, 2)])
@pytest.mark.parametrize("tile", [None, 32, 16, 8, 5])
def test_rank_for_compression_against_brute_force_counts(shape, tile):
    dense = math.prod(shape)
    for rank in (1, 2, 3, 8):  # the transforms' closed-form counts
        transform = low_rank(rank) if tile is None else tiled_low_rank(tile, rank)
        assert transform.stored_numbers(shape) == brute_force_params(shape, tile, rank)
    cap = min(tile or math.inf, shape[0], math.prod(shape[1:]))  # a rank above this changes nothing
    compressions = {r: dense / brute_force_params(shape, tile, r) for r in range(1, cap + 1)}
    for compression in (1.5, 2, 3, 4):
        feasible = [r for r, x in compressions.items() if x >= compression]
        if not feasible:
            with pytest.raises(ValueError, match=re.escape(f"shape {tuple(shape)}")):
                lr.svd_rank_for(shape, compression, tile)
            continue
        assert lr.svd_rank_for(shape, compression, tile) == max(feasible)


def test_table5_ranks_follow_from_the_formula():
    table = lr.paper_table5()
    ours = [lr.svd_rank_for((64, 64, 3, 3), r.compression, int(r.tile)) for r in table.itertuples()]
    assert ours == list(table["rank"]) == [16, 8, 4, 2, 8, 4, 2, 1]
    for r in table.itertuples():  # whole tiles: exactly k / (2 r)
        assert 9 * 64 * 64 / tiled_low_rank(int(r.tile), int(r.rank)).stored_numbers((64, 64, 3, 3)) == r.compression
    assert lr.tucker_compression(0.5, (64, 64, 3, 3)) == pytest.approx(2.77, abs=0.01)  # Fig. 8: 2.8
    numbers = lambda ranks: tucker2(ranks=ranks).stored_numbers((64, 64, 3, 3))  # noqa: E731
    rt, rs = lr.tucker_ranks_for((64, 64, 3, 3), 2.0)
    assert 9 * 64 * 64 / numbers((rt, rs)) >= 2 > 9 * 64 * 64 / numbers((rt + 1, rt + 1))
    with pytest.raises(ValueError, match="compression"):
        lr.svd_rank_for((64, 64, 3, 3), 0.5)
    assert lr.table5_ranks((64, 64, 3, 3))["our compression"].tolist() == [2.0] * 4 + [4.0] * 4


def test_printed_tables_parse():
    t5 = lr.paper_table5()
    assert t5.set_index(["compression", "tile"]).loc[(2, 64), "accuracy"] == 93.34
    assert t5.set_index(["compression", "tile"]).loc[(4, 8), "accuracy"] == 92.81
    assert set(t5.pretrained) == {92.63}
    t6 = lr.paper_table6()
    assert len(t6) == 10
    row = t6[(t6.scheme == "tucker") & (t6.R_c == 0.45)].iloc[0]
    assert (row.weights_M, row.weights_compression, row.flops_M, row.accuracy) == (5.49, 3.45, 191.77, 91.36)
    row = t6[(t6.scheme == "tiled_svd") & (t6["rank"] == 11)].iloc[0]
    assert (row.tile, row.weights_M, row.flops_reduction, row.accuracy) == (64, 6.52, 3.02, 92.33)
    assert t6[t6.scheme == "pre-trained"].accuracy.item() == 92.37
    f19 = lr.paper_fig19()
    assert f19.loc["tiled_svd", "top1"] == 73.00 and f19.loc["tucker", "top5"] == 90.73
    assert f19.loc["pre-trained", "top1"] == 73.26 and f19.loc["tucker", "compression"] == 3.1


def test_layer_selections_of_resnet32():
    model = lr.build_resnet(5, 1.0)
    assert len(lr.convs(model)) == 30  # every conv but the stem (Table 7: 31 convs)
    big = lr.largest_convs(model)
    assert len(big) == 9 and all(tuple(model.get_submodule(n).weight.shape) == (64, 64, 3, 3) for n in big)
    narrow = lr.build_resnet(5, 0.5)
    assert len(lr.largest_convs(narrow)) == 9 and narrow.layer3[1].conv1.weight.shape == (32, 32, 3, 3)


def test_typical_tucker_model_has_the_ranks_and_starts_where_tucker2_does():
    torch.manual_seed(0)
    model = lr.build_resnet(1, 1.0).eval()
    names = lr.convs(model)
    typical = lr.typical_model(model, lr.tucker_plan(model, names, rc=0.5)).eval()
    for n in names:
        weight = model.get_submodule(n).weight
        first, middle, last = typical.get_submodule(n)
        t, s = weight.shape[:2]
        assert first.weight.shape == (round(s / 2), s, 1, 1)
        assert middle.weight.shape == (round(t / 2), round(s / 2), 3, 3)
        assert last.weight.shape == (t, round(t / 2), 1, 1)
        assert all(p.requires_grad for p in typical.get_submodule(n).parameters())
    reference = copy.deepcopy(model)
    with torch.no_grad():
        for n in names:
            w = reference.get_submodule(n).weight
            w.copy_(tucker2(0.5)(w))
    x = torch.randn(4, 3, 8, 8)
    torch.testing.assert_close(typical(x), reference(x), rtol=1e-4, atol=1e-4)


def test_monitor_records_one_pre_post_pair_per_event_and_the_delta_w_definition():
    torch.manual_seed(0)
    data = tiny_images(48)
    model = lr.build_resnet(1, 0.5)
    names = lr.convs(model)
    regs = lr.occasional_regularizers(model, lr.tucker_plan(model, names, compression=2.0), period=3)
    probe = lr.probe_batch(data, 16)
    monitor = EventMonitor(model, regs, 3, probe, data)
    snapshots = {}

    class Spy:  # records the weights right before each event
        def step(self):
            if regs[0].due(regs[0].step_count + 1):
                snapshots[regs[0].step_count + 1] = {n: model.get_submodule(n).weight.detach().clone() for n in names}

    lr.fine_tune(model, data, steps=9, lrs=[0.05], fractions=[1], batch_size=16, steppers=[Spy(), monitor])
    frame = monitor.frame()
    assert list(frame.step) == [3, 6, 9] and [len(r.history) for r in regs] == [3] * len(regs)
    assert (frame.loss_post != frame.loss_pre).all()
    assert frame["dL/L"].tolist() == pytest.approx(((frame.loss_post - frame.loss_pre) / frame.loss_pre).tolist())
    before = snapshots[9]  # the weights right before the last event; the model now holds those right after it
    after = {n: model.get_submodule(n).weight.detach() for n in names}
    squares = sum((before[n].double() - after[n].double()).square().sum() for n in names)
    direct = float(squares / sum(w.numel() for w in before.values()))
    assert frame.dw.iloc[-1] == pytest.approx(direct, rel=1e-6)
    assert probe_loss(model, probe) == pytest.approx(frame.loss_post.iloc[-1], rel=1e-6)


def test_monitor_without_regularizers_and_bad_periods():
    data = tiny_images(32)
    model = lr.build_resnet(1, 0.25)
    monitor = EventMonitor(model, [], 2, lr.probe_batch(data, 8), None)
    lr.fine_tune(model, data, steps=5, lrs=[0.01], fractions=[1], batch_size=16, steppers=[monitor])
    frame = monitor.frame()
    assert list(frame.step) == [2, 4] and (frame.loss_pre == frame.loss_post).all() and (frame.dw == 0).all()
    reg = OccasionalRegularizer(model, tucker2(0.5), 3, modules=lr.convs(model))
    with pytest.raises(ValueError, match="periods \\[3\\]"):
        EventMonitor(model, [reg], 2, lr.probe_batch(data, 8))
    with pytest.raises(ValueError, match="multiple of pNR"):
        lr.train_compressed(
            model, "occasional", [], data, data, steps=5, period=2, lrs=[0.1], fractions=[1], batch_size=16,
            input_shape=(1, 3, 8, 8),
        )  # fmt: skip
    with pytest.raises(ValueError, match="input channels S = 4"):
        lr.tiled_plan(model, lr.convs(model), {8: 4, 16: 4}, compression=2)
    assert lr.phases(10, [0.1, 0.01, 0.001], [0.5, 0.25, 0.25]) == [(0.1, 5), (0.01, 3), (0.001, 2)]


def test_tiny_run_returns_the_expected_columns():
    data = tiny_images(64)
    out = lr.run_resnet(
        data, data, blocks=1, width=0.25, pretrain_steps=2, steps=4, period=2, batch_size=32, rcs=[0.5],
        probe_size=16, tiles=[4, 2], table5_compressions=[2], fig18_compressions=[2], fig18_tiles=[[4, 8, 16]],
        progress=False,
    )  # fmt: skip
    row_columns = {"method", "accuracy", "events", "weights", "weights compressed", "macs", "compression", "train s"}
    assert row_columns <= set(out["fig7"].columns) and {"rc"} <= set(out["fig7"].columns)
    assert list(out["fig7"].method) == ["typical", "occasional"]
    assert list(out["fig7"].events) == [0, 2]
    assert list(out["table5"]["rank"]) == [1] and list(out["table5"].tile) == [4]
    assert any("2x2 tiles" in s for s in out["skipped"])  # a 2x2 tile of rank 1 stores 4 numbers: 1x at best
    assert list(out["fig18"].scheme) == ["Tucker (typical)", "SVD (occasional)", "tiled SVD (4, 8, 16) (occasional)"]
    assert (out["fig18"].compression >= 2).all()
    occasional = out["fig7"][out["fig7"].method == "occasional"].iloc[0]
    assert occasional.accuracy == pytest.approx(occasional["accuracy dense"], abs=1 / 64)
    frames = out["fig8"]
    assert set(frames) == {"typical", "occasional"} and list(frames["occasional"].step) == [2, 4]
    assert isinstance(frames["typical"], pd.DataFrame)


def test_model_size_counts_every_layer():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    weights, macs = lr.dense_counts(model, (1, 3, 4, 4))
    assert weights == 8 * 27 + 1280 and macs == 8 * 27 * 16 + 1280


def test_tiny_vgg_run_compresses_the_hidden_fc_layers_first(tmp_path):
    data = tiny_images(32, size=32)
    out = lr.run_vgg(
        data, data, width=1 / 16, dropout=0.0, pretrain_steps=2, fc_steps=2, steps=2, period=2, batch_size=16,
        rcs=[0.5], tile=8, progress=False,
    )  # fmt: skip
    assert out["fc compression"] == 8.0  # two 32 x 32 layers at rank 2
    assert "classifier.6 (10 x 32, the output layer) left dense" in out["fc dense"][0]
    table = out["table6"]
    assert list(table.scheme) == ["Tucker (typical)", "tiled SVD 8x8 (occasional)"]
    tucker, tiled = table.iloc[0], table.iloc[1]
    assert tiled["compression"] >= tucker["compression"] and tiled["rank"] == 1
    assert out["base"]["weights"] > tucker["weights compressed"]
    missing = lr.imagenet_missing(tmp_path, "cpu")
    assert len(missing) == 4 and "imagenet/train" in missing[0] and "GPU" in missing[-1]
    with pytest.raises(FileNotFoundError, match="Figure 19 needs"):
        lr.run_imagenet(tmp_path, device="cpu")


def test_figure_19_runs_end_to_end_on_a_tiny_image_folder(tmp_path):
    """run_imagenet on 2 classes x 2 random JPEGs (CPU, one step per scheme and pNR 1): the pipeline of
    the paper profile, not its numbers."""
    import numpy as np
    from PIL import Image
    from torchvision.models import resnet34

    for split in ("train", "val"):
        for c in ("n01", "n02"):
            folder = tmp_path / lr.IMAGENET_LAYOUT[split] / c
            folder.mkdir(parents=True)
            for i in range(2):
                pixels = np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.JPEG")
    with pytest.raises(FileNotFoundError, match="a pre-trained ResNet-34"):
        lr.run_imagenet(tmp_path, device="cpu", allow_cpu=True)
    torch.manual_seed(0)
    torch.save(resnet34(weights=None).state_dict(), tmp_path / lr.IMAGENET_LAYOUT["weights"])
    with pytest.raises(FileNotFoundError, match="a GPU"):
        lr.run_imagenet(tmp_path, device="cpu")
    rows = lr.run_imagenet(tmp_path, epochs=1, batch_size=4, period=1, device="cpu", allow_cpu=True)
    assert list(rows.scheme) == ["pre-trained", "tucker", "tiled_svd"]
    assert rows.compression.iloc[0] == 1.0 and (rows.compression.iloc[1:] > 2.5).all()
    assert rows[["top1", "top5"]].apply(lambda v: v.between(0, 100)).all().all()


@pytest.mark.parametrize("setting", [{"scheme": "tucker", "rc": 0.4}, {"scheme": "tiled_svd", "tile": 8, "rank": 2}])
def test_architecture_counts_equal_the_exported_models(setting):
    """compressed_counts (closed form) against export's report, on a model with a strided 3x3 conv."""
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 24, 3, stride=2, padding=1),
                          nn.Conv2d(24, 24, 3, padding=1), nn.Conv2d(24, 8, 1))  # fmt: skip
    shape = (1, 3, 12, 12)
    names = lr.convs(model, min_in=16)
    assert names == ["1", "2"]
    transform = tucker2(setting["rc"]) if setting["scheme"] == "tucker" else tiled_low_rank(8, 2)
    _, report = export(model, transform, modules=names, input_shape=shape)
    sizes = lr.architecture_sizes(model, shape, [setting], min_in=16)
    dense, ours = sizes.iloc[0], sizes.iloc[1]
    assert ours.weights == report.compressed_bytes.sum() / 4 and dense.weights == report.dense_bytes.sum() / 4
    assert ours.macs == report.compressed_macs.sum() and dense.macs == report.dense_macs.sum()
    first = 16 * 3 * 9  # the uncompressed kernel conv; the 1x1 conv is not counted
    assert ours["all weights"] == first + ours.weights
    assert ours["all weights compression"] == pytest.approx((first + dense.weights) / (first + ours.weights))
    assert ours["dense share (%)"] == pytest.approx(100 * first / ours["all weights"])
    with pytest.raises(ValueError, match="scheme must be dense, tucker or tiled_svd, got 'svd'"):
        lr.compressed_counts((8, 8, 3, 3), 4, 4, "svd")


def test_table6_sizes_match_the_printed_units_and_tiles():
    sizes = lr.table6_sizes().set_index("parameter")
    assert len(sizes) == 10
    pre = sizes.loc["-"]
    assert pre.weights_M == pytest.approx(18.98, abs=0.005)  # convs with S >= 128, in 2^20 numbers
    assert pre.flops_M == pytest.approx(648.0) and pre["flops_M paper"] == 647.87  # 2 MACs / 2^20
    tiled = sizes[sizes.scheme == "tiled_svd"]
    assert tiled.weights_compression.tolist() == pytest.approx([64 / (2 * r) for r in (16, 11, 10, 9, 8)])
    assert tiled.flops_reduction.tolist() == pytest.approx(tiled.weights_compression.tolist())
    gap = (tiled.weights_M - tiled["weights_M paper"]).abs()
    assert gap.drop("64x64 (r=9)").max() < 0.011 and gap["64x64 (r=9)"] > 0.2  # the printed r=9 row is off


def test_fig19_sizes_give_about_3_1x_over_all_kernel_convolutions():
    sizes = lr.fig19_sizes().set_index("scheme")
    assert sizes.loc["dense", "weights"] == 20_791_296  # Table 9's decomposed rows: 0.98+0.28+6.18+1.13+11.25 M(2^20)
    assert (
        sizes.loc["dense", "all weights"] - sizes.loc["dense", "weights"]
        == 64 * 3 * 49 + 6 * 64 * 64 * 9 + 128 * 64 * 9
    )
    assert sizes.loc["tiled_svd", "weights compression"] == pytest.approx(3.2)
    assert sizes.loc["tiled_svd", "all weights compression"] == pytest.approx(3.10, abs=0.005)
    assert sizes.loc["tucker", "all weights compression"] == pytest.approx(3.06, abs=0.005)
    assert sizes.loc["dense", "dense share (%)"] == pytest.approx(1.44, abs=0.005)  # the paper: "1.4% of the model"


def tiny_config(**changes) -> lr.Config:
    """Both models at their smallest: ResNet-8 x0.25 (8x8 images) and VGG19 x1/16 on 64 / 32 images."""
    values = dict(train_subset=64, test_subset=32, blocks=1, pretrain_steps=2, steps=4, period=2, probe_size=16,
                  tiles=(4, 2), vgg_pretrain_steps=2, vgg_fc_steps=2, vgg_steps=2, vgg_period=2)  # fmt: skip
    return lr.Config(**(values | changes))


def test_run_on_a_tiny_config():
    cfg = tiny_config()
    result = lr.run(cfg, progress=False)
    models = result.table("models").set_index("model")
    assert models.name.tolist() == ["ResNet-8 x0.25", "VGG19 x0.0625"] and models.image.tolist() == ["8x8", "32x32"]
    assert models["test images"].tolist() == [32, 32] and models.loc["vgg19", "fc compression"] == 8.0
    assert models.loc["resnet", "data"].startswith("stand-in: Fashion-MNIST instead of CIFAR-10")
    assert [b.value for b in result.baselines] == models["pretrained accuracy"].tolist()
    assert [b.target for b in result.baselines] == [0.85, 0.85]  # the Fashion-MNIST stand-in's target
    assert result.table("fig7").method.tolist() == ["typical", "occasional"]
    fig8 = result.table("fig8")
    assert fig8.method.tolist() == ["typical"] * 2 + ["occasional"] * 2 and fig8.step.tolist() == [2, 4, 2, 4]
    t5 = result.table("table5")
    assert t5["target compression"].tolist() == [2] and t5.tile.tolist() == [4] and t5["rank"].tolist() == [1]
    assert list(result.table("table5 ours").columns) == ["layers", "pre-trained (%)", "4x4"]
    assert result.table("table5 paper").loc[2, "64x64"] == "93.34 (r=16)"
    assert (result.table("fig18").compression >= 2).all() and len(result.table("fig18")) == 3
    assert result.table("table6").scheme.tolist() == ["Tucker (typical)", "tiled SVD 8x8 (occasional)"]
    assert result.table("table6 ours").scheme.iloc[0] == "pre-trained, FC compressed"
    notes = result.table("notes")
    assert notes.part.tolist() == ["Table 5 / Figure 18", "Table 6, FC stage", "Figure 19"]
    assert "2x2 tiles" in notes.note.iloc[0] and "a GPU" in notes.note.iloc[-1]  # a 2x2 tile of rank 1: 1x at best
    assert "fig19" not in result.tables and len(result.table("table6 sizes")) == 10
    results = result.table("results")  # what freqlib experiment nr_lowrank prints
    assert results.part.tolist() == ["models"] * 2 + ["fig7"] * 2 + ["table5"] + ["fig18"] * 3 + ["table6"] * 2
    assert set(result.timings) == {"ResNet pre-training", "ResNet fine-tuning runs", "VGG19 pre-training", "VGG19 runs"}
    assert result.objects["stand-ins"][-1].startswith("ResNet-8 with widths (4, 8, 16)")
    rows = lr.claims(result, cfg)
    trained = [c for c in rows if c.kind == "trained" and c.verdict != "not comparable"]
    assert trained and all(c.verdict == "undecided" for c in trained)  # untrained baselines: no power
    assert [c.row() for c in lr.claims(ChapterResult(tables=dict(result.tables)), cfg)] == [c.row() for c in rows]
    for plot in (lr.plot_fig7, lr.plot_fig8, lr.plot_fig16, lr.plot_fig18):
        assert plot(result, cfg).axes


def test_run_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"steps \(5\) must be a multiple of period \(2\)"):
        lr.run(tiny_config(steps=5))
    with pytest.raises(ValueError, match="vgg_period must be a positive int"):
        lr.run(tiny_config(vgg_period=0))
    with pytest.raises(ConfigError, match=r"Config \(nr_lowrank\): profile 'cpu' sets unknown parameter\(s\) 'ratio'"):
        lr.Config.for_profile("cpu", {"ratio": 2})
    cpu = lr.Config.for_profile("cpu")  # notebooks/profiles.yml
    assert cpu.table5_compressions == [2, 4] and cpu.width == 0.5 and not cpu.paper_models
    assert lr.Config.for_profile("paper").paper_models
