"""Spatial Sparse Attention: the module, the functional form, and backend dispatch.

Spatial Sparse Attention (SSA; Direct3D-S2, Wu et al. 2025, "Gigascale 3D Generation Made Easy with
Spatial Sparse Attention") adapts Native Sparse Attention (NSA; Yuan et al. 2025, "Native
Sparse Attention: Hardware-Aligned and Natively Trainable Sparse Attention") to the occupied voxels
of a sparse 3D grid. Each token's output is a gated sum of three branches (NSA eq. 5):

``o = g_cmp * o_cmp + g_slc * o_slc + g_win * o_win``, gates ``sigmoid(Linear(x))``, one per branch
and query head, where

* ``o_cmp`` (compression): attention to every compressed token of the batch item (each compression
  block's keys, plus a learned intra-block positional encoding, and values mean-pooled into one);
* ``o_slc`` (selection): attention to the tokens of the top-k selection blocks, ranked by the
  compression branch's attention probabilities summed over the query heads of the KV group (GQA);
* ``o_win`` (sliding window): full attention inside 3D windows, shifted by half a window on
  alternate layers (``shift_window=True``).

The three branches share one set of queries, keys and values (NSA uses separate keys and values per
branch; Direct3D-S2 does not say, sharing halves the projections). No positional encoding other than
the intra-block one; no causal masking (3D tokens have no order).

Backends: ``"torch"`` (:mod:`n4d4d.kernels.reference`, the specification, any device), ``"triton"``
(:mod:`n4d4d.kernels.triton_varlen` and :mod:`n4d4d.kernels.triton_selection`, CUDA or the Triton CPU
interpreter) and ``"auto"`` (Triton for CUDA tensors when Triton is installed, torch otherwise).
Compression pooling is torch code shared by both backends (:mod:`n4d4d.kernels.compression`);
block importance for the top-k selection is torch in the torch backend and a Triton kernel reusing the
compression branch's log-sum-exp in the Triton backend (:mod:`n4d4d.kernels.triton_topk`), followed
by ``torch.topk`` in both. What this module does not do: no feed-forward, normalisation or
residual (the transformer block around it is the generator's), no KV cache, no dropout.
"""

from __future__ import annotations

import torch
from torch import nn

from n4d4d.kernels import reference
from n4d4d.kernels.compression import compress_kv, select_blocks
from n4d4d.kernels.layout import BlockLayout, WindowLayout, block_layout, window_layout
from n4d4d.kernels.sparse_tensor import SparseTensor

BACKENDS = ("auto", "torch", "triton")


def use_triton(backend: str, x: torch.Tensor) -> bool:
    """Resolve ``backend`` for tensor ``x``: ``"auto"`` means Triton iff ``x`` is on CUDA and Triton imports."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend == "triton"
    if not x.is_cuda:
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def compression_branch(q: torch.Tensor, k_cmp: torch.Tensor, v_cmp: torch.Tensor, layout: BlockLayout,
                       scale: float | None = None, backend: str = "auto",
                       return_lse: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``q`` ``(N, H, D)`` attends to the ``(n_cmp, H_kv, D)`` compressed tokens of its batch item.

    Returns ``(N, H, D)``, and with ``return_lse`` also the ``(N, H)`` float32 log-sum-exp.
    """
    if use_triton(backend, q):
        from n4d4d.kernels.triton_varlen import varlen_attention

        o, lse = varlen_attention(q, k_cmp, v_cmp, layout.cu_seqlens, layout.compression.cu_blocks, scale,
                                  tile_cache=layout.cache.setdefault(("triton_cmp", str(q.device)), {}))
    else:
        o, lse = reference.block_sparse_attention(q, k_cmp, v_cmp, layout.compression.cu_blocks,
                                                  layout.token_batch[:, None, None], scale,
                                                  return_lse=return_lse)
    return (o, lse) if return_lse else o


def selection_branch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_idx: torch.Tensor,
                     layout: BlockLayout, scale: float | None = None, backend: str = "auto") -> torch.Tensor:
    """``q`` ``(N, H, D)`` attends to the tokens of its selection blocks ``block_idx`` ``(N, H_kv, K)``."""
    if use_triton(backend, q):
        from n4d4d.kernels.triton_selection import selection_attention

        return selection_attention(q, k, v, block_idx, layout.selection.offsets, scale,
                                   tile_cache=layout.cache.setdefault(("triton_sel", str(q.device)), {}))
    return reference.selection_attention(q, k, v, block_idx, layout, scale)


