"""Joint inference between rigid parts: kinematic tree, joint type, pivot, axis and limits.

What it does, from geometry alone:

1. **Kinematic tree** (:func:`kinematic_tree`): minimum spanning tree of the parts' contact
   graph (closest distance, discounted where one part is mounted inside the other or rests
   on it over a wide patch), rooted at the part of largest convex-hull volume (the base, as
   in PartNet-Mobility where the base link is the largest static body).
2. **Candidate joints** for each parent -> child edge, in this order:

   - axes of revolution through the contact (:func:`~n4d4d.rigging.geometry.revolution_axes`):
     of the child's pieces that carry the contact (a motor disc with a bracket on it), of
     the child, of the parent when not much larger, of the parent's pieces at the contact
     (a shaft or pin); a ball-like part turns about its seat's normal; then the axes of
     symmetry of the contact region itself (a flange ring, a cylindrical bearing);
   - a slide out along the contact normal for a child deeper than wide and mostly inside
     the parent's convex hull (a drawer);
   - hinges from the contact region's shape (:mod:`n4d4d.rigging.contact`): a line contact's
     line, a panel's rim edges, a pin's bearing normal, a bar's swing axis; edge and line
     candidates snap to a fitted cylinder (a hinge barrel) where there is one;
   - slides along the child's principal axes (a part nested in another).

3. **Sweep test** (:mod:`n4d4d.rigging.sweep`): each candidate's child is rotated or
   translated until it collides with the parent; the free range is the limit. The first
   candidate whose free range is useful wins: a rotation of at least 45 degrees (less is
   the wobble of a part in its clearance), free over the whole turn it is ``continuous``; a
   slide of at least 25 % of the child's extent. When nothing moves the joint is ``fixed``.

The axis sign is chosen so the larger free side is positive (``upper >= -lower``), and the
pivot is the point of the axis line nearest the contact centre.

What it does not: use learned priors, semantics (handles), or motion cues; test the child
against parts other than its parent; or detect spherical, planar or screw joints. Where the
geometry allows several motions (a pole that could turn or slide, a finger that could turn
about the pole's axis or across it), the order above decides.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import numpy as np

from n4d4d.rigging.contact import Contact, analyse_contact, contact_symmetry_axes, plane_candidates
from n4d4d.rigging.geometry import PartGeometry, mesh_components, revolution_axes, surface_pca
from n4d4d.rigging.sweep import SweepChecker, sweep_prismatic, sweep_revolute

MIN_REVOLUTE = np.deg2rad(45.0)  # less is clearance wobble (a magazine in its stapler lid), not a hinge
MIN_SLIDE = 0.25  # fraction of the child's extent a drawer must slide out
FULL_TURN_TOL = np.deg2rad(1.0)
PROBE_GRID = 48  # cells along the child's diagonal for its interior probes
log = logging.getLogger(__name__)


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

    Minimum spanning tree of the parts' graph weighted by ``gap / D + 0.05 (1 - bond)``:
    ``gap`` the closest distance between the two parts (exact distances from each part's
    samples to the other's surface), ``D`` the largest part diagonal, and ``bond`` (0..1) the
    fraction of the smaller part's samples touching the other (within 1 % of its diagonal)
    plus the fraction inside it. Among parts that touch, a part mounted inside
    another (a steering knuckle in a wheel hub) or resting on it over a wide patch (a lid on
    its base, rather than a magazine grazing it) is linked first. Rooted at ``root`` or at
    the part of largest convex-hull volume.
    """
    import networkx as nx

    if len(parts) < 2:
        return []
    g = nx.Graph()
    D = max(p.diag for p in parts)
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            a, b = parts[i], parts[j]
            da, db = b.distance(a.points), a.distance(b.points)
            gap = float(min(da.min(), db.min()))
            small, d_small, large = (a, da, b) if a.area <= b.area else (b, db, a)
            bond = float((d_small <= 0.01 * small.diag).mean())
            if gap <= 0.05 * D:
                bond += float(large.inside(small.points).mean())
            g.add_edge(a.name, b.name, weight=gap / D + 0.05 * (1.0 - min(bond, 1.0)))
    mst = nx.minimum_spanning_tree(g)
    if root is None:
        root = max(parts, key=hull_volume).name
    return [(u, v) for u, v in nx.bfs_edges(mst, root)]


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


def pieces_near(part: PartGeometry, points: np.ndarray, eps: float, max_diag: float) -> list[PartGeometry]:
    """Pieces (:func:`~n4d4d.rigging.geometry.mesh_components`) of ``part`` with at least 8
    triangles, a diagonal under ``max_diag`` (m), and within ``eps`` (m) of ``points (N, 3)``;
    the 6 nearest, none when the part is one piece or more than 200."""
    comps = mesh_components(part.vertices, part.faces)
    if len(comps) < 2 or len(comps) > 200:
        return []
    out = []
    for k, c in enumerate(comps):
        v = part.vertices[np.unique(part.faces[c])]
        if len(c) < 8 or np.linalg.norm(np.ptp(v, 0)) > max_diag:
            continue
        g = PartGeometry(f"{part.name}#{k}", part.vertices, part.faces[c], n_samples=600, seed=part.seed)
        d = float(g.distance(points).min())
        if d <= eps:
            out.append((d, k, g))
    return [g for _, _, g in sorted(out, key=lambda t: t[:2])[:6]]


