"""Token layout of spatial sparse attention: voxels sorted so that every 3D block is a contiguous run.

Spatial Sparse Attention (Direct3D-S2, Wu et al. 2025, "Gigascale 3D Generation Made Easy with
Spatial Sparse Attention") partitions the occupied voxels of a sparse grid three ways:

* compression blocks: cubes of side ``compression_block`` (``c``, default 4) voxels;
* selection blocks: cubes of side ``selection_block`` (``s``, default 8, a multiple of ``c``);
* windows: cubes of side ``window`` (default 8), optionally shifted by ``shift`` voxels (half a
  window on alternate layers, as in the Swin transformer).

:func:`block_layout` sorts the tokens by (batch, selection block, compression block inside it, voxel
inside that), so each compression block and each selection block is a contiguous run of tokens and
each selection block is a run of whole compression blocks. Offsets in the ``cu_seqlens`` style of
flash-attention (``offsets[i]:offsets[i + 1]`` are the tokens of block ``i``) describe the runs.
:func:`window_layout` gives the permutation from that order into window order and the window offsets.
Both are computed once per resolution and cached on the :class:`SparseTensor`.

Blocks exist only where there are voxels: there are no empty blocks, and a block may hold any number
of tokens from 1 to ``side**3``; a batch item with no voxels has empty runs in ``cu_seqlens``.
This module does not attend; see :mod:`n4d4d.kernels.ssa`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from n4d4d.kernels.sparse_tensor import SparseTensor


@dataclass(frozen=True, eq=False)
class Partition:
    """A partition of ``N`` sorted tokens into contiguous blocks.

    Attributes:
        offsets: ``(n_blocks + 1,)`` int32; block ``i`` is tokens ``offsets[i]:offsets[i + 1]``
            (never empty).
        block_of_token: ``(N,)`` int64 block index of each token.
        block_batch: ``(n_blocks,)`` int64 batch index of each block.
        cu_blocks: ``(B + 1,)`` int64; batch ``b`` owns blocks ``cu_blocks[b]:cu_blocks[b + 1]``.
        num_blocks: ``n_blocks``.
    """

    offsets: torch.Tensor
    block_of_token: torch.Tensor
    block_batch: torch.Tensor
    cu_blocks: torch.Tensor
    num_blocks: int

    @property
    def lengths(self) -> torch.Tensor:
        """``(n_blocks,)`` int64 tokens per block."""
        return (self.offsets[1:] - self.offsets[:-1]).long()


@dataclass(frozen=True, eq=False)
class BlockLayout:
    """Tokens sorted by (batch, selection block, compression block, voxel). See module docstring.

    Attributes:
        order: ``(N,)`` int64; sorted token ``i`` is input row ``order[i]``.
        inverse: ``(N,)`` int64; input row ``j`` is sorted token ``inverse[j]``.
        is_sorted: the input rows were already in this order (``order`` is the identity).
        batch_size: ``B``.
        cu_seqlens: ``(B + 1,)`` int32 token offsets of the batch items.
        token_batch: ``(N,)`` int64 batch index of each sorted token.
        coords: ``(N, 4)`` int64 sorted coordinates.
        compression / selection: the two :class:`Partition` of the sorted tokens.
        cmp_to_sel: ``(n_cmp,)`` int64 selection block containing each compression block.
        cmp_pos: ``(N,)`` int64 position of each token inside its compression block, in
            ``[0, c**3)`` (x-major), the index of its intra-block positional encoding.
        compression_block, selection_block: the block sides ``c`` and ``s`` in voxels.
        cache: scratch dict for derived tables (kernel tile lists), keyed by their parameters.
    """

    order: torch.Tensor
    inverse: torch.Tensor
    is_sorted: bool
    batch_size: int
    cu_seqlens: torch.Tensor
    token_batch: torch.Tensor
    coords: torch.Tensor
    compression: Partition
    selection: Partition
    cmp_to_sel: torch.Tensor
    cmp_pos: torch.Tensor
    compression_block: int
    selection_block: int
    cache: dict = field(default_factory=dict, repr=False)

    @property
    def num_tokens(self) -> int:
        return int(self.order.shape[0])


@dataclass(frozen=True, eq=False)
class WindowLayout:
    """Windows over the tokens of a :class:`BlockLayout`.

    Attributes:
        order: ``(N,)`` int64; window-ordered token ``i`` is block-ordered token ``order[i]``.
        inverse: ``(N,)`` int64, the inverse permutation.
        is_identity: the block order already groups windows (``order`` is the identity; true when
            the window equals the selection block and there is no shift).
        partition: the windows as a :class:`Partition` of the window-ordered tokens.
        window, shift: window side and shift in voxels (window ``w`` covers the voxels whose
            ``(xyz + shift) // window`` is ``w``).
        cache: scratch dict for derived tables.
    """

    order: torch.Tensor
    inverse: torch.Tensor
    is_identity: bool
    partition: Partition
    window: int
    shift: int
    cache: dict = field(default_factory=dict, repr=False)


def _lin(batch: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Row-major linear index of (batch, cell x, y, z); ``cell`` is ``(N, 3)`` int64, >= 0."""
    ext = cell.max(dim=0).values + 1
    return ((batch * ext[0] + cell[:, 0]) * ext[1] + cell[:, 1]) * ext[2] + cell[:, 2]


def _partition(sorted_key: torch.Tensor, token_batch: torch.Tensor, batch_size: int) -> Partition:
    """Runs of equal ``sorted_key`` (``(N,)`` int64, non-decreasing) as a :class:`Partition`."""
    n = sorted_key.shape[0]
    change = torch.ones(n, dtype=torch.bool, device=sorted_key.device)
    change[1:] = sorted_key[1:] != sorted_key[:-1]
    starts = torch.nonzero(change).flatten()
    offsets = torch.cat([starts, starts.new_tensor([n])]).to(torch.int32)
    block_batch = token_batch[starts]
    counts = torch.bincount(block_batch, minlength=batch_size)
    cu_blocks = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    return Partition(offsets, torch.cumsum(change.long(), 0) - 1, block_batch, cu_blocks,
                     int(starts.shape[0]))


def _check_coords(coords: torch.Tensor) -> None:
    if int(coords[:, 1:].min()) < 0:
        raise ValueError("spatial sparse attention needs non-negative voxel coordinates")


def compute_block_layout(coords: torch.Tensor, batch_size: int, compression_block: int = 4,
                         selection_block: int = 8) -> BlockLayout:
    """Sort ``coords`` (``(N, 4)`` int, batch x y z) into blocks; see :class:`BlockLayout`.

    Raises:
        ValueError: ``selection_block`` not a positive multiple of ``compression_block``, negative
            coordinates, or a voxel listed twice.
    """
    c, s = int(compression_block), int(selection_block)
    if c < 1 or s < c or s % c:
        raise ValueError(f"selection block ({s}) must be a positive multiple of the compression block ({c})")
    _check_coords(coords)
    co = coords.long()
    b, xyz = co[:, 0], co[:, 1:]
    r = s // c
    sel_cell, inner = torch.div(xyz, s, rounding_mode="floor"), xyz % s
    sub, pos = torch.div(inner, c, rounding_mode="floor"), inner % c
    sub_lin = (sub[:, 0] * r + sub[:, 1]) * r + sub[:, 2]
    pos_lin = (pos[:, 0] * c + pos[:, 1]) * c + pos[:, 2]
    key = (_lin(b, sel_cell) * r**3 + sub_lin) * c**3 + pos_lin
    skey, order = torch.sort(key, stable=True)
    if bool((skey[1:] == skey[:-1]).any()):
        raise ValueError("coords lists the same voxel twice")
    n = co.shape[0]
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(n, device=order.device)
    token_batch = b[order]
    counts = torch.bincount(token_batch, minlength=batch_size)
    cu_seqlens = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)]).to(torch.int32)
    cmp = _partition(torch.div(skey, c**3, rounding_mode="floor"), token_batch, batch_size)
    sel = _partition(torch.div(skey, (r * c) ** 3, rounding_mode="floor"), token_batch, batch_size)
    cmp_to_sel = sel.block_of_token[cmp.offsets[:-1].long()]
    is_sorted = bool((order == torch.arange(n, device=order.device)).all())
    return BlockLayout(order, inverse, is_sorted, batch_size, cu_seqlens, token_batch, co[order],
                       cmp, sel, cmp_to_sel, pos_lin[order], c, s)


