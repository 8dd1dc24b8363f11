"""Shifted-window self-attention on sparse voxels: the bottleneck transformer of the SS-VAE.

What it does: partitions the occupied voxels of a :class:`~n4d4d.kernels.sparse_tensor.SparseTensor`
into cubic windows of side ``window`` (window of voxel ``v`` in batch item ``b`` is
``(b, (v + shift) // window)``), and runs multi-head self-attention inside each window, as the
sparse Swin blocks of TRELLIS (Xiang et al. 2024, SLat VAE) and the windowed branch of spatial sparse
attention in Direct3D-S2 (Wu et al. 2025, sec. 3.2). Consecutive blocks alternate ``shift = 0`` and
``shift = window // 2`` (Swin, Liu et al. 2021) so information crosses window borders. Windows are
padded to the longest window and attended with ``scaled_dot_product_attention`` and a key-padding
mask; the window layout is computed once per resolution and cached on the tensor.

What it does not: no positional encoding (the sparse convolutions before it give every token its
local context), no global or compressed attention branch (that is :mod:`n4d4d.kernels`' SSA), no
fused kernel. Padding costs ``windows x L^2`` scores for the longest window ``L``, fine for the
few thousand bottleneck tokens of the SS-VAE, not for full-resolution grids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from n4d4d.kernels.sparse_tensor import SparseTensor


@dataclass(frozen=True, eq=False)
class WindowPartition:
    """Padded window layout of ``N`` tokens.

    Attributes:
        index: ``(W, L) int64`` token row at each window slot, ``N`` (a zero pad row) for padding.
        valid: ``(W, L) bool`` slot holds a token.
        flat: ``(N,) int64`` position ``w * L + slot`` of each token in the flattened ``(W * L)`` layout.
    """

    index: torch.Tensor
    valid: torch.Tensor
    flat: torch.Tensor


def window_partition(x: SparseTensor, window: int, shift: int) -> WindowPartition:
    """The :class:`WindowPartition` of ``x`` for ``window`` and ``shift`` (cached on ``x``)."""
    if window < 1 or not 0 <= shift < window:
        raise ValueError(f"need window >= 1 and 0 <= shift < window, got {window}, {shift}")

    def build() -> WindowPartition:
        c = x.coords.long()
        cell = torch.div(c[:, 1:] + shift, window, rounding_mode="floor")
        ext = int(cell.max()) + 1
        key = ((c[:, 0] * ext + cell[:, 0]) * ext + cell[:, 1]) * ext + cell[:, 2]
        skey, order = torch.sort(key, stable=True)
        _, counts = torch.unique_consecutive(skey, return_counts=True)
        n, nw, length = c.shape[0], counts.shape[0], int(counts.max())
        starts = torch.cumsum(counts, 0) - counts
        win = torch.repeat_interleave(torch.arange(nw, device=c.device), counts)
        slot = torch.arange(n, device=c.device) - starts[win]
        flat = torch.empty(n, dtype=torch.long, device=c.device)
        flat[order] = win * length + slot
        index = torch.full((nw * length,), n, dtype=torch.long, device=c.device)
        index[flat] = torch.arange(n, device=c.device)
        index = index.view(nw, length)
        return WindowPartition(index, index < n, flat)

    return x.cached(("window_partition", window, shift), build)


class SparseWindowAttention(nn.Module):
    """Multi-head self-attention within windows: ``(N, C) -> (N, C)`` at the same voxels."""

    def __init__(self, channels: int, heads: int, window: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: SparseTensor, shift: int = 0) -> SparseTensor:
        part = window_partition(x, self.window, shift)
        n, c = x.feats.shape
        nw, length = part.index.shape
        qkv = self.qkv(x.feats)
        padded = torch.cat([qkv, qkv.new_zeros(1, 3 * c)])[part.index]  # (W, L, 3C)
        q, k, v = padded.view(nw, length, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        mask = part.valid[:, None, None, :]  # keys only; padded queries are discarded below
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (W, H, L, C/H)
        out = out.transpose(1, 2).reshape(nw * length, c)[part.flat]
        return x.replace(self.proj(out))


class SparseTransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(LN(x))``, then ``x + MLP(LN(x))`` (MLP ratio 4, GELU)."""

    def __init__(self, channels: int, heads: int, window: int, shift: int = 0):
        super().__init__()
        self.shift = shift
        self.norm1 = nn.LayerNorm(channels)
        self.attn = SparseWindowAttention(channels, heads, window)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 4 * channels), nn.GELU(), nn.Linear(4 * channels, channels))

    def forward(self, x: SparseTensor) -> SparseTensor:
        h = x.feats + self.attn(x.replace(self.norm1(x.feats)), self.shift).feats
        return x.replace(h + self.mlp(self.norm2(h)))
