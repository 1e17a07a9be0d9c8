"""Orthonormal N-d DCT-II and its inverse as separable matrix products.

Each transformed dimension of length ``n`` is multiplied by the orthonormal DCT-II matrix
``C[k, i] = s_k cos(pi (2i + 1) k / 2n)`` (``s_0 = sqrt(1/n)``, ``s_k = sqrt(2/n)``), which is
cached per (size, dtype, device). The inverse multiplies by ``C.T``. Agrees with
``scipy.fft.dctn(x, norm="ortho")``.

The truncated inverse :func:`idctn_box` takes only a low-frequency box of the spectrum (the
coefficients with index ``< box[d]`` on every dim ``d``) and uses the first ``box[d]`` rows of
``C``, so its cost follows the kept box, not the full tensor.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import torch

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@functools.lru_cache(maxsize=256)
def _dct_matrix_cached(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    c = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    c[0] *= math.sqrt(0.5)
    return c.to(dtype=dtype, device=device)


def dct_matrix(n: int, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """The orthonormal DCT-II matrix of size (n, n): ``X = C @ x`` along one axis."""
    if n < 1:
        raise ValueError(f"dct_matrix: size must be >= 1, got {n}")
    return _dct_matrix_cached(int(n), dtype, torch.device(device or "cpu"))


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    # Half-precision inputs are transformed in float32 and cast back: the basis products
    # accumulate over up to n terms, which float16 cannot hold accurately.
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def _check_input(x: torch.Tensor, dims, name: str) -> tuple[int, ...]:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name}: dtype {x.dtype} is not supported (use float16/bfloat16/32/64)")
    if x.dim() == 0:
        raise ValueError(f"{name}: a 0-d tensor has no dims to transform")
    if dims is None:
        dims = range(x.dim())
    elif isinstance(dims, int):
        dims = (dims,)
    out = []
    for d in dims:
        if not -x.dim() <= d < x.dim():
            raise ValueError(f"{name}: dim {d} is out of range for a {x.dim()}-d tensor")
        out.append(d % x.dim())
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated dims {tuple(dims)}")
    return tuple(out)


def _apply_along(x: torch.Tensor, m: torch.Tensor, dim: int) -> torch.Tensor:
    """Contract ``x`` along ``dim`` with ``m`` of shape (n_out, n_in): y[.., j, ..] = sum m[j, i] x[.., i, ..]."""
    if dim == x.dim() - 1:
        return x @ m.T
    moved = x.movedim(dim, -1)
    return (moved @ m.T).movedim(-1, dim)


def dctn(x: torch.Tensor, dims: Sequence[int] | int | None = None) -> torch.Tensor:
    """Orthonormal DCT-II of ``x`` over ``dims`` (all dims by default). Same shape and dtype."""
    dims = _check_input(x, dims, "dctn")
    cd = _compute_dtype(x.dtype)
    y = x.to(cd)
    for d in dims:
        y = _apply_along(y, dct_matrix(x.shape[d], cd, x.device), d)
    return y.to(x.dtype)


def idctn(X: torch.Tensor, dims: Sequence[int] | int | None = None) -> torch.Tensor:
    """Inverse of :func:`dctn` (orthonormal DCT-III) over ``dims``. Same shape and dtype."""
    dims = _check_input(X, dims, "idctn")
    cd = _compute_dtype(X.dtype)
    y = X.to(cd)
    for d in dims:
        y = _apply_along(y, dct_matrix(X.shape[d], cd, X.device).T, d)
    return y.to(X.dtype)


@functools.lru_cache(maxsize=1024)
def _cheapest_order(box: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """Order of dims that minimizes multiply-adds when expanding ``box`` to ``shape``."""
    dims = [d for d in range(len(shape))]
    best, best_cost = tuple(dims), math.inf
    perms = itertools.permutations(dims) if len(dims) <= 6 else [tuple(dims)]
    for perm in perms:
        sizes, cost = list(box), 0
        for d in perm:
            cost += math.prod(sizes) * shape[d]
            sizes[d] = shape[d]
        if cost < best_cost:
            best, best_cost = tuple(perm), cost
    return best


def idctn_box(X_box: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Inverse DCT over all dims of a spectrum that is zero outside its low-frequency box.

    ``X_box`` holds the coefficients ``X[:b0, :b1, ...]`` (shape ``box``, each ``b_d <= shape[d]``);
    the result has ``shape`` and equals ``idctn`` of the zero-padded spectrum. Each dim is expanded
    with the first ``b_d`` rows of the DCT matrix, in the order that costs fewest multiply-adds.
    """
    _check_input(X_box, None, "idctn_box")
    shape = tuple(int(s) for s in shape)
    box = tuple(X_box.shape)
    if len(shape) != len(box) or any(b > s for b, s in zip(box, shape)):
        raise ValueError(f"idctn_box: box {box} does not fit in shape {shape}")
    cd = _compute_dtype(X_box.dtype)
    y = X_box.to(cd)
    for d in _cheapest_order(box, shape):
        m = dct_matrix(shape[d], cd, X_box.device)[: box[d]]
        y = _apply_along(y, m.T, d)
    return y.to(X_box.dtype)
