"""Sparse convolutions against torch's dense ``conv3d`` / ``conv_transpose3d`` on a small grid.

The sparse operators are defined as the dense ones on the zero-filled grid, read at the active
voxels, so outputs and gradients must agree to float64 rounding (tolerance 1e-10: the sums are the
same terms in a different order).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from n4d4d.generator.sparse_conv import (  # noqa: E402
    CHILD_OFFSETS, SparseDownsample, SparseSubdivide, SubMConv3d, coords_lookup, submanifold_map)
from n4d4d.kernels.sparse_tensor import SparseTensor  # noqa: E402

G = 6  # dense grid side


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: two intra-op threads on a shared 2-core machine are many times slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
B, CIN, COUT = 2, 3, 4


def _random_sparse(seed: int, density: float = 0.3):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(B, G, G, G, generator=g) < density
    coords = torch.nonzero(mask).to(torch.int32)
    coords = coords[torch.randperm(coords.shape[0], generator=g)]  # rows in no particular order
    feats = torch.randn(coords.shape[0], CIN, generator=g, dtype=torch.float64)
    return coords, feats


def _dense(coords, feats, side=G):
    d = torch.zeros(B, feats.shape[1], side, side, side, dtype=feats.dtype)
    c = coords.long()
    d[c[:, 0], :, c[:, 1], c[:, 2], c[:, 3]] = feats
    return d


def _read(dense, coords):
    c = coords.long()
    return dense[c[:, 0], :, c[:, 1], c[:, 2], c[:, 3]]


def _check_grads(sparse_out, dense_out_at_sites, sparse_leaves, dense_leaves, seed):
    g = torch.randn(sparse_out.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gs = torch.autograd.grad((sparse_out * g).sum(), sparse_leaves)
    gd = torch.autograd.grad((dense_out_at_sites * g).sum(), dense_leaves)
    return gs, gd


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_submanifold_matches_dense_conv3d(kernel_size):
    coords, feats = _random_sparse(0)
    conv = SubMConv3d(CIN, COUT, kernel_size).double()
    feats.requires_grad_(True)
    x = SparseTensor(coords, feats)
    out = conv(x)
    assert torch.equal(out.coords, x.coords)

    k = kernel_size
    w_dense = conv.weight.detach().clone().reshape(k, k, k, CIN, COUT).permute(4, 3, 0, 1, 2).contiguous()
    w_dense.requires_grad_(True)
    d_in = _dense(coords, feats)
    d_out = torch.nn.functional.conv3d(d_in, w_dense, conv.bias, padding=k // 2)
    ref = _read(d_out, coords)
    torch.testing.assert_close(out.feats, ref, rtol=0, atol=1e-10)

    gs, gd = _check_grads(out.feats, ref, (feats, conv.weight), (feats, w_dense), 1)
    torch.testing.assert_close(gs[0], gd[0], rtol=0, atol=1e-10)
    torch.testing.assert_close(gs[1].reshape(k, k, k, CIN, COUT).permute(4, 3, 0, 1, 2), gd[1], rtol=0, atol=1e-10)


def test_neighbour_map_cached_and_shared_by_replace():
    coords, feats = _random_sparse(2)
    x = SparseTensor(coords, feats)
    m1 = submanifold_map(x)
    m2 = submanifold_map(x.replace(feats * 2))
    assert m1 is m2
    # every voxel is its own centre neighbour; the map has one (i, o) pair per active neighbour
    centre = m1.offsets[13], m1.offsets[14]
    assert torch.equal(m1.in_idx[centre[0]:centre[1]], m1.out_idx[centre[0]:centre[1]])
    assert centre[1] - centre[0] == coords.shape[0]


def test_downsample_matches_dense_stride2_conv():
    coords, feats = _random_sparse(3)
    down = SparseDownsample(CIN, COUT).double()
    feats.requires_grad_(True)
    out = down(SparseTensor(coords, feats))
    # parents: exactly the coarse cells holding an active fine voxel
    expect = torch.unique(torch.cat([coords[:, :1], coords[:, 1:] // 2], 1), dim=0)
    assert torch.equal(torch.unique(out.coords, dim=0), expect)

    w_dense = down.weight.detach().clone().reshape(2, 2, 2, CIN, COUT).permute(4, 3, 0, 1, 2).contiguous()
    w_dense.requires_grad_(True)
    d_out = torch.nn.functional.conv3d(_dense(coords, feats), w_dense, down.bias, stride=2)
    ref = _read(d_out, out.coords)
    torch.testing.assert_close(out.feats, ref, rtol=0, atol=1e-10)
    gs, gd = _check_grads(out.feats, ref, (feats, down.weight), (feats, w_dense), 4)
    torch.testing.assert_close(gs[0], gd[0], rtol=0, atol=1e-10)
    torch.testing.assert_close(gs[1].reshape(2, 2, 2, CIN, COUT).permute(4, 3, 0, 1, 2), gd[1], rtol=0, atol=1e-10)


def test_subdivide_matches_dense_transposed_conv_at_kept_children():
    coords, feats = _random_sparse(5, density=0.2)
    coords = coords.clone()
    coords[:, 1:] = coords[:, 1:] // 2  # parents on a 3^3 grid (duplicates removed below)
    coords = torch.unique(coords, dim=0)
    feats = torch.randn(coords.shape[0], CIN, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    keep = torch.rand(coords.shape[0], 8, generator=torch.Generator().manual_seed(7)) < 0.5
    keep[0] = True
    sub = SparseSubdivide(CIN, COUT).double()
    feats.requires_grad_(True)
    out = sub(SparseTensor(coords, feats), keep)
    assert out.num_tokens == int(keep.sum())
    # children are 2 v + offset for exactly the kept (v, offset) pairs
    p, k = torch.nonzero(keep, as_tuple=True)
    expect = coords[p].clone()
    expect[:, 1:] = 2 * expect[:, 1:] + CHILD_OFFSETS[k].to(torch.int32)
    assert torch.equal(out.coords, expect)

    w_dense = sub.weight.detach().clone().reshape(2, 2, 2, CIN, COUT).permute(3, 4, 0, 1, 2).contiguous()
    w_dense.requires_grad_(True)
    d_out = torch.nn.functional.conv_transpose3d(_dense(coords, feats, 3), w_dense, sub.bias, stride=2)
    ref = _read(d_out, out.coords)
    torch.testing.assert_close(out.feats, ref, rtol=0, atol=1e-10)
    gs, gd = _check_grads(out.feats, ref, (feats, sub.weight), (feats, w_dense), 8)
    torch.testing.assert_close(gs[0], gd[0], rtol=0, atol=1e-10)
    torch.testing.assert_close(gs[1].reshape(2, 2, 2, CIN, COUT).permute(3, 4, 0, 1, 2), gd[1], rtol=0, atol=1e-10)


def test_coords_lookup():
    table = torch.tensor([[0, 1, 2, 3], [1, 1, 2, 3], [0, 0, 0, 0]], dtype=torch.int32)
    query = torch.tensor([[1, 1, 2, 3], [0, 5, 5, 5], [0, 0, 0, 0]], dtype=torch.int32)
    assert coords_lookup(table, query).tolist() == [1, -1, 2]
