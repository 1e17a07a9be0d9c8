"""The chapter "What the spectrum learns" (``notebooks/spectrum.ipynb``): where trained LeNet-5 weights
keep their energy, dense weights truncated to FR's budgets after training beside FR models trained at
those budgets, and every architecture chapter's quality against keep.

:func:`run` trains LeNet-5 densely and with FR (:func:`freqlib.experiments.fr.lenet5.train_model`, the
same initialization and batches), measures each weight's energy by zigzag frequency band
(:func:`freqlib.spectrum.energy_density`, :func:`freqlib.spectrum.energy_profile`), scores the dense
weights truncated to each budget (:func:`truncation_table`) and gathers the stored result tables of the
chapters in ``families`` (:func:`freqlib.book.gather_results`, not retrained; :func:`quality_table`).
:func:`claims` asks whether FR training beats that truncation, as the FR abstract's premise (high
frequencies "can be set to zero when networks are trained with the proposed frequency
regularization") implies. :func:`plot_energy` and :func:`plot_quality` draw the figures.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset

from ... import distributed as dist
from ... import experiment
from ...book import gather_results
from ...claims import Baseline, Claim
from ...experiment import ChapterResult
from ...loop import check_positive_int
from ...models.lenet import LeNet5
from ...spectrum import energy_density, energy_profile, truncate
from ...tables import parameter_table
from ...train import evaluate, keep_budget
from . import lenet5

#: "FR training beats truncation" is decided when the gap's standard error is below this many points
#: (our choice).
TOLERANCE = 1.0
#: The share of each weight's energy in its first fractions of zigzag coefficients (the "energy" table).
FRACTIONS = (0.001, 0.01, 0.1)


@dataclass(frozen=True)
class Config(experiment.Config):
    """The spectrum chapter's parameters (smoke values as defaults; ``notebooks/profiles.yml`` sets the others).

    Part 2: ``families``, the chapters whose stored result tables are gathered, from ``results_source``
    ("committed" smoke outputs or "executed" book copies). Part 1: LeNet-5 on ``data`` (a name of
    :data:`freqlib.experiments.fr.lenet5.TARGETS`; "mnist" needs ``data_dir``), ``train_subset`` /
    ``test_subset`` images (None: all), Adam at ``lr`` (dense) and ``fr_lr`` (FR) with cosine decay,
    ``keep_totals`` FR budgets (kept coefficients over the four weights), ``bands`` log-spaced zigzag
    bands for the energy profiles.
    """

    chapter = "spectrum"
    results_source: str = "committed"
    families: Sequence[str] = ("alexnet", "vgg", "resnet", "vit", "unet", "gan", "vae")
    data: str = "fashion_mnist"
    data_dir: str | None = None
    train_subset: int | None = 1024
    test_subset: int | None = 500
    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    fr_lr: float = 2e-2
    keep_totals: Sequence[int] = (776, 3000)
    bands: int = 12


def truncated(model: nn.Module, counts: Mapping[str, int]) -> nn.Module:
    """A copy of ``model`` whose weights ``counts`` (name -> kept coefficients) keep only their first
    zigzag DCT coefficients (:func:`freqlib.spectrum.truncate`)."""
    cut = copy.deepcopy(model)
    with torch.no_grad():
        for qual, k in counts.items():
            module = cut.get_submodule(qual.removesuffix(".weight"))
            module.weight.copy_(truncate(module.weight, k))
    return cut


def truncation_table(dense: nn.Module, fr_models: Mapping[int, nn.Module], test: Dataset) -> pd.DataFrame:
    """One row per budget of ``fr_models`` (total kept coefficients -> the FR model trained at it):
    "budget", "dense truncated" (``dense`` cut to the budget's per-layer split, :func:`truncated`) and
    "FR trained", test accuracies as fractions on ``test``."""
    rows = []
    for total, fr in fr_models.items():
        cut = truncated(dense, keep_budget(dense, total))
        rows.append({"budget": total, "dense truncated": evaluate(cut, test), "FR trained": evaluate(fr, test)})
    return pd.DataFrame(rows, columns=["budget", "dense truncated", "FR trained"])


def energy_figure(states: Mapping[str, Mapping[str, torch.Tensor]], bands: int) -> dict[str, dict]:
    """Per weight name of ``states`` ({state: {weight name: weight}}): its ``numel``, the ``centers`` of
    ``bands`` log-spaced bands of zigzag position (plus one band from 0 to the first coefficient) and
    each state's ``density`` (:func:`freqlib.spectrum.energy_density`) in them."""
    out = {}
    for name, first in next(iter(states.values())).items():
        n = first.numel()
        edges = np.concatenate([[0.0], np.geomspace(1.0 / n, 1.0, bands)])
        centers = np.sqrt(np.maximum(edges[:-1], 0.5 / n) * edges[1:])
        density = {state: energy_density(weights[name], edges) for state, weights in states.items()}
        out[name] = {"numel": n, "centers": centers, "density": density}
    return out


def energy_table(models: Mapping[str, nn.Module], fractions: Sequence[float] = FRACTIONS) -> pd.DataFrame:
    """Per model and weight: the percentage of the weight's energy in its first ``fractions`` of zigzag
    coefficients (:func:`freqlib.spectrum.energy_profile`), rounded to 0.01."""
    profiles = {state: energy_profile(m, fractions).drop(columns="numel") for state, m in models.items()}
    energy = pd.concat(profiles, names=["weights", "layer"]).mul(100).round(2)
    energy.columns = [c.replace("energy in first", "% energy in first") for c in energy.columns]
    return energy


def quality_table(results: pd.DataFrame) -> pd.DataFrame:
    """The gathered result tables (:func:`freqlib.book.gather_results`) with "relative quality": FR over
    dense of the same family where higher is better (accuracy, Dice), dense over FR where lower is
    (Fréchet distance, negative ELBO); 1 is "as good as dense"."""
    dense = results[results.variant == "dense"].set_index("family")["value"]
    ratio = results["value"] / results["family"].map(dense)
    results = results.assign(**{"relative quality": np.where(results["higher is better"], ratio, 1 / ratio)})
    columns = ["family", "variant", "profile", "data", "kept", "compression", "metric", "value"]
    return results[[*columns, "relative quality"]]


def run(cfg: Config, *, device: torch.device | str | None = None, progress: bool = True) -> ChapterResult:
    """Part 1 on LeNet-5 and part 2 over ``cfg.families``: a :class:`~freqlib.experiment.ChapterResult` with

    - tables ``"data"`` (sizes and label, :func:`freqlib.experiments.fr.lenet5.load_data`), ``"energy"``
      (:func:`energy_table` of the initial, dense and FR models), ``"dense"`` (the dense model's weights
      and test accuracy), ``"truncation"`` (:func:`truncation_table`) and ``"quality"``
      (:func:`quality_table` of the gathered results);
    - figure ``"energy"``: :func:`energy_figure` of the initial weights, the dense trained weights, the
      dense update (trained minus initial) and the FR model of the largest budget;
    - ``baselines``: :func:`baselines`; ``timings``: training seconds and ``"run"``; ``objects``:
      ``"initial"``, ``"dense"`` and ``"fr"`` ({budget: model}), on the CPU.

    Profile "smoke" trains on the CPU; the others on CUDA when present (``device`` overrides).
    """
    started = time.perf_counter()
    if cfg.results_source not in ("committed", "executed"):
        raise ValueError(f"results_source must be 'committed' or 'executed', got {cfg.results_source!r}")
    if not cfg.keep_totals:
        raise ValueError("keep_totals must name at least one budget")
    for total in cfg.keep_totals:
        check_positive_int("keep_totals", total)
    device = dist.local_device(dist.init_from_env("cpu" if cfg.profile == "smoke" and device is None else device))
    train, test, label = lenet5.load_data(
        cfg.data, cfg.data_dir, train_subset=cfg.train_subset, test_subset=cfg.test_subset
    )
    kwargs = dict(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, fr_lr=cfg.fr_lr, device=device)
    torch.manual_seed(0)
    initial = LeNet5()  # the initialization every model of lenet5.train_model starts from
    dense = lenet5.train_model(None, train, test, progress=progress, desc="dense", **kwargs)[0].cpu()
    fr = {
        t: lenet5.train_model(t, train, test, progress=progress, desc=f"FR {t}", **kwargs)[0].cpu()
        for t in cfg.keep_totals
    }
    trained_s = time.perf_counter() - started
    largest = max(cfg.keep_totals)
    names = [n for n, m in initial.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    weights = {
        s: {n: m.get_submodule(n).weight.detach() for n in names}
        for s, m in [("initial", initial), ("dense trained", dense)]
    }
    weights["dense update"] = {n: weights["dense trained"][n] - weights["initial"][n] for n in names}
    weights[f"FR {largest} trained"] = {n: fr[largest].get_submodule(n).weight.detach() for n in names}
    dense_accuracy = evaluate(dense, test)
    dense_row = {"weights": int(parameter_table(dense).loc["total", "Org. NoP."]), "accuracy": dense_accuracy}
    tables = {
        "data": pd.DataFrame([lenet5.data_row(cfg.data, train, test, label)]),
        "energy": energy_table({"initial": initial, "dense trained": dense, **{f"FR {t}": m for t, m in fr.items()}}),
        "dense": pd.DataFrame([dense_row]),
        "truncation": truncation_table(dense, fr, test),
        "quality": quality_table(gather_results(cfg.families, source=cfg.results_source)),
    }
    return ChapterResult(
        tables=tables,
        figures={"energy": energy_figure(weights, cfg.bands)},
        baselines=baselines(dense_accuracy, cfg.data),
        timings={"training": trained_s, "run": time.perf_counter() - started},
        objects={"initial": initial, "dense": dense, "fr": fr},
    )


# --- figures --------------------------------------------------------------------------------------


def plot_energy(result: ChapterResult, cfg: Config):
    """Per weight: energy per coefficient relative to a flat spectrum, by zigzag band, for each state."""
    import matplotlib.pyplot as plt

    figure = result.figures["energy"]
    fig, axes = plt.subplots(1, len(figure), figsize=(4 * len(figure), 3.6), sharey=True, squeeze=False)
    for ax, (name, layer) in zip(axes[0], figure.items()):
        for state, density in layer["density"].items():
            ax.plot(layer["centers"], density, "o-", ms=3, label=state)
        ax.axhline(1.0, color="gray", lw=0.8, ls=":")
        title = f"{name} ({layer['numel']:,} numbers)"
        ax.set(xscale="log", yscale="log", title=title, xlabel="zigzag position (fraction)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("energy per coefficient / flat spectrum")
    axes[0, -1].legend(fontsize=8)
    label = result.table("data")["label"].iloc[0]
    fig.suptitle(f"LeNet-5 weights, energy by frequency ({label}; {cfg.profile} profile)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_quality(result: ChapterResult, cfg: Config):
    """Each gathered family's quality relative to its dense model against compression (log scale)."""
    import matplotlib.pyplot as plt

    quality = result.table("quality")
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for family, rows in quality.groupby("family", sort=False):
        rows = rows.sort_values("compression")
        ax.plot(rows["compression"], rows["relative quality"], "o-", label=f"{family} ({rows['metric'].iloc[0]})")
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set(
        xscale="log",
        xlabel="compression (original weights / kept numbers)",
        ylabel="quality relative to dense (1 = dense)",
        title=f"Quality as keep shrinks ({', '.join(sorted(set(quality.profile)))} profile results)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# --- the chapter's claims -------------------------------------------------------------------------


def baselines(dense_accuracy: float, data: str) -> list[Baseline]:
    """The dense LeNet-5's test accuracy (a fraction) against its target of data set ``data``
    (:data:`freqlib.experiments.fr.lenet5.TARGETS`, by :data:`freqlib.data.LOADERS` name)."""
    return [lenet5.target(data).baseline(dense_accuracy)]


def claims(result: ChapterResult, cfg: Config) -> list[Claim]:
    """Per budget of :func:`run`'s ``"truncation"`` table, the trained claim that FR training beats
    truncating the dense weights to the same numbers (test accuracies, in points): decided when the
    dense LeNet-5 (the ``"dense"`` table) meets its target for ``cfg.data`` and the gap's standard error
    (binomial, both models, on the ``"data"`` table's test images) is below :data:`TOLERANCE`."""
    data = result.table("data")
    n_test, label = int(data["test"].iloc[0]), str(data["label"].iloc[0])
    (base,) = baselines(float(result.table("dense")["accuracy"].iloc[0]), cfg.data)
    rows = []
    for _, r in result.table("truncation").iterrows():
        fr, cut = float(r["FR trained"]), float(r["dense truncated"])
        gap = 100 * (fr - cut)
        rows.append(
            lenet5.accuracy_claim(
                f"at {int(r.budget):,} numbers, FR training beats truncating the trained dense LeNet-5",
                "FR abstract: high frequencies 'can be set to zero when networks are trained with the proposed "
                f"frequency regularization' (no number); decided when the gap's standard error is below "
                f"{TOLERANCE:g} point",
                f"FR-trained {100 * fr:.2f}% vs dense truncated after training {100 * cut:.2f}% ({gap:+.2f} points)",
                (fr, cut),
                n_test,
                base,
                value=100 * fr,
                expected=100 * cut,
                tolerance=TOLERANCE,
                relation="greater",
                unit="%",
                profile=cfg.profile,
                data=label,
            )
        )
    return rows
