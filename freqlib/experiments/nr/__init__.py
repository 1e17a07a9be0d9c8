"""The NR-period paper's chapters (*Decoupling Weight Regularization from Batch Size for Model
Compression*): ``pruning`` (Tables 1, 3), ``grids`` (Figures 3, 4, 9-12, Table 2), ``lowrank``
(Figures 7, 8, 16, 18, 19, Tables 5, 6), ``lstm`` (Figures 14, 15, Table 4), ``noise`` (Figures 1, 2,
17, 20) and ``architectures`` (Tables 7-9).

What the trained chapters share: the convergence target of a model on the data a label names
(:func:`data_key`, :func:`target_for`), the Fashion-MNIST targets (:func:`fashion_targets`, argued in
:data:`FASHION_TARGET`) and
binomial standard errors in points (:func:`points_se`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ...claims import Target, binomial_se, difference_se

#: The source of every "85% on Fashion-MNIST" convergence target of the NR chapters.
FASHION_TARGET = (
    "our choice: a linear classifier already reaches about 84% on Fashion-MNIST (the benchmark of "
    "Xiao et al., 2017), so a network that learned must exceed 85%"
)


def fashion_targets(models: Mapping[str, str]) -> dict[tuple[str, str], Target]:
    """The Fashion-MNIST stand-in's convergence targets (85%, :data:`FASHION_TARGET`) of ``models`` (our
    name -> the printed one), keyed by (our name, "Fashion-MNIST") as the chapters' ``TARGETS`` are."""
    return {
        (m, "Fashion-MNIST"): Target(name, "Fashion-MNIST", "accuracy", 0.85, FASHION_TARGET)
        for m, name in models.items()
    }


def data_key(label: str, names: Iterable[str]) -> str:
    """The data set among ``names`` that a data label names: the longest name found in ``label``
    (so "Fashion-MNIST" and "MNIST-5k" before "MNIST"); ValueError when none is."""
    found = [name for name in dict.fromkeys(names) if name in label]
    if not found:
        raise ValueError(f"no convergence target for data {label!r}")
    return max(found, key=len)


def target_for(targets: Mapping[tuple[str, str], Target], model: str, label: str) -> Target:
    """The entry of ``targets`` (keyed by (model, data set)) for ``model`` on the data ``label`` names."""
    return targets[model, data_key(label, (data for _, data in targets))]


def points_se(accuracies: Sequence[float], n: int) -> float:
    """Standard error (points) of one accuracy (a fraction) or of a sum or difference of several, each
    measured on ``n`` test images (binomial, independent)."""
    return 100 * difference_se(*(binomial_se(a, n) for a in accuracies))
