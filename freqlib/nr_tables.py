"""The NR-period paper's layer inventories (Appendix A.7, Tables 7-9), ours beside the printed ones.

Each table lists groups of consecutive layers of one shape: count, ``T`` (output channels or
features), ``S`` (input channels or features), ``d`` (kernel size, "-" for FC layers), the weight
count ("Weight Size", biases excluded) with its share of the total, and whether the layer is
decomposed in the low-rank experiments. The units are binary: K = 1024 and M = 2**20 weights
(Table 7's 22.5K is 23,040 = 10 x 16 x 16 x 9 weights; 23,040 / 1000 would print 23.0K).

:func:`inventory` builds the same rows from our model, :func:`paper_table` reads the transcription
(``data/paper/nr_table{7,8,9}.csv``), :func:`compare` sets them side by side, formatting our numbers with
the printed cell's unit and decimals, and :func:`paper_arithmetic` checks the printed table
against itself (do the rows add up to the printed total; which total the percentages use).

- Table 7: :func:`freqlib.models.resnet_cifar.resnet32_cifar` (option-A shortcuts: no 1x1 convs).
- Table 8: :func:`freqlib.models.vgg19.vgg19_cifar` (16 convs, then FC 512-512-512-10).
- Table 9: ``torchvision.models.resnet34``: its 33 kxk convolutions; the table leaves out the three
  1x1 projection shortcuts (64->128, 128->256, 256->512; 172,032 weights) and the FC layer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
from torch import nn

from .claims import Claim, exact, paper_inconsistent

DATA = Path(__file__).resolve().parent.parent / "data" / "paper"
UNITS = {"K": 1024, "M": 2**20}
FIELDS = ("type", "layers", "T", "S", "d", "weight_size", "percent", "decomposed")


def _resnet32() -> nn.Module:
    from .models.resnet_cifar import resnet32_cifar

    return resnet32_cifar()


def _vgg19() -> nn.Module:
    from .models.vgg19 import vgg19_cifar

    return vgg19_cifar()


def _resnet34() -> nn.Module:
    from torchvision.models import resnet34

    return resnet34(weights=None)


@dataclass(frozen=True)
class TableSpec:
    """One printed table: the model, which layers it lists and the paper's "Decomposed" rule."""

    table: int
    title: str
    factory: Callable[[], nn.Module]
    with_linear: bool  # FC layers are rows of the table
    skip_1x1: bool  # 1x1 convolutions (projection shortcuts) are left out
    decomposed: Callable[[int, str, int], bool]  # (position in layer order, type, S) -> decomposed?
    rule: str


TABLES: dict[int, TableSpec] = {
    7: TableSpec(
        7,
        "Convolution Layers of ResNet-32 for CIFAR-10",
        _resnet32,
        with_linear=False,
        skip_1x1=True,
        decomposed=lambda i, kind, s: i > 0,
        rule="every convolution but the stem",
    ),
    8: TableSpec(
        8,
        "Convolution and Fully-connected (FC) Layers of VGG-19 for CIFAR-10",
        _vgg19,
        with_linear=True,
        skip_1x1=True,
        decomposed=lambda i, kind, s: kind == "FC" or s >= 128,
        rule="convolutions with S >= 128, and the FC layers (compressed first, Section A.5)",
    ),
    9: TableSpec(
        9,
        "Convolution Layers of ResNet-34 for ImageNet",
        _resnet34,
        with_linear=False,
        skip_1x1=True,
        decomposed=lambda i, kind, s: s >= 128,
        rule="convolutions with S >= 128 (Section A.5: 'except the layers with S < 128')",
    ),
}


def spec(table: int) -> TableSpec:
    """The :class:`TableSpec` of Table 7, 8 or 9; ValueError otherwise."""
    if table not in TABLES:
        raise ValueError(f"NR paper layer tables are {sorted(TABLES)}, got {table!r}")
    return TABLES[table]


def layers(model: nn.Module, *, with_linear: bool, skip_1x1: bool) -> list[tuple[str, str, int, int, str, int]]:
    """(name, type, T, S, d, weights) of every Conv2d (and Linear) in module order; d is "-" for FC."""
    rows = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            t, s, kh, kw = m.weight.shape
            if skip_1x1 and kh == kw == 1:
                continue
            d = str(kh) if kh == kw else f"{kh}x{kw}"
            rows.append((name, "Conv.", t, s, d, m.weight.numel()))
        elif with_linear and isinstance(m, nn.Linear):
            rows.append((name, "FC", m.out_features, m.in_features, "-", m.weight.numel()))
    return rows


