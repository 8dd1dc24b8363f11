"""Torch reference of the three attention branches of spatial sparse attention: the specification.

Plain, exact (computed in float32 whatever the input dtype), readable, any device. The Triton kernels
(:mod:`n4d4d.kernels.triton_varlen`, :mod:`n4d4d.kernels.triton_selection`) are tested against it.

All three branches are one operation, *block-sparse attention*: query token ``t`` (query head ``h``,
which belongs to key/value head ``g = h // (H // H_kv)``: grouped-query attention, GQA) attends with
one softmax to the union of the key blocks ``block_idx[t, g, :]``:

* compression (Native Sparse Attention, Yuan et al. 2025, sec. 3.3.1; Direct3D-S2): keys are
  the compressed tokens, one block per batch item, each query picks its own batch item;
* selection (NSA sec. 3.3.2): keys are the tokens, blocks are the selection blocks, each query picks
  its top-k blocks per KV head (:func:`n4d4d.kernels.compression.select_blocks`);
* sliding window (Direct3D-S2's 3D windows): keys are the window-ordered tokens, each query picks its
  own window.

Queries are processed in chunks, each in one of two exact ways, whichever touches fewer keys:

* *union*: the chunk gathers the union of the key blocks its queries picked (``T`` keys) and computes
  a masked dense softmax over it (cost ``chunk x H x T``; best when neighbouring queries pick the same
  blocks: always for the compression and window branches);
* *gather*: each query gathers its own ``K`` blocks, padded to the longest (``K x L_max`` keys, cost
  ``chunk x H x K x L_max`` plus copying them; best when the choices are scattered, e.g. top-k from
  random features, and ``K x L_max`` is well below the union).

Either way no ``N x N`` matrix is formed. With gradients enabled, each chunk runs under activation
checkpointing (recomputed in the backward pass) so the memory of forward+backward does not grow with
``N``. A query whose blocks hold no key (only possible if ``block_idx`` is all ``-1``) gets output 0
and log-sum-exp ``-inf``.

What it does not do: it is not fast (Python loop over chunks), and it does not choose blocks.
"""

from __future__ import annotations

import math

import torch
from torch.utils.checkpoint import checkpoint

from n4d4d.kernels.layout import BlockLayout, WindowLayout


