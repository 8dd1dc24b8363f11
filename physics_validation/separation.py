"""Separating two convex hulls by a plane (or, for coaxial rotations, a cylinder) at the least loss.

:class:`CutHull` is a hull being cut (its part, planes, covered surface samples);
:func:`best_plane` chooses the plane that splits two overlapping convex hulls at the least
loss of the surface only they cover (separating-axis candidates: Gottschalk, Lin and Manocha,
"OBBTree", SIGGRAPH 1996); :func:`separator` adds the separators a joint's motion keeps
(planes normal to parallel rotation axes, a cylinder round a common axis, a slide's travel:
:mod:`.part_motion`); :func:`apart_moving` tests whether such a separator already parts two
hulls; :func:`reduced_cut` brings a cut hull back within the vertex budget without leaving its
planes. Which pairs are cut, and the figures, are :mod:`.hull_clip`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from n4d4d.asset import Mesh

from .hull_planes import apart_along, cover_tolerance, hull_planes, hull_vertices


@dataclass
class CutHull:
    """A hull being cut: its part, the mesh it came from, whether it may be cut, its current
    vertices and outward face planes ``(F, 4)`` (``n . x + e <= 0`` inside; None once cut away),
    the planes cut so far (``(n (3,), d)``: keep ``n . x <= d``), the original hull's planes, the
    covering tolerance (m) and which of its part's surface samples it covers."""

    part: int
    mesh: Mesh
    movable: bool
    points: np.ndarray
    planes: list = field(default_factory=list)
    eq: np.ndarray | None = None
    original_eq: np.ndarray | None = None
    tol: float = 0.0
    covers: np.ndarray | None = None
    changed: bool = False

    def __post_init__(self):
        self.points = np.asarray(self.points, dtype=np.float64)
        self.eq = self.original_eq = hull_planes(self.points)
        self.tol = cover_tolerance(self.points) if self.eq is not None else 0.0

    @property
    def alive(self) -> bool:
        return self.eq is not None


def best_plane(a_pts: np.ndarray, b_pts: np.ndarray, a_eq: np.ndarray, b_eq: np.ndarray,
               a_own: np.ndarray, a_w: float, b_own: np.ndarray, b_w: float, clearance: float,
               a_moves: bool = True, b_moves: bool = True, normals: np.ndarray | None = None,
               motion=None):
    """The plane that splits two overlapping convex hulls at the least loss of covered surface.

    Args:
        a_pts, b_pts: hull vertices ``(n, 3) float64`` (m). a_eq, b_eq: their outward face
            planes ``(F, 4)``.
        a_own, b_own: ``(k, 3)`` surface samples of each part that only that hull covers.
        a_w, b_w: area (m^2) each sample stands for.
        clearance: gap left between the two cut hulls (m).
        a_moves, b_moves: whether each hull may be cut (a fixed one, a collider from the input,
            keeps its whole extent and the other keeps clear of it).
        normals: ``(K, 3)`` unit candidate normals (both signs are tried), or None for the
            separating-axis candidates (both hulls' face normals and the centroid direction).
        motion: a :class:`.part_motion.Motion` whose slides displace ``a``: hull a is judged
            (and its cut given) as if displaced by its ``shift`` towards b; the returned ``c``
            is then the plane of the displaced hull (cut ``a`` at ``c - clearance / 2 - shift``).

    Returns:
        ``(n (3,), c, loss_a_m2, loss_b_m2, depth_m)``: hull a keeps ``n . x <= c -
        clearance / 2`` and hull b ``n . x >= c + clearance / 2`` (a fixed hull's side is
        untouched), the surface each loses (m^2), and the overlap depth along ``n`` before the
        cut; or None when neither may be cut.
    """
    if not (a_moves or b_moves) or (normals is not None and not len(normals)):
        return None
    ca, cb = a_pts.mean(axis=0), b_pts.mean(axis=0)
    if normals is not None:
        N = np.vstack([normals, -normals])
    else:
        cand = [a_eq[:, :3], -b_eq[:, :3]]
        if np.linalg.norm(cb - ca) > 1e-12:
            cand.append(((cb - ca) / np.linalg.norm(cb - ca))[None])
        N = np.vstack(cand)  # (K, 3) unit, pointing from a to b
    h = 0.5 * clearance
    sh = np.zeros(len(N)) if motion is None else motion.shift(N)
    pa, pb = a_pts @ N.T + sh, b_pts @ N.T
    a_hi, b_lo = pa.max(axis=0), pb.min(axis=0)  # (K,)
    depth = a_hi - b_lo
    if not b_moves:
        cs = (b_lo - h)[:, None]
    elif not a_moves:
        cs = (a_hi + h)[:, None]
    else:  # from b cut to nothing-of-b-beyond-a's-reach to a cut likewise
        cs = (b_lo - h)[:, None] + np.linspace(0.0, 1.0, CUT_POSITIONS)[None, :] * (depth + 2 * h)[:, None]
    sa, sb = a_own @ N.T + sh, b_own @ N.T  # (ka, K), (kb, K)
    loss_a = (sa.T[:, None, :] > cs[:, :, None] - h).sum(axis=2) * a_w  # (K, C)
    loss_b = (sb.T[:, None, :] < cs[:, :, None] + h).sum(axis=2) * b_w
    loss = loss_a + loss_b
    least = loss.min(axis=1)  # (K,)
    # per axis: among the least-loss positions the one nearest the middle of the overlap
    mid = 0.5 * (b_lo + a_hi)
    off = np.where(loss <= least[:, None] + 1e-18, np.abs(cs - mid[:, None]), np.inf)
    col = np.argmin(off, axis=1)
    k = int(np.lexsort((depth, np.round(least, 15)))[0])  # least loss, then the shallowest overlap
    c = int(col[k])
    return N[k], float(cs[k, c]), float(loss_a[k, c]), float(loss_b[k, c]), float(depth[k])


