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
The boundary is first split into closed loops (:func:`boundary_loops`). A loop whose
projection onto its best-fitting plane is a simple polygon (shapely) is capped by that
polygon's triangulation (mapbox earcut) on the loop's own vertices: the cap lies on the rim's
polygon and adds no vertex, so a planar hole is closed by exactly the missing face and a cap
never reaches outside the rim's convex hull (a fan from the centroid of a concave rim folds
over the outside: the car-body fenders of issue 12). A loop of 8 or more edges that is not a
planar simple polygon (a rim climbing over a wheel arch) gets a membrane: its cone subdivided in rings
placed at the harmonic extension of the rim (:func:`membrane_cap`). Other loops (short ones,
figure-eights through a non-manifold vertex) keep a cone from their centroid; for a flipped or
duplicated triangle that cone is a fan lying on that triangle, which undoes the flip or the
duplicate. The winding number of the completed chain then equals the generalized winding
number of the input with its holes capped and its orientation errors cancelled.

What it does not do: snap vertices that are close but not equal (welding is to a relative
tolerance of ``1e-9`` of the bounding-box diagonal), or fit curved (minimal) caps to strongly
non-planar rims (their polygon triangulation is kept when its projection is simple).
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


#: loops past this many are capped by cones (a polygon cap costs ~0.1 ms of shapely and earcut;
#: inputs with more loops than this are soups of unwelded cracks, whose loops are slivers)
_MAX_POLYGON_CAPS = 20000


def boundary_loops(edges: np.ndarray) -> list[np.ndarray]:
    """Split a balanced multiset of directed edges ``(E, 2) int64`` (a 1-cycle: every vertex
    has as many outgoing as incoming edges, as :func:`boundary_edges` returns) into closed
    walks. Returns a list of ``(L,) int64`` vertex sequences, edge ``k`` of a walk going from
    entry ``k`` to entry ``k + 1`` (cyclically); a walk may pass a vertex twice."""
    order = np.argsort(edges[:, 0], kind="stable")
    src, dst = edges[order, 0], edges[order, 1]
    uniq, first, counts = np.unique(src, return_index=True, return_counts=True)
    nxt = dict(zip(uniq.tolist(), first.tolist()))
    end = dict(zip(uniq.tolist(), (first + counts).tolist()))
    used = np.zeros(len(src), dtype=bool)
    dst_l = dst.tolist()
    loops = []
    for e0 in range(len(src)):
        if used[e0]:
            continue
        s0 = int(src[e0])
        walk = [s0]
        used[e0] = True
        v = dst_l[e0]
        while v != s0:
            walk.append(v)
            k = nxt[v]
            while used[k]:
                k += 1
            if k >= end[v]:  # pragma: no cover - impossible for a balanced edge set
                break
            used[k] = True
            nxt[v] = k + 1
            v = dst_l[k]
        loops.append(np.asarray(walk, dtype=np.int64))
    return loops


