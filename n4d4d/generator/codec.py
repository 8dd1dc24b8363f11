"""Between :class:`~n4d4d.volume.SparseSDF` and the SS-VAE's tensors; encode, decode, extract a mesh.

What it does:

* :func:`sdf_to_tensors`: band nodes and values of a SparseSDF -> coords ``(N, 3) int32`` and the
  normalised SDF ``clip(values / (voxel_size * truncation), -1, 1)`` ``(N, 1) float32``;
* :func:`tensors_to_sdf`: decoded coords and normalised SDF -> a SparseSDF on the grid of a reference
  volume (same origin, voxel size, block size and grid), keeping the nodes inside the grid whose
  decoded distance is within the band;
* :func:`reconstruct`: encode (posterior mean) and decode (predicted pruning) one SparseSDF;
* :func:`decoded_surface`: the zero level set of a decoded band as a closed mesh (the marching cubes
  of a filled grid: :func:`grid_surface`); :func:`remove_small_shells` optionally drops floaters
  from it. (A sampled shape's surface is smoothed to one solid first:
  :mod:`n4d4d.generator.solid`.)

Why a separate extraction: :func:`n4d4d.volume.extract_surface` is exact for a true narrow band
(every node within ``band`` of the surface is stored), which a decoded band need not be: a pruned
block can leave the contoured region with a border. :func:`decoded_surface` instead fills the whole
grid: nodes outside the decoded band take the sign of the nearest band node (exact for a true band,
and a hole in a decoded band closes half-way across), then runs Lewiner's marching cubes
(``skimage.measure.marching_cubes``) on the dense grid padded with an outside layer, whose output is
closed because every cell of the padded grid is contoured. Memory is the dense grid (``R^3`` float32:
8 MiB at R = 128, 64 MiB at R = 256). It does not decimate or smooth.
"""

from __future__ import annotations

import numpy as np

from n4d4d.volume.sparse import SparseSDF


#: Shells of a decoded surface under this fraction of the largest shell's volume are dropped by
#: default (:func:`remove_small_shells`): floaters left by voxels the decoder keeps by mistake.
#: Chosen on the validation split (75 shapes, R = 128, the stage-1 checkpoint): of its 69 shapes
#: whose reference is one solid, 0.884 decode to one watertight solid with no filter, 0.957 with
#: 0.01, 0.986 with 0.03; absolute size limits (8 to 216 voxels^3) reach 0.957 at best, and a
#: lower pruning threshold (-0.5, -1: more voxels kept) gains F-score by 0.01 but no single volumes.
#: The shipped stage-2 checkpoint on the same shapes: 0.913, 0.971, 1.000.
MIN_SHELL_FRACTION = 0.03


def sdf_to_tensors(sdf: SparseSDF, truncation: float):
    """``(coords (N, 3) int32 torch, feats (N, 1) float32 torch)`` of ``sdf``'s band (truncation in voxels)."""
    import torch

    feats = np.clip(sdf.values / (sdf.voxel_size * truncation), -1.0, 1.0).astype(np.float32)
    return torch.from_numpy(np.array(sdf.coords, dtype=np.int32)), torch.from_numpy(feats)[:, None]


