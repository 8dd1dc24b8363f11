"""Spatial Sparse Attention kernels: sparse tensor, token layout, torch references, Triton kernels.

Spatial Sparse Attention (Direct3D-S2, Wu et al. 2025) over the occupied voxels of a sparse 3D grid,
built on Native Sparse Attention (Yuan et al. 2025): compression, top-k block selection and 3D
sliding-window branches with grouped-query attention, each with a torch reference (the
specification) and Triton forward/backward kernels, dispatched automatically on CUDA.

    from n4d4d.kernels import SparseTensor, SpatialSparseAttention
    x = SparseTensor(coords, feats)              # coords (N, 4) int32 batch,x,y,z; feats (N, C)
    attn = SpatialSparseAttention(dim=C, heads=16, kv_heads=2)
    y = attn(x)                                  # SparseTensor, same coords, feats (N, C)

Importing this package does not import torch; the names below load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SparseTensor": "sparse_tensor",
    "BlockLayout": "layout", "WindowLayout": "layout", "Partition": "layout",
    "block_layout": "layout", "window_layout": "layout",
    "compute_block_layout": "layout", "compute_window_layout": "layout",
    "compress_kv": "compression", "select_blocks": "compression", "block_importance": "compression",
    "block_sparse_attention": "reference",
    "SpatialSparseAttention": "ssa", "spatial_sparse_attention": "ssa",
    "compression_branch": "ssa", "selection_branch": "ssa", "window_branch": "ssa",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"n4d4d.kernels.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'n4d4d.kernels' has no attribute {name!r}")
