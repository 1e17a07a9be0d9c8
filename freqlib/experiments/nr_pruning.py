"""The NR-period paper's pruning experiment (Section 6.1, Tables 1 and 3): LeNet-300-100 and LeNet-5.

The paper's schedule (:data:`PAPER_SCHEDULE`): 20,000 steps of Adam with batches of 50, no
dropout; every layer is pruned by magnitude (:func:`freqlib.occasional.magnitude_prune`) every
``pNR`` steps (10 for LeNet-5, 5 for LeNet-300-100), the rate following Eq. 5
(:func:`freqlib.occasional.gradual_rate`) from ``p_i`` = 25% at ``t_i`` = 8,000 to the layer's
target at ``t_f`` (12,000 for LeNet-5, 13,000 for LeNet-300-100) with ``E`` = 7. Between two
pruning steps the pruned weights train freely in full precision.

The per-layer targets ``p_f`` are the rates printed in Table 1's "Ours" column: the paper says
neither how they were chosen nor whether they are targets or outcomes; since the last pruning step
falls on step 20,000 they are both. The achieved rates therefore match Table 1 by construction, and
the test of the claim is the accuracy at those rates (Table 3) against a dense model trained with the
same schedule.

Methods (:data:`METHODS`): ``dense`` (no pruning), ``pnr`` (the paper's period) and ``every-step``
(the same schedule with ``pNR`` = 1, the usual masked training the paper improves on).
Shorter runs (``steps`` below 20,000) scale ``t_i`` and ``t_f`` with ``steps``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..models.lenet import LeNet5, LeNet300100
from ..occasional import OccasionalRegularizer, gradual_rate, magnitude_prune
from ..train import evaluate, train_steps
from . import MNIST_LABELS, check_run, load_labelled

DATA = Path(__file__).resolve().parents[2] / "data" / "paper"

#: Model name -> (constructor, the paper's layer names for our module names).
MODELS = {
    "lenet-300-100": (LeNet300100, {"fc1": "FC1", "fc2": "FC2", "fc3": "FC3"}),
    "lenet-5": (LeNet5, {"conv1": "Conv1", "conv2": "Conv2", "fc1": "FC1", "fc2": "FC2"}),
}
#: The printed names of the two models (Tables 1 and 3).
PAPER_NAMES = {"lenet-300-100": "LeNet-300-100", "lenet-5": "LeNet-5"}

#: Section 6.1's schedule; ``period`` and ``t_f`` per model.
PAPER_SCHEDULE = {
    "steps": 20_000,
    "batch_size": 50,
    "lr": 1e-3,
    "p_i": 0.25,
    "t_i": 8_000,
    "E": 7,
    "period": {"lenet-300-100": 5, "lenet-5": 10},
    "t_f": {"lenet-300-100": 13_000, "lenet-5": 12_000},
}
METHODS = ("dense", "pnr", "every-step")


def paper_rates() -> pd.DataFrame:
    """Table 1 as printed: one row per (model, layer) with the four methods' pruning rates in %."""
    return pd.read_csv(DATA / "nr_table1.csv", comment="#")


def paper_accuracy() -> pd.DataFrame:
    """Table 3 as printed: test accuracy (%) per model and method, indexed by the printed model name."""
    return pd.read_csv(DATA / "nr_table3.csv", comment="#").set_index("model")


def targets(model_name: str) -> dict[str, float]:
    """Per-layer target pruning rates (fractions) of ``model_name``: Table 1's "Ours" column."""
    _, names = MODELS[model_name]
    table = paper_rates()
    rows = table[table.model == PAPER_NAMES[model_name]].set_index("layer")
    return {ours: float(rows.loc[printed, "Ours"]) / 100 for ours, printed in names.items()}


def schedule_for(model_name: str, steps: int) -> dict:
    """The paper's schedule for ``model_name``, with ``t_i`` and ``t_f`` scaled to ``steps``."""
    scale = steps / PAPER_SCHEDULE["steps"]
    return {
        "period": PAPER_SCHEDULE["period"][model_name],
        "p_i": PAPER_SCHEDULE["p_i"],
        "E": PAPER_SCHEDULE["E"],
        "t_i": round(PAPER_SCHEDULE["t_i"] * scale),
        "t_f": round(PAPER_SCHEDULE["t_f"][model_name] * scale),
    }


