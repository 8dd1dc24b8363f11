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
  samples: the PartNet-Mobility mini fridge's door edge came out 8 degrees off), or, for a
  contact nearly as wide as long with no principal axis near, to the edges of the child's
  minimum-area outline rectangle (a square cabinet door came out 37 degrees off);
- robust extents (2nd to 98th percentile) of the contact and of the child along ``u`` and
  ``v``, and the offset of the child's area centroid from the contact centre.

From these it orders candidate hinges (:func:`plane_candidates`), following the kinematic
pairs of mechanism theory (Reuleaux's lower pairs): a panel resting on a rim that spans much
of it (door, lid), or a part touching along most of its length, turns about one of the
contact's edges in the order of :func:`edge_score`: the edge on the far side of the
child's centroid (a lid's back edge) and of what stands out of its face (a door's handle is
at its free edge), a vertical or the bottom edge of an upright front (Z up), the edge the
parent does not reach past (the body's outer edge), not an edge where a sibling meets the
child (the leaves of a double door), long edges before short ones; any other pair
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
ISOTROPIC = 0.8  # a contact whose second spread is this fraction of its first has no long axis


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
        out: ``(3,)`` ``normal`` signed to point from the parent to the child.
        handle: ``(2,)`` in-plane offset (along ``u``, ``v``, m) of what stands out of the
            child's outer face (a handle, a knob on a door) from the centre of the child's
            outline; zeros when nothing does, or when it is spread over the whole part.
        child_box: ``(2, 2)`` the child's outline ``[[u_min, u_max], [v_min, v_max]]`` (m,
            relative to ``centre``, 1st-99th percentile); ``parent_box`` the parent's extent
            in the contact's plane (a slab about it) along ``u`` within the child's ``v``
            range and along ``v`` within its ``u`` range.
        abut: ``(2, 2) bool`` whether a sibling part (one touching the child other than
            its parent) lies in the contact's plane just past each side of the child's
            outline (``[[u_min, u_max], [v_min, v_max]]``): two doors meeting there.
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
    out: np.ndarray | None = None
    handle: np.ndarray | None = None
    child_box: np.ndarray | None = None
    parent_box: np.ndarray | None = None
    abut: np.ndarray | None = None

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


