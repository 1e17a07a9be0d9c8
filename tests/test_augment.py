"""RandomCropFlip against a per-image reference, its seeding, and train_classifier(augment=)."""

import pytest
import torch

from freqlib.augment import RandomCropFlip
from freqlib.data import ImageDataset
from freqlib.train import make_augmenter, train_classifier


def reference(x: torch.Tensor, pad: int, dy, dx, mirrored) -> torch.Tensor:
    """One image at a time: zero-pad, slice the window, mirror."""
    out = []
    for img, oy, ox, m in zip(x, dy.tolist(), dx.tolist(), mirrored.tolist()):
        padded = torch.zeros(img.shape[0], img.shape[1] + 2 * pad, img.shape[2] + 2 * pad, dtype=img.dtype)
        padded[:, pad : pad + img.shape[1], pad : pad + img.shape[2]] = img
        crop = padded[:, oy : oy + img.shape[1], ox : ox + img.shape[2]]
        out.append(torch.flip(crop, dims=[2]) if m else crop)
    return torch.stack(out)


@pytest.mark.parametrize("pad, shape", [(4, (7, 3, 12, 10)), (1, (5, 1, 5, 6)), (0, (3, 2, 4, 4))])
def test_matches_the_per_image_reference(pad, shape):
    x = torch.randn(*shape)
    dy, dx, mirrored = RandomCropFlip(pad, seed=3).offsets(shape[0])
    assert dy.min() >= 0 and dy.max() <= 2 * pad and dx.max() <= 2 * pad
    out = RandomCropFlip(pad, seed=3)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    torch.testing.assert_close(out, reference(x, pad, dy, dx, mirrored), rtol=0, atol=0)


def test_seeded_draws_and_the_identity():
    x = torch.randn(64, 3, 8, 8)
    a, b = RandomCropFlip(4, seed=1), RandomCropFlip(4, seed=1)
    assert torch.equal(a(x), b(x)) and torch.equal(a(x), b(x))  # same seed: same sequence
    assert not torch.equal(RandomCropFlip(4, seed=2)(x), RandomCropFlip(4, seed=1)(x))
    assert torch.equal(RandomCropFlip(0, flip=False)(x), x)
    dy, dx, mirrored = RandomCropFlip(4, seed=0).offsets(20_000)
    assert 0.48 < mirrored.float().mean() < 0.52 and set(dy.tolist()) == set(range(9)) == set(dx.tolist())
    # centred offsets keep the image; a shift by one moves its content by one pixel
    t = RandomCropFlip(2, flip=False)
    t.offsets = lambda n: (torch.tensor([2, 3]), torch.tensor([2, 1]), torch.zeros(2, dtype=torch.bool))
    out = t(x[:2])
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1, :, :-1, 1:], x[1, :, 1:, :-1]) and (out[1, :, -1, :] == 0).all()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="RandomCropFlip: pad must be an int >= 0"):
        RandomCropFlip(-1)
    with pytest.raises(ValueError, match="expected a batch \\(N, C, H, W\\)"):
        RandomCropFlip(4)(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="augment must be a bool or a padding"):
        make_augmenter(-2)
    assert make_augmenter(False) is None and make_augmenter(0) is None
    assert make_augmenter(True).pad == 4 and make_augmenter(2).pad == 2


def test_train_classifier_augments_reproducibly():
    g = torch.Generator().manual_seed(0)
    data = ImageDataset(
        torch.randint(0, 256, (32, 1, 8, 8), generator=g, dtype=torch.uint8), torch.arange(32) % 4, "random"
    )

    def run(augment):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
        history = train_classifier(model, data, None, epochs=2, batch_size=8, augment=augment, progress=False)
        return history.train_loss.tolist(), model[1].weight.detach().clone()

    plain, aug, again = run(False), run(True), run(True)
    assert aug[0] == again[0] and torch.equal(aug[1], again[1])
    assert aug[0] != plain[0]
