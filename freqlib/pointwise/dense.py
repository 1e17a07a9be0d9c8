"""Dense per-band inference form of a pruned frequency-domain pointwise convolution (Fig 4c).

For every group of coefficients whose sets of keeping input channels are identical, the module
computes only those coefficients of only those channels (the truncated DCT: basis rows of the
kept coefficients times the pixels of each macroblock), one dense matrix product per coefficient
with the matching weight columns, and one inverse DCT over the coefficients anybody keeps.
Channels are reordered by band length, so for band masks every channel set is a contiguous
prefix and no gather is needed beyond the one reordering copy of the input.

Layout, chosen so that every step is a plain 2-d matrix product or a copy of contiguous rows:
the (reordered) input is copied once to (pixel row i, channel, batch, block row, image column),
so for each i the rows (channel, position) x pixel column j form a contiguous matrix; the forward
DCT of a run of channels with the same kept coefficients is b accumulated products
``basis_i (k, b) @ rows_i.T`` written straight into a (coefficient, channel, position) buffer;
each kept coefficient is one product ``weight (C_out, m) @ coef (m, positions)`` over its m
channels; the inverse DCT is one product ``basis_kept.T (b*b, K) @ coef (K, C_out * positions)``,
then one permuting copy to (N, C_out, H, W).
"""

from __future__ import annotations

import torch
from torch import nn

from .transform import block_basis, pad_to_block


def _plan(mask: torch.Tensor):
    """Channel order, channel runs and per-coefficient channel prefixes for a (C, N) bool mask.

    Active channels (keeping anything) are sorted by band length (descending), then row pattern,
    then index; runs are consecutive channels with identical rows. ``prefix[n]`` is the number of
    sorted channels up to the last one keeping coefficient n: for band masks exactly the channels
    keeping n, otherwise a superset whose extra entries are zero.
    """
    rows = [tuple(bool(v) for v in r) for r in mask.tolist()]
    order = sorted((c for c in range(len(rows)) if any(rows[c])), key=lambda c: (-sum(rows[c]), rows[c][::-1], c))
    runs: list[tuple[int, int, list[int]]] = []  # (start, stop, coefficients) in sorted positions
    for pos, c in enumerate(order):
        coefs = [n for n, keep in enumerate(rows[c]) if keep]
        if runs and runs[-1][2] == coefs:
            runs[-1] = (runs[-1][0], pos + 1, coefs)
        else:
            runs.append((pos, pos + 1, coefs))
    kept = [n for n in range(mask.shape[1]) if any(rows[c][n] for c in order)]
    prefix = {n: 1 + max(p for p, c in enumerate(order) if rows[c][n]) for n in kept}
    exact = all(rows[order[p]][n] for n in kept for p in range(prefix[n]))
    return order, runs, kept, prefix, exact


