"""Joint inference between rigid parts: kinematic tree, joint type, pivot, axis, limits and a
confidence for each joint.

What it does, from geometry alone:

1. **Kinematic tree** (:func:`kinematic_tree`): minimum spanning tree of the parts' contact
   graph (closest distance, discounted where one part is mounted inside the other or rests
   on it over a wide patch), rooted at the part of largest convex-hull volume (the base, as
   in PartNet-Mobility where the base link is the largest static body). Pairs whose bounding
   boxes lie apart are weighted by the boxes' gap without exact distance queries. A merged
   mesh's pieces (``components=True``) link *seamed* pieces (closer than :data:`SEAM_GAP` of
   the largest part: butted panels modelled a hair apart) first, so one structure's panels
   hang from each other and not from a drawer hovering over them.
2. **Hypotheses** for each parent -> child edge (:mod:`n4d4d.rigging.hypotheses`): press,
   knob, hinge, pin, bearing, drawer and fallback motions, each with a geometric prior.
3. **Sweep test** (:mod:`n4d4d.rigging.sweep`): each candidate's child is rotated or
   translated until it collides with the parent; the free range is the limit. Its
   *usefulness* is 1 for a rotation of at least 60 degrees (0 under 30: the wobble of a part
   in its clearance) or a full turn, for a press that can leave its seat, for a slide of at
   least 35 % of the child's extent (0 under 15 %). The **confidence** of a candidate is
   ``prior x usefulness``; the candidate of highest confidence wins (candidates are swept in
   order of prior and the search stops when no prior left can beat the best). A full free
   turn is ``continuous``, less ``revolute``; with ``conventions`` (off by default:
   :data:`LIMIT_CONVENTIONS`) a hinged panel opens at most a quarter turn
   (:func:`hinge_opening`; one free a full turn is revolute too) and a drawer slides out one way, at most
   :data:`DRAWER_EXTENSION` of its depth (:func:`drawer_travel`). A press travels to the floor of its pocket
   when it has one, else :data:`PRESS_TRAVEL` of its height; on a merged mesh's pieces it must
   sit in a pocket (:func:`seated`: a handle glued on a face slides off it sideways).
4. **Separability** (:func:`separable_range`): the child and the parts it carries are moved
   through the winning range against every other part near the motion that stays put
   relative to the parent (its siblings, the parent's parent, the other panels of the drawer
   the parent rides on, ...: not those moved out of the way by a confident joint of their own
   below what they share with the parent, :func:`_relative_mover`); when the parts that stay
   put leave it no useful motion, the joint is inferred again with the parts that stopped it as obstacles of every candidate's
   sweep (a drawer whose end hinge would swing it through the cabinet slides instead), and the
   result is checked once more: the range shrinks to the free interval around rest, a
   continuous joint that collides becomes revolute, and a joint whose range falls below a
   useful motion is fixed.
   A merged mesh's piece whose surface lies mostly against, or inside, the parts that stay put
   (:func:`~n4d4d.rigging.embedded.contact_fraction` over
   :data:`~n4d4d.rigging.embedded.MAX_CONTACT_FRACTION`: a trim strip glued to a door, a key
   cap welded onto a deck) is glued, not jointed: its joint is fixed; so is a merged mesh's
   piece that spins a full turn wholly inside its parent's hull
   (:data:`~n4d4d.rigging.embedded.MIN_ENCLOSED_SPIN`: a can stocked in a refrigerator, a screw in its boss).
5. **One joint per pin** (:func:`_one_joint_per_pin`): a round piece carrying a larger part
   about its own turning line (a hub modelled apart from its arm) gives one joint, not two.

The axis sign is chosen so the larger free side is positive (``upper >= -lower``; a press
points into its parent with ``lower = 0``), and a hinge's pivot is the point of its axis line
nearest the contact centre.

What it does not: use learned priors, semantics (handles), or motion cues; or detect
spherical, planar or screw joints. Where the geometry allows several motions (a pole that
could turn or slide), the priors decide; the confidence says how sure the choice is, and the
rigging stage fuses joints below its threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from n4d4d.budget import process_cpu_seconds as work_clock  # deadlines count work, not the clock (issue 13)

from n4d4d.rigging.contact import analyse_contact
from n4d4d.rigging.embedded import MAX_CONTACT_FRACTION, MIN_ENCLOSED_SPIN, contact_fraction
from n4d4d.rigging.geometry import PartGeometry
from n4d4d.rigging.hypotheses import Candidate, candidates, pair_shape, ramp
from n4d4d.rigging.pair_fits import nested_fraction, pieces_near, snap_to_cylinder  # noqa: F401 (public here too)
from n4d4d.rigging.ranges import (  # noqa: F401 (public here too)
    DRAWER_EXTENSION, HINGE_OPENING, MIN_SWEEP_TURN, SEPARABILITY_SAMPLES, _boxes_meet, _motion, _reach, drawer_travel,
    hinge_opening, separable_range)
from n4d4d.rigging.sweep import BlockedChecker, SweepChecker, sweep_prismatic, sweep_revolute
from n4d4d.rigging.tree import (  # noqa: F401 (public here too)
    MANY_PARTS, PIN_ALIGN, PIN_LINE, SEAM_GAP, _one_joint_per_pin, _relative_mover, _subtrees, contact_graph, hull_volume,
    kinematic_tree)

FULL_TURN_TOL = np.deg2rad(1.0)
PROBE_GRID = 48  # cells along the child's diagonal for its interior probes
log = logging.getLogger(__name__)


PRESS_TRAVEL = 0.5  # a press without a pocket floor travels half its height (keys, buttons)
FULL_SWEEP_TURN = np.deg2rad(60.0)  # ... full from it
MAX_SWEEPS = 12  # candidates swept per joint at most
TOUCH_PENALTY = 0.7  # confidence factor per other large part the child also touches
SEPARABLE_OTHER = 0.5  # a part whose own joint is this confident moves away: it blocks no one


@dataclass(frozen=True)
class InferredJoint:
    """A joint found between ``parent`` and ``child`` (names), asset frame at rest.

    ``origin (3,)`` m, ``axis (3,)`` unit, ``lower/upper`` rad or m, ``source`` the candidate
    that won (e.g. ``"press:inset-normal"``, ``"hinge:contact-edge"``), ``confidence`` in [0, 1]
    (prior x usefulness, see the module docstring; 0 for a joint found fixed), ``features``
    the winning candidate's description for :mod:`n4d4d.rigging.confidence`."""

    parent: str
    child: str
    type: str
    origin: np.ndarray
    axis: np.ndarray
    lower: float
    upper: float
    source: str
    confidence: float = 0.0
    features: dict | None = None


