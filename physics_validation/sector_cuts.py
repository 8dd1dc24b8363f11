"""Convex pieces of a hollow solid of revolution (a tube, a ring, a lens barrel): sectors, then plane cuts.

A thin tube is the case where neither CoACD nor bisection finds its pieces cheaply. Any plane
through the axis halves the tube and its hull alike (two half-tubes hold as much hull volume
as the whole), so the greedy plane cuts of :mod:`.plane_cuts` never make the first cut; CoACD's
concavity (a distance) cuts the wall into pieces whose hulls span the bore and the gaps between
coaxial walls (PartNet-Mobility camera 102417's lens barrel, a 5.6 mm tube with a coaxial
sleeve: 32 CoACD hulls at 2.01 times its volume, 64 at 1.67, 9.7 + 8 CPU s). Cut into ``S``
angular sectors first, a tube of mean radius ``R`` and wall ``t`` leaves only the segments
between each sector's chord and the bore, a relative excess of about ``(2 pi)^2 R / (12 S^2 t)``;
the greedy plane cuts then split what the profile adds (steps, end walls, a sleeve), the worst
piece first (:func:`.plane_cuts.refine_pieces`). Measured on 102417's lens barrel (fidelity
after the vertex reduction, CPU s of the cuts): 32 pieces 1.89 (6.3 s; the chord segments of 8
or 16 sectors of a 0.1 m bore with a 5.6 mm wall are too large for 32), 64 pieces 1.30 (5.4 s),
against the bound 1.35. Its focus rings, whose profiles are deeper, came out at 1.61-1.67 with
32 pieces, where CoACD met the bound (1.25-1.31): the candidate with the better measured
fidelity is kept.

:func:`revolution_axis` finds the axis (the principal axis of the surface about which the two
other second moments agree within :data:`ROUNDNESS`, with a bore: the surface keeps at least
:data:`BORE_FRACTION` of its largest radius away from the axis); :func:`sector_pieces` cuts.
Which sector counts are tried is :data:`SECTOR_SHARES`; the set whose hulls hold the least
volume is returned. The result is a candidate only: :mod:`.decomposition` measures it and keeps
it when its fidelity is the best. This module does not decide whether a part is round enough
to matter; a part with no bore or no round section gives None.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Mesh

#: The two second moments of the surface about axes perpendicular to the revolution axis agree
#: within this ratio (smaller / larger) for a round section.
ROUNDNESS = 0.85

#: A bore: every vertex is at least this fraction of the largest radius away from the axis
#: (102417's lens barrel: 0.61; its focus rings 0.7-0.8).
BORE_FRACTION = 0.3

#: Sector counts tried, as fractions of the hull budget (at least 3 sectors), fewest first; the
#: plane cuts split the profile (a tube and a sleeve joined by an end wall is three pieces) with
#: what is left. A third of the budget as well cost 2.8 CPU s more on 102417's lens barrel at 32
#: pieces (summed hull volume 1.94 against 1.95 of the solid's: both far past the bound) and
#: 3.8 at 64 (1.36 against 1.33: none better).
SECTOR_SHARES = (0.25, 0.5)


def revolution_axis(mesh: Mesh) -> tuple[np.ndarray, np.ndarray] | None:
    """The axis of a hollow, round part: ``(origin (3,), unit direction (3,))`` in the mesh's
    frame (m), or None when the surface's section is not round (:data:`ROUNDNESS`) or it has no
    bore (:data:`BORE_FRACTION`).

    The origin is the area-weighted centroid of the surface (on the axis for a part symmetric
    about it) and the direction the principal axis of the surface's second moments about which
    the other two agree best.
    """
    v = np.asarray(mesh.vertices, dtype=np.float64)
    tri = v[np.asarray(mesh.faces)]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if area.sum() <= 0:
        return None
    centres = tri.mean(axis=1)
    o = (centres * area[:, None]).sum(axis=0) / area.sum()
    d = centres - o
    w, U = np.linalg.eigh((d * area[:, None]).T @ d / area.sum())
    best, k = -1.0, 0
    for i in range(3):
        a, b = np.delete(w, i)
        r = min(a, b) / max(a, b, 1e-300)
        if r > best:
            best, k = r, i
    if best < ROUNDNESS:
        return None
    u = U[:, k] / np.linalg.norm(U[:, k])
    x = v - o
    r = np.linalg.norm(x - np.outer(x @ u, u), axis=1)
    if r.max() <= 0 or r.min() < BORE_FRACTION * r.max():
        return None
    return o, u


def sector_pieces(mesh: Mesh, max_pieces: int, *, target_ratio: float = 1.1, budget=None,
                  axis: tuple[np.ndarray, np.ndarray] | None = None,
                  good_ratio: float | None = None) -> list[np.ndarray] | None:
    """Closed pieces of a hollow solid of revolution whose convex hulls follow its volume.

    Args:
        mesh: the part's closed surface (a valid manifold; m).
        max_pieces: at most this many pieces (the hull budget), >= 3.
        target_ratio: the plane cuts stop once the summed hull volume is at most this times the
            solid's (as :func:`.plane_cuts.plane_cut_pieces`).
        budget: a :class:`n4d4d.budget.Budget` whose CPU seconds, once spent, stop the cutting.
        axis: ``(origin, direction)``; default :func:`revolution_axis`.
        good_ratio: no further sector count is tried once a set's summed hull volume is at most
            this times the solid's (the fidelity bound; default ``target_ratio``).

    Returns:
        The pieces' vertices, one ``(n, 3) float64`` array per piece, from the sector count of
        :data:`SECTOR_SHARES` whose pieces' hulls hold the least volume; None when the part has
        no axis (:func:`revolution_axis`), is not a valid manifold, or the budget is below 3.
    """
    from .plane_cuts import MIN_PIECE_FRACTION, _hull_volume, _manifold, pieces_of, refine_pieces

    if max_pieces < 3:
        return None
    axis = axis if axis is not None else revolution_axis(mesh)
    if axis is None:
        return None
    solid = _manifold(mesh.vertices, mesh.faces)
    if solid is None or solid.volume() <= 0:
        return None
    total = float(solid.volume())
    floor = MIN_PIECE_FRACTION * total
    o, u = axis
    e1 = np.cross(u, np.eye(3)[int(np.argmin(np.abs(u)))])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)
    best, best_v = None, np.inf
    for s in sorted({max(3, int(share * max_pieces)) for share in SECTOR_SHARES}):
        if s > max_pieces or (budget is not None and budget.cpu_left() <= 0):
            break
        pieces = []
        for k in range(s):
            a0, a1 = 2 * np.pi * k / s, 2 * np.pi * (k + 1) / s
            n0 = -np.sin(a0) * e1 + np.cos(a0) * e2  # n0 . (x - o) >= 0: past the sector's first side
            n1 = np.sin(a1) * e1 - np.cos(a1) * e2  # n1 . (x - o) >= 0: before its second
            w = solid.trim_by_plane(n0.tolist(), float(n0 @ o)).trim_by_plane(n1.tolist(), float(n1 @ o))
            if not w.is_empty():
                pieces += pieces_of(w, floor)
        if not pieces or len(pieces) > max_pieces:
            continue
        out = refine_pieces(pieces, total, max_pieces, target_ratio=target_ratio, budget=budget)
        v = sum(_hull_volume(p) for p in out)
        if v < best_v:
            best, best_v = out, v
        if best_v <= (target_ratio if good_ratio is None else max(good_ratio, target_ratio)) * total:
            break
    return best