@functools.cache
def _spec_layers(table: int) -> tuple[tuple[str, str, int, int, str, int], ...]:
    """:func:`layers` of the model of ``table`` (built once per process)."""
    sp = spec(table)
    return tuple(layers(sp.factory(), with_linear=sp.with_linear, skip_1x1=sp.skip_1x1))


@functools.cache
def model_facts(table: int) -> tuple[tuple[tuple[str, tuple[int, ...], int], ...], int]:
    """(:func:`omitted_convs`, the weights of every Conv2d and Linear) of the model of ``table`` (built once)."""
    model = spec(table).factory()
    everything = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    return tuple(omitted_convs(model)), everything


def inventory(table: int, model: nn.Module | None = None) -> pd.DataFrame:
    """Our rows of ``table``: consecutive layers of one (type, T, S, d) grouped, as the paper groups
    them. Columns: type, layers, T, S, d, weights (int), decomposed ("Yes"/"No"), names (first-last)."""
    sp = spec(table)
    rows = _spec_layers(table) if model is None else layers(model, with_linear=sp.with_linear, skip_1x1=sp.skip_1x1)
    groups: list[dict] = []
    for i, (name, kind, t, s, d, n) in enumerate(rows):
        dec = "Yes" if sp.decomposed(i, kind, s) else "No"
        key = (kind, t, s, d, dec)
        if groups and groups[-1]["key"] == key:
            g = groups[-1]
            g["layers"] += 1
            g["weights"] += n
            g["last"] = name
        else:
            groups.append({"key": key, "layers": 1, "weights": n, "first": name, "last": name})
    rows = [
        {
            "type": g["key"][0],
            "layers": g["layers"],
            "T": g["key"][1],
            "S": g["key"][2],
            "d": g["key"][3],
            "weights": g["weights"],
            "decomposed": g["key"][4],
            "names": g["first"] if g["layers"] == 1 else f"{g['first']} … {g['last']}",
        }
        for g in groups
    ]
    return pd.DataFrame(rows)


def paper_table(table: int) -> pd.DataFrame:
    """The transcription of ``table`` (all cells str, as printed; the last row is "Total").
    Table 8's group label ("type") is filled down its group."""
    frame = pd.read_csv(DATA / f"nr_table{spec(table).table}.csv", comment="#", dtype=str, keep_default_na=False)
    if "type" not in frame:
        frame.insert(0, "type", "Conv.")
    frame.loc[frame["type"] == "Total", "layers"] = "Total"  # Table 8 prints "Total" in its first column
    body = frame["layers"] != "Total"
    frame.loc[body, "type"] = frame.loc[body, "type"].replace("", pd.NA).ffill()
    frame.loc[~body, "type"] = ""
    return frame


