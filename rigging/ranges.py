"""Joint ranges: the conventions of manufactured hinges and drawers (:func:`hinge_opening`,
:func:`drawer_travel`) and the separability check of a joint's range against the parts that
stay put (:func:`separable_range`), for joint inference (:mod:`n4d4d.rigging.joints`).

What it does not: sweep a candidate against its parent (:mod:`n4d4d.rigging.sweep` does, from
:func:`n4d4d.rigging.joints.infer_joint`), or choose the joint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from n4d4d.rigging.geometry import PartGeometry, rotate_about
from n4d4d.rigging.sweep import SweepChecker

if TYPE_CHECKING:
    from n4d4d.rigging.joints import InferredJoint

MIN_SWEEP_TURN = np.deg2rad(30.0)  # no rotation usefulness under it ...
SEPARABILITY_SAMPLES = 12  # poses per side of a range tested against the other parts
HINGE_OPENING = np.pi / 2  # a hinged panel (door, lid, temple) opens a quarter turn at most
DRAWER_EXTENSION = 0.85  # a drawer slides out this fraction of its depth at most


def hinge_opening(lo: float, hi: float) -> tuple[float, float]:
    """The range ``(lower <= 0, upper >= 0)`` (rad) a hinged panel is given from its free sweep
    ``(lo, hi)``: its span capped at :data:`HINGE_OPENING`, taken from the larger free side
    first (a door that the sweep lets swing 180 degrees until it meets the cabinet's side
    opens 90 degrees, as PartNet-Mobility's doors, lids and temples mostly do: their median
    range is 90 degrees). A free span under the cap is kept as it is. The cap is a
    convention of manufactured hinges, not a collision (leave-one-category-out, a cap chosen
    on the other categories is 76-104 degrees: see ``benchmarks/rigging.py``)."""
    if hi - lo <= HINGE_OPENING:
        return lo, hi
    if hi >= -lo:
        hi = min(hi, HINGE_OPENING)
        return max(lo, hi - HINGE_OPENING), hi
    lo = max(lo, -HINGE_OPENING)
    return lo, min(hi, lo + HINGE_OPENING)


def drawer_travel(lo: float, hi: float, depth: float) -> tuple[float, float]:
    """The range ``(lower <= 0, upper >= 0)`` (m) of a drawer from its free slide ``(lo, hi)``
    and its ``depth`` along the slide (m): one way only (the larger free side: out of the
    carcass; a drawer free both ways, through an open back, still opens one way), at most
    :data:`DRAWER_EXTENSION` of its depth (drawer runners keep part of the drawer engaged:
    PartNet-Mobility's drawers open 0.74-0.91 of their depth; without the cap the sweep slides
    them out whole, or both ways)."""
    cap = DRAWER_EXTENSION * depth
    if hi >= -lo:
        return 0.0, min(hi, cap)
    return max(lo, -cap), 0.0


def _motion(joint: InferredJoint, pts: np.ndarray, q: float) -> np.ndarray:
    if joint.type == "prismatic":
        return pts + q * joint.axis
    return rotate_about(pts, joint.origin, joint.axis, q)


def separable_range(joint: InferredJoint, probes: np.ndarray, others: list[PartGeometry],
                    blocked: list | None = None) -> tuple[str, float, float]:
    """``(type, lower, upper)`` of ``joint`` once its moving probes ``(N, 3)`` (the child and
    the parts it carries, at rest) are tested against ``others`` (parts that do not move with
    it, its parent excluded; a part turning about its own axis of revolution is left as it is)
    at :data:`SEPARABILITY_SAMPLES` poses per side: each side stops at
    its last free pose; ``type`` becomes ``"revolute"`` for a continuous joint that collides
    and ``"fixed"`` when what is left is no useful motion (under 30 degrees, or under 15 % of a
    slide's range; a press keeps nothing less than its whole travel). ``blocked``, if a list,
    receives the parts of ``others`` that stopped a side."""
    if joint.type == "fixed" or not others or joint.source.endswith(":child-symmetry"):
        return joint.type, joint.lower, joint.upper  # a solid of revolution about its own axis sweeps nothing new
    checkers = [SweepChecker(probes, o, delta=0.005 * o.diag) for o in others]
    for ch in checkers:  # rotated samples of a round part land elsewhere: a looser count
        ch.allow = max(5, int(0.03 * len(probes)))
    lo, hi = (-np.pi, np.pi) if joint.type == "continuous" else (joint.lower, joint.upper)

    def free_to(end: float) -> float:
        if end == 0:
            return 0.0
        qs = np.linspace(0.0, end, SEPARABILITY_SAMPLES + 1)[1:]
        last = 0.0
        for q in qs:
            moved = _motion(joint, probes, float(q))
            hit = [o for o, ch in zip(others, checkers) if ch.collides(moved)]
            if hit:
                if blocked is not None:
                    blocked.extend(o for o in hit if all(o is not b for b in blocked))
                return last
            last = float(q)
        return end

    new_lo, new_hi = free_to(lo), free_to(hi)
    if joint.type == "continuous":
        if new_lo == lo and new_hi == hi:
            return joint.type, joint.lower, joint.upper
        kind = "revolute"
    else:
        kind = joint.type
    if kind == "revolute":
        if new_hi - new_lo < MIN_SWEEP_TURN:
            return "fixed", 0.0, 0.0
    elif joint.source.startswith("press"):
        if new_hi < joint.upper:
            return "fixed", 0.0, 0.0
    elif max(new_hi, -new_lo) < 0.4 * max(joint.upper, -joint.lower):  # a slide: 0.4 x 35 % ~ 15 %
        return "fixed", 0.0, 0.0
    return kind, new_lo, new_hi


def _reach(joint: InferredJoint, probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box ``(lo (3,), hi (3,))`` of the space the probes sweep through."""
    if joint.type == "prismatic":
        ends = [probes + joint.lower * joint.axis, probes + joint.upper * joint.axis]
        pts = np.concatenate(ends)
        return pts.min(0), pts.max(0)
    r = float(np.max(np.linalg.norm(probes - joint.origin, axis=1)))
    return joint.origin - r, joint.origin + r


def _boxes_meet(part: PartGeometry, box) -> bool:
    lo, hi = part.vertices.min(0), part.vertices.max(0)
    return bool(np.all(lo <= box[1]) and np.all(box[0] <= hi))
