"""UNet in the common layout, and the authors' released UNet-FR checkpoint format."""

import pytest
import torch
from torch import nn

import freqlib
from freqlib import paper
from freqlib.models.unet import UNet

frereg = pytest.importorskip("frereg")


def test_unet_layout_and_shapes():
    u = UNet(3, 2)
    assert [n for n, _ in u.named_children()] == [
        "inc", "down1", "down2", "down3", "down4", "up1", "up2", "up3", "up4", "outc",
    ]  # fmt: skip
    assert "inc.double_conv.0.weight" in u.state_dict() and "up1.up.weight" in u.state_dict()
    assert u(torch.randn(1, 3, 40, 56)).shape == (1, 2, 40, 56)  # odd sizes are padded in Up
    weights = freqlib.parameter_table(u)
    assert len(weights) == 24 and weights.loc["total", "Org. NoP."] == 31_024_960


def test_unet_width_scales_every_channel_count_but_the_image_and_class_ones():
    full, half = UNet(3, 2).state_dict(), UNet(3, 2, width=32).state_dict()
    assert list(full) == list(half)  # same names: narrow models load and convert like the full one
    for name, tensor in full.items():  # channel counts are multiples of 64; kernels, image and classes are not
        expected = tuple(d // 2 if d % 64 == 0 else d for d in tensor.shape)
        assert tuple(half[name].shape) == expected, name
    assert UNet(3, 2, width=5)(torch.rand(2, 3, 16, 16)).shape == (2, 2, 16, 16)
    with pytest.raises(ValueError, match="UNet: width must be a positive int, got 0"):
        UNet(width=0)


def authors_unet(kept: int) -> nn.Module:
    """A UNet built from frereg 0.1.0 layers as in the authors' release, each keeping ``kept``."""
    model = UNet(3, 2, bias=False, norm_affine=False, track_running_stats=False)
    for name, module in list(model.named_modules()):
        parent, _, attr = name.rpartition(".")
        holder = model.get_submodule(parent) if parent else model
        if isinstance(module, nn.ConvTranspose2d):
            new = frereg.ConvTranspose2d(module.in_channels, module.out_channels, 2, stride=2, bias=False)
        elif isinstance(module, nn.Conv2d):
            k = module.kernel_size[0]
            new = frereg.Conv2d(module.in_channels, module.out_channels, k, padding=k // 2, bias=False)
        else:
            continue
        with torch.no_grad():
            new.IDROP.copy_((new.ZMAT < kept).float())
            new.weight.mul_(new.IDROP)
        setattr(holder, attr, new)
    return model


def test_released_unet_fr_format_loads_with_759_numbers(tmp_path):
    torch.manual_seed(0)
    theirs = authors_unet(33)
    # as released: buffers stripped, every tensor sparse COO
    sd = {
        k: v.to_sparse()
        for k, v in theirs.state_dict().items()
        if k.rpartition(".")[2] not in ("ZMAT", "IDROP", "IMAT")
    }
    assert len(sd) == 23
    ours = freqlib.load_frereg_state_dict(paper.build("unet-frereg"), sd)
    table = freqlib.parameter_table(ours)
    assert table.loc["total", "Rem. NoP."] == 759 and (table["Rem. NoP."].iloc[:-1] == 33).all()
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-4, rtol=1e-4)
    nbytes = freqlib.save_compact(ours, tmp_path / "unet.frz")
    assert nbytes <= 2048  # the authors ship 4,524 bytes (xz of a 40,539-byte torch file)
    again = freqlib.load_compact(paper.build("unet-frereg"), tmp_path / "unet.frz")
    with torch.no_grad():
        torch.testing.assert_close(again(x), ours(x), atol=2e-2, rtol=2e-2)  # float16 coefficients


def test_build_unet_frereg_is_the_released_layout_with_759_numbers():
    model = paper.build("unet-frereg")
    table = freqlib.parameter_table(model)
    assert table.loc["total", "Org. NoP."] == 31_024_960 and table.loc["total", "Rem. NoP."] == 759
    assert not any(n.endswith("bias") for n, _ in model.named_parameters())  # no conv bias, no BN affine
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(not m.affine and not m.track_running_stats for m in bns)
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 2, 32, 32)
    with pytest.raises(ValueError, match="unet-frereg"):
        paper.build("unet")
