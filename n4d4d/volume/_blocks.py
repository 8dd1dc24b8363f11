"""Dense per-block arrays over the occupied blocks of a block-sparse grid, and their halos.

A block-sparse field is handled as one ``(B, bs, bs, bs)`` array (one dense cube per occupied
block, blocks in sorted key order); neighbour access across block faces goes through
:func:`pad_blocks`, which surrounds every cube with ``lo`` layers from its lower neighbours
and ``hi`` layers from its upper ones (``fill`` where a neighbour is not occupied).
"""

from __future__ import annotations

import itertools

import numpy as np


def block_keys(block_coords: np.ndarray, blocks_shape: np.ndarray) -> np.ndarray:
    """``(B,) int64`` lexicographic linear keys of block coordinates."""
    c = np.asarray(block_coords, dtype=np.int64)
    nb = np.asarray(blocks_shape, dtype=np.int64)
    return (c[:, 0] * nb[1] + c[:, 1]) * nb[2] + c[:, 2]


def neighbour_index(block_coords: np.ndarray, blocks_shape: np.ndarray, offset) -> np.ndarray:
    """``(B,) int64`` index of the occupied block at ``block + offset``, or -1.
    ``block_coords`` must be sorted by :func:`block_keys`."""
    nb = np.asarray(blocks_shape, dtype=np.int64)
    keys = block_keys(block_coords, nb)
    c = np.asarray(block_coords, dtype=np.int64) + np.asarray(offset, dtype=np.int64)
    valid = np.all((c >= 0) & (c < nb), axis=1)
    k = (c[:, 0] * nb[1] + c[:, 1]) * nb[2] + c[:, 2]
    pos = np.minimum(np.searchsorted(keys, k), max(len(keys) - 1, 0))
    found = valid & (keys[pos] == k) if len(keys) else valid & False
    return np.where(found, pos, -1)


def pad_blocks(dense: np.ndarray, block_coords: np.ndarray, blocks_shape: np.ndarray,
               lo: int, hi: int, fill) -> np.ndarray:
    """``(B, lo+bs+hi, ...)`` copy of ``dense (B, bs, bs, bs)`` with halos of ``lo`` layers
    from the lower and ``hi`` from the upper neighbouring blocks (``fill`` where absent)."""
    b, bs = dense.shape[0], dense.shape[1]
    p = lo + bs + hi
    out = np.full((b, p, p, p), fill, dtype=dense.dtype)
    # per axis and offset: (destination slice, source slice)
    parts = {-1: (slice(0, lo), slice(bs - lo, bs)), 0: (slice(lo, lo + bs), slice(0, bs)),
             1: (slice(lo + bs, p), slice(0, hi))}
    for off in itertools.product((-1, 0, 1), repeat=3):
        if any((o == -1 and lo == 0) or (o == 1 and hi == 0) for o in off):
            continue
        dst = tuple(parts[o][0] for o in off)
        src = tuple(parts[o][1] for o in off)
        if off == (0, 0, 0):
            out[(slice(None),) + dst] = dense
            continue
        nbr = neighbour_index(block_coords, blocks_shape, off)
        have = np.flatnonzero(nbr >= 0)
        if len(have):
            out[(have,) + dst] = dense[(nbr[have],) + src]
    return out
