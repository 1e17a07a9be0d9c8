"""The MAC axis of paper 3's ImageNet figures: section 3.1's formula against count_macs, the paper's blocks."""

import pytest

from freqlib.experiments.pointwise import imagenet as pi
from freqlib.pointwise import count_macs, pointwise_layers


def test_paper_blocks_follow_section_4_1_2():
    model = pi.convert_paper(pi.mobilenetv2_imagenet(0.5), 224)
    blocks = {int(name.split(".")[1]): layer.block for name, layer in pointwise_layers(model).items()}
    assert set(blocks) == set(range(1, 19))  # every block's pointwise convs, and the last 1x1 conv
    assert all(b == 2 for i, b in blocks.items() if i <= 13) and all(b == 7 for i, b in blocks.items() if i >= 14)
    assert {
        layer.block for layer in pointwise_layers(pi.convert_paper(pi.mobilenetv2_imagenet(0.5), 192)).values()
    } == {3}
    assert pi.block_for("features.10.conv.0.0", 224) == 2 and pi.block_for("features.14.conv.2", 224) == 7


@pytest.mark.parametrize("resolution", [64, 192])
def test_formula_equals_count_macs_of_the_converted_model(resolution):
    grid = pi.macs_grid([0.5], [resolution])
    model = pi.mobilenetv2_imagenet(0.5)
    assert grid.dense.iloc[0] == count_macs(model, (3, resolution, resolution))
    assert grid.converted.iloc[0] == count_macs(pi.convert_paper(model, resolution), (3, resolution, resolution))
    assert 0.5 < grid["pointwise share"].iloc[0] < 1 and grid.config.iloc[0] == f"0.5-{resolution}"


def test_mobilenetv2_matches_the_published_counts():
    # Sandler et al. (2018): 300M MACs at 1.0-224; paper 3, Fig 8: 205M is a 0.68x reduction
    dense = pi.macs_grid([1.0], [224]).dense.iloc[0]
    assert dense == pytest.approx(300e6, rel=0.005)
    assert pi.FIG8_PRUNED_MACS / dense == pytest.approx(pi.FIG8_RATIO, abs=0.005)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="resolutions must be int multiples of 32"):
        pi.macs_grid([1.0], [100])
    with pytest.raises(ValueError, match="width must be a multiplier"):
        pi.mobilenetv2_imagenet(0)