def parse_size(cell: str) -> tuple[float, str, int]:
    """'22.5K' -> (22.5, 'K', 1); '0.500M' -> (0.5, 'M', 3)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KM])\s*", cell)
    if not m:
        raise ValueError(f"not a weight size: {cell!r}")
    number, unit = m.groups()
    return float(number), unit, len(number.partition(".")[2])


def parse_percent(cell: str) -> tuple[float, int]:
    """'5.0%' -> (5.0, 1)."""
    number = cell.strip().rstrip("%").strip()
    return float(number), len(number.partition(".")[2])


def format_like(value: float | Fraction, decimals: int, suffix: str = "") -> str:
    """``value`` with ``decimals`` decimals, halves rounded up as printed tables do (1.125 -> 1.13),
    then ``suffix``. A Fraction is rounded exactly."""
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        exact = Decimal(repr(value))
    return f"{exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)}{suffix}"


def compare(table: int, model: nn.Module | None = None) -> pd.DataFrame:
    """Printed rows beside ours, in order. For each row: the paper's cells, ours formatted like them
    (weight size in the printed unit and decimals, percentage of our exact total), our exact weight
    count, and ``status``: "match" or the fields that differ. The last row compares the totals."""
    paper = paper_table(table)
    ours = inventory(table, model)
    total = int(ours["weights"].sum())
    body = paper[paper["layers"] != "Total"].reset_index(drop=True)
    rows = []
    for i in range(max(len(body), len(ours))):
        p = body.iloc[i] if i < len(body) else None
        o = ours.iloc[i] if i < len(ours) else None
        if p is None or o is None:
            rows.append({"row": i + 1, "status": "not in paper" if p is None else "not in ours"})
            continue
        value, unit, dec = parse_size(p["weight_size"])
        pct, pdec = parse_percent(p["percent"])
        mine = {
            "type": o["type"],
            "layers": str(o["layers"]),
            "T": str(o["T"]),
            "S": str(o["S"]),
            "d": o["d"],
            "weight_size": format_like(Fraction(int(o["weights"]), UNITS[unit]), dec, unit),
            "percent": format_like(Fraction(100 * int(o["weights"]), total), pdec, "%"),
            "decomposed": o["decomposed"],
        }
        differ = [f for f in FIELDS if mine[f] != p[f]]
        row = {"row": i + 1}
        for f in FIELDS:
            row[f"paper {f}"] = p[f]
            row[f] = mine[f]
        row["weights"] = int(o["weights"])
        row["status"] = "match" if not differ else "differs: " + ", ".join(differ)
        rows.append(row)
    p_total = paper[paper["layers"] == "Total"].iloc[0]
    value, unit, dec = parse_size(p_total["weight_size"])
    mine_total = format_like(Fraction(total, UNITS[unit]), dec, unit)
    rows.append(
        {
            "row": "Total",
            "paper weight_size": p_total["weight_size"],
            "weight_size": mine_total,
            "paper percent": p_total["percent"],
            "percent": "100.0%",
            "weights": total,
            "status": "match" if mine_total == p_total["weight_size"] else "differs: weight_size",
        }
    )
    return pd.DataFrame(rows).fillna("")


def paper_arithmetic(table: int) -> dict:
    """The printed table checked against itself: the sum of the printed row sizes against the
    printed total, and which total reproduces the printed percentages (the printed total, or the
    exact total of our inventory; both tried with exact and with printed row sizes)."""
    paper = paper_table(table)
    ours = inventory(table)
    body = paper[paper["layers"] != "Total"]
    p_total, unit, dec = parse_size(paper[paper["layers"] == "Total"].iloc[0]["weight_size"])
    sizes = [parse_size(c) for c in body["weight_size"]]
    printed_sum = sum(v for v, _, _ in sizes)
    exact = [Fraction(int(w), UNITS[unit]) for w in ours["weights"]] if len(ours) == len(body) else None
    exact_total = sum(exact) if exact else None
    pcts = [parse_percent(c) for c in body["percent"]]

    def hits(numerators, denominator):
        return sum(
            format_like(Fraction(100) * Fraction(n) / Fraction(denominator), d) == format_like(p, d)
            for n, (p, d) in zip(numerators, pcts)
        )

    tries = {}
    if exact:
        tries["exact sizes / exact total"] = hits(exact, exact_total)
        tries["exact sizes / printed total"] = hits(exact, Fraction(repr(p_total)))
    printed = [Fraction(repr(v)) * UNITS[u] / UNITS[unit] for v, u, _ in sizes]
    tries["printed sizes / printed total"] = hits(printed, Fraction(repr(p_total)))
    return {
        "printed total": f"{p_total:.{dec}f}{unit}",
        "sum of printed rows": f"{printed_sum:.{dec}f}{unit}",
        "exact total": format_like(exact_total, dec + 2, unit) if exact else "",
        "rows add up": format_like(printed_sum, dec) == format_like(p_total, dec),
        "exact total rounds to printed": bool(exact) and format_like(exact_total, dec) == format_like(p_total, dec),
        "percent rows reproduced": {k: f"{v}/{len(pcts)}" for k, v in tries.items()},
        "printed percentages sum": f"{sum(p for p, _ in pcts):.2f}%",
    }


def summary(table: int) -> dict:
    """Verdict for ``table``: ``reproduced`` when every row and the total match; otherwise the rows
    that differ (our models are the architectures the paper names, so differences are reported with
    the paper's own arithmetic from :func:`paper_arithmetic`)."""
    cmp = compare(table)
    bad = cmp[cmp["status"] != "match"]
    return {
        "table": table,
        "rows": f"{int((cmp['status'] == 'match').sum())}/{len(cmp)} match (total row included)",
        "differing": "; ".join(f"row {r['row']}: {r['status'].removeprefix('differs: ')}" for _, r in bad.iterrows()),
    }


# ---------------------------------------------------------------------------------------------
# what the chapter shows, and its claims (all exact: the architecture alone)

#: The columns of :func:`view`, printed cell beside ours.
SHOW = (
    "row",
    *[c for f in ("type", "layers", "T", "S", "d", "weight_size") for c in (f"paper {f}", f)],
    "weights",
    "paper percent",
    "percent",
    "paper decomposed",
    "decomposed",
    "status",
)
#: Section A.5 on ResNet-34: the layers left uncompressed (S < 128) "consist of 1.4% of the entire model".
PAPER_SMALL_SHARE = 1.4


def header(table: int) -> str:
    """One line naming ``table``, its model and its "Decomposed" rule."""
    sp = spec(table)
    return f"Table {table}: {sp.title}; decomposed: {sp.rule}"


def view(table: int) -> pd.DataFrame:
    """:func:`compare`'s table restricted to :data:`SHOW` (the printed cell beside ours)."""
    cmp = compare(table)
    return cmp[[c for c in SHOW if c in cmp]]


def omitted_convs(model: nn.Module) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, weight shape, weights) of the 1x1 convolutions of ``model`` (left out of Tables 7-9)."""
    return [
        (name, tuple(m.weight.shape), m.weight.numel())
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
    ]


def _body(cmp: pd.DataFrame) -> pd.DataFrame:
    return cmp[cmp["row"] != "Total"]


def differences(table: int, fields: tuple[str, ...] = FIELDS, total: bool = True) -> list[str]:
    """Each printed cell of ``table`` (among ``fields``, and the total when ``total``) that differs from ours,
    described with the arithmetic that shows it: e.g. ``row 6: printed 6.18M, but 11 x 256 x 256 x 3 x 3 =
    6,488,064 weights = 6.1875M rounds to 6.19M``."""
    cmp = compare(table)
    out = []
    for _, r in _body(cmp).iterrows():
        if r["status"] == "match":
            continue
        differ = set(r["status"].removeprefix("differs: ").split(", ")) & set(fields)
        if "type" in differ:
            where = f"{r['layers']} layers with d = {r['d']}"
            out.append(f"row {r['row']}: printed type {r['paper type']} on {where} (ours {r['type']})")
        if differ & {"T", "S"}:
            out.append(
                f"row {r['row']}: printed T = {r['paper T']}, S = {r['paper S']}; ours T = {r['T']}, S = {r['S']} "
                f"(T counts outputs, S inputs; the same {r['weights']:,} weights)"
            )
        if "weight_size" in differ:
            _, unit, dec = parse_size(r["paper weight_size"])
            shape = " x ".join([r["layers"], r["T"], r["S"]] + ([r["d"], r["d"]] if r["d"] != "-" else []))
            out.append(
                f"row {r['row']}: printed {r['paper weight_size']}, but {shape} = {r['weights']:,} weights = "
                f"{format_like(Fraction(int(r['weights']), UNITS[unit]), dec + 2, unit)} rounds to {r['weight_size']}"
            )
        if "percent" in differ:
            out.append(f"row {r['row']}: printed {r['paper percent']}, ours {r['percent']} (of our exact total)")
    last = cmp[cmp["row"] == "Total"].iloc[0]
    if total and last["status"] != "match":
        _, unit, dec = parse_size(last["paper weight_size"])
        summed = paper_arithmetic(table)["sum of printed rows"]
        precise = format_like(Fraction(int(last["weights"]), UNITS[unit]), dec + 2, unit)
        out.append(
            f"total: printed {last['paper weight_size']}, the sum of the printed rows ({summed}); the exact "
            f"{last['weights']:,} weights = {precise} rounds to {last['weight_size']}"
        )
    return out


def _matches(table: int, fields: tuple[str, ...]) -> tuple[int, int]:
    """(rows whose ``fields`` all match, rows) of ``table`` (total row excluded)."""
    body = _body(compare(table))
    ok = sum(all(r[f] == r[f"paper {f}"] for f in fields) for _, r in body.iterrows())
    return ok, len(body)


def claims(profile: str) -> list[Claim]:
    """The chapter's claims: Tables 7-9 rebuilt from our models (:func:`compare`), all exact. Where the
    printed cells differ from the architecture and the table's own arithmetic shows the misprint, the
    verdict is ``paper inconsistent`` with the arithmetic (:func:`differences`)."""
    meta = {"profile": profile, "data": "none (architecture only)"}
    out = [_all_rows_claim(7, meta)]
    out.append(_fields_claim(8, ("layers", "d", "weight_size", "percent", "decomposed"), "counts and shapes", meta))
    out.append(_misprint_claim(8, ("type", "T", "S"), "printed labels and total", meta))
    out.append(_fields_claim(9, ("layers", "T", "S", "d", "decomposed"), "layers and shapes", meta))
    out.append(_misprint_claim(9, ("weight_size", "percent"), "weight sizes, total and percentages", meta))
    out.append(_small_share_claim(meta))
    return out


def _printed_total(table: int) -> str:
    return paper_table(table).set_index("layers").loc["Total", "weight_size"]


def _printed_layers(table: int) -> int:
    body = paper_table(table)
    return sum(int(n) for n in body[body["layers"] != "Total"]["layers"])


def _all_rows_claim(table: int, meta: dict) -> Claim:
    """Exact: every printed row and the total of ``table`` match ours."""
    cmp, inv, sp = compare(table), inventory(table), spec(table)
    total = int(inv["weights"].sum())
    ok = int((cmp["status"] == "match").sum())
    _, unit, dec = parse_size(_printed_total(table))
    bad = differences(table)
    return exact(
        f"Table {table}: {sp.title.split(' of ')[1]} ({len(cmp) - 1} rows and total)",
        f"{_printed_layers(table)} layers, {_printed_total(table)} weights",
        f"{int(inv['layers'].sum())} layers, {total:,} weights = {format_like(Fraction(total, UNITS[unit]), dec, unit)}"
        f"; {ok}/{len(cmp)} rows match",
        holds=not bad,
        reason="every printed cell matches our model" if not bad else "; ".join(bad),
        source=f"NR Table {table}",
        **meta,
    )


def _fields_claim(table: int, fields: tuple[str, ...], what: str, meta: dict) -> Claim:
    """Exact: the ``fields`` of every printed row of ``table`` match ours."""
    ok, n = _matches(table, fields)
    inv = inventory(table)
    return exact(
        f"Table {table}: {spec(table).title.split(' of ')[1].split(' for ')[0]} {what} ({n} rows)",
        f"{_printed_layers(table)} layers in {n} rows: {', '.join(fields)} as printed",
        f"{int(inv['layers'].sum())} layers; {', '.join(fields)} match in {ok}/{n} rows",
        holds=ok == n,
        reason="every row matches" if ok == n else "; ".join(differences(table, fields, total=False)),
        source=f"NR Table {table}",
        **meta,
    )


def _misprint_claim(table: int, fields: tuple[str, ...], what: str, meta: dict) -> Claim:
    """Paper inconsistent when the printed ``fields`` or total of ``table`` differ from the architecture (the
    reason gives the arithmetic); reproduced otherwise."""
    found = differences(table, fields)
    claim = f"Table {table}: {what}"
    arithmetic = paper_arithmetic(table)
    percents = "; ".join(f"{k} {v}" for k, v in arithmetic["percent rows reproduced"].items())
    paper = f"the printed {', '.join(fields)} and total ({_printed_total(table)})"
    ours = f"{len(found)} printed cell(s) differ from the architecture; printed percentages reproduced by: {percents}"
    if table == 9:
        skipped = model_facts(9)[0]
        ours += f"; the {len(skipped)} 1x1 shortcuts ({sum(n for *_, n in skipped):,} weights) are not listed"
    if not found:
        return exact(
            claim, paper, ours, holds=True, reason="every printed cell matches", source=f"NR Table {table}", **meta
        )
    return paper_inconsistent(claim, paper, ours, reason="; ".join(found), source=f"NR Table {table}", **meta)


def _small_share_claim(meta: dict) -> Claim:
    """Exact: the share of ResNet-34's weights in the layers with S < 128 (Section A.5's 1.4%)."""
    inv = inventory(9)
    small = int(inv.query("decomposed == 'No'")["weights"].sum())
    everything = model_facts(9)[1]
    share, listed = 100 * small / everything, 100 * small / int(inv["weights"].sum())
    return exact(
        "A.5: ResNet-34's layers with S < 128 are 1.4% of the model",
        f"'such exceptional layers consist of {PAPER_SMALL_SHARE}% of the entire model'",
        f"{small:,} of {everything:,} weights (every convolution and the FC layer) = {share:.2f}%; "
        f"{listed:.2f}% of Table 9's convolutions",
        value=share,
        expected=PAPER_SMALL_SHARE,
        tolerance=0.05,
        unit="%",
        reason="tolerance: half the printed digit",
        source="NR Section A.5, Table 9",
        **meta,
    )
