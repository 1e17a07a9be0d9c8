"""Choosing layers: one filter for every conversion of freqlib.

Every function that converts layers of a model (:func:`freqlib.frequency_regularize`,
:func:`freqlib.pointwise.convert`, :class:`freqlib.occasional.OccasionalRegularizer`) takes
``filter_fn(module, fqn) -> bool``, in the manner of torchao's ``quantize_``: it is called for each
candidate layer with the module and its fully qualified name (``"layers.3.conv1"``, ``""`` for the
model itself), and the layer is converted when it returns True. Candidates are what the function
converts by default (FR: Conv/ConvTranspose/Linear; pointwise: 1x1 convolutions; occasional:
Linear/Conv/LSTM weights). :func:`by_name` and :func:`by_type` build the common filters; combine
them with :func:`all_of`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable

from torch import nn

#: ``filter_fn(module, fqn) -> bool``: True converts the layer.
LayerFilter = Callable[[nn.Module, str], bool]


def _patterns(value, what: str) -> list[str] | None:
    if value is None:
        return None
    patterns = [value] if isinstance(value, str) else list(value)
    bad = [p for p in patterns if not isinstance(p, str)]
    if bad:
        raise TypeError(f"{what}: glob patterns must be strings, got {bad!r}")
    return patterns


def by_name(include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> LayerFilter:
    """Globs on the qualified module name (fnmatch, case-sensitive): a layer passes when it matches an
    ``include`` pattern (every layer when ``include`` is None) and no ``exclude`` pattern."""
    inc, exc = _patterns(include, "include"), _patterns(exclude, "exclude") or []

    def filter_fn(module: nn.Module, fqn: str) -> bool:
        if inc is not None and not any(fnmatch.fnmatchcase(fqn, p) for p in inc):
            return False
        return not any(fnmatch.fnmatchcase(fqn, p) for p in exc)

    return filter_fn


def by_type(*types: type[nn.Module]) -> LayerFilter:
    """Layers that are instances of any of ``types`` (e.g. ``by_type(nn.Conv2d)``)."""
    if not types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in types):
        raise TypeError(f"by_type: expected nn.Module classes, got {types!r}")
    return lambda module, fqn: isinstance(module, types)


def all_of(*filters: LayerFilter | None) -> LayerFilter:
    """A filter that passes where every given filter passes (None entries are ignored)."""
    chosen = [check_filter(f) for f in filters if f is not None]
    return lambda module, fqn: all(f(module, fqn) for f in chosen)


def check_filter(filter_fn: LayerFilter | None, where: str = "filter_fn") -> LayerFilter | None:
    """``filter_fn`` itself after checking it is callable (None passes through)."""
    if filter_fn is not None and not callable(filter_fn):
        raise TypeError(f"{where} must be callable as filter_fn(module, fqn) -> bool, got {type(filter_fn).__name__}")
    return filter_fn


def chosen(filter_fn: LayerFilter | None, module: nn.Module, fqn: str) -> bool:
    """Whether ``filter_fn`` (None: every layer) picks ``module``; its answer must be a bool."""
    if filter_fn is None:
        return True
    answer = filter_fn(module, fqn)
    if type(answer).__name__ == "bool_":  # numpy's
        answer = bool(answer)
    if not isinstance(answer, bool):
        raise TypeError(f"filter_fn({type(module).__name__}, {fqn!r}) returned {type(answer).__name__}, not bool")
    return answer