def nested_fraction(child: PartGeometry, parent: PartGeometry) -> float:
    """Fraction of the child's surface samples inside the parent's convex hull (0 when the
    hull is degenerate): a drawer sits inside its cabinet's hull, a door or lid outside."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(parent.vertices)
    except (QhullError, ValueError):
        return 0.0
    tol = 1e-3 * parent.diag
    return float(np.all(child.points @ hull.equations[:, :3].T + hull.equations[:, 3] <= tol, axis=1).mean())


def _extent(x: np.ndarray) -> float:
    return float(np.ptp(x)) if len(x) else 0.0


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


def _symmetry_candidates(parent: PartGeometry, child: PartGeometry, c: Contact):
    """Axes of revolution through the contact: the child's pieces' at the contact (the
    bearing surface: a motor disc carrying a bracket, a ball head carrying an eye), the
    child's, the parent's when it is not much larger, and
    the parent's pieces' at the contact (a shaft or housing the child is mounted on). A part
    symmetric about two or more axes (a ball) gives the contact normal through its centre."""
    reach = 0.5 * child.diag + c.eps  # the axis passes within the child (a disc touching at its rim)
    shapes = [("child-piece-symmetry", g, 0.5 * g.diag + c.eps)
              for g in pieces_near(child, c.points, c.eps, child.diag)]
    shapes.append(("child-symmetry", child, reach))
    if parent.diag <= 3.0 * child.diag:  # a large parent's symmetry says little about a small child
        shapes.append(("parent-symmetry", parent, reach))
    shapes += [("parent-piece-symmetry", g, 0.5 * g.diag + c.eps)
               for g in pieces_near(parent, c.own, c.eps, 3.0 * child.diag)]
    for source, part, radius in shapes:
        axes = revolution_axes(part)
        if len(axes) >= 2:  # a ball turns about any axis: take the normal of its seat
            axes = [(axes[0][0], c.normal, 0.0)]
        for point, axis, _ in axes:
            if _line_near(point, axis, c.centre, radius):
                yield source, point, axis


def infer_joint(parent: PartGeometry, child: PartGeometry, *, deadline: float | None = None) -> InferredJoint:
    """Infer the joint moving ``child`` relative to ``parent`` (see the module docstring).

    Returns a fixed joint (origin at the contact centre, axis +Z) when no candidate moves
    freely or when ``deadline`` (``time.monotonic()`` seconds) has passed.
    """
    c = analyse_contact(child, parent, seed=child.seed)
    centre = c.centre
    sub = child.points[:: max(1, len(child.points) // 700)]
    probes = np.concatenate([sub, child.grid(PROBE_GRID).interior_points(700, child.seed + 1)])
    checker = SweepChecker(probes, parent, delta=0.005 * min(child.diag, parent.diag))
    fixed = InferredJoint(parent.name, child.name, "fixed", centre, np.array([0.0, 0.0, 1.0]), 0.0, 0.0, "none")

    def late() -> bool:
        return deadline is not None and time.monotonic() > deadline

    def snap(source, point, axis):
        if source in ("contact-line", "contact-edge"):  # a hinge barrel or pin: its axis
            point = snap_to_cylinder(c.own, point, axis, 0.2 * child.diag)
        return source, point, axis

    deep = c.thickness >= float(c.child_ext.max())  # deeper than wide: a drawer, not a door
    nested_slide = c.flat and deep and nested_fraction(child, parent) >= 0.5
    candidates = itertools.chain(_symmetry_candidates(parent, child, c),
                                 (("contact-symmetry", p, a) for p, a in contact_symmetry_axes(c)),
                                 [("nested-slide", None, c.normal)] if nested_slide else [],
                                 (snap(*k) for k in plane_candidates(c)))
    for source, point, axis in candidates:
        if late():
            return fixed
        if source == "nested-slide":  # a drawer: deep, inside the parent, out along its front's normal
            extent = _extent(child.points @ axis)
            lo, hi = sweep_prismatic(checker, axis, extent)
            log.debug("%s nested slide %s [%.3f, %.3f] m of %.3f", child.name, axis, lo, hi, extent)
            if max(hi, -lo) >= MIN_SLIDE * extent:
                return _finish(parent.name, child.name, "prismatic", centre, axis, lo, hi, source, centre)
            continue
        lo, hi = sweep_revolute(checker, point, axis)
        log.debug("%s %s %s %s [%.1f, %.1f] deg", child.name, source, point, axis, np.degrees(lo), np.degrees(hi))
        if hi - lo >= 2 * np.pi - FULL_TURN_TOL:
            return _finish(parent.name, child.name, "continuous", point, axis, lo, hi, source, centre)
        if hi - lo >= MIN_REVOLUTE:
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
        log.debug("%s slide %s [%.3f, %.3f] m of %.3f", child.name, d, lo, hi, extent)
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
