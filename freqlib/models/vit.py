"""Vision Transformer for 32x32 images (the FR appendix's ViT, Tables 11-12).

Pre-norm blocks (LayerNorm -> multi-head self-attention -> residual, LayerNorm -> MLP -> residual),
a learned class token and position embedding, and a LayerNorm + Linear head on the class token:
the layout of the widely used CIFAR-10 ViT (patch 4, width 512, depth 6, 8 heads of 64, MLP 512).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Attention(nn.Module):
    """Multi-head self-attention: ``qkv`` Linear(dim, 3*heads*head_dim, no bias), ``proj`` back to dim.

    (N, T, dim) -> (N, T, dim).
    """

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.qkv = nn.Linear(dim, 3 * heads * head_dim, bias=False)
        self.proj = nn.Linear(heads * head_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(n, t, -1))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)). (N, T, dim) -> (N, T, dim)."""

    def __init__(self, dim: int, heads: int, head_dim: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, head_dim, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Input (N, channels, image_size, image_size), output logits (N, num_classes).

    Parameters the FR tables count (defaults): ``pos_embedding`` (1, 65, 512) = 33,280,
    ``patch_embedding`` Linear(48, 512) = 24,576, per block ``qkv`` 786,432, ``proj`` 262,144 and the
    MLP's two 262,144, then ``norm`` (the head's LayerNorm, 512 weights) and ``head`` Linear(512, 10)
    = 5,120. ``cls_token`` (1, 1, 512) and the blocks' LayerNorms are not counted there.
    """

    def __init__(
        self,
        image_size: int = 32,
        patch_size: int = 4,
        num_classes: int = 10,
        dim: int = 512,
        depth: int = 6,
        heads: int = 8,
        head_dim: int = 64,
        mlp_dim: int = 512,
        channels: int = 3,
        dropout: float = 0.0,
    ):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"ViT: image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.image_size, self.patch_size = image_size, patch_size
        num_patches = (image_size // patch_size) ** 2
        self.pos_embedding = nn.Parameter(torch.randn(1, num_patches + 1, dim) * 0.02)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.patch_embedding = nn.Linear(channels * patch_size * patch_size, dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, head_dim, mlp_dim, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, (H/p)*(W/p), p*p*C): non-overlapping p x p patches, row by row."""
        n, c, h, w = x.shape
        if (h, w) != (self.image_size, self.image_size):
            raise ValueError(f"ViT: expected {self.image_size}x{self.image_size} inputs, got {h}x{w}")
        p = self.patch_size
        x = x.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(n, (h // p) * (w // p), p * p * c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, num_classes)."""
        tokens = self.patch_embedding(self.patches(x))
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        x = self.dropout(torch.cat([cls, tokens], dim=1) + self.pos_embedding)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))


def vit_cifar(num_classes: int = 10, depth: int = 6) -> ViT:
    """The FR appendix's ViT: patch 4 on 32x32x3, width 512, ``depth`` blocks, 8 heads, MLP 512 (9,500,672 counted)."""
    return ViT(num_classes=num_classes, depth=depth)
