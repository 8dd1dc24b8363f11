"""SparseTensor and the SSA token layout: blocks are contiguous runs, offsets and caches are right.

Truth is recomputed independently from the coordinates (integer division and grouping in Python),
so these checks are exact (no tolerance).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from n4d4d.kernels.layout import block_layout, compute_block_layout, window_layout  # noqa: E402
from n4d4d.kernels.sparse_tensor import SparseTensor  # noqa: E402
from n4d4d.kernels.synthetic import shell_coords  # noqa: E402


def _batch(seed: int = 0) -> SparseTensor:
    """Two shells of different sizes, batch item 1 empty, plus an isolated voxel; shuffled rows."""
    a, b = shell_coords(150, seed), shell_coords(60, seed + 1) + 3
    b = torch.cat([b, torch.tensor([[40, 40, 40]], dtype=torch.int32)])  # a block with one token
    coords = torch.cat([torch.cat([torch.zeros(len(a), 1, dtype=torch.int32), a], 1),
                        torch.cat([torch.full((len(b), 1), 2, dtype=torch.int32), b], 1)])
    perm = torch.randperm(len(coords), generator=torch.Generator().manual_seed(seed))
    return SparseTensor(coords[perm], torch.randn(len(coords), 5), batch_size=3)


def _runs_match(part, keys: list) -> None:
    """Blocks of ``part`` are exactly the maximal runs of equal ``keys`` and each key is one run."""
    off = part.offsets.tolist()
    seen = set()
    for i in range(part.num_blocks):
        run = keys[off[i]:off[i + 1]]
        assert len(run) > 0 and len(set(run)) == 1, "a block mixes keys or is empty"
        assert run[0] not in seen, "a key is split over two blocks"
        seen.add(run[0])
    assert off[0] == 0 and off[-1] == len(keys)


@pytest.mark.parametrize("c,s", [(4, 8), (2, 8), (1, 4), (4, 4)])
def test_blocks_are_contiguous_runs(c, s):
    x = _batch()
    lay = compute_block_layout(x.coords, x.batch_size, c, s)
    co = x.coords[lay.order].tolist()
    assert torch.equal(lay.coords, x.coords[lay.order].long())
    _runs_match(lay.compression, [(p[0], p[1] // c, p[2] // c, p[3] // c) for p in co])
    _runs_match(lay.selection, [(p[0], p[1] // s, p[2] // s, p[3] // s) for p in co])
    # each compression block lies inside the selection block cmp_to_sel says
    starts = lay.compression.offsets[:-1].long()
    assert torch.equal(lay.cmp_to_sel, lay.selection.block_of_token[starts])
    # batch offsets: item 1 is empty, items are in order
    assert lay.cu_seqlens.tolist() == [0, 150, 150, 211]
    assert torch.equal(lay.token_batch, lay.coords[:, 0])
    for part in (lay.compression, lay.selection):
        cb = part.cu_blocks.tolist()
        assert cb[1] == cb[2]
        assert torch.equal(part.block_batch, torch.tensor([0] * cb[1] + [2] * (cb[3] - cb[2])))
    # positions inside a compression block: in range and distinct within each block
    pos = lay.cmp_pos.tolist()
    for i in range(lay.compression.num_blocks):
        a, b = lay.compression.offsets[i].item(), lay.compression.offsets[i + 1].item()
        assert len(set(pos[a:b])) == b - a and all(0 <= p < c**3 for p in pos[a:b])
    assert torch.equal(lay.order[lay.inverse], torch.arange(len(co)))
    assert not lay.is_sorted
    assert compute_block_layout(lay.coords.int(), 3, c, s).is_sorted


def test_one_token_block_and_lengths():
    lay = block_layout(_batch())
    assert int(lay.selection.lengths.min()) == 1          # the isolated voxel
    assert int(lay.selection.lengths.max()) <= 8**3
    assert int(lay.selection.lengths.sum()) == lay.num_tokens


@pytest.mark.parametrize("shift", [0, 4])
def test_window_layout(shift):
    x = _batch()
    lay = block_layout(x)
    win = window_layout(x, shift=shift)
    co = lay.coords[win.order].tolist()
    _runs_match(win.partition, [(p[0], (p[1] + shift) // 8, (p[2] + shift) // 8, (p[3] + shift) // 8) for p in co])
    assert torch.equal(win.order[win.inverse], torch.arange(len(co)))
    assert win.is_identity == (shift == 0)     # unshifted windows of side 8 are the selection blocks


def test_layout_is_cached_per_resolution():
    x = _batch()
    y = x.replace(torch.zeros(x.num_tokens, 7))
    assert block_layout(x) is block_layout(y)
    assert window_layout(x, shift=4) is window_layout(y, shift=4)
    assert block_layout(x, 2, 4) is not block_layout(x)
    z = SparseTensor(x.coords.clone(), x.feats)            # new coordinates object: own cache
    assert block_layout(z) is not block_layout(x)


def test_bad_input_raises():
    co = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]], dtype=torch.int32)
    with pytest.raises(ValueError, match="twice"):
        block_layout(SparseTensor(co, torch.zeros(2, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        block_layout(SparseTensor(torch.tensor([[0, -1, 0, 0]]), torch.zeros(1, 1)))
    with pytest.raises(ValueError, match="multiple"):
        compute_block_layout(co[:1], 1, 3, 8)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        SparseTensor(torch.zeros(3, 3, dtype=torch.int32), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="rows"):
        SparseTensor(co[:1], torch.zeros(2, 1))
    with pytest.raises(ValueError, match="batch"):
        SparseTensor(co, torch.zeros(2, 1), batch_size=0)
    with pytest.raises(ValueError, match="rows"):
        SparseTensor(co[:1], torch.zeros(1, 1)).replace(torch.zeros(3, 1))


def test_from_batches_and_shell():
    a, b = shell_coords(40, 0), shell_coords(25, 1)
    assert a.shape == (40, 3) and len(set(map(tuple, a.tolist()))) == 40 and int(a.min()) >= 0
    x = SparseTensor.from_batches([a, b], [torch.zeros(40, 2), torch.ones(25, 2)])
    assert x.batch_size == 2 and x.batch_counts().tolist() == [40, 25]


def test_import_n4d4d_does_not_import_torch():
    code = "import sys, n4d4d, n4d4d.kernels; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
