"""Occasional regularization: apply a weight transform every ``period`` optimizer steps (the NR period).

FR layers (weights parametrized by :class:`freqlib.fr.FrequencyRegularization`, whose
``.original`` is the DCT spectrum): the transform acts on the **spatial** weight. We compute
``w = module.weight`` (what the layer uses), ``w' = transform(w)``, and write ``dctn(w')`` into the
*kept* zigzag coefficients of the spectrum; the dropped coefficients are left untouched (they never
reach the output, as in FR itself). The layer's weight becomes the FR projection
``idctn(mask * dctn(w'))``, so FR's compression is never broken and the step alternates the two
projections. Why spatial: pruning, binary codes, SVD and Tucker are defined on the weight the layer
computes with (and exported as such); acting on the spectrum would prune or factor DCT
coefficients, a different compression. ``history`` records the real change ``E|w - P(w')|``.
Because ``P(w')`` is in general not exactly in the compressed form, :func:`export` compresses an FR
weight's final spatial weight again; the exported model then equals the regularized one up to that
projection (exactly for :func:`frequency_truncate` inside FR's kept prefix, whose image FR keeps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn
from torch.nn.utils import parametrize

from ..dct import dctn
from ..distributed import unwrap
from ..fr import fr_parametrization
from ..layers import LayerFilter, check_filter
from ..layers import chosen as picks
from ..zigzag import zigzag_mask
from .transforms import Transform, _check_int

#: Module types whose weights are selected by default.
DEFAULT_LAYERS = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def default_params(module: nn.Module) -> list[str]:
    """Names of the weights selected by default in ``module`` (not recursing)."""
    if isinstance(module, DEFAULT_LAYERS):
        return ["weight"]
    if isinstance(module, nn.LSTM):
        names = [n for n, _ in module.named_parameters(recurse=False) if n.startswith(("weight_ih_l", "weight_hh_l"))]
        if parametrize.is_parametrized(module):
            names += [n for n in module.parametrizations.keys() if n.startswith(("weight_ih_l", "weight_hh_l"))]
        return sorted(set(names), key=names.index)
    return []


def _own_params(module: nn.Module) -> list[str]:
    names = default_params(module)
    if names:
        return names
    if hasattr(module, "weight") and isinstance(module.weight, torch.Tensor):
        return ["weight"]
    raise ValueError(f"modules: {type(module).__name__} has no weight to regularize")


def select(
    model: nn.Module, modules: Sequence[nn.Module | str] | None = None, filter_fn: LayerFilter | None = None
) -> list[tuple[str, nn.Module, str]]:
    """(qualified weight name, module, parameter name) of each selected weight, in model order.

    ``modules`` may hold modules of ``model``, their qualified names, or qualified parameter names
    (``"lstm.weight_hh_l0"``); None selects every Linear, Conv, ConvTranspose and LSTM weight that
    ``filter_fn(module, fqn)`` picks (:mod:`freqlib.layers`; all when None).
    """
    named = list(model.named_modules())
    if modules is None:
        check_filter(filter_fn)
        chosen = [(name, m, p) for name, m in named if picks(filter_fn, m, name) for p in default_params(m)]
        if not chosen:
            picked = " that filter_fn picks" if filter_fn is not None else ""
            raise ValueError(f"model: {type(model).__name__} has no Linear, Conv or LSTM weight{picked} to regularize")
    else:
        if isinstance(modules, str | nn.Module):
            modules = [modules]
        by_name, by_id = dict(named), {id(m): n for n, m in named}
        wanted = []
        for item in modules:
            if isinstance(item, nn.Module):
                if id(item) not in by_id:
                    raise ValueError(f"modules: a {type(item).__name__} is not part of the model")
                wanted += [(by_id[id(item)], item, p) for p in _own_params(item)]
            elif isinstance(item, str) and item in by_name:
                wanted += [(item, by_name[item], p) for p in _own_params(by_name[item])]
            elif isinstance(item, str) and item.rpartition(".")[0] in by_name:
                owner, _, pname = item.rpartition(".")
                if not isinstance(getattr(by_name[owner], pname, None), torch.Tensor):
                    raise ValueError(f"modules: {item!r} names no module or weight of the model")
                wanted.append((owner, by_name[owner], pname))
            else:
                raise ValueError(f"modules: {item!r} names no module or weight of the model")
        order = {n: i for i, (n, _) in enumerate(named)}
        chosen = sorted(dict.fromkeys(wanted), key=lambda t: order[t[0]])
    out = []
    for name, module, pname in chosen:
        if parametrize.is_parametrized(module, pname) and fr_parametrization(module, pname) is None:
            raise ValueError(f"{name}.{pname}: parametrized by something other than FR; not supported")
        out.append((f"{name}.{pname}" if name else pname, module, pname))
    return out


def current_weight(module: nn.Module, pname: str) -> torch.Tensor:
    """The spatial weight the layer computes with (evaluates an FR parametrization)."""
    return getattr(module, pname).detach()


@torch.no_grad()
def write_weight(module: nn.Module, pname: str, w: torch.Tensor) -> torch.Tensor:
    """Store ``w`` as ``module.<pname>``; FR weights get ``dctn(w)`` in their kept coefficients.

    Returns the weight the layer now computes with.
    """
    fr = fr_parametrization(module, pname)
    if fr is None:
        param = getattr(module, pname)
        param.copy_(w)
        return param.detach()
    original = module.parametrizations[pname].original
    box = tuple(slice(0, b) for b in fr.box)
    spectrum = dctn(w.to(original.dtype))[box]
    mask = zigzag_mask(fr.shape, fr.k).to(original.device)
    original[box] = torch.where(mask, spectrum, original[box])
    return current_weight(module, pname)


class OccasionalRegularizer:
    """Apply ``transform`` to the selected weights every ``period`` steps.

    Call :meth:`step` after each optimizer step. The counter starts at 0; step ``t`` (after the
    ``t``-th call) applies the transform when ``t % period == 0`` and ``start <= t`` and (``stop``
    is None or ``t < stop``): with ``period=3`` at steps 3, 6, 9, ... :meth:`apply` forces one now.
    The weights: ``modules`` (modules, their names or weight names) or ``filter_fn(module, fqn)``
    (:mod:`freqlib.layers`, as in :func:`freqlib.frequency_regularize`); every Linear, Conv and LSTM
    weight when neither is given.

    ``model`` may be wrapped in DDP (its ``.module`` is used). The transforms are deterministic
    given the weights (the noise is seeded from ``(seed, step, index)``) and DDP keeps weights equal
    across ranks, so all ranks compute the same result; with ``broadcast=True`` (default) rank 0's
    regularized weights are also broadcast when a process group of more than one rank is active.

    ``history``: one dict per application, ``{"step", "e_w", "per_weight": {name: e_w}}`` with
    ``e_w = E|w - w'|`` over each weight's elements and, for ``"e_w"``, over all selected elements;
    ``"delta_w"`` is the paper's Fig. 16 measure ``||w - w'||_F^2 / N(w)`` over all selected elements.
    ``transform`` is a freqlib transform or any callable ``w -> w'`` (then nothing is cached).
    ``compressed``: the compressed form of each weight at the last application (what
    :func:`freqlib.occasional.export` uses when the weight has not changed since).
    """

    def __init__(
        self,
        model: nn.Module,
        transform: Transform,
        period: int,
        *,
        modules: Sequence[nn.Module | str] | None = None,
        filter_fn: LayerFilter | None = None,
        start: int = 0,
        stop: int | None = None,
        broadcast: bool = True,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.period = _check_int("period", period)
        self.start = _check_int("start", start, 0)
        self.stop = None if stop is None else _check_int("stop", stop, 0)
        self.model = unwrap(model)
        self.transform = transform
        self.broadcast = broadcast
        if modules is not None and filter_fn is not None:
            raise ValueError("OccasionalRegularizer: give modules= or filter_fn=, not both")
        self.targets = select(self.model, modules, filter_fn)
        self.step_count = 0
        self.history: list[dict] = []
        self.compressed: dict[str, object] = {}

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.targets]

    def due(self, step: int) -> bool:
        """Whether step ``step`` applies the transform."""
        in_range = step >= self.start and (self.stop is None or step < self.stop)
        return step > 0 and step % self.period == 0 and in_range

    def step(self) -> bool:
        """Advance the counter by one optimizer step; apply when due. Returns whether it applied."""
        self.step_count += 1
        if self.due(self.step_count):
            self.apply()
            return True
        return False

    @torch.no_grad()
    def apply(self) -> dict:
        """Apply the transform to every selected weight now; returns the history record."""
        diffs, squares, sizes = [], [], []
        for index, (name, module, pname) in enumerate(self.targets):
            w = current_weight(module, pname).clone()  # a plain weight's detach() shares storage
            if isinstance(self.transform, Transform):
                c = self.transform.compress(w, step=self.step_count, index=index)
                new = self.transform.decompress(c)
                self.compressed[name] = c
            else:
                new = self.transform(w)
            if new.shape != w.shape:
                raise ValueError(f"{name}: transform returned shape {tuple(new.shape)}, expected {tuple(w.shape)}")
            written = write_weight(module, pname, new.to(dtype=w.dtype, device=w.device))
            delta = w.double() - written.double()
            diffs.append(delta.abs().sum())
            squares.append(delta.square().sum())
            sizes.append(w.numel())
        self._sync()
        sums = torch.stack(diffs).cpu().tolist()
        total = sum(sizes)
        record = {
            "step": self.step_count,
            "e_w": math.fsum(sums) / total,
            "delta_w": torch.stack(squares).sum().item() / total,
            "per_weight": {name: s / n for name, s, n in zip(self.names, sums, sizes)},
        }
        self.history.append(record)
        return record

    def _sync(self) -> None:
        dist = torch.distributed
        if not (self.broadcast and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return
        for _, module, pname in self.targets:
            fr = fr_parametrization(module, pname)
            tensor = module.parametrizations[pname].original if fr is not None else getattr(module, pname)
            dist.broadcast(tensor.data, src=0)

    def history_frame(self) -> pd.DataFrame:
        """History in long form: one row per (application, weight) with columns step, weight, e_w."""
        rows = [{"step": r["step"], "weight": n, "e_w": e} for r in self.history for n, e in r["per_weight"].items()]
        return pd.DataFrame(rows, columns=["step", "weight", "e_w"])

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "history": [dict(r) for r in self.history]}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = _check_int("step_count", state["step_count"], 0)
        self.history = [dict(r) for r in state.get("history", [])]

    def __repr__(self) -> str:
        return (
            f"OccasionalRegularizer({self.transform!r}, period={self.period}, start={self.start}, "
            f"stop={self.stop}, weights={len(self.targets)}, step={self.step_count})"
        )
