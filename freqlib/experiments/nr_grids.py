"""The NR-period paper's grids of (NR period x regularization strength), Section 4 and Appendix A.1.

Figures 3 and 9 (ResNet-32 on CIFAR-10, test accuracy) and Figures 4, 11 and 12 (a 2-layer,
200-unit LSTM on PTB, perplexity) train one model per cell of a grid: the NR period ``pNR``
(columns) against the weight decay factor ``theta`` (Eq. 3, applied once every ``pNR`` steps) or
the amplitude ``a`` of uniform multiplicative noise (``theta ~ U(-a, a)`` in Eq. 3). Table 2 lists,
per decay factor, the best ``pNR``. The paper's claim: stronger regularization needs a longer NR
period, and the optimal ``e_w / pNR`` (``e_w = E|w - w'|`` per event) is roughly constant.

Only Figures 11 and 12 and Table 2 print numbers (:func:`paper_grid`, :func:`paper_table2`);
Figures 3, 4, 9, 10 and 13 are images. One cell here (:func:`train_cell`) trains a classifier with
:func:`freqlib.train.train_steps` and one :class:`~freqlib.occasional.OccasionalRegularizer`
(:func:`~freqlib.occasional.weight_decay` or :func:`~freqlib.occasional.uniform_noise`, ``lr`` = 1
so the factor is the whole per-event change, as Table 2's factors read) over every Conv and Linear
weight. The event falls on steps ``pNR, 2 pNR, ...`` before the last step: the model is evaluated as
the optimizer left it, not right after a regularization event.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path

import pandas as pd
import torch
import tqdm
from torch import nn

from ..data import ImageDataset
from ..models.lenet import LeNet5
from ..models.resnet_cifar import ResNetCifarA
from ..occasional import OccasionalRegularizer, uniform_noise, weight_decay
from ..train import train_steps
from . import check_run, load_labelled

DATA = Path(__file__).resolve().parents[2] / "data" / "paper"

#: Grid kinds: ``decay`` (strength = weight decay factor theta), ``noise`` (strength = amplitude a).
KINDS = ("decay", "noise")
#: What a strength means, per kind (axis labels).
STRENGTH_NAMES = {"decay": "weight decay factor theta", "noise": "uniform noise amplitude a"}

#: The NR periods of Figures 11 and 12 (the columns, as printed).
FIG11_PERIODS = (1, 2, 5, 10, 20, 30, 40, 50, 100, 154, 290, 464, 580, 774, 1161, 2323)
#: The decay factors of Figure 11 and the noise amplitudes of Figure 12 (the rows, as printed).
FIG11_STRENGTHS = (5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1, 1.5e-1, 2e-1, 2.5e-1, 3e-1)
#: Table 2's decay factors (theta = 0 aside) and its ResNet-32 optimal periods.
TABLE2_FACTORS = (1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2)

#: The grid of the ``paper`` profile for ResNet-32. Figures 3 and 9 print no axis values in our copy
#: of the text: the decay grid is Table 2's factors against Table 2's periods (with pNR = 1); the noise
#: grid takes six of Figure 12's amplitudes against the same periods.
PAPER_GRID = {
    "periods": (1, 2, 5, 20, 100, 200, 1000),
    "factors": TABLE2_FACTORS,
    "amplitudes": (1e-3, 1e-2, 5e-2, 1e-1, 2e-1, 3e-1),
}
#: ResNet-32's schedule: He et al. (2016), which the paper cites for the model (64k steps of SGD,
#: momentum 0.9, batches of 128, learning rate 0.1); ours anneals it with a cosine instead of the
#: two step drops. He et al.'s augmentation (4-pixel crops, flips) is ``augment=True``.
PAPER_SCHEDULE = {"model": "resnet-32", "steps": 64_000, "batch_size": 128, "lr": 0.1, "optimizer": "sgd"}

#: Model name -> (constructor, input channels).
MODELS = {
    "lenet-5": (LeNet5, 1),
    "resnet-8": (lambda: ResNetCifarA(1), 3),
    "resnet-32": (lambda: ResNetCifarA(5), 3),
}
#: What each data set stands for: the paper's grids use CIFAR-10 (ResNet-32).
LABELS = {"cifar10": "CIFAR-10", "fashion_mnist": "stand-in: Fashion-MNIST instead of CIFAR-10"}


# ---------------------------------------------------------------------------------------------
# the paper's printed numbers


def paper_grids(figure: str) -> pd.DataFrame:
    """Figure 11 (``"fig11"``, weight decay) or 12 (``"fig12"``, uniform noise) as printed, in long form.

    Columns ``lr`` (the panel's initial learning rate: 1.0, 1.5, 2.0), ``strength`` (theta or a),
    ``period`` (pNR) and ``perplexity``: 3 panels x 15 strengths x 16 periods. Figure 11's panel
    (a) prints 15 values per row; its ``pNR`` = 2323 cells are NaN (see the CSV's comment).
    """
    if figure not in ("fig11", "fig12"):
        raise ValueError(f"figure must be 'fig11' or 'fig12', got {figure!r}")
    wide = pd.read_csv(DATA / f"nr_{figure}.csv", comment="#")
    wide = wide.rename(columns={"theta": "strength", "a": "strength"})
    long = wide.melt(id_vars=["lr", "strength"], var_name="period", value_name="perplexity")
    long["period"] = long["period"].astype(int)
    return long.sort_values(["lr", "strength", "period"], ignore_index=True)


def paper_grid(figure: str, lr: float) -> pd.DataFrame:
    """One panel of Figure 11 or 12 as printed: perplexity, rows strength (ascending), columns pNR."""
    long = paper_grids(figure)
    if lr not in set(long.lr):
        raise ValueError(f"lr must be one of the panels' learning rates {sorted(set(long.lr))}, got {lr!r}")
    return grid_table(long[long.lr == lr], value="perplexity")


def paper_table2() -> pd.DataFrame:
    """Table 2 as printed: ``model``, ``metric``, ``theta``, ``value`` and ``optimal_pNR`` (NaN at theta = 0)."""
    return pd.read_csv(DATA / "nr_table2.csv", comment="#")


# ---------------------------------------------------------------------------------------------
# grids in tidy form


def grid_table(frame: pd.DataFrame, kind: str | None = None, value: str = "accuracy") -> pd.DataFrame:
    """A tidy grid (columns ``strength``, ``period``, ``value``, optionally ``kind``) as a table:
    rows strength (ascending), columns pNR (ascending). ``kind`` keeps only that kind's rows."""
    if kind is not None:
        frame = frame[frame["kind"] == kind]
    missing = {"strength", "period", value} - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks columns {sorted(missing)}")
    return frame.pivot_table(index="strength", columns="period", values=value, aggfunc="first", dropna=False)


def best_period(frame: pd.DataFrame, value: str = "accuracy", *, higher_is_better: bool = True) -> pd.DataFrame:
    """Table 2 from a tidy grid: per strength, the pNR with the best ``value`` (ties: the shortest pNR).

    ``frame``: columns ``strength``, ``period`` and ``value`` (one kind only; NaN cells are skipped).
    Returns a frame indexed by ``strength`` (ascending) with columns ``period`` and ``value``.
    """
    missing = {"strength", "period", value} - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks columns {sorted(missing)}")
    if "kind" in frame.columns and frame["kind"].nunique() > 1:
        raise ValueError(f"frame holds several kinds {sorted(frame['kind'].unique())}: select one")
    rows = frame.dropna(subset=[value]).sort_values(["strength", "period"])
    if rows.empty:
        raise ValueError(f"frame has no {value} values")
    best = rows.loc[(rows[value] if higher_is_better else -rows[value]).groupby(rows["strength"]).idxmax()]
    return best.set_index("strength")[["period", value]]


# ---------------------------------------------------------------------------------------------
# training


def _check_period(period, steps: int) -> int:
    if isinstance(period, bool) or not isinstance(period, Integral) or period < 1:
        raise ValueError(f"period (pNR) must be a positive int, got {period!r}")
    if period >= steps:
        raise ValueError(f"period (pNR) {period} must be below steps ({steps}): no event would fall before the end")
    return int(period)


def _check_strength(kind: str, strength) -> float:
    name = "theta" if kind == "decay" else "a"
    if isinstance(strength, bool) or not isinstance(strength, Real) or not 0 <= strength < 1:
        raise ValueError(f"strength ({name}) must be a real number in [0, 1), got {strength!r}")
    return float(strength)


def regularizer(model: nn.Module, kind: str, period: int, strength: float, *, stop: int | None = None, seed: int = 0):
    """The :class:`OccasionalRegularizer` of one cell: ``kind`` ``"decay"`` (``w' = (1 - theta) w``) or
    ``"noise"`` (``w' = (1 - u) w``, ``u ~ U(-a, a)`` per element, seeded) every ``period`` steps."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    strength = _check_strength(kind, strength)
    transform = weight_decay(strength) if kind == "decay" else uniform_noise(strength, seed=seed)
    return OccasionalRegularizer(model, transform, period, stop=stop)


def adapt(dataset: ImageDataset, model_name: str) -> ImageDataset:
    """``dataset`` in the input format of ``model_name``: grey images replicated to 3 channels (and
    resized to 32x32) for the ResNets; LeNet-5 takes 1x28x28 images only."""
    if model_name not in MODELS:
        raise ValueError(f"model_name must be one of {', '.join(MODELS)}; got {model_name!r}")
    channels = MODELS[model_name][1]
    if channels == 3:
        return dataset.adapted(32, 3)
    if dataset.shape[1:] != (1, 28, 28):
        raise ValueError(f"model_name {model_name!r} takes 1x28x28 images, got {dataset.shape[1:]}: use a ResNet")
    return dataset


def train_cell(
    kind: str | None,
    period: int,
    strength: float,
    train_set: ImageDataset,
    test_set: ImageDataset,
    *,
    model_name: str = "lenet-5",
    steps: int = PAPER_SCHEDULE["steps"],
    batch_size: int = PAPER_SCHEDULE["batch_size"],
    lr: float = 1e-3,
    optimizer: str = "adam",
    cosine: bool = False,
    augment: bool | int = False,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> dict:
    """Train one grid cell from scratch (same initial model and batches for every cell); one row.

    ``kind`` None trains without regularization (``period`` and ``strength`` are then ignored and
    reported as 0). Images ``(N, C, H, W)`` already in ``model_name``'s format (:func:`adapt`);
    ``augment`` (True or a padding in pixels) adds random crops and flips (He et al.'s CIFAR recipe).
    Row: ``kind`` ("decay", "noise" or "none"), ``period``, ``strength``, ``accuracy`` (test,
    fraction), ``events`` (regularization events), ``e_w`` (mean ``E|w - w'|`` per event over all
    regularized weights), ``e_w/pNR`` and ``train s`` (seconds).
    """
    if model_name not in MODELS:
        raise ValueError(f"model_name must be one of {', '.join(MODELS)}; got {model_name!r}")
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    torch.manual_seed(seed)
    model = MODELS[model_name][0]()
    regs = []
    if kind is not None:
        period = _check_period(period, steps)
        regs = [regularizer(model, kind, period, strength, stop=steps, seed=seed)]
    started = time.perf_counter()
    history = train_steps(
        model,
        train_set,
        test_set,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        cosine=cosine,
        augment=augment,
        schedule=regs,
        seed=seed,
        device=device,
        progress=progress,
        desc=f"{kind or 'none'} pNR {period} strength {strength:g}",
    )
    seconds = time.perf_counter() - started
    events = regs[0].history if regs else []
    e_w = sum(h["e_w"] for h in events) / len(events) if events else 0.0
    return {
        "kind": kind or "none",
        "period": period if regs else 0,
        "strength": float(strength) if regs else 0.0,
        "accuracy": float(history.test_accuracy.iloc[-1]),
        "events": len(events),
        "e_w": e_w,
        "e_w/pNR": e_w / period if regs else 0.0,
        "train s": seconds,
    }


def grid_cells(kind: str, periods: Sequence[int], strengths: Sequence[float]) -> list[tuple[str, int, float]]:
    """The (kind, period, strength) cells of one grid, strengths outer, periods inner."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if not periods or not strengths:
        raise ValueError(f"{kind} grid: periods and strengths must be non-empty, got {periods!r} and {strengths!r}")
    return [(kind, int(p), _check_strength(kind, s)) for s in strengths for p in periods]


def run_grid(
    cells: Sequence[tuple[str | None, int, float]],
    train_set: ImageDataset,
    test_set: ImageDataset,
    *,
    desc: str = "grid",
    **cell_args,
) -> pd.DataFrame:
    """Train every (kind, period, strength) cell (:func:`train_cell`) under one tqdm bar; one row per cell."""
    rows = []
    for kind, period, strength in tqdm.tqdm(cells, desc=desc, file=sys.stderr, ascii=True):
        rows.append(train_cell(kind, period, strength, train_set, test_set, **cell_args))
    return pd.DataFrame(rows)


def load_for(
    model: str, data: str, data_dir=None, train_subset: int | None = None, test_subset: int | None = None
) -> tuple[ImageDataset, ImageDataset, str]:
    """(train, test, label) of ``data`` (:func:`~freqlib.experiments.load_labelled`; Fashion-MNIST
    stands in for a data set not on disk) in ``model``'s input format (:func:`adapt`)."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    train, test, label = load_labelled(
        data, data_dir, train_subset=train_subset, test_subset=test_subset, labels=LABELS
    )
    if model == "lenet-5" and train.shape[1] != 1:
        raise ValueError(f"model 'lenet-5' takes grey 28x28 images; data {data!r} has {train.shape[1]} channels")
    return adapt(train, model), adapt(test, model), label


def run(
    profile: str = "smoke",
    kinds: Sequence[str] = KINDS,
    periods: Sequence[int] = PAPER_GRID["periods"],
    factors: Sequence[float] = PAPER_GRID["factors"],
    amplitudes: Sequence[float] = PAPER_GRID["amplitudes"],
    model: str = PAPER_SCHEDULE["model"],
    data: str = "cifar10",
    data_dir=None,
    train_subset: int | None = None,
    test_subset: int | None = None,
    steps: int = PAPER_SCHEDULE["steps"],
    batch_size: int = PAPER_SCHEDULE["batch_size"],
    lr: float = PAPER_SCHEDULE["lr"],
    optimizer: str = PAPER_SCHEDULE["optimizer"],
    cosine: bool = True,
    augment: bool | int = False,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[pd.DataFrame, str]:
    """Train the unregularized baseline and every cell of the ``kinds`` grids; returns (tidy frame, data label).

    ``periods`` (pNR) are shared by both grids; ``factors`` (theta) span the decay grid, ``amplitudes``
    (a) the noise grid. The frame has :func:`train_cell`'s columns, one row per cell plus the baseline
    (kind "none"). ``data``: ``"cifar10"`` (from ``data_dir``; when absent, Fashion-MNIST stands in,
    said so in a printed line and in the label) or ``"fashion_mnist"`` (a stand-in).
    """
    check_run(profile, list(kinds), KINDS, what="grid")
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    cells = [(None, 0, 0.0)]
    for kind in kinds:
        cells += grid_cells(kind, periods, factors if kind == "decay" else amplitudes)
    for _, p, _ in cells[1:]:
        _check_period(p, steps)
    train, test, label = load_for(model, data, data_dir, train_subset, test_subset)
    frame = run_grid(
        cells,
        train,
        test,
        desc=f"{model}: {len(cells)} cells",
        model_name=model,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        cosine=cosine,
        augment=augment,
        seed=seed,
        device=device,
    )
    return frame, label


def run_batch(
    batch_sizes: Sequence[int],
    factors: Sequence[float],
    *,
    images: int,
    model: str = PAPER_SCHEDULE["model"],
    data: str = "cifar10",
    data_dir=None,
    train_subset: int | None = None,
    test_subset: int | None = None,
    **cell_args,
) -> tuple[pd.DataFrame, str]:
    """Figure 10 on ``data`` (:func:`load_for`): :func:`run_batch_grid` over ``batch_sizes`` x
    ``factors`` at pNR = 1, each cell shown ``images`` training images; returns (frame, data label)."""
    train, test, label = load_for(model, data, data_dir, train_subset, test_subset)
    frame = run_batch_grid(batch_sizes, factors, train, test, images=images, model_name=model, **cell_args)
    return frame, label


def batch_cells(batch_sizes: Sequence[int], factors: Sequence[float]) -> list[tuple[int, float]]:
    """The (batch size, decay factor) cells of Figure 10's grid, batch sizes outer, factors inner."""
    if not batch_sizes or not factors:
        raise ValueError(
            f"Fig. 10 grid: batch_sizes and factors must be non-empty, got {batch_sizes!r} and {factors!r}"
        )
    for b in batch_sizes:
        if isinstance(b, bool) or not isinstance(b, Integral) or b < 1:
            raise ValueError(f"batch_sizes: every batch size must be a positive int, got {b!r}")
    return [(int(b), _check_strength("decay", f)) for b in batch_sizes for f in factors]


def steps_for_batch(images: int, batch_size: int) -> int:
    """Optimizer steps that show ``images`` training images (the same epochs for every batch size),
    at least 2."""
    if isinstance(images, bool) or not isinstance(images, Integral) or images < 1:
        raise ValueError(f"images must be a positive int, got {images!r}")
    return max(2, round(images / batch_size))


def run_batch_grid(
    batch_sizes: Sequence[int],
    factors: Sequence[float],
    train_set: ImageDataset,
    test_set: ImageDataset,
    *,
    images: int,
    **cell_args,
) -> pd.DataFrame:
    """Figure 10: weight decay at every step (pNR = 1) over (batch size x decay factor theta).

    Every cell sees the same number of training ``images`` (:func:`steps_for_batch`), so a larger
    batch takes fewer steps and so fewer decay events; theta 0 is the unregularized model of that
    batch size. One :func:`train_cell` row per cell plus ``batch_size`` and ``steps``.
    """
    cells = batch_cells(batch_sizes, factors)
    rows = []
    for batch_size, theta in tqdm.tqdm(cells, desc=f"Fig. 10: {len(cells)} cells", file=sys.stderr, ascii=True):
        steps = steps_for_batch(images, batch_size)
        kind = "decay" if theta > 0 else None
        row = train_cell(kind, 1, theta, train_set, test_set, steps=steps, batch_size=batch_size, **cell_args)
        rows.append({**row, "kind": "decay", "period": 1, "strength": theta, "batch_size": batch_size, "steps": steps})
    return pd.DataFrame(rows)


def best_factor(frame: pd.DataFrame, value: str = "accuracy") -> pd.Series:
    """Per batch size (index, ascending), the decay factor of the highest ``value`` in a
    :func:`run_batch_grid` frame."""
    best = frame.loc[frame.groupby("batch_size")[value].idxmax()]
    return best.set_index("batch_size").strength.sort_index()


def heatmap(ax, table: pd.DataFrame, *, title: str, fmt: str = "{:.1f}", higher_is_better: bool = True):
    """Draw a grid table (rows strength, columns pNR: :func:`grid_table`) as the paper does: pNR on the
    x axis, strength on the y axis (ascending downwards), every cell annotated, the best cell of each
    row framed in red. Colours span the best value to twice its distance to the median (outliers, such
    as perplexities of 700, saturate); NaN cells are left blank."""
    import matplotlib.patches as patches
    import numpy as np

    values = table.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    best_all = finite.max() if higher_is_better else finite.min()
    far = best_all + 2 * (np.median(finite) - best_all)
    low, high = sorted((best_all, far)) if far != best_all else (best_all - 1, best_all + 1)
    ax.imshow(values, cmap="viridis" if higher_is_better else "viridis_r", vmin=low, vmax=high, aspect="auto")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], fontsize=7)
    ax.set_yticks(range(table.shape[0]), [f"{s:.1e}" for s in table.index], fontsize=7)
    size = max(5.5, min(10.0, 80 / max(table.shape)))
    for i, row in enumerate(values):
        if not np.isfinite(row).any():
            continue
        best = int(np.nanargmax(row) if higher_is_better else np.nanargmin(row))
        for j, v in enumerate(row):
            if np.isfinite(v):
                bright = (v - low) / (high - low) > 0.5 if higher_is_better else (v - low) / (high - low) < 0.5
                ax.text(
                    j, i, fmt.format(v), ha="center", va="center", fontsize=size, color="black" if bright else "white"
                )
        ax.add_patch(patches.Rectangle((best - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=1.5))
    ax.set_title(title, fontsize=8)
    ax.set(xlabel="NR period pNR", ylabel="strength")


def grows_with_strength(best: pd.DataFrame) -> bool:
    """Whether the best pNR (:func:`best_period`) never falls as the strength rises and ends above
    where it starts: the paper's "stronger regularization needs a longer NR period"."""
    periods = best.sort_index()["period"].to_numpy()
    if len(periods) < 2:
        raise ValueError(f"best must hold at least 2 strengths to show a trend, got {len(periods)}")
    return bool((periods[1:] >= periods[:-1]).all() and periods[-1] > periods[0])
