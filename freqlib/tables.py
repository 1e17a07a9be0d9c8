"""Per-weight parameter tables in the format of the FR paper's appendix (Tables 1-14)."""

from __future__ import annotations

import pandas as pd
from torch import nn
from torch.nn.utils import parametrize

from .fr import SUPPORTED_LAYERS, fr_parametrization

COLUMNS = ["Layer Type", "Org. NoP.", "Rem. NoP.", "Compress Rate"]


def compress_rate(original: int, remaining: int) -> str:
    """The paper's cell, e.g. ``1.0029%(100×)``: the kept percentage with four decimals, and the
    factor printed as ``int(original / remaining) + 1`` (this reproduces every printed factor,
    e.g. 40,960 / 256 = 160 is printed as 161×)."""
    if remaining <= 0:
        return "0.0000%(inf×)"
    return f"{100.0 * remaining / original:.4f}%({int(original / remaining) + 1}×)"


def layer_type(module: nn.Module) -> str:
    """Class name of ``module``, seen through parametrize's dynamic ``Parametrized*`` subclass."""
    cls = type(module)
    return cls.__mro__[1].__name__ if parametrize.is_parametrized(module) else cls.__name__


def parameter_table(model: nn.Module) -> pd.DataFrame:
    """One row per weight in module order, with the paper's columns, and a last row "total".

    Rows: the weight of every Conv/ConvTranspose/Linear layer (dense ones keep all their
    parameters) and every other FR-converted weight. Biases and normalization layers are left out,
    as in the paper. The index holds the qualified weight names.
    """
    rows, names = [], []
    for mod_name, module in model.named_modules():
        params = []
        if isinstance(module, SUPPORTED_LAYERS):
            params.append("weight")
        if parametrize.is_parametrized(module):
            params += [p for p in module.parametrizations.keys() if p not in params and fr_parametrization(module, p)]
        for pname in params:
            fr = fr_parametrization(module, pname)
            if fr is not None:
                org, rem = fr.numel, fr.k
            else:
                org = rem = getattr(module, pname).numel()
            names.append(f"{mod_name}.{pname}" if mod_name else pname)
            rows.append((layer_type(module), org, rem))
    org_total = sum(r[1] for r in rows)
    rem_total = sum(r[2] for r in rows)
    data = [(t, o, r, compress_rate(o, r)) for t, o, r in rows]
    data.append(("total", org_total, rem_total, compress_rate(org_total, rem_total)))
    table = pd.DataFrame(data, columns=COLUMNS, index=pd.Index([*names, "total"], name="Layer"))
    return table
