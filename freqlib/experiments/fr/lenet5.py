"""LeNet-5 in 776 numbers: the FR paper's headline claim, checked against the chapter's results.

The chapter (``notebooks/lenet5.ipynb``) trains LeNet-5 (Caffe layout, 430,500 weights) densely and
with FR at a sweep of kept totals, writes every FR model as a compact float16 file, reads it back and
evaluates it. Its result table has one row per (data set, model): ``data`` (a name of
:data:`freqlib.data.LOADERS`: ``"mnist"``, ``"mnist5k"``, ``"fashion_mnist"``), ``model`` (``"dense"``
or ``"FR <total>"``), ``kept`` (numbers stored for the four weights), ``accuracy`` (the trained
model's test accuracy, a fraction), ``float16 file accuracy`` (the model read back from its file;
None for dense), ``file bytes`` and ``test images``. :func:`claims` turns that table into the
chapter's claims; the dense models are held to :data:`TARGETS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ...claims import Baseline, Claim, Target, binomial_se, by_construction, difference_se, exact, trained
from ...models.lenet import LeNet5
from ...train import keep_budget

#: The paper's kept total ("776 float16 numbers", FR abstract) and the ratio it prints ("over 1100x").
PAPER_KEPT = 776
PAPER_RATIO = 1100
#: "a LeNet5 with 0.4M parameters": printed with one decimal, in millions.
PAPER_MILLIONS = 0.4
#: "a very small accuracy decrease (less than 2%)": the drop from dense, in points, is at most this ...
DROP_BOUND = 2.0
#: ... close within this many points above it, and decided only when the drop's standard error is
#: below it (our choice: a one-point error cannot tell a 2-point drop from none).
DROP_TOLERANCE = 1.0

_MNIST5K = (
    "our choice: a linear classifier reaches 88% on MNIST (LeCun et al., 1998: 12.0% test error), so a "
    "network that learned from MNIST-5k's 4,000 training digits must exceed 95%"
)
_FASHION = (
    "our choice: a linear classifier already reaches about 84% on Fashion-MNIST (the benchmark of "
    "Xiao et al., 2017), so a network that learned must exceed 85%"
)
#: The test accuracy (a fraction) the dense LeNet-5 must reach on each data set (by its name in
#: :data:`freqlib.data.LOADERS`) before a drop measured against it is decided.
TARGETS: dict[str, Target] = {
    "mnist": Target("dense LeNet-5", "MNIST", "accuracy", 0.9905, "LeCun et al. (1998): LeNet-5, 0.95% test error"),
    "mnist5k": Target("dense LeNet-5", "MNIST-5k", "accuracy", 0.95, _MNIST5K),
    "fashion_mnist": Target("dense LeNet-5", "Fashion-MNIST", "accuracy", 0.85, _FASHION),
}


def _target(name: str) -> Target:
    if name not in TARGETS:
        raise ValueError(f"no convergence target for data set {name!r}; known: {', '.join(TARGETS)}")
    return TARGETS[name]


def baselines(results: pd.DataFrame) -> list[Baseline]:
    """One :class:`~freqlib.claims.Baseline` per data set of ``results`` (in order): its dense row's
    test accuracy against :data:`TARGETS`; NaN (never met) where no dense model was trained."""
    out = []
    for name in dict.fromkeys(results.data):
        target = _target(name)
        dense = results[(results.data == name) & (results.model == "dense")]
        value = float(dense.accuracy.iloc[0]) if len(dense) else math.nan
        trained_note = "" if len(dense) else ", not trained"
        out.append(target.baseline(value, f"{target.model} ({target.data}{trained_note})"))
    return out


def claims(
    results: pd.DataFrame,
    dense_table: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    profile: str,
    keep: int = PAPER_KEPT,
) -> list[Claim]:
    """The chapter's claims against the FR abstract.

    ``results``: the chapter's result table (module docstring); ``dense_table``:
    :func:`freqlib.parameter_table` of the dense LeNet-5 (its ``"total"`` row's ``Org. NoP.`` is the
    weight count); ``labels``: data set name -> label for the data column; ``keep``: the kept total
    of the paper (the ``"FR <keep>"`` rows). Claims: the 0.4M weights (exact); the kept total (by
    construction: ``keep`` is the total we set, unless the files read back keep another count, then
    exact); "over 1100x" (exact, from the real weight and kept counts, in bytes); per data set, the
    drop of the float16 file from dense (trained, headline ``fr-lenet5-776``: at most
    :data:`DROP_BOUND` points, decided only when the dense model meets :data:`TARGETS` and the drop's
    binomial standard error is below :data:`DROP_TOLERANCE`). Without ``FR <keep>`` rows only the
    weight count is claimed.
    """
    weights = int(dense_table.loc["total", "Org. NoP."])
    arch = {"profile": profile, "data": "LeNet-5 architecture (no training)", "source": "FR abstract"}
    rows = [
        exact(
            "LeNet-5 has 0.4M parameters",
            f"{PAPER_MILLIONS}M",
            f"{weights:,} weights (biases not counted, as in the appendix)",
            value=weights / 1e6,
            expected=PAPER_MILLIONS,
            tolerance=0.05,
            unit="M",
            reason="the dense model's weight count, against the printed one decimal",
            **arch,
        )
    ]
    fr = results[results.model == f"FR {keep}"]
    if fr.empty:
        return rows
    kept = sorted({int(k) for k in fr.kept})
    rows.append(_kept_claim(kept, keep, arch))
    rows.append(_ratio_claim(weights, kept[0], keep, arch))
    for base, name in zip(baselines(results), dict.fromkeys(results.data)):
        row = fr[fr.data == name]
        if len(row):
            rows.append(_drop_claim(results, row.iloc[0], base, keep, profile, labels.get(name, name)))
    return rows


def _kept_claim(kept: list[int], keep: int, meta: dict) -> Claim:
    """By construction (``keep`` is our setting) unless a file read back keeps another count (exact)."""
    split = keep_budget(LeNet5(), keep)
    ours = " + ".join(f"{n} ({w.removesuffix('.weight')})" for w, n in split.items()) + f" = {keep}"
    claim, paper = f"LeNet-5 kept as {keep} float16 numbers", f"{keep} (abstract; the split is not given)"
    if kept != [keep]:
        return exact(
            claim,
            paper,
            f"{ours}; files read back keep {', '.join(map(str, kept))}",
            holds=False,
            reason=f"we set {keep} kept coefficients, but the FR {keep} files read back keep {kept}",
            **meta,
        )
    return by_construction(
        claim,
        paper,
        ours,
        reason=f"{keep} is the kept total we chose (keep_totals, the paper's number); freqlib.train.keep_budget "
        "splits it by the appendix's keep rule (floors 128 per convolution, 256 per linear layer, the rest to fc1), "
        f"and every FR {keep} file read back keeps {keep}",
        **meta,
    )


def _ratio_claim(weights: int, kept: int, keep: int, meta: dict) -> Claim:
    """Exact: float32 bytes of the dense weights over float16 bytes of the kept numbers."""
    ratio = 4 * weights / (2 * kept)
    return exact(
        f"0.4M-weight LeNet-5 in {keep} float16 numbers is over {PAPER_RATIO}x smaller",
        f"over {PAPER_RATIO}x",
        f"{weights:,} weights: float32 {4 * weights:,} B / {kept:,} float16 {2 * kept:,} B = {ratio:.1f}x in bytes "
        f"({weights / kept:.1f}x in numbers)",
        value=ratio,
        expected=PAPER_RATIO,
        relation="at least",
        unit="x",
        reason=f"the dense model's real weight count over the kept count of the FR {keep} model read back from its "
        f"file, in bytes (in numbers the ratio is half); {keep} itself is the keep we chose (row above), so this "
        "checks the paper's arithmetic, not a trained result",
        **meta,
    )


def _drop_claim(results: pd.DataFrame, fr: pd.Series, base: Baseline, keep: int, profile: str, label: str) -> Claim:
    """Trained: the float16 file of FR ``keep`` loses at most :data:`DROP_BOUND` points against dense."""
    dense = results[(results.data == fr.data) & (results.model == "dense")]
    dense_acc = float(dense.accuracy.iloc[0]) if len(dense) else math.nan
    fr_acc, n = float(fr["float16 file accuracy"]), int(fr["test images"])
    drop = 100 * (dense_acc - fr_acc)
    return trained(
        f"LeNet-5 in {keep} float16 numbers loses < 2% accuracy",
        f"< {DROP_BOUND:g}% drop at {keep} float16 numbers (MNIST, full 60k); close within {DROP_TOLERANCE:g} point "
        f"above, decided when the drop's standard error is below {DROP_TOLERANCE:g} point",
        f"{drop:.2f} points: dense {100 * dense_acc:.2f}% -> FR {100 * fr_acc:.2f}% "
        f"(float16 file, {int(fr['file bytes']):,} B; {n:,} test images)",
        value=drop,
        expected=DROP_BOUND,
        tolerance=DROP_TOLERANCE,
        se=100 * difference_se(binomial_se(dense_acc, n), binomial_se(fr_acc, n)),
        baselines=[base],
        relation="at most",
        unit=" points",
        profile=profile,
        data=label,
        source="FR abstract",
        headline="fr-lenet5-776" if keep == PAPER_KEPT else "",
    )
