"""Paper-versus-ours claims that know their own power.

A :class:`Claim` is one row of a chapter's comparison with a paper: the paper's value, ours, a
*kind* and a *verdict* with the *reason* for it. Kinds (:data:`KINDS`):

- ``trained``: depends on training (an accuracy, a drop, a perplexity, a speed-up).
- ``exact``: follows from counts, arithmetic or the architecture alone; decided at any profile.
- ``by construction``: a value the experiment sets (a pruning rate it prunes to, a count fixed by the
  chosen keep); it confirms the setup, not the paper, so its verdict is always ``by construction``.

A trained claim is decided only when its run has **power** (:func:`power`): every
:class:`Baseline` it compares against meets its convergence :class:`Target`, and the standard
error of the compared quantity is below the claim's tolerance. Otherwise its verdict is
``undecided`` and the reason gives the numbers that failed. The constructors :func:`trained`,
:func:`exact`, :func:`by_construction`, :func:`paper_inconsistent` and :func:`not_comparable` are
the only way the book's chapters make claims; each chapter's ``claims(...)`` function is built
from them and unit-tested on synthetic results.

Standard errors: :func:`binomial_se` for an accuracy measured on ``n`` test items,
:func:`seed_se` for a mean over seeds, :func:`difference_se` for a difference of independent
estimates (for two models scored on the same test set this over-estimates the error, so a claim
is called undecided rather than decided too early).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

KINDS = ("trained", "exact", "by construction")
VERDICTS = (
    "reproduced",
    "close",
    "not reproduced",
    "undecided",
    "not comparable",
    "paper inconsistent",
    "by construction",
)
#: How :func:`compare` reads ``expected``: ``within`` (|ours - expected| <= tolerance), ``at most``
#: (ours <= expected), ``at least`` (ours >= expected), ``greater`` / ``less`` (a direction: ours
#: beyond expected by more than :data:`Z` standard errors decides it).
RELATIONS = ("within", "at most", "at least", "greater", "less")
#: Standard errors that separate a directional difference from noise (about 95 % two-sided).
Z = 2.0
#: The headline claims of the three papers: key -> (paper, what is claimed). A claim names its key
#: in ``headline``; the status page leads with one line per key.
HEADLINES = {
    "fr-lenet5-776": ("FR", "LeNet-5 in 776 float16 numbers loses < 2% accuracy (MNIST)"),
    "fr-unet-759": ("FR", "UNet in 759 float16 numbers (> 80000x) keeps Dice > 97% (Carvana)"),
    "nr-table3": ("NR period", "Table 3: pruned LeNet-5 / LeNet-300-100 keep their accuracy (MNIST)"),
    "nr-fig11-12": ("NR period", "Fig. 11/12: an NR period > 1 lowers LSTM perplexity under decay / noise (PTB)"),
    "pointwise-table1": ("Dense pointwise pruning", "Table 1: 2x-2.4x fewer MACs at <= 0.13 points (CIFAR-10)"),
    "pointwise-speed": ("Dense pointwise pruning", "22.1% faster at 20% fewer MACs (one CPU thread)"),
}


class ClaimError(ValueError):
    """A claim built with an unknown kind, verdict or relation, or a verdict its kind does not allow."""


@dataclass(frozen=True)
class Target:
    """The value a dense ``model`` must reach on ``data`` before a trained claim that compares with it
    is decided. ``metric`` names the measure (``accuracy`` as a fraction, ``Dice``, ``perplexity``, ...),
    ``source`` where the figure comes from (a paper, a benchmark, or "our choice" with the argument)."""

    model: str
    data: str
    metric: str
    value: float
    source: str
    higher_is_better: bool = True

    def baseline(self, value: float, model: str | None = None) -> Baseline:
        """The measured ``value`` of this target's model as a :class:`Baseline`."""
        return Baseline(model or self.model, self.metric, float(value), self.value, self.source, self.higher_is_better)


