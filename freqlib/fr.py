"""Frequency Regularization (FR) as a weight parametrization.

A converted weight is stored as its N-d DCT spectrum (all axes, orthonormal); the layer uses
``idctn(mask * spectrum)`` where ``mask`` keeps the first ``k`` coefficients in zigzag order.
Built on :mod:`torch.nn.utils.parametrize`: after conversion ``layer.weight`` still evaluates to
the spatial weight, the spectrum lives at ``layer.parametrizations.weight.original``, and
``parametrize.cached()`` serves inference. As with :mod:`torch.nn.utils.prune`, coefficients
outside the kept set stay in the tensor but never reach the output or receive gradient, so a
progressive schedule can lower ``k`` without losing a converted pretrained model's information.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

from .dct import dctn, dctn_fft, idctn_box
from .layers import LayerFilter, check_filter, chosen
from .zigzag import keep_count, zigzag_box, zigzag_mask

Keep = float | int

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
#: Weights with at least this many elements are converted with the FFT form of the DCT.
FFT_CONVERSION_MIN = 1 << 16
#: Module types whose ``weight`` FR converts by default.
SUPPORTED_LAYERS = (*_CONV, *_CONV_T, nn.Linear)


def layer_kind(module: nn.Module) -> str:
    """'conv', 'conv_transpose', 'linear' or 'other': selects the paper's keep rule and floor."""
    if isinstance(module, _CONV_T):
        return "conv_transpose"
    if isinstance(module, _CONV):
        return "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    return "other"


