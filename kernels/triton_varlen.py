"""Triton variable-length attention, forward and backward: the compression and window branches.

Flash-attention-2 style kernels (Dao 2023) for attention between *segments*: the queries
``cu_seqlens_q[i]:cu_seqlens_q[i + 1]`` attend, with one softmax and no mask, to the keys
``cu_seqlens_k[i]:cu_seqlens_k[i + 1]``. Spatial sparse attention uses it twice:

* compression branch: segments are batch items, keys are the item's compressed tokens
  (Native Sparse Attention, Yuan et al. 2025, sec. 3.3.1; Direct3D-S2, Wu et al. 2025);
* window branch: segments are the 3D windows of window-ordered tokens (queries and keys the same).

Online softmax (running max and normaliser, base-2 exponentials), so no ``N x N`` matrix exists: the
forward keeps a ``BLOCK_R x BLOCK_N`` tile of scores per program and stores the output and the
log-sum-exp; the backward recomputes the probabilities from the log-sum-exp, one kernel for ``dK, dV``
(parallel over key tiles, looping over the segment's queries: no atomics) and one for ``dQ``
(parallel over query tiles). Grouped-query attention: query head ``h`` reads key/value head
``h // (H / H_kv)``; the rows of a tile are (token, query head) pairs, ``BLOCK_T`` tokens times the
``H / H_kv`` heads of one KV group (about 64 rows), so each key/value tile is loaded once per group
(the "packed GQA" layout of FlashAttention-3). Segments of any length (including 0 and 1) are cut
into tiles of ``BLOCK_T`` query tokens / ``BLOCK_N`` keys listed in tables built once per layout.

What it does not do: no causal mask, no dropout, no head dims above 256. On CPU tensors it runs only
under the Triton interpreter (``TRITON_INTERPRET=1`` set before this module is imported).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

LOG2E = 1.4426950408889634


@triton.jit
def _varlen_fwd(Q, K, V, O, LSE, TSEG, TSTART, CU_Q, CU_K,
                sqn, sqh, skn, skh, svn, svh, son, soh, lse_n, qk_scale,
                GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_R: tl.constexpr,
                BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    tile = tl.program_id(0)
    g = tl.program_id(1)
    seg = tl.load(TSEG + tile)
    m0 = tl.load(TSTART + tile)
    q_end = tl.load(CU_Q + seg + 1)
    k_beg = tl.load(CU_K + seg)
    k_end = tl.load(CU_K + seg + 1)
    r = tl.arange(0, BLOCK_R)
    t = (m0 + r // GROUP).to(tl.int64)                            # row r = (token t, query head h)
    h = g * GROUP + r % GROUP
    rv = (r < BLOCK_T * GROUP) & (t < q_end)
    offs_d = tl.arange(0, BLOCK_D)
    dm = offs_d < HEAD_DIM
    qm = rv[:, None] & dm[None, :]
    q = tl.load(Q + t[:, None] * sqn + h[:, None] * sqh + offs_d[None, :], mask=qm, other=0.0)
    m_i = tl.full((BLOCK_R,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_R,), tl.float32)
    acc = tl.zeros((BLOCK_R, BLOCK_D), tl.float32)
    for n0 in range(k_beg, k_end, BLOCK_N):
        offs_n = (n0 + tl.arange(0, BLOCK_N)).to(tl.int64)
        nm = offs_n < k_end
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
    tl.store(O + t[:, None] * son + h[:, None] * soh + offs_d[None, :], o.to(O.dtype.element_ty), mask=qm)
    tl.store(LSE + t * lse_n + h, lse, mask=rv)


@triton.jit
def _varlen_bwd_dkdv(Q, K, V, DO, LSE, DELTA, DK, DV, TSEG, TSTART, CU_Q, CU_K,
                     sqn, sqh, skn, skh, svn, svh, sdon, sdoh, sdkn, sdkh, sdvn, sdvh, lse_n,
                     qk_scale, sm_scale,
                     GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_T: tl.constexpr,
                     BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    tile = tl.program_id(0)
    g = tl.program_id(1)
    seg = tl.load(TSEG + tile)
    n0 = tl.load(TSTART + tile)
    k_end = tl.load(CU_K + seg + 1)
    q_beg = tl.load(CU_Q + seg)
    q_end = tl.load(CU_Q + seg + 1)
    offs_n = (n0 + tl.arange(0, BLOCK_N)).to(tl.int64)
    offs_d = tl.arange(0, BLOCK_D)
    nm = offs_n < k_end
    dm = offs_d < HEAD_DIM
    kvm = nm[:, None] & dm[None, :]
    k = tl.load(K + offs_n[:, None] * skn + g * skh + offs_d[None, :], mask=kvm, other=0.0)
    v = tl.load(V + offs_n[:, None] * svn + g * svh + offs_d[None, :], mask=kvm, other=0.0)
    dk = tl.zeros((BLOCK_N, BLOCK_D), tl.float32)
    dv = tl.zeros((BLOCK_N, BLOCK_D), tl.float32)
    r = tl.arange(0, BLOCK_R)
    h = g * GROUP + r % GROUP
    for m0 in range(q_beg, q_end, BLOCK_T):
        t = (m0 + r // GROUP).to(tl.int64)
        rv = (r < BLOCK_T * GROUP) & (t < q_end)
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


@triton.jit
def _varlen_bwd_dq(Q, K, V, DO, LSE, DELTA, DQ, TSEG, TSTART, CU_Q, CU_K,
                   sqn, sqh, skn, skh, svn, svh, sdon, sdoh, sdqn, sdqh, lse_n, qk_scale, sm_scale,
                   GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_R: tl.constexpr,
                   BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PREC: tl.constexpr):
    tile = tl.program_id(0)
    g = tl.program_id(1)
    seg = tl.load(TSEG + tile)
    m0 = tl.load(TSTART + tile)
    q_end = tl.load(CU_Q + seg + 1)
    k_beg = tl.load(CU_K + seg)
    k_end = tl.load(CU_K + seg + 1)
    r = tl.arange(0, BLOCK_R)
    t = (m0 + r // GROUP).to(tl.int64)
    h = g * GROUP + r % GROUP
    rv = (r < BLOCK_T * GROUP) & (t < q_end)
    offs_d = tl.arange(0, BLOCK_D)
    dm = offs_d < HEAD_DIM
    qm = rv[:, None] & dm[None, :]
    q = tl.load(Q + t[:, None] * sqn + h[:, None] * sqh + offs_d[None, :], mask=qm, other=0.0)
    do = tl.load(DO + t[:, None] * sdon + h[:, None] * sdoh + offs_d[None, :], mask=qm, other=0.0)
    lse = tl.load(LSE + t * lse_n + h, mask=rv, other=float("inf")) * 1.4426950408889634
    delta = tl.load(DELTA + t * lse_n + h, mask=rv, other=0.0)
    dq = tl.zeros((BLOCK_R, BLOCK_D), tl.float32)
    for n0 in range(k_beg, k_end, BLOCK_N):
        offs_n = (n0 + tl.arange(0, BLOCK_N)).to(tl.int64)
        nm = offs_n < k_end
        kvm = nm[:, None] & dm[None, :]
        k = tl.load(K + offs_n[:, None] * skn + g * skh + offs_d[None, :], mask=kvm, other=0.0)
        v = tl.load(V + offs_n[:, None] * svn + g * svh + offs_d[None, :], mask=kvm, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision=PREC) * qk_scale
        p = tl.where(nm[None, :], tl.exp2(s - lse[:, None]), 0.0)
        dp = tl.dot(do, tl.trans(v), input_precision=PREC)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PREC)
    tl.store(DQ + t[:, None] * sdqn + h[:, None] * sdqh + offs_d[None, :], (dq * sm_scale).to(DQ.dtype.element_ty), mask=qm)


# -- host side ---------------------------------------------------------------------------------

def precision(dtype: torch.dtype) -> str:
    """``tl.dot`` input precision: exact IEEE products for float32 inputs (no TF32 rounding)."""
    return "ieee" if dtype == torch.float32 else "tf32"


def block_d(head_dim: int) -> int:
    """Head dim padded to a power of two, at least 16 (the smallest ``tl.dot`` size)."""
    if head_dim > 256:
        raise ValueError(f"head dim {head_dim} > 256 is not supported by the Triton kernels")
    return max(16, triton.next_power_of_2(head_dim))


def tiles(offsets: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tiles of at most ``block`` rows over segments ``offsets[i]:offsets[i + 1]``.

    Returns ``(segment, start)``, both ``(n_tiles,)`` int32: tile ``j`` covers rows
    ``start[j] : min(start[j] + block, offsets[segment[j] + 1])``. Empty segments get no tile.
    """
    off = offsets.long()
    n_tiles = torch.div(off[1:] - off[:-1] + block - 1, block, rounding_mode="floor")
    seg = torch.repeat_interleave(torch.arange(n_tiles.shape[0], device=off.device), n_tiles)
    first = torch.cumsum(n_tiles, 0) - n_tiles
    j = torch.arange(seg.shape[0], device=off.device) - first[seg]
    return seg.to(torch.int32), (off[seg] + j * block).to(torch.int32)


