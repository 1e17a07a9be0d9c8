"""The chapter "Layer inventories" (``nr_architectures``): the NR appendix's Tables 7-9 (ResNet-32 and VGG-19
for CIFAR-10, ResNet-34 for ImageNet) rebuilt from our models, beside the printed ones. Nothing is trained.

The tables come from :mod:`freqlib.nr_tables` (:func:`~freqlib.nr_tables.inventory`,
:func:`~freqlib.nr_tables.compare`, :func:`~freqlib.nr_tables.paper_arithmetic`; its
:func:`~freqlib.nr_tables.claims` makes the exact claims). The chapter's contract (:mod:`freqlib.experiment`):
:class:`Config`, :func:`run` (a ``ChapterResult`` with the overview, per table the printed cells beside ours,
our layers per row and the printed table checked against itself, and ResNet-34's layers the table leaves out)
and :func:`claims`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from torch import nn

from ... import experiment, nr_tables
from ...claims import Claim
from ...experiment import ChapterResult

#: The appendix tables the chapter rebuilds.
TABLES = (7, 8, 9)


@dataclass(frozen=True)
class Config(experiment.Config):
    """The chapter's parameters: only the profile (the counts follow from the architectures alone, the same
    at every profile)."""

    chapter = "nr_architectures"


def _what(rows: dict) -> pd.DataFrame:
    """A two-column table (``what``, ``value``, the values as text) of ``rows``."""
    return pd.DataFrame({"what": list(rows), "value": [str(v) for v in rows.values()]})


def arithmetic_table(table: int) -> pd.DataFrame:
    """:func:`freqlib.nr_tables.paper_arithmetic` of ``table`` as a (what, value) table, one row per total tried
    for the printed percentages."""
    rows = {}
    for what, value in nr_tables.paper_arithmetic(table).items():
        rows |= {f"{what}: {k}": v for k, v in value.items()} if isinstance(value, dict) else {what: value}
    return _what(rows)


def resnet34_extras() -> dict[str, pd.DataFrame]:
    """``"resnet-34 omitted"``: the convolutions of torchvision's ResNet-34 that Table 9 leaves out (layer,
    shape, weights); ``"resnet-34 shares"``: the weights of all its convolutions, of those Table 9 lists, and of
    the listed layers with S < 128 (not decomposed), with their shares (%)."""
    model = nr_tables.spec(9).factory()
    omitted = [(name, str(shape), n) for name, shape, n in nr_tables.omitted_convs(model)]
    convs = [m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d)]
    inv = nr_tables.inventory(9)
    listed, small = int(inv["weights"].sum()), int(inv.query("decomposed == 'No'")["weights"].sum())
    shares = {
        f"all {len(convs)} convolutions: weights": f"{sum(convs):,}",
        f"the {int(inv['layers'].sum())} listed: weights": f"{listed:,} ({100 * listed / sum(convs):.2f}%)",
        "layers with S < 128 (not decomposed): weights": f"{small:,} = {100 * small / listed:.2f}% of the listed",
    }
    return {
        "resnet-34 omitted": pd.DataFrame(omitted, columns=["layer", "shape", "weights"]),
        "resnet-34 shares": _what(shares),
    }


def run(cfg: Config, *, device=None, progress: bool = True) -> ChapterResult:
    """Tables 7-9 rebuilt and compared (no training; ``device`` and ``progress`` are not used): a
    :class:`~freqlib.experiment.ChapterResult` whose tables are ``"overview"`` (:func:`freqlib.nr_tables.summary`
    of each table: what ``freqlib experiment nr_architectures`` prints), and per table N ``"table N"``
    (:func:`freqlib.nr_tables.view`: the printed cells beside ours), ``"layers N"`` (our layers in each row)
    and ``"arithmetic N"`` (:func:`arithmetic_table`), then the :func:`resnet34_extras` tables."""
    overview = pd.DataFrame([{"title": nr_tables.spec(t).title} | nr_tables.summary(t) for t in TABLES])
    tables = {"overview": overview.set_index("table")[["title", "rows", "differing"]]}
    for t in TABLES:
        layers = nr_tables.inventory(t)["names"]
        tables[f"table {t}"] = nr_tables.view(t)
        tables[f"layers {t}"] = pd.DataFrame({"row": range(1, len(layers) + 1), "our layers": layers})
        tables[f"arithmetic {t}"] = arithmetic_table(t)
    return ChapterResult(tables=tables | resnet34_extras())


def claims(result: ChapterResult, cfg: Config) -> list[Claim]:
    """The chapter's exact claims (:func:`freqlib.nr_tables.claims`): Tables 7-9 against our models, and Section
    A.5's 1.4%. They follow from the architectures and the transcriptions alone, so they are rebuilt from those
    (the same at every profile) rather than read from ``result``."""
    return nr_tables.claims(cfg.profile)
