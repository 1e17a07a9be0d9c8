"""UNet segmentation with FR: the FR paper's "UNet in 759 float16 numbers, Dice > 97% on Carvana".

:func:`run` trains a dense UNet and FR variants (:data:`VARIANTS`) on the same data from the same
initialization, writes each to a compact file (float16 coefficients for FR), reads it back into a
fresh UNet, and returns a table with :data:`freqlib.experiments.RESULT_COLUMNS` (metric ``"Dice"``:
the foreground Dice of the model read back from its file). :func:`experiment` returns the same table
with the trained models and histories, for figures. :func:`build_unet` gives the authors' released
UNet layout (no conv bias, BatchNorm without affine parameters or running statistics), at full
width (64 base channels, 31,024,960 weights) or narrower for CPU runs.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .. import distributed as dist
from ..fr import SUPPORTED_LAYERS, frequency_regularize
from ..io import load_compact, save_compact
from ..models.unet import UNet
from ..paper import UNET_FREREG_KEEP
from ..schedule import drop_schedule
from ..segmentation import SegmentationDataset, carvana, evaluate_dice, segment_steps, stand_in, train_segmenter
from ..tables import parameter_table
from . import RESULT_COLUMNS, check_run, compact_bytes, result_row

FAMILY = "unet"
#: Variant -> (keep, min_keep) for :func:`freqlib.frequency_regularize`; None: dense.
#: ``fr-759``: 33 coefficients in each of the 23 weights, as in the authors' released checkpoint
#: (759 in all); ``fr-0.1%`` / ``fr-1%``: the appendix tables' rate rule (``round(n r) + 1`` per conv,
#: ``round(n r)`` per transposed conv) with the default floors (128 per conv, 32 per transposed conv).
VARIANTS: dict[str, tuple[int | float, int | None] | None] = {
    "dense": None,
    "fr-759": (UNET_FREREG_KEEP, 0),
    "fr-0.1%": (0.001, None),
    "fr-1%": (0.01, None),
}
#: The UNet's base width in the paper (channels 64, 128, ..., 1024).
PAPER_WIDTH = 64


def build_unet(width: int = PAPER_WIDTH, *, released: bool = True) -> UNet:
    """A UNet for 3-channel images and 2 classes: logits ``(N, 2, H, W)`` for input ``(N, 3, H, W)``.

    ``released=True``: the layout of the authors' released UNet-FR checkpoint (no conv bias,
    BatchNorm without affine parameters or running statistics: batch statistics at test time too);
    ``False``: the common layout (biases, affine BatchNorm with running statistics). ``width``: base
    channels of :class:`freqlib.models.UNet` (64 in the paper).
    """
    return UNet(3, 2, bias=not released, norm_affine=not released, track_running_stats=not released, width=width)


def convert(model: nn.Module, variant: str) -> nn.Module:
    """Convert ``model`` to FR with the targets of ``variant`` (:data:`VARIANTS`); dense: unchanged."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown UNet variant {variant!r}; valid: {', '.join(VARIANTS)}")
    spec = VARIANTS[variant]
    if spec is None:
        return model
    keep, min_keep = spec
    if isinstance(keep, int):
        small = [
            (f"{n}.weight", m.weight.numel())
            for n, m in model.named_modules()
            if isinstance(m, SUPPORTED_LAYERS) and m.weight.numel() < keep
        ]
        if small:
            raise ValueError(
                f"variant {variant!r} keeps {keep} coefficients per weight, but {small[0][0]} has only "
                f"{small[0][1]} (UNet width {getattr(model, 'width', PAPER_WIDTH)}); use width >= {math.ceil(keep / 2)}"
            )
    return frequency_regularize(model, keep, min_keep=min_keep)


def load_data(
    data: str,
    *,
    data_dir=None,
    size: int | tuple[int, int] = 64,
    train_size: int | None = None,
    test_size: int | None = None,
    items: int | tuple[int, int] = 1,
    seed: int = 0,
) -> tuple[SegmentationDataset, SegmentationDataset, str]:
    """(train, test, label). ``data``: ``"stand-in"`` (:func:`freqlib.segmentation.stand_in`,
    ``train_size`` / ``test_size`` samples of ``size``, Fashion-MNIST train / test items, seeds
    ``seed`` and ``seed + 1``) or ``"carvana"`` (from ``data_dir``; ``train_size`` / ``test_size``
    limit the splits, None: all). The label names the data (and says "stand-in" for the stand-in)."""
    if data == "stand-in":
        if not isinstance(size, int):
            raise ValueError(f"the stand-in is square: size must be an int, got {size!r}")
        n_train, n_test = train_size or 512, test_size or 128
        train = stand_in(n_train, size, split="train", seed=seed, items=items)
        test = stand_in(n_test, size, split="test", seed=seed + 1, items=items)
        label = (
            f"stand-in: Fashion-MNIST on skimage textures ({n_train:,} train / {n_test:,} test, {size}x{size}), "
            "not Carvana"
        )
        return train, test, label
    if data == "carvana":
        train = carvana("train", data_dir, size, seed=seed, limit=train_size)
        test = carvana("test", data_dir, size, seed=seed, limit=test_size)
        h, w = train.shape[2:]
        return train, test, f"Carvana ({len(train):,} train / {len(test):,} held-out, {h}x{w})"
    raise ValueError(f"data must be 'stand-in' or 'carvana', got {data!r}")


