"""classify.claims (AlexNet, VGG, ResNet-18, ViT) and lenet5.claims on hand-made result tables."""

import math

import pandas as pd
import pytest

from freqlib.experiment import ChapterResult
from freqlib.experiments.fr import classify, lenet5

FASHION = "stand-in: Fashion-MNIST (28x28 grey, resized to 32x32, replicated to 3 channels) instead of CIFAR-10"
CIFAR = "CIFAR-10 (50,000 train / 10,000 test)"


def _table(family, dense, fr, data=CIFAR, variant="resnet-v3"):
    rows = [] if dense is None else [{"variant": "dense", "value": dense, "kept": 11_164_352, "compression": 1.0}]
    rows.append({"variant": variant, "value": fr, "kept": 2_816, "compression": 11_164_352 / 2_816})
    return pd.DataFrame(rows).assign(family=family, data=data)


def _totals(delta=0, layers=20):
    return pd.DataFrame(
        [
            {
                "variant": "resnet-v3",
                "table": 10,
                "paper original": 11_162_624,
                "paper kept": 2_688,
                "ours original": 11_162_624,
                "ours kept": 2_688 + delta,
                "Δ kept": delta,
                "layers": layers,
                "paper compression": 11_162_624 / 2_688,
                "ours compression": 11_162_624 / (2_688 + delta),
            }
        ]
    )


def _result(table, totals, n_test):
    return ChapterResult(tables={"results": table, "totals": totals, "data": pd.DataFrame([{"test": n_test}])})


def _classify(dense, fr, n_test=10_000, data=CIFAR, family="resnet", delta=0):
    result = _result(_table(family, dense, fr, data), _totals(delta), n_test)
    out = classify.claims(result, classify.CONFIGS[family](profile="paper", epochs=40))
    count, drop = out
    assert count.kind == "exact" and drop.kind == "trained"
    return count, drop


@pytest.mark.parametrize(
    ("delta", "verdict"), [(0, "reproduced"), (-4, "close"), (20, "close"), (21, "not reproduced")]
)
def test_classify_counts_are_exact_with_the_appendix_totals_rule(delta, verdict):
    count, _ = _classify(0.9, 0.89, delta=delta)
    assert count.verdict == verdict
    assert "20 rows" in count.reason and f"{abs(delta)} numbers" in count.reason
    assert count.source == "FR Table 10" and "no training" in count.data


def test_classify_drop_reproduced_and_not_reproduced():
    _, drop = _classify(0.90, 0.895)
    assert drop.verdict == "reproduced" and "0.5 points is at most 2 points" in drop.reason
    assert "meets its target 0.85" in drop.reason
    _, drop = _classify(0.90, 0.85)
    assert drop.verdict == "not reproduced" and "5 points is not at most 2 points" in drop.reason
    _, drop = _classify(0.90, 0.875)
    assert drop.verdict == "close"


def test_classify_drop_undecided_when_the_dense_model_misses_its_target():
    _, drop = _classify(0.80, 0.80)
    assert drop.verdict == "undecided"
    assert "dense ResNet-18 accuracy 0.8 below its target 0.85" in drop.reason
    assert "kuangliu" in drop.reason and "standard error" not in drop.reason
    _, drop = _classify(0.80, 0.80, family="vit")  # the ViT's CIFAR-10 target is 70%
    assert drop.verdict == "reproduced"


def test_classify_drop_undecided_when_the_standard_error_is_too_large():
    _, drop = _classify(0.90, 0.90, n_test=400)  # sqrt(2 * 0.09 / 400) = 2.1 points
    assert drop.verdict == "undecided"
    assert "standard error 2.121 points is not below the tolerance 1 point" in drop.reason
    assert "below its target" not in drop.reason


def test_classify_stand_in_label_uses_the_fashion_mnist_target():
    label = FASHION + "; CIFAR-10 not found (data_dir=None)"
    assert classify.data_key(label) == "Fashion-MNIST"
    _, drop = _classify(0.20, 0.10, n_test=64, data=label)
    assert drop.verdict == "undecided"
    assert "0.2 below its target 0.85" in drop.reason and "Xiao et al." in drop.reason
    assert "6.25 points" in drop.reason  # sqrt(0.16/64 + 0.09/64)
    assert drop.data.endswith("; 40 epoch(s)")


def test_classify_without_a_dense_row_is_undecided():
    table = _table("vgg", None, 0.9, variant="vgg16-v3")
    (drop,) = classify.claims(_result(table, _totals().iloc[:0], 10_000), classify.VGGConfig(profile="paper"))
    assert drop.verdict == "undecided" and "dense VGG (not trained) accuracy nan" in drop.reason
    assert [b.met for b in classify.baselines(table)] == [False]
    with pytest.raises(ValueError, match="no convergence target"):
        classify.data_key("MNIST")


