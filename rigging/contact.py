"""Contact analysis between a child part and its parent: where they touch, the contact's shape,
and the candidate joint axes that shape suggests.

What it does: samples both parts densely (seeded), keeps the samples within a small distance
of the other part (the *contact region*, both sides), and describes it in a frame:

- principal axes of the contact samples (PCA) and their spreads: a *flat* contact (a face
  resting on a face, a rim under a lid) has a small third spread, a *line* contact (a hinge
  barrel, an edge) a small second one;
- for a flat contact, its normal refined from the samples' face normals, and in-plane axes
  ``u`` (long) and ``v``, both snapped to the child's own principal axes when within 12
  degrees (a door's edges are its principal axes; PCA of a contact ring is tilted by stray
  samples: the PartNet-Mobility mini fridge's door edge came out 8 degrees off);
- robust extents (2nd to 98th percentile) of the contact and of the child along ``u`` and
  ``v``, and the offset of the child's area centroid from the contact centre.

From these it orders candidate hinges (:func:`plane_candidates`), following the kinematic
pairs of mechanism theory (Reuleaux's lower pairs): a panel resting on a rim that spans much
of it (door, lid), or a part touching along most of its length, turns about one of the
contact's edges, first the edge on the far side of the child's centroid (a lid's back edge,
the side of a door away from its handle), then long edges before short ones; any other pair
of touching faces is a pin joint's bearing (scissor blades, linkage bars side by side, a
column on a flange) and turns about the face normal (:attr:`Contact.edge_first`).

What it does not: decide anything by motion; the sweep test (:mod:`n4d4d.rigging.sweep`) and
the selection in :mod:`n4d4d.rigging.joints` do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from n4d4d.rigging.geometry import PartGeometry, pca, sample_surface, surface_pca

DENSE_SAMPLES = 12000  # per part for contact detection: ~1 % of a part's size between samples
SNAP_DEG = 12.0  # contact axes within this angle of a child principal axis take that axis
PIN_RATIO = 0.5  # a rim spans at least half of the panel resting on it one way
PANEL_RATIO = 0.8  # a panel is thinner than 80 % of its width (sampled extents wobble ~5 %)


@dataclass(frozen=True)
class Contact:
    """The contact region between ``child`` and ``parent`` (asset frame, m).

    Attributes:
        points: ``(N, 3)`` contact samples of both parts; ``normals`` their face normals.
        own: ``(M, 3)`` the child's contact samples.
        eps: distance (m) under which a sample counts as touching.
        centre: ``(3,)`` mean of ``points``.
        spread: ``(3,)`` standard deviations along the principal axes, relative to the first.
        axes: ``(3, 3)`` principal axes as columns, widest first.
        normal, u, v: ``(3,)`` unit contact frame (``u`` the long in-plane axis, ``v = normal x u``).
        ext: ``(2,)`` contact extents along ``u``, ``v``; ``child_ext`` the child's.
        offset: ``(3,)`` child's area centroid minus ``centre`` (m), asset frame.
        thickness: the child's extent along ``normal`` (m).
        gap: the closest approach of the two parts' samples (m; 0 when they touch).
    """

    points: np.ndarray
    normals: np.ndarray
    own: np.ndarray
    eps: float
    centre: np.ndarray
    spread: np.ndarray
    axes: np.ndarray
    normal: np.ndarray
    u: np.ndarray
    v: np.ndarray
    ext: np.ndarray
    child_ext: np.ndarray
    offset: np.ndarray
    thickness: float
    gap: float = 0.0

    @property
    def flat(self) -> bool:
        """Third principal spread under 20 % of the first."""
        return bool(self.spread[2] < 0.2)

    @property
    def line(self) -> bool:
        """Second principal spread under 25 % of the first."""
        return bool(self.spread[1] < 0.25)

    @property
    def edge_first(self) -> bool:
        """Whether the child turns about an edge of the contact rather than its normal.

        True for a contact running along at least ``PIN_RATIO`` of the child's length (a
        magazine under its stapler lid), and for a panel (along ``normal`` under
        ``PANEL_RATIO`` of its narrower extent across: a square bar is not one) whose contact
        spans at least ``PIN_RATIO`` of it both ways (a door on its frame, a lid on its rim),
        or one way with the child's centroid beyond the contact the other way (a lid on its
        hinge block). False for a child deeper along ``normal`` than across (a column on a
        flange) and for any other bearing patch (scissor blades crossing at their pin,
        linkage bars side by side): those turn about the normal.
        """
        ce = np.maximum(self.child_ext, 1e-12)
        if self.thickness >= ce.max():
            return False
        if self.ext.max() >= PIN_RATIO * ce.max():
            return True
        if self.thickness >= PANEL_RATIO * float(ce.min()):
            return False
        spans = self.ext >= PIN_RATIO * ce
        off = np.abs([self.offset @ self.u, self.offset @ self.v])
        beyond = off > 0.5 * self.ext
        return bool(spans.all() or (spans[0] and beyond[1]) or (spans[1] and beyond[0]))


def _extent(x: np.ndarray) -> float:
    return float(np.quantile(x, 0.98) - np.quantile(x, 0.02)) if len(x) else 0.0


def _snap(axis: np.ndarray, basis: np.ndarray, deg: float = SNAP_DEG) -> np.ndarray:
    """``axis`` replaced by the (sign-matched) column of ``basis`` within ``deg`` of it."""
    dots = basis.T @ axis
    k = int(np.argmax(np.abs(dots)))
    if abs(dots[k]) >= np.cos(np.deg2rad(deg)):
        return basis[:, k] * np.sign(dots[k])
    return axis


def refine_normal(normals: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Mean of the face normals ``(N, 3)`` within 25 degrees of +-``axis`` (sign-aligned):
    the exact normal of a flat contact, where the sample PCA is tilted by stray samples."""
    dots = normals @ axis
    keep = np.abs(dots) > np.cos(np.deg2rad(25.0))
    if keep.sum() < 3:
        return axis
    m = (normals[keep] * np.sign(dots[keep])[:, None]).sum(0)
    return m / np.linalg.norm(m)


