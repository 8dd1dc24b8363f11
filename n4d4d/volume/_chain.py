"""Make any triangle soup a closed 2-chain, so that its winding number is an integer.

The generalized winding number ``w`` of a triangle set (Jacobson et al. 2013) is the sum of
the signed solid angles of its triangles over ``4 pi``. For a *closed* oriented chain (every
undirected edge used as often in one direction as in the other; self-intersections,
non-manifold edges and nested or inverted shells allowed) ``w`` is an integer, constant on
every connected piece of space minus the surface, and changes only where a segment crosses a
triangle. That is what lets :mod:`n4d4d.volume.sdf` evaluate ``w`` at a handful of seed
points and carry it along segments that provably cross no triangle.

Before that, :func:`clean` welds coincident vertices, keeps one of faces repeated on the same
vertices (exact duplicates, and double-sided surfaces, where every triangle also appears
flipped and the two would cancel to nothing) and orients each orientable patch consistently
(libigl's BFS orientation) when it is not. Open input (holes, cracks) and any remaining
orientation error leave a non-zero boundary: the directed edges whose two directions do not
cancel. This boundary is itself a 1-cycle (the
boundary of a boundary is zero), so a cone from one apex per connected piece of it, with each
boundary edge ``a -> b`` contributing the triangle ``(b, a, apex)``, cancels it exactly.
For a hole the cone is a cap spanning it (a fan from the centroid of the rim); for a flipped
or duplicated triangle it is a fan lying on that triangle, which undoes the flip or the
duplicate. The winding number of the completed chain then equals the generalized winding
number of the input with its holes capped and its orientation errors cancelled.

What it does not do: snap vertices that are close but not equal (welding is to a relative
tolerance of ``1e-9`` of the bounding-box diagonal), or choose caps smarter than a fan.
"""

from __future__ import annotations

import numpy as np


def weld(vertices: np.ndarray, faces: np.ndarray, rel_tol: float = 1e-9):
    """Merge vertices that coincide (to ``rel_tol`` of the bounding-box diagonal), drop
    faces that collapse, and unused vertices. Returns ``(vertices, faces)``."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if len(f) == 0:
        return v[:0], f
    diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) or 1.0
    key = np.round((v - v.min(axis=0)) / (diag * rel_tol)).astype(np.int64)
    first, inverse = unique_rows(key)
    f = inverse.reshape(-1)[f]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    f = f[keep]
    used = np.unique(f)
    remap = np.full(len(first), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return v[first[used]], remap[f]


def unique_rows(a: np.ndarray):
    """``(first, inverse)`` of the distinct rows of an integer array, rows in sorted order:
    ``a[first]`` are the distinct rows and ``a[first][inverse] == a`` (faster than
    ``np.unique(axis=0)``, which sorts a structured copy)."""
    order = np.lexsort(a.T[::-1])
    s = a[order]
    new = np.r_[True, np.any(s[1:] != s[:-1], axis=1)] if len(s) else np.zeros(0, bool)
    group = np.cumsum(new) - 1
    inverse = np.empty(len(a), dtype=np.int64)
    inverse[order] = group
    return order[new], inverse


def dedupe_faces(faces: np.ndarray):
    """Keep the first of faces with the same vertex set (duplicates and double-sided pairs,
    i.e. a triangle and its flip). Returns ``(faces, number removed)``."""
    first, _ = unique_rows(np.sort(faces, axis=1))
    keep = np.sort(first)
    return faces[keep], int(len(faces) - len(keep))


def winding_consistent(faces: np.ndarray, n_vertices: int) -> bool:
    """True when every edge with exactly two faces is used once in each direction."""
    a = faces.reshape(-1).astype(np.int64)
    b = np.roll(faces, -1, axis=1).reshape(-1).astype(np.int64)
    key = np.minimum(a, b) * n_vertices + np.maximum(a, b)
    uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    fwd = np.bincount(inv.reshape(-1), weights=(a < b), minlength=len(uniq))
    return bool(np.all(fwd[counts == 2] == 1))


def clean(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Weld, drop repeated faces (keeping one side of double-sided surfaces), and orient
    each orientable patch consistently if it is not (libigl's BFS orientation); a patch's
    overall side is kept, which the non-zero winding rule does not care about. Returns
    ``(vertices, faces, counts)``."""
    v, f = weld(vertices, faces)
    f, dup = dedupe_faces(f)
    flipped = 0
    if len(f) and not winding_consistent(f, len(v)):
        import igl

        oriented, _ = igl.bfs_orient(np.ascontiguousarray(f, dtype=np.int64))
        oriented = np.asarray(oriented, dtype=np.int64)
        flipped = int(np.any(oriented != f, axis=1).sum())
        f = oriented
    return v, f, {"duplicate_faces": dup, "faces_reoriented": flipped}


def boundary_edges(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """``(E, 2) int64`` directed edges ``a -> b`` left over when each undirected edge's two
    directions cancel (repeated once per unit of imbalance). Empty for a closed chain."""
    f = np.asarray(faces, dtype=np.int64)
    a = f.reshape(-1)
    b = np.roll(f, -1, axis=1).reshape(-1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    sign = np.where(a < b, 1, -1)
    key = lo * n_vertices + hi
    uniq, inv = np.unique(key, return_inverse=True)
    net = np.bincount(inv.reshape(-1), weights=sign, minlength=len(uniq)).astype(np.int64)
    open_ = np.nonzero(net)[0]
    if len(open_) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    lo_u, hi_u = uniq[open_] // n_vertices, uniq[open_] % n_vertices
    mult = np.abs(net[open_])
    fwd = net[open_] > 0
    src = np.where(fwd, lo_u, hi_u)
    dst = np.where(fwd, hi_u, lo_u)
    return np.repeat(np.stack([src, dst], axis=1), mult, axis=0)


def close_chain(vertices: np.ndarray, faces: np.ndarray):
    """Complete ``(vertices, faces)`` to a closed chain with cones over its boundary.

    Returns ``(vertices, faces, n_cap_faces, n_boundary_loops)``; the input rows come first,
    cone apexes and cap faces are appended.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    edges = boundary_edges(f, len(v))
    if len(edges) == 0:
        return v, f, 0, 0
    nodes, local = np.unique(edges, return_inverse=True)
    local = local.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(local)), (local[:, 0], local[:, 1])),
                       shape=(len(nodes), len(nodes)))
    n_loops, label = connected_components(graph, directed=False)
    # apex: length-weighted centroid of each boundary piece (robust to uneven sampling)
    seg = v[edges]
    length = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1) + 1e-300
    mid = seg.mean(axis=1)
    comp = label[local[:, 0]]
    w = np.bincount(comp, weights=length, minlength=n_loops)
    apex = np.stack([np.bincount(comp, weights=mid[:, k] * length, minlength=n_loops)
                     for k in range(3)], axis=1) / w[:, None]
    apex_ids = len(v) + comp
    caps = np.stack([edges[:, 1], edges[:, 0], apex_ids], axis=1)
    return np.vstack([v, apex]), np.vstack([f, caps]), len(caps), int(n_loops)
