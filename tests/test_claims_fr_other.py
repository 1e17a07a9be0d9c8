"""Claims of the UNet, GAN, VAE, spectrum, appendix-table and DCT chapters on synthetic results (no training)."""

import math

import pandas as pd
import pytest

from freqlib.experiments import segment

# --- UNet (freqlib.experiments.segment) -------------------------------------------------------------

UNET_ARCH = {
    "weights": 31_024_960,
    "tensors": 23,
    "kept": 759,
    "ratio (numbers)": 31_024_960 / 759,
    "ratio (bytes, float32 -> float16)": 2 * 31_024_960 / 759,
    "float32 weight bytes": 4 * 31_024_960,
    "compact file bytes": 1_805,
}


def unet_table(dense: float, fr: float, se: float) -> pd.DataFrame:
    """A :func:`segment.run` table with Dice ``dense`` and ``fr`` (fractions), both with standard error ``se``."""
    return pd.DataFrame(
        {
            "variant": ["dense", "fr-759"],
            "value": [dense, fr],
            "value se": [se, se],
            "file bytes": [124_000_000, 1_793],
        }
    )


def unet_claims(dense, fr, se, data="carvana", width=segment.PAPER_WIDTH):
    rows = segment.claims(unet_table(dense, fr, se), UNET_ARCH, profile="paper", data=data, label="L", width=width)
    return {r.claim: r for r in rows}


def test_unet_architecture_claims_exact_and_by_construction():
    rows = unet_claims(0.99, 0.98, 0.001)
    count = rows["UNet kept as 759 float16 numbers"]
    assert count.kind == count.verdict == "by construction" and "keep we set" in count.reason
    split = rows["759 numbers split evenly over the released UNet's weights"]
    assert (split.kind, split.verdict) == ("exact", "reproduced") and "23" in split.reason
    ratio = rows["over 80000x reduction"]
    assert (ratio.kind, ratio.verdict) == ("exact", "reproduced") and "8.175e+04" in ratio.reason
    assert "31,024,960" in ratio.ours
    size = rows["model file 366 MB -> 4.5 KB"]
    assert (size.kind, size.verdict) == ("exact", "reproduced")
    assert rows["original UNet model file is 366 MB"].verdict == "not comparable"


def test_unet_ratio_uses_the_real_weight_count():
    small = {**UNET_ARCH, "weights": 20_000_000, "ratio (bytes, float32 -> float16)": 2 * 20_000_000 / 759}
    rows = segment.claims(unet_table(0.99, 0.98, 0.001), small, profile="p", data="carvana", label="L", width=64)
    ratio = next(r for r in rows if r.claim == "over 80000x reduction")
    assert ratio.verdict == "not reproduced" and "5.27e+04" in ratio.reason


def test_unet_headline_reproduced_and_not_reproduced_on_carvana():
    rows = unet_claims(0.99, 0.975, 0.001)
    head = rows["UNet in 759 float16 numbers keeps Dice > 97%"]
    assert (head.kind, head.verdict, head.headline) == ("trained", "reproduced", "fr-unet-759")
    assert rows["UNet in 759 float16 numbers keeps the dense UNet's Dice"].verdict == "reproduced"
    rows = unet_claims(0.99, 0.90, 0.001)
    assert rows["UNet in 759 float16 numbers keeps Dice > 97%"].verdict == "not reproduced"
    drop = rows["UNet in 759 float16 numbers keeps the dense UNet's Dice"]
    assert drop.verdict == "not reproduced" and "9 points" in drop.reason


def test_unet_undecided_when_the_dense_unet_misses_its_target():
    rows = unet_claims(0.95, 0.975, 0.001)
    for name in (
        "UNet in 759 float16 numbers keeps Dice > 97%",
        "UNet in 759 float16 numbers keeps the dense UNet's Dice",
    ):
        assert rows[name].verdict == "undecided"
        assert "0.95 below its target 0.98" in rows[name].reason


def test_unet_undecided_when_the_standard_error_is_too_large():
    rows = unet_claims(0.99, 0.98, 0.02)
    head = rows["UNet in 759 float16 numbers keeps Dice > 97%"]
    assert head.verdict == "undecided" and "standard error 2% is not below the tolerance 1%" in head.reason
    drop = rows["UNet in 759 float16 numbers keeps the dense UNet's Dice"]
    assert drop.verdict == "undecided" and "2.828 points" in drop.reason


def test_unet_stand_in_headline_not_comparable_and_drop_undecided():
    rows = unet_claims(0.40, 0.03, 0.05, data="stand-in", width=20)
    head = rows["UNet in 759 float16 numbers keeps Dice > 97%"]
    assert (head.kind, head.verdict, head.headline) == ("trained", "not comparable", "fr-unet-759")
    assert "width 20" in head.reason
    drop = rows["UNet in 759 float16 numbers keeps the dense UNet's Dice"]
    assert drop.verdict == "undecided" and "0.4 below its target 0.9" in drop.reason


def test_unet_baselines_without_a_dense_run_are_never_met():
    table = unet_table(0.99, 0.98, 0.001).iloc[1:]
    base = segment.baselines(table, "stand-in")["dense"]
    assert math.isnan(base.value) and not base.met and "not trained" in base.model
    rows = segment.claims(table, UNET_ARCH, profile="p", data="carvana", label="L", width=64)
    head = next(r for r in rows if r.headline)
    assert head.verdict == "undecided" and len(rows) == 6


def test_unet_dice_stats_matches_evaluate_dice():
    import torch
    from torch import nn

    from freqlib.segmentation import SegmentationDataset, dice, evaluate_dice

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (7, 3, 8, 8), dtype=torch.uint8, generator=g)
    data = SegmentationDataset(images, (images[:, 0] > 127).to(torch.uint8), "red")
    torch.manual_seed(0)
    model = nn.Conv2d(3, 2, 1)
    mean, se = segment.dice_stats(model, data, batch_size=3)
    assert mean == evaluate_dice(model, data, batch_size=3)
    values = dice(model(data[:][0]), data[:][1], reduce="none")
    assert se == pytest.approx(float(values.std() / math.sqrt(7)))
