"""The chapter "Reading the parameter tables": the FR appendix's Tables 1-14 regenerated from the
architectures and the keep rule (no training), beside the printed ones, and every difference explained.

The tables themselves come from :mod:`freqlib.paper` (:func:`~freqlib.paper.build`,
:func:`~freqlib.paper.compare`, :func:`~freqlib.paper.summary`; :func:`~freqlib.paper.claims` makes the
exact claim of each). The chapter's contract (:mod:`freqlib.experiment`): :class:`Config`, :func:`run`
(a ``ChapterResult`` with one comparison per table, the overview and the tables behind each finding of
the chapter: Table 4's rate cell, the counts printed one higher than the rule, the VGG19 plan of the
"VGG16" tables, ResNet-18's unprinted stem, ViT's missing block, its misprinted patch embedding, its
512-weight row and its 65,520 kept qkv weights) and :func:`claims`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from ... import experiment, paper
from ...claims import Claim
from ...experiment import ChapterResult
from ...models import vgg_cifar, vit_cifar
from ...tables import compress_rate, parameter_table
from ...zigzag import keep_count

#: Our total without the rows the printed total leaves out (:func:`freqlib.paper.compare`).
SCOPE = "total (paper's scope)"


@dataclass(frozen=True)
class Config(experiment.Config):
    """The chapter's parameters: ``names``, the appendix tables regenerated (names of
    :data:`freqlib.paper.NAMES`, all by default; a finding is shown only when its tables are among them)."""

    chapter = "fr_tables"
    names: Sequence[str] = paper.NAMES


def _what(rows: dict) -> pd.DataFrame:
    """A two-column table (``what``, ``value``) of ``rows``."""
    return pd.DataFrame({"what": list(rows), "value": list(rows.values())})


def table4_rate() -> pd.DataFrame:
    """Table 4's total rate cell against Table 3's, halved, and against the exact float16 byte ratio."""
    org3, rem3, rate3 = paper.paper_table("alexnet-v3").loc["total", ["Org. NoP.", "Rem. NoP.", "Compress Rate"]]
    rem4, note4, rate4 = paper.paper_table("alexnet-v4").loc["total", ["Rem. NoP.", "Note", "Compress Rate"]]
    (pct3, factor3), (pct4, factor4) = paper.parse_rate(rate3), paper.parse_rate(rate4)
    return _what(
        {
            "Table 3 total (printed)": f"{rem3:,} of {org3:,} kept, {rate3}",
            "Table 4 total (printed)": f"{rem4:,} ({note4}), {rate4}",
            "Table 3's printed percentage / 2": f"{pct3 / 2:g}% (Table 4 prints {pct4:g}%)",
            "Table 3's printed factor x 2": f"{2 * factor3}× (Table 4 prints {factor4}×)",
            f"exact: {rem4:,} float16 numbers against {org3:,} float32 ones": compress_rate(32 * org3, 16 * rem4),
        }
    )


def one_higher(comparisons: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The printed layer rows whose remaining count is one higher than the rule's ``round(n r) + 1``."""
    rows = []
    for name, cmp in comparisons.items():
        rate = paper.variant(name).keep
        for row, r in cmp[(cmp["status"] == "Rem. differs") & (cmp["Δ Rem."] == -1)].iterrows():
            if not str(row).startswith("total"):
                n, kind = int(r["Org. NoP."]), "linear" if r["Layer Type"] == "Linear" else "conv"
                rows.append(
                    {
                        "table": paper.variant(name).table,
                        "row": row,
                        "Org. NoP.": n,
                        "rate": rate,
                        "rule round(n r)+1": keep_count(n, rate, kind=kind),
                        "printed": int(r["paper Rem. NoP."]),
                        "Δ Rem.": int(r["Δ Rem."]),
                    }
                )
    return pd.DataFrame(rows, columns=["table", "row", "Org. NoP.", "rate", "rule round(n r)+1", "printed", "Δ Rem."])


