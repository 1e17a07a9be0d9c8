"""Segmentation: the stand-in's exact masks, the Carvana loader, Dice, training, the UNet experiment."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

import freqlib
from freqlib.data import DatasetMissing
from freqlib.experiment import ConfigError
from freqlib.experiments import RESULT_COLUMNS
from freqlib.experiments.fr import segment
from freqlib.segmentation import (
    SegmentationDataset,
    carvana,
    dice,
    evaluate_dice,
    soft_dice_loss,
    stand_in,
    train_segmenter,
)


def recompose(ds: SegmentationDataset, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``i`` rebuilt in float64 numpy from its parts: (image before rounding (3, H, W) in [0, 255], mask)."""
    parts = ds.parts
    x = parts["backgrounds"][i].numpy().astype(np.float64) / 255.0
    mask = np.zeros(x.shape[1:], dtype=bool)
    for layer in parts["layers"][i]:
        item = parts["fashion"][layer.item][None, None].float()
        resized = F.interpolate(item, size=(layer.side, layer.side), mode="bilinear", antialias=True)[0, 0]
        alpha = resized.round().clamp(0, 255).numpy().astype(np.float64) / 255.0
        pasted = alpha > parts["threshold"]
        rows, cols = slice(layer.top, layer.top + layer.side), slice(layer.left, layer.left + layer.side)
        color = np.asarray(layer.color, dtype=np.float64)[:, None, None]
        region = x[:, rows, cols]
        x[:, rows, cols] = np.where(pasted, (1 - layer.opacity) * region + layer.opacity * color * alpha, region)
        mask[rows, cols] |= pasted
    return 255.0 * x, mask


def test_stand_in_masks_are_exactly_the_pasted_pixels():
    ds = stand_in(16, 32, seed=3, items=(1, 3))
    assert ds.images.shape == (16, 3, 32, 32) and ds.images.dtype == torch.uint8
    x, y = ds[:]
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and y.shape == (16, 32, 32)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and set(y.unique().tolist()) == {0, 1}
    counts = [len(layers) for layers in ds.parts["layers"]]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) > 1
    for i in range(len(ds)):
        reference, mask = recompose(ds, i)
        ours = ds.masks[i].numpy().astype(bool)
        np.testing.assert_array_equal(ours, mask)  # the mask is exactly the union of pasted pixels
        image, background = ds.images[i].numpy(), ds.parts["backgrounds"][i].numpy()
        np.testing.assert_array_equal(image[:, ~mask], background[:, ~mask])  # nothing else changed
        assert np.abs(image[:, mask].astype(np.float64) - reference[:, mask]).max() <= 0.5 + 1e-3
        assert (image != background).any(0)[mask].mean() > 0.9  # pasted pixels are visibly changed
        for layer in ds.parts["layers"][i]:
            assert 0 <= layer.top <= 32 - layer.side and 0 <= layer.left <= 32 - layer.side
    assert 0.05 < ds.foreground() < 0.8


def test_stand_in_is_deterministic_by_seed_and_split():
    a, b = stand_in(6, 24, seed=5), stand_in(6, 24, seed=5)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    c = stand_in(6, 24, seed=6)
    assert not torch.equal(a.images, c.images)
    test = stand_in(6, 24, seed=5, split="test")  # same seed, Fashion-MNIST test items
    assert torch.equal(test.parts["backgrounds"][0], a.parts["backgrounds"][0]) and not torch.equal(test.masks, a.masks)
    sub = a.subset(3, seed=1)
    assert len(sub) == 3 and all(any(torch.equal(s, t) for t in a.images) for s in sub.images)


def test_stand_in_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n must be a positive int"):
        stand_in(0)
    with pytest.raises(ValueError, match="items must be"):
        stand_in(2, items=(2, 1))
    with pytest.raises(ValueError, match="threshold"):
        stand_in(2, threshold=1.5)
    with pytest.raises(ValueError, match="unknown background"):
        stand_in(2, backgrounds=["no_such_picture"])


def dice_coeff_reference(pred: torch.Tensor, target: torch.Tensor, epsilon: float = 1e-6) -> torch.Tensor:
    """Pytorch-UNet's dice_coeff (per image, then the mean), on one-hot float foreground maps."""
    inter = 2 * (pred * target).sum(dim=(-1, -2))
    sets_sum = pred.sum(dim=(-1, -2)) + target.sum(dim=(-1, -2))
    sets_sum = torch.where(sets_sum == 0, inter, sets_sum)
    return ((inter + epsilon) / (sets_sum + epsilon)).mean()


