"""Triton SSA kernels against the torch reference, and the closed-form checks for both backends.

Without CUDA the Triton kernels run under the Triton interpreter on the CPU: ``@triton.jit`` reads
``TRITON_INTERPRET`` when it decorates a kernel, i.e. when ``n4d4d.kernels.triton_*`` is first
imported, and so do triton's own ``tl.max``/``tl.sum`` when ``triton`` is first imported. This module
sets it at collection time, before it imports triton (nothing else in the suite imports triton); the
``_interpreted`` fixture re-imports our kernel modules if they were imported earlier without it, and
skips (with the reason) if triton itself was imported earlier without it. The
interpreter is slow (milliseconds per kernel program), hence the sizes of a few hundred tokens.

Tolerances (float32 everywhere on the CPU): the kernels sum in a different order than the reference
(online softmax over tiles, base-2 exponentials) and agree to ~1e-6; we allow 5e-5 absolute and
relative. The closed forms compare with ``torch.nn.functional.scaled_dot_product_attention``
(an independent implementation), same tolerance. bf16 on a GPU: 2e-2 relative to the output scale
(bf16 has 8 mantissa bits; probabilities and outputs are rounded once per tile).
"""

from __future__ import annotations

import importlib
import os

import pytest

torch = pytest.importorskip("torch")
CUDA = torch.cuda.is_available()
if not CUDA:
    os.environ["TRITON_INTERPRET"] = "1"     # before triton is imported: see the module docstring
pytest.importorskip("triton")
DEVICE = "cuda" if CUDA else "cpu"
TOL = dict(atol=5e-5, rtol=5e-5)

from n4d4d.kernels.compression import compress_kv, select_blocks  # noqa: E402
from n4d4d.kernels.layout import block_layout, window_layout  # noqa: E402
from n4d4d.kernels.reference import block_sparse_attention  # noqa: E402
from n4d4d.kernels.sparse_tensor import SparseTensor  # noqa: E402
from n4d4d.kernels.ssa import (compression_branch, selection_branch, spatial_sparse_attention,  # noqa: E402
                               window_branch)
from n4d4d.kernels.synthetic import shell_coords  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _interpreted():
    from n4d4d.kernels import triton_selection, triton_varlen

    if not CUDA:
        import triton.language as tl
        from triton.runtime.interpreter import InterpretedFunction

        if not isinstance(tl.standard.max, InterpretedFunction):
            pytest.skip("triton was imported before TRITON_INTERPRET=1 was set: run this file on its "
                        "own, or with TRITON_INTERPRET=1 in the environment")
        if not isinstance(triton_varlen._varlen_fwd, InterpretedFunction):
            importlib.reload(triton_varlen)
            importlib.reload(triton_selection)


def _x(sizes=((180, 8.0), (60, 3.0)), seed=0):
    """Thinned shells (tokens, radius) of different sizes plus a one-token block in the last item.

    The default has 241 tokens: item 0 spans 20 selection blocks (1 to 22 tokens), item 1 two
    (60 tokens and 1).
    """
    parts = [shell_coords(n, seed + i, radius=r) for i, (n, r) in enumerate(sizes)]
    parts[-1] = torch.cat([parts[-1], torch.tensor([[30, 30, 30]], dtype=torch.int32)])
    x = SparseTensor.from_batches(parts, [torch.zeros(len(p), 1) for p in parts])
    return SparseTensor(x.coords.to(DEVICE), x.feats.to(DEVICE))


def _leaves(*shapes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=gen).to(DEVICE).requires_grad_() for s in shapes]


def _grads(out, inputs, seed=1):
    do = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)).to(out.device, out.dtype)
    return torch.autograd.grad(out, inputs, do)


def _full_attention(q, k, v, cu):
    """Independent truth: SDPA per batch item, key/value heads repeated for GQA."""
    g = q.shape[1] // k.shape[1]
    outs = []
    for a, b in zip(cu[:-1], cu[1:]):
        qb, kb, vb = (t[a:b].transpose(0, 1)[None] for t in (q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)))
        outs.append(torch.nn.functional.scaled_dot_product_attention(qb, kb, vb)[0].transpose(0, 1))
    return torch.cat(outs)