def analyse_contact(child: PartGeometry, parent: PartGeometry, *, seed: int = 0) -> Contact:
    """Contact region of ``child`` against ``parent`` and its frame (see module docstring).

    Samples within ``eps = d_min + 1 %`` of the smaller part's diagonal of the other part
    touch (``d_min`` the closest approach, so parts a little apart still have a contact).
    """
    pc, nc = sample_surface(child.vertices, child.faces, DENSE_SAMPLES, seed + 11)
    pp, npar = sample_surface(parent.vertices, parent.faces, DENSE_SAMPLES, seed + 12)
    dc, dp = parent.distance(pc), child.distance(pp)
    dmin = float(min(dc.min(), dp.min()))
    eps = dmin + 0.01 * min(child.diag, parent.diag)
    sel_c, sel_p = dc <= eps, dp <= eps
    if sel_c.sum() + sel_p.sum() < 8:
        sel_c = np.isin(np.arange(len(dc)), np.argsort(dc)[:16])
        sel_p = np.isin(np.arange(len(dp)), np.argsort(dp)[:16])
    pts = np.concatenate([pc[sel_c], pp[sel_p]])
    nrm = np.concatenate([nc[sel_c], npar[sel_p]])
    centre, lam, vecs = pca(pts)
    spread = np.sqrt(lam / max(lam[0], 1e-30))
    cmean, _, cvecs = surface_pca(child.vertices, child.faces)
    n = _snap(refine_normal(nrm, vecs[:, 2]), cvecs)
    u = vecs[:, 0] - (vecs[:, 0] @ n) * n
    u = u / max(np.linalg.norm(u), 1e-12)
    inplane = [p / np.linalg.norm(p) for p in (cvecs - np.outer(n, n @ cvecs)).T if np.linalg.norm(p) > 0.5]
    if inplane:  # the child's axes in the contact plane, and their perpendiculars there
        u = _snap(u, np.stack(inplane + [np.cross(n, p) for p in inplane], 1))
    v = np.cross(n, u)
    ext = np.array([_extent(pts @ u), _extent(pts @ v)])
    child_ext = np.array([_extent(child.points @ u), _extent(child.points @ v)])
    if ext[1] > ext[0]:  # keep u the long axis after snapping
        u, v, ext, child_ext = v, -u, ext[::-1].copy(), child_ext[::-1].copy()
        v = np.cross(n, u)
    off = cmean - centre
    return Contact(pts, nrm, pc[sel_c], eps, centre, spread, vecs, n, u, v, ext, child_ext, off,
                   _extent(child.points @ n), dmin)


