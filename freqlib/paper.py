"""The FR paper's appendix models (Tables 1-14) and their parameter tables, ours beside the paper's.

:func:`build` returns a freshly initialized model converted to FR as the paper configured it;
:func:`paper_table` reads the printed table from the transcription
``data/paper/fr_appendix_tables.csv``; :func:`compare` aligns the two row by row.

Variants (the keep rule is :func:`freqlib.zigzag.keep_count`; floors 128 per conv, 256 per linear,
32 per transposed conv):

- ``v1``: rate 1%; ``v2``: rate 0.1%; ``v3``: the floors only; ``alexnet-v4``: v3 with the kept
  coefficients stored as float16 (Table 4 halves the total).
- ``vit-v1`` / ``vit-v2``: rate 10% / 1% on the transformer blocks' linears; the position and
  patch embeddings, the head's LayerNorm and the head stay dense.
- ``gan-v1-*``: rate 1%.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
from torch import nn

from . import models
from .claims import Claim, exact, paper_inconsistent
from .fr import frequency_regularize
from .tables import COLUMNS, compress_rate, parameter_table

#: The transcription of the appendix tables (one header comment line names the source).
DATA = Path(__file__).resolve().parent.parent / "data" / "paper" / "fr_appendix_tables.csv"

_VIT_LAST_BLOCK = tuple(f"blocks.5.{w}.weight" for w in ("attn.qkv", "attn.proj", "mlp.0", "mlp.3"))


@dataclass(frozen=True)
class Variant:
    """One appendix table: how the model is built and how its printed table lines up with ours.

    ``keep``: rate, or the int 1 for "floors only" (one coefficient raised to the per-kind floor).
    ``dense_rows``: non-Conv/Linear parameters the table counts (kept dense). ``not_in_paper``: our
    rows the printed table lacks. ``total_excludes``: our rows the printed total leaves out.
    """

    name: str
    table: int
    family: str
    keep: float | int
    coef_dtype: str = "float32"
    fr_exclude: tuple[str, ...] = ()
    dense_rows: tuple[str, ...] = ()
    not_in_paper: tuple[str, ...] = ()
    total_excludes: tuple[str, ...] = ()


_FACTORIES: dict[str, Callable[[], nn.Module]] = {
    "alexnet": models.alexnet_cifar,
    "vgg16": lambda: models.vgg_cifar("vgg19"),
    "resnet": models.resnet18_cifar,
    "vit": models.vit_cifar,
    "gan-generator": models.dcgan_generator,
    "gan-discriminator": models.dcgan_discriminator,
}

_VIT = {"fr_exclude": ("patch_embedding.weight", "head.weight"), "dense_rows": ("pos_embedding", "norm.weight")}
_RESNET = {"not_in_paper": ("conv1.weight",), "total_excludes": ("conv1.weight",)}

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("alexnet-v1", 1, "alexnet", 0.01),
        Variant("alexnet-v2", 2, "alexnet", 0.001),
        Variant("alexnet-v3", 3, "alexnet", 1),
        Variant("alexnet-v4", 4, "alexnet", 1, coef_dtype="float16"),
        Variant("vgg16-v1", 5, "vgg16", 0.01),
        Variant(
            "vgg16-v2",
            6,
            "vgg16",
            0.001,
            not_in_paper=("features.49.weight", "classifier.weight"),
            total_excludes=("classifier.weight",),
        ),
        Variant("vgg16-v3", 7, "vgg16", 1, not_in_paper=("classifier.weight",), total_excludes=("classifier.weight",)),
        Variant("resnet-v1", 8, "resnet", 0.01, **_RESNET),
        Variant("resnet-v2", 9, "resnet", 0.001, **_RESNET),
        Variant("resnet-v3", 10, "resnet", 1, **_RESNET),
        Variant("vit-v1", 11, "vit", 0.1, not_in_paper=_VIT_LAST_BLOCK, **_VIT),
        Variant("vit-v2", 12, "vit", 0.01, **_VIT),
        Variant("gan-v1-discriminator", 13, "gan-discriminator", 0.01),
        Variant("gan-v1-generator", 14, "gan-generator", 0.01),
    )
}

#: The appendix tables' model names, in table order.
NAMES: tuple[str, ...] = tuple(VARIANTS)

#: Coefficients per tensor in the authors' released UNet-FR checkpoint (23 tensors, 759 in all).
UNET_FREREG_KEEP = 33

#: Models :func:`build` accepts beyond the appendix tables (no printed table of their own).
EXTRA_MODELS: tuple[str, ...] = ("unet-frereg",)


def _unet_frereg() -> nn.Module:
    """The UNet of the authors' released UNet-FR checkpoint: 3 input channels, 2 classes, no conv
    bias, BatchNorm without affine parameters or running statistics, 33 kept coefficients per weight."""
    model = models.UNet(3, 2, bias=False, norm_affine=False, track_running_stats=False)
    return frequency_regularize(model, UNET_FREREG_KEEP, min_keep=0)


def variant(name: str) -> Variant:
    """The :class:`Variant` of ``name``; ValueError listing the valid names otherwise."""
    try:
        return VARIANTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown FR appendix model {name!r}; valid names: {', '.join(NAMES)}") from None


# --- building -----------------------------------------------------------------------------------


def build(name: str) -> nn.Module:
    """A freshly initialized model of ``name`` (one of :data:`NAMES` or :data:`EXTRA_MODELS`),
    converted to FR as in the paper.

    Input/output shapes: AlexNet (N, 3, H, W) -> (N, 10) (resized to 224 inside); VGG, ResNet, ViT
    (N, 3, 32, 32) -> (N, 10); GAN generator (N, 100) -> (N, 1, 64, 64); discriminator
    (N, 1, 64, 64) -> (N,); ``"unet-frereg"`` (N, 3, H, W) -> (N, 2, H, W) logits, the layout the
    authors' released UNet-FR checkpoint expects, ready for
    :func:`freqlib.load_frereg_state_dict` (759 kept coefficients, 33 in each of 23 weights).

    Each spectrum is the DCT of PyTorch's default initial weight, so at keep 1.0 the model
    computes the dense model's function (large weights are converted with an FFT DCT: seconds for
    AlexNet's 4096x9216 layer).
    """
    if name == "unet-frereg":
        return _unet_frereg()
    if name not in VARIANTS:
        raise ValueError(f"unknown FR paper model {name!r}; valid names: {', '.join(NAMES + EXTRA_MODELS)}")
    spec = variant(name)
    model = _FACTORIES[spec.family]()
    frequency_regularize(model, spec.keep, exclude=list(spec.fr_exclude) or None)
    return model


# --- tables -------------------------------------------------------------------------------------


def _owner_type(model: nn.Module, qual: str) -> str:
    mod_name, _, _ = qual.rpartition(".")
    return type(model.get_submodule(mod_name)).__name__ if mod_name else "Parameter"


def _param_order(model: nn.Module) -> dict[str, int]:
    """Position of every parameter in ``named_parameters`` order, FR spectra under their weight's name."""
    order = {}
    for i, (qual, _) in enumerate(model.named_parameters()):
        qual = qual.replace(".parametrizations.", ".").removesuffix(".original")
        order.setdefault(qual, i)
    return order