def vgg_plan(comparisons: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``"vgg convolutions"``: convolutions and weights of our VGG16 and VGG19 and of Table 5's rows;
    ``"vgg 512 rows"``: per "VGG16" table, its printed and our 512->512 3x3 rows, and whether it prints
    the linear layer."""
    rows = []
    for plan in ("vgg16", "vgg19"):
        with torch.device("meta"):
            t = parameter_table(vgg_cifar(plan))
        rows.append({"model": f"vgg_cifar({plan!r})", "convolutions": int((t["Layer Type"] == "Conv2d").sum())})
        rows[-1]["weights"] = int(t.loc["total", "Org. NoP."])
    t5 = paper.paper_table("vgg16-v1")
    rows.append({"model": "Table 5 (printed)", "convolutions": int((t5["Layer Type"] == "Conv2d").sum())})
    rows[-1]["weights"] = int(t5.loc["total", "Org. NoP."])
    big = 512 * 512 * 3 * 3
    per_table = [
        {
            "table": paper.variant(name).table,
            f"printed rows of {big:,}": int((paper.paper_table(name)["Org. NoP."] == big).sum()),
            "ours": int((comparisons[name]["Org. NoP."] == big).sum()),
            "Linear printed": bool((paper.paper_table(name)["Layer Type"] == "Linear").any()),
        }
        for name in ("vgg16-v1", "vgg16-v2", "vgg16-v3")
    ]
    return {"vgg convolutions": pd.DataFrame(rows), "vgg 512 rows": pd.DataFrame(per_table)}


def resnet_stem(comparisons: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per ResNet table: the stem convolution, our totals with and without it, and the printed totals."""
    rows = []
    for name in ("resnet-v1", "resnet-v2", "resnet-v3"):
        c = comparisons[name]
        stem, total, scope = c.loc["conv1.weight"], c.loc["total"], c.loc[SCOPE]
        rows.append(
            {
                "model": name,
                "stem weights": int(stem["Org. NoP."]),
                "stem kept": int(stem["Rem. NoP."]),
                "ours Org.": int(total["Org. NoP."]),
                "ours Rem.": int(total["Rem. NoP."]),
                "without stem Org.": int(scope["Org. NoP."]),
                "without stem Rem.": int(scope["Rem. NoP."]),
                "printed Org.": int(total["paper Org. NoP."]),
                "printed Rem.": int(total["paper Rem. NoP."]),
            }
        )
    return pd.DataFrame(rows)


def vit_findings(comparisons: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The ViT tables' puzzles: ``"vit blocks"`` (five blocks or six), ``"vit embeddings"`` and ``"vit row
    2"`` (the misprinted 33,280), ``"vit 512 rows"`` (the parameters the 512-weight row can be) and ``"vit
    qkv"`` (65,520 kept per qkv layer against the rule, and float16's finite integers)."""
    t11, t12 = paper.paper_table("vit-v1"), paper.paper_table("vit-v2")
    block_org, block_rem = (int(t11.loc[3:6, c].sum()) for c in ("Org. NoP.", "Rem. NoP."))
    patch = 48 * 512  # the patch embedding's real size; the tables print 33,280 for it
    dense = int(t11.loc[1, "Org. NoP."]) + patch + int(t11.loc[23, "Org. NoP."]) + int(t11.loc[24, "Org. NoP."])
    blocks = [("one block (Table 11)", block_org, block_rem, ""), ("dense rows", dense, dense, "")]
    blocks += [(f"{b} blocks", dense + b * block_org, dense + b * block_rem, "") for b in (5, 6)]
    for name, t in (("Table 11 (printed)", t11), ("Table 12 (printed)", t12)):
        blocks.append((name, int(t.loc["total", "Org. NoP."]), int(t.loc["total", "Rem. NoP."]), (len(t) - 5) // 4))
    with torch.device("meta"):
        vit = vit_cifar()
    embeddings = [
        {"parameter": n, "shape": tuple(p.shape), "numbers": p.numel()}
        for n, p in (("patch_embedding.weight", vit.patch_embedding.weight), ("pos_embedding", vit.pos_embedding))
    ]
    org2, rem2, rate2 = t11.loc[2, ["Org. NoP.", "Rem. NoP.", "Compress Rate"]]
    row2 = {
        "Org. NoP.": org2,
        "Rem. NoP.": rem2,
        "printed rate": rate2,
        "rate of its counts": compress_rate(org2, rem2),
    }
    order = [n for n, _ in vit.named_parameters()]
    candidates = [
        {"parameter": n, "shape": tuple(p.shape), "position": order.index(n), "of": len(order)}
        for n, p in vit.named_parameters()
        if p.numel() == 512 and not n.startswith("blocks.") and not n.endswith(".bias")
    ]
    n_qkv, printed, printed_512 = 1536 * 512, int(t11.loc[3, "Rem. NoP."]), int(t11.loc[4, "Rem. NoP."])
    ints = torch.arange(100_000, dtype=torch.float32)
    finite = int(torch.isfinite(ints.half()).sum())
    threshold = keep_count(512 * 512, 0.1, kind="linear") - 1  # ranks 0..threshold are kept
    half_kept, largest = int((ints[: 2 * threshold].half().float() <= threshold).sum()), torch.finfo(torch.float16).max
    qkv = {
        f"qkv ({n_qkv:,} weights) at 10%: rule round(n r)+1": f"{keep_count(n_qkv, 0.1, kind='linear'):,}",
        "qkv printed": f"{printed:,} = {100 * printed / n_qkv:.4f}%",
        "512x512 at 10%: rule / printed": f"{keep_count(512 * 512, 0.1, kind='linear'):,} / {printed_512:,}",
        "integers 0, 1, 2, ... finite in float16": f"{finite:,} (largest float16 {largest:,.0f}; "
        f"{finite - 1:,} rounds to it, {finite:,} to inf)",
        "512x512 at 10% if ranks were held in float16": f"{half_kept:,} kept (printed {printed_512:,})",
        "ViT-v1 remaining total: ours / printed": f"{int(comparisons['vit-v1'].loc['total', 'Rem. NoP.']):,} / "
        f"{int(t11.loc['total', 'Rem. NoP.']):,}",
    }
    return {
        "vit blocks": pd.DataFrame(blocks, columns=["what", "Org. NoP.", "Rem. NoP.", "blocks listed"]),
        "vit embeddings": pd.DataFrame(embeddings),
        "vit row 2": pd.DataFrame([row2]),
        "vit 512 rows": pd.DataFrame(candidates),
        "vit qkv": _what(qkv),
    }


def run(cfg: Config, *, device=None, progress: bool = True) -> ChapterResult:
    """Every table of ``cfg.names`` regenerated and compared (no training; ``device`` and ``progress`` are
    not used): a :class:`~freqlib.experiment.ChapterResult` whose tables are ``"overview"``
    (:func:`freqlib.paper.summary` of each, by table number; what ``freqlib experiment fr_tables`` prints),
    for each name its :func:`freqlib.paper.compare` frame (under the name), ``"one higher"``
    (:func:`one_higher`) and, where their tables are among the names, ``"table 4 rate"``
    (:func:`table4_rate`), the :func:`vgg_plan` tables, ``"resnet stem"`` (:func:`resnet_stem`) and the
    :func:`vit_findings` tables."""
    unknown = [n for n in cfg.names if n not in paper.NAMES]
    if unknown or not cfg.names:
        raise ValueError(f"names must be a non-empty list of {', '.join(paper.NAMES)}; unknown: {unknown}")
    comparisons, summaries = {}, {}
    for name in cfg.names:
        model = paper.build(name)
        comparisons[name], summaries[name] = paper.compare(name, model), paper.summary(name, model)
        del model
    overview = pd.DataFrame(
        [
            {"table": s["table"], "model": n, **{k: s[k] for k in ("paper", "ours", "verdict", "reason")}}
            for n, s in summaries.items()
        ]
    ).set_index("table")
    tables = {"overview": overview, **comparisons, "one higher": one_higher(comparisons)}
    if {"alexnet-v3", "alexnet-v4"} <= set(cfg.names):
        tables["table 4 rate"] = table4_rate()
    if {"vgg16-v1", "vgg16-v2", "vgg16-v3"} <= set(cfg.names):
        tables.update(vgg_plan(comparisons))
    if {"resnet-v1", "resnet-v2", "resnet-v3"} <= set(cfg.names):
        tables["resnet stem"] = resnet_stem(comparisons)
    if "vit-v1" in cfg.names:
        tables.update(vit_findings(comparisons))
    return ChapterResult(tables=tables)


def claims(result: ChapterResult, cfg: Config) -> list[Claim]:
    """One exact claim per regenerated table (:func:`freqlib.paper.claims` of the comparisons in
    ``result``, in table order): reproduced, close (remaining counts one off), not reproduced or paper
    inconsistent."""
    comparisons = {name: result.tables[name] for name in paper.NAMES if name in result.tables}
    return paper.claims(comparisons, profile=cfg.profile)
