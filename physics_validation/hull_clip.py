"""Collision hulls kept inside what their part occupies: convex hulls cut by half-spaces.

A convex hull cut by a plane stays convex, so cutting is exact and cheap. Two kinds of cut:

- **own box**: every hull of a decomposed part is cut by the faces of the part's axis-aligned
  bounding box (:data:`BOX_MARGIN_M` outside it). The part lies inside its box, so nothing the
  hull covers is lost; what goes is bulge (CoACD's manifold remesh of an open input, the
  vertex reduction's bulge): PartNet-Mobility 45332's link_4 hulls reached 6.6 mm below the
  ground while its solid sits at z = 0.
- **neighbours**: every pair of hulls of two parts that the simulators collide (not parent and
  child, not neighbours through a welded group: :func:`n4d4d.kinematics.welded_pairs`) that
  overlap or come closer than ``clearance`` is split by one plane. Candidate normals are the
  face normals of both hulls and the direction between their centroids (the separating-axis
  candidates of two convex polytopes); for each, the cut position is the one that uncovers the
  least of the two parts' surfaces (seeded surface samples of each part, weighted by area,
  that lie in the hull being cut and in no other hull of its part), ties going to the
  shallowest cut. Each hull keeps its side of the plane, ``clearance / 2`` back, so the two are
  at least ``clearance`` apart. A hull of the input's own colliders (a URDF's primitives or
  meshes) is never cut: the other hull of the pair keeps clear of it whole. A cut that would
  uncover more than :data:`MAX_UNCOVERED_FRACTION` of the surface a hull alone covers is not
  made (the pair is listed as ``unresolved``): a single hull round an axle cannot be split by
  a plane.
- **through the joints' motion**: two parts that move relative to each other (movable joints
  on the tree path between them, :func:`.part_motion.pair_motions`) should stay apart in every
  pose, not only at rest; where no cut the motion keeps is acceptable, the two hulls are parted
  at rest by any plane (the articulation sweeps judge what the motion then brings together). Only separators the motion keeps are used: with rotations, planes perpendicular to the
  rotation axes (when the axes are parallel) and, when all rotations share one axis line, a
  cylinder about it (the outer hull cut by the plane tangent to the cylinder round the inner
  hull's farthest point, at the outer hull's own bearing: all of it then lies outside the
  cylinder, at any angle); a prismatic joint's travel (its limits) moves the cut of the sliding
  hull back by the largest displacement along the plane's normal. 102417's three coaxial knob
  rings (continuous joints): overlap over a turn 3.0e-5 / 3.6e-5 m^3 before, none after.

The part solids themselves are disjoint ``--part-clearance`` apart (:mod:`n4d4d.volume.disjoint`,
0.5 mm by default), so a plane through that gap exists locally wherever the hulls only bulge
past their solids (the three knob rings of PartNet-Mobility camera 102417: 32 hulls each,
whose chords over the rings' inner arcs overlapped the next ring by 6-8 mm).

A cut hull with more than ``max_vertices`` vertices is reduced again (:func:`.hulls.reduce_hull`)
and re-cut by all its planes, so the half-space constraints hold exactly in the end. This
module cuts hulls; measuring their fidelity afterwards is :mod:`.fidelity`'s job and choosing
pieces :mod:`.decomposition`'s. Method: separating-axis theorem for convex polytopes
(Gottschalk, Lin and Manocha, "OBBTree", SIGGRAPH 1996) with a coverage-loss objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from n4d4d.asset import Mesh

#: Gap left between the hulls of two colliding parts (m): Bullet's collision margin
#: (``_bullet.BULLET_HULL_MARGIN_M``, 1 mm). Bullet inflates every hull it loads by its margin,
#: which :func:`._bullet.shrink_hull` takes back off, but a hull thinner than two margins only
#: down to 0.9 of its inscribed sphere's radius: such a hull (a knob ring's sector, 1-3 mm,
#: or the slab a cut leaves) collides up to what is left of the margin fatter than it is. With
#: 0.25 mm, PyBullet saw 102417's rings 0.2-0.7 mm into each other and their joints carried
#: 750-10,000 x their weight at rest; with 1 mm (and the shrink at a quarter of the centroid's
#: depth, as it was then) it saw none; with the thinner ring solids of issue 12 it saw them touch
#: again (4.82 / 3.36 x), which the 0.9 shrink ends. The part solids are 0.5 mm apart
#: (``--part-clearance``), so each hull ends about 0.25 mm short of its solid there.
HULL_CLEARANCE_M = 1e-3

#: How far outside its part's bounding box a hull may reach (m): a hull passing a face of the
#: box by more is cut back to the face (the part lies inside, so the cut loses none of it). 1 mm,
#: the bulge the vertex reduction is allowed anyway (:data:`.hulls.MAX_BULGE_M`, a third of the
#: certificate's 3 mm ground bound): what is cut is bulge from elsewhere (CoACD's remesh of an
#: open input: 6.6 mm on 45332's link_4), and a part whose hulls only carry the reduction's
#: bulge is not re-measured (0.5-1 CPU s a part).
BOX_MARGIN_M = 1e-3

#: A cut is not made when it would uncover more than this fraction of the part surface that
#: the hull alone covers (a plane cannot split a hull that wraps round its neighbour).
MAX_UNCOVERED_FRACTION = 0.5

#: Surface samples per part used to weigh cuts (seeded; area-weighted).
SAMPLES_PER_PART = 4000


@dataclass
class _Hull:
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
        self.eq = self.original_eq = _equations(self.points)
        self.tol = _tol(self.points) if self.eq is not None else 0.0

    @property
    def alive(self) -> bool:
        return self.eq is not None


def _equations(points: np.ndarray) -> np.ndarray | None:
    """Outward unit face planes ``(F, 4)`` (``n . x + e <= 0`` inside) of the hull of ``points``."""
    from .hulls import _qhull

    if len(points) < 4:
        return None
    h = _qhull(points)
    if h is None or h.volume <= 0:
        return None
    return np.unique(np.round(h.equations, 12), axis=0)


def clip_points(points: np.ndarray, planes) -> np.ndarray:
    """Vertices of the convex hull of ``points`` cut by half-spaces (exact, by edge crossings).

    Args:
        points: ``(N, 3) float64`` (m), spanning a convex polytope.
        planes: iterable of ``(n (3,), d)``: keep ``n . x <= d`` (n need not be unit).

    Returns:
        ``(M, 3) float64`` vertices of the cut polytope (its convex hull is the cut hull), empty
        when nothing is left.
    """
    from scipy.spatial import ConvexHull, QhullError

    pts = np.asarray(points, dtype=np.float64)
    for n, d in planes:
        if len(pts) < 4:
            return np.zeros((0, 3))
        n = np.asarray(n, dtype=np.float64)
        s = pts @ n - d
        if (s <= 0).all():
            continue
        if (s > 0).all():
            return np.zeros((0, 3))
        try:
            h = ConvexHull(pts)
        except (QhullError, ValueError):
            return np.zeros((0, 3))
        pts, s = pts[h.vertices], s[h.vertices]
        idx = {v: k for k, v in enumerate(h.vertices)}
        tri = np.vectorize(idx.get)(h.simplices)
        e = np.unique(np.sort(np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1), axis=0)
        cross = e[(s[e[:, 0]] > 0) != (s[e[:, 1]] > 0)]
        t = s[cross[:, 0]] / (s[cross[:, 0]] - s[cross[:, 1]])
        new = pts[cross[:, 0]] + t[:, None] * (pts[cross[:, 1]] - pts[cross[:, 0]])
        pts = np.vstack([pts[s <= 0], new])
    return pts


def _inside(eq: np.ndarray, x: np.ndarray, tol: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(N,) bool``: points ``x`` within ``tol`` m of the convex hull given by its planes ``eq``
    (``lo``, ``hi``: the hull's bounding box, which filters the points first)."""
    out = np.zeros(len(x), dtype=bool)
    near = np.flatnonzero(np.all((x >= lo - tol) & (x <= hi + tol), axis=1))
    if len(near):
        out[near] = (x[near] @ eq[:, :3].T + eq[:, 3] <= tol).all(axis=1)
    return out