@dataclass
class SegmentResult:
    """What :func:`experiment` returns: the result table, each variant's model (as read back from its
    compact file) and training history, the data and its label."""

    table: pd.DataFrame
    models: dict[str, nn.Module] = field(default_factory=dict)
    histories: pd.DataFrame | None = None
    train: SegmentationDataset | None = None
    test: SegmentationDataset | None = None
    label: str = ""


def experiment(
    *,
    profile: str = "smoke",
    variants: Sequence[str] = ("dense", "fr-759"),
    data: str = "stand-in",
    data_dir=None,
    size: int | tuple[int, int] = 32,
    width: int = 20,
    released: bool = True,
    train_size: int | None = 64,
    test_size: int | None = 32,
    items: int | tuple[int, int] = 1,
    epochs: int = 1,
    batch_size: int = 8,
    lr: float = 1e-3,
    fr_lr: float = 1e-2,
    optimizer: str = "adam",
    dice_loss: bool = True,
    schedule_fraction: float = 0.3,
    schedule_mode: str = "geometric",
    eval_batch_size: int = 16,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    datasets: tuple[SegmentationDataset, SegmentationDataset, str] | None = None,
) -> SegmentResult:
    """Train every variant of ``variants`` on ``data`` and return a :class:`SegmentResult`.

    Each model starts from the same initialization (``torch.manual_seed(seed)`` before
    :func:`build_unet`) and sees the same batches (:func:`freqlib.segmentation.train_segmenter`,
    cosine learning rate; ``lr`` for dense, ``fr_lr`` for FR). FR variants are converted at the start
    with their targets; a :class:`~freqlib.FrequencySchedule` (``schedule_mode``) lowers each weight
    from its full spectrum to the target over the first ``schedule_fraction`` of the steps. Each
    trained model is written with :func:`freqlib.save_compact` (float16 coefficients for FR, float32
    for dense), read back into a fresh UNet and scored again; ``value`` is that score (test Dice,
    fraction), ``trained value`` the score before writing. ``profile`` only labels the run.
    ``datasets``: (train, test, label) already loaded with :func:`load_data` (then ``data``,
    ``data_dir``, ``size``, ``train_size``, ``test_size`` and ``items`` are not used).
    Under ``torchrun`` each process trains its shard (:mod:`freqlib.distributed`).
    """
    check_run(profile, variants, VARIANTS, what="UNet")  # the profile is a label; the parameters carry its values
    device = dist.init_from_env(device)
    if datasets is None:
        datasets = load_data(
            data, data_dir=data_dir, size=size, train_size=train_size, test_size=test_size, items=items, seed=seed
        )
    train, test, label = datasets
    total_steps = epochs * segment_steps(len(train), batch_size)
    rows, models, histories = [], {}, []
    with tempfile.TemporaryDirectory() as folder:
        for name in variants:
            torch.manual_seed(seed)
            model = convert(build_unet(width, released=released), name)
            schedule = None
            if VARIANTS[name] is not None:
                schedule = drop_schedule(model, schedule_fraction, total_steps, mode=schedule_mode)
            history = train_segmenter(
                model,
                train,
                test,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr if VARIANTS[name] is None else fr_lr,
                device=device,
                schedule=schedule,
                seed=seed,
                progress=progress,
                optimizer=optimizer,
                dice_loss=dice_loss,
                desc=f"UNet {name}",
                eval_batch_size=eval_batch_size,
            )
            train_s = history.attrs["train_s"]
            trained = float(history.test_dice.iloc[-1])
            path = Path(folder) / f"{name}.frq"
            save_compact(model, path, dtype=torch.float32 if VARIANTS[name] is None else torch.float16)
            restored = load_compact(build_unet(width, released=released), path).to(device)
            value = evaluate_dice(restored, test, device, eval_batch_size)
            row = result_row(FAMILY, name, label, restored, "Dice", value, train_s)
            row["trained value"] = trained
            rows.append(row)
            models[name] = restored
            histories.append(history.assign(variant=name))
    table = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "trained value"])
    return SegmentResult(table, models, pd.concat(histories, ignore_index=True), train, test, label)


def run(**params) -> pd.DataFrame:
    """:func:`experiment`'s result table (:data:`RESULT_COLUMNS` plus ``trained value``)."""
    return experiment(**params).table


def architecture_claims(width: int = PAPER_WIDTH, keep: int = UNET_FREREG_KEEP) -> dict:
    """What follows from the released UNet's architecture alone (no training): weight count, the
    number of weights, kept numbers at ``keep`` per weight, the ratios in numbers and in bytes
    (float32 weights vs float16 coefficients) and the size of its compact file (float16)."""
    model = frequency_regularize(build_unet(width, released=True), keep, min_keep=0)
    table = parameter_table(model)
    weights, kept = int(table.loc["total", "Org. NoP."]), int(table.loc["total", "Rem. NoP."])
    return {
        "weights": weights,
        "tensors": len(table) - 1,
        "kept": kept,
        "ratio (numbers)": weights / kept,
        "ratio (bytes, float32 -> float16)": 4 * weights / (2 * kept),
        "float32 weight bytes": 4 * weights,
        "compact file bytes": compact_bytes(model, torch.float16),
    }
