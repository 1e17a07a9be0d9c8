"""Import of checkpoints saved with the authors' frereg 0.1.0 (installed from PyPI)."""

import pytest
import torch
from torch import nn

import freqlib
from freqlib import fr_weights, load_frereg_state_dict

frereg = pytest.importorskip("frereg")


def trained_like(layer, k):
    """Give a frereg layer a random spectrum kept on its own ZMAT's first k ranks."""
    with torch.no_grad():
        layer.IDROP.copy_((layer.ZMAT < k).float())
        layer.weight.mul_(layer.IDROP)
    return layer


class FreregNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = trained_like(frereg.Conv2d(3, 8, 3, padding=1), 50)
        self.up = trained_like(frereg.ConvTranspose2d(8, 4, 2, stride=2), 17)

    def forward(self, x):
        return self.up(torch.relu(self.conv(x)))


class PlainNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)

    def forward(self, x):
        return self.up(torch.relu(self.conv(x)))


@pytest.mark.parametrize("form", ["dense", "sparse", "stripped"])
def test_outputs_equal_frereg_layers(form):
    torch.manual_seed(0)
    theirs = FreregNet()
    sd = theirs.state_dict()
    if form == "sparse":  # as the authors' model2File saves
        sd = {k: v.to_sparse() for k, v in sd.items()}
    if form == "stripped":  # buffers removed, as in the released UNet-FR checkpoint
        sd = {k: v.to_sparse() for k, v in sd.items() if k.rpartition(".")[2] not in ("ZMAT", "IDROP", "IMAT")}
    ours = load_frereg_state_dict(PlainNet(), sd)
    assert [(n, fr.k) for n, _, _, fr in fr_weights(ours)] == [("conv.weight", 50), ("up.weight", 17)]
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    assert freqlib.parameter_table(ours).loc["total", "Rem. NoP."] == 67
    freqlib.materialize(ours)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_not_a_prefix_raises_and_names_the_layer():
    torch.manual_seed(0)
    theirs = FreregNet()
    sd = {k: v for k, v in theirs.state_dict().items() if "IDROP" not in k}
    sd["conv.weight"] = sd["conv.weight"].clone()
    sd["conv.weight"][7, 2, 2, 2] = 1.0  # the highest frequency
    target = PlainNet()
    with pytest.raises(ValueError, match="conv.weight: the non-zero pattern is not a zigzag prefix"):
        load_frereg_state_dict(target, sd)
    assert not list(fr_weights(target))


def test_shape_and_key_mismatches():
    sd = FreregNet().state_dict()
    wrong = PlainNet()
    wrong.conv = nn.Conv2d(3, 9, 3, padding=1)
    with pytest.raises(ValueError, match=r"conv.weight: checkpoint shape \(8, 3, 3, 3\) != model shape \(9, 3, 3, 3\)"):
        load_frereg_state_dict(wrong, sd)
    extra = dict(sd, **{"head.bias": torch.zeros(2)})
    with pytest.raises(KeyError, match="unexpected keys \\['head.bias'\\]"):
        load_frereg_state_dict(PlainNet(), extra)
    sd["conv.weight"][0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="conv.weight: non-finite"):
        load_frereg_state_dict(PlainNet(), sd)