def pruners(model: nn.Module, rates: dict[str, float], period: int, *, p_i: float, t_i: int, t_f: int, E: float):
    """One :class:`OccasionalRegularizer` per layer of ``rates`` (module name -> target ``p_f``),
    pruning every ``period`` steps along Eq. 5."""
    regs = []
    for name, p_f in rates.items():
        rate = _Gradual(p_i=min(p_i, p_f), p_f=p_f, t_i=t_i, t_f=t_f, E=E)
        regs.append(OccasionalRegularizer(model, magnitude_prune(rate), period, modules=[name]))
    return regs


class _Gradual:
    """``step -> gradual_rate(step, ...)`` as a picklable, printable callable."""

    def __init__(self, **schedule):
        self.schedule = schedule

    def __call__(self, step: int) -> float:
        return gradual_rate(step, **self.schedule)

    def __repr__(self) -> str:
        return "gradual_rate(" + ", ".join(f"{k}={v}" for k, v in self.schedule.items()) + ")"


def layer_rates(model: nn.Module, names: Sequence[str]) -> dict[str, float]:
    """Fraction of exact zeros in the weight of each named module (biases not counted)."""
    modules = dict(model.named_modules())
    return {n: float((modules[n].weight == 0).double().mean()) for n in names}


def train_one(
    model_name: str,
    method: str,
    train_set,
    test_set,
    *,
    steps: int = PAPER_SCHEDULE["steps"],
    batch_size: int = PAPER_SCHEDULE["batch_size"],
    lr: float = PAPER_SCHEDULE["lr"],
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[nn.Module, pd.DataFrame, dict]:
    """Train one model with one method; returns (model, per-epoch history, summary row).

    The summary has ``model``, ``method``, ``period``, ``accuracy`` (fraction), ``rate`` (total
    fraction of zero weights), the per-layer rates ``rate <layer>`` and ``train s``.
    """
    if model_name not in MODELS:
        raise ValueError(f"model_name must be one of {', '.join(MODELS)}; got {model_name!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    build, names = MODELS[model_name]
    torch.manual_seed(seed)
    model = build()
    schedule = schedule_for(model_name, steps)
    period = {"dense": 0, "pnr": schedule.pop("period"), "every-step": 1}[method]
    if period and steps % period:
        raise ValueError(f"steps ({steps}) must be a multiple of {model_name}'s pNR ({period}): the last step prunes")
    regs = pruners(model, targets(model_name), period, **schedule) if period else []
    started = time.perf_counter()
    history = train_steps(
        model,
        train_set,
        test_set,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        schedule=regs,
        seed=seed,
        device=device,
        progress=progress,
        desc=f"{model_name} {method}",
    )
    seconds = time.perf_counter() - started
    rates = layer_rates(model, names)
    sizes = {n: dict(model.named_modules())[n].weight.numel() for n in names}
    total = sum(rates[n] * sizes[n] for n in names) / sum(sizes.values())
    row = {"model": model_name, "method": method, "period": period, "accuracy": evaluate(model, test_set, device)}
    row |= {"rate": total} | {f"rate {n}": r for n, r in rates.items()} | {"train s": seconds}
    return model, history, row


def run(
    profile: str = "smoke",
    models: Sequence[str] = tuple(MODELS),
    methods: Sequence[str] = METHODS,
    data: str = "fashion_mnist",
    data_dir=None,
    train_subset: int | None = None,
    test_subset: int | None = None,
    steps: int = PAPER_SCHEDULE["steps"],
    seed: int = 0,
    device: str | torch.device = "cpu",
    trained: dict | None = None,
) -> tuple[pd.DataFrame, dict[tuple[str, str], pd.DataFrame], str]:
    """Train every (model, method); returns (summary table, histories by (model, method), data label).

    The summary has one row per run (:func:`train_one`'s columns plus ``data``). ``trained``, when
    given, receives the trained models by (model, method).
    """
    check_run(profile, list(methods), METHODS, what="pruning")
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ValueError(f"models must be a non-empty list of {', '.join(MODELS)}; unknown: {unknown}")
    train, test, label = load_labelled(
        data, data_dir, train_subset=train_subset, test_subset=test_subset, labels=MNIST_LABELS
    )
    rows, histories = [], {}
    for model_name in models:
        for method in methods:
            model, history, row = train_one(model_name, method, train, test, steps=steps, seed=seed, device=device)
            rows.append(row | {"data": label})
            histories[model_name, method] = history
            if trained is not None:
                trained[model_name, method] = model
    return pd.DataFrame(rows), histories, label
