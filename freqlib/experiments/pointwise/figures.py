"""Claims of the figures chapter (``notebooks/pointwise_figures.ipynb``): Fig 4's equivalences, section
3.1's MAC formula and the MAC axis of Figs 7/8. Everything here follows from the code and the
architecture (no training): the checks are ``exact``; the accuracy axis of Fig 7, which needs ImageNet
training, is ``not comparable``. No dense model is trained, so no convergence target applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ...claims import Claim, exact, not_comparable
from .imagenet import FIG8_PRUNED_MACS, FIG8_RATIO

#: Fig 4's forms agree when their largest absolute difference (float64) is below this.
EQUIVALENCE_TOLERANCE = 1e-10
#: 205M / dense MACs of MobileNetV2 1.0-224 must be within this of Fig 8's 0.68 (it prints two digits).
RATIO_TOLERANCE = 0.005


def section31_macs(in_channels: int, out_channels: int, shape: Sequence[int], block: int) -> dict[str, int]:
    """Section 3.1's MACs of an unpruned frequency-domain 1x1 conv on input ``shape`` (N, C_in, H, W)
    with ``block`` x ``block`` macroblocks: ``dct`` = N c_in h w k^2, ``pointwise`` = N c_in h w c_out,
    ``idct`` = N c_out h w k^2."""
    n, _, h, w = (int(s) for s in shape)
    k2 = block * block
    return {
        "dct": n * in_channels * h * w * k2,
        "pointwise": n * in_channels * h * w * out_channels,
        "idct": n * out_channels * h * w * k2,
    }


def equivalence_claim(diffs: Mapping[str, float], **meta) -> Claim:
    """Fig 4: ``diffs`` = {"a-b": max |plain 1x1 - DCT->1x1->IDCT|, "b-c": max |band-masked - dense per
    band|} (float64) both below :data:`EQUIVALENCE_TOLERANCE`."""
    bad = {k: v for k, v in diffs.items() if not v < EQUIVALENCE_TOLERANCE}
    if bad:  # the values themselves only when they fail: rounding-level values differ between CPUs
        reason = (
            "max |diff| " + ", ".join(f"{k} {v:.1e}" for k, v in bad.items()) + f" not below {EQUIVALENCE_TOLERANCE:g}"
        )
    else:
        reason = (
            f"max |diff| of {' and '.join(diffs)} below {EQUIVALENCE_TOLERANCE:g} (float64, random input and bands)"
        )
    return exact(
        "1x1 conv = DCT -> 1x1 -> IDCT (Fig 4a = 4b); band-masked = dense per band (Fig 4b = 4c)",
        "mathematically equivalent",
        f"max |diff| below {EQUIVALENCE_TOLERANCE:g}: " + ", ".join(f"{k} {k not in bad}" for k in diffs),
        holds=not bad,
        reason=reason,
        data="random float64 input, random bands",
        source="DP Fig 4",
        **meta,
    )


def formula_claim(counted: Mapping[str, int], formula: Mapping[str, int], **meta) -> Claim:
    """Section 3.1: ``counted`` (count_macs of the unpruned converted layer: dct, pointwise, idct)
    equals :func:`section31_macs` ``formula``; a differing part is named."""
    wrong = [k for k in formula if counted.get(k) != formula[k]]
    return exact(
        "MACs of DCT, pointwise and IDCT",
        "c_in h w k^2, c_in h w c_out, c_out h w k^2",
        ", ".join(f"{k} {counted.get(k, 0):,}" for k in formula),
        holds=not wrong and set(counted) == set(formula),
        reason="count_macs equals the formula in every part"
        if not wrong and set(counted) == set(formula)
        else "count_macs differs from the formula in "
        + ", ".join(
            f"{k} ({counted.get(k, 0):,} vs {formula[k]:,})" for k in wrong or sorted(set(counted) ^ set(formula))
        ),
        data="random layer",
        source="DP section 3.1",
        **meta,
    )


def fig8_claim(grid: pd.DataFrame, **meta) -> Claim | None:
    """Fig 8's "205M is a 0.68x FLOP reduction" against the dense MACs of MobileNetV2 1.0-224 in
    :func:`freqlib.experiments.pointwise.imagenet.macs_grid`'s ``grid``; None without that row."""
    top = grid[(grid.width == 1.0) & (grid.resolution == 224)]
    if not len(top):
        return None
    dense = int(top.dense.iloc[0])
    return exact(
        "MobileNetV2 1.0-224 dense MACs (Fig 8: 205M is a 0.68x FLOP reduction)",
        f"205M / 0.68 = {FIG8_PRUNED_MACS / FIG8_RATIO / 1e6:.1f}M",
        f"{dense / 1e6:.1f}M (torchvision's MobileNetV2); 205M is x{FIG8_PRUNED_MACS / dense:.3f} of it",
        value=FIG8_PRUNED_MACS / dense,
        expected=FIG8_RATIO,
        tolerance=RATIO_TOLERANCE,
        reason=f"205M over the {dense:,} MACs counted on torchvision's MobileNetV2 at 224x224",
        data="architecture only",
        source="DP Fig 8, section 4.1.2",
        **meta,
    )


def fig7_claim(**meta) -> Claim:
    """Fig 7's accuracy axis: not run (ImageNet training)."""
    return not_comparable(
        "Fig 7: frequency-band pruning beats ThiNet, DCP, AMC, PS and OctConv on ImageNet",
        "the violet Pareto curve lies above the others (an image; no numbers printed)",
        "not run",
        reason="needs ImageNet, a GPU and the paper's ImageNet schedule, which this book does not implement; only "
        "the MAC axis is counted (row above)",
        data="none",
        source="DP Fig 7",
        **meta,
    )


def claims(
    diffs: Mapping[str, float],
    counted: Mapping[str, int],
    formula: Mapping[str, int],
    grid: pd.DataFrame,
    *,
    profile: str,
) -> list[Claim]:
    """The chapter's claims: Fig 4 (:func:`equivalence_claim` of ``diffs``), section 3.1
    (:func:`formula_claim`: ``counted`` against ``formula``), Fig 8's ratio from ``grid``
    (:func:`fig8_claim`, when it has 1.0-224) and Fig 7's accuracy axis (not comparable)."""
    rows = [equivalence_claim(diffs, profile=profile), formula_claim(counted, formula, profile=profile)]
    fig8 = fig8_claim(grid, profile=profile)
    return rows + ([fig8] if fig8 is not None else []) + [fig7_claim(profile=profile)]
