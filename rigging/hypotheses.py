"""Joint hypotheses for one parent -> child pair, each with a geometric prior: which motions the
pair's shape suggests, before any sweep.

What it does: describes the pair (:class:`PairShape`: the child's principal extents and thin
axis, its size relative to its parent and to the whole object, how its centroid sits over the
contact, whether it is nested in the parent's hull, its axes of revolution) and lists
:class:`Candidate` motions with a prior in [0, 1], following the kinematic pairs of mechanism
theory (Reuleaux's lower pairs) and how manufactured objects use them:

- **press** (a key, a button): a small part on or inset into a larger one, flat along the
  contact normal, its centroid over the contact: prismatic along the inset normal (into the
  parent), short travel;
- **knob** (a dial, a wheel, a lens ring): a part that is a solid of revolution about an axis
  through the contact along its normal turns about it (continuous when a full turn is free);
  small round parts are presses unless they are at least :data:`KNOB_REL` of the object's
  diagonal (round buttons are small, dials and wheels are grasped);
- **hinge** (a door, a lid, a temple, a screen): a thin part (thinnest extent under ~40 % of
  its largest) that is not small turns about a line in the contact perpendicular to its
  thin axis: an *end* hinge (the part touches at one end: the axis is the contact normal x
  thin axis, through either face of the end), or a *rim* hinge (a panel over or in a rim:
  the contact's edges in the order of :func:`~n4d4d.rigging.contact.edge_score`: away from
  the centroid and from a handle, a vertical or bottom edge of an upright front, the body's
  outer edge, long edges first; edges along the first one ahead of those across it);
  a line contact (a hinge barrel or pin, snapped to a fitted cylinder) is a hinge too;
- **pin** (scissors, pliers, folding blades): two elongated thin parts face on face over a
  patch much smaller than either turn about the patch normal; a ring or disc contact (a
  robot flange) turns about its symmetry axis;
- **bearing** (a robot link on a motor, a wheel on a hub): an axis of revolution of the
  child, of its pieces at the contact, or of the parent's pieces there, through the contact;
  a round piece of the child at the contact (a hub) whose axis crosses every hinge line of
  higher prior comes before them (a thin leg on its motor shaft touches the body along an
  edge too, and would otherwise swing about that edge);
- **drawer**: a deep part mostly inside the parent's hull slides out along the contact normal;
  it is not small against its parent (:data:`DRAWER_SIZE`: a fridge's liner cut into slivers
  of 5 % of its diagonal has no drawers);
- **fallback**: other contact lines and the child's principal slides, with a low prior (a
  part that only slides off its parent's face is glued, not jointed, unless the geometry says
  more).

The sweep (:mod:`n4d4d.rigging.sweep`) then tests each; :mod:`n4d4d.rigging.joints` scores
``prior x usefulness of the free range`` and keeps the best as the joint's confidence.

What it does not: sweep, or read semantics (names, textures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from n4d4d.rigging.contact import Contact, contact_symmetry_axes, plane_candidates
from n4d4d.rigging.geometry import PartGeometry, surface_pca

KNOB_REL = 0.09  # a round part at least this fraction of the object's diagonal turns; below, it is pressed
AXIS_ALIGN = np.cos(np.deg2rad(15.0))  # a revolution axis within 15 degrees of the contact normal
HUB_CROSS = np.cos(np.deg2rad(45.0))  # a hub's axis more than 45 degrees off a hinge line crosses it
DRAWER_SIZE = (0.06, 0.1)  # a drawer is at least 10 % of its parent's diagonal (none under 6 %)


def ramp(x: float, a: float, b: float) -> float:
    """0 at ``a``, 1 at ``b``, linear between (``a > b`` for a decreasing ramp)."""
    if a == b:
        return float(x >= b)
    return float(np.clip((x - a) / (b - a), 0.0, 1.0))


@dataclass(frozen=True)
class PairShape:
    """Shape descriptors of a child against its parent (asset frame, m).

    Attributes:
        extents: ``(3,)`` the child's robust extents (2nd-98th percentile) along its principal
            axes, descending; ``axes`` ``(3, 3)`` those axes as columns; ``thin`` the last.
        thinness: ``extents[2] / extents[0]``.
        size: child diagonal / parent diagonal; ``rel``: child diagonal / object diagonal.
        normal_thin: ``|thin . contact normal|``.
        height: the child's extent along the contact normal; ``lateral``: its smaller extent
            across (contact frame ``u``, ``v``).
        lever: ``(3,)`` child centroid minus contact centre; ``lever_n``: ``|lever . n| /
            |lever|`` (1 for a centroid straight over the contact, or one within 2 % of the
            child's diagonal of it).
        into: ``(3,)`` unit contact normal pointing from the child into the parent.
        nested: fraction of the child's samples inside the parent's convex hull.
        revolution: the child's axes of revolution ``[(point, axis, residual), ...]``.
    """

    extents: np.ndarray
    axes: np.ndarray
    thin: np.ndarray
    thinness: float
    size: float
    rel: float
    normal_thin: float
    height: float
    lateral: float
    lever: np.ndarray
    lever_n: float
    into: np.ndarray
    nested: float
    revolution: list


def _robust(x: np.ndarray) -> float:
    return float(np.quantile(x, 0.98) - np.quantile(x, 0.02)) if len(x) else 0.0


def pair_shape(child: PartGeometry, parent: PartGeometry, c: Contact, object_diag: float) -> PairShape:
    """The :class:`PairShape` of ``child`` on ``parent`` with contact ``c``; ``object_diag``
    the whole object's bounding-box diagonal (m)."""
    from n4d4d.rigging.pair_fits import nested_fraction

    mean, _, vecs = surface_pca(child.vertices, child.faces)
    ext = np.array([_robust(child.points @ vecs[:, k]) for k in range(3)])
    order = np.argsort(-ext)
    ext, vecs = ext[order], vecs[:, order]
    lever = mean - c.centre
    ln = float(np.linalg.norm(lever))
    lever_n = 1.0 if ln < 0.02 * child.diag else float(abs(lever @ c.normal) / ln)
    side = float((c.centre - mean) @ c.normal)
    if abs(side) < 1e-12:  # centroid in the contact plane: the side the parent's samples lie on
        side = float(np.mean((parent.points - c.centre) @ c.normal))
    into = c.normal * (1.0 if side >= 0 else -1.0)
    return PairShape(ext, vecs, vecs[:, 2], float(ext[2] / max(ext[0], 1e-12)), child.diag / max(parent.diag, 1e-12),
                     child.diag / max(object_diag, 1e-12), float(abs(vecs[:, 2] @ c.normal)), float(c.thickness),
                     float(max(c.child_ext.min(), 1e-12)), lever, lever_n, into, nested_fraction(child, parent),
                     child.revolution())


@dataclass(frozen=True)
class Candidate:
    """A motion to sweep: ``kind`` ``"revolute"`` (about the line ``point + t axis``) or
    ``"prismatic"`` (along ``axis``, ``point`` its reference); ``family`` the hypothesis
    (``press``, ``knob``, ``hinge``, ``pin``, ``bearing``, ``drawer``, ``fallback``),
    ``source`` the geometric feature it came from, ``prior`` in [0, 1]."""

    kind: str
    point: np.ndarray
    axis: np.ndarray
    family: str
    source: str
    prior: float


def _line_distance(target, point, axis) -> float:
    r = target - point
    return float(np.linalg.norm(r - (r @ axis) * axis))


def _line_near(point, axis, target, radius) -> bool:
    return _line_distance(target, point, axis) <= radius


def press_prior(s: PairShape, c: Contact) -> float:
    """Prior of a press (key, button): small (size under 0.15 of the parent, none above 0.35),
    flat along the contact normal (height under 0.6 of its width; none above its width), centroid
    over the contact, bearing on most of its base (the contact spans at least 60 % of the
    child both ways, none under 30 %: a wheel touches its axle at the hub only), on a flat
    contact."""
    cover = float(np.min(c.ext / np.maximum(c.child_ext, 1e-12)))
    return (ramp(s.size, 0.35, 0.15) * ramp(s.height / s.lateral, 1.0, 0.6) * ramp(s.lever_n, 0.4, 0.7)
            * ramp(cover, 0.3, 0.6) * (1.0 if c.flat else 0.6))


def hinge_prior(s: PairShape) -> float:
    """Prior of a hinge: thin (thinnest extent under 30 % of the largest; none above 50 %)
    and not small (child at least 20 % of its parent's diagonal; none under 8 %)."""
    return ramp(s.thinness, 0.5, 0.3) * ramp(s.size, 0.08, 0.2)


def pin_prior(s: PairShape, c: Contact) -> float:
    """Prior of a pin between face-on-face parts: the thin axis along the contact normal, a
    patch under 60 % of the child both ways, the child elongated and thin."""
    cover = float(np.max(c.ext / np.maximum(c.child_ext, 1e-12)))
    return (ramp(s.normal_thin, 0.6, 0.85) * ramp(cover, 0.7, 0.5) * ramp(s.thinness, 0.45, 0.25)
            * ramp(s.extents[1] / s.extents[0], 0.8, 0.5))


def _end_hinges(s: PairShape, c: Contact, prior: float):
    """End hinge: axis = contact normal x thin axis, through the contact centre moved to
    either face of the child's end along the thin axis (and the centre itself)."""
    a = np.cross(c.normal, s.thin)
    if np.linalg.norm(a) < 0.5:
        return []
    a /= np.linalg.norm(a)
    t = s.thin - (s.thin @ a) * a
    t /= np.linalg.norm(t)
    proj = (c.own - c.centre) @ t if len(c.own) else np.zeros(1)
    out = [Candidate("revolute", c.centre + float(np.quantile(proj, q)) * t, a, "hinge", "end-hinge", prior)
           for q in (0.02, 0.98)]
    out.append(Candidate("revolute", c.centre, a, "hinge", "end-hinge", 0.95 * prior))
    return out


def _round_seat(axis, point, c: Contact, radius: float) -> bool:
    """An axis of revolution along the contact normal through the contact (a boss, a disc, a
    knob on its seat)."""
    return abs(axis @ c.normal) > AXIS_ALIGN and _line_near(point, axis, c.centre, radius)


def candidates(child: PartGeometry, parent: PartGeometry, c: Contact, s: PairShape) -> list[Candidate]:
    """Every :class:`Candidate` of the pair, highest prior first (see module docstring)."""
    from n4d4d.rigging.pair_fits import pieces_near, snap_to_cylinder

    out: list[Candidate] = []
    press = press_prior(s, c)
    hinge = hinge_prior(s)
    knobby = ramp(s.rel, 0.6 * KNOB_REL, KNOB_REL)  # a round part big enough to be grasped
    out.append(Candidate("prismatic", c.centre, s.into, "press", "inset-normal", 0.95 * press))

    # axes of revolution through the contact: a knob when along the normal of a small part's
    # flat seat, else a bearing (wheel, motor, link on a shaft); a large thin disc over its
    # parent (a round lid) is more often hinged at its rim than turned
    reach = 0.5 * child.diag + c.eps
    shapes = [("child-piece-symmetry", g, 0.5 * g.diag + c.eps) for g in pieces_near(child, c.points, c.eps, child.diag)]
    shapes.append(("child-symmetry", child, reach))
    if parent.diag <= 3.0 * child.diag:
        shapes.append(("parent-symmetry", parent, reach))
    shapes += [("parent-piece-symmetry", g, 0.5 * g.diag + c.eps)
               for g in pieces_near(parent, c.own, c.eps, 3.0 * child.diag)]
    seen, round_seat = [], False
    for source, part, radius in shapes:
        axes = part.revolution()
        if len(axes) >= 2:  # a ball turns about any axis: take the normal of its seat
            axes = [(axes[0][0], c.normal, 0.0)]
        for point, axis, _ in axes:
            if not _line_near(point, axis, c.centre, radius):
                continue
            if any(abs(axis @ a) > AXIS_ALIGN and _line_near(point, a, p, 0.05 * child.diag) for p, a in seen):
                continue
            seen.append((point, axis))
            seat = _round_seat(axis, point, c, 0.5 * part.diag)
            round_seat |= seat
            if seat and press > 0.3:  # a round part on its seat: dial if big enough, else a button
                out.append(Candidate("revolute", point, axis, "knob", source, 0.9 * knobby + 0.3 * (1 - knobby)))
                continue
            prior = 0.9 if seat else (0.8 if source.startswith("child") else 0.7)
            if seat and source == "child-symmetry":  # a lid: thin, as large as its parent
                prior *= 1.0 - 0.35 * hinge * ramp(s.size, 0.3, 0.6)
            out.append(Candidate("revolute", point, axis, "bearing", source, prior * (1 - 0.7 * press)))
    for point, axis in contact_symmetry_axes(c):
        round_seat |= bool(abs(axis @ c.normal) > AXIS_ALIGN)
        out.append(Candidate("revolute", point, axis, "pin", "contact-symmetry", 0.75 * (1 - 0.7 * press)))

    # drawers: a part mostly inside its parent's hull slides along one of its axes
    drawer = (0.85 * ramp(s.nested, 0.4, 0.7) * (1 - press) * (0.6 if s.revolution else 1.0)  # a nested shaft turns
              * ramp(s.size, DRAWER_SIZE[0], DRAWER_SIZE[1]))  # a sliver inside a cabinet is no drawer
    if drawer > 0:
        deep = [k for k in range(3) if s.extents[k] >= 0.3 * s.extents[0]]  # a drawer is deep along its slide
        first = int(np.argmax(np.abs(s.axes.T @ c.normal))) if c.flat else -1
        if first in deep:  # out along its front's normal, not sideways (a door on a face)
            deep, factor = [first], 1.0
        else:  # resting on a runner or held all round: any deep axis the sweep finds free
            factor = 0.8 if c.flat else 0.97
        for k in deep:
            out.append(Candidate("prismatic", c.centre, s.axes[:, k], "drawer", "nested-slide", drawer * factor))
    seat_factor = 0.5 if round_seat else 1.0  # a round seat is a bearing's, not a hinge's
    seat_factor *= ramp(s.nested, 0.85, 0.6)  # a part deep inside its parent's hull slides, it does not swing
    if s.normal_thin < 0.5 and s.lever_n >= 0.5:  # touching at one end, reaching away from it
        out += _end_hinges(s, c, hinge * seat_factor)
    pin = pin_prior(s, c)
    edge_ok = 1.0 if c.edge_first else 0.4
    rank, first_edge = 0, None
    for source, point, axis in plane_candidates(c):
        if source in ("contact-line", "contact-edge"):
            point = snap_to_cylinder(c.own, point, axis, 0.2 * child.diag)
        if source == "contact-normal":
            out.append(Candidate("revolute", point, axis, "pin", source, max(0.8 * pin, 0.3 * (1 - press))))
        elif source == "contact-edge":
            perp = float(abs(axis @ s.thin))  # a hinge axis lies across the thin axis
            first_edge = axis if first_edge is None else first_edge  # the likeliest hinge edge's direction
            along_first = float(abs(axis @ first_edge)) > 0.7
            prior = (hinge * edge_ok * seat_factor * ramp(perp, 0.5, 0.2) * (1.0 if along_first else 0.85)
                     * (1.0 - 0.02 * rank) * (0.9 if c.line else 1.0))  # a line contact is the hinge itself
            rank += 1
            out.append(Candidate("revolute", point, axis, "hinge", source, max(prior, 0.25 * (1 - press))))
        elif source == "contact-line":
            prior = 0.95 * ramp(s.thinness, 0.6, 0.35) * ramp(s.size, 0.05, 0.15) * seat_factor
            out.append(Candidate("revolute", point, axis, "hinge", source, max(prior, 0.3 * (1 - press))))
        else:  # contact-swing
            out.append(Candidate("revolute", point, axis, "fallback", source, 0.35 * (1 - press)))
    for k in range(3):
        out.append(Candidate("prismatic", c.centre, s.axes[:, k], "fallback", "slide", 0.3 * (1 - press)))
    # a hinge swings the part's bulk: its centroid lies at least a quarter of the part's size
    # (the geometric mean of its two largest extents) from the axis, none under a tenth: a bar
    # rolling about its own length is no hinge, a tall narrow door on its long side is one
    centroid = c.centre + s.lever
    size = float(np.sqrt(s.extents[0] * s.extents[1]))
    out = [k if k.family != "hinge" else
           Candidate(k.kind, k.point, k.axis, k.family, k.source,
                     k.prior * ramp(_line_distance(centroid, k.point, k.axis) / size, 0.1, 0.25))
           for k in out]
    # a barrel: a piece's axis of revolution along a hinge line near it is that hinge's exact axis
    hinges = [k for k in out if k.family == "hinge"]
    for b in [k for k in out if k.family == "bearing" and "piece" in k.source]:
        near = [h for h in hinges if abs(h.axis @ b.axis) > np.cos(np.deg2rad(10.0))
                and _line_near(b.point, b.axis, h.point, 0.25 * child.diag)]
        if near:
            out.append(Candidate("revolute", b.point, b.axis, "hinge", "hinge-barrel",
                                 min(1.0, max(h.prior for h in near) + 0.02)))
    # a hub: a round piece of the child at the contact whose axis crosses every stronger hinge
    # line (a robot leg on its motor's shaft) turns about the hub, not about the edge it
    # happens to touch; the sweep still decides (a hub that cannot turn scores nothing)
    for b in [k for k in out if k.family == "bearing" and k.source == "child-piece-symmetry"]:
        stronger = [h for h in hinges if h.prior > b.prior]
        if stronger and all(abs(h.axis @ b.axis) < HUB_CROSS for h in stronger):
            out.append(Candidate("revolute", b.point, b.axis, "bearing", "child-hub",
                                 min(1.0, max(h.prior for h in stronger) + 0.02)))
    return sorted(out, key=lambda k: -k.prior)