class DenseBandPointwise(nn.Module):
    """Inference module equal to a masked :class:`FrequencyBandPointwise`; (N, C_in, H, W) -> (N, C_out, H, W).

    Built by :meth:`FrequencyBandPointwise.compile_dense`. ``weight`` (C_out, C_in), ``bias``
    (C_out,) or None, ``mask`` (C_in, b*b) bool in zigzag order. The bias is added as ``b * bias``
    to the DC coefficient (or in the pixel domain when no channel keeps the DC coefficient).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, mask: torch.Tensor, block: int):
        super().__init__()
        weight = weight.detach().reshape(weight.shape[0], -1)
        mask = mask.detach().cpu().bool()
        self.block, self.in_channels, self.out_channels = block, weight.shape[1], weight.shape[0]
        self.register_buffer("mask", mask.clone())
        order, runs, kept, prefix, exact = _plan(mask)
        dev = weight.device
        self.identity_order = order == list(range(self.in_channels))
        self.zero_fill = not exact  # general masks: channels inside a prefix that drop n read zeros
        self.kept_coefficients = kept
        self.register_buffer("order", torch.tensor(order, dtype=torch.int64, device=dev))
        self.register_buffer("sorted_weight", weight[:, self.order].contiguous() if order else weight[:, :0])
        basis = block_basis(block, weight.dtype, dev)
        position = {n: p for p, n in enumerate(kept)}
        self.runs: list[tuple[int, int, int, int | None]] = []  # (start, stop, first row, last row or None)
        for r, (start, stop, coefs) in enumerate(runs):
            rows = [position[n] for n in coefs]
            contiguous = rows == list(range(rows[0], rows[-1] + 1))
            per_i = basis[coefs].view(len(coefs), block, block).transpose(0, 1)  # (i, k, j)
            self.register_buffer(f"run_basis_{r}", per_i.contiguous())
            self.register_buffer(f"run_rows_{r}", None if contiguous else torch.tensor(rows, device=dev))
            self.runs.append((start, stop, rows[0], rows[-1] + 1 if contiguous else None))
        self.products: list[tuple[int, int, int]] = []  # (first row, last row, channel prefix)
        for p, n in enumerate(kept):
            if self.products and self.products[-1][2] == prefix[n]:
                self.products[-1] = (self.products[-1][0], p + 1, prefix[n])
            else:
                self.products.append((p, p + 1, prefix[n]))
        # band masks (exact prefixes): one forward DCT of all kept coefficients for all active
        # channels (entries past a coefficient's prefix are computed but never read), b products
        # instead of b per run; costs at most C*K/sum(mask) times the DCT MACs, a small share
        # of the pointwise MACs when C_out >> b*b, and saves the per-run calls
        self.fused_dct = exact and len(self.runs) > 1
        kept_basis = basis[kept].view(len(kept), block, block).transpose(0, 1) if kept else basis[:0]
        self.register_buffer("fused_basis", kept_basis.contiguous() if self.fused_dct else None)  # (i, K, j)
        self.register_buffer("inverse_basis", basis[kept].T.contiguous())  # (b*b, K)
        self.dc_bias = bias is not None and 0 in position
        scaled = None if bias is None else bias.detach().clone() * (block if self.dc_bias else 1)
        self.register_buffer("bias", scaled)
        self._workspace: dict[str, torch.Tensor] = {}

    @property
    def groups(self) -> list[tuple[int, int, int]]:
        """Coefficient groups sharing one channel set: (first, last + 1, channel count) in kept order."""
        return self.products

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) -> (N, C_out, H, W). Inference only (no autograd); not reentrant (shared work buffers)."""
        if torch.is_grad_enabled() and x.requires_grad:
            raise RuntimeError("DenseBandPointwise is inference-only; use FrequencyBandPointwise for training")
        h, w = x.shape[-2:]
        x = pad_to_block(x, self.block)
        b, (n, _, hp, wp) = self.block, x.shape
        hb, wb = hp // b, wp // b
        out = torch.empty(n, self.out_channels, hb, b, wb, b, dtype=x.dtype, device=x.device)
        if self.kept_coefficients:
            pix = self._pixels(x, b, hb, n * hb * wb)  # (i, j, C_out, N, Hb, Wb)
            out.copy_(pix.view(b, b, self.out_channels, n, hb, wb).permute(3, 2, 4, 0, 5, 1))
        else:
            out.zero_()
        if self.bias is not None and not self.dc_bias:
            out.add_(self.bias.view(1, -1, 1, 1, 1, 1))
        out = out.view(n, self.out_channels, hp, wp)
        return out if (hp, wp) == (h, w) else out[:, :, :h, :w].contiguous()

    def _pixels(self, x: torch.Tensor, b: int, hb: int, length: int) -> torch.Tensor:
        """Output pixels (b*b, C_out * positions) for padded input (N, C_in, Hb*b, Wb*b)."""
        n, c, wp = x.shape[0], self.order.numel(), x.shape[-1]
        view = x.view(n, -1, hb, b, wp).permute(3, 1, 0, 2, 4)  # (i, C_in, N, Hb, W)
        rows = self._scratch("rows", (b, c, n, hb, wp), x)
        for i in range(b):  # one pass per pixel row i: measured faster than one permute copy
            if self.identity_order:
                rows[i].copy_(view[i])
            else:
                torch.index_select(view[i], 0, self.order, out=rows[i])
        rows = rows.view(b, c * length, b)  # (i, channel * positions, j)
        k = len(self.kept_coefficients)
        spec = self._scratch("spec", (k, c, length), x)  # (coefficient, channel, position)
        if self.zero_fill:
            spec.zero_()
        if self.fused_dct:
            dst = spec.view(k, c * length)
            torch.mm(self.fused_basis[0], rows[0].T, out=dst)
            for i in range(1, b):
                dst.addmm_(self.fused_basis[i], rows[i].T)
        for r, (start, stop, first, last) in enumerate([] if self.fused_dct else self.runs):
            basis = getattr(self, f"run_basis_{r}")  # (i, k_r, j)
            sub = rows[:, start * length : stop * length]  # (i, m_r * positions, j)
            if last is None:  # rows scattered in the kept order: compute, then copy into place
                dst = torch.empty(basis.shape[1], sub.shape[1], dtype=x.dtype, device=x.device)
            else:  # write straight into the strided (k_r, m_r * positions) block of spec
                dst = spec[first:last, start:stop].view(basis.shape[1], -1)
            torch.mm(basis[0], sub[0].T, out=dst)
            for i in range(1, b):
                dst.addmm_(basis[i], sub[i].T)
            if last is None:
                spec[:, start:stop].index_copy_(0, getattr(self, f"run_rows_{r}"), dst.view(-1, stop - start, length))
        coef = self._scratch("coef", (k, self.out_channels, length), x)
        for first, last, m in self.products:
            weight = self.sorted_weight[:, :m]
            for p in range(first, last):
                torch.mm(weight, spec[p, :m], out=coef[p])
        if self.dc_bias:
            coef[0].add_(self.bias[:, None])
        return torch.mm(self.inverse_basis, coef.view(k, -1), out=self._scratch("pix", (b * b, coef[0].numel()), x))

    def _scratch(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A work buffer kept between calls (fresh multi-MB allocations cost page faults on every call)."""
        buf = self._workspace.get(name)
        if buf is None or buf.shape != shape or buf.dtype != like.dtype or buf.device != like.device:
            buf = self._workspace[name] = torch.empty(shape, dtype=like.dtype, device=like.device)
        return buf

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, block={self.block}, groups={len(self.products)}, "
            f"kept={int(self.mask.sum())}/{self.mask.numel()}"
        )
