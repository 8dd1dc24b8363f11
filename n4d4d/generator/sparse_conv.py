"""Sparse 3D convolutions in plain torch: submanifold convolution, 2x downsampling, 2x subdivision.

What it does: the three convolutions of a sparse-voxel U-Net (SS-VAE of Direct3D-S2, Wu et al. 2025,
sec. 3.1; the sparse VAEs of TRELLIS, Xiang et al. 2024) on the :class:`~n4d4d.kernels.sparse_tensor.
SparseTensor` type (coords ``(N, 4) int32`` = batch, x, y, z; feats ``(N, C)``):

* :class:`SubMConv3d`, the *submanifold* sparse convolution (Graham & van der Maaten 2017): outputs
  only at the input's active voxels, inputs only from active voxels (absent neighbours count as 0);
  equal to a dense ``conv3d`` (padding ``k // 2``) on the zero-filled grid, read at the active voxels;
* :class:`SparseDownsample`: a ``kernel 2, stride 2`` convolution onto the parent voxels
  ``xyz // 2`` (every parent with at least one active child), equal to dense ``conv3d(k=2, s=2)``;
* :class:`SparseSubdivide`: a ``kernel 2, stride 2`` transposed convolution onto a chosen subset of
  the 8 children ``2 xyz + {0,1}^3`` of every voxel (the subset is the decoder's pruning decision),
  equal to dense ``conv_transpose3d(k=2, s=2)`` read at the kept children.

All three reduce to one operation on a *neighbour map* (rulebook): for each kernel offset ``k`` a list
of (input row, output row) pairs, ``out[o] += feats[i] @ W[k]``. Maps depend only on coordinates, so
they are computed once per resolution and cached on the tensor (``SparseTensor.cached``): every layer
working on tensors made by ``replace`` reuses them. The autograd function saves only ``feats`` and
``W`` (not the gathered rows) and computes gradients with the same pairs; within one offset each output
row and each input row appears at most once, so every scatter touches distinct rows and the result
is deterministic on CPU and GPU.

What it does not: no spconv / torchsparse backend (spconv's backward needs CUDA streams with a CPU
torch), no strided submanifold convolution, no dilation, no implicit-GEMM fusion: it is a loop of
``K`` gather-matmul-scatter steps, fast enough for the ~10^5-voxel bands of the SS-VAE on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from n4d4d.kernels.sparse_tensor import SparseTensor

#: Child offsets of a 2x subdivision in kernel order ``k = 4 dx + 2 dy + dz``, ``(8, 3)`` int64.
CHILD_OFFSETS = torch.tensor([[dx, dy, dz] for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)])


@dataclass(frozen=True, eq=False)
class NeighbourMap:
    """Rulebook of a sparse convolution: the (input, output) row pairs of each kernel offset.

    Attributes:
        in_idx: ``(P,)`` int64 input rows, grouped by kernel offset.
        out_idx: ``(P,)`` int64 output rows, same order.
        offsets: ``K + 1`` Python ints; offset ``k`` owns pairs ``offsets[k]:offsets[k + 1]``.
        num_out: number of output rows.
    """

    in_idx: torch.Tensor
    out_idx: torch.Tensor
    offsets: tuple[int, ...]
    num_out: int

    @property
    def num_kernel(self) -> int:
        return len(self.offsets) - 1


def coord_keys(coords: torch.Tensor, extent: int) -> torch.Tensor:
    """``(N,)`` int64 keys ``((b E + x) E + y) E + z`` of ``(N, 4)`` coords with ``0 <= xyz < E``."""
    c = coords.long()
    return ((c[:, 0] * extent + c[:, 1]) * extent + c[:, 2]) * extent + c[:, 3]


def _extent(coords: torch.Tensor) -> int:
    """A key extent leaving room for the +-1 neighbours and the 2x children of every voxel."""
    return 2 * int(coords[:, 1:].max()) + 4


def _lookup(skeys: torch.Tensor, order: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Row of each ``query`` key among unique keys sorted as ``skeys`` (``keys[order]``), or -1; int64."""
    pos = torch.searchsorted(skeys, query).clamp_(max=skeys.shape[0] - 1)
    return torch.where(skeys[pos] == query, order[pos], torch.full_like(pos, -1))