def table(name: str, model: nn.Module | None = None) -> pd.DataFrame:
    """Our table of ``name`` in the paper's accounting: :func:`freqlib.parameter_table` rows plus the
    dense parameters the paper counts (ViT: position embedding, head LayerNorm), and a "total" row.

    Columns: "Layer Type", "Org. NoP.", "Rem. NoP.", "Compress Rate", "Note"; index: weight names.
    ``model`` defaults to ``build(name)``. For a float16 variant the total's rate counts bytes.
    """
    spec = variant(name)
    model = build(name) if model is None else model
    base = parameter_table(model).drop(index="total")
    rows = {qual: (r["Layer Type"], int(r["Org. NoP."]), int(r["Rem. NoP."])) for qual, r in base.iterrows()}
    for qual in spec.dense_rows:
        n = model.get_parameter(qual).numel()
        rows[qual] = (_owner_type(model, qual), n, n)
    order = _param_order(model)
    names = sorted(rows, key=lambda q: order[q])
    org = sum(rows[q][1] for q in names)
    rem = sum(rows[q][2] for q in names)
    data = [(*rows[q], compress_rate(rows[q][1], rows[q][2]), "") for q in names]
    if spec.coef_dtype == "float16":
        data.append(("total", org, rem, compress_rate(32 * org, 16 * rem), "float16"))
    else:
        data.append(("total", org, rem, compress_rate(org, rem), ""))
    return pd.DataFrame(data, columns=[*COLUMNS, "Note"], index=pd.Index([*names, "total"], name="Layer"))


@lru_cache(maxsize=4)
def _transcription(path: str) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype=str, keep_default_na=False, encoding="utf-8")


def _count(cell: str) -> tuple[int, str]:
    """'1,408(float16)' -> (1408, 'float16'); '23,232' -> (23232, '')."""
    number, _, note = cell.partition("(")
    return int(number.replace(",", "")), note.rstrip(")")


