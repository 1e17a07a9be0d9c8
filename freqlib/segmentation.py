"""Binary segmentation for the UNet chapter: data, the Dice coefficient, and a training loop.

- :class:`SegmentationDataset`: images uint8 ``(N, 3, H, W)`` served as float32 in [0, 1], masks
  served as int64 ``(N, H, W)`` (0 background, 1 foreground), batch-indexable.
- :func:`stand_in`: a segmentation set with exact masks built offline from real images:
  Fashion-MNIST items pasted on crops of photographs and textures that ship inside scikit-image.
- :func:`carvana`: the Kaggle Carvana data (the FR paper's UNet data) from a local folder.
- :func:`dice` / :func:`evaluate_dice`: the foreground Dice coefficient as Pytorch-UNet computes it.
- :func:`train_segmenter`: cross-entropy (+ soft Dice) training that also runs under ``torchrun``.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from . import distributed as dist
from .data import DatasetMissing, fashion_mnist
from .loop import check_positive_int, checked_kept, fit, kept_note, optimizer_step
from .schedule import FrequencySchedule
from .train import make_optimizer

#: Backgrounds of the stand-in: images bundled inside the scikit-image wheel (no download, no pooch
#: fetch): textures (brick, grass, gravel) and photographs; grey ones are replicated to RGB.
BACKGROUNDS = (
    "brick",
    "grass",
    "gravel",
    "camera",
    "coffee",
    "astronaut",
    "chelsea",
    "rocket",
    "coins",
    "moon",
    "immunohistochemistry",
    "hubble_deep_field",
)
#: Where the Carvana loader looks, relative to ``data_dir`` (Kaggle's carvana-image-masking-challenge).
CARVANA_LAYOUT = (
    "<data_dir>/train/<id>.jpg and <data_dir>/train_masks/<id>_mask.gif (Kaggle carvana-image-masking-challenge: "
    "train.zip and train_masks.zip extracted)"
)


class SegmentationDataset(torch.utils.data.Dataset):
    """Images stored uint8 ``(N, 3, H, W)``, masks stored uint8 ``(N, H, W)`` with values 0/1.

    ``ds[i]`` gives ``(image float32 (3, H, W) in [0, 1], mask int64 (H, W))``; ``ds[index]`` with
    a list, slice or 1-d index tensor gives a batch ``(B, 3, H, W)``, ``(B, H, W)``.
    ``parts`` (stand-in only) holds what each sample was composed of; see :func:`stand_in`.
    """

    def __init__(self, images: torch.Tensor, masks: torch.Tensor, name: str, parts: dict | None = None):
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"{name}: images must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        if masks.dim() != 3 or masks.shape != (images.shape[0], *images.shape[2:]):
            raise ValueError(
                f"{name}: masks must be (N, H, W) = {(images.shape[0], *images.shape[2:])}, got {tuple(masks.shape)}"
            )
        if masks.numel() and int(masks.max()) > 1:
            raise ValueError(f"{name}: masks must hold 0 and 1 only, found {int(masks.max())}")
        self.images, self.masks, self.name, self.parts = images, masks.to(torch.uint8), name, parts

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(index, list):
            index = torch.as_tensor(index, dtype=torch.long)
        return self.images[index].float().div_(255.0), self.masks[index].long()

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape)

    def foreground(self) -> float:
        """Share of foreground pixels over the whole set, in [0, 1]."""
        return float(self.masks.double().mean())

    def subset(self, n: int | None, seed: int = 0) -> SegmentationDataset:
        """``n`` samples drawn without replacement (seeded, in order); the whole set when ``n`` is None or >= len."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise ValueError(f"{self.name}: subset size must be positive, got {n}")
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        return SegmentationDataset(self.images[idx], self.masks[idx], f"{self.name} ({n} of {len(self)})")

    def __repr__(self) -> str:
        return f"SegmentationDataset({self.name!r}, images={self.shape}, foreground={self.foreground():.3f})"