def _extent(x: np.ndarray) -> float:
    return float(np.ptp(x)) if len(x) else 0.0


def _finish(parent, child, kind, origin, axis, lo, hi, source, centre, confidence):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    if -lo > hi:  # larger free side positive
        axis, lo, hi = -axis, -hi, -lo
    if kind != "prismatic":  # pivot: axis point nearest the contact centre
        origin = origin + ((centre - origin) @ axis) * axis
    if kind == "continuous":
        lo, hi = -np.inf, np.inf
    return InferredJoint(parent, child, kind, np.asarray(origin, float), axis, float(lo), float(hi), source,
                         float(confidence))


def seated(checker: SweepChecker, child: PartGeometry, axis: np.ndarray, shape) -> bool:
    """Whether a press candidate's child sits *in* its parent: moved sideways (along each of
    its principal axes across ``axis``, both ways) by :data:`SEAT_SHIFT` of its width there, it
    meets the parent (a pocket's wall) at least one way. A handle or a decal glued on a face
    slides off it every way. The parent's winding number decides when it is closed (a key's
    pocket is finer than the grid), else the grid; True (no evidence) when neither can resolve
    the shift."""
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    lateral = [shape.axes[:, k] for k in range(3) if abs(float(shape.axes[:, k] @ a)) < 0.5]
    if not lateral:
        return True
    exact = checker.parent.solid is None
    for d in lateral:
        shift = SEAT_SHIFT * _extent(child.points @ d)
        if not exact and checker.grid.pitch > 0.5 * shift:
            return True
        test = SweepChecker(checker.points, checker.parent, 0.1 * shift, exact=True) if exact else checker
        lo, hi = sweep_prismatic(test, d, shift, steps=6)
        if min(hi, -lo) < shift:
            return True
    return False