def paper_table(name: str, path: str | Path | None = None) -> pd.DataFrame:
    """The printed table of ``name`` as a DataFrame, misprints included.

    Index: printed row number (1, 2, ...) and "total"; columns "Layer Type", "Org. NoP.",
    "Rem. NoP." (ints), "Compress Rate" (as printed), "Note" (the "(float16)" annotation of Table 4).
    """
    spec = variant(name)
    raw = _transcription(str(path or DATA))
    raw = raw[raw["table"] == str(spec.table)]
    data, index = [], []
    title = raw["variant"].iloc[0]
    for _, r in raw.iterrows():
        org, org_note = _count(r["org_nop"])
        rem, rem_note = _count(r["rem_nop"])
        data.append((r["layer_type"], org, rem, r["compress_rate"], org_note or rem_note))
        index.append(r["row"] if r["row"] == "total" else int(r["row"]))
    frame = pd.DataFrame(data, columns=[*COLUMNS, "Note"], index=pd.Index(index, dtype=object, name="Row"))
    frame.attrs["variant"] = title
    return frame


def parse_rate(cell: str) -> tuple[float, int]:
    """A printed rate cell as (percent, factor): '1.0029%(100×)' -> (1.0029, 100)."""
    m = re.fullmatch(r"\s*([0-9.]+)%\((\d+)×\)\s*", cell)
    if m is None:
        raise ValueError(f"not a compress-rate cell: {cell!r}")
    return float(m.group(1)), int(m.group(2))


def compare(name: str, model: nn.Module | None = None, path: str | Path | None = None) -> pd.DataFrame:
    """Ours beside the paper's, row by row (index: our weight names, then "total").

    Our rows the printed table lacks (:attr:`Variant.not_in_paper`) get no paper columns; the
    others pair up with the printed rows in order. Where the printed total leaves some of our rows
    out, a row "total (paper's scope)" repeats our total without them. Columns: "paper row",
    "Layer Type", "Org. NoP.", "Rem. NoP.", "Compress Rate", "paper Layer Type", "paper Org. NoP.",
    "paper Rem. NoP.", "paper Compress Rate", "Δ Org." and "Δ Rem." (ours minus paper), "status"
    ("match", "not in paper", "Org. differs", "Rem. differs", "Org. and Rem. differ", "rate cell differs").
    """
    spec = variant(name)
    ours = table(name, model)
    paper = paper_table(name, path)
    missing = [q for q in spec.not_in_paper if q not in ours.index]
    if missing:
        raise ValueError(f"{name}: rows {missing} listed as not in the paper are not in our table")
    listed = [q for q in ours.index if q != "total" and q not in spec.not_in_paper]
    printed = [i for i in paper.index if i != "total"]
    if len(listed) != len(printed):
        raise ValueError(f"{name}: {len(listed)} of our rows to align with {len(printed)} printed rows")
    pairs = dict(zip(listed, printed))
    pairs["total"] = "total"
    rows = []
    for qual, r in ours.iterrows():
        rows.append((qual, r, pairs.get(qual)))
    if spec.total_excludes:
        scope = ours.drop(index=["total", *spec.total_excludes])
        org, rem = int(scope["Org. NoP."].sum()), int(scope["Rem. NoP."].sum())
        rate = compress_rate(org, rem)
        rows.append(
            (
                "total (paper's scope)",
                pd.Series({"Layer Type": "total", "Org. NoP.": org, "Rem. NoP.": rem, "Compress Rate": rate}),
                "total",
            )
        )
    out = []
    for qual, r, p in rows:
        rec = {"Layer": qual, "paper row": p if p is not None else ""}
        rec.update({c: r[c] for c in COLUMNS})
        if p is None:
            rec.update(
                {
                    "paper Layer Type": "",
                    "paper Org. NoP.": pd.NA,
                    "paper Rem. NoP.": pd.NA,
                    "paper Compress Rate": "",
                    "Δ Org.": pd.NA,
                    "Δ Rem.": pd.NA,
                    "status": "not in paper",
                }
            )
        else:
            pr = paper.loc[p]
            d_org, d_rem = int(r["Org. NoP."]) - int(pr["Org. NoP."]), int(r["Rem. NoP."]) - int(pr["Rem. NoP."])
            status = {
                (False, False): "match",
                (True, False): "Org. differs",
                (False, True): "Rem. differs",
                (True, True): "Org. and Rem. differ",
            }[(d_org != 0, d_rem != 0)]
            if status == "match" and r["Compress Rate"] != pr["Compress Rate"]:
                status = "rate cell differs"
            rec.update(
                {
                    "paper Layer Type": pr["Layer Type"],
                    "paper Org. NoP.": int(pr["Org. NoP."]),
                    "paper Rem. NoP.": int(pr["Rem. NoP."]),
                    "paper Compress Rate": pr["Compress Rate"],
                    "Δ Org.": d_org,
                    "Δ Rem.": d_rem,
                    "status": status,
                }
            )
        out.append(rec)
    frame = pd.DataFrame(out).set_index("Layer")
    for c in ("Org. NoP.", "Rem. NoP.", "paper Org. NoP.", "paper Rem. NoP.", "Δ Org.", "Δ Rem."):
        frame[c] = frame[c].astype("Int64")
    return frame