# ------------------------------------------------------------------------------------------ stand-in


@functools.cache
def background_image(name: str) -> torch.Tensor:
    """The scikit-image picture ``name`` as uint8 ``(3, h, w)`` (grey replicated, alpha dropped)."""
    import skimage.data

    if name not in BACKGROUNDS:
        raise ValueError(f"unknown background {name!r}; valid: {', '.join(BACKGROUNDS)}")
    img = np.asarray(getattr(skimage.data, name)())
    if img.dtype != np.uint8:
        raise ValueError(f"background {name!r}: expected uint8 pixels, got {img.dtype}")
    img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def resize_uint8(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(C, h, w)`` uint8 -> ``(C, *size)`` uint8: bilinear, antialiased, rounded."""
    out = F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    return out.round_().clamp_(0, 255).to(torch.uint8)


def item_alpha(item: torch.Tensor, side: int) -> torch.Tensor:
    """A Fashion-MNIST item (uint8 ``(28, 28)``) resized to ``side`` x ``side``, float32 in [0, 1]:
    bilinear, antialiased, rounded to uint8 levels, divided by 255 (so the values are exact k/255)."""
    return resize_uint8(item[None], (side, side))[0].float() / 255.0


def blend(region: torch.Tensor, alpha: torch.Tensor, color: torch.Tensor, opacity: float, threshold: float):
    """Paste one item on ``region`` (float32 ``(3, s, s)`` in [0, 1]): returns (new region, pasted mask).

    pasted = ``alpha > threshold``; there the pixel becomes ``(1 - opacity) * region + opacity * color * alpha``
    (``color`` float32 ``(3,)``); elsewhere it is unchanged.
    """
    pasted = alpha > threshold
    item = color[:, None, None] * alpha
    return torch.where(pasted, (1.0 - opacity) * region + opacity * item, region), pasted


@dataclass(frozen=True)
class Layer:
    """One pasted item: Fashion-MNIST index in the split, side in pixels, top-left corner, RGB colour in [0, 1]
    (float32), opacity."""

    item: int
    side: int
    top: int
    left: int
    color: tuple[float, float, float]
    opacity: float


def stand_in(
    n: int,
    size: int = 64,
    *,
    split: str = "train",
    seed: int = 0,
    items: int | tuple[int, int] = 1,
    scale: tuple[float, float] = (0.45, 0.9),
    opacity: tuple[float, float] = (0.75, 1.0),
    threshold: float = 0.1,
    backgrounds: Sequence[str] = BACKGROUNDS,
    data_dir: str | os.PathLike | None = None,
) -> SegmentationDataset:
    """``n`` composites of ``size`` x ``size`` with exact binary masks: stand-in for Carvana (car / background).

    Sample ``i`` (all draws from ``numpy.random.default_rng(seed)``, in order):

    1. background: one of ``backgrounds`` (scikit-image pictures), a random square crop of side in
       [max(size, min(h, w) // 4), min(h, w)] (the whole short side when that is below ``size``),
       resized to ``size`` (:func:`resize_uint8`): uint8 ``B``.
    2. ``items`` Fashion-MNIST items (a count, or a (min, max) range) of the ``split`` split, each
       resized to a side in ``scale`` x ``size`` (:func:`item_alpha`: ``alpha`` in [0, 1]), placed
       fully inside the image at a random top-left corner, with a random colour in [0.2, 1]^3 and an
       opacity in ``opacity``, pasted in order over ``x = B / 255`` with :func:`blend`.
    3. image = ``round(255 * x)`` (uint8); **mask = the union over the items of the pixels where the
       item's alpha > threshold**: exactly the pixels :func:`blend` rewrote (later items may cover
       earlier ones; the mask stays their union). Every other pixel equals the background ``B``.

    ``parts`` of the result holds, per sample, the background ``B`` (uint8 ``(n, 3, size, size)``),
    the :class:`Layer` list, and the Fashion-MNIST images, so both the composite and the mask can be
    recomputed. Deterministic given the arguments.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"stand_in: n must be a positive int, got {n!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"stand_in: size must be an int >= 8, got {size!r}")
    lo_items, hi_items = (items, items) if isinstance(items, int) else items
    if not 1 <= lo_items <= hi_items:
        raise ValueError(f"stand_in: items must be >= 1 (or a (min, max) range), got {items!r}")
    if not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ValueError(f"stand_in: scale must satisfy 0 < min <= max <= 1, got {scale!r}")
    if not 0.0 < opacity[0] <= opacity[1] <= 1.0:
        raise ValueError(f"stand_in: opacity must satisfy 0 < min <= max <= 1, got {opacity!r}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"stand_in: threshold must be in [0, 1), got {threshold!r}")
    pictures = [background_image(b) for b in backgrounds]
    fashion = fashion_mnist(split, data_dir).images[:, 0]
    rng = np.random.default_rng(seed)
    side_lo, side_hi = max(4, round(scale[0] * size)), max(4, round(scale[1] * size))
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    masks = torch.zeros(n, size, size, dtype=torch.uint8)
    bgs = torch.empty_like(images)
    layers: list[list[Layer]] = []
    for i in range(n):
        pic = pictures[int(rng.integers(len(pictures)))]
        h, w = pic.shape[1:]
        short = min(h, w)
        crop = int(rng.integers(min(max(size, short // 4), short), short + 1))
        top, left = int(rng.integers(h - crop + 1)), int(rng.integers(w - crop + 1))
        bgs[i] = resize_uint8(pic[:, top : top + crop, left : left + crop], (size, size))
        x = bgs[i].float() / 255.0
        sample = []
        for _ in range(int(rng.integers(lo_items, hi_items + 1))):
            side = int(rng.integers(side_lo, side_hi + 1))
            layer = Layer(
                item=int(rng.integers(len(fashion))),
                side=side,
                top=int(rng.integers(size - side + 1)),
                left=int(rng.integers(size - side + 1)),
                color=tuple(float(c) for c in rng.uniform(0.2, 1.0, 3).astype(np.float32)),
                opacity=float(np.float32(rng.uniform(*opacity))),
            )
            rows, cols = slice(layer.top, layer.top + side), slice(layer.left, layer.left + side)
            alpha = item_alpha(fashion[layer.item], side)
            region, pasted = blend(x[:, rows, cols], alpha, torch.tensor(layer.color), layer.opacity, threshold)
            x[:, rows, cols] = region
            masks[i, rows, cols] |= pasted.to(torch.uint8)
            sample.append(layer)
        images[i] = (255.0 * x).round_().clamp_(0, 255).to(torch.uint8)
        layers.append(sample)
    parts = {"backgrounds": bgs, "layers": layers, "fashion": fashion, "threshold": threshold}
    name = f"stand-in {split}: Fashion-MNIST on skimage pictures, {n} x {size}x{size}"
    return SegmentationDataset(images, masks, name, parts)


# ------------------------------------------------------------------------------------------ Carvana


def _carvana_pairs(data_dir: str | os.PathLike | None) -> list[tuple[Path, Path]]:
    needed = "Carvana is needed by the paper profile of the unet notebook"
    if data_dir is None:
        raise DatasetMissing("Carvana", ["(no data_dir given)"], CARVANA_LAYOUT, needed)
    root = Path(data_dir)
    images_dir, masks_dir = root / "train", root / "train_masks"
    images = sorted(images_dir.glob("*.jpg")) if images_dir.is_dir() else []
    if not images or not masks_dir.is_dir():
        raise DatasetMissing("Carvana", [str(images_dir), str(masks_dir)], CARVANA_LAYOUT, needed)
    pairs, lacking = [], []
    for image in images:
        mask = masks_dir / f"{image.stem}_mask.gif"
        (pairs if mask.is_file() else lacking).append((image, mask))
    if lacking:
        raise DatasetMissing(
            "Carvana",
            [str(m) for _, m in lacking[:5]] + ([f"... and {len(lacking) - 5} more"] if len(lacking) > 5 else []),
            CARVANA_LAYOUT + f"; {len(lacking)} of {len(images)} images have no mask",
            needed,
        )
    return pairs


def _read_pair(pair: tuple[Path, Path], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    height, width = size
    with Image.open(pair[0]) as im:
        im.draft("RGB", (width, height))  # JPEG: decode at a reduced scale when that is still >= size
        image = np.asarray(im.convert("RGB").resize((width, height), Image.BILINEAR, reducing_gap=None))
    with Image.open(pair[1]) as m:  # Kaggle's GIFs hold palette indices 0 (background) and 1 (car)
        m = m if m.mode in ("1", "L", "P") else m.convert("L")
        mask = np.asarray(m.resize((width, height), Image.NEAREST)) > 0
    return image.transpose(2, 0, 1), mask


def carvana(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    size: int | tuple[int, int] = (320, 480),
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    workers: int = 8,
) -> SegmentationDataset:
    """Kaggle Carvana (5,088 car photos of 1280x1918 with masks) read from ``data_dir``, resized.

    Layout: :data:`CARVANA_LAYOUT`. Kaggle's test images have no masks, so, as Pytorch-UNet does, a
    ``val_fraction`` of the training folder is held out: the image names are sorted, permuted with
    ``torch.randperm`` seeded by ``seed``, and the last ``max(1, round(val_fraction * N))`` form the
    "test" split, the rest "train". ``size`` is (height, width) or an int for a square; images are
    resized bilinearly, masks (any nonzero GIF value = car) with nearest neighbour. ``limit`` keeps
    the first ``limit`` samples of the split (in permuted order). Raises :class:`DatasetMissing` naming
    the folders and the layout when the files are absent.
    """
    if split not in ("train", "test"):
        raise ValueError(f"carvana: split must be 'train' or 'test', got {split!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"carvana: val_fraction must be in (0, 1), got {val_fraction!r}")
    size = (size, size) if isinstance(size, int) else tuple(size)
    pairs = _carvana_pairs(data_dir)
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = max(1, round(val_fraction * len(pairs)))
    if n_test >= len(pairs):
        raise ValueError(f"carvana: {len(pairs)} images are too few to hold out {n_test} for testing")
    chosen = [pairs[i] for i in (order[-n_test:] if split == "test" else order[:-n_test])][:limit]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        read = list(pool.map(functools.partial(_read_pair, size=size), chosen))
    images = torch.from_numpy(np.stack([r[0] for r in read]))
    masks = torch.from_numpy(np.stack([r[1] for r in read]).astype(np.uint8))
    return SegmentationDataset(images, masks, f"Carvana {split} ({len(chosen)} images, {size[0]}x{size[1]})")


# ---------------------------------------------------------------------------------------------- Dice


def _labels(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if pred.is_floating_point() and pred.dim() == target.dim() + 1:
        return pred.argmax(1)
    if pred.shape != target.shape:
        raise ValueError(
            f"dice: pred {tuple(pred.shape)} must be logits (N, C, H, W) or labels like target {tuple(target.shape)}"
        )
    if pred.is_floating_point():
        raise ValueError("dice: float pred of the target's shape is ambiguous; pass logits (N, C, H, W) or int labels")
    return pred


def dice(pred: torch.Tensor, target: torch.Tensor, *, foreground: int = 1, reduce: str = "mean") -> torch.Tensor:
    """Dice coefficient of the ``foreground`` class per image, ``2 |P & T| / (|P| + |T|)``.

    ``pred``: logits ``(N, C, H, W)`` (argmax over C) or labels ``(N, H, W)`` (int or bool);
    ``target``: labels ``(N, H, W)``. An image whose prediction and target are both empty scores 1,
    as in Pytorch-UNet's ``dice_coeff`` (which adds an epsilon of 1e-6; here the value is exact).
    ``reduce="mean"`` gives the mean over images (float64 scalar), ``"none"`` the ``(N,)`` values.
    """
    if reduce not in ("mean", "none"):
        raise ValueError(f"dice: reduce must be 'mean' or 'none', got {reduce!r}")
    p = _labels(pred, target) == foreground
    t = target == foreground
    dims = tuple(range(1, t.dim()))
    inter = (p & t).sum(dims).double()
    total = p.sum(dims).double() + t.sum(dims).double()
    values = torch.where(total > 0, 2 * inter / total.clamp_min(1), torch.ones_like(total))
    return values.mean() if reduce == "mean" else values


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Pytorch-UNet's multiclass Dice loss: 1 - mean over classes of the soft Dice of the softmax
    against the one-hot target, summed over the whole batch."""
    probs = logits.softmax(1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(probs.dtype)
    dims = (0, 2, 3)
    inter = 2 * (probs * onehot).sum(dims)
    sets = probs.sum(dims) + onehot.sum(dims)
    sets = torch.where(sets == 0, inter, sets)
    return 1 - ((inter + eps) / (sets + eps)).mean()


@torch.no_grad()
def dice_stats(model: nn.Module, data, device: torch.device | str = "cpu", batch_size: int = 16) -> tuple[float, float]:
    """(mean, standard error) of the per-image foreground Dice of ``model`` on ``data`` (batches in
    order), fractions; the standard error is the per-image standard deviation (ddof 1) over the square
    root of the number of images (infinity for fewer than 2).

    Under a process group every rank must call it: rank ``r`` of ``W`` scores images ``r, r + W, ...``
    (no padding) with the unwrapped model and the float64 sums are combined, so every rank gets the
    values on the whole set. Leaves the model in eval mode (a UNet whose BatchNorm keeps no running
    statistics, like the authors' released one, still normalizes with each test batch's statistics, so
    the score depends on ``batch_size`` and, under ``torchrun``, on the number of processes).
    """
    model = dist.unwrap(model)
    model.eval()
    device = dist.local_device(device)
    idx = torch.arange(dist.rank(), len(data), dist.world_size())
    total = torch.zeros(3, dtype=torch.float64, device=device)  # sum of Dice, images, sum of squares
    with parametrize.cached():
        for start in range(0, len(idx), batch_size):
            x, y = data[idx[start : start + batch_size]]
            values = dice(model(x.to(device)), y.to(device), reduce="none")
            total += torch.stack([values.sum(), values.new_tensor(len(values)), values.square().sum()])
    total, n, squares = dist.all_sum(total).tolist()
    mean = total / n
    if n < 2:
        return mean, math.inf
    return mean, math.sqrt(max(squares - n * mean * mean, 0.0) / (n - 1) / n)


def evaluate_dice(model: nn.Module, data, device: torch.device | str = "cpu", batch_size: int = 16) -> float:
    """Mean per-image foreground Dice of ``model`` on ``data``, a fraction in [0, 1] (:func:`dice_stats`)."""
    return dice_stats(model, data, device, batch_size)[0]


# ------------------------------------------------------------------------------------------ training

HISTORY_COLUMNS = ["epoch", "steps", "train_loss", "test_dice", "kept", "lr"]


def segment_steps(n: int, batch_size: int, world: int | None = None) -> int:
    """Optimizer steps per epoch of :func:`train_segmenter` on ``n`` samples with a global ``batch_size``
    over ``world`` processes (default: the current world size): each rank takes ``ceil(n / world)``
    samples (a DistributedSampler pads) in batches of ``batch_size / world``."""
    world = dist.world_size() if world is None else world
    local = dist.local_batch_size(batch_size, world)
    return math.ceil(math.ceil(n / world) / local)


def train_segmenter(
    model: nn.Module,
    train: SegmentationDataset,
    test: SegmentationDataset | None,
    *,
    epochs: int,
    batch_size: int = 8,
    lr: float = 1e-3,
    device: torch.device | str = "cpu",
    schedule: FrequencySchedule | None = None,
    seed: int = 0,
    progress: bool = True,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    dice_loss: bool = True,
    cosine: bool = True,
    grad_clip: float | None = 1.0,
    desc: str = "train",
    eval_batch_size: int = 16,
) -> pd.DataFrame:
    """Train ``model`` (logits ``(N, 2, H, W)``) on ``train``; return one history row per epoch.

    Loss: cross-entropy, plus :func:`soft_dice_loss` when ``dice_loss`` (as Pytorch-UNet). Optimizer
    ``"adam"`` or ``"rmsprop"`` (momentum 0.999), gradient norm clipped at ``grad_clip``, learning rate
    annealed to 0 by a cosine over all steps when ``cosine``. ``schedule.step()`` (progressive FR
    dropping) follows every optimizer step. Batches are shuffled by a generator seeded with ``seed``
    (the global RNG is seeded with ``seed + rank``).

    Under ``torchrun`` (:mod:`freqlib.distributed`, as :func:`freqlib.train.train_classifier`): the
    group is joined if the caller has not, the model is wrapped in DDP, each rank takes its shard
    of every epoch in batches of ``batch_size / world_size`` (``batch_size`` is the global batch and
    must divide evenly), rank 0's buffers are broadcast after every epoch, kept counts are checked
    to agree, and the ranks' RNGs are re-synchronized at the end; every rank returns the same history.

    Columns: ``epoch``, ``steps``, ``train_loss`` (mean over the epoch's samples, all ranks),
    ``test_dice`` (:func:`evaluate_dice` after the epoch; NaN without ``test``), ``kept`` (FR
    coefficients, 0 when dense), ``lr``; ``history.attrs["train_s"]``: seconds spent in the loop
    (training and the per-epoch evaluations). The main process shows a tqdm bar and prints one
    summary line.
    """
    check_positive_int("epochs", epochs)
    dist.init_from_env(device)  # no-op outside torchrun, or when the caller already joined
    device = dist.local_device(device)
    local_batch = dist.local_batch_size(batch_size)
    torch.manual_seed(seed + dist.rank())
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    opt = make_optimizer(optimizer, model, lr, weight_decay)
    sampler = dist.shard(train, shuffle=True, seed=seed)
    per_epoch = segment_steps(len(train), batch_size)
    net = dist.wrap(model, device)
    lr_sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * per_epoch) if cosine else None

    def batches(epoch_index: int):
        if sampler is not None:
            sampler.set_epoch(epoch_index)
            order = torch.as_tensor(list(sampler), dtype=torch.long)
        else:
            order = torch.randperm(len(train), generator=generator)
        return (train[order[start : start + local_batch]] for start in range(0, len(order), local_batch))

    def step(batch):
        x, y = batch[0].to(device), batch[1].to(device)
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        if dice_loss:
            loss = loss + soft_dice_loss(logits, y)
        optimizer_step(opt, loss, clip=None if grad_clip is None else (net.parameters(), grad_clip))
        return {"train_loss": (loss.detach().double() * len(y), len(y))}

    def end_epoch(epoch: int) -> dict:
        kept = checked_kept(model, f"{desc}, epoch {epoch}")
        test_dice = evaluate_dice(model, test, device, eval_batch_size) if test is not None else float("nan")
        return {"test_dice": test_dice, "kept": kept, "lr": opt.param_groups[0]["lr"]}

    history = fit(
        net,
        step,
        batches,
        epochs=epochs,
        steps_per_epoch=per_epoch,
        after_step=[s for s in (lr_sched, schedule) if s is not None],
        end_epoch=end_epoch,
        columns=HISTORY_COLUMNS,
        desc=desc,
        progress=progress,
        summary=lambda last: (
            f"train loss {last.train_loss:.3f}, test Dice {100 * last.test_dice:.1f}%{kept_note(last.kept)}"
        ),
        postfix=lambda row: {"loss": f"{row['train_loss']:.3f}", "dice": f"{row['test_dice']:.3f}"},
        device=device,
    )
    return history