SEAT_SHIFT = 0.25  # a seated press meets its pocket's wall within a quarter of its width sideways


def _sweep(cand: Candidate, checker: SweepChecker, child: PartGeometry, shape, inset: bool = False,
           conventions: bool = False):
    """``(usefulness, kind, lower, upper)`` of one candidate (see module docstring); with
    ``inset`` a press must be :func:`seated` (usefulness 0 otherwise); with ``conventions`` a
    hinge's and a drawer's range are :func:`hinge_opening` / :func:`drawer_travel` of the free
    one (the usefulness is the free range's), and a hinged panel free a full turn is revolute,
    not continuous."""
    if cand.kind == "revolute" and cand.source == "child-symmetry":
        return 1.0, "continuous", -np.pi, np.pi  # a solid of revolution turned about its axis occupies what it did
    if cand.kind == "revolute":
        lo, hi = sweep_revolute(checker, cand.point, cand.axis)
        if hi - lo >= 2 * np.pi - FULL_TURN_TOL:
            if conventions and cand.family == "hinge":  # a door free a full turn is still a door
                return 1.0, "revolute", *hinge_opening(lo, hi)
            return 1.0, "continuous", lo, hi
        use = ramp(hi - lo, MIN_SWEEP_TURN, FULL_SWEEP_TURN)
        if cand.family == "hinge":  # a hinge line where the part butts against its parent one way (a stop)
            use *= 1.0 - 0.1 * min(-lo, hi) / max(-lo, hi, 1e-12)
            if conventions:
                lo, hi = hinge_opening(lo, hi)
        return use, "revolute", lo, hi
    if cand.family == "press":
        h = max(shape.height, 1e-9)
        lo, _ = sweep_prismatic(checker, cand.axis, h, sides=(False, True))  # -lo: out of the seat
        hi = 0.0
        if checker.parent.solid is None:  # a closed parent: the pocket floor, by winding number
            exact = SweepChecker(checker.points, checker.parent, 0.02 * h, exact=True)
            hi = sweep_prismatic(exact, cand.axis, h, steps=24, sides=(True, False))[1]
        travel = hi if hi >= 0.1 * h else PRESS_TRAVEL * h
        if inset and not seated(checker, child, cand.axis, shape):
            return 0.0, "prismatic", 0.0, travel
        if checker.grid.pitch > 0.5 * h:  # a key thinner than two cells: the grid cannot tell, the prior does
            return 1.0, "prismatic", 0.0, travel
        return (1.0 if -lo >= 0.5 * h or hi >= 0.2 * h else 0.0), "prismatic", 0.0, travel
    extent = _extent(child.points @ cand.axis)
    lo, hi = sweep_prismatic(checker, cand.axis, extent)
    use = ramp(max(hi, -lo) / max(extent, 1e-12), 0.15, 0.35)
    if cand.family == "drawer" and conventions:
        lo, hi = drawer_travel(lo, hi, extent)
    return use, "prismatic", lo, hi


#: Default of ``conventions`` (:func:`infer_joints`): off, a joint's range is its free sweep
#: (the procedural families' truths and their tests say so); on, hinges and drawers get the
#: ranges manufactured ones have (:func:`hinge_opening`, :func:`drawer_travel`), as
#: PartNet-Mobility's annotations do
LIMIT_CONVENTIONS = False


