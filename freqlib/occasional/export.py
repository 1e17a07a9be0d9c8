"""Export: turn occasionally regularized weights into their compressed structure, with a size report.

Structures (Linear and non-transposed Conv1d/2d/3d; bias, stride, padding, dilation kept):

* pruning -> :class:`SparseLinear` / :class:`SparseConv`: the lowered weight as CSR (int32 indices);
  ``y = W_csr @ x`` (convs through ``unfold`` for 1-d and 2-d zero padding, else densified);
* binary codes -> :class:`BinaryLayer`: codes bit-packed in uint8 plus float scales, unpacked on
  the fly;
* SVD -> two Linears, or a d x d conv S->r then a 1x1 conv r->T;
* tiled SVD -> :class:`TiledLinear` / :class:`TiledConv` holding each tile's two factors;
* Tucker-2 -> 1x1 conv S->R_s, d x d conv R_s->R_t, 1x1 conv R_t->T (three Linears for a Linear);
* frequency truncation -> :class:`FrequencyLayer` holding the k kept DCT coefficients;
* weight decay and noise -> the dense weight, unchanged.

Weights the structures do not cover (LSTM, ConvTranspose, grouped convs for the factorized forms)
get the decompressed weight in place and count as dense. Bytes are ``element_size * numel`` of the
stored structure tensors (bias excluded on both sides); MACs are multiply-accumulates of one
forward pass on ``input_shape`` (FLOPs = 2 x MACs), per the computation each structure performs.
"""

from __future__ import annotations

import copy
import math
import warnings

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..fr import materialize
from . import transforms as T
from .regularizer import OccasionalRegularizer, select, unwrap

_CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def _nbytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _is_conv(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d)


def _layer_shell(layer: nn.Module) -> nn.Module:
    """A copy of ``layer`` without its weight (bias and conv settings kept)."""
    shell = copy.copy(layer)
    shell._parameters = dict(layer._parameters)
    del shell._parameters["weight"]
    return shell