def _size(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.ptp(points, axis=0)))


def _tol(points: np.ndarray) -> float:
    """How far outside a hull a surface point still counts as covered by it: the reduction's
    bulge allowance (:data:`.hulls.MAX_BULGE_FRACTION` of the hull, at most
    :data:`.hulls.MAX_BULGE_M`)."""
    from .hulls import MAX_BULGE_FRACTION, MAX_BULGE_M

    return min(MAX_BULGE_FRACTION * _size(points), MAX_BULGE_M)


def _apart(a: np.ndarray, b: np.ndarray, axes: np.ndarray, gap: float) -> bool:
    """True when some axis (rows of ``axes``, unit) separates point sets ``a`` and ``b`` by ``gap``."""
    pa, pb = a @ axes.T, b @ axes.T
    return bool(((pb.min(axis=0) - pa.max(axis=0) >= gap) | (pa.min(axis=0) - pb.max(axis=0) >= gap)).any())


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


def _reduced(h: _Hull, max_vertices: int) -> np.ndarray:
    """``h``'s cut vertices brought within ``max_vertices``: reduced (:func:`.hulls.reduce_hull`,
    whose quadric decimation may bulge past the cut hull) and every vertex outside the cut hull
    pulled radially onto it (:func:`.hulls._pull_inside` with no margin), so the result lies
    inside the cut hull, and so inside every state ``h`` passed through and every plane of it."""
    from .hulls import _pull_inside, hull_of, reduce_hull

    cut = _hull_vertices(h.points)
    if len(cut) <= max_vertices:
        return cut
    r = reduce_hull(cut, max_vertices)
    full = hull_of(cut)
    if r is None or full is None:
        return cut[:0]
    return _hull_vertices(_pull_inside(np.asarray(r.vertices), full, 0.0))


