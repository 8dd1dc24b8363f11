"""Triton block importance for top-k block selection (the selection branch's scoring step).

Native Sparse Attention (Yuan et al. 2025, eqs. 8-10) scores selection blocks with the compression
branch's attention probabilities: for query token ``t`` and KV group ``g``

``importance[t, g, s] = sum over query heads h of g, over compressed tokens c inside selection block s,
of exp(scale * q[t, h] . k_cmp[c, g] - lse_cmp[t, h])``

where ``lse_cmp`` is the log-sum-exp the compression branch's forward already computed, so the
probabilities are exactly that branch's (Direct3D-S2, Wu et al. 2025, does the same in 3D).
The kernel computes these sums tile by tile (``BLOCK_T`` tokens x the group's heads per program),
walking the selection blocks of the tile's batch item ``BLOCK_S`` at a time: their compressed tokens
are one contiguous run, the probabilities of a chunk of them are summed per block with a one-hot
matrix product, then over the group's heads. No ``N x n_cmp`` probability matrix is formed;
``torch.topk`` then picks the blocks from the ``(tokens, H_kv, n_sel of the batch item)`` importance
table, built in chunks of queries so its memory stays bounded. :func:`n4d4d.kernels.compression.select_blocks` is the torch specification.

What it does not do: no gradient (selection is discrete); the indices match the torch specification
except where two blocks' importances differ by float32 rounding (a near tie).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from n4d4d.kernels.layout import BlockLayout
from n4d4d.kernels.triton_varlen import LOG2E, block_d, check_launchable, precision, tiles


@triton.jit
def _importance(Q, KC, LSE, IMP, TSEG, TSTART, CU_Q, CU_SEL, SEL_CMP, CMP_SEL, t_base,
                sqn, sqh, skn, skh, lse_n, sin, sig, qk_scale,
                GROUP: tl.constexpr, GP: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_T: tl.constexpr,
                BLOCK_S: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    tile = tl.program_id(0)
    g = tl.program_id(1)
    seg = tl.load(TSEG + tile)                                       # batch item of the tile
    m0 = tl.load(TSTART + tile)
    q_end = tl.load(CU_Q + seg + 1)
    s_beg = tl.load(CU_SEL + seg)
    s_end = tl.load(CU_SEL + seg + 1)
    r = tl.arange(0, BLOCK_T * GP)                                   # row r = (token r // GP, head r % GP)
    t = (m0 + r // GP).to(tl.int64)
    j = r % GP
    h = g * GROUP + j
    rv = (j < GROUP) & (t < q_end)
    offs_d = tl.arange(0, BLOCK_D)
    dm = offs_d < HEAD_DIM
    q = tl.load(Q + t[:, None] * sqn + h[:, None] * sqh + offs_d[None, :], mask=rv[:, None] & dm[None, :], other=0.0)
    lse = tl.load(LSE + t * lse_n + h, mask=rv, other=float("inf")) * 1.4426950408889634
    tok = (m0 + tl.arange(0, BLOCK_T)).to(tl.int64)
    tok_ok = tok < q_end
    offs_c = tl.arange(0, BLOCK_C)
    offs_s = tl.arange(0, BLOCK_S)
    for s0 in range(s_beg, s_end, BLOCK_S):                          # BLOCK_S selection blocks at a time
        c0 = tl.load(SEL_CMP + s0)
        c1 = tl.load(SEL_CMP + tl.minimum(s0 + BLOCK_S, s_end))      # their compressed tokens c0:c1
        acc = tl.zeros((BLOCK_T * GP, BLOCK_S), tl.float32)
        for c in range(c0, c1, BLOCK_C):
            cc = (c + offs_c).to(tl.int64)
            cm = cc < c1
            kc = tl.load(KC + cc[:, None] * skn + g * skh + offs_d[None, :], mask=cm[:, None] & dm[None, :], other=0.0)
            sc = tl.dot(q, tl.trans(kc), input_precision=PREC) * qk_scale
            p = tl.where(cm[None, :], tl.exp2(sc - lse[:, None]), 0.0)          # compression probabilities
            sel = tl.load(CMP_SEL + cc, mask=cm, other=-1) - s0
            onehot = tl.where(sel[:, None] == offs_s[None, :], 1.0, 0.0)      # (BLOCK_C, BLOCK_S)
            acc += tl.dot(p, onehot, input_precision="ieee")                  # sum inside each block
        imp = tl.sum(tl.reshape(acc, (BLOCK_T, GP, BLOCK_S)), 1)              # sum over the group's heads
        sm = (s0 + offs_s) < s_end
        tl.store(IMP + (tok - t_base)[:, None] * sin + g * sig + (s0 - s_beg + offs_s)[None, :], imp,
                 mask=tok_ok[:, None] & sm[None, :])


BLOCK_S = 16       # selection blocks per step
BLOCK_C = 64       # compressed tokens per step (16 blocks of side 8 hold about 64 of side 4 on a surface)
ROWS = 32          # (token, head) rows per program


def _tables(layout: BlockLayout, block_t: int, device: torch.device) -> dict:
    """Per-layout tables: query tiles per batch item, selection-block -> compressed-token offsets."""
    key = ("triton_topk", block_t, str(device))
    if key not in layout.cache:
        sel = layout.selection
        counts = torch.bincount(layout.cmp_to_sel, minlength=sel.num_blocks)
        sel_cmp = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
        cu_q = layout.cu_seqlens.to(device=device, dtype=torch.int32)
        layout.cache[key] = dict(
            cu_q=cu_q, tiles=tiles(cu_q, block_t), cu_sel=sel.cu_blocks.to(device=device, dtype=torch.int32),
            sel_cmp=sel_cmp.to(device=device, dtype=torch.int32),
            cmp_sel=layout.cmp_to_sel.to(device=device, dtype=torch.int32),
            sel_base=sel.cu_blocks[:-1].to(device)[layout.token_batch.to(device)],
            max_sel=int((sel.cu_blocks[1:] - sel.cu_blocks[:-1]).max()))
    return layout.cache[key]


@torch.no_grad()
def select_blocks_triton(q: torch.Tensor, k_cmp: torch.Tensor, lse_cmp: torch.Tensor, layout: BlockLayout,
                         topk: int, scale: float | None = None, max_scores: int = 1 << 27) -> torch.Tensor:
    """Top-k selection blocks per query and KV head, importance computed by the Triton kernel.

    Args:
        q: ``(N, H, D)`` queries in block order (CUDA, or CPU under ``TRITON_INTERPRET=1``).
        k_cmp: ``(n_cmp, H_kv, D)`` compressed keys, same dtype.
        lse_cmp: ``(N, H)`` float32 natural-log normalisers of the compression branch
            (:func:`n4d4d.kernels.triton_varlen.varlen_attention`'s second output).
        layout: the :class:`BlockLayout`.
        topk: blocks kept; a batch item with fewer blocks keeps all and pads with ``-1``.
        max_scores: bound on the float32 importance entries held at once (queries are chunked).

    Returns:
        ``(N, H_kv, topk)`` int32 global selection-block indices, most important first, ``-1`` padding
        (same contract as :func:`n4d4d.kernels.compression.select_blocks`).
    """
    check_launchable(_importance, q, k_cmp)
    n, h, d = q.shape
    hkv = k_cmp.shape[1]
    group = h // hkv
    gp = triton.next_power_of_2(group)
    bt = max(1, ROWS // gp)
    tab = _tables(layout, bt, q.device)
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    q, k_cmp, lse_cmp = q.contiguous(), k_cmp.contiguous(), lse_cmp.contiguous()
    tseg, tstart = tab["tiles"]
    s_max = tab["max_sel"]
    kk = min(topk, s_max)
    out = torch.full((n, hkv, topk), -1, dtype=torch.int32, device=q.device)
    tiles_per_chunk = max(1, max_scores // (bt * hkv * s_max))
    starts = tstart.tolist() + [n]
    meta = dict(GROUP=group, GP=gp, HEAD_DIM=d, BLOCK_T=bt, BLOCK_S=BLOCK_S, BLOCK_C=BLOCK_C,
                BLOCK_D=block_d(d), PREC=precision(q.dtype))
    for i in range(0, tseg.numel(), tiles_per_chunk):
        e = min(i + tiles_per_chunk, tseg.numel())
        a, b = starts[i], starts[e]
        imp = torch.full((b - a, hkv, s_max), float("-inf"), dtype=torch.float32, device=q.device)
        _importance[(e - i, hkv)](
            q, k_cmp, lse_cmp, imp, tseg[i:e], tstart[i:e], tab["cu_q"], tab["cu_sel"], tab["sel_cmp"],
            tab["cmp_sel"], a, q.stride(0), q.stride(1), k_cmp.stride(0), k_cmp.stride(1), h,
            imp.stride(0), imp.stride(1), scale * LOG2E, **meta)
        val, ind = imp.topk(kk, dim=-1)
        glob = ind.to(torch.int64) + tab["sel_base"][a:b, None, None]
        out[a:b, :, :kk] = torch.where(torch.isinf(val), -1, glob).to(torch.int32)
    return out
