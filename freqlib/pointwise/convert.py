"""Replace the pointwise convolutions of a model by :class:`FrequencyBandPointwise` layers."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from ..layers import LayerFilter, all_of, by_name, chosen
from .layer import FrequencyBandPointwise


def is_pointwise(module: nn.Module) -> bool:
    """True for an nn.Conv2d with 1x1 kernel, stride 1, groups 1 and no padding."""
    return (
        isinstance(module, nn.Conv2d)
        and tuple(module.kernel_size) == (1, 1)
        and tuple(module.stride) == (1, 1)
        and module.groups == 1
        and (module.padding in ("valid", "same") or tuple(module.padding) == (0, 0))
    )


def convert(
    model: nn.Module,
    block: int,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    min_channels: int = 0,
    *,
    filter_fn: LayerFilter | None = None,
) -> nn.Module:
    """Wrap every pointwise Conv2d of ``model`` that ``filter_fn(module, fqn)`` picks in place
    (:mod:`freqlib.layers`; all when None); returns ``model``.

    ``include`` / ``exclude``: sugar for :func:`freqlib.layers.by_name`, fnmatch patterns on qualified
    module names (e.g. ``"layers.*.conv1"``); with ``include`` only matching convs are converted,
    ``exclude`` wins over ``include``; both combine with ``filter_fn``.
    ``min_channels``: skip convs with fewer input channels (the transform overhead ratio of
    section 3.1 is (c_in + c_out) k^2 / (c_in c_out)). Weights and biases are shared, so outputs
    are unchanged until masks are set.
    """
    pick = all_of(by_name(include, exclude), filter_fn)
    targets = [
        name
        for name, module in model.named_modules()
        if is_pointwise(module) and module.in_channels >= min_channels and chosen(pick, module, name)
    ]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, FrequencyBandPointwise.from_conv(getattr(parent, child), block))
    return model


def compile_dense(model: nn.Module) -> nn.Module:
    """Replace every FrequencyBandPointwise of ``model`` in place by its dense inference form; returns ``model``."""
    targets = [n for n, m in model.named_modules() if isinstance(m, FrequencyBandPointwise)]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, getattr(parent, child).compile_dense())
    return model


def pointwise_layers(model: nn.Module) -> dict[str, FrequencyBandPointwise]:
    """{qualified name: layer} of the FrequencyBandPointwise layers of ``model``, in module order."""
    return {n: m for n, m in model.named_modules() if isinstance(m, FrequencyBandPointwise)}