def _hull_vertices(points: np.ndarray) -> np.ndarray:
    from .hulls import _qhull

    h = _qhull(points) if len(points) >= 4 else None
    return points[h.vertices] if h is not None else np.zeros((0, 3))


def _allowed_normals(a: _Hull, b: _Hull, motion) -> np.ndarray:
    """``(K, 3)`` unit plane normals that ``motion``'s rotations keep, for hulls ``a`` and ``b``."""
    return motion.normals if motion.normals is not None else np.vstack([a.eq[:, :3], -b.eq[:, :3]])


def _radial(h: _Hull, axis) -> tuple[np.ndarray | None, float]:
    """Unit radial direction of hull ``h``'s centroid from ``axis`` (None on the axis), and the
    largest distance of its vertices from the axis (m)."""
    o, u = axis
    d = h.points - o
    d = d - np.outer(d @ u, u)
    c = d.mean(axis=0)
    e = c / np.linalg.norm(c) if np.linalg.norm(c) > 1e-9 else None
    return e, float(np.linalg.norm(d, axis=1).max())


def _apart_moving(a: _Hull, b: _Hull, gap: float, motion) -> bool:
    """True when a separator that ``motion`` keeps (a plane, or a cylinder about its axis) has
    ``a`` and ``b`` at least ``gap`` apart; for None, any plane (at rest)."""
    if motion is None:
        return _apart(a.points, b.points, np.vstack([a.eq[:, :3], b.eq[:, :3]]), gap)
    N = _allowed_normals(a, b, motion)
    if len(N):
        N = np.vstack([N, -N])
        if ((b.points @ N.T).min(axis=0) - (a.points @ N.T).max(axis=0) - motion.shift(N) >= gap).any():
            return True
    if motion.axis is not None:
        o = motion.axis[0]
        for outer, inner in ((a, b), (b, a)):
            e, _ = _radial(outer, motion.axis)
            if e is not None and float(((outer.points - o) @ e).min()) >= _radial(inner, motion.axis)[1] + gap:
                return True
    return False