def paper_consistency(name: str, path: str | Path | None = None) -> pd.DataFrame:
    """Where the printed table contradicts itself: one row per check that fails.

    Checks: the printed rows add up to the printed totals (Org. and Rem.), and each printed rate
    cell equals :func:`freqlib.tables.compress_rate` of its own printed counts (a float16 total is
    checked as half the bytes). Columns: "row", "check", "printed", "recomputed".
    """
    paper = paper_table(name, path)
    body, total = paper.drop(index="total"), paper.loc["total"]
    found = []
    for col in ("Org. NoP.", "Rem. NoP."):
        s = int(body[col].sum())
        if s != int(total[col]):
            found.append(("total", f"sum of printed {col}", int(total[col]), s))
    for row, r in paper.iterrows():
        org, rem = int(r["Org. NoP."]), int(r["Rem. NoP."])
        rate = compress_rate(32 * org, 16 * rem) if r["Note"] == "float16" else compress_rate(org, rem)
        if rate != r["Compress Rate"]:
            found.append((row, "Compress Rate of its counts", r["Compress Rate"], rate))
    return pd.DataFrame(found, columns=["row", "check", "printed", "recomputed"])


def _totals(spec: Variant, cmp: pd.DataFrame, paper: pd.DataFrame) -> tuple[str, str]:
    """(printed totals, our totals) as "Org ... / Rem ..." strings; ours with the paper's scope where the
    printed total leaves rows out."""
    total = paper.loc["total"]
    note = f" ({total['Note']})" if total["Note"] else ""
    paper_s = f"Org {int(total['Org. NoP.']):,} / Rem {int(total['Rem. NoP.']):,}{note}"
    t = cmp.loc["total"]
    half = " (float16)" if spec.coef_dtype == "float16" else ""
    ours_s = f"Org {int(t['Org. NoP.']):,} / Rem {int(t['Rem. NoP.']):,}{half}"
    if "total (paper's scope)" in cmp.index:
        s = cmp.loc["total (paper's scope)"]
        ours_s += (
            f"; without {', '.join(spec.total_excludes)}: Org {int(s['Org. NoP.']):,} / Rem {int(s['Rem. NoP.']):,}"
        )
    return paper_s, ours_s


