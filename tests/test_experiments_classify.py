"""freqlib.experiments.fr.classify: the FR appendix's classifiers (AlexNet, VGG, ResNet-18, ViT)."""

import copy

import pytest
import torch

import freqlib
from freqlib import paper
from freqlib.data import DatasetMissing, ImageDataset
from freqlib.experiments import RESULT_COLUMNS
from freqlib.experiments.fr import classify
from freqlib.fr import fr_weights
from freqlib.zigzag import zigzag_prefix

#: Our kept totals in the appendix's accounting (ViT: plus its dense position embedding and head
#: LayerNorm), as the fr_tables chapter regenerates them with freqlib.paper.build.
APPENDIX_KEPT = {
    "alexnet-v1": 570_362,
    "alexnet-v2": 57_362,
    "alexnet-v3": 1_408,
    "alexnet-v4": 1_408,
    "vgg16-v1": 200_570,
    "vgg16-v2": 20_558,
    "vgg16-v3": 2_304,
    "resnet-v1": 112_025,
    "resnet-v2": 12_186,
    "resnet-v3": 2_816,
    "vit-v1": 1_007_222,
    "vit-v2": 157_874,
}
ORIGINAL = {"alexnet": 57_035_456, "vgg": 20_024_000, "resnet": 11_164_352, "vit": 9_466_880}
VIT_DENSE_ROWS = 65 * 512 + 512  # position embedding and head LayerNorm: in the appendix's count, not Conv/Linear


@pytest.fixture(scope="module")
def fr_models():
    """One FR model per family, built once (AlexNet's conversion takes seconds)."""
    first = {"alexnet": "alexnet-v3", "vgg": "vgg16-v3", "resnet": "resnet-v3", "vit": "vit-v2"}
    return {f: classify.build(f, v, seed=0, resize=64 if f == "alexnet" else None) for f, v in first.items()}


def _restore_keeps(model):
    return {q: fr.k for q, _, _, fr in fr_weights(model)}


@pytest.mark.parametrize("family", list(classify.FAMILIES))
def test_kept_counts_equal_the_appendix_totals(fr_models, family):
    model = fr_models[family]
    keeps = _restore_keeps(model)
    try:
        for name in classify.appendix_variants(family):
            freqlib.set_keep(model, paper.variant(name).keep)
            table = freqlib.parameter_table(model)  # what result_row counts: the Conv/Linear weights
            ours = paper.table(name, model).loc["total", "Rem. NoP."]
            dense_rows = VIT_DENSE_ROWS if family == "vit" else 0
            assert table.loc["total", "Rem. NoP."] + dense_rows == ours == APPENDIX_KEPT[name], name
            assert table.loc["total", "Org. NoP."] == ORIGINAL[family]
    finally:
        for q, _, _, fr in fr_weights(model):
            fr.k = keeps[q]


def test_as_stored_equals_the_model_read_back_from_its_float16_file(fr_models, tmp_path):
    model = fr_models["resnet"].eval()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    freqlib.save_compact(model, tmp_path / "m.frq", dtype=torch.float16)
    restored = freqlib.load_compact(copy.deepcopy(model), tmp_path / "m.frq").eval()
    stored = classify.as_stored(copy.deepcopy(model)).eval()
    with torch.no_grad():
        torch.testing.assert_close(stored(x), restored(x), rtol=0, atol=0)
        assert not torch.equal(model(x), stored(x))  # float16 rounding did change something


def test_appendix_totals_against_the_printed_tables(fr_models):
    model = fr_models["resnet"]
    keeps = _restore_keeps(model)
    totals = classify.appendix_totals("resnet", model).set_index("variant")
    assert _restore_keeps(model) == keeps  # the model's own counts are back
    # the printed ResNet totals leave the stem conv (1,728 weights, 128 kept) out
    assert totals["ours kept"].tolist() == [112_025 - 128, 12_186 - 128, 2_816 - 128]
    assert totals["paper kept"].tolist() == [111_901, 12_058, 2_688]
    assert totals["verdict"].tolist() == ["close", "reproduced", "reproduced"]
    assert totals.loc["resnet-v3", "ours compression"] == pytest.approx(11_162_624 / 2_688)
    vit = classify.appendix_totals("vit", fr_models["vit"]).set_index("variant")
    assert vit["verdict"].tolist() == ["not reproduced", "reproduced"]  # Table 11's 65,520 per qkv layer
    alex = classify.appendix_totals("alexnet", fr_models["alexnet"]).set_index("variant")
    assert alex.loc["alexnet-v4", "ours compression"] == pytest.approx(2 * 57_035_456 / 1_408)  # float16 bytes
    assert alex["verdict"].tolist() == ["close", "close", "reproduced", "reproduced"]