#: Cut positions tried along each candidate normal, evenly from one hull's far side to the other's.
CUT_POSITIONS = 33


def reduced_cut(h: CutHull, max_vertices: int) -> np.ndarray:
    """``h``'s cut vertices brought within ``max_vertices``: reduced (:func:`.hulls.reduce_hull`,
    whose quadric decimation may bulge past the cut hull) and every vertex outside the cut hull
    pulled radially onto it (:func:`.hulls._pull_inside` with no margin), so the result lies
    inside the cut hull, and so inside every state ``h`` passed through and every plane of it."""
    from .hulls import _pull_inside, hull_of, reduce_hull

    cut = hull_vertices(h.points)
    if len(cut) <= max_vertices:
        return cut
    r = reduce_hull(cut, max_vertices)
    full = hull_of(cut)
    if r is None or full is None:
        return cut[:0]
    return hull_vertices(_pull_inside(np.asarray(r.vertices), full, 0.0))


def allowed_normals(a: CutHull, b: CutHull, motion) -> np.ndarray:
    """``(K, 3)`` unit plane normals that ``motion``'s rotations keep, for hulls ``a`` and ``b``."""
    return motion.normals if motion.normals is not None else np.vstack([a.eq[:, :3], -b.eq[:, :3]])


def radial(h: CutHull, axis) -> tuple[np.ndarray | None, float]:
    """Unit radial direction of hull ``h``'s centroid from ``axis`` (None on the axis), and the
    largest distance of its vertices from the axis (m)."""
    o, u = axis
    d = h.points - o
    d = d - np.outer(d @ u, u)
    c = d.mean(axis=0)
    e = c / np.linalg.norm(c) if np.linalg.norm(c) > 1e-9 else None
    return e, float(np.linalg.norm(d, axis=1).max())


def apart_moving(a: CutHull, b: CutHull, gap: float, motion) -> bool:
    """True when a separator that ``motion`` keeps (a plane, or a cylinder about its axis) has
    ``a`` and ``b`` at least ``gap`` apart; for None, any plane (at rest)."""
    if motion is None:
        return apart_along(a.points, b.points, np.vstack([a.eq[:, :3], b.eq[:, :3]]), gap)
    N = allowed_normals(a, b, motion)
    if len(N):
        N = np.vstack([N, -N])
        if ((b.points @ N.T).min(axis=0) - (a.points @ N.T).max(axis=0) - motion.shift(N) >= gap).any():
            return True
    if motion.axis is not None:
        o = motion.axis[0]
        for outer, inner in ((a, b), (b, a)):
            e, _ = radial(outer, motion.axis)
            if e is not None and float(((outer.points - o) @ e).min()) >= radial(inner, motion.axis)[1] + gap:
                return True
    return False


def separator(a: CutHull, b: CutHull, own_a, wa, own_b, wb, clearance: float, motion):
    """The cut of least covered-surface loss that keeps ``a`` and ``b`` ``clearance`` apart under
    ``motion``: ``(cut_a, cut_b, loss_a_m2, loss_b_m2, depth_m)``, a cut being ``(n, d)`` (keep
    ``n . x <= d``) or None for a hull left whole; None when no separator the motion keeps exists."""
    h = 0.5 * clearance
    options = []
    N = None if motion is None else allowed_normals(a, b, motion)
    if N is None or len(N):
        r = best_plane(a.points, b.points, a.eq, b.eq, own_a, wa, own_b, wb, clearance, a.movable, b.movable,
                       normals=N, motion=motion)
        if r is not None:
            n, c, la, lb, depth = r
            sh = 0.0 if motion is None else float(motion.shift(n[None])[0])
            options.append(((n, c - h - sh) if a.movable else None, (-n, -(c + h)) if b.movable else None, la, lb,
                            depth))
    if motion is not None and motion.axis is not None:
        o = motion.axis[0]
        for outer, inner, own, w, first in ((a, b, own_a, wa, True), (b, a, own_b, wb, False)):
            e, _ = radial(outer, motion.axis)
            if not outer.movable or e is None:
                continue
            R = radial(inner, motion.axis)[1] + clearance  # outside the cylinder round the inner hull
            cut = (-e, -(R + float(e @ o)))  # keep e . (x - o) >= R
            lost = float(((own - o) @ e < R).sum()) * w
            depth = R - float(((outer.points - o) @ e).min())
            options.append((cut, None, lost, 0.0, depth) if first else (None, cut, 0.0, lost, depth))
    if not options:
        return None
    return min(options, key=lambda t: (round(t[2] + t[3], 15), t[4]))