def window_branch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: WindowLayout,
                  scale: float | None = None, backend: str = "auto") -> torch.Tensor:
    """Full attention inside each 3D window; ``q, k, v`` and the output in block order."""
    if use_triton(backend, q):
        from n4d4d.kernels.triton_varlen import varlen_attention

        off = window.partition.offsets
        cache = window.cache.setdefault(("triton", str(q.device)), {})
        if window.is_identity:
            return varlen_attention(q, k, v, off, off, scale, tile_cache=cache)[0]
        o = varlen_attention(q[window.order], k[window.order], v[window.order], off, off, scale,
                             tile_cache=cache)[0]
        return o[window.inverse]
    return reference.window_attention(q, k, v, window, scale)


def spatial_sparse_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, gates: torch.Tensor,
                             layout: BlockLayout, window: WindowLayout, topk: int = 16,
                             block_pe: torch.Tensor | None = None, scale: float | None = None,
                             backend: str = "auto") -> torch.Tensor:
    """Gated sum of the compression, selection and window branches (NSA eq. 5).

    Args:
        q: ``(N, H, D)`` queries of the ``N`` tokens in block order (``layout.order``), float32,
            float16 or bfloat16.
        k, v: ``(N, H_kv, D)`` keys and values, same dtype; ``H`` a multiple of ``H_kv`` (GQA groups
            of ``H / H_kv`` query heads share keys, values and block selection).
        gates: ``(N, H, 3)`` branch gates in [0, 1] (compression, selection, window), e.g.
            ``sigmoid(Linear(x))``.
        layout: :class:`BlockLayout` of the tokens (batch items of different lengths are its
            ``cu_seqlens`` runs; a query only sees keys of its own batch item).
        window: :class:`WindowLayout` over ``layout``.
        topk: selection blocks per query and KV head; if a batch item has fewer selection blocks,
            all of them are selected.
        block_pe: ``(c**3, H_kv, D)`` intra-block positional encoding of the compressed keys, or None.
        scale: softmax scale, default ``1 / sqrt(D)``.
        backend: ``"auto"``, ``"torch"`` or ``"triton"``.

    Returns:
        ``(N, H, D)`` in ``q.dtype``, differentiable in q, k, v, gates and block_pe (not through the
        discrete block selection).

    Edge cases:
        * empty blocks do not exist: blocks and windows are made of occupied voxels only, so every
          compression block, selection block and window holds 1 to ``side**3`` tokens; a batch item
          with no voxels is an empty run of ``cu_seqlens`` and contributes nothing;
        * a block or window with fewer tokens than its side cubed (the usual case on a surface) is a
          shorter run; a token alone in its window attends only to itself in the window branch, and a
          one-token compression block compresses to that token (plus its positional encoding);
        * batch items of different lengths share the flat token axis; no branch attends across items
          (compressed tokens, selection blocks and windows are per item), and an item with fewer than
          ``topk`` selection blocks selects all of them (the rest of ``block_idx`` is ``-1``).
    """
    n, h, d = q.shape
    if k.shape != v.shape or k.shape[0] != n or k.shape[2] != d or h % k.shape[1]:
        raise ValueError(f"bad shapes: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    if gates.shape != (n, h, 3):
        raise ValueError(f"gates must have shape {(n, h, 3)}, got {tuple(gates.shape)}")
    if layout.num_tokens != n:
        raise ValueError(f"layout has {layout.num_tokens} tokens, q has {n}")
    k_cmp, v_cmp = compress_kv(k, v, layout, block_pe)
    if use_triton(backend, q):
        from n4d4d.kernels.triton_topk import select_blocks_triton

        o_cmp, lse_cmp = compression_branch(q, k_cmp, v_cmp, layout, scale, backend, return_lse=True)
        block_idx = select_blocks_triton(q.detach(), k_cmp.detach(), lse_cmp, layout, topk, scale)
    else:
        block_idx = select_blocks(q.detach(), k_cmp.detach(), layout, topk, scale)
        o_cmp = compression_branch(q, k_cmp, v_cmp, layout, scale, backend)
    o_slc = selection_branch(q, k, v, block_idx, layout, scale, backend)
    o_win = window_branch(q, k, v, window, scale, backend)
    g = gates.to(q.dtype)
    return g[..., 0:1] * o_cmp + g[..., 1:2] * o_slc + g[..., 2:3] * o_win


class SpatialSparseAttention(nn.Module):
    """Spatial sparse self-attention over a :class:`SparseTensor` (Direct3D-S2, NSA).

    Args:
        dim: feature channels ``C`` of the input and output.
        heads: query heads ``H``.
        kv_heads: key/value heads ``H_kv`` (divides ``H``; default ``H``, i.e. no GQA).
        head_dim: per-head channels ``D`` (default ``dim // heads``).
        compression_block: side ``c`` of the compression blocks in voxels (default 4).
        selection_block: side ``s`` of the selection blocks, a multiple of ``c`` (default 8).
        topk: selection blocks per query (default 16; Direct3D-S2 and NSA use 8 to 32).
        window: side of the 3D attention windows in voxels (default 8).
        shift_window: shift the windows by ``window // 2`` voxels (use on alternate layers).
        backend: ``"auto"`` | ``"torch"`` | ``"triton"`` (see :func:`spatial_sparse_attention`).

    ``forward(x)`` takes a :class:`SparseTensor` with ``feats`` ``(N, C)`` in any row order and returns
    one with the same coordinates, row order and cache, ``feats`` ``(N, C)``. The token layout is cached
    on ``x`` (once per resolution). Parameters: ``to_q`` ``C -> H*D``, ``to_kv`` ``C -> 2*H_kv*D``,
    ``to_gates`` ``C -> 3*H`` (bias 0: gates start at 0.5), ``block_pe`` ``(c**3, H_kv, D)`` (zeros),
    ``to_out`` ``H*D -> C``.
    """

    def __init__(self, dim: int, heads: int, kv_heads: int | None = None, head_dim: int | None = None, *,
                 compression_block: int = 4, selection_block: int = 8, topk: int = 16, window: int = 8,
                 shift_window: bool = False, backend: str = "auto"):
        super().__init__()
        kv_heads = heads if kv_heads is None else kv_heads
        head_dim = dim // heads if head_dim is None else head_dim
        if heads % kv_heads or head_dim < 1:
            raise ValueError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads}), head_dim >= 1")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.compression_block, self.selection_block = compression_block, selection_block
        self.topk, self.window, self.shift_window, self.backend = topk, window, shift_window, backend
        self.to_q = nn.Linear(dim, heads * head_dim)
        self.to_kv = nn.Linear(dim, 2 * kv_heads * head_dim)
        self.to_gates = nn.Linear(dim, 3 * heads)
        nn.init.zeros_(self.to_gates.bias)
        self.block_pe = nn.Parameter(torch.zeros(compression_block**3, kv_heads, head_dim))
        self.to_out = nn.Linear(heads * head_dim, dim)

    def forward(self, x: SparseTensor) -> SparseTensor:
        c, s = self.compression_block, self.selection_block
        layout = block_layout(x, c, s)
        win = window_layout(x, c, s, self.window, self.window // 2 if self.shift_window else 0)
        feats = x.feats if layout.is_sorted else x.feats[layout.order]
        n = feats.shape[0]
        q = self.to_q(feats).view(n, self.heads, self.head_dim)
        k, v = self.to_kv(feats).view(n, 2, self.kv_heads, self.head_dim).unbind(1)
        gates = torch.sigmoid(self.to_gates(feats)).view(n, self.heads, 3)
        o = spatial_sparse_attention(q, k, v, gates, layout, win, self.topk, self.block_pe,
                                     backend=self.backend)
        out = self.to_out(o.reshape(n, self.heads * self.head_dim))
        return x.replace(out if layout.is_sorted else out[layout.inverse])

    def extra_repr(self) -> str:
        return (f"heads={self.heads}, kv_heads={self.kv_heads}, head_dim={self.head_dim}, "
                f"compression_block={self.compression_block}, selection_block={self.selection_block}, "
                f"topk={self.topk}, window={self.window}, shift_window={self.shift_window}, "
                f"backend={self.backend!r}")

