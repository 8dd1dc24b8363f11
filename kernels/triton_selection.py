"""Triton block-selection attention, forward and backward: the selection branch.

Query token ``t`` and the query heads of KV group ``g`` attend, with one softmax, to the tokens of the
selection blocks ``block_idx[t, g, :]`` (Native Sparse Attention, Yuan et al. 2025, sec. 3.3.2 and its
kernel design, sec. 3.4: group-centric loading, all query heads of a GQA group in one tile so each
selected key block is read once per group; Direct3D-S2, Wu et al. 2025, sec. 3.2, for 3D blocks).

* forward: one program per (query token, KV group); the group's heads are the rows of the tile
  (padded to at least 16, the smallest ``tl.dot``); it walks the selected blocks, each a run of
  ``offsets[b]:offsets[b + 1]`` tokens of any length, in ``BLOCK_N`` chunks with an online softmax,
  and stores the output and the log-sum-exp;
* backward ``dQ``: the same walk, recomputing probabilities from the log-sum-exp;
* backward ``dK, dV``: one program per (``BLOCK_N`` tile of a selection block, KV group); it walks
  the queries that selected the block (an inverse index built with a sort, no atomics) in
  ``BLOCK_M`` chunks and the query heads of the group.

``-1`` in ``block_idx`` selects nothing (top-k larger than the number of blocks); a query that
selects nothing gets output 0. Block indices of one (query, group) must be distinct.
What it does not do: choose the blocks (:func:`n4d4d.kernels.compression.select_blocks`).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from n4d4d.kernels.triton_varlen import LOG2E, block_d, check_launchable, precision, tiles


@triton.jit
def _sel_fwd(Q, K, V, O, LSE, IDX, OFF, sqn, sqh, skn, skh, svn, svh, son, soh, sin, sig, lse_n,
             qk_scale, GROUP: tl.constexpr, TOPK: tl.constexpr, HEAD_DIM: tl.constexpr,
             BLOCK_G: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    t = tl.program_id(0).to(tl.int64)
    g = tl.program_id(1)
    offs_g = tl.arange(0, BLOCK_G)
    offs_d = tl.arange(0, BLOCK_D)
    gm = offs_g < GROUP
    dm = offs_d < HEAD_DIM
    heads = g * GROUP + offs_g
    qm = gm[:, None] & dm[None, :]
    q = tl.load(Q + t * sqn + heads[:, None] * sqh + offs_d[None, :], mask=qm, other=0.0)
    m_i = tl.full((BLOCK_G,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_G,), tl.float32)
    acc = tl.zeros((BLOCK_G, BLOCK_D), tl.float32)
    for j in range(TOPK):
        blk = tl.load(IDX + t * sin + g * sig + j)
        beg = tl.load(OFF + tl.maximum(blk, 0))
        end = tl.where(blk >= 0, tl.load(OFF + tl.maximum(blk, 0) + 1), beg)
        for n0 in range(beg, end, BLOCK_N):
            offs_n = (n0 + tl.arange(0, BLOCK_N)).to(tl.int64)
            nm = offs_n < end
            kvm = nm[:, None] & dm[None, :]
            k = tl.load(K + offs_n[:, None] * skn + g * skh + offs_d[None, :], mask=kvm, other=0.0)
            v = tl.load(V + offs_n[:, None] * svn + g * svh + offs_d[None, :], mask=kvm, other=0.0)
            s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
            s = tl.where(nm[None, :], s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))
            alpha = tl.exp2(m_i - m_new)
            p = tl.exp2(s - m_new[:, None])
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PREC)
            m_i = m_new
    has = l_i > 0.0
    o = acc / tl.where(has, l_i, 1.0)[:, None]
    lse = tl.where(has, (m_i + tl.log2(tl.where(has, l_i, 1.0))) / 1.4426950408889634, float("-inf"))
    tl.store(O + t * son + heads[:, None] * soh + offs_d[None, :], o.to(O.dtype.element_ty), mask=qm)
    tl.store(LSE + t * lse_n + heads, lse, mask=gm)


@triton.jit
def _sel_bwd_dq(Q, K, V, DO, LSE, DELTA, DQ, IDX, OFF, sqn, sqh, skn, skh, svn, svh, sdon, sdoh,
                sdqn, sdqh, sin, sig, lse_n, qk_scale, sm_scale,
                GROUP: tl.constexpr, TOPK: tl.constexpr, HEAD_DIM: tl.constexpr,
                BLOCK_G: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    t = tl.program_id(0).to(tl.int64)
    g = tl.program_id(1)
    offs_g = tl.arange(0, BLOCK_G)
    offs_d = tl.arange(0, BLOCK_D)
    gm = offs_g < GROUP
    dm = offs_d < HEAD_DIM
    heads = g * GROUP + offs_g
    qm = gm[:, None] & dm[None, :]
    q = tl.load(Q + t * sqn + heads[:, None] * sqh + offs_d[None, :], mask=qm, other=0.0)
    do = tl.load(DO + t * sdon + heads[:, None] * sdoh + offs_d[None, :], mask=qm, other=0.0)
    lse = tl.load(LSE + t * lse_n + heads, mask=gm, other=float("inf")) * 1.4426950408889634
    delta = tl.load(DELTA + t * lse_n + heads, mask=gm, other=0.0)
    dq = tl.zeros((BLOCK_G, BLOCK_D), tl.float32)
    for j in range(TOPK):
        blk = tl.load(IDX + t * sin + g * sig + j)
        beg = tl.load(OFF + tl.maximum(blk, 0))
        end = tl.where(blk >= 0, tl.load(OFF + tl.maximum(blk, 0) + 1), beg)
        for n0 in range(beg, end, BLOCK_N):
            offs_n = (n0 + tl.arange(0, BLOCK_N)).to(tl.int64)
            nm = offs_n < end
            kvm = nm[:, None] & dm[None, :]
            k = tl.load(K + offs_n[:, None] * skn + g * skh + offs_d[None, :], mask=kvm, other=0.0)
            v = tl.load(V + offs_n[:, None] * svn + g * svh + offs_d[None, :], mask=kvm, other=0.0)
            s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
            p = tl.where(nm[None, :], tl.exp2(s - lse[:, None]), 0.0)
            dp = tl.dot(do, tl.trans(v), input_precision=PREC)
            ds = p * (dp - delta[:, None])
            dq += tl.dot(ds.to(k.dtype), k, input_precision=PREC)
    tl.store(DQ + t * sdqn + heads[:, None] * sdqh + offs_d[None, :], (dq * sm_scale).to(DQ.dtype.element_ty), mask=qm)


@triton.jit
def _sel_bwd_dkdv(Q, K, V, DO, LSE, DELTA, DK, DV, TBLK, TSTART, OFF, INV_OFF, INV_Q, n_blocks,
                  sqn, sqh, skn, skh, svn, svh, sdon, sdoh, sdkn, sdkh, sdvn, sdvh, lse_n, qk_scale, sm_scale,
                  GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr,
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
    for a in range(i0, i1, BLOCK_M):
        offs_i = a + tl.arange(0, BLOCK_M)
        im = offs_i < i1
        qid = tl.load(INV_Q + offs_i, mask=im, other=0).to(tl.int64)
        qm = im[:, None] & dm[None, :]
        for j in range(GROUP):
            h = g * GROUP + j
            q = tl.load(Q + qid[:, None] * sqn + h * sqh + offs_d[None, :], mask=qm, other=0.0)
            do = tl.load(DO + qid[:, None] * sdon + h * sdoh + offs_d[None, :], mask=qm, other=0.0)
            lse = tl.load(LSE + qid * lse_n + h, mask=im, other=float("inf")) * 1.4426950408889634
            delta = tl.load(DELTA + qid * lse_n + h, mask=im, other=0.0)
            s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
            p = tl.where(nm[None, :], tl.exp2(s - lse[:, None]), 0.0)
            dv += tl.dot(tl.trans(p).to(do.dtype), do, input_precision=PREC)
            dp = tl.dot(do, tl.trans(v), input_precision=PREC)
            ds = p * (dp - delta[:, None])
            dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=PREC)
    tl.store(DK + offs_n[:, None] * sdkn + g * sdkh + offs_d[None, :], (dk * sm_scale).to(DK.dtype.element_ty), mask=kvm)
    tl.store(DV + offs_n[:, None] * sdvn + g * sdvh + offs_d[None, :], dv.to(DV.dtype.element_ty), mask=kvm)


# -- host side ---------------------------------------------------------------------------------

BLOCK_M, BLOCK_N = 64, 64


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


class SelectionAttention(torch.autograd.Function):
    """Autograd of the Triton selection kernels: ``(q, k, v) -> o``; the block choice is constant."""

    @staticmethod
    def forward(ctx, q, k, v, block_idx, offsets, key_tiles, scale):
        n, h, d = q.shape
        hkv, topk = k.shape[1], block_idx.shape[2]
        group = h // hkv
        o = torch.empty_like(q)
        lse = torch.empty((n, h), dtype=torch.float32, device=q.device)
        meta = dict(GROUP=group, HEAD_DIM=d, BLOCK_N=BLOCK_N, BLOCK_D=block_d(d), PREC=precision(q.dtype))
        _sel_fwd[(n, hkv)](q, k, v, o, lse, block_idx, offsets, *_strides(q, k, v, o, block_idx), h,
                           scale * LOG2E, TOPK=topk, BLOCK_G=max(16, triton.next_power_of_2(group)), **meta)
        ctx.save_for_backward(q, k, v, o, lse, block_idx, offsets, *key_tiles)
        ctx.scale = scale
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse, block_idx, offsets, tblk, tstart = ctx.saved_tensors
        do = do.contiguous()
        n, h, d = q.shape
        hkv, topk = k.shape[1], block_idx.shape[2]
        group = h // hkv
        delta = (o.float() * do.float()).sum(-1)                    # (N, H) rowsum(dO * O)
        dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
        meta = dict(GROUP=group, HEAD_DIM=d, BLOCK_N=BLOCK_N, BLOCK_D=block_d(d), PREC=precision(q.dtype))
        qk_scale = ctx.scale * LOG2E
        _sel_bwd_dq[(n, hkv)](q, k, v, do, lse, delta, dq, block_idx, offsets,
                              *_strides(q, k, v, do, dq, block_idx), h, qk_scale, ctx.scale, TOPK=topk,
                              BLOCK_G=max(16, triton.next_power_of_2(group)), **meta)
        n_blocks = offsets.shape[0] - 1
        inv_off, inv_q = inverse_index(block_idx, n_blocks)
        if tblk.numel():
            _sel_bwd_dkdv[(tblk.numel(), hkv)](q, k, v, do, lse, delta, dk, dv, tblk, tstart, offsets,
                                               inv_off, inv_q, n_blocks, *_strides(q, k, v, do, dk, dv), h,
                                               qk_scale, ctx.scale, BLOCK_M=BLOCK_M, **meta)
        return dq, dk, dv, None, None, None, None


def selection_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_idx: torch.Tensor,
                        offsets: torch.Tensor, scale: float | None = None,
                        tile_cache: dict | None = None) -> torch.Tensor:
    """Each query attends to the union of its selected key blocks; Triton forward and backward.

    Args:
        q: ``(N, H, D)`` float32/float16/bfloat16 (CUDA, or CPU under ``TRITON_INTERPRET=1``).
        k, v: ``(N_k, H_kv, D)`` same dtype and device; ``H`` a multiple of ``H_kv`` (GQA).
        block_idx: ``(N, H_kv, K)`` int, distinct block indices per (query, KV head), ``-1`` = none.
        offsets: ``(n_blocks + 1,)`` int; block ``b`` is keys ``offsets[b]:offsets[b + 1]`` (1 to any
            number of tokens).
        scale: softmax scale, default ``1 / sqrt(D)``.
        tile_cache: dict in which the key-tile table of ``offsets`` is kept between calls.

    Returns:
        ``(N, H, D)`` in ``q.dtype``, differentiable in q, k and v.

    Raises:
        ValueError: a block index repeated for one (query, KV head), or bad shapes.
    """
    check_launchable(_sel_fwd, q, k, v)
    n, h, _ = q.shape
    if h % k.shape[1] or block_idx.shape[:2] != (n, k.shape[1]):
        raise ValueError(f"need H % H_kv == 0 and block_idx of shape (N, H_kv, K); got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, block_idx {tuple(block_idx.shape)}")
    srt = torch.sort(block_idx, dim=-1).values
    if bool(((srt[..., 1:] == srt[..., :-1]) & (srt[..., 1:] >= 0)).any()):
        raise ValueError("block_idx repeats a block for one (query, KV head)")
    cache = {} if tile_cache is None else tile_cache
    if "k" not in cache:
        cache["off"] = offsets.to(device=q.device, dtype=torch.int32).contiguous()
        cache["k"] = tiles(cache["off"], BLOCK_N)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return SelectionAttention.apply(q.contiguous(), k.contiguous(), v.contiguous(),
                                    block_idx.to(torch.int32).contiguous(), cache["off"], cache["k"], scale)
