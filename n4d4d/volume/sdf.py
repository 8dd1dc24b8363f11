"""Compute a narrow-band sparse signed-distance volume from any triangle mesh.

:func:`compute_sparse_sdf` works in four steps:

1. **Close the chain** (:mod:`n4d4d.volume._chain`): weld coincident vertices, drop repeated
   faces (one side of double-sided surfaces), orient patches consistently, then cancel the
   boundary left by holes and cracks with cones, so that the
   generalized winding number ``w`` of the completed triangle set is an integer everywhere
   off the surface. Inside is ``|w| >= 1`` (the non-zero rule: overlapping and nested shells
   are solid, an inside-out shell is solid too).
2. **Coarse to fine**: a cube of nodes with centre ``c`` and half-diagonal ``r`` can hold a
   node within ``band`` of the surface only if ``dist(c) <= r + band``. Starting from cubes
   of ``block_size * 2**k`` nodes, only cubes passing that test (one BVH query each, capped
   at ``r + band``, which prunes the search) are split in eight, down to 4x4x4 nodes. Each
   2x2x2 cube inside a survivor then gets the exact closest-point distance of its 8 nodes
   from one box query (the triangles overlapping the cube grown by ``band``), about 4x
   cheaper than 8 point queries. Nodes farther than ``band`` are dropped.
3. **Sign by propagation**: the segment between two nodes ``p, q`` crosses no triangle when
   ``d(p) + d(q) > |p - q|`` (a crossing point would be closer than that to one of them), so
   then ``w(p) = w(q)``. Band nodes farther than half a voxel from the surface are joined to
   such neighbours (6-connected, labelled block by block and united across block faces):
   a handful of components, each evaluated once (libigl's fast winding number). A node
   nearer the surface takes the sign of a joined neighbour among its 26 when the segment
   test allows; the ~1% that have none are evaluated directly.
4. **Pack** the band nodes block by block (:class:`~n4d4d.volume.sparse.SparseSDF`).

The memory a grid needs is estimated from the surface area before anything is allocated
(:func:`estimate_memory_bytes`); :class:`~n4d4d.errors.MemoryBudgetError` is raised when it
exceeds the budget. This module does not extract surfaces (:mod:`n4d4d.volume.extract`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from n4d4d.errors import EmptyMeshError, InputError, MemoryBudgetError, NonFiniteError
from n4d4d.volume._chain import clean, close_chain
from n4d4d.volume.sparse import SparseSDF
from n4d4d.volume.winding import SEGMENT_MARGIN

#: The grid origin is shifted by these fractions of a voxel so that axis-aligned faces of
#: the input (boxes whose sides sit on round coordinates) do not pass exactly through nodes.
GRID_SHIFT = np.array([0.1231, 0.2377, 0.3119])

#: Smallest band that the extraction is exact for, in voxels: a cell with a sign change has
#: every corner within sqrt(3) voxels of the surface, so its block is occupied and every
#: corner's sign is known or follows from a neighbour's (see n4d4d.volume.extract).
MIN_BAND_VOXELS = math.sqrt(3.0)

#: Bytes per surface "pixel" (area / voxel_size**2), and per pixel and band voxel, of the
#: memory estimate. The peak is the extraction's: dense padded blocks (a block of 8^3 nodes
#: covers ~40 pixels) and marching cubes' output (~2 faces per pixel before welding); the
#: SDF's own arrays (~2 band_voxels nodes per pixel) are smaller. Measured peaks above the
#: baseline (benchmarks/volume.py, R=256, band 2): 1.0-1.4 kB per pixel; the estimate,
#: 1.8 kB per pixel + 64 MiB, stays above them.
_BYTES_PER_PIXEL = 400.0
_BYTES_PER_PIXEL_BAND_VOXEL = 700.0
#: Bytes per input face of the work before the grid (welding, cleaning, closing the chain,
#: the quality report, Warp's BVH), which dominates for big inputs at low resolution: a 1.3 M-face
#: icosphere peaked at 642 B per face traced by tracemalloc at R = 64 and 256 alike (and 0.56 GB
#: of RSS above the loaded mesh), plus Warp's own untraced BVH and float32 copy (~100 B per face).
_BYTES_PER_INPUT_FACE = 1000.0

#: safety margin (grid units) on the "no crossing" test ``d(p) + d(q) > |p - q|``, for float32
#: distances: :data:`n4d4d.volume.winding.SEGMENT_MARGIN` (errors of up to ~8e-4 voxel each were
#: measured; the 1e-3 used before let two nodes half a voxel either side of a face join)
_SAFE_MARGIN = SEGMENT_MARGIN


def padding_voxels(band_voxels: float) -> int:
    """Empty voxels kept between the mesh's bounding box and the grid boundary."""
    return int(math.ceil(band_voxels)) + 2