def polygon_cap(points: np.ndarray) -> np.ndarray | None:
    """Triangles ``(L - 2, 3) int64`` (indices into the loop) spanning a closed loop of
    ``points (L, 3)``, wound against the loop (so that the loop's edges cancel), or None when
    the loop leaves its best-fitting plane (least-squares, via SVD) by more than
    :data:`_PLANAR_TOLERANCE` of its rms radius or its projection there is not a simple
    polygon of positive area. The triangulation is mapbox earcut's."""
    import mapbox_earcut
    import shapely

    n = len(points)
    if n < 3:
        return None
    c = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - c, full_matrices=False)
    uv = (points - c) @ vt[:2].T
    off = np.abs((points - c) @ vt[2])
    if off.max() > _PLANAR_TOLERANCE * float(np.sqrt((uv**2).sum(axis=1).mean())):
        return None  # not planar: a polygon on its vertices would cut across (membrane instead)
    poly = shapely.Polygon(uv)
    if not poly.is_valid or poly.area <= 0:
        return None
    if n == 3:
        tri = np.array([[0, 1, 2]], dtype=np.int64)
    else:
        tri = np.asarray(mapbox_earcut.triangulate_float64(np.ascontiguousarray(uv, np.float64),
                                                           np.array([n], np.uint32)),
                         dtype=np.int64).reshape(-1, 3)
        if len(tri) != n - 2:
            return None
    loop_ccw = _signed_area(uv) > 0
    a, b, d = uv[tri[:, 0]], uv[tri[:, 1]], uv[tri[:, 2]]
    ccw = ((b[:, 0] - a[:, 0]) * (d[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (d[:, 0] - a[:, 0])) > 0
    flip = ccw == loop_ccw  # a cap triangle turns against the loop
    tri[flip] = tri[flip][:, ::-1]
    return tri


def _signed_area(uv: np.ndarray) -> float:
    """Shoelace signed area of a 2-D polygon ``(L, 2)`` (positive counter-clockwise)."""
    x, y = uv[:, 0], uv[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def close_chain(vertices: np.ndarray, faces: np.ndarray):
    """Complete ``(vertices, faces)`` to a closed chain with caps over its boundary loops
    (planar polygon caps where a loop's projection is simple, cones otherwise; see the module
    docstring).

    Returns ``(vertices, faces, n_cap_faces, n_boundary_loops)``; the input rows come first,
    cone apexes and cap faces are appended.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    edges = boundary_edges(f, len(v))
    if len(edges) == 0:
        return v, f, 0, 0
    loops = boundary_loops(edges)
    caps, cone_edges = [], []
    for k, loop in enumerate(loops):
        if len(loop) == 3:  # a triangle's worth of rim: the triangle itself, turned over
            caps.append(loop[[0, 2, 1]][None])
            continue
        simple = len(np.unique(loop)) == len(loop) and k < _MAX_POLYGON_CAPS
        tri = polygon_cap(v[loop]) if simple else None
        if tri is None:
            cone_edges.append(np.stack([loop, np.roll(loop, -1)], axis=1))
        else:
            caps.append(loop[tri])
    if cone_edges:
        apex = np.stack([_centroid(v, e) for e in cone_edges])
        ids = len(v) + np.concatenate([np.full(len(e), k) for k, e in enumerate(cone_edges)])
        e = np.concatenate(cone_edges)
        cone = np.stack([e[:, 1], e[:, 0], ids], axis=1)
        v = np.vstack([v, apex])
        big = [k for k, e in enumerate(cone_edges) if len(e) >= _MEMBRANE_MIN_EDGES]
        if big and len(loops) <= _MAX_POLYGON_CAPS:
            # rims of many edges that no plane sees as a simple polygon: a membrane instead
            keep = ~np.isin(ids, len(v) - len(apex) + np.asarray(big))
            mv, mf = membrane_cap(v, [cone_edges[k][:, 0] for k in big])
            v = np.vstack([v, mv])
            cone = np.vstack([cone[keep], mf])
        caps.append(cone)
    cf = np.vstack([f] + caps)
    return v, cf, int(len(cf) - len(f)), len(loops)


#: a loop is planar (a polygon cap) when no vertex leaves its plane by more than this
#: fraction of its rms radius
_PLANAR_TOLERANCE = 0.02
#: rims with at least this many edges that are not planar simple polygons get a membrane cap
_MEMBRANE_MIN_EDGES = 8
#: rings of a membrane cap at most
_MEMBRANE_RINGS = 8


def membrane_cap(v: np.ndarray, loops: list[np.ndarray]):
    """Caps spanning closed walks ``loops`` (vertex indices into ``v (V, 3)``) that follow the
    rim where a cone would cut across: each walk's cone from its centroid is subdivided into
    ``K`` rings (``K`` ~ mean radius / mean edge, at most :data:`_MEMBRANE_RINGS`), and the
    ring vertices are placed at the discrete harmonic extension of the rim (uniform-weight
    graph Laplacian, rim fixed: the membrane of least Dirichlet energy, an approximation of the
    minimal surface, which lies in the rim's convex hull). Returns ``(new vertices (N, 3),
    cap faces (C, 3))``, new vertex ``i`` having index ``len(v) + i``, faces wound so that the
    walks' edges cancel."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    new_v, faces = [], []
    base = len(v)
    for loop in loops:
        pts = v[loop]
        n = len(loop)
        c = _centroid(v, np.stack([loop, np.roll(loop, -1)], axis=1))
        edge = float(np.linalg.norm(pts - np.roll(pts, -1, axis=0), axis=1).mean()) + 1e-300
        k_rings = int(np.clip(round(float(np.linalg.norm(pts - c, axis=1).mean()) / edge), 1,
                              _MEMBRANE_RINGS))
        # local ids: rim 0..n-1 (global loop[i]), ring k >= 1 at n*k + i, apex at n*k_rings
        apex = n * k_rings
        local = lambda k, i: k * n + (i % n)  # noqa: E731
        tri = []
        for k in range(k_rings):
            for i in range(n):
                a, b = local(k, i), local(k, i + 1)
                if k == k_rings - 1:
                    tri.append((b, a, apex))
                else:
                    a1, b1 = local(k + 1, i), local(k + 1, i + 1)
                    tri += [(b, a, a1), (b, a1, b1)]
        tri = np.asarray(tri, dtype=np.int64)
        m = apex + 1
        e = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
        adj = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(m, m)).tocsr()
        adj = ((adj + adj.T) > 0).astype(np.float64)
        lap = sp.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj
        inner = np.arange(n, m)
        rhs = -lap[inner][:, :n] @ pts
        x = spsolve(lap[inner][:, inner].tocsc(), rhs)
        x = np.asarray(x).reshape(len(inner), 3)
        offset = base + sum(len(q) for q in new_v)
        glob = np.concatenate([loop, offset + np.arange(len(inner))])
        new_v.append(x)
        faces.append(glob[tri])
    return np.vstack(new_v), np.vstack(faces)


def _centroid(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Length-weighted centroid ``(3,)`` of the edges ``(E, 2)`` of one loop (robust to
    uneven sampling): the apex of its cone."""
    seg = v[edges]
    length = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1) + 1e-300
    return (seg.mean(axis=1) * length[:, None]).sum(axis=0) / length.sum()