def _separator(a: _Hull, b: _Hull, own_a, wa, own_b, wb, clearance: float, motion):
    """The cut of least covered-surface loss that keeps ``a`` and ``b`` ``clearance`` apart under
    ``motion``: ``(cut_a, cut_b, loss_a_m2, loss_b_m2, depth_m)``, a cut being ``(n, d)`` (keep
    ``n . x <= d``) or None for a hull left whole; None when no separator the motion keeps exists."""
    h = 0.5 * clearance
    options = []
    N = None if motion is None else _allowed_normals(a, b, motion)
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
            e, _ = _radial(outer, motion.axis)
            if not outer.movable or e is None:
                continue
            R = _radial(inner, motion.axis)[1] + clearance  # outside the cylinder round the inner hull
            cut = (-e, -(R + float(e @ o)))  # keep e . (x - o) >= R
            lost = float(((own - o) @ e < R).sum()) * w
            depth = R - float(((outer.points - o) @ e).min())
            options.append((cut, None, lost, 0.0, depth) if first else (None, cut, 0.0, lost, depth))
    if not options:
        return None
    return min(options, key=lambda t: (round(t[2] + t[3], 15), t[4]))


#: Surface samples of one part tested against a neighbour's solid by :func:`solid_overlap`.
OVERLAP_SAMPLES = 400


def solid_overlap(points: np.ndarray, other, seed: int = 0, n: int = OVERLAP_SAMPLES) -> float:
    """How deep (m, >= 0) surface samples ``points (N, 3)`` of one part reach into the closed
    solid ``other`` (a ``trimesh.Trimesh``, same frame): the largest distance to its surface of
    those of at most ``n`` of the samples within its bounding box (a seeded choice) that lie
    inside it (generalized winding number and exact point-to-triangle distance over a BVH,
    :func:`._wp.inside_depth`; trimesh's ``signed_distance`` took 14 of the 25 s of 102417's
    cuts), 0 when none is inside. Hull cuts are for hulls that bulge past solids
    that are apart (:mod:`n4d4d.volume.disjoint` leaves a gap); parts whose solids overlap keep
    their hulls, so that the certificate's link-overlap check sees the overlap."""
    from ._wp import inside_depth

    lo, hi = other.bounds
    near = points[np.all((points >= lo) & (points <= hi), axis=1)]
    if not len(near):
        return 0.0
    if len(near) > n:
        near = near[np.random.default_rng(seed).choice(len(near), n, replace=False)]
    inside, depth = inside_depth(np.asarray(other.vertices), np.asarray(other.faces), near)
    return float(depth[inside].max()) if inside.any() else 0.0


