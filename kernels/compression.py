"""Block compression and top-k block selection of spatial sparse attention (torch, every backend).

* :func:`compress_kv` pools the keys and values of each compression block into one compressed token:
  a learned intra-block positional encoding is added to each key, then keys and values are averaged
  over the block's tokens. This is the pooling the issue specifies; Direct3D-S2 (Wu et al. 2025,
  "sparse 3D compression") also uses an intra-block positional encoding and mean pooling but puts a
  learned sparse 3D convolution in between, which is not implemented here; NSA (Yuan et al. 2025,
  eq. 7) uses a learned MLP over a block of a 1D sequence.
* :func:`select_blocks` scores each selection block for each query from the compression branch's
  attention probabilities, summed over the compression blocks it contains and over the query heads
  of a KV group (NSA eqs. 8-10), and keeps the top-k blocks (NSA eq. 11).

Both are plain torch. :func:`compress_kv` serves both backends; :func:`select_blocks` is the torch
backend's selection and the specification of the Triton one (:mod:`n4d4d.kernels.triton_topk`, which
selects the same blocks up to float32 near-ties). The selection is not differentiable (gradients
reach the compressed tokens through the compression branch's output only, as in NSA).
What this module does not do: no attention output.
"""

from __future__ import annotations

import math

import torch

from n4d4d.kernels.layout import BlockLayout


def compress_kv(k: torch.Tensor, v: torch.Tensor, layout: BlockLayout,
                block_pe: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean-pool keys (plus positional encoding) and values over each compression block.

    Args:
        k, v: ``(N, H_kv, D)`` in block order.
        layout: the :class:`BlockLayout` of the tokens.
        block_pe: ``(c**3, H_kv, D)`` learned encoding of the position inside the compression block
            (``layout.cmp_pos`` indexes it), added to the keys before pooling; ``None`` for none.

    Returns:
        ``k_cmp, v_cmp``: ``(n_cmp, H_kv, D)`` in ``k.dtype`` (pooled in float32). A block with one
        token compresses to that token (its key plus ``block_pe``); there are no empty blocks.
    """
    if block_pe is not None:
        k = k + block_pe[layout.cmp_pos].to(k.dtype)
    part = layout.compression
    n_cmp = part.num_blocks
    count = part.lengths.to(torch.float32)[:, None, None]
    zeros = torch.zeros((n_cmp,) + tuple(k.shape[1:]), dtype=torch.float32, device=k.device)
    k_cmp = zeros.index_add(0, part.block_of_token, k.float()) / count
    v_cmp = zeros.index_add(0, part.block_of_token, v.float()) / count
    return k_cmp.to(k.dtype), v_cmp.to(v.dtype)


@torch.no_grad()
def block_importance(q: torch.Tensor, k_cmp: torch.Tensor, layout: BlockLayout, batch: int,
                     start: int, stop: int, scale: float | None = None) -> torch.Tensor:
    """Importance of the selection blocks of batch item ``batch`` for block-ordered queries
    ``start:stop`` of that item.

    ``p[t, h, j] = softmax_j(scale * q[t, h] . k_cmp[j, g(h)])`` over the compressed tokens ``j`` of the
    batch item; importance of selection block ``s`` for KV head ``g`` is the sum of ``p`` over the
    compression blocks inside ``s`` and over the query heads of group ``g``. Returns
    ``(stop - start, H_kv, n_sel of the item)`` float32; each row sums to ``H / H_kv``.
    """
    h, d = q.shape[1], q.shape[2]
    hkv = k_cmp.shape[1]
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    c0, c1 = (int(i) for i in layout.compression.cu_blocks[batch:batch + 2])
    s0, s1 = (int(i) for i in layout.selection.cu_blocks[batch:batch + 2])
    qc = q[start:stop].float().view(stop - start, hkv, h // hkv, d)
    s = torch.einsum("cgjd,ngd->cgjn", qc, k_cmp[c0:c1].float()) * scale
    p = torch.softmax(s, dim=-1).sum(dim=2)                          # (C, H_kv, n_cmp of the item)
    imp = p.new_zeros(stop - start, hkv, s1 - s0)
    return imp.index_add_(2, layout.cmp_to_sel[c0:c1] - s0, p)


@torch.no_grad()
def select_blocks(q: torch.Tensor, k_cmp: torch.Tensor, layout: BlockLayout, topk: int,
                  scale: float | None = None, max_scores: int = 1 << 22) -> torch.Tensor:
    """Top-k selection blocks per query and KV head by :func:`block_importance`.

    Args:
        q: ``(N, H, D)`` queries in block order.
        k_cmp: ``(n_cmp, H_kv, D)`` compressed keys (:func:`compress_kv`).
        layout: the :class:`BlockLayout`.
        topk: blocks kept per query; a batch item with fewer than ``topk`` selection blocks keeps all
            of them and pads with ``-1``.
        max_scores: bound on the float32 scores held at once (queries are processed in chunks).

    Returns:
        ``(N, H_kv, topk)`` int32 global selection-block indices (``layout.selection``), most
        important first, ``-1`` for padding. Ties are broken by ``torch.topk``.
    """
    n, h = q.shape[0], q.shape[1]
    hkv = k_cmp.shape[1]
    out = torch.full((n, hkv, topk), -1, dtype=torch.int32, device=q.device)
    cu = layout.cu_seqlens.tolist()
    cu_cmp = layout.compression.cu_blocks.tolist()
    cu_sel = layout.selection.cu_blocks.tolist()
    for b in range(layout.batch_size):
        q0, q1 = cu[b], cu[b + 1]
        n_sel = cu_sel[b + 1] - cu_sel[b]
        if q1 == q0:
            continue
        kk = min(topk, n_sel)
        step = max(1, max_scores // (h * (cu_cmp[b + 1] - cu_cmp[b])))
        for a in range(q0, q1, step):
            e = min(a + step, q1)
            imp = block_importance(q, k_cmp, layout, b, a, e, scale)
            out[a:e, :, :kk] = (imp.topk(kk, dim=-1).indices + cu_sel[b]).to(torch.int32)
    return out
