"""The torch reference of spatial sparse attention against brute force, and the module's contracts.

Brute force = dense attention in float64 with an explicit (query, head, key) mask, written from the
definition; the reference computes in float32, so outputs and gradients agree to ~1e-6 (float32
rounding of sums over a few hundred terms); tolerances below are 1e-5 absolute / relative.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from n4d4d.kernels.compression import compress_kv, select_blocks  # noqa: E402
from n4d4d.kernels.layout import block_layout, window_layout  # noqa: E402
from n4d4d.kernels.reference import block_sparse_attention  # noqa: E402
from n4d4d.kernels.sparse_tensor import SparseTensor  # noqa: E402
from n4d4d.kernels.ssa import SpatialSparseAttention  # noqa: E402
from n4d4d.kernels.synthetic import shell_coords  # noqa: E402

TOL = dict(atol=1e-5, rtol=1e-5)   # float32 reference vs float64 brute force


def _dense(q, k, v, allowed):
    """Brute force: softmax over keys where ``allowed[t, h, j]``; float64; rows with no key -> 0."""
    g = q.shape[1] // k.shape[1]
    qd, kd, vd = q.double(), k.double().repeat_interleave(g, 1), v.double().repeat_interleave(g, 1)
    s = torch.einsum("thd,jhd->thj", qd, kd) / q.shape[-1] ** 0.5
    s = s.masked_fill(~allowed, float("-inf"))
    p = torch.nan_to_num(torch.softmax(s, -1), nan=0.0)
    return torch.einsum("thj,jhd->thd", p, vd)


def _x(seed=0, dim=8):
    a, b = shell_coords(120, seed), shell_coords(50, seed + 1)
    b = torch.cat([b, torch.tensor([[30, 30, 30]], dtype=torch.int32)])   # one-token block
    gen = torch.Generator().manual_seed(seed)
    x = SparseTensor.from_batches([a, b], [torch.randn(len(a), dim, generator=gen),
                                           torch.randn(len(b), dim, generator=gen)])
    perm = torch.randperm(x.num_tokens, generator=gen)
    return SparseTensor(x.coords[perm], x.feats[perm])


def _qkv(n, h, hkv, d, seed=0, nk=None):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(nn, hh, d, generator=gen).requires_grad_()
            for nn, hh in ((n, h), (nk or n, hkv), (nk or n, hkv))]


@pytest.mark.parametrize("h,hkv,strategy", [(2, 2, "union"), (4, 2, "gather"), (8, 1, "auto"), (4, 2, "union")])
def test_block_sparse_attention_matches_brute_force(h, hkv, strategy):
    gen = torch.Generator().manual_seed(1)
    nk, nq, d = 90, 70, 16
    offsets = torch.tensor([0, 1, 20, 21, 55, 90])                      # blocks of 1..35 keys
    idx = torch.randint(-1, 5, (nq, hkv, 3), generator=gen)              # -1 = none, repeats allowed
    idx[0] = -1                                                          # a query that picks nothing
    q, k, v = _qkv(nq, h, hkv, d, nk=nk)
    o, lse = block_sparse_attention(q, k, v, offsets, idx, chunk=16, strategy=strategy)
    key_block = torch.repeat_interleave(torch.arange(5), offsets[1:] - offsets[:-1])
    allowed = (idx[:, :, :, None] == key_block).any(2).repeat_interleave(h // hkv, 1)
    ref = _dense(q, k, v, allowed)
    torch.testing.assert_close(o.double(), ref, **TOL)
    assert torch.equal(torch.isfinite(lse), allowed.any(-1)) and not allowed[0].any()
    do = torch.randn_like(o)
    for a, b in zip(torch.autograd.grad(o, (q, k, v), do), torch.autograd.grad(ref, (q, k, v), do.double())):
        torch.testing.assert_close(a.double(), b.double(), **TOL)


def test_compress_kv_is_block_mean_plus_pe():
    x = _x()
    lay = block_layout(x)
    n = x.num_tokens
    k, v = torch.randn(n, 2, 4), torch.randn(n, 2, 4)
    pe = torch.randn(64, 2, 4)
    kc, vc = compress_kv(k, v, lay, pe)
    off = lay.compression.offsets.tolist()
    for i in range(lay.compression.num_blocks):
        rows = slice(off[i], off[i + 1])
        torch.testing.assert_close(kc[i], (k[rows] + pe[lay.cmp_pos[rows]]).mean(0))
        torch.testing.assert_close(vc[i], v[rows].mean(0))


@pytest.mark.parametrize("h,hkv", [(4, 2), (8, 1)])
def test_select_blocks_matches_brute_force(h, hkv):
    x = _x()
    lay = block_layout(x)
    q, k, _ = (t.detach() for t in _qkv(x.num_tokens, h, hkv, 8))
    kc, _ = compress_kv(k.detach(), k.detach(), lay)
    topk = 5
    idx = select_blocks(q.detach(), kc, lay, topk, max_scores=1000)     # small chunks on purpose
    g = h // hkv
    cu, cu_cmp = lay.cu_seqlens.tolist(), lay.compression.cu_blocks.tolist()
    n_sel = (lay.selection.cu_blocks[1:] - lay.selection.cu_blocks[:-1]).tolist()
    for t in [0, 17, cu[1] - 1, cu[1], cu[2] - 1]:
        b = 0 if t < cu[1] else 1
        for kv in range(hkv):
            imp = {}
            for hh in range(kv * g, (kv + 1) * g):
                s = torch.tensor([float(q[t, hh] @ kc[j, kv]) / 8**0.5 for j in range(cu_cmp[b], cu_cmp[b + 1])])
                for j, p in zip(range(cu_cmp[b], cu_cmp[b + 1]), torch.softmax(s, 0).tolist()):
                    sel = int(lay.cmp_to_sel[j])
                    imp[sel] = imp.get(sel, 0.0) + p
            best = sorted(imp, key=imp.get, reverse=True)[:topk]
            got = [i for i in idx[t, kv].tolist() if i >= 0]
            assert got == best
            assert idx[t, kv].tolist().count(-1) == max(0, topk - n_sel[b])


def test_batch_items_do_not_see_each_other():
    """Item 0's output inside a batch equals its output alone (cu_seqlens separate every branch)."""
    torch.manual_seed(0)
    m = SpatialSparseAttention(8, 4, 2, 4, topk=3, backend="torch")
    x = _x()
    y = m(x).feats
    first = x.coords[:, 0] == 0
    alone = m(SparseTensor(x.coords[first], x.feats[first])).feats
    torch.testing.assert_close(y[first], alone, atol=1e-6, rtol=1e-5)