def clip_hulls(meshes, hulls, movable, pairs, *, clearance: float = HULL_CLEARANCE_M,
               max_vertices: int = 64, seed: int = 0, box_margin: float = BOX_MARGIN_M,
               samples: int = SAMPLES_PER_PART, motions=None) -> tuple[list[list[Mesh]], dict]:
    """Cut the hulls of several parts so that each stays in its part's box and the hulls of
    colliding parts are ``clearance`` apart (module docstring).

    Args:
        meshes: the parts' closed surfaces (:class:`~n4d4d.asset.Mesh`, asset frame, m), in order.
        hulls: per part, its convex hulls (closed :class:`~n4d4d.asset.Mesh` es, same frame).
        movable: per part, whether its hulls may be cut (False: the input's own colliders;
            a hull with a ``primitive`` is never cut either).
        pairs: ``(i, j)`` part indices whose hulls the simulators collide.
        clearance: gap left between split hulls (m), >= 0.
        max_vertices: vertex budget of a cut hull (PhysX GPU limit 64).
        seed: the surface sampler's seed. box_margin: how far past its part's bounding box a
            hull may reach (m). samples: surface samples per part.
        motions: per pair, the :class:`.part_motion.Motion` of one part relative to the other
            (from :func:`.part_motion.pair_motions`), or None (every entry, or the whole list)
            for parts that do not move relative to each other: separated at rest only. A
            moving pair of hulls that no cut the motion keeps can part acceptably is parted at
            rest by any plane (when one is acceptable), counted in ``pairs_split_at_rest_only``.

    Returns:
        ``(hulls, figures)``: per part its hulls after cutting (uncut ones are the same objects),
        and JSON-ready figures: ``clearance_m``, ``box_margin_m``, ``pairs_split`` (hull pairs
        cut apart), ``pairs_split_at_rest_only``, ``unresolved`` (hull pairs left overlapping:
        part names, depth, why; ``at_rest`` False for a moving pair apart at rest that may meet
        in motion, its depth then along the separators the motion keeps),
        ``parts`` (per part index with a change: ``box_cut``, ``neighbour_cut``, ``dropped``
        hulls, ``hull_volume_before_m3`` / ``after``, ``lost_area_m2``).

    Raises:
        ValueError: negative clearance, or lengths that do not match.
    """
    import trimesh

    if clearance < 0:
        raise ValueError(f"hull clearance must be >= 0 m, got {clearance}")
    if not len(meshes) == len(hulls) == len(movable):
        raise ValueError("meshes, hulls and movable must have one entry per part")
    P = len(meshes)
    rng_seeds = [seed + 7919 * i for i in range(P)]
    pts, weight = [], []
    for i, m in enumerate(meshes):
        tm = trimesh.Trimesh(np.asarray(m.vertices), np.asarray(m.faces), process=False)
        x, _ = trimesh.sample.sample_surface(tm, samples, seed=rng_seeds[i])
        pts.append(np.asarray(x, dtype=np.float64))
        weight.append(float(tm.area) / samples)
    H: list[_Hull] = []
    for i, hs in enumerate(hulls):
        for m in hs:
            H.append(_Hull(i, m, bool(movable[i]) and m.primitive is None, np.asarray(m.vertices)))
    by_part = [[k for k, h in enumerate(H) if h.part == i] for i in range(P)]
    cover = [np.zeros(len(pts[i]), dtype=np.int32) for i in range(P)]
    for h in H:
        h.covers = np.zeros(len(pts[h.part]), dtype=bool)
        if h.alive:
            h.covers = _inside(h.eq, pts[h.part], h.tol, h.points.min(axis=0), h.points.max(axis=0))
            cover[h.part] += h.covers
    parts_fig = {}

    def fig(i):
        return parts_fig.setdefault(i, {"box_cut": 0, "neighbour_cut": 0, "dropped": 0, "lost_area_m2": 0.0})

    def set_points(k: int, new: np.ndarray) -> bool:
        h = H[k]
        eq = _equations(new) if len(new) >= 4 else None
        if eq is None and sum(H[q].alive for q in by_part[h.part]) <= 1:
            return False  # never the last hull of a part
        cover[h.part] -= h.covers
        h.points, h.eq, h.changed = new, eq, True
        h.covers = (_inside(eq, pts[h.part], h.tol, new.min(axis=0), new.max(axis=0)) if eq is not None
                    else np.zeros(len(pts[h.part]), bool))
        cover[h.part] += h.covers
        if eq is None:
            fig(h.part)["dropped"] += 1
        return True

    # own box
    for i in range(P):
        if not movable[i]:
            continue
        lo = np.asarray(meshes[i].vertices).min(axis=0) - box_margin
        hi = np.asarray(meshes[i].vertices).max(axis=0) + box_margin
        box = [(np.eye(3)[a], hi[a]) for a in range(3)] + [(-np.eye(3)[a], -lo[a]) for a in range(3)]
        for k in by_part[i]:
            h = H[k]
            if not h.movable or not h.alive:
                continue
            out = [(n, d - box_margin) for n, d in box if (h.points @ n).max() > d]
            if out and set_points(k, clip_points(h.points, out)):
                h.planes += out
                fig(i)["box_cut"] += 1
    # neighbours
    split, unresolved, rest_only = 0, [], 0
    solids = {}

    def solid(i):
        if i not in solids:
            solids[i] = trimesh.Trimesh(np.asarray(meshes[i].vertices), np.asarray(meshes[i].faces), process=False)
        return solids[i]

    for pair_index, (i, j) in enumerate(pairs):
        motion = motions[pair_index] if motions is not None else None
        depth = max(solid_overlap(pts[i], solid(j), seed), solid_overlap(pts[j], solid(i), seed))
        if depth > clearance:  # the solids themselves overlap: not a hull bulge, the certificate's to judge
            unresolved.append({"parts": [int(i), int(j)], "hulls": [], "depth_m": float(depth),
                               "why": f"the parts' solids overlap by {1e3 * depth:.1f} mm at rest: an overlap of "
                                      "the parts, which their hulls keep (SimReady BA.002 judges it)"})
            continue
        ka = [k for k in by_part[i] if H[k].alive]
        kb = [k for k in by_part[j] if H[k].alive]
        if not ka or not kb:
            continue
        if motion is None:  # no relative motion: hulls whose boxes are apart cannot meet
            boxes_a = np.array([[H[k].points.min(axis=0), H[k].points.max(axis=0)] for k in ka])
            boxes_b = np.array([[H[k].points.min(axis=0), H[k].points.max(axis=0)] for k in kb])
            near = (np.all(boxes_a[:, None, 0] <= boxes_b[None, :, 1] + clearance, axis=2)
                    & np.all(boxes_b[None, :, 0] <= boxes_a[:, None, 1] + clearance, axis=2))
            todo = list(zip(*np.nonzero(near)))
        else:  # they move: every pair is tested with the separators their motion keeps
            todo = [(x, y) for x in range(len(ka)) for y in range(len(kb))]
        for ia, ib in todo:
            a, b = H[ka[ia]], H[kb[ib]]
            if not (a.alive and b.alive) or not (a.movable or b.movable):
                continue
            if _apart_moving(a, b, clearance * (1 - 1e-9), motion):
                continue
            own_a = pts[i][a.covers & (cover[i] == 1)]
            own_b = pts[j][b.covers & (cover[j] == 1)]

            def judged(best):
                """``(cut_a, cut_b, la, lb, depth, new_a, new_b, why)``: the cut and why it is refused (None: made)."""
                cut_a, cut_b, la, lb, depth = best
                why = None
                if la > MAX_UNCOVERED_FRACTION * len(own_a) * weight[i] and la > 0:
                    why = f"would uncover {la / max(len(own_a) * weight[i], 1e-300):.0%} of what one hull alone covers"
                elif lb > MAX_UNCOVERED_FRACTION * len(own_b) * weight[j] and lb > 0:
                    why = f"would uncover {lb / max(len(own_b) * weight[j], 1e-300):.0%} of what one hull alone covers"
                new_a = clip_points(a.points, [cut_a]) if cut_a is not None else a.points
                new_b = clip_points(b.points, [cut_b]) if cut_b is not None else b.points
                if why is None and ((cut_a is not None and len(_hull_vertices(new_a)) < 4
                                     and len([q for q in ka if H[q].alive]) <= 1)
                                    or (cut_b is not None and len(_hull_vertices(new_b)) < 4
                                        and len([q for q in kb if H[q].alive]) <= 1)):
                    why = "would remove a part's last hull"
                return cut_a, cut_b, la, lb, depth, new_a, new_b, why

            best = _separator(a, b, own_a, weight[i], own_b, weight[j], clearance, motion)
            r = judged(best) if best is not None else None
            if motion is not None and (r is None or r[-1] is not None):
                # No cut the joints' motion keeps is acceptable: keep them apart at rest at least
                # (any plane), where SimReady BA.002 judges them; what the motion brings together
                # the articulation sweeps judge (PartNet-Mobility fridge 11709: three doors on
                # parallel hinges whose edges lap 7 mm over each other, 3.5 mm of hull overlap at
                # rest, which only planes normal to the hinges were allowed to part).
                moving_why = ("keeping them apart through the joints' motion is not possible" if r is None
                              else f"{r[-1]} (through the joints' motion)")
                if _apart_moving(a, b, clearance * (1 - 1e-9), None):
                    unresolved.append({"parts": [int(i), int(j)], "hulls": [int(ka[ia]), int(kb[ib])],
                                       "depth_m": 0.0 if r is None else float(r[4]), "at_rest": False,
                                       "why": moving_why})
                    continue
                rest = _separator(a, b, own_a, weight[i], own_b, weight[j], clearance, None)
                rr = judged(rest) if rest is not None else None
                if rr is not None and rr[-1] is None:
                    r = rr
                    rest_only += 1
                elif r is None:
                    unresolved.append({"parts": [int(i), int(j)], "hulls": [int(ka[ia]), int(kb[ib])],
                                       "depth_m": 0.0 if rr is None else float(rr[4]), "why": moving_why})
                    continue
                elif rr is not None:
                    r = (*rr[:-1], f"{rr[-1]} (any plane, at rest); {moving_why}")
            if r is None:
                unresolved.append({"parts": [int(i), int(j)], "hulls": [int(ka[ia]), int(kb[ib])], "depth_m": 0.0,
                                   "why": "keeping them apart through the joints' motion is not possible"})
                continue
            cut_a, cut_b, la, lb, depth, new_a, new_b, why = r
            if why is not None:
                unresolved.append({"parts": [int(i), int(j)], "hulls": [int(ka[ia]), int(kb[ib])],
                                   "depth_m": float(depth), "why": why})
                continue
            for k, h, new, cut, part, lost in ((ka[ia], a, new_a, cut_a, i, la), (kb[ib], b, new_b, cut_b, j, lb)):
                if cut is not None and not np.array_equal(new, h.points):
                    set_points(k, new)
                    h.planes.append(cut)
                    fig(part)["neighbour_cut"] += 1
                    fig(part)["lost_area_m2"] += lost
            split += 1
    out: list[list[Mesh]] = []
    for i in range(P):
        hs = []
        for k in by_part[i]:
            h = H[k]
            if not h.alive:
                continue
            if not h.changed:
                hs.append(h.mesh)
                continue
            v = _reduced(h, max_vertices)
            from .hulls import hull_of

            t = hull_of(v)
            if t is not None:
                hs.append(Mesh.from_trimesh(t))
        out.append(hs if hs else list(hulls[i]))
    for i, f in parts_fig.items():
        f["hull_volume_before_m3"] = float(sum(_volume(m) for m in hulls[i]))
        f["hull_volume_after_m3"] = float(sum(_volume(m) for m in out[i]))
        f["hulls_before"], f["hulls_after"] = len(hulls[i]), len(out[i])
    figures = {"clearance_m": float(clearance), "box_margin_m": float(box_margin), "pairs_split": split,
               "pairs_split_at_rest_only": rest_only,
               "part_pairs_moving": sum(m is not None for m in (motions or [])),
               "unresolved": unresolved, "parts": {int(i): f for i, f in sorted(parts_fig.items())}}
    return out, figures


