"""Replace the pointwise convolutions of a model by :class:`FrequencyBandPointwise` layers."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from torch import nn

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


def _matches(name: str, patterns: Iterable[str] | None) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns or ())


def convert(
    model: nn.Module,
    block: int,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    min_channels: int = 0,
) -> nn.Module:
    """Wrap every pointwise Conv2d of ``model`` in place; returns ``model``.

    ``include`` / ``exclude``: fnmatch patterns on qualified module names (e.g. ``"layers.*.conv1"``);
    with ``include`` only matching convs are converted, ``exclude`` wins over ``include``.
    ``min_channels``: skip convs with fewer input channels (the transform overhead ratio of
    section 3.1 is (c_in + c_out) k^2 / (c_in c_out)). Weights and biases are shared, so outputs
    are unchanged until masks are set.
    """
    include, exclude = (list(include) if include is not None else None), list(exclude or ())
    targets = []
    for name, module in model.named_modules():
        if not is_pointwise(module) or module.in_channels < min_channels:
            continue
        if include is not None and not _matches(name, include):
            continue
        if _matches(name, exclude):
            continue
        targets.append(name)
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