def contact_symmetry_axes(c: Contact, tol: float = 0.06) -> list[tuple[np.ndarray, np.ndarray]]:
    """Axes ``[(point (3,), axis (3,)), ...]`` about which the contact region itself is (nearly)
    rotationally symmetric: a bearing ring or disc (a robot flange), a cylindrical bearing
    surface (a housing nested in a housing). Each principal axis of the contact samples,
    through their centre, is tested: the samples rotated by 50, 90 and 137 degrees must land
    within ``tol`` x their RMS distance from the axis of the nearest unrotated sample, and that
    distance must be at least a quarter of the contact's extent (a line or a speck is no ring).
    """
    from scipy.spatial import cKDTree

    from n4d4d.rigging.geometry import rotate_about

    pts = c.points[:: max(1, len(c.points) // 1500)]
    if len(pts) < 30:
        return []
    tree = cKDTree(pts)
    out = []
    for k in range(3):
        a = c.axes[:, k]
        rel = pts - c.centre
        radial = float(np.sqrt(np.mean(np.sum(rel * rel, 1) - (rel @ a) ** 2)))
        if radial < 0.25 * float(np.ptp(pts @ c.axes[:, 0])):
            continue
        res = max(float(tree.query(rotate_about(pts, c.centre, a, np.deg2rad(d)))[0].mean())
                  for d in (50.0, 90.0, 137.0))
        if res <= tol * radial:
            out.append((c.centre, a))
    return out


def plane_candidates(c: Contact) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Ordered hinge candidates ``[(source, point (3,), axis (3,)), ...]`` of a contact.

    A *flat* contact gives its normal through the centre (``"contact-normal"``) and its four
    edges (``"contact-edge"``: the lines along ``u`` or ``v`` through the extreme contact
    samples across them). When :attr:`Contact.edge_first` the edges come first, ordered by how far each lies on the opposite side of the child's centroid
    (normalised by the contact's half-extent), long edges winning ties by 0.1, and the
    normal last; any other flat contact tries the normal first. A *line* contact adds the line itself (``"contact-line"``) in front.
    A contact that is neither flat nor a line gives the line through its widest axis and
    the axis about which the child swings in the plane of that line and its centroid.
    """
    out = []
    if c.line:
        out.append(("contact-line", c.centre, c.axes[:, 0]))
    if not c.flat:
        a = c.axes[:, 0]
        b = np.cross(a, c.offset if np.linalg.norm(c.offset) > 1e-12 else c.axes[:, 1])
        if np.linalg.norm(b) > 1e-12:  # refined by the face normals along it (facing sides)
            out.insert(0, ("contact-swing", c.centre, refine_normal(c.normals, b / np.linalg.norm(b))))
        if not c.line:
            out.append(("contact-line", c.centre, a))
        return out
    proj = np.stack([(c.points - c.centre) @ c.u, (c.points - c.centre) @ c.v], 1)
    half = np.maximum(0.5 * c.ext, 1e-12)
    offset = np.array([c.offset @ c.u, c.offset @ c.v])
    edges = []
    for along, across, direc in ((0, 1, c.v), (1, 0, c.u)):
        for sign in (1.0, -1.0):
            ext = np.quantile(proj[:, across], 0.99 if sign > 0 else 0.01)
            away = -sign * offset[across] / half[across]
            score = away + (0.1 if along == 0 else 0.0)
            edges.append((score, c.centre + ext * direc, c.u if along == 0 else c.v))
    edges.sort(key=lambda e: -e[0])
    normal = ("contact-normal", c.centre, c.normal)
    plane = [("contact-edge", p, a) for _, p, a in edges]
    return out + (plane + [normal] if c.edge_first else [normal] + plane)
