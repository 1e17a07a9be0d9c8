"""Paper 3's training experiments: pruning strategies before refinement (Figs 5/6), learned FCMask
with learn-then-refine and alternating training (Table 1, Table 3, Figs 3, 8, 9/10, 11).

Pipeline (:func:`experiment`): train a dense classifier (:func:`build`), wrap its pointwise convs
with :func:`freqlib.pointwise.convert` (4x4 macroblocks, the paper's CIFAR setting), then

- **strategy sweep** (:func:`strategy_sweep`, Figs 5/6, no retraining): for each strategy of
  :data:`freqlib.pointwise.STRATEGIES` and each target MAC reduction, one keep fraction for every
  layer ("a threshold that masks out a given percentage of operations for each transformation
  layer") found by bisection (:func:`masks_for_reduction`), with profiled importance scores
  (:func:`profile_scores`); and the input-resolution baseline (:func:`resolution_sweep`): the dense
  model evaluated on inputs downsampled to the resolution with the same MAC reduction;
- **learned FCMask** (:func:`train_pruned`): ``"learn-then-refine"`` learns the FCMasks with frozen
  weights and the loss ``CE + lambda * sum_l mean|FCMask_l|`` (:func:`freqlib.pointwise.fcmask_penalty`),
  rounds them to bands and refines the weights with the bands fixed; ``"alternate"`` splits the same
  numbers of steps into ``cycles`` rounds of (learn masks, round, refine weights). FCMask snapshots and
  band-count histograms are recorded along the way (Figs 3 and 11);
- **layer-wise compression** (:func:`layer_compression`, Fig 8).

MAC reduction is always ``dense MACs / MACs of the pruned model``, transforms included
(:func:`freqlib.pointwise.count_macs`), against the unconverted dense network; channel pruning,
which needs no transform, is counted without them.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .. import report
from ..data import DatasetMissing, ImageDataset, cifar100
from ..loop import fit, optimizer_step, progress_bar
from ..models.mobilenetv2 import CIFAR_CONFIG, MobileNetV2
from ..models.resnext import resnext29_32x4d
from ..pointwise import (
    STRATEGIES,
    band_counts,
    band_layer_macs,
    block_dct2d,
    convert,
    count_macs,
    fcmask_penalty,
    layer_macs,
    pointwise_layers,
    round_fcmask,
    strategy_mask,
)
from ..train import evaluate, make_augmenter, make_loader, train_classifier
from . import PROFILES, parts_table
from .classify import load_data as classify_load_data
from .classify import recalibrate_batchnorm

DATA = Path(__file__).resolve().parents[2] / "data" / "paper"

#: A reduced MobileNetV2 for CPU runs: the CIFAR layout's first three stages, one block each.
SMALL_CONFIG = ((1, 16, 1, 1), (6, 24, 1, 2), (6, 32, 1, 2))
#: Model names for :func:`build`.
MODELS = ("mobilenetv2-small", "mobilenetv2", "resnext29")
SCHEMES = ("learn-then-refine", "alternate")
DATASETS = ("fashion_mnist", "cifar10", "cifar100")
#: The paper's macroblock size for CIFAR ("4x4 macroblocks").
BLOCK = 4


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _nonneg_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def _check_targets(targets: Sequence[float]) -> list[float]:
    targets = [float(t) for t in targets]
    if not targets or any(not math.isfinite(t) or t < 1.0 for t in targets):
        raise ValueError(f"targets must be a non-empty list of MAC reductions >= 1, got {targets!r}")
    return targets


# --- paper numbers ------------------------------------------------------------------------------


def paper_table1() -> pd.DataFrame:
    """Table 1 as printed: CIFAR-10 accuracy degradation (%) and MAC reduction (x), indexed by model."""
    return pd.read_csv(DATA / "pointwise_table1.csv", comment="#").set_index("model")


def paper_table3() -> pd.DataFrame:
    """Table 3 as printed: CIFAR-100 baseline and pruned top-1 accuracy (%) and MAC reduction (x)."""
    return pd.read_csv(DATA / "pointwise_table3.csv", comment="#").set_index("model")


# --- models and data ----------------------------------------------------------------------------


def build(model_name: str, num_classes: int = 10, seed: int | None = 0) -> nn.Module:
    """A fresh dense model (``torch.manual_seed(seed)`` first unless None); input (N, 3, H, W), logits (N, classes).

    ``"mobilenetv2"``: the CIFAR MobileNetV2 at width 1.0 (the paper's); ``"mobilenetv2-small"``: the
    same layout with :data:`SMALL_CONFIG`; ``"resnext29"``: ResNeXt-29 32x4d (the paper's).
    """
    if model_name not in MODELS:
        raise ValueError(f"model_name must be one of {', '.join(MODELS)}, got {model_name!r}")
    _positive_int("num_classes", num_classes)
    if seed is not None:
        torch.manual_seed(seed)
    if model_name == "resnext29":
        return resnext29_32x4d(num_classes)
    return MobileNetV2(num_classes, config=SMALL_CONFIG if model_name == "mobilenetv2-small" else CIFAR_CONFIG)


def load_data(
    data: str = "fashion_mnist",
    *,
    profile: str = "smoke",
    data_dir=None,
    size: int = 32,
    train_subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
) -> tuple[ImageDataset, ImageDataset, str, int]:
    """(train, test, label, classes): images (N, 3, size, size) in [0, 1].

    ``"cifar10"`` / ``"cifar100"`` from ``data_dir`` (torchvision's layout); ``"fashion_mnist"`` is the
    stand-in (resized, grey replicated to 3 channels). At the ``paper`` profile a missing CIFAR set
    falls back to Fashion-MNIST with a printed stand-in label; elsewhere it raises DatasetMissing.
    Images other than 32x32 (``size``) are resized (bilinear, antialiased), said in the label.
    """
    if data not in DATASETS:
        raise ValueError(f"data must be one of {', '.join(DATASETS)}, got {data!r}")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    _positive_int("size", size)
    if data == "cifar100":
        try:
            train_all, test_all = cifar100("train", data_dir), cifar100("test", data_dir)
        except DatasetMissing:
            if profile != "paper":
                raise
            train, test, label = classify_load_data(
                "fashion_mnist", profile=profile, train_subset=train_subset, test_subset=test_subset, seed=seed
            )
            label = report.stand_in(f"CIFAR-100 not found (data_dir={data_dir!r}); {label.removeprefix('stand-in: ')}")
            classes = 10
        else:
            train, test = train_all.subset(train_subset, seed=seed), test_all.subset(test_subset, seed=seed + 1)
            label, classes = f"CIFAR-100 ({len(train):,} train / {len(test):,} test)", 100
            if len(train) < len(train_all) or len(test) < len(test_all):
                label = report.stand_in(f"CIFAR-100 subset: {len(train):,} train, {len(test):,} test")
    else:
        train, test, label = classify_load_data(
            data, profile=profile, data_dir=data_dir, train_subset=train_subset, test_subset=test_subset, seed=seed
        )
        classes = 10
    if size != 32:
        train, test = train.adapted(size, 3), test.adapted(size, 3)
        note = f"images resized to {size}x{size}"
        label = f"{label}; {note}" if label.startswith("stand-in") else report.stand_in(f"{label}; {note}")
    return train, test, label, classes


# --- MACs ---------------------------------------------------------------------------------------


def pointwise_inputs(model: nn.Module, input_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """{name: input shape (1, C, H, W)} of every FrequencyBandPointwise of ``model`` for one image."""
    shapes, handles = {}, []
    for name, layer in pointwise_layers(model).items():

        def hook(m: nn.Module, inputs: tuple, out: torch.Tensor, n: str = name) -> None:
            shapes.setdefault(n, tuple(inputs[0].shape))

        handles.append(layer.register_forward_hook(hook))
    layer_macs(model, input_shape)
    for h in handles:
        h.remove()
    return shapes


class MacModel:
    """MACs of a converted model as a function of its masks, without forward passes.

    ``other``: MACs of every layer that is not a FrequencyBandPointwise; :meth:`total` adds
    :func:`freqlib.pointwise.band_layer_macs` of each mask. ``input_shape``: (C, H, W) for one image.
    """

    def __init__(self, model: nn.Module, input_shape: Sequence[int]):
        self.layers = pointwise_layers(model)
        if not self.layers:
            raise ValueError("MacModel: the model has no FrequencyBandPointwise layers; convert it first")
        self.shapes = pointwise_inputs(model, input_shape)
        per_layer = layer_macs(model, input_shape)
        self.other = sum(sum(p.values()) for n, p in per_layer.items() if n not in self.layers)

    def total(self, masks: dict[str, torch.Tensor] | None = None, transforms: bool = True) -> int:
        """MACs with ``masks`` ({name: (C_in, b*b) bool}; default: the layers' kept masks).

        ``transforms=False`` counts the 1x1 products only (no DCT/IDCT): the cost of plain channel
        pruning, which needs no transform (a channel mask keeps all coefficients of a channel)."""
        total = self.other
        for name, layer in self.layers.items():
            mask = layer.kept_mask() if masks is None else masks[name]
            parts = band_layer_macs(mask, layer.out_channels, layer.block, self.shapes[name])
            total += sum(parts.values()) if transforms else parts["pointwise"]
        return total


# --- profiling-based strategies (Figs 5/6) ------------------------------------------------------


@torch.no_grad()
def profile_scores(
    model: nn.Module, dataset: ImageDataset, images: int = 256, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """Importance of every (input channel, zigzag coefficient) of each converted layer, (C_in, b*b) float64.

    Mean |DCT coefficient| of the layer's input over the first ``images`` examples (eval mode),
    times the L2 norm of the channel's weight column (how strongly that input reaches the outputs).
    """
    _positive_int("images", images)
    layers = pointwise_layers(model)
    sums = {n: 0.0 for n in layers}

    def hook(m: nn.Module, inputs: tuple, out: torch.Tensor, n: str) -> None:
        sums[n] = sums[n] + block_dct2d(inputs[0], m.block).abs().sum(dim=(0, 3, 4)).double().cpu()

    handles = [layer.register_forward_hook(functools.partial(hook, n=name)) for name, layer in layers.items()]
    model.eval().to(device)
    seen = 0
    try:
        for x, _ in make_loader(dataset, 256, shuffle=False):
            x = x[: images - seen]
            model(x.to(device))
            seen += len(x)
            if seen >= images:
                break
    finally:
        for h in handles:
            h.remove()
    scores = {}
    for name, layer in layers.items():
        norm = layer.weight.detach().reshape(layer.out_channels, -1).norm(dim=0).double().cpu()
        scores[name] = sums[name] / seen * norm[:, None]
    return scores


def strategy_masks(
    model: nn.Module, strategy: str, keep_fraction: float, scores: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """{layer: (C_in, b*b) bool} masks of one strategy with the same keep fraction in every layer."""
    out = {}
    for name, layer in pointwise_layers(model).items():
        s = None if scores is None else scores[name]
        out[name] = strategy_mask(strategy, layer.in_channels, layer.block, keep_fraction, s)
    return out


def masks_for_reduction(
    model: nn.Module,
    strategy: str,
    target: float,
    dense_macs: int,
    macs: MacModel,
    scores: dict[str, torch.Tensor] | None = None,
    iterations: int = 20,
) -> tuple[float, float]:
    """Set the masks of ``strategy`` whose MAC reduction (``dense_macs`` / pruned MACs) is closest to
    ``target`` from above; returns (keep fraction, achieved reduction).

    Bisection on the keep fraction (MACs grow with it). When the target cannot be reached (it
    exceeds the reduction with every coefficient pruned) the fraction is 0. ``"channel"`` is counted
    without the transforms (traditional channel pruning of the 1x1 conv, :meth:`MacModel.total`).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    (target,) = _check_targets([target])
    transforms = strategy != "channel"
    lo, hi = 0.0, 1.0  # reduction(lo) >= target is what we keep
    if dense_macs / macs.total(strategy_masks(model, strategy, 1.0, scores), transforms) >= target:
        lo = 1.0
    else:
        for _ in range(iterations):
            mid = (lo + hi) / 2
            if dense_macs / macs.total(strategy_masks(model, strategy, mid, scores), transforms) >= target:
                lo = mid
            else:
                hi = mid
    masks = strategy_masks(model, strategy, lo, scores)
    for name, layer in pointwise_layers(model).items():
        layer.set_mask(masks[name])
    return lo, dense_macs / macs.total(masks, transforms)


def reset_masks(model: nn.Module) -> None:
    """No pruning in any converted layer."""
    for layer in pointwise_layers(model).values():
        layer.reset_mask()


def strategy_sweep(
    model: nn.Module,
    test: ImageDataset,
    targets: Sequence[float],
    dense_macs: int,
    input_shape: Sequence[int],
    *,
    strategies: Sequence[str] = STRATEGIES,
    scores: dict[str, torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """Accuracy of every (strategy, target) before refinement; the masks are reset afterwards.

    Columns: ``strategy``, ``target``, ``keep``, ``reduction`` (achieved, x), ``accuracy`` (fraction).
    """
    targets = _check_targets(targets)
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not strategies:
        raise ValueError(f"strategies must be a non-empty list of {STRATEGIES}; unknown: {bad}")
    macs, rows = MacModel(model, input_shape), []
    for strategy in strategies:
        for target in targets:
            keep, reduction = masks_for_reduction(model, strategy, target, dense_macs, macs, scores)
            rows.append(
                {
                    "strategy": strategy,
                    "target": target,
                    "keep": keep,
                    "reduction": reduction,
                    "accuracy": evaluate(model, test, device),
                }
            )
    reset_masks(model)
    return pd.DataFrame(rows)


def resolution_for_reduction(model: nn.Module, size: int, target: float, channels: int = 3) -> tuple[int, float]:
    """(resolution r <= size, MAC reduction) of feeding r x r inputs to the dense ``model``: the largest
    r whose reduction count_macs(size) / count_macs(r) reaches ``target`` (r = 1 if none does)."""
    _positive_int("size", size)
    (target,) = _check_targets([target])
    full = count_macs(model, (channels, size, size))
    for r in range(size, 0, -1):
        reduction = full / count_macs(model, (channels, r, r))
        if reduction >= target:
            return r, reduction
    return 1, reduction


@torch.no_grad()
def evaluate_at(model: nn.Module, dataset: ImageDataset, size: int, device: torch.device | str = "cpu") -> float:
    """Top-1 accuracy with the images downsampled to size x size (bilinear, antialiased)."""
    x, y = dataset.tensors
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return evaluate(model, ImageDataset((x * 255).round().to(torch.uint8), y, dataset.name), device)


def resolution_sweep(
    model: nn.Module, test: ImageDataset, targets: Sequence[float], device: torch.device | str = "cpu"
) -> pd.DataFrame:
    """The input-resolution baseline: rows like :func:`strategy_sweep` with ``strategy`` "input_res"
    and ``keep`` the resolution used."""
    size = test.images.shape[-1]
    rows = []
    for target in _check_targets(targets):
        r, reduction = resolution_for_reduction(model, size, target)
        rows.append(
            {
                "strategy": "input_res",
                "target": target,
                "keep": r,
                "reduction": reduction,
                "accuracy": evaluate_at(model, test, r, device),
            }
        )
    return pd.DataFrame(rows)


# --- learned FCMask (section 3.3, Table 1, Figs 3, 9-11) ----------------------------------------


def _batches(train: ImageDataset, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield from make_loader(train, batch_size, shuffle=True, generator=generator)


def band_histogram(model: nn.Module) -> np.ndarray:
    """Number of channels (all converted layers) whose rounded FCMask keeps 0..N coefficients, (N+1,) int."""
    layers = list(pointwise_layers(model).values())
    num = layers[0].num_coefs
    counts = torch.cat([round_fcmask(m.fcmask, num).clamp(max=num) for m in layers])
    return np.bincount(counts.numpy(), minlength=num + 1)


def _phase(
    model: nn.Module,
    batches: Iterator,
    steps: int,
    *,
    masks: bool,
    lr: float,
    lam: float,
    device: torch.device | str,
    on_step: Callable[[int], None] | None,
    step0: int,
    bar,
    augmenter: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[dict]:
    """``steps`` Adam steps on the FCMasks (``masks=True``; weights and BatchNorm frozen, FCMask
    clipped to [0, 1]) or on everything else (FCMask frozen, BatchNorm in train mode)."""
    layers = list(pointwise_layers(model).values())
    fc = [m.fcmask for m in layers]
    ids = {id(p) for p in fc}
    params = fc if masks else [p for p in model.parameters() if id(p) not in ids]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    rows = []

    def take(epoch_index: int):
        if masks:  # after fit's model.train(): BatchNorm keeps its statistics while the masks learn
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return (next(batches) for _ in range(steps))

    def step(batch):
        x, y = batch[0].to(device), batch[1].to(device)
        if augmenter is not None:
            x = augmenter(x)
        ce = F.cross_entropy(model(x), y)
        optimizer_step(opt, ce + lam * fcmask_penalty(model) if masks else ce)
        if masks:
            with torch.no_grad():
                for p in fc:
                    p.clamp_(0.0, 1.0)
        rows.append({"step": step0 + len(rows) + 1, "phase": "mask" if masks else "refine", "ce": float(ce.detach())})
        if on_step is not None:
            on_step(step0 + len(rows))
        return {}

    if steps:
        fit(model, step, take, epochs=1, steps_per_epoch=steps, progress=False, device=device, bar=bar)
    for p in model.parameters():
        p.requires_grad_(True)
    return rows


@dataclass
class PrunedRun:
    """What :func:`train_pruned` returns: the summary row, the trained model, the per-step history
    (``step``, ``phase``, ``ce``), FCMask snapshots {step: {layer: (C_in,) array}} at step 0, every
    ``snapshot_every`` steps and after the last mask step of every cycle (before rounding; those
    steps are ``mask_ends``), and band-count histograms over training (``step``, ``coef0``..``coefN``:
    channels whose rounded FCMask keeps 0..N coefficients)."""

    row: dict
    model: nn.Module
    history: pd.DataFrame
    snapshots: dict = field(default_factory=dict)
    histograms: pd.DataFrame | None = None
    mask_ends: list = field(default_factory=list)


def train_pruned(
    base: nn.Module,
    train: ImageDataset,
    test: ImageDataset,
    *,
    scheme: str,
    lam: float,
    dense_macs: int,
    input_shape: Sequence[int],
    mask_steps: int,
    refine_steps: int,
    cycles: int = 1,
    batch_size: int = 64,
    mask_lr: float = 5e-2,
    refine_lr: float = 1e-3,
    snapshot_every: int = 10,
    bn_images: int = 512,
    augment: bool | int = False,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> PrunedRun:
    """Learn FCMasks on a copy of the converted ``base`` and refine it; returns a :class:`PrunedRun`.

    ``"learn-then-refine"``: ``mask_steps`` on the masks, round to bands, ``refine_steps`` on the
    weights. ``"alternate"``: ``cycles`` rounds of ``mask_steps / cycles`` mask steps, rounding and
    ``refine_steps / cycles`` refine steps. ``lam``: lambda of section 3.3's loss (>= 0). The row has
    ``scheme``, ``lambda``, ``reduction`` (x), ``accuracy`` (after refinement), ``accuracy before
    refinement`` (after the first rounding) and ``kept`` (fraction of kept coefficients). ``augment``:
    batch augmentation of both phases (:func:`freqlib.train.make_augmenter`).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    _positive_int("mask_steps", mask_steps)
    _nonneg_int("refine_steps", refine_steps)
    _positive_int("snapshot_every", snapshot_every)
    cycles = _positive_int("cycles", cycles) if scheme == "alternate" else 1
    if mask_steps < cycles:
        raise ValueError(f"mask_steps ({mask_steps}) must be at least cycles ({cycles})")
    model = copy.deepcopy(base).to(device)
    reset_masks(model)
    torch.manual_seed(seed)
    batches = _batches(train, batch_size, seed)
    augmenter = make_augmenter(augment, seed)
    histograms = [{"step": 0, **{f"coef{i}": int(c) for i, c in enumerate(band_histogram(model))}}]

    def fcmasks() -> dict[str, np.ndarray]:
        return {n: m.fcmask.detach().cpu().numpy().copy() for n, m in pointwise_layers(model).items()}

    def record(step: int) -> None:
        if step % snapshot_every == 0:
            histograms.append({"step": step, **{f"coef{i}": int(c) for i, c in enumerate(band_histogram(model))}})
            snapshots[step] = fcmasks()

    rows, snapshots, mask_ends, step, before = [], {0: fcmasks()}, [], 0, None
    bar = progress_bar(mask_steps + refine_steps, f"{scheme} lambda={lam:g}", progress)
    with bar:
        for k in range(cycles):
            m_steps = mask_steps // cycles + (k < mask_steps % cycles)
            r_steps = refine_steps // cycles + (k < refine_steps % cycles)
            common = dict(lam=lam, device=device, on_step=record, bar=bar, augmenter=augmenter)
            rows += _phase(model, batches, m_steps, masks=True, lr=mask_lr, step0=step, **common)
            step += m_steps
            snapshots[step] = fcmasks()
            mask_ends.append(step)
            for layer in pointwise_layers(model).values():
                layer.round_bands()
            if before is None:
                before = evaluate(model, test, device)
            rows += _phase(model, batches, r_steps, masks=False, lr=refine_lr, step0=step, **common)
            step += r_steps
    if step % snapshot_every:
        histograms.append({"step": step, **{f"coef{i}": int(c) for i, c in enumerate(band_histogram(model))}})
    recalibrate_batchnorm(model, train, device, bn_images)
    layers = pointwise_layers(model).values()
    kept = sum(int(m.kept_mask().sum()) for m in layers) / sum(m.kept_mask().numel() for m in layers)
    row = {
        "scheme": scheme,
        "lambda": lam,
        "reduction": dense_macs / count_macs(model, input_shape),
        "accuracy before refinement": before,
        "accuracy": evaluate(model, test, device),
        "kept": kept,
    }
    return PrunedRun(row, model, pd.DataFrame(rows), snapshots, pd.DataFrame(histograms), mask_ends)


def layer_compression(dense: nn.Module, pruned: nn.Module, input_shape: Sequence[int]) -> pd.DataFrame:
    """Fig 8: per converted layer, ``dense`` (MACs of the 1x1 conv), ``pointwise`` and ``transform``
    (DCT + IDCT) MACs of the pruned layer, ``pointwise compression`` = dense / pointwise and
    ``overall compression`` = dense / (pointwise + transform); ``inf`` where nothing is computed."""
    d, p = layer_macs(dense, input_shape), layer_macs(pruned, input_shape)
    rows = []
    for name in pointwise_layers(pruned):
        parts, base = p[name], d[name]["conv"]
        transform = parts["dct"] + parts["idct"]
        rows.append(
            {
                "layer": name,
                "dense": base,
                "pointwise": parts["pointwise"],
                "transform": transform,
                "pointwise compression": base / parts["pointwise"] if parts["pointwise"] else math.inf,
                "overall compression": base / (parts["pointwise"] + transform)
                if parts["pointwise"] + transform
                else math.inf,
                "bands": band_counts(pointwise_layers(pruned)[name].kept_mask()) is not None,
            }
        )
    return pd.DataFrame(rows)


# --- the whole experiment -----------------------------------------------------------------------


@dataclass
class TrainResult:
    """What :func:`experiment` returns (see there); accuracies are fractions, reductions in x."""

    model_name: str
    label: str
    dense_accuracy: float
    dense_macs: int
    converted_macs: int
    sweep: pd.DataFrame
    runs: pd.DataFrame
    pruned: dict
    layers: pd.DataFrame
    dense_model: nn.Module
    input_shape: tuple[int, int, int]
    seconds: dict

    @property
    def table(self) -> pd.DataFrame:
        """One frame, first column ``part``: the ``dense`` model (accuracy, MACs), the ``sweep`` rows and
        the ``learned`` runs; what ``freqlib experiment pointwise_train`` prints and writes."""
        dense = pd.DataFrame([{"accuracy": self.dense_accuracy, "macs": self.dense_macs, "reduction": 1.0}])
        return parts_table({"dense": dense, "sweep": self.sweep, "learned": self.runs}).assign(model=self.model_name)


def experiment(
    model_name: str = "mobilenetv2-small",
    *,
    profile: str = "smoke",
    data: str = "fashion_mnist",
    data_dir=None,
    size: int = 16,
    train_subset: int | None = 1024,
    test_subset: int | None = 256,
    epochs: int = 1,
    max_steps: int | None = None,
    batch_size: int = 64,
    lr: float = 2e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    targets: Sequence[float] = (1.5, 2.0, 3.0),
    strategies: Sequence[str] = STRATEGIES,
    lambdas: Sequence[float] = (0.5,),
    schemes: Sequence[str] = SCHEMES,
    mask_steps: int = 20,
    refine_steps: int = 20,
    cycles: int = 2,
    mask_lr: float = 5e-2,
    refine_lr: float = 1e-3,
    snapshot_every: int = 5,
    profile_images: int = 256,
    augment: bool | int = False,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    datasets: tuple | None = None,
) -> TrainResult:
    """Dense training, strategy sweep, input-resolution baseline and learned runs for one model.

    ``targets``: MAC reductions (x) of the sweep. ``lambdas`` x ``schemes``: one :func:`train_pruned`
    run each. ``datasets``: (train, test, label, classes) from :func:`load_data` (else loaded from
    ``data``, ``size`` and the subsets). Returns a :class:`TrainResult`: ``sweep`` (strategy rows and
    ``input_res`` rows), ``runs`` (one row per learned run), ``pruned`` {(scheme, lambda): PrunedRun}
    and ``layers`` (Fig 8 for the learn-then-refine run whose reduction is closest to 2x). ``augment``
    (True or a padding in pixels) augments every training batch with random crops and flips.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    build(model_name, seed=None)  # checks the name
    targets = _check_targets(targets)
    bad = [s for s in schemes if s not in SCHEMES]
    if bad or not schemes:
        raise ValueError(f"schemes must be a non-empty list of {SCHEMES}; unknown: {bad}")
    if not lambdas or any(not math.isfinite(float(v)) or float(v) < 0 for v in lambdas):
        raise ValueError(f"lambdas must be a non-empty list of numbers >= 0, got {lambdas!r}")
    train, test, label, classes = datasets or load_data(
        data,
        profile=profile,
        data_dir=data_dir,
        size=size,
        train_subset=train_subset,
        test_subset=test_subset,
        seed=seed,
    )
    shape = tuple(int(s) for s in train.images.shape[1:])
    seconds = {}
    started = time.perf_counter()
    dense = build(model_name, classes, seed=seed)
    train_classifier(
        dense,
        train,
        None,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        weight_decay=weight_decay,
        cosine=True,
        augment=augment,
        device=device,
        seed=seed,
        progress=progress,
        desc=f"{model_name} dense",
    )
    recalibrate_batchnorm(dense, train, device)
    dense_acc = evaluate(dense, test, device)
    dense_macs = count_macs(dense, shape)
    seconds["dense training"] = time.perf_counter() - started

    started = time.perf_counter()
    converted = convert(copy.deepcopy(dense), BLOCK)
    converted_macs = count_macs(converted, shape)
    scores = profile_scores(converted, train, profile_images, device)
    sweep = strategy_sweep(
        converted, test, targets, dense_macs, shape, strategies=strategies, scores=scores, device=device
    )
    sweep = pd.concat([sweep, resolution_sweep(dense, test, targets, device)], ignore_index=True)
    seconds["strategy sweep"] = time.perf_counter() - started

    started = time.perf_counter()
    pruned, rows = {}, []
    for lam in lambdas:
        for scheme in schemes:
            run = train_pruned(
                converted,
                train,
                test,
                scheme=scheme,
                lam=float(lam),
                dense_macs=dense_macs,
                input_shape=shape,
                mask_steps=mask_steps,
                refine_steps=refine_steps,
                cycles=cycles,
                batch_size=batch_size,
                mask_lr=mask_lr,
                refine_lr=refine_lr,
                snapshot_every=snapshot_every,
                augment=augment,
                seed=seed,
                device=device,
                progress=progress,
            )
            pruned[scheme, float(lam)] = run
            rows.append(run.row)
    runs = pd.DataFrame(rows)
    seconds["learned runs"] = time.perf_counter() - started
    best = table1_run(runs)
    layers = layer_compression(dense, pruned[best.scheme, best["lambda"]].model, shape)
    return TrainResult(
        model_name, label, dense_acc, dense_macs, converted_macs, sweep, runs, pruned, layers, dense, shape, seconds
    )


#: ``freqlib experiment pointwise_train -p model_name resnext29 ...``: :func:`experiment` (its parameters),
#: printed as :attr:`TrainResult.table`.
run = experiment


def table1_run(runs: pd.DataFrame, reduction: float = 2.0) -> pd.Series:
    """The learned run used for the Table 1 analog: the learn-then-refine run (else any) whose MAC
    reduction is closest to ``reduction`` on a log scale."""
    pool = runs[runs.scheme == "learn-then-refine"] if (runs.scheme == "learn-then-refine").any() else runs
    return pool.loc[(np.log(pool.reduction) - math.log(reduction)).abs().idxmin()]


def paper_model_macs(
    models: Sequence[tuple[str, int]] = (("mobilenetv2", 10), ("resnext29", 10), ("mobilenetv2", 100)),
):
    """MACs of the paper's networks on one 32x32 image, untrained: ``dense`` and ``converted`` (every
    pointwise conv with 4x4 DCT/IDCT, nothing pruned), one row per (model name, classes)."""
    rows = []
    for name, classes in models:
        model = build(name, classes, seed=0)
        dense = count_macs(model, (3, 32, 32))
        rows.append(
            {
                "model": name,
                "classes": classes,
                "dense": dense,
                "converted": count_macs(convert(model, BLOCK), (3, 32, 32)),
            }
        )
    return pd.DataFrame(rows)
