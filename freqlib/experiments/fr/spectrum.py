"""The chapter "What the spectrum learns": LeNet-5's dense weights truncated to FR's budgets after
training, beside FR models trained at those budgets, and the chapter's claims.

:func:`truncation_table` keeps, per budget, the first zigzag coefficients of each trained dense
weight (the per-layer split of :func:`freqlib.train.keep_budget`, no retraining) and scores it next to
the FR model trained at that budget; :func:`claims` asks whether FR training beats that truncation,
as the FR abstract's premise (high frequencies "can be set to zero when networks are trained with the
proposed frequency regularization") implies.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset

from ...claims import Baseline, Claim, Target, binomial_se, difference_se, trained
from ...spectrum import truncate
from ...train import evaluate, keep_budget

_FASHION = (
    "our choice: a linear classifier already reaches about 84% on Fashion-MNIST (the benchmark of Xiao et "
    "al., 2017), so a CNN that learned must exceed 85%"
)
_MNIST5K = (
    "our choice: a linear classifier reaches 88% on MNIST (LeCun et al., 1998: 12.0% test error), so a "
    "network that learned from MNIST-5k's 4,000 training digits must exceed 95%"
)
#: The test accuracy (a fraction) the dense LeNet-5 must reach, by data set, before a claim that
#: compares with it is decided.
TARGETS = {
    "MNIST": Target("dense LeNet-5", "MNIST", "accuracy", 0.9905, "LeCun et al. (1998): LeNet-5, 0.95% test error"),
    "MNIST-5k": Target("dense LeNet-5", "MNIST-5k", "accuracy", 0.95, _MNIST5K),
    "Fashion-MNIST": Target("dense LeNet-5", "Fashion-MNIST", "accuracy", 0.85, _FASHION),
}
#: The data sets of :data:`TARGETS` by :data:`freqlib.data.LOADERS` name.
DATA_KEYS = {"mnist": "MNIST", "mnist5k": "MNIST-5k", "fashion_mnist": "Fashion-MNIST"}
#: "FR training beats truncation" is decided when the gap's standard error is below this many points
#: (our choice).
TOLERANCE = 1.0


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


def baselines(dense_accuracy: float, data: str) -> dict[str, Baseline]:
    """``{"dense": ...}``: the dense LeNet-5's test accuracy (a fraction) against :data:`TARGETS` of
    ``data`` (a :data:`freqlib.data.LOADERS` name of :data:`DATA_KEYS`)."""
    return {"dense": TARGETS[DATA_KEYS[data]].baseline(dense_accuracy)}


def claims(
    truncation: pd.DataFrame, dense_accuracy: float, *, n_test: int, profile: str, data: str, label: str
) -> list[Claim]:
    """Per budget of :func:`truncation_table`'s ``truncation``, the trained claim that FR training beats
    truncating the dense weights to the same numbers (accuracies on ``n_test`` test images, in points):
    decided when the dense LeNet-5 (``dense_accuracy``, a fraction) meets its :data:`TARGETS` entry of
    ``data`` and the gap's standard error (binomial, both models) is below :data:`TOLERANCE`."""
    base = baselines(dense_accuracy, data)["dense"]
    rows = []
    for _, r in truncation.iterrows():
        fr, cut = float(r["FR trained"]), float(r["dense truncated"])
        gap = 100 * (fr - cut)
        rows.append(
            trained(
                f"at {int(r.budget):,} numbers, FR training beats truncating the trained dense LeNet-5",
                "FR abstract: high frequencies 'can be set to zero when networks are trained with the proposed "
                f"frequency regularization' (no number); decided when the gap's standard error is below "
                f"{TOLERANCE:g} point",
                f"FR-trained {100 * fr:.2f}% vs dense truncated after training {100 * cut:.2f}% ({gap:+.2f} points)",
                value=100 * fr,
                expected=100 * cut,
                tolerance=TOLERANCE,
                se=100 * difference_se(binomial_se(fr, n_test), binomial_se(cut, n_test)),
                baselines=[base],
                relation="greater",
                unit="%",
                profile=profile,
                data=label,
                source="FR abstract",
            )
        )
    return rows
