"""The FR architecture chapters' experiments, callable from a notebook or from the command line.

One module per family (``classify``: AlexNet, VGG, ResNet, ViT; ``segment``: UNet; ``gan``;
``vae``). Each has a ``run(**params)`` that trains the dense baseline and the FR variants and
returns a :class:`pandas.DataFrame` with :data:`RESULT_COLUMNS` (one row per trained model), so
the notebooks stay thin and ``freqlib experiment NAME`` can run the same code under ``torchrun``.
:func:`result_row` fills one row from a trained model.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from ..fr import kept_coefficients
from ..io import save_compact
from ..tables import parameter_table

#: Columns of every experiment's result table. ``kept``: numbers stored for the Conv/Linear weights
#: (FR: kept DCT coefficients plus any weight left dense; dense: all weights, the "Rem. NoP." total of
#: :func:`freqlib.parameter_table`); ``original``: the dense count of those weights;
#: ``compression``: original / kept; ``file bytes``: the compact file (float16 coefficients for FR,
#: float32 for dense); ``metric``/``value``: the quality measure ("accuracy", "Dice", ...) and its value;
#: ``higher is better``: its direction; ``train s``: wall-clock training time.
RESULT_COLUMNS = (
    "family",
    "variant",
    "data",
    "kept",
    "original",
    "compression",
    "file bytes",
    "metric",
    "value",
    "higher is better",
    "train s",
)


def compact_bytes(model: nn.Module, dtype: torch.dtype = torch.float16) -> int:
    """Size in bytes of ``model`` written by :func:`freqlib.save_compact` with coefficient ``dtype``."""
    with tempfile.TemporaryDirectory() as folder:
        return save_compact(model, Path(folder) / "model.frq", dtype=dtype)


def result_row(
    family: str,
    variant: str,
    data: str,
    model: nn.Module,
    metric: str,
    value: float,
    train_s: float,
    *,
    higher_is_better: bool = True,
) -> dict:
    """One row of :data:`RESULT_COLUMNS` for a trained ``model`` (dense or FR)."""
    table = parameter_table(model)
    original = int(table.loc["total", "Org. NoP."])
    kept = int(table.loc["total", "Rem. NoP."])
    fr = kept_coefficients(model) > 0
    return {
        "family": family,
        "variant": variant,
        "data": data,
        "kept": int(kept),
        "original": original,
        "compression": original / kept,
        "file bytes": compact_bytes(model, torch.float16 if fr else torch.float32),
        "metric": metric,
        "value": float(value),
        "higher is better": higher_is_better,
        "train s": float(train_s),
    }