def check_launchable(kernel, *tensors: torch.Tensor) -> None:
    """Raise a clear error when Triton cannot run on these tensors (CPU without the interpreter)."""
    from triton.runtime.interpreter import InterpretedFunction

    if not isinstance(kernel, InterpretedFunction) and not all(t.is_cuda for t in tensors):
        raise RuntimeError("backend='triton' needs CUDA tensors, or TRITON_INTERPRET=1 set before "
                           "n4d4d.kernels.triton_* is first imported (the CPU interpreter)")


BLOCK_N = 64       # keys per tile
ROWS = 64          # (token, query head) rows per program: BLOCK_T = ROWS // group tokens


def rows_meta(group: int, head_dim: int, dtype: torch.dtype, rows: int = ROWS) -> dict:
    """Compile-time sizes: ``BLOCK_T`` tokens x ``group`` heads packed into ``BLOCK_R`` tile rows."""
    bt = max(1, rows // triton.next_power_of_2(group))
    return dict(GROUP=group, HEAD_DIM=head_dim, BLOCK_T=bt, BLOCK_R=max(16, triton.next_power_of_2(bt * group)),
                BLOCK_N=BLOCK_N, BLOCK_D=block_d(head_dim), PREC=precision(dtype))


class VarlenAttention(torch.autograd.Function):
    """Autograd of the Triton varlen kernels: ``(q, k, v) -> (o, lse)``; ``lse`` has no gradient."""

    @staticmethod
    def forward(ctx, q, k, v, cu_q, cu_k, q_tiles, k_tiles, scale):
        n, h, d = q.shape
        hkv = k.shape[1]
        meta = rows_meta(h // hkv, d, q.dtype)
        o = torch.empty_like(q)
        lse = torch.empty((n, h), dtype=torch.float32, device=q.device)
        if q_tiles[0].numel():
            _varlen_fwd[(q_tiles[0].numel(), hkv)](
                q, k, v, o, lse, q_tiles[0], q_tiles[1], cu_q, cu_k,
                q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1),
                o.stride(0), o.stride(1), h, scale * LOG2E, **meta)
        ctx.save_for_backward(q, k, v, o, lse, cu_q, cu_k, *q_tiles, *k_tiles)
        ctx.scale = scale
        ctx.mark_non_differentiable(lse)
        return o, lse

    @staticmethod
    def backward(ctx, do, _dlse):
        q, k, v, o, lse, cu_q, cu_k, qs, qt, ks, kt = ctx.saved_tensors
        do = do.contiguous()
        n, h, d = q.shape
        hkv = k.shape[1]
        meta = rows_meta(h // hkv, d, q.dtype)
        delta = (o.float() * do.float()).sum(-1)                    # (N, H) rowsum(dO * O)
        dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
        qk_scale = ctx.scale * LOG2E
        if ks.numel():
            _varlen_bwd_dkdv[(ks.numel(), hkv)](
                q, k, v, do, lse, delta, dk, dv, ks, kt, cu_q, cu_k,
                q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1),
                do.stride(0), do.stride(1), dk.stride(0), dk.stride(1), dv.stride(0), dv.stride(1),
                h, qk_scale, ctx.scale, **meta)
        if qs.numel():
            _varlen_bwd_dq[(qs.numel(), hkv)](
                q, k, v, do, lse, delta, dq, qs, qt, cu_q, cu_k,
                q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1),
                do.stride(0), do.stride(1), dq.stride(0), dq.stride(1), h, qk_scale, ctx.scale, **meta)
        return dq, dk, dv, None, None, None, None, None