#: Key spaces up to this size are looked up in a dense table (4 bytes per key), larger ones by sorting.
DENSE_TABLE_MAX = 1 << 24


def _finder(keys: torch.Tensor, key_space: int):
    """A function mapping query keys ``(Q,)`` to the row of that key in ``keys`` ``(N,)`` or -1.

    Keys must lie in ``[0, key_space)``; queries may not. A dense table is used when the key space
    is small, else sorted keys and binary search.
    """
    if key_space <= DENSE_TABLE_MAX:
        table = torch.full((key_space,), -1, dtype=torch.long, device=keys.device)
        table[keys] = torch.arange(keys.shape[0], device=keys.device)

        def find(q: torch.Tensor) -> torch.Tensor:
            inside = (q >= 0) & (q < key_space)
            return torch.where(inside, table[q.clamp(0, key_space - 1)], torch.full_like(q, -1))
        return find
    skeys, order = torch.sort(keys)
    return lambda q: _lookup(skeys, order, q)


def coords_lookup(table: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Row of each ``query (Q, 4)`` voxel in ``table (N, 4)`` (unique voxels), or -1; ``(Q,)`` int64.

    Coordinates must be non-negative.
    """
    ext = max(int(table[:, 1:].max()), int(query[:, 1:].max())) + 1
    nb = max(int(table[:, 0].max()), int(query[:, 0].max())) + 1
    return _finder(coord_keys(table, ext), nb * ext**3)(coord_keys(query, ext))


def _map_from_pairs(k: torch.Tensor, i: torch.Tensor, o: torch.Tensor, num_kernel: int,
                    num_out: int) -> NeighbourMap:
    order = torch.argsort(k, stable=True)
    counts = torch.bincount(k, minlength=num_kernel).tolist()
    offsets = [0]
    for c in counts:
        offsets.append(offsets[-1] + c)
    return NeighbourMap(i[order].contiguous(), o[order].contiguous(), tuple(offsets), num_out)


def submanifold_map(x: SparseTensor, kernel_size: int = 3) -> NeighbourMap:
    """Neighbour map of a submanifold convolution on ``x`` (cached on ``x`` per kernel size).

    Offset ``k = (dx K + dy) K + dz`` (``K = kernel_size``, odd) pairs output voxel ``v`` with the
    active input voxel ``v + (dx, dy, dz) - K // 2``, the cross-correlation order of ``conv3d``.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"submanifold convolution needs an odd kernel size, got {kernel_size}")

    def build() -> NeighbourMap:
        coords = x.coords.long()
        r = kernel_size // 2
        rng = torch.arange(kernel_size, device=coords.device) - r
        d = torch.stack(torch.meshgrid(rng, rng, rng, indexing="ij"), -1).reshape(-1, 3)
        shifted = coords + r  # keep every neighbour's coordinates non-negative
        shifted[:, 0] = coords[:, 0]
        ext = int(shifted[:, 1:].max()) + r + 1
        find = _finder(coord_keys(shifted, ext), x.batch_size * ext**3)
        ks, ins, outs = [], [], []
        n = coords.shape[0]
        rows = torch.arange(n, device=coords.device)
        for k in range(d.shape[0]):
            q = shifted.clone()
            q[:, 1:] += d[k]
            idx = find(coord_keys(q, ext))
            ok = idx >= 0
            ks.append(torch.full((int(ok.sum()),), k, dtype=torch.long, device=coords.device))
            ins.append(idx[ok])
            outs.append(rows[ok])
        return _map_from_pairs(torch.cat(ks), torch.cat(ins), torch.cat(outs), d.shape[0], n)

    return x.cached(("submanifold_map", kernel_size), build)


def downsample_map(x: SparseTensor) -> tuple[torch.Tensor, NeighbourMap]:
    """Parent coords ``(M, 4) int32`` (sorted by key, unique) and the 8-offset map fine -> parent.

    Cached on ``x``. Input voxel ``v`` feeds parent ``v // 2`` through offset ``k = 4 (x % 2) +
    2 (y % 2) + z % 2``, the order of a dense ``conv3d(kernel_size=2, stride=2)`` weight.
    """
    def build():
        c = x.coords.long()
        parent = c.clone()
        parent[:, 1:] = torch.div(c[:, 1:], 2, rounding_mode="floor")
        ext = _extent(c)
        pkeys, inverse = torch.unique(coord_keys(parent, ext), return_inverse=True)
        b = torch.div(pkeys, ext**3, rounding_mode="floor")
        rem = pkeys % ext**3
        pc = torch.stack([b, torch.div(rem, ext * ext, rounding_mode="floor"),
                          torch.div(rem, ext, rounding_mode="floor") % ext, rem % ext], 1).to(torch.int32)
        bit = c[:, 1:] % 2
        k = bit[:, 0] * 4 + bit[:, 1] * 2 + bit[:, 2]
        rows = torch.arange(c.shape[0], device=c.device)
        return pc, _map_from_pairs(k, rows, inverse, 8, pc.shape[0])

    return x.cached("downsample_map", build)


def subdivide_map(coords: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, NeighbourMap]:
    """Children coords ``(M, 4) int32`` of ``coords (N, 4)`` where ``keep (N, 8) bool``, and the map.

    Child ``k`` of voxel ``v`` is ``2 v + CHILD_OFFSETS[k]``; rows are in (parent, k) order.
    """
    parent, k = torch.nonzero(keep, as_tuple=True)
    child = coords[parent].long()
    child[:, 1:] = 2 * child[:, 1:] + CHILD_OFFSETS.to(coords.device)[k]
    rows = torch.arange(parent.shape[0], device=coords.device)
    return child.to(torch.int32), _map_from_pairs(k, parent, rows, 8, parent.shape[0])


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """Accumulate half / bfloat16 products in float32 (mixed precision); other dtypes as they are."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


class _MapConv(torch.autograd.Function):
    """``out[o] = sum_k sum_{(i, o) in map_k} feats[i] @ weight[k]`` and its exact gradients.

    Products run in ``feats.dtype``; sums over kernel offsets accumulate in float32 for half
    precision inputs. Autocast is off inside: :func:`map_conv` casts the inputs once beforehand.
    """

    @staticmethod
    def forward(ctx, feats, weight, nmap: NeighbourMap):
        acc = _acc_dtype(feats.dtype)
        out = feats.new_zeros(nmap.num_out, weight.shape[2], dtype=acc)
        off = nmap.offsets
        with torch.autocast(feats.device.type, enabled=False):
            for k in range(nmap.num_kernel):
                if off[k + 1] > off[k]:
                    i, o = nmap.in_idx[off[k]:off[k + 1]], nmap.out_idx[off[k]:off[k + 1]]
                    out.index_add_(0, o, (feats.index_select(0, i) @ weight[k]).to(acc))
        ctx.save_for_backward(feats, weight)
        ctx.nmap = nmap
        return out

    @staticmethod
    def backward(ctx, grad_out):
        feats, weight = ctx.saved_tensors
        nmap = ctx.nmap
        acc = _acc_dtype(feats.dtype)
        grad_out = grad_out.to(feats.dtype)
        gf = torch.zeros(feats.shape, dtype=acc, device=feats.device) if ctx.needs_input_grad[0] else None
        gw = torch.zeros(weight.shape, dtype=acc, device=weight.device) if ctx.needs_input_grad[1] else None
        off = nmap.offsets
        with torch.autocast(feats.device.type, enabled=False):
            for k in range(nmap.num_kernel):
                if off[k + 1] == off[k]:
                    continue
                i, o = nmap.in_idx[off[k]:off[k + 1]], nmap.out_idx[off[k]:off[k + 1]]
                g = grad_out.index_select(0, o)
                if gf is not None:
                    gf.index_add_(0, i, (g @ weight[k].t()).to(acc))
                if gw is not None:
                    gw[k] = (feats.index_select(0, i).t() @ g).to(acc)
        return (None if gf is None else gf.to(feats.dtype)), (None if gw is None else gw.to(weight.dtype)), None


def map_conv(feats: torch.Tensor, weight: torch.Tensor, nmap: NeighbourMap) -> torch.Tensor:
    """Apply a neighbour map: ``feats (N_in, C_in)``, ``weight (K, C_in, C_out)`` -> ``(N_out, C_out)``.

    Under autocast both inputs are cast to the autocast dtype (products in it, sums in float32, a
    float32 result); otherwise the weight is cast to ``feats.dtype``.
    """
    if weight.shape[0] != nmap.num_kernel:
        raise ValueError(f"weight has {weight.shape[0]} kernel offsets, the map {nmap.num_kernel}")
    dev = feats.device.type
    dtype = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else feats.dtype
    return _MapConv.apply(feats.to(dtype), weight.to(dtype), nmap)


def _init_weight(k: int, cin: int, cout: int) -> nn.Parameter:
    w = torch.empty(k, cin, cout)
    bound = 1.0 / math.sqrt(k * cin)  # the default of torch.nn.Conv3d (kaiming_uniform, a = sqrt(5))
    nn.init.uniform_(w, -bound, bound)
    return nn.Parameter(w)


class SubMConv3d(nn.Module):
    """Submanifold sparse convolution ``(N, C_in) -> (N, C_out)`` at the same voxels.

    Weight ``(K^3, C_in, C_out)``; ``weight[(dx K + dy) K + dz, i, o]`` equals a dense
    ``conv3d`` weight ``[o, i, dx, dy, dz]``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = _init_weight(kernel_size**3, in_channels, out_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: SparseTensor) -> SparseTensor:
        out = map_conv(x.feats, self.weight, submanifold_map(x, self.kernel_size))
        return x.replace(out if self.bias is None else out + self.bias.to(out.dtype))


class SparseDownsample(nn.Module):
    """``kernel 2, stride 2`` sparse convolution onto the parent grid (half the resolution).

    Input ``x`` at resolution R, returns a new tensor at R / 2 with coords ``downsample_map(x)[0]``.
    Weight ``(8, C_in, C_out)``; ``weight[4 dx + 2 dy + dz, i, o]`` is ``conv3d`` weight ``[o, i, dx, dy, dz]``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.weight = _init_weight(8, in_channels, out_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: SparseTensor) -> SparseTensor:
        coords, nmap = downsample_map(x)
        out = map_conv(x.feats, self.weight, nmap)
        return SparseTensor(coords, out if self.bias is None else out + self.bias.to(out.dtype), x.batch_size)


class SparseSubdivide(nn.Module):
    """``kernel 2, stride 2`` transposed sparse convolution onto the kept children (twice the resolution).

    ``forward(x, keep)`` with ``keep (N, 8) bool`` (child order :data:`CHILD_OFFSETS`) returns the
    tensor of kept children. Weight ``(8, C_in, C_out)``; ``weight[4 dx + 2 dy + dz, i, o]`` is the
    ``conv_transpose3d`` weight ``[i, o, dx, dy, dz]``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.weight = _init_weight(8, in_channels, out_channels)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: SparseTensor, keep: torch.Tensor) -> SparseTensor:
        if keep.shape != (x.num_tokens, 8):
            raise ValueError(f"keep must have shape ({x.num_tokens}, 8), got {tuple(keep.shape)}")
        if not bool(keep.any()):
            raise ValueError("subdivision keeps no child voxel")
        coords, nmap = subdivide_map(x.coords, keep)
        out = map_conv(x.feats, self.weight, nmap)
        return SparseTensor(coords, out if self.bias is None else out + self.bias.to(out.dtype), x.batch_size)
