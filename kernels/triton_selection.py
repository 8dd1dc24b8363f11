"""Triton block-selection attention, forward and backward: the selection branch.

Query token ``t`` and the query heads of KV group ``g`` attend, with one softmax, to the tokens of the
selection blocks ``block_idx[t, g, :]`` (Native Sparse Attention, Yuan et al. 2025, sec. 3.3.2 and its
kernel design, sec. 3.4: group-centric loading, all query heads of a GQA group in one tile so each
selected key block is read once per group; Direct3D-S2, Wu et al. 2025, for 3D blocks).

* forward: one program per (tile of ``BLOCK_T`` consecutive query tokens, KV group); the rows of its
  tile are the (token, query head) pairs, ``BLOCK_T x group`` of them (about 32: NSA puts one token's
  group heads in a tile, padded to 16, which wastes most of it for groups of 1 or 2). It walks the
  *union* of the blocks its tokens selected (tokens are in block order, so neighbours select mostly
  the same blocks and each key block is loaded once per tile rather than once per token), each a run
  of ``offsets[b]:offsets[b + 1]`` keys of any length in ``BLOCK_N`` chunks, masking the rows that did
  not select the block, with an online softmax; it stores the output and the log-sum-exp;
* backward ``dQ``: the same walk, recomputing probabilities from the log-sum-exp;
* backward ``dK, dV``: one program per (``BLOCK_N`` tile of a selection block, KV group); it walks
  the queries that selected the block (an inverse index built with a sort, no atomics), ``BLOCK_T``
  of them (times the group's heads, about 64 rows) at a time.

``-1`` in ``block_idx`` selects nothing (top-k larger than the number of blocks); a query that
selects nothing gets output 0; a block listed twice for one query counts once.
What it does not do: choose the blocks (:func:`n4d4d.kernels.compression.select_blocks`).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from n4d4d.kernels.triton_varlen import BLOCK_N, LOG2E, check_launchable, rows_meta, tiles


@triton.jit
def _sel_fwd(Q, K, V, O, LSE, IDX, OFF, UNION, NUNION, n_tokens,
             sqn, sqh, skn, skh, svn, svh, son, soh, sin, sig, sun, sug, snu, lse_n, qk_scale,
             GROUP: tl.constexpr, TOPK: tl.constexpr, TOPK_P: tl.constexpr, HEAD_DIM: tl.constexpr,
             BLOCK_T: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
             PREC: tl.constexpr):
    tile = tl.program_id(0)
    g = tl.program_id(1)
    r = tl.arange(0, BLOCK_R)
    t = tile.to(tl.int64) * BLOCK_T + r // GROUP                 # row r = (token t, query head h)
    h = g * GROUP + r % GROUP
    rv = (r < BLOCK_T * GROUP) & (t < n_tokens)
    offs_d = tl.arange(0, BLOCK_D)
    dm = offs_d < HEAD_DIM
    qm = rv[:, None] & dm[None, :]
    q = tl.load(Q + t[:, None] * sqn + h[:, None] * sqh + offs_d[None, :], mask=qm, other=0.0)
    kk = tl.arange(0, TOPK_P)
    sel = tl.load(IDX + t[:, None] * sin + g * sig + kk[None, :], mask=rv[:, None] & (kk < TOPK)[None, :], other=-1)
    m_i = tl.full((BLOCK_R,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_R,), tl.float32)
    acc = tl.zeros((BLOCK_R, BLOCK_D), tl.float32)
    n_union = tl.load(NUNION + tile * snu + g)
    for u in range(0, n_union):
        blk = tl.load(UNION + tile.to(tl.int64) * sun + g * sug + u)
        hit = tl.max(tl.where(sel == blk, 1, 0), 1) > 0             # rows that selected this block
        beg = tl.load(OFF + blk)
        end = tl.load(OFF + blk + 1)
        for n0 in range(beg, end, BLOCK_N):
            offs_n = (n0 + tl.arange(0, BLOCK_N)).to(tl.int64)
            nm = offs_n < end
            kvm = nm[:, None] & dm[None, :]
            k = tl.load(K + offs_n[:, None] * skn + g * skh + offs_d[None, :], mask=kvm, other=0.0)
            v = tl.load(V + offs_n[:, None] * svn + g * svh + offs_d[None, :], mask=kvm, other=0.0)
            s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
            s = tl.where(hit[:, None] & nm[None, :], s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))
            m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows with nothing seen yet
            alpha = tl.exp2(m_i - m_safe)
            p = tl.exp2(s - m_safe[:, None])
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PREC)
            m_i = m_new
    has = l_i > 0.0
    o = acc / tl.where(has, l_i, 1.0)[:, None]
    lse = tl.where(has, (m_i + tl.log2(tl.where(has, l_i, 1.0))) / 1.4426950408889634, float("-inf"))
    tl.store(O + t[:, None] * son + h[:, None] * soh + offs_d[None, :], o.to(O.dtype.element_ty), mask=qm)
    tl.store(LSE + t * lse_n + h, lse, mask=rv)


@triton.jit
def _sel_bwd_dq(Q, K, V, DO, LSE, DELTA, DQ, IDX, OFF, UNION, NUNION, n_tokens,
                sqn, sqh, skn, skh, svn, svh, sdon, sdoh, sdqn, sdqh, sin, sig, sun, sug, snu, lse_n,
                qk_scale, sm_scale,
                GROUP: tl.constexpr, TOPK: tl.constexpr, TOPK_P: tl.constexpr, HEAD_DIM: tl.constexpr,
                BLOCK_T: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr,
                PREC: tl.constexpr):
    tile = tl.program_id(0)
    g = tl.program_id(1)
    r = tl.arange(0, BLOCK_R)
    t = tile.to(tl.int64) * BLOCK_T + r // GROUP
    h = g * GROUP + r % GROUP
    rv = (r < BLOCK_T * GROUP) & (t < n_tokens)
    offs_d = tl.arange(0, BLOCK_D)
    dm = offs_d < HEAD_DIM
    qm = rv[:, None] & dm[None, :]
    q = tl.load(Q + t[:, None] * sqn + h[:, None] * sqh + offs_d[None, :], mask=qm, other=0.0)
    do = tl.load(DO + t[:, None] * sdon + h[:, None] * sdoh + offs_d[None, :], mask=qm, other=0.0)
    lse = tl.load(LSE + t * lse_n + h, mask=rv, other=float("inf")) * 1.4426950408889634
    delta = tl.load(DELTA + t * lse_n + h, mask=rv, other=0.0)
    kk = tl.arange(0, TOPK_P)
    sel = tl.load(IDX + t[:, None] * sin + g * sig + kk[None, :], mask=rv[:, None] & (kk < TOPK)[None, :], other=-1)
    dq = tl.zeros((BLOCK_R, BLOCK_D), tl.float32)
    n_union = tl.load(NUNION + tile * snu + g)
    for u in range(0, n_union):
        blk = tl.load(UNION + tile.to(tl.int64) * sun + g * sug + u)
        hit = tl.max(tl.where(sel == blk, 1, 0), 1) > 0
        beg = tl.load(OFF + blk)
        end = tl.load(OFF + blk + 1)
        for n0 in range(beg, end, BLOCK_N):
            offs_n = (n0 + tl.arange(0, BLOCK_N)).to(tl.int64)
            nm = offs_n < end
            kvm = nm[:, None] & dm[None, :]
            k = tl.load(K + offs_n[:, None] * skn + g * skh + offs_d[None, :], mask=kvm, other=0.0)
            v = tl.load(V + offs_n[:, None] * svn + g * svh + offs_d[None, :], mask=kvm, other=0.0)
            s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
            p = tl.where(hit[:, None] & nm[None, :], tl.exp2(s - lse[:, None]), 0.0)
            dp = tl.dot(do, tl.trans(v), input_precision=PREC)
            ds = p * (dp - delta[:, None])
            dq += tl.dot(ds.to(k.dtype), k, input_precision=PREC)
    tl.store(DQ + t[:, None] * sdqn + h[:, None] * sdqh + offs_d[None, :], (dq * sm_scale).to(DQ.dtype.element_ty), mask=qm)


@triton.jit
def _sel_bwd_dkdv(Q, K, V, DO, LSE, DELTA, DK, DV, TBLK, TSTART, OFF, INV_OFF, INV_Q, n_blocks,
                  sqn, sqh, skn, skh, svn, svh, sdon, sdoh, sdkn, sdkh, sdvn, sdvh, lse_n, qk_scale, sm_scale,
                  GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_R: tl.constexpr,
                  BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    tile = tl.program_id(0)
    g = tl.program_id(1)
    blk = tl.load(TBLK + tile)
    n0 = tl.load(TSTART + tile)
    end = tl.load(OFF + blk + 1)
    offs_n = (n0 + tl.arange(0, BLOCK_N)).to(tl.int64)
    offs_d = tl.arange(0, BLOCK_D)
    nm = offs_n < end
    dm = offs_d < HEAD_DIM
    kvm = nm[:, None] & dm[None, :]
    k = tl.load(K + offs_n[:, None] * skn + g * skh + offs_d[None, :], mask=kvm, other=0.0)
    v = tl.load(V + offs_n[:, None] * svn + g * svh + offs_d[None, :], mask=kvm, other=0.0)
    dk = tl.zeros((BLOCK_N, BLOCK_D), tl.float32)
    dv = tl.zeros((BLOCK_N, BLOCK_D), tl.float32)
    i0 = tl.load(INV_OFF + g * n_blocks + blk)
    i1 = tl.load(INV_OFF + g * n_blocks + blk + 1)
    r = tl.arange(0, BLOCK_R)
    h = g * GROUP + r % GROUP
    for a in range(i0, i1, BLOCK_T):                                 # queries that selected blk
        i = a + r // GROUP
        rv = (r < BLOCK_T * GROUP) & (i < i1)
        t = tl.load(INV_Q + i, mask=rv, other=0).to(tl.int64)
        qm = rv[:, None] & dm[None, :]
        q = tl.load(Q + t[:, None] * sqn + h[:, None] * sqh + offs_d[None, :], mask=qm, other=0.0)
        do = tl.load(DO + t[:, None] * sdon + h[:, None] * sdoh + offs_d[None, :], mask=qm, other=0.0)
        lse = tl.load(LSE + t * lse_n + h, mask=rv, other=float("inf")) * 1.4426950408889634
        delta = tl.load(DELTA + t * lse_n + h, mask=rv, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
        p = tl.where(nm[None, :], tl.exp2(s - lse[:, None]), 0.0)
        dv += tl.dot(tl.trans(p).to(do.dtype), do, input_precision=PREC)
        dp = tl.dot(do, tl.trans(v), input_precision=PREC)
        ds = p * (dp - delta[:, None])
        dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=PREC)
    tl.store(DK + offs_n[:, None] * sdkn + g * sdkh + offs_d[None, :], (dk * sm_scale).to(DK.dtype.element_ty), mask=kvm)
    tl.store(DV + offs_n[:, None] * sdvn + g * sdvh + offs_d[None, :], dv.to(DV.dtype.element_ty), mask=kvm)


# -- host side ---------------------------------------------------------------------------------

ROWS = 32          # (token, head) rows of a forward / dQ tile: BLOCK_T = ROWS // group tokens


def dedupe(block_idx: torch.Tensor) -> torch.Tensor:
    """``block_idx`` ``(N, H_kv, K)`` with repeats of a block in one (query, head) row set to ``-1``."""
    srt = torch.sort(block_idx.long(), dim=-1).values
    rep = torch.zeros_like(srt, dtype=torch.bool)
    rep[..., 1:] = srt[..., 1:] == srt[..., :-1]
    return torch.where(rep, -1, srt).to(torch.int32).contiguous()


def tile_union(block_idx: torch.Tensor, tokens_per_tile: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinct blocks selected by the queries of each tile of ``tokens_per_tile`` tokens, per KV head.

    Returns ``union`` ``(n_tiles, H_kv, tokens_per_tile * K)`` int32 (the first ``count`` entries of
    each row are the distinct selected blocks, ascending) and ``count`` ``(n_tiles, H_kv)`` int32.
    """
    n, hkv, k = block_idx.shape
    n_tiles = triton.cdiv(n, tokens_per_tile)
    big = torch.iinfo(torch.int32).max
    idx = block_idx.long()
    pad = n_tiles * tokens_per_tile - n
    if pad:
        idx = torch.cat([idx, idx.new_full((pad, hkv, k), -1)])
    u = idx.view(n_tiles, tokens_per_tile, hkv, k).permute(0, 2, 1, 3).reshape(n_tiles, hkv, -1)
    u = torch.sort(torch.where(u < 0, big, u), dim=-1).values
    rep = torch.zeros_like(u, dtype=torch.bool)
    rep[..., 1:] = u[..., 1:] == u[..., :-1]
    u = torch.sort(torch.where(rep, big, u), dim=-1).values
    return u.to(torch.int32).contiguous(), (u != big).sum(-1).to(torch.int32).contiguous()