def compute_window_layout(blocks: BlockLayout, window: int = 8, shift: int = 0) -> WindowLayout:
    """Windows of side ``window`` shifted by ``shift`` voxels over ``blocks``' sorted tokens.

    A token at ``xyz`` belongs to window ``(xyz + shift) // window`` of its batch item, so a shift
    of ``window // 2`` moves the window borders by half a window. Windows hold 1 to ``window**3``
    tokens; a window is never empty.
    """
    if window < 1 or not 0 <= shift < window:
        raise ValueError(f"need window >= 1 and 0 <= shift < window, got window={window}, shift={shift}")
    co = blocks.coords
    key = _lin(co[:, 0], torch.div(co[:, 1:] + shift, window, rounding_mode="floor"))
    skey, order = torch.sort(key, stable=True)
    n = order.shape[0]
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(n, device=order.device)
    part = _partition(skey, blocks.token_batch[order], blocks.batch_size)
    is_identity = bool((order == torch.arange(n, device=order.device)).all())
    return WindowLayout(order, inverse, is_identity, part, int(window), int(shift))


def block_layout(x: SparseTensor, compression_block: int = 4, selection_block: int = 8) -> BlockLayout:
    """The :class:`BlockLayout` of ``x``'s coordinates, computed once and cached on ``x``."""
    return x.cached(("ssa_blocks", compression_block, selection_block),
                    lambda: compute_block_layout(x.coords, x.batch_size, compression_block, selection_block))


def window_layout(x: SparseTensor, compression_block: int = 4, selection_block: int = 8,
                  window: int = 8, shift: int = 0) -> WindowLayout:
    """The :class:`WindowLayout` over ``block_layout(x, ...)``, computed once and cached on ``x``."""
    blocks = block_layout(x, compression_block, selection_block)
    return x.cached(("ssa_window", compression_block, selection_block, window, shift),
                    lambda: compute_window_layout(blocks, window, shift))