class FrequencyRegularization(nn.Module):
    """Parametrization ``spectrum -> idctn(zigzag_mask(k) * spectrum)`` for one weight.

    ``shape`` is the weight's shape; ``k`` the number of kept coefficients (settable). The keep
    count travels in ``state_dict`` as extra state, so saving and loading keeps it.
    """

    def __init__(self, shape: Sequence[int], k: int, name: str = "weight"):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.numel = math.prod(self.shape)
        self.name = name
        self._masks: dict = {}
        self.k = k

    @property
    def k(self) -> int:
        return self._k

    @k.setter
    def k(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= self.numel:
            raise ValueError(f"{self.name}: keep count must be an int in [1, {self.numel}], got {value!r}")
        self._k = value
        self.box = zigzag_box(self.shape, value)

    def kept_mask(self, device=None, dtype=torch.float32) -> torch.Tensor:
        """Mask of the kept coefficients inside the low-frequency box ``self.box``."""
        key = (self._k, torch.device(device or "cpu"), dtype)
        mask = self._masks.get(key)
        if mask is None:
            if len(self._masks) > 8:
                self._masks.clear()
            mask = zigzag_mask(self.shape, self._k).to(device=key[1], dtype=dtype)
            self._masks[key] = mask
        return mask

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        box = spectrum[tuple(slice(0, b) for b in self.box)]
        return idctn_box(box * self.kept_mask(spectrum.device, spectrum.dtype), self.shape)

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        if not torch.isfinite(weight).all():
            raise ValueError(f"{self.name}: weight has non-finite values; cannot convert to FR")
        # a one-time full transform: the FFT form is far cheaper than matrices for large weights
        return dctn_fft(weight) if weight.numel() >= FFT_CONVERSION_MIN else dctn(weight)

    def get_extra_state(self) -> dict:
        return {"k": self._k, "shape": self.shape}

    def set_extra_state(self, state: dict) -> None:
        if tuple(state["shape"]) != self.shape:
            raise ValueError(f"{self.name}: state is for shape {tuple(state['shape'])}, layer has {self.shape}")
        self.k = int(state["k"])

    def extra_repr(self) -> str:
        return f"shape={self.shape}, k={self._k} ({100.0 * self._k / self.numel:.4g}%)"


def fr_parametrization(module: nn.Module, param: str = "weight") -> FrequencyRegularization | None:
    """The FR parametrization of ``module.<param>``, or None."""
    if not parametrize.is_parametrized(module, param):
        return None
    for p in module.parametrizations[param]:
        if isinstance(p, FrequencyRegularization):
            return p
    return None


def fr_weights(model: nn.Module) -> Iterator[tuple[str, nn.Module, str, FrequencyRegularization]]:
    """Yield (qualified weight name, module, parameter name, parametrization) in module order."""
    for mod_name, module in model.named_modules():
        if not parametrize.is_parametrized(module):
            continue
        for param in module.parametrizations.keys():
            fr = fr_parametrization(module, param)
            if fr is not None:
                yield (f"{mod_name}.{param}" if mod_name else param), module, param, fr


def _select(model: nn.Module, include, exclude, filter_fn=None) -> list[tuple[str, nn.Module, str]]:
    filter_fn = check_filter(filter_fn)
    include = [include] if isinstance(include, str) else list(include or [])
    exclude = [exclude] if isinstance(exclude, str) else list(exclude or [])
    picked, matched = [], set()
    for mod_name, module in model.named_modules():
        candidates = []
        if isinstance(module, SUPPORTED_LAYERS) and chosen(filter_fn, module, mod_name):
            candidates.append("weight")
        for pname, _ in module.named_parameters(recurse=False):
            qual = f"{mod_name}.{pname}" if mod_name else pname
            hits = [pat for pat in include if fnmatch.fnmatchcase(qual, pat)]
            matched.update(hits)
            if hits and pname not in candidates:
                candidates.append(pname)
        for pname in candidates:
            qual = f"{mod_name}.{pname}" if mod_name else pname
            if any(fnmatch.fnmatchcase(qual, pat) for pat in exclude):
                continue
            picked.append((qual, module, pname))
    unmatched = [pat for pat in include if pat not in matched]
    if unmatched:
        raise ValueError(f"frequency_regularize: include patterns {unmatched} match no parameter")
    if not picked:
        raise TypeError(
            f"frequency_regularize: {type(model).__name__} has no weight FR converts by default "
            "(Conv1d/2d/3d, ConvTranspose1d/2d/3d, Linear)"
            + (" that filter_fn picks" if filter_fn is not None else "")
            + "; name other weights with include="
        )
    return picked


def _keep_for(keep, qual: str):
    if isinstance(keep, Mapping):
        hits = [v for pat, v in keep.items() if fnmatch.fnmatchcase(qual, pat)]
        if not hits:
            raise ValueError(f"{qual}: no entry of the keep mapping matches this weight")
        return hits[0]
    return keep


def frequency_regularize(
    model: nn.Module,
    keep: Keep | Mapping[str, Keep],
    *,
    min_keep: int | None = None,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    filter_fn: LayerFilter | None = None,
) -> nn.Module:
    """Convert ``model`` (a whole model or one layer) to FR in place and return it.

    Converts the weight of every Conv1d/2d/3d, ConvTranspose1d/2d/3d and Linear that
    ``filter_fn(module, fqn)`` picks (:mod:`freqlib.layers`; all when None), plus any parameter
    whose qualified name matches an ``include`` glob (e.g. ``"lstm.weight_ih_l0"``), minus the
    parameters whose qualified names match ``exclude``. ``keep`` is a rate in (0, 1], an int count, or a mapping of
    name globs to either; counts follow :func:`freqlib.zigzag.keep_count` (``min_keep`` overrides
    the per-kind floor). The spectrum starts as the DCT of the current weight, so at keep=1.0 the
    model computes the same function.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"frequency_regularize: expected an nn.Module, got {type(model).__name__}")
    plan = []
    for qual, module, pname in _select(model, include, exclude, filter_fn):
        if fr_parametrization(module, pname) is not None:
            raise ValueError(f"{qual}: already frequency-regularized (use freqlib.set_keep to change k)")
        weight = getattr(module, pname)
        if not isinstance(weight, torch.Tensor) or not weight.is_floating_point() or weight.dim() < 1:
            raise TypeError(f"{qual}: FR needs a floating-point tensor with at least one dim")
        k = keep_count(weight.numel(), _keep_for(keep, qual), min_keep=min_keep, kind=layer_kind(module), name=qual)
        if not torch.isfinite(weight).all():
            raise ValueError(f"{qual}: weight has non-finite values; cannot convert to FR")
        plan.append((qual, module, pname, weight.shape, k))
    for qual, module, pname, shape, k in plan:  # validated first: nothing is half-converted
        parametrize.register_parametrization(module, pname, FrequencyRegularization(shape, k, qual), unsafe=True)
    return model


def set_keep(model: nn.Module, keep: Keep | Mapping[str, Keep], *, min_keep: int | None = None) -> None:
    """Change the kept count of every FR weight of ``model`` (same rules as conversion)."""
    for qual, module, _, fr in fr_weights(model):
        fr.k = keep_count(fr.numel, _keep_for(keep, qual), min_keep=min_keep, kind=layer_kind(module), name=qual)


def materialize(model: nn.Module) -> nn.Module:
    """Turn every FR weight back into a plain parameter holding its current spatial weight.

    Safe on a ``copy.deepcopy`` of an FR model: the copies share torch's generated
    ``Parametrized*`` class, so each module first gets its own copy of that class and removing
    the parametrization from one model leaves the other intact.
    """
    for _, module, pname, _ in list(fr_weights(model)):
        _own_parametrized_class(module)
        parametrize.remove_parametrizations(module, pname, leave_parametrized=True)
    return model


def _own_parametrized_class(module: nn.Module) -> None:
    """Give ``module`` a private copy of its generated ``Parametrized*`` class (same bases)."""
    cls = type(module)
    module.__class__ = type(cls.__name__, cls.__bases__, dict(cls.__dict__))


def kept_coefficients(model: nn.Module) -> int:
    """Total number of kept coefficients over all FR weights."""
    return sum(fr.k for *_, fr in fr_weights(model))


def install_spectrum(module: nn.Module, pname: str, spectrum: torch.Tensor, k: int, name: str) -> None:
    """Make ``module.<pname>`` an FR weight holding ``spectrum`` with ``k`` kept coefficients.

    Converts a plain weight first; ``spectrum`` must already be validated (shape, finiteness).
    """
    fr = fr_parametrization(module, pname)
    if fr is None:
        fr = FrequencyRegularization(spectrum.shape, k, name)
        parametrize.register_parametrization(module, pname, fr, unsafe=True)
    fr.k = k
    original = module.parametrizations[pname].original
    with torch.no_grad():
        original.copy_(spectrum.to(dtype=original.dtype, device=original.device))


def weight_shape(module: nn.Module, pname: str) -> tuple[int, ...]:
    """Shape of ``module.<pname>`` without evaluating an FR parametrization."""
    fr = fr_parametrization(module, pname)
    return fr.shape if fr is not None else tuple(getattr(module, pname).shape)