def inverse_index(block_idx: torch.Tensor, n_blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Which queries selected each block, per KV head (CSR).

    ``block_idx`` ``(N, H_kv, K)`` int. Returns ``inv_off`` ``(H_kv * n_blocks + 1,)`` int32 and
    ``inv_q`` ``(nnz,)`` int32: the queries that selected block ``b`` for head ``g`` are
    ``inv_q[inv_off[g * n_blocks + b] : inv_off[g * n_blocks + b + 1]]``, in increasing order.
    """
    n, hkv, _ = block_idx.shape
    idx = block_idx.long()
    valid = idx >= 0
    key = (torch.arange(hkv, device=idx.device)[None, :, None] * n_blocks + idx)[valid]
    qid = torch.arange(n, device=idx.device)[:, None, None].expand_as(idx)[valid]
    key, perm = torch.sort(key, stable=True)
    counts = torch.bincount(key, minlength=hkv * n_blocks)
    inv_off = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)]).to(torch.int32)
    return inv_off, qid[perm].to(torch.int32)


def _strides(*ts):
    return [s for t in ts for s in (t.stride(0), t.stride(1))]


def _meta(q, k, block_idx):
    meta = rows_meta(q.shape[1] // k.shape[1], q.shape[2], q.dtype, ROWS)
    return dict(meta, TOPK=block_idx.shape[2], TOPK_P=triton.next_power_of_2(block_idx.shape[2]))


class SelectionAttention(torch.autograd.Function):
    """Autograd of the Triton selection kernels: ``(q, k, v) -> o``; the block choice is constant."""

    @staticmethod
    def forward(ctx, q, k, v, block_idx, offsets, key_tiles, scale):
        n, h, _ = q.shape
        meta = _meta(q, k, block_idx)
        union, count = tile_union(block_idx, meta["BLOCK_T"])
        o = torch.empty_like(q)
        lse = torch.empty((n, h), dtype=torch.float32, device=q.device)
        _sel_fwd[(union.shape[0], k.shape[1])](
            q, k, v, o, lse, block_idx, offsets, union, count, n,
            *_strides(q, k, v, o, block_idx, union), count.stride(0), h, scale * LOG2E, **meta)
        ctx.save_for_backward(q, k, v, o, lse, block_idx, offsets, union, count, *key_tiles)
        ctx.scale = scale
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse, block_idx, offsets, union, count, tblk, tstart = ctx.saved_tensors
        do = do.contiguous()
        n, h, _ = q.shape
        hkv = k.shape[1]
        meta = _meta(q, k, block_idx)
        delta = (o.float() * do.float()).sum(-1)                    # (N, H) rowsum(dO * O)
        dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
        qk_scale = ctx.scale * LOG2E
        _sel_bwd_dq[(union.shape[0], hkv)](
            q, k, v, do, lse, delta, dq, block_idx, offsets, union, count, n,
            *_strides(q, k, v, do, dq, block_idx, union), count.stride(0), h, qk_scale, ctx.scale, **meta)
        n_blocks = offsets.shape[0] - 1
        inv_off, inv_q = inverse_index(block_idx, n_blocks)
        if tblk.numel():
            _sel_bwd_dkdv[(tblk.numel(), hkv)](
                q, k, v, do, lse, delta, dk, dv, tblk, tstart, offsets, inv_off, inv_q, n_blocks,
                *_strides(q, k, v, do, dk, dv), h, qk_scale, ctx.scale,
                **rows_meta(meta["GROUP"], meta["HEAD_DIM"], q.dtype))
        return dq, dk, dv, None, None, None, None


def selection_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_idx: torch.Tensor,
                        offsets: torch.Tensor, scale: float | None = None,
                        tile_cache: dict | None = None) -> torch.Tensor:
    """Each query attends to the union of its selected key blocks; Triton forward and backward.

    Args:
        q: ``(N, H, D)`` float32/float16/bfloat16 (CUDA, or CPU under ``TRITON_INTERPRET=1``), tokens
            in block order (neighbouring tokens select similar blocks, which the kernels exploit).
        k, v: ``(N_k, H_kv, D)`` same dtype and device; ``H`` a multiple of ``H_kv`` (GQA).
        block_idx: ``(N, H_kv, K)`` int block indices per (query, KV head); ``-1`` = none, a block
            listed twice counts once.
        offsets: ``(n_blocks + 1,)`` int; block ``b`` is keys ``offsets[b]:offsets[b + 1]`` (1 to any
            number of tokens).
        scale: softmax scale, default ``1 / sqrt(D)``.
        tile_cache: dict in which the key-tile table of ``offsets`` is kept between calls.

    Returns:
        ``(N, H, D)`` in ``q.dtype``, differentiable in q, k and v; 0 for a query that selects nothing.
    """
    check_launchable(_sel_fwd, q, k, v)
    n, h, _ = q.shape
    if h % k.shape[1] or tuple(block_idx.shape[:2]) != (n, k.shape[1]):
        raise ValueError(f"need H % H_kv == 0 and block_idx of shape (N, H_kv, K); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, block_idx {tuple(block_idx.shape)}")
    cache = {} if tile_cache is None else tile_cache
    if "k" not in cache:
        cache["off"] = offsets.to(device=q.device, dtype=torch.int32).contiguous()
        cache["k"] = tiles(cache["off"], BLOCK_N)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return SelectionAttention.apply(q.contiguous(), k.contiguous(), v.contiguous(), dedupe(block_idx),
                                    cache["off"], cache["k"], scale)