def test_dice_hand_computed():
    target = torch.tensor([[[1, 0], [0, 0]], [[1, 1], [1, 0]], [[0, 0], [0, 0]], [[0, 1], [0, 0]]])
    pred = torch.tensor([[[1, 1], [0, 0]], [[1, 1], [0, 1]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]])
    # image 0: 2*1/(2+1); image 1: 2*2/(3+3); image 2: both empty -> 1; image 3: prediction empty -> 0
    expected = torch.tensor([2 / 3, 2 / 3, 1.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(dice(pred, target, reduce="none"), expected)
    assert dice(pred, target).item() == pytest.approx((2 / 3 + 2 / 3 + 1) / 4)
    assert dice(pred.bool(), target).item() == pytest.approx(dice(pred, target).item())
    logits = torch.stack([1 - pred, pred], 1).float() * 3.0 - 1.0  # argmax over the class axis gives pred
    torch.testing.assert_close(dice(logits, target, reduce="none"), expected)
    reference = dice_coeff_reference(pred.float(), target.float())
    assert dice(pred, target).item() == pytest.approx(reference.item(), abs=1e-6)
    assert dice(target, target).item() == 1.0
    assert dice(1 - target, target, reduce="none")[:2].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="ambiguous"):
        dice(pred.float(), target)
    with pytest.raises(ValueError, match="logits"):
        dice(pred[:, :1], target)


def test_soft_dice_loss_is_zero_for_confident_right_logits():
    target = torch.randint(0, 2, (2, 8, 8))
    logits = torch.stack([1 - target, target], 1).float() * 40.0
    assert soft_dice_loss(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_dice_loss(-logits, target).item() == pytest.approx(1.0, abs=1e-6)


def red_task(n: int, seed: int) -> SegmentationDataset:
    """Foreground = pixels whose red channel is above 127: learnable by a 1x1 convolution."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
    return SegmentationDataset(images, (images[:, 0] > 127).to(torch.uint8), "red")


def test_train_segmenter_learns_and_is_reproducible():
    train, test = red_task(64, 0), red_task(32, 1)

    def model():
        torch.manual_seed(0)
        return nn.Conv2d(3, 2, 1)

    m1, m2 = model(), model()
    before = evaluate_dice(m1, test)
    h1 = train_segmenter(m1, train, test, epochs=3, batch_size=8, lr=0.3, progress=False)
    h2 = train_segmenter(m2, train, test, epochs=3, batch_size=8, lr=0.3, progress=False)
    assert list(h1.columns) == ["epoch", "steps", "train_loss", "test_dice", "kept", "lr"]
    assert h1.steps.tolist() == [8, 16, 24] and (h1.kept == 0).all() and h1.lr.iloc[-1] == pytest.approx(0.0)
    assert h1.equals(h2) and h1.attrs["train_s"] > 0
    assert h1.test_dice.iloc[-1] > max(0.9, before) and h1.train_loss.iloc[-1] < h1.train_loss.iloc[0]
    assert evaluate_dice(m1, test, batch_size=5) == pytest.approx(h1.test_dice.iloc[-1])
    x, y = test[:]
    assert evaluate_dice(m1, test) == pytest.approx(dice(m1(x), y).item())
    with pytest.raises(ValueError, match="optimizer must be one of 'adam', 'sgd', 'rmsprop'; got 'lbfgs'"):
        train_segmenter(model(), train, None, epochs=1, optimizer="lbfgs", progress=False)


def write_carvana(root, names, size=(8, 12)):
    (root / "train").mkdir(parents=True)
    (root / "train_masks").mkdir()
    g = np.random.default_rng(0)
    for name in names:
        image = g.integers(0, 256, (2 * size[0], 2 * size[1], 3), dtype=np.uint8)
        Image.fromarray(image).save(root / "train" / f"{name}.jpg")
        small = g.integers(0, 2, size).astype(np.uint8)
        Image.fromarray(np.kron(small, np.ones((2, 2), np.uint8))).save(root / "train_masks" / f"{name}_mask.gif")
        np.save(root / f"{name}.npy", small)


def test_carvana_loader_on_a_tiny_folder(tmp_path):
    write_carvana(tmp_path, ["car_01", "car_02"])
    train, test = carvana("train", tmp_path, (8, 12)), carvana("test", tmp_path, (8, 12))
    assert len(train) == 1 and len(test) == 1 and train.shape == (1, 3, 8, 12)
    x, y = test[:]
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and y.shape == (1, 8, 12)
    masks = {tuple(np.load(tmp_path / f"{n}.npy").ravel()) for n in ("car_01", "car_02")}
    assert {tuple(train.masks[0].ravel().tolist()), tuple(test.masks[0].ravel().tolist())} == masks
    assert "Carvana train" in train.name and "8x12" in train.name
    assert carvana("train", tmp_path, 4).shape == (1, 3, 4, 4)


def test_carvana_missing_data_errors(tmp_path):
    with pytest.raises(DatasetMissing, match="no data_dir given"):
        carvana("train", None)
    with pytest.raises(DatasetMissing, match=r"train_masks/<id>_mask\.gif") as err:
        carvana("train", tmp_path)
    assert str(tmp_path / "train") in str(err.value) and "paper profile of the unet notebook" in str(err.value)
    write_carvana(tmp_path / "partial", ["a", "b"])
    (tmp_path / "partial" / "train_masks" / "b_mask.gif").unlink()
    with pytest.raises(DatasetMissing, match="b_mask.gif"):
        carvana("train", tmp_path / "partial")
    with pytest.raises(ValueError, match="split"):
        carvana("val", tmp_path)


def test_unet_variants_keep_counts():
    model = segment.convert(segment.build_unet(17), "fr-759")
    table = freqlib.parameter_table(model)
    assert table.loc["total", "Rem. NoP."] == 759 and (table["Rem. NoP."].iloc[:-1] == 33).all()
    assert len(table) == 24  # 23 weights + total, as in the released checkpoint
    with pytest.raises(ValueError, match="outc.conv.weight has only 32"):
        segment.convert(segment.build_unet(16), "fr-759")
    assert segment.build_unet.__defaults__ == (segment.PAPER_WIDTH,)  # full width: freqlib.models.UNet itself
    assert segment.build_unet(8)(torch.rand(2, 3, 16, 16)).shape == (2, 2, 16, 16)


def test_run_on_a_tiny_config():
    cfg = segment.Config(size=16, width=17, train_size=8, test_size=4, batch_size=4)
    result = segment.run(cfg, progress=False)
    table = result.table("results")
    assert list(table.columns) == [*RESULT_COLUMNS, *segment.EXTRA_COLUMNS]
    assert table.variant.tolist() == ["dense", "fr-759"] and (table.metric == "Dice").all()
    dense, fr = table.iloc[0], table.iloc[1]
    assert dense.kept == dense.original and fr.kept == 759 and fr.compression == pytest.approx(dense.original / 759)
    assert fr["file bytes"] < 2_000 < dense["file bytes"]
    assert table.value.between(0, 1).all() and dense.value == dense["trained value"]
    assert (table["value se"] >= 0).all() and table["value se"].lt(float("inf")).all()
    assert table.data.str.startswith("stand-in").all()
    assert result.table("architecture")["value"].to_dict() == segment.architecture_claims()
    data = result.table("data")
    assert data.split.tolist() == ["train", "test"] and data.images.tolist() == [8, 4]
    assert (data["data set"] == "stand-in").all() and data.foreground.between(0, 1).all()
    dice_table = result.table("dice")
    assert dice_table["drop vs dense (pp)"].tolist() == pytest.approx([0.0, round(100 * (dense.value - fr.value), 2)])
    assert result.table("history").variant.tolist() == ["dense", "fr-759"] and set(result.timings) == {
        "dense",
        "fr-759",
    }
    assert [b.value for b in result.baselines] == [dense.value] and result.baselines[0].target == 0.9
    assert set(result.objects["models"]) == {"dense", "fr-759"} and len(result.objects["test"]) == 4
    assert len(segment.plot_data(result, cfg).axes) == 4 and len(segment.plot_predictions(result, cfg).axes) == 12
    assert len(segment.plot_history(result, cfg).axes) == 1
    assert [c.kind for c in segment.claims(result, cfg)][-2:] == ["trained", "trained"]


def test_run_rejects_bad_arguments(capsys):
    with pytest.raises(ValueError, match="unknown: \\['v7'\\]"):
        segment.run(segment.Config(variants=("dense", "v7")))
    with pytest.raises(ConfigError, match=r"Config \(unet\): profile 'cpu' sets unknown parameter\(s\) 'epoch'"):
        segment.Config.for_profile("cpu", {"epoch": 3})
    assert segment.Config.for_profile("cpu").train_size == 384  # notebooks/profiles.yml
    cfg = segment.Config(data="carvana", fallback_size=16, train_size=4, test_size=2)
    train, test, label, data = segment.chapter_data(cfg)  # no data_dir: the stand-in at fallback_size
    assert "no data_dir given" in capsys.readouterr().out
    assert data == "stand-in" and train.shape == (4, 3, 16, 16) and len(test) == 2 and label.startswith("stand-in")


DDP_SCRIPT = """
import sys
import torch
from torch import nn
from freqlib import distributed
from freqlib.segmentation import SegmentationDataset, evaluate_dice, train_segmenter

def red(n, seed):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8, generator=g)
    return SegmentationDataset(images, (images[:, 0] > 127).to(torch.uint8), "red")

torch.set_num_threads(1)
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
history = train_segmenter(model, red(60, 0), red(30, 1), epochs=2, batch_size=8, lr=0.3, device="cpu", progress=False)
torch.save({"history": history, "state": model.state_dict(), "dice": evaluate_dice(model, red(30, 1), batch_size=7)},
           f"{sys.argv[1]}/rank{distributed.rank()}.pt")
"""


def test_train_segmenter_under_torchrun(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "ddp.py").write_text(DDP_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run([*cmd, str(tmp_path / "ddp.py"), str(tmp_path)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("train: 2 epochs, 16 steps on 2 processes") == 1  # rank 0 alone prints
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert r0["history"].equals(r1["history"]) and r0["history"].steps.tolist() == [8, 16]
    for name, tensor in r0["state"].items():
        assert torch.equal(tensor, r1["state"][name]), name  # parameters and BatchNorm statistics agree
    assert r0["dice"] == r1["dice"] > 0.7
