"""Joint inference between rigid parts: kinematic tree, joint type, pivot, axis and limits.

What it does, from geometry alone:

1. **Kinematic tree.** Parts are nodes, edges are weighted by the closest distance between
   parts; the minimum spanning tree rooted at the part of largest convex-hull volume is the
   kinematic tree (the root is the base, as in PartNet-Mobility where the base link is the
   largest static body).
2. **Candidate joints** for each parent -> child edge, from the *contact region* (samples of
   each part within a small distance of the other):

   - axes of revolution symmetry of the child, then of the parent, passing near the contact
     (wheels, motor shafts, hinge barrels and pins);
   - the contact's principal axes: a line-like contact gives a hinge along the line; a flat,
     compact (disc-like) contact gives a rotation about its normal (robot flanges); a flat,
     elongated contact gives hinges along its four edges (doors, lids); a contact that is
     not flat (a part nested in another: drawers, sliders) gives slides along the child's
     principal axes.

3. **Sweep test** (:mod:`n4d4d.rigging.sweep`): each candidate's child is rotated or
   translated until it collides; the free range is the limit. Candidates are tried in the
   order above and the first with a useful free range wins (>= 20 degrees; a slide must be
   free for >= 25 % of the child's extent while rotations about the contact are blocked).
   A rotation free over the whole turn about a symmetry axis is ``continuous``. When nothing
   moves freely the joint is ``fixed``.

The axis sign is chosen so the larger free side is positive (``upper >= -lower``), and the
pivot is the point of the axis line nearest the contact centre.

What it does not: use learned priors, semantics (handles), or motion cues; pick between
geometrically equivalent hinges by anything but simple, documented tie-breaks (a door's or
lid's long edge; among those, the edge farther from the child's centroid offset, i.e. away
from a handle); or detect spherical, planar or screw joints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from n4d4d.rigging.geometry import PartGeometry, pca, revolution_axes, surface_pca
from n4d4d.rigging.sweep import SweepChecker, sweep_prismatic, sweep_revolute

MIN_REVOLUTE = np.deg2rad(20.0)  # a hinge that cannot open 20 degrees is not a useful joint
MIN_SLIDE = 0.25  # fraction of the child's extent a drawer must slide out
FULL_TURN_TOL = np.deg2rad(1.0)


@dataclass(frozen=True)
class InferredJoint:
    """A joint found between ``parent`` and ``child`` (names), asset frame at rest.

    ``origin (3,)`` m, ``axis (3,)`` unit, ``lower/upper`` rad or m, ``source`` the candidate
    kind that won (e.g. ``"child-symmetry"``, ``"contact-disc"``, ``"contact-edge"``, ``"slide"``).
    """

    parent: str
    child: str
    type: str
    origin: np.ndarray
    axis: np.ndarray
    lower: float
    upper: float
    source: str


def hull_volume(part: PartGeometry) -> float:
    """Convex-hull volume (m^3) of a part's vertices, 0 if degenerate."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        return float(ConvexHull(part.vertices).volume)
    except (QhullError, ValueError):
        return 0.0


def kinematic_tree(parts: list[PartGeometry], root: str | None = None) -> list[tuple[str, str]]:
    """Parent -> child edges ``[(parent, child), ...]`` in breadth-first order.

    Minimum spanning tree of the parts' closest-distance graph (distances from each part's
    samples to the other's exact surface), rooted at ``root`` or at the part of largest
    convex-hull volume.
    """
    import networkx as nx
    from scipy.spatial import cKDTree

    if len(parts) < 2:
        return []
    g = nx.Graph()
    trees = [cKDTree(p.points) for p in parts]
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            d = trees[j].query(parts[i].points, k=1)[0]
            near = parts[i].points[np.argsort(d)[:20]]
            dist = float(parts[j].distance(near).min())
            g.add_edge(parts[i].name, parts[j].name, weight=dist)
    mst = nx.minimum_spanning_tree(g)
    if root is None:
        root = max(parts, key=hull_volume).name
    return [(u, v) for u, v in nx.bfs_edges(mst, root)]


def _contact(child: PartGeometry, parent: PartGeometry):
    """Contact samples of both parts (m), and the contact distance used."""
    dc = parent.distance(child.points)
    dp = child.distance(parent.points)
    dmin = float(min(dc.min(), dp.min()))
    eps = dmin + 0.01 * min(child.diag, parent.diag)
    sel_c, sel_p = dc <= eps, dp <= eps
    if sel_c.sum() + sel_p.sum() < 8:
        sel_c = np.isin(np.arange(len(dc)), np.argsort(dc)[:16])
        sel_p = np.isin(np.arange(len(dp)), np.argsort(dp)[:16])
    pts = np.concatenate([child.points[sel_c], parent.points[sel_p]])
    nrm = np.concatenate([child.normals[sel_c], parent.normals[sel_p]])
    return pts, nrm, child.points[sel_c], eps