def _layers(cmp: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(printed layer rows, those of them that differ from ours, our rows the table does not print)."""
    layers = cmp.drop(index=[i for i in cmp.index if str(i).startswith("total")])
    listed = layers[layers["status"] != "not in paper"]
    differ = listed[listed["Δ Org."].ne(0) | listed["Δ Rem."].ne(0)]
    return listed, differ, layers[layers["status"] == "not in paper"].index.tolist()


def summary(name: str, model: nn.Module | None = None, path: str | Path | None = None) -> dict:
    """Totals and a verdict for ``name``'s table.

    Keys: "table", "paper" (printed totals), "ours" (our totals; with the paper's scope where it
    leaves rows out), "verdict" and "reason". Verdict: "paper inconsistent" if the printed rows do
    not add up to the printed totals; otherwise "reproduced" if every printed row matches ours,
    "close" if the only differences are remaining counts off by one, else "not reproduced".
    """
    spec = variant(name)
    cmp = compare(name, model, path)
    consistency = paper_consistency(name, path)
    listed, differ, omitted = _layers(cmp)
    paper_s, ours_s = _totals(spec, cmp, paper_table(name, path))
    sums = consistency[consistency["check"].str.startswith("sum")]
    parts = []
    if omitted:
        parts.append(f"{len(omitted)} of our rows not printed")
    if not sums.empty:
        verdict = "paper inconsistent"
        parts.append("printed rows do not add up to the printed total")
    elif differ.empty:
        verdict = "reproduced"
    elif (differ["Δ Org."] == 0).all() and (differ["Δ Rem."].abs() <= 1).all():
        verdict = "close"
    else:
        verdict = "not reproduced"
    if not differ.empty:
        parts.append(f"{len(differ)} of {len(listed)} printed rows differ")
    return {"table": spec.table, "paper": paper_s, "ours": ours_s, "verdict": verdict, "reason": "; ".join(parts)}


# --- claims ---------------------------------------------------------------------------------------

#: The columns of :func:`compare` that :func:`show` displays.
SHOWN_COLUMNS = [
    "paper row",
    "Layer Type",
    "Org. NoP.",
    "paper Org. NoP.",
    "Δ Org.",
    "Rem. NoP.",
    "paper Rem. NoP.",
    "Δ Rem.",
    "Compress Rate",
    "paper Compress Rate",
    "status",
]


def table_claim(name: str, comparison: pd.DataFrame, *, profile: str, path: str | Path | None = None) -> Claim:
    """The exact claim "Table N per-layer counts" of ``name`` from its :func:`compare` frame ``comparison``.

    Verdicts, as :func:`summary`'s: ``paper inconsistent`` when the printed rows do not add up to the
    printed total (the sums in the reason); ``reproduced`` when every printed row equals ours;
    ``not reproduced`` when a printed original count differs; otherwise the largest remaining-count
    difference decides (counts are integers, so tolerance 0.5: one off is ``close``, more is not
    reproduced). Rows the table does not print, and leaves out of its total, are set aside.
    """
    spec = variant(name)
    paper = paper_table(name, path)
    listed, differ, omitted = _layers(comparison)
    paper_s, ours_s = _totals(spec, comparison, paper)
    claim = f"Table {spec.table} per-layer counts ({paper.attrs['variant']})"
    meta = {"profile": profile, "data": "none (architecture only)", "source": f"FR Table {spec.table}"}
    aside = f"; {len(omitted)} of our rows not printed ({', '.join(omitted)})" if omitted else ""
    ours = ours_s + (f" [{len(differ)} of {len(listed)} printed rows differ]" if len(differ) else "")
    consistency = paper_consistency(name, path)
    sums = consistency[consistency["check"].str.startswith("sum")]
    if not sums.empty:
        found = "; ".join(
            f"{r.check} {r.recomputed:,} against the printed total {r.printed:,}" for r in sums.itertuples()
        )
        return paper_inconsistent(claim, paper_s, ours, reason=f"printed rows do not add up: {found}{aside}", **meta)
    if differ.empty:
        return exact(
            claim, paper_s, ours, holds=True, reason=f"all {len(listed)} printed rows equal ours{aside}", **meta
        )
    if differ["Δ Org."].ne(0).any():
        rows = ", ".join(f"{q} ({int(r['Δ Org.']):+,})" for q, r in differ[differ["Δ Org."].ne(0)].iterrows())
        return exact(claim, paper_s, ours, holds=False, reason=f"printed original counts differ: {rows}{aside}", **meta)
    worst = differ["Δ Rem."].abs().idxmax()
    r = differ.loc[worst]
    return exact(
        claim,
        paper_s,
        ours,
        value=int(r["Δ Rem."]),
        expected=0,
        tolerance=0.5,
        reason=f"ours minus printed remaining count, largest at {worst} (printed row {r['paper row']}: ours "
        f"{int(r['Rem. NoP.']):,}, printed {int(r['paper Rem. NoP.']):,}); {len(differ)} of {len(listed)} printed "
        f"rows differ; counts are integers, so one off is close{aside}",
        **meta,
    )


def claims(comparisons: Mapping[str, pd.DataFrame], *, profile: str, path: str | Path | None = None) -> list[Claim]:
    """One :func:`table_claim` per appendix table: ``comparisons`` maps names of :data:`NAMES` to their
    :func:`compare` frames (``{name: compare(name, build(name))}``), in the order given."""
    return [table_claim(name, cmp, profile=profile, path=path) for name, cmp in comparisons.items()]


def show(name: str, comparison: pd.DataFrame, path: str | Path | None = None) -> None:
    """Print the verdict of ``name``'s table and display ``comparison`` (:data:`SHOWN_COLUMNS`), then where
    the printed table contradicts itself (:func:`paper_consistency`), if anywhere."""
    try:
        from IPython.display import display
    except ImportError:  # plain Python
        display = print
    c = table_claim(name, comparison, profile="", path=path)
    print(f"Table {variant(name).table} ({paper_table(name, path).attrs['variant']}): {c.verdict} ({c.reason})")
    display(comparison[SHOWN_COLUMNS])
    issues = paper_consistency(name, path)
    if len(issues):
        print("where the printed table contradicts itself:")
        display(issues)