def test_run_returns_the_chapter_tables_on_a_tiny_subset():
    cfg = classify.ResNetConfig(train_subset=4, test_subset=4, batch_size=4, epochs=2)
    result = classify.run(cfg, progress=False, device="cpu")
    table = result.table("results")
    assert tuple(table.columns) == RESULT_COLUMNS
    assert table.variant.tolist() == ["dense", "resnet-v3"]
    assert table.kept.tolist() == [11_164_352, 2_816]
    assert table.compression.tolist() == pytest.approx([1.0, 11_164_352 / 2_816])
    assert set(table.metric) == {"accuracy"} and table["value"].between(0, 1).all()
    assert table["file bytes"].iloc[1] < table["file bytes"].iloc[0] / 100
    assert table.data.str.startswith("stand-in: Fashion-MNIST").all()
    history = result.table("history")
    assert history.variant.tolist() == ["dense", "dense", "resnet-v3", "resnet-v3"]
    assert history.test_accuracy.notna().all()  # two epochs: a test curve
    assert history.kept.tolist() == [0, 0, 2_816, 2_816]  # the schedule reached the targets
    assert freqlib.kept_coefficients(result.objects["fr_model"]) == 2_816
    assert result.table("data")[["train", "test", "image"]].values.tolist() == [[4, 4, "3x32x32"]]
    accuracy = result.table("accuracy")
    assert accuracy["drop vs dense (pp)"].iloc[0] == 0
    assert accuracy["accuracy (%)"].tolist() == pytest.approx((100 * table.value).round(2).tolist())
    assert result.table("totals").variant.tolist() == ["resnet-v1", "resnet-v2", "resnet-v3"]
    assert result.table("per weight").loc["total", "Rem. NoP."] == 2_816
    assert [b.model for b in result.baselines] == ["dense ResNet-18"] and set(result.timings) == {
        "dense",
        "resnet-v3",
        "run",
    }
    claims = classify.claims(result, cfg)
    assert [c.kind for c in claims] == ["exact"] * 3 + ["trained"]
    assert claims[-1].verdict == "undecided"  # 4 test images: no power


def test_configs_name_their_family_and_defaults():
    assert {f: c().family for f, c in classify.CONFIGS.items()} == {f: f for f in classify.FAMILIES}
    assert classify.AlexNetConfig().resize == 64 and classify.AlexNetConfig().schedule_fraction == 0
    assert classify.ViTConfig(variants=None).trained_variants() == ["dense", "vit-v1", "vit-v2"]


def test_recalibrate_batchnorm_sets_the_running_statistics_from_the_data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (600, 1, 4, 4), dtype=torch.uint8, generator=g)
    data = ImageDataset(images, torch.zeros(600, dtype=torch.int64), "random")
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.BatchNorm2d(3)).train()
    assert classify.recalibrate_batchnorm(model, data, images=512) == 1
    assert model.training  # mode restored
    with torch.no_grad():
        features = model[0](data[:512][0])  # two equal batches of 256: the mean of batch means is the mean
    torch.testing.assert_close(model[1].running_mean, features.mean(dim=(0, 2, 3)))
    assert model[1].momentum == 0.1
    assert classify.recalibrate_batchnorm(torch.nn.Linear(2, 2), data) == 0


def test_load_data_shapes_labels_and_the_cifar_fallback(tmp_path, capsys):
    train, test, label = classify.load_data("fashion_mnist", train_subset=10, test_subset=5)
    assert train.shape == (10, 3, 32, 32) and test.shape == (5, 3, 32, 32)
    assert label.startswith("stand-in: Fashion-MNIST") and "10 of 60,000 train" in label
    assert "STAND-IN DATA" in capsys.readouterr().out
    with pytest.raises(DatasetMissing, match="CIFAR-10"):
        classify.load_data("cifar10", profile="cpu", data_dir=tmp_path)
    _, _, label = classify.load_data("cifar10", profile="paper", data_dir=tmp_path, train_subset=4, test_subset=4)
    assert "CIFAR-10 not found" in label and label.startswith("stand-in: Fashion-MNIST")


def test_bad_names_raise_clear_errors():
    with pytest.raises(ValueError, match="family must be one of alexnet, vgg, resnet, vit, got 'lenet'"):
        classify.build("lenet")
    with pytest.raises(ValueError, match="resnet: unknown variant 'vgg16-v1'; valid: dense, resnet-v1"):
        classify.build("resnet", "vgg16-v1")
    with pytest.raises(ValueError, match="unknown variant 'resnet-v9'"):
        classify.ResNetConfig(variants=["dense", "resnet-v9"])
    with pytest.raises(ValueError, match="resize applies to family 'alexnet' only"):
        classify.build("vgg", resize=64)
    with pytest.raises(ValueError, match="data must be 'cifar10' or 'fashion_mnist'"):
        classify.load_data("mnist")
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        classify.ViTConfig(epochs=0)
    with pytest.raises(ValueError, match="resize applies to family 'alexnet' only"):
        classify.VGGConfig(resize=64)
    with pytest.raises(ValueError, match="vit: variants must name at least one variant"):
        classify.ViTConfig(variants=[])
    assert classify.appendix_variants("vit") == ("vit-v1", "vit-v2")
    assert classify.default_variants("alexnet") == ("dense", "alexnet-v1", "alexnet-v2", "alexnet-v3")


@pytest.mark.parametrize("family", list(classify.FAMILIES))
def test_every_family_forwards_backwards_and_materializes(fr_models, family):
    # Last in the file: it materializes the shared fixture model itself.
    model = fr_models.pop(family)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    model.train()
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([1, 7]))
    loss.backward()
    for qual, module, pname, fr in fr_weights(model):
        grad = module.parametrizations[pname].original.grad
        assert grad is not None and torch.isfinite(grad).all(), qual
        outside = grad.reshape(-1).clone()
        outside[zigzag_prefix(fr.shape, fr.k)] = 0
        assert not outside.any(), qual  # the dropped coefficients get no gradient
        assert grad.any(), qual
    model.eval()
    with torch.no_grad():
        before = model(x)
        assert before.shape == (2, 10)
        plain = freqlib.materialize(model)
        assert freqlib.kept_coefficients(plain) == 0
        assert freqlib.parameter_table(plain).loc["total", "Rem. NoP."] == ORIGINAL[family]
        torch.testing.assert_close(plain(x), before, rtol=1e-5, atol=1e-5)
