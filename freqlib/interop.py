"""Import of checkpoints saved with the authors' ``frereg`` package (0.1.0).

``frereg`` layers keep their weight *as the DCT spectrum* under ``<layer>.weight`` (same
orthonormal DCT-II on all axes, same shape as the torch layer's weight) with buffers ``ZMAT``
(zigzag ranks), ``IDROP`` (kept mask) and, for transposed convolutions, ``IMAT``. Released
checkpoints may hold every tensor as sparse COO and may have the buffers stripped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from .fr import SUPPORTED_LAYERS, fr_weights, install_spectrum, weight_shape
from .io import _owned_keys
from .zigzag import is_zigzag_prefix

FREREG_BUFFERS = ("ZMAT", "IDROP", "IMAT")


def _dense(t):
    return t.to_dense() if isinstance(t, torch.Tensor) and t.layout != torch.strided else t


def load_frereg_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    fr_layers: Iterable[str] | None = None,
) -> nn.Module:
    """Load a ``frereg`` checkpoint into a plain (or FR) ``model`` and return it.

    FR layers are ``fr_layers`` if given, else the layers with a ZMAT/IDROP/IMAT buffer in the
    checkpoint, else (buffers stripped) every Conv/ConvTranspose/Linear layer of ``model``. Each
    becomes an FR layer holding the checkpoint's spectrum; its kept set is IDROP's pattern when
    present, else the spectrum's non-zero pattern, and must be a zigzag prefix. All other tensors
    load by name; everything is checked before the model is changed.
    """
    sd = {k: _dense(v) for k, v in state_dict.items()}
    if fr_layers is None:
        fr_layers = sorted({k.rpartition(".")[0] for k in sd if k.rpartition(".")[2] in FREREG_BUFFERS})
        if not fr_layers:
            fr_layers = [n for n, m in model.named_modules() if isinstance(m, SUPPORTED_LAYERS) and f"{n}.weight" in sd]
    fr_layers = list(fr_layers)
    if not fr_layers:
        raise ValueError("load_frereg_state_dict: no frequency-regularized layer found in the checkpoint")

    staged_fr = []
    for layer in fr_layers:
        key = f"{layer}.weight"
        if key not in sd:
            raise KeyError(f"load_frereg_state_dict: checkpoint has no {key!r}")
        try:
            module = model.get_submodule(layer)
        except AttributeError:
            raise KeyError(f"load_frereg_state_dict: layer {layer!r} is not in the model") from None
        spectrum = sd[key].detach()
        if tuple(spectrum.shape) != weight_shape(module, "weight"):
            raise ValueError(
                f"{key}: checkpoint shape {tuple(spectrum.shape)} != model shape {weight_shape(module, 'weight')}"
            )
        if not torch.isfinite(spectrum).all():
            raise ValueError(f"{key}: non-finite coefficients in the checkpoint")
        idrop = sd.get(f"{layer}.IDROP")
        kept = (idrop != 0) if idrop is not None else (spectrum != 0)
        if not is_zigzag_prefix(kept):
            source = "IDROP" if idrop is not None else "non-zero pattern"
            raise ValueError(f"{key}: the {source} is not a zigzag prefix; cannot import as FR")
        if idrop is not None and bool((spectrum[~kept.bool()] != 0).any()):
            raise ValueError(f"{key}: non-zero coefficients outside the IDROP mask")
        k = int(kept.sum())
        if k == 0:
            raise ValueError(f"{key}: no kept coefficients")
        staged_fr.append((module, spectrum, k, key))

    fr_names = [f"{layer}.weight" for layer in fr_layers]
    rest = {k: v for k, v in sd.items() if k not in fr_names and k.rpartition(".")[2] not in FREREG_BUFFERS}
    state = model.state_dict()
    owned = _owned_keys(state.keys(), fr_names + [q for q, *_ in fr_weights(model)])
    expected = {k for k in state if k not in owned and isinstance(state[k], torch.Tensor)}
    unexpected, missing = sorted(set(rest) - expected), sorted(expected - set(rest))
    if unexpected or missing:
        raise KeyError(f"load_frereg_state_dict: unexpected keys {unexpected}, missing keys {missing}")
    for key, t in rest.items():
        if tuple(t.shape) != tuple(state[key].shape):
            raise ValueError(f"{key}: checkpoint shape {tuple(t.shape)} != model shape {tuple(state[key].shape)}")

    for module, spectrum, k, key in staged_fr:
        install_spectrum(module, "weight", spectrum, k, key)
    state = model.state_dict()
    with torch.no_grad():
        for key, t in rest.items():
            state[key].copy_(t)
    return model