def varlen_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens_q: torch.Tensor,
                     cu_seqlens_k: torch.Tensor, scale: float | None = None,
                     tile_cache: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Segment ``i``'s queries attend to segment ``i``'s keys; Triton forward and backward.

    Args:
        q: ``(N_q, H, D)`` float32/float16/bfloat16 (CUDA, or CPU under ``TRITON_INTERPRET=1``).
        k, v: ``(N_k, H_kv, D)`` same dtype and device, ``H`` a multiple of ``H_kv`` (GQA).
        cu_seqlens_q, cu_seqlens_k: ``(S + 1,)`` int offsets of the ``S`` segments (non-decreasing,
            starting at 0). A segment with no keys gives its queries output 0 and lse ``-inf``.
        scale: softmax scale, default ``1 / sqrt(D)``.
        tile_cache: dict in which the tile tables of these offsets are kept between calls (pass the
            same dict only with the same offsets).

    Returns:
        ``o`` ``(N_q, H, D)`` in ``q.dtype`` (differentiable in q, k, v) and ``lse`` ``(N_q, H)``
        float32 natural-log softmax normalisers.
    """
    check_launchable(_varlen_fwd, q, k, v)
    if q.shape[1] % k.shape[1]:
        raise ValueError(f"query heads ({q.shape[1]}) must be a multiple of key/value heads ({k.shape[1]})")
    cache = {} if tile_cache is None else tile_cache
    if "cu_q" not in cache:
        cache["cu_q"] = cu_seqlens_q.to(device=q.device, dtype=torch.int32).contiguous()
        cache["cu_k"] = cu_seqlens_k.to(device=q.device, dtype=torch.int32).contiguous()
        cache["k"] = tiles(cache["cu_k"], BLOCK_N)
    bt = rows_meta(q.shape[1] // k.shape[1], q.shape[2], q.dtype)["BLOCK_T"]
    if ("q", bt) not in cache:
        cache[("q", bt)] = tiles(cache["cu_q"], bt)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return VarlenAttention.apply(q.contiguous(), k.contiguous(), v.contiguous(), cache["cu_q"],
                                 cache["cu_k"], cache[("q", bt)], cache["k"], scale)