def _run_layer(shell: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if isinstance(shell, nn.Linear):
        return F.linear(x, weight, shell.bias)
    return shell._conv_forward(x, weight, shell.bias)


class _Structured(nn.Module):
    """Base of the exported layers: ``structure`` name, ``weight_bytes()`` and ``macs(p_in, p_out)``."""

    structure = "dense"

    def weight_bytes(self) -> int:
        raise NotImplementedError

    def macs(self, p_in: float, p_out: float) -> float:
        raise NotImplementedError


class _LoweredConv(_Structured):
    """Conv through the lowered weight ``(T, S*prod(k))``: ``matmul(cols)`` on unfolded input.

    Uses ``F.unfold`` for Conv1d/Conv2d with numeric zero padding, else the dense weight.
    """

    def __init__(self, layer: nn.Module):
        super().__init__()
        if layer.groups != 1:
            raise ValueError(f"{type(self).__name__}: groups={layer.groups} is not supported (only groups=1)")
        self.shell = _layer_shell(layer)
        self.shape = tuple(layer.weight.shape)

    def matmul(self, cols: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def dense_weight(self) -> torch.Tensor:
        raise NotImplementedError

    def _unfoldable(self) -> bool:
        s = self.shell
        return len(s.kernel_size) <= 2 and s.padding_mode == "zeros" and not isinstance(s.padding, str)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.shell
        if not self._unfoldable():
            return s._conv_forward(x, self.dense_weight(), s.bias)
        nd = len(s.kernel_size)
        batched = x.dim() == nd + 2
        x = x if batched else x.unsqueeze(0)
        pad = (lambda v: (1, *v)) if nd == 1 else (lambda v: tuple(v))
        x4 = x.unsqueeze(2) if nd == 1 else x
        k, st, dl = pad(s.kernel_size), pad(s.stride), pad(s.dilation)
        pd_ = (0, *s.padding) if nd == 1 else tuple(s.padding)
        cols = F.unfold(x4, k, dilation=dl, padding=pd_, stride=st)  # (N, S*prod(k), L)
        n, _, length = cols.shape
        y = self.matmul(cols.transpose(0, 1).reshape(cols.shape[1], n * length))  # (T, N*L)
        out = [(x4.shape[2 + i] + 2 * pd_[i] - dl[i] * (k[i] - 1) - 1) // st[i] + 1 for i in range(2)]
        y = y.reshape(-1, n, length).transpose(0, 1).reshape(n, -1, *out)
        y = y.squeeze(2) if nd == 1 else y
        if s.bias is not None:
            y = y + s.bias.view(1, -1, *([1] * nd))
        return y if batched else y.squeeze(0)


class _Sparse:
    """CSR storage (int32 indices) of a lowered (rows, cols) weight."""

    def _store(self, matrix: torch.Tensor) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            csr = matrix.to_sparse_csr()
        self.register_buffer("crow", csr.crow_indices().to(torch.int32))
        self.register_buffer("col", csr.col_indices().to(torch.int32))
        self.register_buffer("values", csr.values().clone())
        self.rows_cols = tuple(matrix.shape)

    def csr(self) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.sparse_csr_tensor(self.crow, self.col, self.values, self.rows_cols)

    def weight_bytes(self) -> int:
        return _nbytes(self.crow, self.col, self.values)

    def macs(self, p_in: float, p_out: float) -> float:
        return self.values.numel() * p_out


class SparseLinear(_Sparse, _Structured):
    """Linear with a CSR weight: ``y = (W_csr @ x^T)^T + b``."""

    structure = "sparse_csr"

    def __init__(self, layer: nn.Linear, weight: torch.Tensor):
        super().__init__()
        self._store(weight)
        self.bias = layer.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        y = (self.csr() @ flat.T).T.reshape(*x.shape[:-1], -1)
        return y if self.bias is None else y + self.bias


class SparseConv(_Sparse, _LoweredConv):
    """Conv with its lowered weight in CSR: ``y = W_csr @ unfold(x)``."""

    structure = "sparse_csr"

    def __init__(self, layer: nn.Module, weight: torch.Tensor):
        _LoweredConv.__init__(self, layer)
        self._store(weight.reshape(weight.shape[0], -1))

    def matmul(self, cols):
        return self.csr() @ cols

    def dense_weight(self):
        return self.csr().to_dense().reshape(self.shape)


def pack_codes(codes: torch.Tensor) -> torch.Tensor:
    """Codes in {-1, +1} of shape (..., n) -> uint8 (..., ceil(n / 8)), bit 7 first, 1 for +1."""
    bits = (codes > 0).to(torch.uint8)
    pad = -bits.shape[-1] % 8
    bits = F.pad(bits, (0, pad)).reshape(*bits.shape[:-1], -1, 8)
    weights = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8, device=codes.device)
    return (bits * weights).sum(-1, dtype=torch.uint8)


def unpack_codes(packed: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """Inverse of :func:`pack_codes`: float codes in {-1, +1} of shape (..., n)."""
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8, device=packed.device)
    bits = (packed.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(*packed.shape[:-1], -1)[..., :n].to(dtype) * 2 - 1


class BinaryLayer(_Structured):
    """Linear or Conv whose weight is ``sum_i scales[:, i] * codes[:, i]`` with bit-packed codes.

    ``packed``: uint8 (rows, bits, ceil(n / 8)); ``scales``: (rows, bits). The weight is unpacked
    at each forward; MACs reported are those of the dense layer it runs.
    """

    structure = "binary_codes"

    def __init__(self, layer: nn.Module, c: T.BinaryCodes):
        super().__init__()
        self.shell = _layer_shell(layer)
        self.register_buffer("packed", pack_codes(c.codes))
        self.register_buffer("scales", c.scales.clone())
        self.shape, self.n, self.dtype = c.shape, c.codes.shape[-1], c.dtype

    def weight(self) -> torch.Tensor:
        codes = unpack_codes(self.packed, self.n, self.scales.dtype)
        return T.binary_weight(self.scales, codes, self.shape, self.dtype)

    def forward(self, x):
        return _run_layer(self.shell, x, self.weight())

    def weight_bytes(self):
        return _nbytes(self.packed, self.scales)

    def macs(self, p_in, p_out):
        return math.prod(self.shape) * p_out


class FrequencyLayer(_Structured):
    """Linear or Conv whose weight is the idctn of its ``k`` kept zigzag DCT coefficients."""

    structure = "dct_coefficients"

    def __init__(self, layer: nn.Module, c: T.FrequencyCoefficients):
        super().__init__()
        self.shell = _layer_shell(layer)
        self.register_buffer("coefficients", c.coefficients.clone())
        self.shape, self.k = c.shape, c.k

    def forward(self, x):
        return _run_layer(self.shell, x, T.frequency_weight(self.coefficients, self.shape, self.k))

    def weight_bytes(self):
        return _nbytes(self.coefficients)

    def macs(self, p_in, p_out):
        return math.prod(self.shape) * p_out


class _Tiled:
    """Tile factors by group: ``lefts[g]`` (nr, nc, th, r), ``rights[g]`` (nr, nc, r, tw) at ``origins[g]``."""

    def _store(self, c: T.TiledLowRank, dtype: torch.dtype) -> None:
        self.lefts = nn.ParameterList([nn.Parameter(g.left.to(dtype), requires_grad=False) for g in c.groups])
        self.rights = nn.ParameterList([nn.Parameter(g.right.to(dtype), requires_grad=False) for g in c.groups])
        self.origins = [(g.row0, g.col0) for g in c.groups]
        self.rows_cols = (c.shape[0], math.prod(c.shape[1:]))

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """``W @ x`` for x of shape (cols, N): per tile ``left (right x_tile)``, summed along rows."""
        y = x.new_zeros(self.rows_cols[0], x.shape[1])
        for (i, j), left, right in zip(self.origins, self.lefts, self.rights):
            nr, nc, th, _ = left.shape
            tw = right.shape[-1]
            xs = x[j : j + nc * tw].reshape(1, nc, tw, -1)
            y[i : i + nr * th] += (left @ (right @ xs)).sum(1).reshape(nr * th, -1)
        return y

    def dense_weight(self) -> torch.Tensor:
        m = self.lefts[0].new_zeros(self.rows_cols)
        for (i, j), left, right in zip(self.origins, self.lefts, self.rights):
            block = T.TileGroup(i, j, left, right).product()
            m[i : i + block.shape[0], j : j + block.shape[1]] = block
        return m.reshape(self.shape)

    def weight_bytes(self):
        return _nbytes(*self.lefts, *self.rights)

    def macs(self, p_in, p_out):
        return sum(left.numel() + right.numel() for left, right in zip(self.lefts, self.rights)) * p_out


class TiledLinear(_Tiled, _Structured):
    """Linear computing ``y = sum_tiles left (right x_tile)`` into each tile's rows."""

    structure = "tiled_svd"

    def __init__(self, layer: nn.Linear, c: T.TiledLowRank):
        super().__init__()
        self._store(c, layer.weight.dtype)
        self.shape = c.shape
        self.bias = layer.bias

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        y = self.matmul(flat.T).T.reshape(*x.shape[:-1], -1)
        return y if self.bias is None else y + self.bias


class TiledConv(_Tiled, _LoweredConv):
    """Conv through the tiled factors of its lowered weight (``unfold`` then per-tile products)."""

    structure = "tiled_svd"

    def __init__(self, layer: nn.Module, c: T.TiledLowRank):
        _LoweredConv.__init__(self, layer)
        self._store(c, layer.weight.dtype)


def _linear(weight: torch.Tensor, bias: torch.Tensor | None = None) -> nn.Linear:
    out = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        out.weight.copy_(weight)
        if bias is not None:
            out.bias.copy_(bias)
    return out


def _conv(layer: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None, full: bool) -> nn.Module:
    """A conv of ``layer``'s dimension with ``weight``; ``full`` keeps stride/padding/dilation, else 1x1."""
    nd = len(layer.kernel_size)
    kwargs = {}
    if full:
        kwargs = dict(
            stride=layer.stride, padding=layer.padding, dilation=layer.dilation, padding_mode=layer.padding_mode
        )
    conv = _CONVS[nd](
        weight.shape[1],
        weight.shape[0],
        tuple(weight.shape[2:]),
        bias=bias is not None,
        device=weight.device,
        dtype=weight.dtype,
        **kwargs,
    )
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
    return conv


class Factored(nn.Sequential, _Structured):
    """A chain of Linears or convs from SVD or Tucker-2; ``macs`` from each part's weight."""

    def __init__(self, structure: str, *layers: nn.Module, first_at_input: bool = False):
        super().__init__(*layers)
        self.structure = structure
        self.first_at_input = first_at_input

    def weight_bytes(self):
        return _nbytes(*(m.weight for m in self))

    def macs(self, p_in, p_out):
        parts = [m.weight.numel() for m in self]
        first = parts[0] * (p_in if self.first_at_input else p_out)
        return first + sum(parts[1:]) * p_out


def _low_rank_layer(layer: nn.Module, c: T.LowRank) -> nn.Module:
    dtype = layer.weight.dtype
    left, right = c.left.to(dtype), c.right.to(dtype)
    if isinstance(layer, nn.Linear):
        return Factored("svd", _linear(right), _linear(left, layer.bias))
    if layer.groups != 1:
        raise ValueError(f"low_rank export: groups={layer.groups} is not supported (only groups=1)")
    r = right.shape[0]
    first = _conv(layer, right.reshape(r, *c.shape[1:]), None, full=True)
    second = _conv(layer, left.reshape(left.shape[0], r, *([1] * (len(c.shape) - 2))), layer.bias, full=False)
    return Factored("svd", first, second)


def _tucker_layer(layer: nn.Module, c: T.Tucker2) -> nn.Module:
    dtype = layer.weight.dtype
    core, p_t, p_s = c.core.to(dtype), c.p_t.to(dtype), c.p_s.to(dtype)
    if isinstance(layer, nn.Linear):
        return Factored("tucker2", _linear(p_s.T), _linear(core), _linear(p_t, layer.bias), first_at_input=True)
    if layer.groups != 1:
        raise ValueError(f"tucker2 export: groups={layer.groups} is not supported (only groups=1)")
    ones = [1] * (len(c.shape) - 2)
    first = _conv(layer, p_s.T.reshape(*p_s.T.shape, *ones), None, full=False)
    middle = _conv(layer, core, None, full=True)
    last = _conv(layer, p_t.reshape(*p_t.shape, *ones), layer.bias, full=False)
    return Factored("tucker2", first, middle, last, first_at_input=True)


def structured_layer(layer: nn.Module, c) -> nn.Module | None:
    """The exported layer for ``layer`` (Linear or Conv) holding compressed form ``c``; None if none."""
    linear, conv = isinstance(layer, nn.Linear), _is_conv(layer)
    if not (linear or conv):
        return None
    grouped = conv and layer.groups != 1
    if isinstance(c, T.Pruned):
        dense = T.pruned_weight(c).to(layer.weight.dtype)
        if linear:
            return SparseLinear(layer, dense)
        return None if grouped else SparseConv(layer, dense)
    if isinstance(c, T.BinaryCodes):
        return BinaryLayer(layer, c)
    if isinstance(c, T.FrequencyCoefficients):
        return FrequencyLayer(layer, c)
    if isinstance(c, T.LowRank) and not grouped:
        return _low_rank_layer(layer, c)
    if isinstance(c, T.TiledLowRank) and not grouped:
        return TiledLinear(layer, c) if linear else TiledConv(layer, c)
    if isinstance(c, T.Tucker2) and not grouped:
        return _tucker_layer(layer, c)
    return None


def _positions(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(positions the weight is applied at on the input side, on the output side)."""
    if isinstance(module, nn.Linear):
        p = x.numel() / module.in_features
        return p, p
    if isinstance(module, nn.LSTM):
        p = x.numel() / x.shape[-1]
        return p, p
    p_in, p_out = x.numel() / module.in_channels, y.numel() / module.out_channels
    if isinstance(module, nn.ConvTranspose1d | nn.ConvTranspose2d | nn.ConvTranspose3d):
        return p_in, p_in
    return p_in, p_out


@torch.no_grad()
def _measure(model: nn.Module, modules: dict[str, nn.Module], example) -> dict[str, tuple[float, float]]:
    """Run ``model`` on ``example`` (eval mode, restored after) and record each module's positions."""
    found, hooks = {}, []
    for name, module in modules.items():

        def hook(mod, inputs, output, name=name):
            y = output[0] if isinstance(output, tuple) else output
            if isinstance(inputs[0], torch.Tensor) and isinstance(y, torch.Tensor):
                found[name] = _positions(mod, inputs[0], y)

        hooks.append(module.register_forward_hook(hook))
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        model(*example) if isinstance(example, tuple) else model(example)
    finally:
        for h in hooks:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return found


def _set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, new)


def _compressed_form(transform, w, reg, name, reg_weight, step, index):
    cached = reg.compressed.get(name) if reg is not None else None
    if cached is not None and torch.equal(transform.decompress(cached).to(reg_weight.dtype), reg_weight):
        return cached
    if isinstance(transform, T.MagnitudePrune) and callable(transform.rate) and step is None:
        raise ValueError("export: magnitude_prune has a rate schedule; pass step= (or a regularizer)")
    return transform.compress(w, step=step or 0, index=index)


def _report_row(name, layer, w, exported, structure, positions) -> dict:
    dense_bytes = _nbytes(w)
    nbytes = exported.weight_bytes() if exported is not None else dense_bytes
    dense_macs = comp_macs = float("nan")
    if positions is not None:
        p_in, p_out = positions
        transposed = isinstance(layer, nn.ConvTranspose1d | nn.ConvTranspose2d | nn.ConvTranspose3d)
        dense_macs = w.numel() * (p_in if transposed else p_out)
        comp_macs = exported.macs(p_in, p_out) if exported is not None else dense_macs
    return {
        "layer": name,
        "module": type(layer).__name__,
        "structure": exported.structure if exported is not None else structure,
        "shape": tuple(w.shape),
        "dense_bytes": dense_bytes,
        "compressed_bytes": nbytes,
        "ratio": dense_bytes / nbytes if nbytes else float("inf"),
        "dense_macs": dense_macs,
        "compressed_macs": comp_macs,
    }


def export(
    model: nn.Module | OccasionalRegularizer,
    transform: T.Transform | None = None,
    *,
    regularizer: OccasionalRegularizer | None = None,
    modules=None,
    input_shape: tuple[int, ...] | None = None,
    example_input: torch.Tensor | tuple | None = None,
    step: int | None = None,
) -> tuple[nn.Module, pd.DataFrame]:
    """A compressed copy of ``model`` and a per-layer report; ``model`` itself is not modified.

    Pass the model and its ``transform`` (weights from ``modules``, default as the regularizer's),
    or the :class:`OccasionalRegularizer` (as ``model`` or ``regularizer=``). Each weight is stored
    as its compressed form: the regularizer's form from the last application when the weight has not
    changed since (the exported model then computes exactly what the regularized one does), else
    ``transform.compress(final weight)``. FR weights are materialized first (their spatial weight is
    compressed). Report columns: layer, module, structure, shape, dense_bytes, compressed_bytes,
    ratio, dense_macs, compressed_macs. The MAC columns (one forward pass) need ``input_shape`` (a
    float input of zeros, batch included) or ``example_input`` (a tensor or a tuple of arguments).
    """
    if isinstance(model, OccasionalRegularizer):
        regularizer = model
    if regularizer is not None:
        base = regularizer.model
        transform = regularizer.transform if transform is None else transform
        step = regularizer.step_count if step is None else step
        targets = regularizer.targets if modules is None else select(base, modules)
    else:
        base = unwrap(model)
        targets = select(base, modules)
    if not isinstance(transform, T.Transform):
        raise TypeError(f"transform must be a freqlib.occasional transform, got {type(transform).__name__}")
    new = materialize(copy.deepcopy(base))
    new_modules = dict(new.named_modules())
    owners = {name.rpartition(".")[0] for name, _, _ in targets}
    if example_input is None and input_shape is not None:
        ref = next(new.parameters())
        example_input = torch.zeros(tuple(input_shape), dtype=ref.dtype, device=ref.device)
    positions = {} if example_input is None else _measure(new, {o: new_modules[o] for o in owners}, example_input)
    rows = []
    for index, (name, module, pname) in enumerate(targets):
        owner = name.rpartition(".")[0]
        layer = new_modules[owner]
        w = getattr(layer, pname).detach()
        exported, structure = None, "dense"
        if transform.projection:
            c = _compressed_form(transform, w, regularizer, name, getattr(module, pname).detach(), step, index)
            exported = structured_layer(layer, c) if pname == "weight" else None
            if exported is None:  # LSTM, ConvTranspose, grouped conv: keep the decompressed weight
                with torch.no_grad():
                    getattr(layer, pname).copy_(transform.decompress(c).to(w.dtype))
                structure = f"{transform.name} (stored dense)"
            elif owner:
                _set_module(new, owner, exported)
            else:  # the model is the layer itself
                new = exported
        rows.append(_report_row(name, layer, w, exported, structure, positions.get(owner)))
    return new, pd.DataFrame(rows)