def infer_joint(parent: PartGeometry, child: PartGeometry, *, object_diag: float | None = None,
                deadline: float | None = None, siblings: tuple = (), obstacles: tuple = (),
                inset: bool = False, conventions: bool | None = None) -> InferredJoint:
    """Infer the joint moving ``child`` relative to ``parent`` (see the module docstring);
    ``object_diag`` (m) the whole object's diagonal (default: the larger part's);
    ``siblings`` other parts touching the child (not the parent, nor parts it carries: see
    :attr:`~n4d4d.rigging.contact.Contact.abut`); ``obstacles`` parts that stay put while the
    child moves: every candidate is swept against them as well as the parent
    (:class:`~n4d4d.rigging.sweep.BlockedChecker`), so a drawer whose end hinge would swing it
    through the cabinet's side slides instead. ``inset``: a press must sit in a pocket of its
    parent (:func:`seated`): a merged mesh's pieces (a handle on a drawer's front is a glued
    piece, not a button). ``conventions``: hinge and drawer ranges by convention
    (:func:`_sweep`; None: :data:`LIMIT_CONVENTIONS`).

    Returns a fixed joint (origin at the contact centre, axis +Z, confidence 0) when no
    candidate moves freely or when ``deadline`` (:func:`work_clock` seconds: CPU seconds of this
    process) has passed.
    """
    c = analyse_contact(child, parent, seed=child.seed, siblings=siblings)
    centre = c.centre
    fixed = InferredJoint(parent.name, child.name, "fixed", centre, np.array([0.0, 0.0, 1.0]), 0.0, 0.0, "none", 0.0)
    if deadline is not None and work_clock() > deadline:
        return fixed
    shape = pair_shape(child, parent, c, object_diag or max(parent.diag, child.diag))
    sub = child.points[:: max(1, len(child.points) // 700)]
    probes = np.concatenate([sub, child.grid(PROBE_GRID).interior_points(700, child.seed + 1)])
    checker = SweepChecker(probes, parent, delta=0.005 * min(child.diag, parent.diag))
    if obstacles:
        checker = BlockedChecker(checker, obstacles)
    best, best_score = fixed, 0.0
    cands = candidates(child, parent, c, shape)
    for k, cand in enumerate(cands):
        if cand.prior <= best_score + 1e-9 or k >= MAX_SWEEPS:
            break
        if deadline is not None and work_clock() > deadline:
            break
        use, kind, lo, hi = _sweep(cand, checker, child, shape, inset,
                                   LIMIT_CONVENTIONS if conventions is None else bool(conventions))
        score = cand.prior * use
        log.debug("%s %s:%s prior %.2f use %.2f %s [%.3f, %.3f]", child.name, cand.family, cand.source,
                  cand.prior, use, kind, lo, hi)
        if score > best_score + 1e-9:
            source = f"{cand.family}:{cand.source}"
            if cand.family == "press":
                best = InferredJoint(parent.name, child.name, "prismatic", np.asarray(centre, float),
                                     cand.axis / np.linalg.norm(cand.axis), lo, hi, source, score)
            else:
                best = _finish(parent.name, child.name, kind, cand.point if kind != "prismatic" else centre,
                               cand.axis, lo, hi, source, centre, score)
            best_score = score
            best_cand, best_use, best_kind, best_range = cand, use, kind, (lo, hi)
    if best.type != "fixed":
        best = _with_features(best, _features(best_cand, best_use, best_kind, best_range, cands, c, shape, child))
    return best


def _with_features(j: InferredJoint, features: dict, **changes) -> InferredJoint:
    from dataclasses import replace

    return replace(j, features=features, **changes)


def _features(cand, use, kind, rng, cands, c, shape, child) -> dict:
    """The winning candidate's description, for the confidence model
    (:mod:`n4d4d.rigging.confidence`): its prior, usefulness, family and kind, the pair's
    shape (:class:`~n4d4d.rigging.hypotheses.PairShape`), the contact's, the free range, and
    the prior of the best candidate of another family (ambiguity)."""
    lo, hi = rng
    if kind == "prismatic":
        span = (hi - lo) / max(shape.height if cand.family == "press" else _extent(child.points @ cand.axis), 1e-12)
    else:
        span = min(hi - lo, 2 * np.pi) / np.pi
    other = max((k.prior for k in cands if k.family != cand.family), default=0.0)
    cover = c.ext / np.maximum(c.child_ext, 1e-12)
    return {"prior": float(cand.prior), "use": float(use), "score": float(cand.prior * use), "family": cand.family,
            "kind": kind, "size": float(shape.size), "rel": float(shape.rel), "thinness": float(shape.thinness),
            "normal_thin": float(shape.normal_thin), "lever_n": float(shape.lever_n), "nested": float(shape.nested),
            "h_lat": float(min(shape.height / shape.lateral, 10.0)), "flat": float(c.flat), "line": float(c.line),
            "cover_max": float(min(cover.max(), 2.0)), "cover_min": float(min(cover.min(), 2.0)),
            "gap": float(c.gap / max(child.diag, 1e-12)), "revolution": float(bool(shape.revolution)),
            "span": float(min(span, 4.0)), "other_prior": float(other)}


def infer_joints(parts: list[PartGeometry], *, root: str | None = None,
                 deadline: float | None = None, components: bool = False,
                 conventions: bool | None = None) -> list[InferredJoint]:
    """Joints of the kinematic tree of ``parts``: one :class:`InferredJoint` per tree edge
    (fixed where nothing moves), each range then checked for separability against the other
    parts (:func:`separable_range`). Once ``deadline`` has passed, joints not yet inferred or
    not yet checked are fixed (a joint never checked for separability is not emitted).

    A part blocks a joint unless it moves with the child, or out of the way relative to the
    joint's parent (a confident joint of its own between it and what it shares with the
    parent: :func:`_relative_mover`). A joint the blocking parts leave no useful motion is
    inferred again with them as obstacles (:func:`infer_joint`), so another candidate that is free of
    them (a drawer's slide rather than its end hinge) can win; what that gives is checked for
    separability once more. Only the parts that stopped it are obstacles (each is a grid to
    test against).

    ``components``: the parts are a merged mesh's pieces: the tree links seamed pieces
    (:data:`SEAM_GAP`) first (:func:`contact_graph`), and a press must sit in a pocket
    (:func:`seated`). ``conventions``: hinge and drawer ranges by convention, not the free
    sweep (:func:`hinge_opening`, :func:`drawer_travel`; None: :data:`LIMIT_CONVENTIONS`)."""
    by_name = {p.name: p for p in parts}
    lo = np.min([p.vertices.min(0) for p in parts], axis=0)
    hi = np.max([p.vertices.max(0) for p in parts], axis=0)
    object_diag = float(np.linalg.norm(hi - lo))
    graph = contact_graph(parts, deadline, seam=SEAM_GAP if components else 0.0)
    edges = kinematic_tree(parts, root, graph)
    subtree = _subtrees(edges)

    def siblings(parent: str, child: str) -> tuple:  # parts half as large or more beside the child
        c = by_name[child]
        lo, hi = c.vertices.min(0) - 0.1 * c.diag, c.vertices.max(0) + 0.1 * c.diag
        return tuple(p for p in parts if p.name not in (parent, child) and p.name not in subtree.get(child, ())
                     and p.diag >= 0.5 * c.diag and _boxes_meet(p, (lo, hi)))

    joints = [infer_joint(by_name[a], by_name[b], object_diag=object_diag, deadline=deadline,
                          siblings=siblings(a, b), inset=components, conventions=conventions) for a, b in edges]
    # parts that move out of the way themselves (a confident joint of their own, and what they
    # carry) do not block a neighbour: a stapler's arm opens although the other rests on it
    moves = _relative_mover(edges, {j.child for j in joints if j.type != "fixed" and j.confidence >= SEPARABLE_OTHER})
    out = []
    for j in joints:
        if j.type == "fixed":
            out.append(j)
            continue
        if deadline is not None and work_clock() > deadline:  # not checked: not emitted
            out.append(InferredJoint(j.parent, j.child, "fixed", j.origin, j.axis, 0.0, 0.0, j.source + "+unchecked"))
            continue
        moving = [by_name[n] for n in sorted(subtree.get(j.child, {j.child}))]
        probes = np.concatenate([m.points[:: max(1, len(m.points) // 400)] for m in moving])

        def blockers(joint: InferredJoint) -> list[PartGeometry]:
            reach = _reach(joint, probes)
            return [p for p in parts if p.name not in subtree.get(joint.child, ()) and p.name != joint.parent
                    and not moves(p.name, joint.parent) and _boxes_meet(p, reach)]

        others, hit = blockers(j), []
        kind, a, b = separable_range(j, probes, others, hit)
        if kind == "fixed" and hit and not (deadline is not None and work_clock() > deadline):
            again = infer_joint(by_name[j.parent], by_name[j.child], object_diag=object_diag, deadline=deadline,
                                siblings=siblings(j.parent, j.child), obstacles=tuple(hit), inset=components,
                                conventions=conventions)
            if again.type != "fixed":
                j = again
                others = blockers(j)
                kind, a, b = separable_range(j, probes, others)
            else:
                kind = "fixed"
        # glued into a structure: touching other parts as large as half the child (a wall
        # between walls) besides its parent and what it carries
        held = [n for n in graph.neighbors(j.child) if graph.edges[j.child, n]["touch"] and n != j.parent
                and n not in subtree.get(j.child, ()) and by_name[n].diag >= 0.5 * by_name[j.child].diag]
        degree = sum(1 for n in graph.neighbors(j.child) if graph.edges[j.child, n]["touch"])
        feats = dict(j.features or {}, held=float(len(held)), degree=float(degree), shrunk=0.0)
        if components:  # a merged mesh's piece buried in what stays put is glued, not jointed
            feats["contact"] = contact_fraction(by_name[j.child], [p for p in parts if p.name not in
                                                                   subtree.get(j.child, {j.child})])
        j = _with_features(j, feats, confidence=j.confidence * TOUCH_PENALTY ** len(held))
        if kind != "fixed" and components and feats["contact"] > MAX_CONTACT_FRACTION:
            log.debug("%s: %.0f %% of its surface in contact: glued", j.child, 100 * feats["contact"])
            out.append(_with_features(j, feats, type="fixed", lower=0.0, upper=0.0, source=j.source + "+embedded",
                                      confidence=0.0))
        elif kind == "continuous" and components and _enclosed(by_name[j.child], feats.get("nested", 0.0), [
                p for p in parts if p.name not in subtree.get(j.child, {j.child}) and p.name != j.parent]):
            log.debug("%s: spins inside a hull of what stays put: glued", j.child)
            out.append(_with_features(j, feats, type="fixed", lower=0.0, upper=0.0, source=j.source + "+enclosed",
                                      confidence=0.0))
        elif kind == "fixed":
            log.debug("%s: not separable from %s", j.child, [o.name for o in others])
            out.append(InferredJoint(j.parent, j.child, "fixed", j.origin, j.axis, 0.0, 0.0,
                                     j.source + "+blocked", 0.0))
        elif (kind, a, b) != (j.type, j.lower, j.upper):
            feats = dict(j.features, shrunk=1.0, kind=kind)
            out.append(_with_features(j, feats, type=kind, lower=a, upper=b))
        else:
            out.append(j)
    return _one_joint_per_pin(out, by_name)


def _enclosed(child: PartGeometry, nested: float, others: list[PartGeometry]) -> bool:
    """Whether ``child`` lies wholly (:data:`MIN_ENCLOSED_SPIN`) inside the convex hull of its
    parent (``nested``, :func:`nested_fraction`) or of one of ``others`` (parts that do not move
    with it) whose bounding box holds the child's: a can on a refrigerator's shelf is enclosed by
    the refrigerator's body whether the shelf or the body is its parent."""
    if nested >= MIN_ENCLOSED_SPIN:
        return True
    lo, hi = child.vertices.min(0), child.vertices.max(0)
    return any(nested_fraction(child, o) >= MIN_ENCLOSED_SPIN for o in others
               if np.all(o.vertices.min(0) <= lo) and np.all(o.vertices.max(0) >= hi))