def pack(coords: np.ndarray, values: np.ndarray, like: SparseSDF, band: float | None = None) -> SparseSDF:
    """A SparseSDF of nodes ``coords (N, 3)`` with ``values (N,)`` (m) on ``like``'s grid, block-sorted.

    Nodes outside the grid or with ``|value| > band`` (default ``like.band``) are dropped.
    """
    band = like.band if band is None else band
    c = np.asarray(coords, np.int64)
    v = np.asarray(values, np.float32)
    ok = np.all((c >= 0) & (c < like.grid_shape), axis=1) & (np.abs(v) <= band)
    c, v = c[ok], v[ok]
    bs = like.block_size
    nb = -(-like.grid_shape.astype(np.int64) // bs)
    blk, loc = c // bs, c % bs
    bkey = (blk[:, 0] * nb[1] + blk[:, 1]) * nb[2] + blk[:, 2]
    order = np.lexsort(((loc[:, 0] * bs + loc[:, 1]) * bs + loc[:, 2], bkey))
    c, v, bkey = c[order], v[order], bkey[order]
    starts = np.flatnonzero(np.r_[True, bkey[1:] != bkey[:-1]]) if len(c) else np.zeros(0, np.int64)
    return SparseSDF(resolution=like.resolution, voxel_size=like.voxel_size, origin=like.origin,
                     block_size=bs, coords=c.astype(np.int32), values=v,
                     block_coords=(c[starts] // bs).astype(np.int32),
                     block_offsets=np.r_[starts, len(c)].astype(np.int64), band=band,
                     grid_shape=like.grid_shape)


def tensors_to_sdf(coords, feats, like: SparseSDF, truncation: float) -> SparseSDF:
    """Decoded ``coords (N, 3)`` and normalised ``feats (N, 1)`` (torch or numpy) -> SparseSDF on ``like``'s grid."""
    c = np.asarray(coords.cpu() if hasattr(coords, "cpu") else coords)
    f = np.asarray(feats.detach().float().cpu() if hasattr(feats, "cpu") else feats).reshape(-1)
    return pack(c, f * truncation * like.voxel_size, like)


def reconstruct(model, sdf: SparseSDF, device: str = "cpu", prune_threshold: float = 0.0) -> SparseSDF:
    """Encode ``sdf`` (posterior mean) and decode it with predicted pruning (children whose logit
    exceeds ``prune_threshold``); the decoded SparseSDF.

    Raises ``ValueError`` when the decoder prunes every voxel of some level.
    """
    import torch

    from n4d4d.kernels.sparse_tensor import SparseTensor

    trunc = model.config.truncation
    c, f = sdf_to_tensors(sdf, trunc)
    x = SparseTensor(torch.cat([torch.zeros(len(c), 1, dtype=torch.int32), c], 1).to(device), f.to(device))
    with torch.no_grad():
        posterior, _ = model.encode(x)
        out = model.decode(posterior.mode(), prune_threshold=prune_threshold)
    return tensors_to_sdf(out.sdf.coords[:, 1:], out.sdf.feats, sdf, trunc)


def dense_signed_grid(sdf: SparseSDF) -> np.ndarray:
    """The grid ``grid_shape + 2`` (one outside layer each side) with signs filled beyond the band.

    Band nodes keep their values (in voxels); every other node gets ``+-band`` (voxels) with the sign
    of the nearest band node (Euclidean distance transform, ``scipy.ndimage.distance_transform_edt``),
    the outer layer ``+band``. For a true band this is the true sign (a node farther than ``band``
    from the surface is nearer to a band node on its own side); where a decoded band has a hole, the
    two sides meet half-way across it and the surface closes there.
    """
    from scipy import ndimage

    shape = tuple(int(s) + 2 for s in sdf.grid_shape)
    band = np.float32(sdf.band / sdf.voxel_size)
    vol = np.zeros(shape, np.float32)
    known = np.zeros(shape, bool)
    c = sdf.coords.astype(np.int64) + 1
    vol[c[:, 0], c[:, 1], c[:, 2]] = sdf.values / np.float32(sdf.voxel_size)
    known[c[:, 0], c[:, 1], c[:, 2]] = True
    if not known.any():
        return np.full(shape, band, np.float32)
    idx = ndimage.distance_transform_edt(~known, return_distances=False, return_indices=True)
    nearest = vol[idx[0], idx[1], idx[2]]
    out = np.where(known, vol, np.where(nearest < 0, -band, band)).astype(np.float32)
    for axis in range(3):  # the outer layer is outside
        sl = [slice(None)] * 3
        sl[axis] = 0
        out[tuple(sl)] = band
        sl[axis] = -1
        out[tuple(sl)] = band
    return out


def decoded_surface(sdf: SparseSDF, level: float = 0.0):
    """Closed mesh (:class:`n4d4d.asset.Mesh`, metres) of a decoded band's level set ``level``
    (voxels; 0, the surface, by default; negative levels lie inside).

    Raises :class:`~n4d4d.errors.EmptyMeshError` when the filled grid has nothing below ``level``.
    """
    return grid_surface(dense_signed_grid(sdf), sdf, level)


def grid_surface(vol: np.ndarray, sdf: SparseSDF, level: float = 0.0):
    """Closed mesh (:class:`n4d4d.asset.Mesh`, metres) of the level set ``level`` (voxels) of a
    filled grid ``vol`` of shape ``sdf.grid_shape + 2`` (one outside layer each side, as
    :func:`dense_signed_grid` makes it), placed in ``sdf``'s frame; Lewiner's marching cubes.

    Raises :class:`~n4d4d.errors.EmptyMeshError` when nothing lies below ``level``.
    """
    from skimage.measure import marching_cubes

    from n4d4d.asset import Mesh
    from n4d4d.errors import EmptyMeshError

    if not (vol < level).any():
        raise EmptyMeshError(f"the decoded volume has no inside (nothing below level {level:g} voxels)")
    verts, faces, _, _ = marching_cubes(vol, float(level), method="lewiner")
    # marching_cubes orders faces so that normals point towards increasing values (outwards)
    verts = sdf.origin + (verts - 1.0) * sdf.voxel_size
    return Mesh(vertices=verts, faces=faces[:, ::-1].astype(np.int64) if _inward(verts, faces) else faces)


def remove_small_shells(mesh, min_fraction: float):
    """``mesh`` without its closed shells whose ``|volume|`` is under ``min_fraction`` of the largest.

    A post-process for decoded surfaces (TRELLIS and Direct3D-S2 also drop small floating pieces):
    it removes floaters left by voxels the decoder kept by mistake, and tiny cavities alike. Shells
    are edge-connected components; the result keeps the vertex order of the kept faces.
    """
    from n4d4d.asset import Mesh

    if min_fraction <= 0:
        return mesh
    tm = mesh.to_trimesh(process=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        parts = tm.split(only_watertight=False)
        vols = np.array([abs(p.volume) for p in parts])
    if len(parts) <= 1:
        return mesh
    keep = [p for p, v in zip(parts, vols) if v >= min_fraction * vols.max()]
    import trimesh

    return Mesh.from_trimesh(trimesh.util.concatenate(keep))


def _inward(verts: np.ndarray, faces: np.ndarray) -> bool:
    """True when the closed mesh's signed volume is negative (faces need flipping)."""
    tri = verts[faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) < 0
