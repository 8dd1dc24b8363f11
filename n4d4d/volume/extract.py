"""Watertight surface of a :class:`~n4d4d.volume.sparse.SparseSDF` by marching cubes over its
occupied blocks.

Why the result is closed: a node that is not stored lies farther than ``band >= sqrt(3)``
voxels from the surface, so no edge touching it changes sign. Hence (a) inside one block
padded by one layer of its upper neighbours' nodes, each connected set of unstored nodes
has the sign of the stored nodes it touches (it must touch one, the block being occupied);
(b) every cell with a sign change has all eight corners within ``sqrt(3)`` voxels of the
surface, in particular its lowest corner, so the cell belongs to an occupied block and is
contoured; (c) an unoccupied block holds no sign change at all, so the contoured region's
boundary carries no sign change and the surface has no border. Shared faces see identical
node values from both sides, and Lewiner's marching cubes (``skimage.measure.marching_cubes``)
decides ambiguous faces from those four values alone, so blocks stitch without cracks.
Vertices are welded by the grid edge they lie on.

This module does not compute volumes (:mod:`n4d4d.volume.sdf`) or decimate
(:mod:`n4d4d.volume.simplify`).
"""

from __future__ import annotations

import time

import numpy as np

from n4d4d.errors import EmptyMeshError
from n4d4d.volume.quality import shell_labels, signed_volumes
from n4d4d.volume.sdf import MIN_BAND_VOXELS
from n4d4d.volume.sparse import SparseSDF

#: Node values closer to zero than this fraction of a voxel are pushed to it (keeping their
#: sign, zero counting as outside), so that no vertex lands on or next to a node and the
#: grid edge of every vertex can be read from scikit-image's float32 output.
_NUDGE = 1e-3

#: only shells with fewer faces are measured for the sub-voxel clean-up: the artefacts are
#: single nodes or a few (8 to ~50 faces), while a shell of this many faces spans hundreds
#: of voxels^2 and is a real, if thin, feature whatever its volume
_SMALL_SHELL_FACES = 2000