def grid_for(bounds: np.ndarray, resolution: int, band_voxels: float):
    """``(origin, voxel_size, n_nodes)`` of the padded grid around ``bounds`` (m).

    ``resolution`` cells span the longest side of the padded box; the other sides get as
    many cells of the same size as they need, the box centred on the mesh.
    """
    lo, hi = np.asarray(bounds[0], float), np.asarray(bounds[1], float)
    ext = hi - lo
    pad = padding_voxels(band_voxels)
    if resolution < 2 * pad + 4:
        raise ValueError(f"resolution must be at least {2 * pad + 4} for a band of "
                         f"{band_voxels} voxels, got {resolution}")
    longest = float(ext.max())
    h = longest / (resolution - 2 * pad)
    cells = np.ceil(ext / h - 1e-9).astype(np.int64) + 2 * pad
    cells[int(np.argmax(ext))] = resolution
    origin = (lo + hi) / 2 - cells * h / 2 - GRID_SHIFT * h
    return origin, h, cells + 1


def estimate_memory_bytes(area: float, voxel_size: float, band_voxels: float = 2.0, n_faces: int = 0) -> int:
    """Peak memory (bytes) that computing and contouring a band around a surface of
    ``area`` m^2 at ``voxel_size`` m needs, estimated before allocating anything; ``n_faces``
    adds the input's own share (:data:`_BYTES_PER_INPUT_FACE` per face)."""
    pixels = area / voxel_size**2
    return (int(pixels * (_BYTES_PER_PIXEL + _BYTES_PER_PIXEL_BAND_VOXEL * band_voxels)
                + n_faces * _BYTES_PER_INPUT_FACE) + 64 * 2**20)


def estimate_for_mesh(mesh, resolution: int, band_voxels: float = 2.0, path=None) -> tuple[int, float, float]:
    """``(bytes, area m^2, voxel m)``: :func:`estimate_memory_bytes` of ``mesh`` as given (its
    faces' total area, an upper bound of the cleaned surface's up to hole caps), in O(F) and
    before any cleaning, so that an input over budget is refused before the work starts."""
    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.faces, dtype=np.int64)
    if len(f) == 0 or not float(np.ptp(v, axis=0).max()) > 0:
        raise EmptyMeshError("mesh has no faces or a zero-size bounding box", path)
    tri = v[f]
    area = float(0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum())
    _, h, _ = grid_for(np.stack([v.min(axis=0), v.max(axis=0)]), resolution, band_voxels)
    return estimate_memory_bytes(area, h, band_voxels, len(f)), area, h


def check_memory(estimate: int, area: float, h: float, resolution: int, budget: int, path=None) -> None:
    """Raise :class:`MemoryBudgetError` when ``estimate`` bytes exceed ``budget``."""
    if estimate > budget:
        raise MemoryBudgetError(
            f"a sparse SDF at resolution {resolution} needs about {estimate / 2**30:.2f} GiB "
            f"(surface {area:.4g} m^2 at voxel {h:.4g} m), over the budget of "
            f"{budget / 2**30:.2f} GiB; lower the resolution", path)


