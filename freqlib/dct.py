"""Orthonormal N-d DCT-II and its inverse as separable matrix products.

Each transformed dimension of length ``n`` is multiplied by the orthonormal DCT-II matrix
``C[k, i] = s_k cos(pi (2i + 1) k / 2n)`` (``s_0 = sqrt(1/n)``, ``s_k = sqrt(2/n)``), which is
cached per (size, dtype, device). The inverse multiplies by ``C.T``. Agrees with
``scipy.fft.dctn(x, norm="ortho")``.

The truncated inverse :func:`idctn_box` takes only a low-frequency box of the spectrum (the
coefficients with index ``< box[d]`` on every dim ``d``) and uses the first ``box[d]`` rows of
``C``, so its cost follows the kept box, not the full tensor. Along the first and last dims it
also uses the symmetry ``C[k, n-1-i] = (-1)^k C[k, i]`` to halve the multiply-adds.
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


#: Expansions to fewer outputs than this use one plain matrix product.
SYMMETRIC_MIN_SIZE = 64
#: Elements per block of the even/odd combine (about 2 MB of float32), so it stays in cache.
_BLOCK_ELEMENTS = 1 << 19


@functools.lru_cache(maxsize=256)
def _half_bases(n: int, b: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Even and odd rows of the first ``b`` DCT rows, on the first ceil(n/2) columns: (b_even, h), (b_odd, h)."""
    c = dct_matrix(n, dtype, device)[:b, : (n + 1) // 2]
    return c[0::2].contiguous(), c[1::2].contiguous()


def _expand_first(x: torch.Tensor, n: int) -> torch.Tensor:
    """(b, p) coefficients -> (n, p) samples: out = C[:b].T @ x, by the DCT's even/odd symmetry.

    ``C[k, n-1-i] = (-1)^k C[k, i]``: with E, O the even- and odd-frequency parts evaluated at the
    first h = ceil(n/2) samples, ``out[i] = E[i] + O[i]`` and ``out[n-1-i] = E[i] - O[i]``: half the
    multiply-adds of the plain product. Blocked over columns, with buffers allocated once, so the
    combine stays in cache.
    """
    b, p = x.shape
    ce, co = _half_bases(n, b, x.dtype, x.device)
    ce_t, co_t = ce.T, co.T
    h, m = (n + 1) // 2, n // 2
    xe, xo = x[0::2].contiguous(), x[1::2].contiguous()
    out = torch.empty(n, p, dtype=x.dtype, device=x.device)
    width = min(p, max(1, _BLOCK_ELEMENTS // h))
    e_buf = torch.empty(h, width, dtype=x.dtype, device=x.device)
    o_buf = torch.empty_like(e_buf)
    for c in range(0, p, width):
        w = min(width, p - c)
        e, o = e_buf[:, :w], o_buf[:, :w]
        torch.mm(ce_t, xe[:, c : c + w], out=e)
        torch.mm(co_t, xo[:, c : c + w], out=o)
        torch.add(e, o, out=out[:h, c : c + w])
        e.sub_(o)
        out[h:, c : c + w] = e[:m].flip(0)
    return out


def _contract_first(g: torch.Tensor, b: int) -> torch.Tensor:
    """(n, p) -> (b, p): C[:b] @ g, the adjoint of :func:`_expand_first`, by the same symmetry."""
    n, p = g.shape
    ce, co = _half_bases(n, b, g.dtype, g.device)
    h, m = (n + 1) // 2, n // 2
    out = torch.empty(b, p, dtype=g.dtype, device=g.device)
    width = max(1, _BLOCK_ELEMENTS // h)
    for c in range(0, p, width):
        cols = slice(c, min(p, c + width))
        plus = g[:h, cols].clone()
        minus = plus.clone()
        tail = g[h:, cols].flip(0)  # tail[i] = g[n-1-i], i < m
        plus[:m] += tail
        minus[:m] -= tail
        out[0::2, cols] = ce @ plus
        out[1::2, cols] = co @ minus
    return out


def _expand_last(x: torch.Tensor, n: int) -> torch.Tensor:
    """(p, b) -> (p, n): x @ C[:b], the last-dim form of :func:`_expand_first`, blocked over rows."""
    p, b = x.shape
    ce, co = _half_bases(n, b, x.dtype, x.device)
    h, m = (n + 1) // 2, n // 2
    xe, xo = x[:, 0::2].contiguous(), x[:, 1::2].contiguous()
    out = torch.empty(p, n, dtype=x.dtype, device=x.device)
    height = min(p, max(1, _BLOCK_ELEMENTS // h))
    e_buf = torch.empty(height, h, dtype=x.dtype, device=x.device)
    o_buf = torch.empty_like(e_buf)
    for r in range(0, p, height):
        w = min(height, p - r)
        e, o = e_buf[:w], o_buf[:w]
        torch.mm(xe[r : r + w], ce, out=e)
        torch.mm(xo[r : r + w], co, out=o)
        torch.add(e, o, out=out[r : r + w, :h])
        e.sub_(o)
        out[r : r + w, h:] = e[:, :m].flip(1)
    return out


def _contract_last(g: torch.Tensor, b: int) -> torch.Tensor:
    """(p, n) -> (p, b): g @ C[:b].T, the adjoint of :func:`_expand_last`."""
    return _contract_first(g.T, b).T


class _SymmetricExpand(torch.autograd.Function):
    """Expand dim 0 (``last=False``) or the last dim of a 2-d tensor from b coefficients to n samples."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, n: int, last: bool) -> torch.Tensor:
        ctx.b, ctx.last = x.shape[-1] if last else x.shape[0], last
        return _expand_last(x, n) if last else _expand_first(x, n)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        g = g.contiguous()
        grad = _contract_last(g, ctx.b) if ctx.last else _contract_first(g, ctx.b)
        return grad, None, None


def _expand_along(y: torch.Tensor, n: int, dim: int) -> torch.Tensor:
    """Inverse DCT along ``dim`` of the first ``y.shape[dim]`` coefficients, to ``n`` samples."""
    b = y.shape[dim]
    if n >= SYMMETRIC_MIN_SIZE and b > 1 and dim in (0, y.dim() - 1):
        last = dim == y.dim() - 1 and y.dim() > 1
        flat = y.reshape(-1, b) if last else y.reshape(b, -1)
        out = _SymmetricExpand.apply(flat, n, last)
        return out.reshape(*y.shape[:-1], n) if last else out.reshape(n, *y.shape[1:])
    m = dct_matrix(n, y.dtype, y.device)[:b]
    return _apply_along(y, m.T, dim)


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
        y = _expand_along(y, shape[d], d)
    return y.to(X_box.dtype)


def dctn_fft(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal DCT-II over all dims by FFT (Makhoul): same result as :func:`dctn`.

    Any shape; float32/64 in, same dtype out. O(n log n) per axis instead of the matrix form's
    O(n^2). Used once per weight when a layer is converted to FR (:func:`dctn` would cost about
    0.5 TFLOP for AlexNet's 4096x9216 weight); the layer's forward keeps the matrix form.
    """
    y = x.to(torch.float64 if x.dtype == torch.float64 else torch.float32)
    for d in range(y.dim()):
        n = y.shape[d]
        if n == 1:
            continue
        v = y.movedim(d, -1)
        v = torch.cat([v[..., 0::2], v[..., 1::2].flip(-1)], dim=-1)
        spec = torch.fft.fft(v, dim=-1)
        k = torch.arange(n, dtype=y.dtype, device=y.device)
        scale = torch.full((n,), math.sqrt(2.0 / n), dtype=y.dtype, device=y.device)
        scale[0] = math.sqrt(1.0 / n)
        phase = -math.pi * k / (2 * n)
        out = (spec.real * torch.cos(phase) - spec.imag * torch.sin(phase)) * scale
        y = out.movedim(-1, d)
    return y.to(x.dtype).contiguous()