def extract_surface(sdf: SparseSDF, *, min_shell_voxels: float = 1.0,
                    stats: dict | None = None):
    """The zero level set of ``sdf`` as a closed, manifold, outward-oriented
    :class:`n4d4d.asset.Mesh` (one or more shells, metres).

    Shells enclosing less than ``min_shell_voxels`` voxel volumes are dropped: they are
    sub-voxel features sampled by a single node (a node just inside a thin ridge whose six
    neighbours are outside gives an 8-triangle bubble of ~0.01 voxel^3), below what the grid
    resolves.

    Raises :class:`~n4d4d.errors.EmptyMeshError` when the band has no sign change (nothing
    enclosed, e.g. a single open sheet), and ValueError for a band narrower than sqrt(3)
    voxels, for which the closedness argument above does not hold.
    """
    from skimage.measure import marching_cubes

    from n4d4d.asset import Mesh
    from n4d4d.volume._blocks import pad_blocks

    t0 = time.perf_counter()
    if sdf.band < MIN_BAND_VOXELS * sdf.voxel_size * (1 - 1e-6):
        raise ValueError(f"extract_surface needs a band of at least sqrt(3) voxels, got "
                         f"{sdf.band / sdf.voxel_size:.3f}")
    vals = sdf.values
    if sdf.n_nodes == 0 or not (vals < 0).any() or not (vals >= 0).any():
        raise EmptyMeshError("the volume has no zero crossing (the input encloses no volume)")
    bs, p = sdf.block_size, sdf.block_size + 1
    h = sdf.voxel_size
    blocks_shape = sdf.blocks_shape

    dense = np.full((sdf.n_blocks, bs, bs, bs), np.nan, dtype=np.float32)
    loc = sdf.coords % bs
    dense[sdf.block_ids(), loc[:, 0], loc[:, 1], loc[:, 2]] = vals / np.float32(h)
    vol = pad_blocks(dense, sdf.block_coords, blocks_shape, 0, 1, np.nan)
    del dense
    _fill_signs(vol, sdf.band / h)
    tiny = np.float32(_NUDGE)
    small = np.abs(vol) < tiny
    vol[small] = np.where(vol[small] < 0, -tiny, tiny)

    neg = (vol < 0).reshape(len(vol), -1)
    crossing = np.flatnonzero(neg.any(axis=1) & ~neg.all(axis=1))
    if len(crossing) == 0:
        raise EmptyMeshError("the volume has no zero crossing (the input encloses no volume)")
    tiles, stack, mask = _tile(vol[crossing])
    t1 = time.perf_counter()
    verts, faces, _, _ = marching_cubes(stack, 0.0, mask=mask)
    t2 = time.perf_counter()

    # Each vertex lies on a grid edge, or (Lewiner's tilings with an extra vertex: cases
    # 6, 7, 10, 12, 13) inside a cell. Edge vertices are recomputed in float64 from the two
    # node values, so the copies made by neighbouring blocks agree exactly, and welded by
    # edge; interior vertices are keyed by their cell.
    tile = np.floor(verts / p).astype(np.int64)
    local = verts.astype(np.float64) - tile * p
    base = np.floor(local).astype(np.int64)
    frac = local - base
    interior = (frac > 1e-5).sum(axis=1) >= 2
    axis = np.where(interior, 3, np.argmax(frac, axis=1))
    edge = np.flatnonzero(~interior)
    ax_e = axis[edge]
    end = base[edge] + np.eye(3, dtype=np.int64)[ax_e]
    v0 = stack[tuple((tile[edge] * p + base[edge]).T)].astype(np.float64)
    v1 = stack[tuple((tile[edge] * p + end).T)].astype(np.float64)
    local[edge] = base[edge]
    local[edge, ax_e] += v0 / (v0 - v1)
    tile_id = (tile[:, 0] * tiles[1] + tile[:, 1]) * tiles[2] + tile[:, 2]
    offset = sdf.block_coords[crossing[tile_id]].astype(np.int64) * bs
    grid = offset + local
    gbase = offset + base
    dims = blocks_shape.astype(np.int64) * bs + 2
    key = ((gbase[:, 0] * dims[1] + gbase[:, 1]) * dims[2] + gbase[:, 2]) * 4 + axis
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    faces = inverse.reshape(-1)[faces]
    verts = grid[first]
    n_shells, label = shell_labels(faces, len(verts))
    small = np.zeros(n_shells, dtype=bool)
    if n_shells > 1:
        # a shell under one voxel of volume has few faces: only those are measured
        size = np.bincount(label, minlength=n_shells)
        few = np.flatnonzero(size < _SMALL_SHELL_FACES)
        pick = np.flatnonzero(np.isin(label, few))
        vol = signed_volumes(verts, faces[pick], label[pick], n_shells)
        small[few] = np.abs(vol[few]) < min_shell_voxels
    if small.all():
        raise EmptyMeshError("the volume encloses nothing larger than a voxel")
    if small.any():
        faces = faces[~small[label]]
        used = np.unique(faces)
        remap = np.full(len(verts), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        verts, faces = verts[used], remap[faces]
    mesh = Mesh(vertices=sdf.origin + verts * h, faces=faces)
    if stats is not None:
        stats.update({"seconds_prepare": t1 - t0, "seconds_marching_cubes": t2 - t1,
                      "seconds_weld": time.perf_counter() - t2,
                      "blocks_contoured": int(len(crossing)),
                      "shells": int(n_shells - small.sum()), "shells_dropped": int(small.sum()),
                      "vertices": int(len(mesh.vertices)), "faces": int(len(mesh.faces))})
    return mesh


def _tile(blocks: np.ndarray):
    """Lay ``(B, p, p, p)`` padded blocks side by side in one 3-D volume (about a cube of
    tiles, so float32 vertex coordinates stay small and precise), with the mask that keeps
    marching cubes off the cells between tiles. Returns ``(tiles, volume, mask)``."""
    n, p = blocks.shape[0], blocks.shape[1]
    tx = int(np.ceil(n ** (1 / 3)))
    ty = int(np.ceil(np.sqrt(n / tx)))
    tz = int(np.ceil(n / (tx * ty)))
    tiles = np.array([tx, ty, tz])
    padded = np.ones((tx * ty * tz, p, p, p), dtype=np.float32)
    padded[:n] = blocks
    volume = padded.reshape(tx, ty, tz, p, p, p).transpose(0, 3, 1, 4, 2, 5) \
        .reshape(tx * p, ty * p, tz * p)
    mask = np.ones(volume.shape, dtype=bool)
    mask[::p] = False  # a cell is contoured iff mask holds at its far corner
    mask[:, ::p] = False
    mask[:, :, ::p] = False
    return tiles, np.ascontiguousarray(volume), mask


def _fill_signs(vol: np.ndarray, band: float) -> None:
    """Give every unstored (NaN) node of the padded blocks ``vol`` the value ``+-band``
    with the sign of the stored nodes its connected unstored region touches (in place)."""
    from scipy import ndimage

    unknown = np.isnan(vol)
    if not unknown.any():
        return
    structure = np.zeros((3, 3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(3, 1)
    labels, n = ndimage.label(unknown, structure=structure)
    sign = np.zeros(n + 1, dtype=np.float32)
    for axis in (1, 2, 3):
        for step in (1, -1):
            a = [slice(None)] * 4
            b = [slice(None)] * 4
            a[axis] = slice(0, -1) if step == 1 else slice(1, None)
            b[axis] = slice(1, None) if step == 1 else slice(0, -1)
            la, vb = labels[tuple(a)], vol[tuple(b)]
            pick = (la > 0) & ~np.isnan(vb)
            sign[la[pick]] = np.where(vb[pick] < 0, -1.0, 1.0)
    sign[sign == 0] = 1.0  # a region touching no stored node (cannot happen in a valid SDF)
    vol[unknown] = sign[labels[unknown]] * np.float32(band)