@dataclass(frozen=True)
class Baseline:
    """A measured baseline next to the target it must meet (the ``baselines`` of a reference record)."""

    model: str
    metric: str
    value: float
    target: float
    source: str
    higher_is_better: bool = True

    @property
    def met(self) -> bool:
        """Whether ``value`` reaches ``target`` (NaN never does)."""
        if math.isnan(self.value):
            return False
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def describe(self) -> str:
        """e.g. ``dense accuracy 0.2075 below its target 0.85 (source)``."""
        if self.met:
            word = "meets"
        else:
            word = "below" if self.higher_is_better else "above"
        return f"{self.model} {self.metric} {_num(self.value)} {word} its target {_num(self.target)} ({self.source})"

    def as_dict(self) -> dict:
        """``{model, metric, value, target, source, met}`` (plus the direction), JSON-ready."""
        return {**asdict(self), "met": self.met}


@dataclass(frozen=True)
class Claim:
    """One paper-versus-ours row. Make it with :func:`trained`, :func:`exact`, :func:`by_construction`,
    :func:`paper_inconsistent` or :func:`not_comparable`; the fields are checked on construction."""

    claim: str
    kind: str
    paper: str
    ours: str
    verdict: str
    reason: str
    profile: str = ""
    data: str = ""
    source: str = ""
    headline: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ClaimError(f"claim {self.claim!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ClaimError(f"claim {self.claim!r}: verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if (self.kind == "by construction") != (self.verdict == "by construction"):
            raise ClaimError(
                f"claim {self.claim!r}: the verdict 'by construction' belongs to kind 'by construction' "
                f"and only to it (kind {self.kind!r}, verdict {self.verdict!r})"
            )
        if self.verdict == "undecided" and self.kind != "trained":
            raise ClaimError(f"claim {self.claim!r}: only a trained claim can be undecided (kind {self.kind!r})")
        if not self.reason:
            raise ClaimError(f"claim {self.claim!r}: a claim states the reason for its verdict")
        if self.headline and self.headline not in HEADLINES:
            raise ClaimError(
                f"claim {self.claim!r}: headline must be one of {sorted(HEADLINES)}, got {self.headline!r}"
            )

    def row(self) -> dict:
        """The claim as a dict of :data:`FIELDS` (what a notebook stores for the status page)."""
        return asdict(self)


#: The fields of a stored claim, in order.
FIELDS = tuple(Claim.__dataclass_fields__)


def binomial_se(p: float, n: int) -> float:
    """Standard error of a proportion ``p`` (a fraction) measured on ``n`` items: sqrt(p(1-p)/n).

    For an accuracy of 0.9 on 400 test images: 0.015 (1.5 points). ``n`` < 1 gives infinity.
    """
    if n < 1:
        return math.inf
    p = min(max(float(p), 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / n)


def seed_se(values: Sequence[float]) -> float:
    """Standard error of the mean of ``values`` (one per seed): std (ddof 1) / sqrt(n); infinity below 2."""
    values = [float(v) for v in values]
    n = len(values)
    if n < 2:
        return math.inf
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def difference_se(*errors: float) -> float:
    """Standard error of a sum or difference of independent estimates: sqrt(sum of squares)."""
    return math.sqrt(sum(float(e) ** 2 for e in errors))


def power(baselines: Iterable[Baseline], se: float | None, tolerance: float, *, unit: str = "") -> str | None:
    """``None`` when a trained claim may be decided; otherwise the reason it is undecided.

    Decided means: every baseline meets its target, and the standard error ``se`` of the compared
    quantity (in the claim's units) is below ``tolerance``. ``se=None`` says the run gives no error
    estimate, which is itself a reason to stay undecided.
    """
    reasons = [b.describe() for b in baselines if not b.met]
    if se is None:
        reasons.append("no standard error of the compared quantity")
    elif math.isnan(se) or se >= tolerance:
        reasons.append(
            f"its standard error {_with_unit(se, unit)} is not below the tolerance {_with_unit(tolerance, unit)}"
        )
    return "; ".join(reasons) or None


def compare(value: float, expected: float, tolerance: float, relation: str = "within", *, unit: str = "", se=None):
    """``(verdict, reason)`` comparing ``value`` with ``expected`` under ``relation`` (:data:`RELATIONS`).

    ``within``: reproduced if |value - expected| <= tolerance, close within twice that;
    ``at most`` / ``at least``: reproduced on the right side of ``expected``, close within
    ``tolerance`` of it; ``greater`` / ``less``: reproduced when ``value`` lies beyond ``expected`` in
    that direction by more than :data:`Z` standard errors ``se`` (or ``tolerance`` without one), not
    reproduced when it lies as far the other way, close in between. NaN is not reproduced.
    """
    if relation not in RELATIONS:
        raise ClaimError(f"relation must be one of {RELATIONS}, got {relation!r}")
    if math.isnan(value):
        return "not reproduced", "ours is NaN"
    v, e, t = _with_unit(value, unit), _with_unit(expected, unit), _with_unit(tolerance, unit)
    gap = value - expected
    if relation == "within":
        if abs(gap) <= tolerance:
            return "reproduced", f"{v} within {t} of {e}"
        word = "close" if abs(gap) <= 2 * tolerance else "not reproduced"
        return word, f"{v} is {_with_unit(abs(gap), unit)} from {e} (tolerance {t})"
    if relation in ("at most", "at least"):
        sign = 1 if relation == "at most" else -1
        if sign * gap <= 0:
            return "reproduced", f"{v} is {relation} {e}"
        word = "close" if sign * gap <= tolerance else "not reproduced"
        return word, f"{v} is not {relation} {e} (by {_with_unit(abs(gap), unit)}; tolerance {t})"
    sign = 1 if relation == "greater" else -1
    margin = Z * se if se is not None else tolerance
    how = f"{_num(Z)} standard errors ({_with_unit(margin, unit)})" if se is not None else f"the tolerance {t}"
    if sign * gap > margin:
        return "reproduced", f"{v} is {relation} than {e} by more than {how}"
    if -sign * gap > margin:
        return "not reproduced", f"{v} is {'less' if relation == 'greater' else 'greater'} than {e} by more than {how}"
    return "close", f"{v} differs from {e} by less than {how}: no direction"


def trained(
    claim: str,
    paper: str,
    ours: str,
    *,
    value: float,
    expected: float,
    tolerance: float,
    se: float | None,
    baselines: Sequence[Baseline] = (),
    relation: str = "within",
    unit: str = "",
    **meta,
) -> Claim:
    """A trained claim: undecided unless :func:`power` holds, then :func:`compare`'s verdict.

    ``value``/``expected``: ours and the paper's (or the bound it states) as numbers, ``tolerance`` and
    ``se`` in the same units (``unit`` is appended in the reason); ``baselines``: the dense models the
    value is measured against. ``meta``: ``profile``, ``data``, ``source``, ``headline``.
    """
    weak = power(baselines, se, tolerance, unit=unit)
    if weak is not None:
        return Claim(claim, "trained", paper, ours, "undecided", f"undecided: {weak}", **meta)
    verdict, reason = compare(value, expected, tolerance, relation, unit=unit, se=se)
    met = "; ".join(b.describe() for b in baselines)
    reason = f"{reason}; standard error {_with_unit(se, unit)}" + (f"; {met}" if met else "")
    return Claim(claim, "trained", paper, ours, verdict, reason, **meta)


def exact(
    claim: str,
    paper: str,
    ours: str,
    *,
    value: float | None = None,
    expected: float | None = None,
    tolerance: float = 0.0,
    relation: str = "within",
    holds: bool | None = None,
    reason: str = "",
    unit: str = "",
    **meta,
) -> Claim:
    """An exact claim (counts, arithmetic, architecture): decided at any profile.

    Either numbers (``value``, ``expected``, ``tolerance``, ``relation``: :func:`compare`) or a checked
    statement ``holds`` (reproduced / not reproduced) with its ``reason``.
    """
    if holds is not None:
        if value is not None or expected is not None:
            raise ClaimError(f"claim {claim!r}: give holds= or value=/expected=, not both")
        if not reason:
            raise ClaimError(f"claim {claim!r}: holds= needs the reason it holds or not")
        return Claim(claim, "exact", paper, ours, "reproduced" if holds else "not reproduced", reason, **meta)
    if value is None or expected is None:
        raise ClaimError(f"claim {claim!r}: an exact claim needs value= and expected=, or holds=")
    verdict, why = compare(float(value), float(expected), tolerance, relation, unit=unit)
    return Claim(claim, "exact", paper, ours, verdict, f"{why}; {reason}" if reason else why, **meta)


def weakest(gains: Sequence[float], ses: Sequence[float]) -> int:
    """Index of the gain least significantly above zero (smallest gain / standard error; NaN counts as
    least): the cell that decides an "A beats B in every cell" claim."""
    if not gains or len(gains) != len(ses):
        raise ClaimError(f"weakest: need as many standard errors as gains, got {len(gains)} and {len(ses)}")
    z = [g / s if s > 0 else math.copysign(math.inf, g) for g, s in zip(gains, ses)]
    return min(range(len(z)), key=lambda i: (not math.isnan(z[i]), z[i]))


def beats_everywhere(
    claim: str,
    paper: str,
    ours: str,
    *,
    gains: Sequence[float],
    ses: Sequence[float],
    tolerance: float,
    baselines: Sequence[Baseline] = (),
    unit: str = "",
    **meta,
) -> Claim:
    """A trained "A beats B in every cell" claim (``gains`` = A - B per cell, ``ses`` their standard
    errors), decided on its :func:`weakest` cell with ``relation="greater"``."""
    i = weakest(list(gains), list(ses))
    return trained(
        claim,
        paper,
        ours,
        value=float(gains[i]),
        expected=0.0,
        tolerance=tolerance,
        se=float(ses[i]),
        baselines=baselines,
        relation="greater",
        unit=unit,
        **meta,
    )


def baseline_table(baselines: Iterable[Baseline]):
    """The baselines as a DataFrame (model, metric, value, target, met, source): what a chapter shows
    before its claims."""
    import pandas as pd

    rows = [b.as_dict() for b in baselines]
    return pd.DataFrame(rows, columns=["model", "metric", "value", "target", "met", "source"])


def by_construction(claim: str, paper: str, ours: str, *, reason: str, **meta) -> Claim:
    """A value the experiment sets: ``reason`` says how (e.g. "pruned to the printed per-layer rates")."""
    return Claim(claim, "by construction", paper, ours, "by construction", reason, **meta)


def paper_inconsistent(claim: str, paper: str, ours: str, *, reason: str, kind: str = "exact", **meta) -> Claim:
    """The paper contradicts itself (``reason`` shows where): e.g. a printed ratio its own rank rules out."""
    return Claim(claim, kind, paper, ours, "paper inconsistent", reason, **meta)


def not_comparable(claim: str, paper: str, ours: str, *, reason: str, kind: str = "trained", **meta) -> Claim:
    """Ours measures something else than the paper (another data set, model or unit); ``reason`` says what."""
    return Claim(claim, kind, paper, ours, "not comparable", reason, **meta)


def _with_unit(x: float, unit: str) -> str:
    """``_num(x)`` and ``unit``, the unit singular for exactly 1 (" points" -> " point")."""
    text = _num(x)
    if unit.endswith("s") and text in ("1", "-1"):
        unit = unit[:-1]
    return text + unit


def _num(x: float) -> str:
    """A short, stable rendering of a number for reasons (4 significant digits)."""
    if x is None:
        return "none"
    x = float(x)
    if math.isinf(x) or math.isnan(x):
        return str(x)
    return f"{x:.4g}"
