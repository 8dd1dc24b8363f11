"""Cutting one connected surface of a merged mesh along its concave creases, where a part modelled
welded into another (a key through its keypad's hole, a button in its camera body) meets it.

What it does: :func:`crease_patches` splits one piece of a mesh (triangles joined across
manifold edges, :func:`~n4d4d.rigging.geometry.mesh_components`) into *patches* joined across
every edge but its sharp concave creases (dihedral angle of at least :data:`CREASE_DEG`, the
two triangles wound consistently, the surface turning inwards), the minima rule of part
segmentation (Hoffman and Richards 1984: the boundary between parts of a shape runs along
its lines of negative curvature). :func:`crease_cuts` keeps as a separate piece each patch that
stands out of the surface around it (:data:`MIN_PROTRUSION`): a key's cap and walls rise
from the keypad along the keypad's normal, where a pocket's or a box's floor, cut out along
its concave rim too, is flat in its rim; every other patch goes back to the neighbour it
shares most crease with. On PartNet-Mobility's remotes and cameras the creases between a key
and its body are right angles, concave on 98-99 % of the edges the two bodies share.

What it does not: cut along convex edges, thin necks or anything a crease does not close
(a lid welded along a hinge line is one piece), or decide what moves (joint inference and
its precision checks do).
"""

from __future__ import annotations

import numpy as np

#: a crease: the two triangles' normals at least this far apart (degrees). A key's wall meets
#: its keypad at 90; smooth tessellated curvature turns a few degrees per edge
CREASE_DEG = 60.0
#: a fold: the two triangles' normals at least this far apart (degrees), the surface turning
#: back on itself (a zero-thickness wall, PartNet-Mobility remote 100270's keys), a crease
#: whichever way it turns
FOLD_DEG = 170.0
#: a patch stands out when its farthest point lies at least this fraction of its own
#: bounding-box diagonal above its rim, along the mean normal of the surface just outside the
#: rim: a floor cut out along its concave rim is flat (0), the flattest keys of remote 100809
#: rise 0.09 of their diagonal (set a priori at about half that, not fitted)
MIN_PROTRUSION = 0.05
#: ... and when creases make at least this share of its boundary: a key's rim is all crease; a
#: fin or flange standing out of a panel has a free edge
MIN_RIM_CREASE = 0.9
#: components with more triangles than this are left uncut (the pairwise work is linear, but a
#: scanned surface's creases are noise)
MAX_FACES = 200_000