def check_input(mesh, path=None):
    """``(vertices, faces)`` of ``mesh`` as float64 / int64 arrays, or the input error:
    :class:`EmptyMeshError` (no faces), :class:`InputError` (indices out of range),
    :class:`NonFiniteError` (NaN or infinite coordinates), each naming ``path``."""
    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.faces, dtype=np.int64)
    if len(f) == 0 or len(v) == 0:
        raise EmptyMeshError("mesh has no faces", path)
    if f.min() < 0 or f.max() >= len(v):
        raise InputError("face indices out of range of the vertex array", path)
    if not np.all(np.isfinite(v)):
        bad = int((~np.isfinite(v)).any(axis=1).sum())
        raise NonFiniteError(f"{bad} vertices have NaN or infinite coordinates", path)
    return v, f


def compute_sparse_sdf(mesh, *, resolution: int = 256, block_size: int = 8,
                       band_voxels: float = 2.0, memory_budget_bytes: int = 4 * 2**30,
                       path: str | Path | None = None, stats: dict | None = None,
                       shell: float | None = None, winding_band: float | None = None) -> SparseSDF:
    """Narrow-band signed distance of ``mesh`` on a block-sparse grid.

    With ``shell`` (m) the field is instead that of the shell of wall ``2 * shell`` offset
    symmetrically about the surface as given (no closing, no winding number): value
    ``d - shell`` with ``d`` the unsigned distance to the surface, negative within ``shell``
    of it. Any input then has an inside, an open sheet or a soup of sheets included (the
    solid of a sheet-like part, ``--solidify``); the grid grows by ``shell`` on every side.

    With ``winding_band`` (m) the sign is the generalized winding number of the surface as
    given (Jacobson et al. 2013; no hole caps, repeated faces dropped) at every node within
    ``winding_band`` of the surface (evaluated at a fraction of them and read from those
    elsewhere, :func:`n4d4d.volume.winding.band_inside`), and the solid is cut off at that distance: value
    ``max(-d, d - winding_band)`` where ``|w| >= 1/2``, ``d`` elsewhere. A slab whose faces
    are both present but whose rims are open (PartNet's panels) is then solid between its
    faces, its thickness kept, with no cap across a container's opening; what lies deeper
    than ``winding_band`` inside is hollowed (the caller checks the result against the input).
    A node whose nearest surface point lies on a single sheet
    (:func:`n4d4d.volume.winding.lone_sheet`) gets the shell of the default two-voxel wall
    about the sheet instead (``d - 1`` voxel), not a band-thick layer on one side.
    A point outside the input's convex hull sees less than a half sphere of it, so
    ``|w| < 1/2`` there: the solid stays in the hull.

    Args:
        mesh: a :class:`n4d4d.asset.Mesh` (any triangle soup; m).
        resolution: grid cells along the longest side of the padded bounding box.
        block_size: nodes per block side, a power of two.
        band_voxels: half-width of the stored band in voxels, at least ``sqrt(3)``; the
            default 2 also gives every node next to the surface both neighbours of a central
            difference.
        memory_budget_bytes: refuse (before allocating) grids whose estimate exceeds this.
        path: the input file, named in errors.
        stats: if a dict is given, timings and counts are written into it.

    Raises:
        EmptyMeshError: no faces, or a zero-size bounding box.
        NonFiniteError: NaN or infinite vertex coordinates.
        MemoryBudgetError: the estimate exceeds ``memory_budget_bytes``.
    """
    t0 = time.perf_counter()
    if block_size < 2 or block_size & (block_size - 1):
        raise ValueError(f"block_size must be a power of two >= 2, got {block_size}")
    if not band_voxels >= MIN_BAND_VOXELS:
        raise ValueError(f"band_voxels must be at least sqrt(3) = {MIN_BAND_VOXELS:.3f}")
    v, f = check_input(mesh, path)
    v, f, cleaning = clean(v, f)
    if len(f) == 0:
        raise EmptyMeshError("every face is degenerate (repeated vertices)", path)
    bounds = np.stack([v.min(axis=0), v.max(axis=0)])
    if not np.all(bounds[1] - bounds[0] >= 0) or float((bounds[1] - bounds[0]).max()) <= 0:
        raise EmptyMeshError("mesh has a zero-size bounding box", path)
    if shell is not None and winding_band is not None:
        raise ValueError("shell and winding_band are exclusive")
    if shell is not None:
        if not (np.isfinite(shell) and shell > 0):
            raise ValueError(f"shell must be a positive half-thickness in metres, got {shell!r}")
        bounds = bounds + np.array([[-shell], [shell]])
    if winding_band is not None and not (np.isfinite(winding_band) and winding_band > 0):
        raise ValueError(f"winding_band must be a positive distance in metres, got {winding_band!r}")
    origin, h, n_nodes = grid_for(bounds, resolution, band_voxels)
    cut = shell if shell is not None else winding_band
    offset = 0.0 if cut is None else float(cut) / h  # grid units

    if shell is None and winding_band is None:
        cv, cf, n_caps, n_loops = close_chain(v, f)
    else:
        cv, cf, n_caps, n_loops = v, f, 0, 0
    tri = cv[cf]
    area = float(0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]),
                                      axis=1).sum())
    if shell is not None:
        area *= 2.0  # the shell has two sides
    estimate = estimate_memory_bytes(area, h, band_voxels + offset, len(f))
    check_memory(estimate, area, h, resolution, memory_budget_bytes, path)

    from n4d4d.volume._queries import MeshQueries

    grid_v = (cv - origin) / h  # grid units: node (i, j, k) sits at (i, j, k)
    queries = MeshQueries(grid_v, cf)
    t_setup = time.perf_counter()

    mins, cube_dist, n_queries = _refine(queries, n_nodes, block_size, band_voxels + offset)
    block_coords, dense = _to_blocks(mins, cube_dist, n_nodes, block_size, band_voxels + offset)
    del mins, cube_dist
    t_dist = time.perf_counter()

    blocks_shape = -(-n_nodes // block_size)
    if winding_band is not None:  # raw winding number at the nodes nearer than the cut
        from n4d4d.volume._chain import boundary_edges
        from n4d4d.volume.remesh import SHEET_WALL_VOXELS
        from n4d4d.volume.winding import band_inside, lone_sheet

        inside_dense = np.zeros(dense.shape, dtype=bool)
        near = np.nonzero(dense < offset)
        pts = block_coords[near[0]].astype(np.int64) * block_size + np.stack(near[1:], axis=1)
        rim = grid_v[boundary_edges(cf, len(cv))]
        inside_dense[near], n_seeds = band_inside(queries, pts, dense[near], rim)
        n_comp = 0
        lone = np.zeros(dense.shape, dtype=bool)
        lone[near] = lone_sheet(queries, pts, offset, inside_dense[near])
        # beside a single sheet (lone_sheet): the shell of the default wall about it, value
        # d - wall / 2, not a band-thick layer on the side the winding number calls inside
        dense = np.where(lone, dense - np.float32(SHEET_WALL_VOXELS / 2),
                         np.where(inside_dense, np.maximum(-dense, dense - np.float32(offset)), dense))
        inside_dense = dense < 0
        dense = np.abs(dense)
    elif shell is None:
        inside_dense, n_comp, n_seeds = _sign_blocks(queries, block_coords, dense,
                                                     blocks_shape, block_size)
    else:  # the shell: inside within ``offset`` of the surface, every value d - offset
        inside_dense, n_comp, n_seeds = dense < offset, 0, 0
        dense = np.abs(dense - np.float32(offset))
    # pack the band nodes: nonzero() walks (block, x, y, z) in C order, which is block order
    b_, x_, y_, z_ = np.nonzero(np.isfinite(dense))
    dist = dense[b_, x_, y_, z_]
    inside = inside_dense[b_, x_, y_, z_]
    nodes = (block_coords[b_] * block_size + np.stack([x_, y_, z_], axis=1)).astype(np.int32)
    block_offsets = np.searchsorted(b_, np.arange(len(block_coords) + 1)).astype(np.int64)
    t_sign = time.perf_counter()

    values = (np.where(inside, -dist, dist) * h).astype(np.float32)
    sdf = SparseSDF(resolution=resolution, voxel_size=h, origin=origin, block_size=block_size,
                    coords=nodes, values=values, block_coords=block_coords,
                    block_offsets=block_offsets, band=band_voxels * h, grid_shape=n_nodes)
    if stats is not None:
        stats.update({
            "estimate_bytes": estimate, "surface_area": area, "cap_faces": n_caps, **cleaning,
            "shell_half_thickness": None if shell is None else float(shell),
            "winding_band": None if winding_band is None else float(winding_band),
            "boundary_loops": n_loops, "distance_queries": n_queries,
            "sign_components": n_comp, "winding_evaluations": n_seeds,
            "seconds_setup": t_setup - t0, "seconds_distance": t_dist - t_setup,
            "seconds_sign": t_sign - t_dist, "seconds": time.perf_counter() - t0,
        })
    return sdf


def _refine(queries, n_nodes: np.ndarray, block_size: int, band: float):
    """Coarse-to-fine search for the nodes within ``band`` (grid units) of the surface.

    Cubes of ``size`` nodes are tested at their centre down to ``size == 4``; the 2x2x2
    cubes inside the survivors get exact node distances from one box query each
    (:meth:`MeshQueries.cube_distances`). Returns ``(mins (M, 3) int32, dist (M, 8) float32,
    number of point queries)`` for the 2x2x2 cubes holding at least one band node.
    """
    size = block_size
    while np.prod(-(-n_nodes // size)) > 4096 and size * 2 <= n_nodes.max():
        size *= 2
    counts = -(-n_nodes // size)
    mins = (np.stack(np.meshgrid(*[np.arange(c) for c in counts], indexing="ij"), -1)
            .reshape(-1, 3) * size).astype(np.int32)
    n_queries = 0
    eps = 1e-4
    while size > 2:
        reach = (size - 1) / 2 * math.sqrt(3.0) + band + eps
        d = queries.distance(mins + (size - 1) / 2, reach)
        n_queries += len(mins)
        mins = mins[d < reach]
        size //= 2
        mins = (mins[:, None, :] + (_OCTANTS * size)[None]).reshape(-1, 3)
        mins = mins[np.all(mins < n_nodes, axis=1)]
    dist = queries.cube_distances(mins, band + eps)
    n_queries += 8 * len(mins)
    keep = (dist <= band).any(axis=1)
    return mins[keep], dist[keep], n_queries


_OCTANTS = np.stack(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij"), -1).reshape(-1, 3) \
    .astype(np.int32)


def _to_blocks(mins: np.ndarray, dist: np.ndarray, n_nodes: np.ndarray, bs: int, band: float):
    """Scatter 2x2x2 cube distances into dense per-block arrays.

    Returns ``(block_coords (B, 3) int32 sorted, dense (B, bs, bs, bs) float32)``; nodes not
    evaluated or farther than ``band`` hold ``inf``.
    """
    nb = -(-n_nodes.astype(np.int64) // bs)
    blk = mins // bs
    bkey = (blk[:, 0].astype(np.int64) * nb[1] + blk[:, 1]) * nb[2] + blk[:, 2]
    ukey, bidx = np.unique(bkey, return_inverse=True)
    block_coords = np.stack([ukey // (nb[1] * nb[2]), (ukey // nb[2]) % nb[1], ukey % nb[2]],
                            axis=1).astype(np.int32)
    dense = np.full((len(ukey), bs, bs, bs), np.inf, dtype=np.float32)
    loc = mins % bs
    for k, (ox, oy, oz) in enumerate(_OCTANTS):
        dense[bidx, loc[:, 0] + ox, loc[:, 1] + oy, loc[:, 2] + oz] = dist[:, k]
    dense[dense > band] = np.inf
    return block_coords, dense


def _sign_blocks(queries, block_coords, dense, blocks_shape, bs):
    """Inside flags ``(B, bs, bs, bs)`` for the finite entries of ``dense`` (grid units).

    Band nodes farther than half a voxel from the surface ("far" nodes) are joined to their
    far 6-neighbours: two such nodes are closer than a voxel to no surface point on the
    segment between them, so they share ``w``. Far nodes are labelled per block
    (``scipy.ndimage.label`` on the block stack, no connectivity across the stack axis),
    the labels united across block faces, and ``w`` evaluated once per united component.
    A near node takes the sign of any far node among its 26 neighbours ``q`` with
    ``d(p) + d(q) > |p - q|``; the rest get their own ``w`` evaluation.
    Returns ``(inside, n_components, n_winding_evaluations)``.
    """
    from scipy import ndimage
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from n4d4d.volume._blocks import neighbour_index, pad_blocks

    n_blocks = len(block_coords)
    band_mask = np.isfinite(dense)
    far = band_mask & (dense > 0.5 + _SAFE_MARGIN / 2)
    structure = np.zeros((3, 3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(3, 1)
    labels, n_labels = ndimage.label(far, structure=structure)
    # unite labels across block faces
    pairs = []
    for axis in range(3):
        off = np.zeros(3, np.int64)
        off[axis] = 1
        nbr = neighbour_index(block_coords, blocks_shape, off)
        have = np.flatnonzero(nbr >= 0)
        a = np.take(labels[have], bs - 1, axis=axis + 1)
        b = np.take(labels[nbr[have]], 0, axis=axis + 1)
        both = (a > 0) & (b > 0)
        pairs.append(np.stack([a[both], b[both]], axis=1))
    pairs = np.concatenate(pairs)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])),
                       shape=(n_labels + 1, n_labels + 1))
    n_comp, comp_of_label = connected_components(graph, directed=False)
    # one representative node per component
    flat_labels = labels.reshape(-1)
    far_idx = np.flatnonzero(flat_labels)
    comp = comp_of_label[flat_labels[far_idx]]
    rep = np.full(n_comp, -1, dtype=np.int64)
    rep[comp] = far_idx
    used = np.flatnonzero(rep >= 0)
    b_, x_, y_, z_ = np.unravel_index(rep[used], dense.shape)
    pts = block_coords[b_].astype(np.float64) * bs + np.stack([x_, y_, z_], axis=1)
    comp_inside = np.zeros(n_comp, dtype=bool)
    comp_inside[used] = np.abs(queries.winding_number(pts)) >= 0.5
    n_eval = len(used)

    inside = np.zeros(dense.shape, dtype=bool)
    inside.reshape(-1)[far_idx] = comp_inside[comp]
    # near nodes: borrow the sign of a far neighbour across a crossing-free segment
    state = np.where(far, np.where(inside, 2, 1), 0).astype(np.int8)  # 0 none, 1 out, 2 in
    dpad = pad_blocks(dense, block_coords, blocks_shape, 1, 1, np.inf)
    spad = pad_blocks(state, block_coords, blocks_shape, 1, 1, 0)
    near_b, near_x, near_y, near_z = np.nonzero(band_mask & ~far)
    d_near = dense[near_b, near_x, near_y, near_z]
    got = np.zeros(len(near_b), dtype=np.int8)
    for off in np.ndindex(3, 3, 3):
        o = np.array(off) - 1
        if not o.any():
            continue
        todo = np.flatnonzero(got == 0)
        if len(todo) == 0:
            break
        ix = (near_b[todo], near_x[todo] + off[0], near_y[todo] + off[1], near_z[todo] + off[2])
        s = spad[ix]
        ok = (s > 0) & (d_near[todo] + dpad[ix] > np.linalg.norm(o) + _SAFE_MARGIN)
        got[todo[ok]] = s[ok]
    rest = np.flatnonzero(got == 0)
    if len(rest):
        pts = block_coords[near_b[rest]].astype(np.float64) * bs + np.stack(
            [near_x[rest], near_y[rest], near_z[rest]], axis=1)
        got[rest] = np.where(np.abs(queries.winding_number(pts)) >= 0.5, 2, 1)
        n_eval += len(rest)
    inside[near_b, near_x, near_y, near_z] = got == 2
    return inside, int(n_comp - 1), n_eval