def _ranges(starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Concatenation of ``arange(starts[i], starts[i] + lengths[i])``, int64."""
    total = int(lengths.sum())
    first = torch.cumsum(lengths, 0) - lengths
    return torch.arange(total, device=starts.device) - torch.repeat_interleave(first - starts, lengths)


def _chunk(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, tok: torch.Tensor, mask: torch.Tensor,
           scale: float, with_lse: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Masked softmax attention of ``q (C, H, D)`` over keys ``k[tok], v[tok]``.

    ``tok`` is ``(T,)`` (keys shared by the chunk) or ``(C, H_kv, T)`` (keys per query and KV head);
    ``mask`` ``(C, H_kv or 1, T)`` bool says which of them each query sees. Returns ``o (C, H, D)``
    float32 and ``lse (C, H)`` float32 (or None unless ``with_lse``).
    """
    c, h, d = q.shape
    hkv = k.shape[1]
    qf = q.float().view(c, hkv, h // hkv, d)
    if tok.ndim == 1:
        kf, vf = k.index_select(0, tok).float(), v.index_select(0, tok).float()      # (T, H_kv, D)
        s = torch.einsum("cgjd,tgd->cgjt", qf, kf) * scale          # (C, H_kv, G, T)
    else:                                                           # rows (token, head) of k as (N*H_kv, D)
        rows = (tok * hkv + torch.arange(hkv, device=tok.device)[None, :, None]).reshape(-1)
        kf = k.reshape(-1, d).index_select(0, rows).view(*tok.shape, d).float()      # (C, H_kv, T, D)
        vf = v.reshape(-1, d).index_select(0, rows).view(*tok.shape, d).float()
        s = torch.einsum("cgjd,cgtd->cgjt", qf, kf) * scale
    m = mask[:, :, None, :]
    s = s.masked_fill(~m, torch.finfo(torch.float32).min)           # finite: no NaN in any gradient
    p = torch.softmax(s, dim=-1)
    has_key = m.any(-1)                                             # (C, H_i, 1)
    if not bool(has_key.all()):
        p = p * m                                                   # rows with no key: all 0
    if tok.ndim == 1:
        o = torch.einsum("cgjt,tgd->cgjd", p, vf).reshape(c, h, d)
    else:
        o = torch.einsum("cgjt,cgtd->cgjd", p, vf).reshape(c, h, d)
    if not with_lse:
        return o, None
    lse = torch.logsumexp(s, dim=-1)                                # (C, H_kv, G)
    return o, torch.where(has_key.expand(c, hkv, h // hkv), lse, -math.inf).reshape(c, h)


def _union_keys(idx: torch.Tensor, key_offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``tok (T,)``: the keys of every block in ``idx (C, H_i, K)``; ``mask (C, H_i, T)``: picked."""
    blocks = torch.unique(idx[idx >= 0])
    starts = key_offsets[blocks]
    lengths = key_offsets[blocks + 1] - starts
    tok = _ranges(starts, lengths)
    # picked[c, g, u]: query c picked the u-th block of the union (slot len(blocks): "-1")
    slot = torch.where(idx >= 0, torch.searchsorted(blocks, idx.clamp_min(0)), len(blocks))
    picked = torch.zeros(idx.shape[:2] + (len(blocks) + 1,), dtype=torch.bool, device=idx.device)
    picked.scatter_(2, slot, True)
    return tok, picked[:, :, torch.repeat_interleave(torch.arange(len(blocks), device=idx.device), lengths)]


def _gathered_keys(idx: torch.Tensor, key_offsets: torch.Tensor, hkv: int,
                   l_max: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``tok (C, H_kv, K * l_max)``: each query's blocks, each padded to ``l_max``; ``mask`` likewise.

    A block repeated in a row is masked out after its first occurrence (it counts once).
    """
    idx = torch.sort(idx, dim=-1).values
    repeat = torch.zeros_like(idx, dtype=torch.bool)
    repeat[..., 1:] = idx[..., 1:] == idx[..., :-1]
    ok = (idx >= 0) & ~repeat
    start = key_offsets[idx.clamp_min(0)]
    length = torch.where(ok, key_offsets[idx.clamp_min(0) + 1] - start, 0)
    pos = torch.arange(l_max, device=idx.device)
    mask = pos < length[..., None]                                  # (C, H_i, K, l_max)
    tok = torch.where(mask, start[..., None] + pos, 0)
    c, hi, k = idx.shape
    return (tok.reshape(c, hi, k * l_max).expand(c, hkv, k * l_max),
            mask.reshape(c, hi, k * l_max))


def block_sparse_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           key_offsets: torch.Tensor, block_idx: torch.Tensor, scale: float | None = None,
                           chunk: int = 32, return_lse: bool = True,
                           strategy: str = "auto") -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each query attends to the union of the key blocks it picked (one softmax over all of them).

    Args:
        q: ``(N_q, H, D)`` queries, any float dtype.
        k, v: ``(N_k, H_kv, D)`` keys and values, ``H`` a multiple of ``H_kv`` (GQA).
        key_offsets: ``(n_blocks + 1,)`` int; key block ``i`` is keys ``key_offsets[i]:key_offsets[i+1]``.
        block_idx: ``(N_q, H_kv or 1, K)`` int, the blocks each query picks per KV head (a size-1
            middle axis means the same blocks for all heads); ``-1`` entries pick nothing, and a
            block listed twice counts once.
        scale: softmax scale, default ``1 / sqrt(D)``.
        chunk: queries per chunk.
        return_lse: also return the log-sum-exp (one more pass over the scores).
        strategy: ``"union"``, ``"gather"`` (see the module docstring) or ``"auto"`` (per chunk:
            gather when ``4 K L_max`` is below the union's key count). All give the same result up to float32 rounding.

    Returns:
        ``o`` ``(N_q, H, D)`` in ``q.dtype`` and ``lse`` ``(N_q, H)`` float32 (natural log of the
        softmax normaliser, ``-inf`` for a query that picked no key), or None if not ``return_lse``.
    """
    nq, h, d = q.shape
    hkv = k.shape[1]
    if h % hkv:
        raise ValueError(f"query heads ({h}) must be a multiple of key/value heads ({hkv})")
    if strategy not in ("auto", "union", "gather"):
        raise ValueError(f"strategy must be 'auto', 'union' or 'gather', got {strategy!r}")
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    key_offsets = key_offsets.long()
    lengths = key_offsets[1:] - key_offsets[:-1]
    k, v = k.contiguous(), v.contiguous()                           # so k.reshape(-1, D) is a view
    use_ckpt = torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)
    outs, lses = [], []
    for a in range(0, nq, chunk):
        idx = block_idx[a:a + chunk].long()                         # (C, H_i, K)
        picked = torch.unique(idx[idx >= 0])
        l_max = int(lengths[picked].max()) if picked.numel() else 0
        # gathering moves D floats per key and query, the union only multiplies: measured on a CPU,
        # gathering pays when it touches 4x fewer keys
        gather = strategy == "gather" or (strategy == "auto" and
                                          4 * idx.shape[2] * l_max < int(lengths[picked].sum()))
        if gather:
            tok, mask = _gathered_keys(idx, key_offsets, hkv, l_max)
        else:
            tok, mask = _union_keys(idx, key_offsets)
        if use_ckpt:
            o, lse = checkpoint(_chunk, q[a:a + chunk], k, v, tok, mask, scale, return_lse,
                                use_reentrant=False)
        else:
            o, lse = _chunk(q[a:a + chunk], k, v, tok, mask, scale, return_lse)
        outs.append(o)
        lses.append(lse)
    return torch.cat(outs).to(q.dtype), (torch.cat(lses) if return_lse else None)


def compression_attention(q: torch.Tensor, k_cmp: torch.Tensor, v_cmp: torch.Tensor,
                          layout: BlockLayout, scale: float | None = None) -> torch.Tensor:
    """Every query attends to all compressed tokens of its batch item (NSA eq. 7 without causality).

    ``q`` ``(N, H, D)`` in block order; ``k_cmp, v_cmp`` ``(n_cmp, H_kv, D)`` from
    :func:`n4d4d.kernels.compression.compress_kv`. Returns ``(N, H, D)`` in ``q.dtype``.
    """
    return block_sparse_attention(q, k_cmp, v_cmp, layout.compression.cu_blocks,
                                  layout.token_batch[:, None, None], scale,
                                  return_lse=False)[0]


def selection_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_idx: torch.Tensor,
                        layout: BlockLayout, scale: float | None = None) -> torch.Tensor:
    """Every query attends to the tokens of its selected blocks (NSA sec. 3.3.2, one softmax).

    ``q`` ``(N, H, D)``, ``k, v`` ``(N, H_kv, D)`` in block order; ``block_idx`` ``(N, H_kv, K)`` int
    selection-block indices (global, ``-1`` = none) shared by the query heads of a KV group.
    Returns ``(N, H, D)``.
    """
    return block_sparse_attention(q, k, v, layout.selection.offsets, block_idx, scale, return_lse=False)[0]


def window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: WindowLayout,
                     scale: float | None = None) -> torch.Tensor:
    """Every query attends to the tokens of its own 3D window (full attention inside the window).

    ``q`` ``(N, H, D)``, ``k, v`` ``(N, H_kv, D)`` in *block* order; they are permuted into window
    order and the output ``(N, H, D)`` back. A window with fewer tokens than ``window**3`` (the usual
    case on a sparse grid) is simply a shorter run; a token alone in its window attends to itself.
    """
    part = window.partition
    if window.is_identity:
        return block_sparse_attention(q, k, v, part.offsets, part.block_of_token[:, None, None], scale,
                                      return_lse=False)[0]
    o, _ = block_sparse_attention(q[window.order], k[window.order], v[window.order], part.offsets,
                                  part.block_of_token[:, None, None], scale, return_lse=False)
    return o[window.inverse]