def test_every_family_has_both_targets():
    for family in classify.FAMILIES:
        for data in ("CIFAR-10", "Fashion-MNIST"):
            target = classify.TARGETS[family, data]
            assert target.metric == "accuracy" and 0.5 < target.value < 1 and target.source


# --- LeNet-5 ------------------------------------------------------------------------------------

DENSE_TABLE = pd.DataFrame({"Org. NoP.": [430_500], "Rem. NoP.": [430_500]}, index=["total"])
LABELS = {"mnist": "MNIST, full (60,000 train / 10,000 test)", "mnist5k": "stand-in: MNIST-5k"}


def _results(dense, fr, data="mnist", n=10_000, kept=776):
    rows = [{"model": "dense", "kept": 430_500, "accuracy": dense, "float16 file accuracy": None}]
    rows.append({"model": "FR 200", "kept": 200, "accuracy": 0.5, "float16 file accuracy": 0.5})
    rows.append({"model": "FR 776", "kept": kept, "accuracy": fr, "float16 file accuracy": fr})
    return pd.DataFrame(rows).assign(data=data, **{"file bytes": 3_900, "test images": n})


def _lenet(*frames, profile="paper"):
    from freqlib.experiment import ChapterResult

    data = pd.DataFrame({"data set": list(LABELS), "label": list(LABELS.values())})
    tables = {"results": pd.concat(frames, ignore_index=True), "parameters": DENSE_TABLE, "data": data}
    return lenet5.claims(ChapterResult(tables=tables), lenet5.Config(profile=profile))


def test_lenet5_counts_ratio_and_keep():
    weights, kept, ratio, drop = _lenet(_results(0.991, 0.985))
    assert weights.kind == "exact" and weights.verdict == "reproduced" and "430,500" in weights.ours
    assert kept.kind == "by construction" and kept.verdict == "by construction"
    assert "776 is the kept total we chose" in kept.reason and "264 (fc1)" in kept.ours
    assert ratio.kind == "exact" and ratio.verdict == "reproduced"
    assert "1109.5x in bytes" in ratio.ours and "554.8x in numbers" in ratio.ours
    assert "776 itself is the keep we chose" in ratio.reason
    assert drop.headline == "fr-lenet5-776" and drop.data == LABELS["mnist"]


def test_lenet5_ratio_uses_the_real_counts():
    _, kept, ratio, _ = _lenet(_results(0.991, 0.985, kept=800))
    assert kept.kind == "exact" and kept.verdict == "not reproduced" and "keep [800]" in kept.reason
    # 4 * 430,500 / (2 * 800) = 1076.2: from the real kept count, not from 776
    assert ratio.verdict == "not reproduced"
    assert ratio.ours.startswith("430,500 weights: float32 1,722,000 B / 800 float16 1,600 B = 1076.2x")
    assert "1076x is not at least 1100x" in ratio.reason


def test_lenet5_drop_reproduced_and_not_reproduced():
    *_, drop = _lenet(_results(0.991, 0.985))
    assert drop.kind == "trained" and drop.verdict == "reproduced"
    assert "0.6 points is at most 2 points" in drop.reason and "meets its target 0.9905" in drop.reason
    *_, drop = _lenet(_results(0.991, 0.95))
    assert drop.verdict == "not reproduced" and "4.1 points is not at most 2 points" in drop.reason


def test_lenet5_drop_undecided_when_dense_misses_its_target():
    *_, drop = _lenet(_results(0.98, 0.975))
    assert drop.verdict == "undecided"
    assert "dense LeNet-5 (MNIST) accuracy 0.98 below its target 0.9905 (LeCun et al. (1998)" in drop.reason


def test_lenet5_drop_undecided_when_the_standard_error_is_too_large():
    *_, drop = _lenet(_results(0.97, 0.96, data="mnist5k", n=500))
    assert drop.verdict == "undecided"
    se = 100 * math.sqrt((0.97 * 0.03 + 0.96 * 0.04) / 500)
    assert f"standard error {se:.4g} points is not below the tolerance 1 point" in drop.reason
    assert "below its target" not in drop.reason and drop.data == LABELS["mnist5k"]


def test_lenet5_one_drop_per_data_set_and_no_fr776():
    out = _lenet(_results(0.991, 0.985), _results(0.97, 0.96, data="mnist5k", n=500))
    assert [c.headline for c in out].count("fr-lenet5-776") == 2
    assert [
        b.model for b in lenet5.baselines(pd.concat([_results(0.9, 0.9), _results(0.9, 0.9, "fashion_mnist")]))
    ] == [
        "dense LeNet-5 (MNIST)",
        "dense LeNet-5 (Fashion-MNIST)",
    ]
    only = _results(0.991, 0.985)
    (weights,) = _lenet(only[only.model != "FR 776"], profile="smoke")
    assert weights.claim == "LeNet-5 has 0.4M parameters"
    with pytest.raises(ValueError, match="no convergence target for data set 'kmnist'"):
        lenet5.baselines(_results(0.9, 0.9, data="kmnist"))