@pytest.mark.parametrize("h,hkv,shift", [(2, 2, 4), (4, 2, 0), (8, 1, 4)])
def test_triton_matches_reference(h, hkv, shift):
    """Outputs and gradients of q, k, v, gates and the block encoding; GQA groups of 1, 2 and 8."""
    x = _x()
    lay, win = block_layout(x), window_layout(x, shift=shift)
    n, d = x.num_tokens, 16
    q, k, v, gl, pe = _leaves((n, h, d), (n, hkv, d), (n, hkv, d), (n, h, 3), (64, hkv, d))
    n_sel_item1 = int(lay.selection.cu_blocks[2] - lay.selection.cu_blocks[1])
    topk = 4
    assert n_sel_item1 < topk < int(lay.selection.cu_blocks[1])   # top-k > the blocks of batch item 1
    res = {}
    for backend in ("torch", "triton"):
        o = spatial_sparse_attention(q, k, v, torch.sigmoid(gl), lay, win, topk, pe, backend=backend)
        res[backend] = (o, *_grads(o, (q, k, v, gl, pe)))
    for name, a, b in zip(("o", "dq", "dk", "dv", "dgates", "dpe"), res["triton"], res["torch"]):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_selection_of_every_block_is_full_attention(backend):
    x = _x(((40, 4.0), (15, 2.0)))
    lay = block_layout(x)
    n = x.num_tokens
    q, k, v = _leaves((n, 4, 16), (n, 2, 16), (n, 2, 16))
    n_sel = int((lay.selection.cu_blocks[1:] - lay.selection.cu_blocks[:-1]).max())
    idx = select_blocks(q.detach(), compress_kv(k, v, lay)[0].detach(), lay, topk=n_sel + 1)
    assert (idx == -1).any()
    o = selection_branch(q, k, v, idx, lay, backend=backend)
    ref = _full_attention(q, k, v, lay.cu_seqlens.tolist())
    torch.testing.assert_close(o, ref, **TOL)
    for a, b in zip(_grads(o, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("backend,shift", [("torch", 0), ("torch", 64), ("triton", 0), ("triton", 64)])
def test_one_window_over_everything_is_full_attention(backend, shift):
    x = _x(((70, 3.0), (30, 2.0)))
    lay, win = block_layout(x), window_layout(x, window=128, shift=shift)
    assert win.partition.num_blocks == 2                 # one window per batch item
    n = x.num_tokens
    q, k, v = _leaves((n, 4, 16), (n, 2, 16), (n, 2, 16))
    o = window_branch(q, k, v, win, backend=backend)
    ref = _full_attention(q, k, v, lay.cu_seqlens.tolist())
    torch.testing.assert_close(o, ref, **TOL)
    for a, b in zip(_grads(o, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_compression_block_of_one_token_is_full_attention(backend):
    x = _x(((70, 3.0), (30, 2.0)))
    lay = block_layout(x, compression_block=1, selection_block=2)
    n = x.num_tokens
    q, k, v, pe = _leaves((n, 4, 16), (n, 2, 16), (n, 2, 16), (1, 2, 16))
    k_cmp, v_cmp = compress_kv(k, v, lay, pe)
    o = compression_branch(q, k_cmp, v_cmp, lay, backend=backend)
    ref = _full_attention(q, k + pe[0], v, lay.cu_seqlens.tolist())
    torch.testing.assert_close(o, ref, **TOL)
    for a, b in zip(_grads(o, (q, k, v, pe)), _grads(ref, (q, k, v, pe))):
        torch.testing.assert_close(a, b, **TOL)


def test_varlen_segments_of_every_length():
    """Empty query/key segments, one-token segments and segments longer than one tile (64)."""
    from n4d4d.kernels.triton_varlen import varlen_attention

    cu_q = torch.tensor([0, 0, 5, 6, 150, 160, 161])
    cu_k = torch.tensor([0, 3, 3, 4, 140, 140, 141])      # segment 4: queries but no keys
    q, k, v = _leaves((161, 4, 16), (141, 2, 16), (141, 2, 16))
    o, lse = varlen_attention(q, k, v, cu_q.to(DEVICE), cu_k.to(DEVICE))
    seg = torch.repeat_interleave(torch.arange(6), cu_q[1:] - cu_q[:-1]).to(DEVICE)
    ref, ref_lse = block_sparse_attention(q, k, v, cu_k.to(DEVICE), seg[:, None, None])
    torch.testing.assert_close(o, ref, **TOL)
    torch.testing.assert_close(lse, ref_lse, **TOL)
    assert (o[150:160] == 0).all() and torch.isinf(lse[150:160]).all()
    for a, b in zip(_grads(o, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("h,hkv", [(2, 2), (8, 1)])
def test_selection_kernel_on_scattered_choices(h, hkv):
    """Random (incoherent) block choices with repeats and -1: a repeated block counts once."""
    from n4d4d.kernels.triton_selection import selection_attention

    gen = torch.Generator().manual_seed(3)
    offsets = torch.tensor([0, 1, 20, 21, 90, 130])                 # 1, 19, 1, 69 (> BLOCK_N), 40 keys
    idx = torch.randint(-1, 5, (60, hkv, 3), generator=gen).to(DEVICE)
    idx[5] = -1                                                      # a query that selects nothing
    q, k, v = _leaves((60, h, 16), (130, hkv, 16), (130, hkv, 16))
    o = selection_attention(q, k, v, idx, offsets.to(DEVICE))
    ref, _ = block_sparse_attention(q, k, v, offsets.to(DEVICE), idx)
    torch.testing.assert_close(o, ref, **TOL)
    assert (o[5] == 0).all()
    for a, b in zip(_grads(o, (q, k, v)), _grads(ref, (q, k, v))):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.skipif(CUDA, reason="on a GPU test_bf16_on_gpu covers the half-precision path")
def test_float16_under_the_interpreter():
    """The half-precision path (casts of probabilities and gradients before ``tl.dot``) on the CPU.

    The interpreter cannot do bf16 (numpy has no bf16 type), so this runs fp16, the same code path.
    fp16 keeps 11 bits of mantissa: outputs and gradients within 5e-3 of the largest fp32 reference
    magnitude (observed ~1e-3), same block choice for both.
    """
    x = _x(((90, 6.0), (30, 3.0)))
    lay, win = block_layout(x), window_layout(x, shift=4)
    n = x.num_tokens
    f32 = _leaves((n, 8, 32), (n, 2, 32), (n, 2, 32))
    f16 = [t.detach().to(torch.float16).requires_grad_() for t in f32]
    idx = select_blocks(f32[0].detach(), compress_kv(f32[1], f32[2], lay)[0].detach(), lay, 3)
    for name, fn in {
        "compression": lambda q, k, v, be: compression_branch(q, *compress_kv(k, v, lay), lay, backend=be),
        "selection": lambda q, k, v, be: selection_branch(q, k, v, idx, lay, backend=be),
        "window": lambda q, k, v, be: window_branch(q, k, v, win, backend=be),
    }.items():
        ref, out = fn(*f32, "torch"), fn(*f16, "triton")
        assert out.dtype == torch.float16
        for a, b in zip((out, *_grads(out, f16)), (ref, *_grads(ref, f32))):
            err = float((a.detach().float() - b.detach()).abs().max() / b.detach().abs().max())
            assert err <= 5e-3, f"{name}: relative error {err:.3g}"


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="bf16 Triton kernels need a CUDA device")
def test_bf16_on_gpu():
    """Issue configuration (16 query heads, 2 KV heads, head dim 64): bf16 Triton vs fp32 reference.

    Each branch with the same block choice: outputs and q, k, v gradients within 2e-2 of the largest
    reference magnitude (bf16 keeps 8 bits of mantissa). The Triton selection (bf16 scores) and the
    fp32 one may differ at near ties: at least 90% of the chosen blocks agree.
    """
    from n4d4d.kernels.triton_topk import select_blocks_triton

    x = SparseTensor.from_batches([shell_coords(6000, 0), shell_coords(2500, 1)],
                                  [torch.zeros(6000, 1), torch.zeros(2500, 1)]).to("cuda")
    lay, win = block_layout(x), window_layout(x, shift=4)
    n = x.num_tokens
    f32 = _leaves((n, 16, 64), (n, 2, 64), (n, 2, 64))
    b16 = [t.detach().to(torch.bfloat16).requires_grad_() for t in f32]
    idx = select_blocks(f32[0].detach(), compress_kv(f32[1], f32[2], lay)[0].detach(), lay, 16)
    branches = {
        "compression": lambda q, k, v, be: compression_branch(q, *compress_kv(k, v, lay), lay, backend=be),
        "selection": lambda q, k, v, be: selection_branch(q, k, v, idx, lay, backend=be),
        "window": lambda q, k, v, be: window_branch(q, k, v, win, backend=be),
    }
    for name, fn in branches.items():
        ref = fn(*f32, "torch")
        out = fn(*b16, "triton")
        for a, b in zip((out, *_grads(out, b16)), (ref, *_grads(ref, f32))):
            err = float((a.detach().float() - b.detach()).abs().max() / b.detach().abs().max())
            assert err <= 2e-2, f"{name}: relative error {err:.3g}"
    k_cmp, v_cmp = compress_kv(b16[1].detach(), b16[2].detach(), lay)
    _, lse = compression_branch(b16[0].detach(), k_cmp, v_cmp, lay, backend="triton", return_lse=True)
    got = select_blocks_triton(b16[0].detach(), k_cmp, lse, lay, 16)
    same = (got.long()[..., :, None] == idx.long()[..., None, :]).any(-1) & (got >= 0)
    assert same.sum() >= 0.9 * (idx >= 0).sum()


@pytest.mark.parametrize("h,hkv", [(6, 2)])
def test_triton_block_importance_matches_torch(h, hkv):
    """Chosen blocks, in order, for a group of 3 heads (padded to 4 rows per token in the kernel).

    GQA groups of 1, 2 and 8 go through the same kernel in ``test_triton_matches_reference``.
    """
    from n4d4d.kernels.triton_topk import select_blocks_triton
    from n4d4d.kernels.triton_varlen import varlen_attention

    x = _x()
    lay = block_layout(x)
    n = x.num_tokens
    q, k = (t.detach() for t in _leaves((n, h, 16), (n, hkv, 16)))
    k_cmp, _ = compress_kv(k, k, lay)
    _, lse = varlen_attention(q, k_cmp, k_cmp, lay.cu_seqlens, lay.compression.cu_blocks)
    got = select_blocks_triton(q, k_cmp, lse, lay, topk=4, max_scores=4000)   # several query chunks
    want = select_blocks(q, k_cmp, lay, topk=4)
    assert torch.equal(got, want)
    assert (got[int(lay.cu_seqlens[1]):, :, 2:] == -1).all()                 # item 1 has 2 blocks