def test_module_is_row_order_equivariant_and_differentiable():
    torch.manual_seed(0)
    m = SpatialSparseAttention(8, 4, 2, 4, topk=3, shift_window=True, backend="torch")
    x = _x()
    perm = torch.randperm(x.num_tokens)
    y = m(x).feats
    y2 = m(SparseTensor(x.coords[perm], x.feats[perm])).feats
    torch.testing.assert_close(y[perm], y2, atol=1e-6, rtol=1e-5)
    y.square().sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert m.block_pe.grad.abs().sum() > 0        # the intra-block encoding is learned


def test_shifted_windows_differ():
    torch.manual_seed(0)
    x = _x()
    m = SpatialSparseAttention(8, 2, 2, 4, topk=2, backend="torch")
    with torch.no_grad():
        m.to_gates.weight.zero_()
        m.to_gates.bias.copy_(torch.tensor([-30.0, -30.0, 30.0] * 2))   # window branch only
        a = m(x).feats
        m.shift_window = True
        b = m(x).feats
    assert not torch.allclose(a, b)
    assert window_layout(x, shift=4) is not window_layout(x, shift=0)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="multiple"):
        SpatialSparseAttention(8, 3, 2)
    with pytest.raises(ValueError, match="backend"):
        SpatialSparseAttention(8, 2, backend="cuda")