def analyse_contact(child: PartGeometry, parent: PartGeometry, *, seed: int = 0,
                    siblings: tuple = ()) -> Contact:
    """Contact region of ``child`` against ``parent`` and its frame (see module docstring).

    Samples within ``eps = d_min + 1 %`` of the smaller part's diagonal of the other part
    touch (``d_min`` the closest approach, so parts a little apart still have a contact).
    ``siblings``: other parts touching the child (not its parent, nor what it carries), for
    :attr:`Contact.abut` (a door beside a door).
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
        snapped = _snap(u, np.stack(inplane + [np.cross(n, p) for p in inplane], 1))
        # no principal axis near, and a contact nearly as wide as long (a square door on its
        # frame, second spread over 80 % of the first): its PCA frame is arbitrary, the edges
        # of the child's outline are the door's own
        u = snapped if snapped is not u or spread[1] < ISOTROPIC else _outline_axis(child.points, n, u)
    v = np.cross(n, u)
    ext = np.array([_extent(pts @ u), _extent(pts @ v)])
    child_ext = np.array([_extent(child.points @ u), _extent(child.points @ v)])
    if ext[1] > ext[0]:  # keep u the long axis after snapping
        u, v, ext, child_ext = v, -u, ext[::-1].copy(), child_ext[::-1].copy()
        v = np.cross(n, u)
    off = cmean - centre
    side = float((cmean - centre) @ n)
    if abs(side) < 1e-12 * max(child.diag, 1e-12):
        side = -float(np.mean((parent.points - centre) @ n))
    out = n * (1.0 if side >= 0 else -1.0)
    thickness = _extent(child.points @ n)
    child_box, parent_box, handle = _outlines(child, parent, centre, out, u, v, thickness)
    abut = _abutting(child_box, siblings, centre, out, u, v, max(0.5 * thickness, 0.02 * child.diag))
    return Contact(pts, nrm, pc[sel_c], eps, centre, spread, vecs, n, u, v, ext, child_ext, off,
                   thickness, dmin, out, handle, child_box, parent_box, abut)


def _abutting(child_box, siblings, centre, out, u, v, slab: float) -> np.ndarray:
    """``(2, 2) bool`` :attr:`Contact.abut`: for each side of the child's outline, whether a
    sibling's samples lie in the contact's plane (within ``slab`` m of it) just past that
    side (within 15 % of the child's width, along the middle 80 % of the side)."""
    abut = np.zeros((2, 2), bool)
    width = child_box[:, 1] - child_box[:, 0]
    for sib in siblings:
        q = sib.points - centre
        near = np.abs(q @ out) <= slab
        pu, pv = q @ u, q @ v
        for k, (along, other) in enumerate(((pu, pv), (pv, pu))):
            box, obox = child_box[k], child_box[1 - k]
            band = near & (other >= obox[0] + 0.1 * width[1 - k]) & (other <= obox[1] - 0.1 * width[1 - k])
            gap = 0.15 * width[k]
            abut[k, 0] |= bool(np.any(band & (along < box[0]) & (along >= box[0] - gap)))
            abut[k, 1] |= bool(np.any(band & (along > box[1]) & (along <= box[1] + gap)))
    return abut


def _outline_axis(points: np.ndarray, n: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The edge direction of the minimum-area rectangle about ``points (N, 3)`` projected on
    the plane normal to ``n`` (rotating calipers over the outline's convex hull edges)
    nearest to ``u``; ``u`` when the outline is degenerate."""
    from scipy.spatial import ConvexHull, QhullError

    w = np.cross(n, u)
    xy = np.stack([points @ u, points @ w], 1)
    try:
        hull = xy[ConvexHull(xy).vertices]
    except (QhullError, ValueError):
        return u
    e = np.roll(hull, -1, axis=0) - hull
    ang = np.arctan2(e[:, 1], e[:, 0]) % (np.pi / 2)
    c, s = np.cos(ang), np.sin(ang)
    a, b = hull @ np.stack([c, s]), hull @ np.stack([-s, c])  # (H points, H angles)
    area = np.ptp(a, axis=0) * np.ptp(b, axis=0)
    t = float(ang[int(np.argmin(area))])
    t = t if t <= np.pi / 4 else t - np.pi / 2  # of the rectangle's two directions, the one nearer u
    out = np.cos(t) * u + np.sin(t) * w
    return out / np.linalg.norm(out)


def _outlines(child: PartGeometry, parent: PartGeometry, centre, out, u, v, thickness):
    """``(child_box, parent_box, handle)`` of :class:`Contact` (see its attributes).

    What stands out: the child's samples more than a quarter of its thickness (and 2 % of its
    diagonal) above the level three quarters of its samples lie under along ``out`` (a plain
    panel has half its area on its outer face), kept when they are between 0.3 % and 25 % of
    the samples (a knob or handle, not a curved shell)."""
    pc, pp = child.points - centre, parent.points - centre
    cu, cv = pc @ u, pc @ v
    child_box = np.array([np.quantile(cu, [0.01, 0.99]), np.quantile(cv, [0.01, 0.99])])
    h = pc @ out
    slab = np.abs(pp @ out) <= max(0.5 * thickness, 0.02 * child.diag)
    pu, pv = pp @ u, pp @ v
    parent_box = np.zeros((2, 2))
    for k, (along, other, box) in enumerate(((pu, pv, child_box[1]), (pv, pu, child_box[0]))):
        pad = 0.1 * (box[1] - box[0])
        band = slab & (other >= box[0] + pad) & (other <= box[1] - pad)
        parent_box[k] = [along[band].min(), along[band].max()] if band.any() else child_box[k]
    lo, face, hi = np.quantile(h, [0.02, 0.75, 0.98])
    stand = h > face + max(0.25 * (hi - lo), 0.02 * child.diag)
    handle = np.zeros(2)
    if 0.003 * len(h) <= stand.sum() <= 0.25 * len(h):
        mid = child_box.mean(1)
        handle = np.array([cu[stand].mean(), cv[stand].mean()]) - mid
    return child_box, parent_box, handle


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


UPRIGHT = np.cos(np.deg2rad(60.0))  # a contact normal this far from vertical is an upright front
SIDE_HINGE = 0.3  # an upright front turns about a vertical edge (a door) ...
BOTTOM_HINGE = 0.15  # ... or its bottom edge (a drop-down door), not its top (it would fall shut)
SIBLING = 1.0  # the edge where a door meets a sibling in its plane is more often its free edge


def edge_score(c: Contact, along: int, across: int, sign: float, ext: float) -> float:
    """How likely the contact edge along ``c.u`` (``along`` 0) or ``c.v`` (1), on the
    ``sign`` side of the centre at ``ext`` (m, along the other axis ``across``), is the hinge.

    The sum of: how far it lies on the far side of the child's centroid from the contact
    centre (normalised by the contact's half-extent; a third of it when the contact covers
    the child both ways, a door on its frame, whose contact centre is the door's own), the
    side of what stands out of the child's face (:attr:`Contact.handle`: up to 1 as it lies
    from half to 70 % of the child's half-width off its centre; a handle is mounted at the
    free edge, away from the hinge, not in the middle of a panel), 0.1 for a long edge, for an
    upright front (normal more than 60 degrees from +Z, the asset frame's up)
    :data:`SIDE_HINGE` for a vertical edge and :data:`BOTTOM_HINGE` for the bottom one, and
    up to 0.1 when the parent does not reach past the edge in the contact's plane (the door's
    hinge edge is the body's outer edge; a control panel lies beside the door's free edge);
    :data:`SIBLING` off an edge where another part meets the child in its plane
    (:attr:`Contact.abut`: the leaves of a double door meet at their free edges; a drawer
    under a door meets its bottom edge), and, for an upright front, added to the vertical
    edge opposite one (a double door's leaves hinge on their outer edges). It is half a
    cue (a row of doors hinged alike has one hinge on each meeting line): the sweep still decides.
    """
    half = np.maximum(0.5 * c.ext, 1e-12)
    offset = np.array([c.offset @ c.u, c.offset @ c.v])
    covered = bool(np.all(c.ext >= 0.8 * c.child_ext))
    score = -sign * offset[across] / half[across] * (1.0 / 3.0 if covered else 1.0)
    score += 0.1 if along == 0 else 0.0
    if c.child_box is None:
        return float(score)
    width = max(float(c.child_box[across, 1] - c.child_box[across, 0]), 1e-12)
    r = float(c.handle[across]) / (0.5 * width)  # a handle is mounted at the free edge, for leverage:
    score += -sign * np.sign(r) * float(np.clip((abs(r) - 0.5) / 0.2, 0.0, 1.0))  # counts from the outer quarter
    axis = c.u if along == 0 else c.v
    direc = c.v if along == 0 else c.u
    if abs(float(c.normal[2])) < UPRIGHT:
        if abs(float(axis[2])) > np.cos(np.deg2rad(20.0)):
            score += SIDE_HINGE
        elif abs(float(axis[2])) < np.sin(np.deg2rad(20.0)) and sign * float(direc[2]) < 0:
            score += BOTTOM_HINGE
    if c.abut is not None and c.abut[across, int(sign > 0)]:  # where two doors meet is free
        score -= SIBLING
    if (c.abut is not None and c.abut[across, int(sign < 0)] and abs(float(c.normal[2])) < UPRIGHT
            and abs(float(axis[2])) > np.cos(np.deg2rad(20.0))):  # double doors hinge on their outer edges
        score += SIBLING
    beyond = (c.parent_box[across, 1] - ext) if sign > 0 else (ext - c.parent_box[across, 0])
    return float(score + 0.1 * np.clip((0.2 - beyond / width) / 0.15, 0.0, 1.0))  # 1 under 5 %, 0 over 20 %


def plane_candidates(c: Contact) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Ordered hinge candidates ``[(source, point (3,), axis (3,)), ...]`` of a contact.

    A *flat* contact gives its normal through the centre (``"contact-normal"``) and its four
    edges (``"contact-edge"``: the lines along ``u`` or ``v`` through the extreme contact
    samples across them). When :attr:`Contact.edge_first` the edges come first, ordered by
    :func:`edge_score`, and the normal last; any other flat contact tries the normal first. A *line* contact adds the line itself (``"contact-line"``) in front.
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
    edges = []
    for along, across, direc in ((0, 1, c.v), (1, 0, c.u)):
        for sign in (1.0, -1.0):
            ext = np.quantile(proj[:, across], 0.99 if sign > 0 else 0.01)
            axis = c.u if along == 0 else c.v
            edges.append((edge_score(c, along, across, sign, ext), c.centre + ext * direc, axis))
    edges.sort(key=lambda e: -e[0])
    normal = ("contact-normal", c.centre, c.normal)
    plane = [("contact-edge", p, a) for _, p, a in edges]
    return out + (plane + [normal] if c.edge_first else [normal] + plane)