def _volume(m: Mesh) -> float:
    from .hulls import _qhull

    h = _qhull(np.asarray(m.vertices))
    return float(h.volume) if h is not None else 0.0


def clip_collision(asset, collision: dict, per_part: dict, *, fidelity, seed: int = 0, max_vertices: int = 64,
                   clearance: float = HULL_CLEARANCE_M, asset_diagonal: float | None = None):
    """The collision stage's hulls cut (:func:`clip_hulls`) and their fidelity measured again.

    Args:
        asset: the rigged asset (parts, joints; asset frame, rest pose).
        collision: part name -> its hulls as decomposed or read from the input.
        per_part: part name -> the collision stage's figures of the part (``source`` "file"
            marks the input's colliders, which are not cut).
        fidelity: :class:`~.thresholds.FidelityThresholds`. seed: samplers' seed.
        max_vertices: hull vertex budget. clearance: gap between the hulls of colliding parts (m).
        asset_diagonal: the asset's diagonal (m), for the small parts judged at its scale
            (:func:`.decomposition.measure`).

    Returns:
        ``(collision, per_part, figures, notes)``: hulls and per-part figures with the cut
        parts' fidelity re-measured (their ``clip`` entry keeps the figures before the cut and
        what was cut); a part whose fidelity passed before its cuts and would fail after keeps
        its hulls uncut (``clip.reverted`` names the misses: PartNet 45213's body, carved along
        its drawers' travel, went from volume ratio 1.18 to 0.79), the cut's JSON figures (:func:`clip_hulls`, keyed by part name, plus
        ``cpu_seconds``) and notes for the report (pairs left overlapping).
    """
    from n4d4d.budget import process_cpu_seconds

    from .decomposition import measure
    from .fidelity import fidelity_misses
    from .part_motion import colliding_pairs, pair_motions

    c0 = process_cpu_seconds()
    names = [p.name for p in asset.parts]
    pairs = colliding_pairs(asset) if len(names) > 1 else []
    movable = [per_part[n].get("source") != "file" for n in names]
    motions = pair_motions(asset, pairs) if pairs else []
    hulls, fig = clip_hulls([p.mesh for p in asset.parts], [list(collision[n]) for n in names], movable, pairs,
                            clearance=clearance, max_vertices=max_vertices, seed=seed, motions=motions)
    out, figs = dict(collision), {n: dict(f) for n, f in per_part.items()}
    reverted: list[str] = []
    for i, f in fig["parts"].items():
        name = names[i]
        out[name] = tuple(hulls[i])
        old = figs[name]
        small = "asset_scale" in old["fidelity"]
        fid = measure(asset.parts[i].mesh, hulls[i], fidelity, seed, asset_diagonal if small else None)
        misses = fidelity_misses(fid, fidelity)
        before = {k: old[k] for k in ("hulls", "volume_ratio", "surface_distance_mean_pct",
                                      "surface_distance_p95_pct", "fidelity_passed")}
        if misses and old["fidelity_passed"]:  # the cut would fail a part that passed: keep its hulls whole
            out[name] = collision[name]
            old["clip"] = {**f, "before": before, "reverted": "; ".join(misses)}
            reverted.append(f"collision: the cuts of {name}'s hulls were undone, as they would fail its "
                            f"fidelity ({'; '.join(misses)}); its neighbours keep clear of it as far as "
                            "their own cuts go")
            continue
        old["clip"] = {**f, "before": before}
        old.update(hulls=len(hulls[i]), max_hull_vertices=max(len(h.vertices) for h in hulls[i]),
                   volume_ratio=fid["volume_ratio"], surface_distance_mean_pct=fid["mean_pct"],
                   surface_distance_p95_pct=fid["p95_pct"], fidelity=fid, fidelity_passed=not misses,
                   fidelity_misses=misses)
    worst: dict = {}
    for u in fig["unresolved"]:  # one note per pair of parts: its deepest hull pair left overlapping
        key = tuple(u["parts"])
        rest = u.get("at_rest", True)
        if key not in worst or (rest, u["depth_m"]) > (worst[key].get("at_rest", True), worst[key]["depth_m"]):
            worst[key] = u
    notes = [f"collision: hulls of {names[i]} and {names[j]} still overlap by up to {1e3 * max(u['depth_m'], 0.0):.1f} "
             f"mm at rest: a plane between them {u['why']}" if u.get("at_rest", True) else
             f"collision: hulls of {names[i]} and {names[j]} are apart at rest but may meet as the joints move: "
             f"a cut {u['why']}" for (i, j), u in worst.items()] + reverted
    figures = {**fig, "parts": {names[i]: f for i, f in fig["parts"].items()},
               "unresolved": [{**u, "parts": [names[p] for p in u["parts"]]} for u in fig["unresolved"]],
               "colliding_pairs": len(pairs), "cpu_seconds": process_cpu_seconds() - c0}
    return out, figs, figures, notes