def refine_normal(normals: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Mean of the face normals ``(N, 3)`` within 25 degrees of +-``axis`` (sign-aligned):
    the exact normal of a flat contact, where the sample PCA is tilted by stray samples."""
    dots = normals @ axis
    keep = np.abs(dots) > np.cos(np.deg2rad(25.0))
    if keep.sum() < 3:
        return axis
    m = (normals[keep] * np.sign(dots[keep])[:, None]).sum(0)
    return m / np.linalg.norm(m)


def snap_to_cylinder(points: np.ndarray, origin: np.ndarray, axis: np.ndarray, max_radius: float):
    """Refine a hinge line to the axis of a cylindrical surface (a hinge barrel or pin).

    ``points (N, 3)`` (the child's contact samples) are projected on the plane normal to
    ``axis`` and fitted with a circle (algebraic least squares, Kasa 1976). The fit is used
    when its radius is below ``max_radius``, its RMS residual below 10 % of the radius and
    the points cover at least 60 degrees of arc; returns the new origin, or ``origin``.
    """
    a = axis / np.linalg.norm(axis)
    u = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(a, u)
    rel = points - origin
    x, y = rel @ u, rel @ v
    if len(x) < 8:
        return origin
    A = np.stack([x, y, np.ones_like(x)], 1)
    sol = np.linalg.lstsq(A, x * x + y * y, rcond=None)[0]
    cx, cy = sol[0] / 2, sol[1] / 2
    r2 = sol[2] + cx * cx + cy * cy
    if r2 <= 0:
        return origin
    r = np.sqrt(r2)
    resid = np.sqrt(np.mean((np.hypot(x - cx, y - cy) - r) ** 2))
    ang = np.sort(np.arctan2(y - cy, x - cx))
    gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * np.pi]))
    cover = 2 * np.pi - gaps.max()
    if r > max_radius or resid > 0.1 * r or cover < np.deg2rad(60.0):
        return origin
    return origin + cx * u + cy * v


def _pieces_near(part: PartGeometry, points: np.ndarray, eps: float, max_diag: float) -> list[PartGeometry]:
    """Connected components of ``part`` within ``eps`` of ``points`` and smaller than ``max_diag``."""
    import trimesh

    tm = trimesh.Trimesh(part.vertices, part.faces, process=False)
    tm.merge_vertices()
    comps = trimesh.graph.connected_components(tm.face_adjacency, nodes=np.arange(len(tm.faces)), min_len=1)
    if len(comps) < 2 or len(comps) > 200:
        return []
    out = []
    for k, c in enumerate(comps):
        c = np.asarray(c)
        v = part.vertices[np.unique(part.faces[c])]
        if len(c) < 8 or np.linalg.norm(np.ptp(v, 0)) > max_diag:
            continue
        g = PartGeometry(f"{part.name}#{k}", part.vertices, part.faces[c], n_samples=600, seed=part.seed)
        if float(g.distance(points).min()) <= eps:
            out.append(g)
    return out[:6]


def _line_near(point, axis, target, radius) -> bool:
    r = target - point
    return float(np.linalg.norm(r - (r @ axis) * axis)) <= radius


def _finish(parent, child, kind, origin, axis, lo, hi, source, centre):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    if -lo > hi:  # larger free side positive
        axis, lo, hi = -axis, -hi, -lo
    if kind != "prismatic":  # pivot: axis point nearest the contact centre
        origin = origin + ((centre - origin) @ axis) * axis
    if kind == "continuous":
        lo, hi = -np.inf, np.inf
    return InferredJoint(parent, child, kind, np.asarray(origin, float), axis, float(lo), float(hi), source)


def infer_joint(parent: PartGeometry, child: PartGeometry, *, deadline: float | None = None) -> InferredJoint:
    """Infer the joint moving ``child`` relative to ``parent`` (see the module docstring).

    Returns a fixed joint (origin at the contact centre, axis +Z) when no candidate moves
    freely or when ``deadline`` (``time.monotonic()`` seconds) has passed.
    """
    contact, cnormals, own, eps = _contact(child, parent)
    centre, lam, vecs = pca(contact)
    sd = np.sqrt(lam / max(lam[0], 1e-30))
    sub = child.points[:: max(1, len(child.points) // 700)]
    probes = np.concatenate([sub, child.interior_points()])
    checker = SweepChecker(probes, parent, delta=0.005 * min(child.diag, parent.diag))
    fixed = InferredJoint(parent.name, child.name, "fixed", centre, np.array([0.0, 0.0, 1.0]), 0.0, 0.0, "none")

    def late() -> bool:
        return deadline is not None and time.monotonic() > deadline

    # 1. symmetry axes of the child, then of the parent, then of the parent's pieces that touch
    # the contact (a motor housing or shaft the child is mounted on), through the contact region
    reach = 0.25 * child.diag + eps
    shapes = [("child-symmetry", child)]
    if parent.diag <= 3.0 * child.diag:  # a large parent's symmetry says little about a small child
        shapes.append(("parent-symmetry", parent))
    shapes += [("parent-piece-symmetry", g) for g in _pieces_near(parent, own, eps, 3.0 * child.diag)]
    for source, part in shapes:
        for point, axis, _ in revolution_axes(part):
            if late():
                return fixed
            if not _line_near(point, axis, centre, reach):
                continue
            lo, hi = sweep_revolute(checker, point, axis)
            if hi - lo >= 2 * np.pi - FULL_TURN_TOL:
                return _finish(parent.name, child.name, "continuous", point, axis, lo, hi, source, centre)
            if hi - lo >= MIN_REVOLUTE:
                return _finish(parent.name, child.name, "revolute", point, axis, lo, hi, source, centre)

    flat = sd[2] < 0.2
    candidates = []
    if sd[1] < 0.25:
        candidates.append(("contact-line", centre, vecs[:, 0]))
    tall = float(np.ptp(child.points @ vecs[:, 2])) >= 0.5 * 2.0 * np.sqrt(lam[0] * 3.0)
    if flat and sd[1] > 0.5 and tall:  # a column standing on a compact flange turns about its normal
        candidates.append(("contact-disc", centre, refine_normal(cnormals, vecs[:, 2])))
    if flat and sd[1] >= 0.25 and not tall:  # a panel (door, lid) hinges on an edge
        proj = (contact - centre) @ vecs
        off = child.points.mean(0) - centre
        edges = []
        for along, across in ((0, 1), (1, 0)):
            for sign in (1.0, -1.0):
                ext = proj[:, across].max() if sign > 0 else proj[:, across].min()
                away = -sign * (off @ vecs[:, across])  # larger when the edge is away from the centroid offset
                edges.append((along, away, centre + ext * vecs[:, across], vecs[:, along]))
        edges.sort(key=lambda e: (e[0], -e[1]))  # long edges first, then away from a handle
        candidates += [("contact-edge", p, a) for _, _, p, a in edges]
    candidates = [(src, snap_to_cylinder(own, p, a, 0.2 * child.diag) if src != "contact-disc" else p, a)
                  for src, p, a in candidates]

    best = None
    for source, point, axis in candidates:
        if late():
            return fixed
        lo, hi = sweep_revolute(checker, point, axis)
        if hi - lo >= 2 * np.pi - FULL_TURN_TOL:
            return _finish(parent.name, child.name, "continuous", point, axis, lo, hi, source, centre)
        if hi - lo >= MIN_REVOLUTE and (best is None or hi - lo > best[0] + np.deg2rad(10.0)):
            best = (hi - lo, source, point, axis, lo, hi)
        if best is not None and source != "contact-edge":
            break
    if best is not None:
        _, source, point, axis, lo, hi = best
        return _finish(parent.name, child.name, "revolute", point, axis, lo, hi, source, centre)

    # nested part: slide along the child's principal axes
    cmean, _, cvecs = surface_pca(child.vertices, child.faces)
    slides = []
    for k in range(3):
        if late():
            return fixed
        d = cvecs[:, k]
        extent = float(np.ptp(child.points @ d))
        lo, hi = sweep_prismatic(checker, d, extent)
        if max(hi, -lo) >= MIN_SLIDE * extent:
            slides.append((max(hi, -lo) / max(extent, 1e-12), d, lo, hi))
    if slides:
        _, d, lo, hi = max(slides, key=lambda s: s[0])
        return _finish(parent.name, child.name, "prismatic", cmean, d, lo, hi, "slide", centre)
    return fixed


def infer_joints(parts: list[PartGeometry], *, root: str | None = None,
                 deadline: float | None = None) -> list[InferredJoint]:
    """Joints of the kinematic tree of ``parts``: one :class:`InferredJoint` per tree edge
    (fixed where nothing moves or once ``deadline`` has passed)."""
    by_name = {p.name: p for p in parts}
    return [infer_joint(by_name[a], by_name[b], deadline=deadline) for a, b in kinematic_tree(parts, root)]