def welded(vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """``(P (W, 3) float64, weld (V,) int64)``: the welded vertex positions and each vertex's
    welded id, vertices closer than ``tol`` x the bounding-box diagonal of the used vertices
    being one (as :func:`~n4d4d.rigging.geometry.mesh_components` welds them). Computed once
    per mesh and handed to :func:`crease_cuts` for each of its pieces."""
    V = np.asarray(vertices, np.float64)
    F = np.asarray(faces, np.int64).reshape(-1, 3)
    scale = max(float(np.linalg.norm(np.ptp(V[np.unique(F)], axis=0))), 1e-300) * tol
    _, weld = np.unique(np.round(V / scale), axis=0, return_inverse=True)
    weld = weld.ravel()
    P = np.zeros((int(weld.max()) + 1, 3))
    P[weld] = V
    return P, weld


def _oriented(P: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Triangles ``U (N, 3)`` (welded vertex ids into ``P``) wound consistently across their
    manifold edges (breadth-first from the first triangle, each one flipped when it runs an
    edge the same way as the triangle it is reached from: PartNet-Mobility's keys are often
    wound against their keypad), then all turned so the signed volume is positive (outward, as
    a closed surface would be). A non-orientable piece keeps the last winding reached."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    nu = len(U)
    E = np.concatenate([U[:, [0, 1]], U[:, [1, 2]], U[:, [2, 0]]])
    fid = np.tile(np.arange(nu), 3)
    _, eid, cnt = np.unique(np.sort(E, 1), axis=0, return_inverse=True, return_counts=True)
    eid = eid.ravel()
    keep = np.flatnonzero(cnt[eid] == 2)
    keep = keep[np.argsort(eid[keep], kind="stable")]
    a, b = keep[0::2], keep[1::2]
    same = np.all(E[a] == E[b], axis=1)  # the two triangles run the shared edge the same way
    w = np.where(same, 2.0, 1.0)
    g = coo_matrix((np.concatenate([w, w]), (np.concatenate([fid[a], fid[b]]), np.concatenate([fid[b], fid[a]]))),
                   shape=(nu, nu)).tocsr()
    flip = np.zeros(nu, bool)
    seen = np.zeros(nu, bool)
    for s in range(nu):
        if seen[s]:
            continue
        order, pred = breadth_first_order(g, s, directed=False, return_predecessors=True)
        seen[order] = True
        o = order[1:]
        turn = (np.asarray(g[pred[o], o]).ravel() == 2.0).tolist()
        fl = flip.tolist()
        for f, p, t in zip(o.tolist(), pred[o].tolist(), turn):  # predecessors come first in the order
            fl[f] = fl[p] ^ t
        flip = np.asarray(fl, bool)
    U = np.where(flip[:, None], U[:, ::-1], U)
    t = P[U]
    if np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() < 0:
        U = U[:, ::-1]
    return U


def crease_patches(vertices: np.ndarray, faces: np.ndarray, piece: np.ndarray, *,
                   crease_deg: float = CREASE_DEG, tol: float = 1e-6, weld=None):
    """Patches of one piece and the creases between them.

    Args:
        vertices: ``(V, 3) float64`` (m); faces: ``(F, 3) int64`` of the whole mesh.
        piece: ``(F_p,) int64`` indices of the piece's triangles in ``faces``.
        crease_deg: dihedral angle (degrees) from which a concave edge is a crease.
        tol: vertex welding, fraction of the bounding-box diagonal of the whole mesh (as
            :func:`~n4d4d.rigging.geometry.mesh_components`).
        weld: :func:`welded` of the whole mesh, when already computed (else computed here).

    Returns:
        ``(label (F_p,) int64 patch of each triangle, creases, rim (K,) float64)``: ``creases``
        a list of ``(patch_a, patch_b, length m, normal_a (3,), normal_b (3,), midpoint (3,))``
        per crease edge, normals the unit normals of the triangle on each side; ``rim`` each
        patch's boundary length (m: creases, open edges and non-manifold edges). A duplicate triangle
        (double-sided sheet) takes its first copy's patch.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    piece = np.asarray(piece, np.int64)
    P, weld = welded(vertices, faces, tol) if weld is None else weld
    W = weld[np.asarray(faces, np.int64)[piece]]
    _, first, tri = np.unique(np.sort(W, 1), axis=0, return_index=True, return_inverse=True)
    tri = tri.ravel()
    U = _oriented(P, W[first])
    nu = len(U)
    t = P[U]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
    E = np.concatenate([U[:, [0, 1]], U[:, [1, 2]], U[:, [2, 0]]])
    opp = np.concatenate([U[:, 2], U[:, 0], U[:, 1]])
    fid = np.tile(np.arange(nu), 3)
    _, eid, cnt = np.unique(np.sort(E, 1), axis=0, return_inverse=True, return_counts=True)
    eid = eid.ravel()
    keep = np.flatnonzero(cnt[eid] == 2)
    keep = keep[np.argsort(eid[keep], kind="stable")]
    a, b = keep[0::2], keep[1::2]  # the two half-edges of each manifold edge
    fa, fb = fid[a], fid[b]
    consistent = np.all(E[a] == E[b][:, ::-1], axis=1)  # opposite directions: wound alike
    cos = np.clip(np.sum(n[fa] * n[fb], 1), -1.0, 1.0)
    ea = P[E[a][:, 0]]
    elen = np.linalg.norm(P[E[a][:, 1]] - ea, axis=1)
    rise = np.sum((P[opp[b]] - ea) * n[fa], 1)  # b's far corner above a's plane: the surface turns in
    concave = rise > 1e-9 * max(float(elen.max(initial=0.0)), 1e-300)
    fold = cos <= np.cos(np.radians(FOLD_DEG))  # the surface turns back on itself: no side to tell
    cut = consistent & ((concave & (cos <= np.cos(np.radians(crease_deg)))) | fold)
    j = ~cut
    g = coo_matrix((np.ones(int(j.sum())), (fa[j], fb[j])), shape=(nu, nu))
    _, lab = connected_components(g, directed=False)
    creases = [(int(lab[x]), int(lab[y]), float(L), n[x], n[y], ea[k] + 0.5 * (P[E[a][k, 1]] - ea[k]))
               for k, (x, y, L) in enumerate(zip(fa, fb, elen)) if cut[k] and lab[x] != lab[y]]
    inner = np.zeros(len(E), bool)  # half-edges whose twin is in the same patch
    same = lab[fa] == lab[fb]
    inner[a[same]] = inner[b[same]] = True
    hl = np.linalg.norm(P[E[:, 1]] - P[E[:, 0]], axis=1)
    rim = np.bincount(lab[fid[~inner]], weights=hl[~inner], minlength=int(lab.max()) + 1)
    return lab[tri].astype(np.int64), creases, rim


def crease_cuts(vertices: np.ndarray, faces: np.ndarray, piece: np.ndarray, *,
                crease_deg: float = CREASE_DEG, min_protrusion: float = MIN_PROTRUSION,
                stats: list | None = None, weld=None) -> list[np.ndarray]:
    """One piece cut into the patches that stand out of it (see module docstring).

    Args:
        vertices, faces, piece, weld: as :func:`crease_patches`.
        min_protrusion: a patch is kept apart when its farthest vertex lies at least this
            fraction of its bounding-box diagonal above its rim (the mid-points of its crease
            edges), along the length-weighted mean normal of the triangles outside the rim.
        stats: if a list, receives one dict per patch other than the largest
            (``faces``, ``protrusion`` as a fraction of its diagonal, ``diag`` m, ``kept``).

    Returns:
        ``[faces (F_i,) int64, ...]``: the piece's triangle indices (into ``faces``) per part,
        the rest of the piece first. ``[piece]`` when nothing stands out, or the piece has more
        than :data:`MAX_FACES` triangles.
    """
    piece = np.asarray(piece, np.int64)
    if len(piece) > MAX_FACES or len(piece) < 8:
        return [piece]
    lab, creases, rim_len = crease_patches(vertices, faces, piece, crease_deg=crease_deg, weld=weld)
    k = int(lab.max()) + 1
    if k == 1:
        return [piece]
    V = np.asarray(vertices, np.float64)
    F = np.asarray(faces, np.int64)
    tri = V[F[piece]]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    parea = np.bincount(lab, weights=area, minlength=k)
    base = int(np.argmax(parea))
    shared = {}  # (patch, neighbour) -> crease length
    outside = np.zeros((k, 3))
    rim = {}
    for pa, pb, L, na, nb, mid in creases:
        for p, q, nq in ((pa, pb, nb), (pb, pa, na)):
            shared[(p, q)] = shared.get((p, q), 0.0) + L
            outside[p] += L * nq
            rim.setdefault(p, []).append(mid)
    parent = np.arange(k)
    kept = np.zeros(k, bool)
    kept[base] = True
    for p in np.argsort(parea):
        p = int(p)
        if p == base:
            continue
        pts = tri[lab == p].reshape(-1, 3)
        diag = float(np.linalg.norm(np.ptp(pts, 0)))
        nrm = outside[p] / max(float(np.linalg.norm(outside[p])), 1e-300)
        centre = np.mean(rim[p], 0) if p in rim else pts.mean(0)
        h = float(np.max((pts - centre) @ nrm)) / max(diag, 1e-300) if p in rim else 0.0
        closed = sum(L for (x, _), L in shared.items() if x == p) / max(float(rim_len[p]), 1e-300)
        kept[p] = h >= min_protrusion and closed >= MIN_RIM_CREASE
        if stats is not None:
            stats.append({"faces": int((lab == p).sum()), "protrusion": h, "diag": diag, "kept": bool(kept[p]),
                          "patch": p, "rim_crease": closed})
        if not kept[p]:
            nb = [(L, q) for (x, q), L in shared.items() if x == p]
            parent[p] = max(nb)[1] if nb else base

    def root(p):
        seen = set()
        while not kept[p] and p not in seen:  # rejected patches chain to a kept one (a cycle: the rest)
            seen.add(p)
            p = int(parent[p])
        return p if kept[p] else base

    owner = np.array([root(p) for p in range(k)])[lab]
    groups = [piece[owner == base]] + [piece[owner == p] for p in range(k) if kept[p] and p != base]
    return [g for g in groups if len(g)]
