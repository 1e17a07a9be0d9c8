import pytest
from torch import nn

import freqlib
from freqlib.tables import COLUMNS, compress_rate


@pytest.mark.parametrize(
    "org,rem,printed",
    [
        (23_232, 233, "1.0029%(100×)"),  # Table 1
        (23_232, 128, "0.5510%(182×)"),  # Table 2
        (307_200, 308, "0.1003%(998×)"),  # Table 2
        (40_960, 256, "0.6250%(161×)"),  # Table 2: 160 printed as 161x
        (57_035_456, 570_365, "1.0000%(100×)"),  # Table 1 total
        (57_035_456, 1_408, "0.0025%(40509×)"),  # Table 3 total
        (819_200, 8_192, "1.0000%(101×)"),  # Table 14
        (2_359_296, 128, "0.0054%(18433×)"),  # Table 7
    ],
)
def test_compress_rate_format_matches_the_paper(org, rem, printed):
    assert compress_rate(org, rem) == printed


def test_parameter_table_rows_and_total():
    model = freqlib.models.LeNet5()
    freqlib.frequency_regularize(model, 0.01, exclude="fc2.weight")
    table = freqlib.parameter_table(model)
    assert list(table.columns) == COLUMNS
    assert list(table.index) == ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight", "total"]
    assert list(table["Layer Type"]) == ["Conv2d", "Conv2d", "Linear", "Linear", "total"]
    assert list(table["Org. NoP."]) == [500, 25_000, 400_000, 5_000, 430_500]
    assert list(table["Rem. NoP."]) == [128, 251, 4_001, 5_000, 9_380]
    assert table.loc["total", "Compress Rate"] == compress_rate(430_500, 9_380)


def test_parameter_table_leaves_out_biases_and_norms_and_includes_named_weights():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.LSTM(4, 4))
    freqlib.frequency_regularize(model, 1.0, include="2.weight_ih_l0")
    table = freqlib.parameter_table(model)
    assert list(table.index) == ["0.weight", "2.weight_ih_l0", "total"]
    assert list(table["Layer Type"]) == ["Conv2d", "LSTM", "total"]
