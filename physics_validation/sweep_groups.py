"""Which joint sweeps can run together, and the link overlaps a run of them produces.

A camera's 18 buttons each need a sweep; run one after the other (PyBullet) or one world each
(Newton), the articulation check costs joints x links x steps, quadratic in parts. Two sweeps
are *independent* when neither can change what the other measures:

- each joint's parent is held rigidly to a fixed root (every joint above it is fixed), so no
  sweep moves the frame another joint lives in, and the reaction forces go to the fixed root;
- the parts each joint moves (its subtree), over its whole range, stay apart: the bounding boxes
  of their swept hull points (sampled at :data:`RANGE_SAMPLES` coordinates across the range,
  widened by :data:`BOX_MARGIN_FRACTION` of the asset's diagonal) do not meet.

:func:`group_sweeps` packs independent sweeps into groups greedily (link order); a group is one
PyBullet run or one Newton world in which every member follows its own target while the other
joints hold theirs. Self-collision is off in the sweeps (overlap is measured geometrically), so
members cannot touch each other through the engine either. Verdicts stay per joint.

:func:`sweep_overlaps` measures, on every :data:`.articulation.OVERLAP_EVERY`-th recorded row,
the penetration of each non-adjacent link pair that involves a moving link
(:meth:`.penetration.HullWorld.pair_depths`: the hull GJK/EPA query only for pairs whose world
bounding boxes meet, the exact answer for a fraction of the queries). Pairs of links that no sweep of the run moves keep their
rest-pose overlap, which the initial penetration check reports.
"""

from __future__ import annotations

import numpy as np

from .rigid_model import RigidModel, link_transforms, subtree

#: Coordinates sampled across a joint's range for its swept bounding box (limits included;
#: continuous joints: that many angles around the turn).
RANGE_SAMPLES = 9

#: Swept boxes are widened by this fraction of the asset's diagonal before testing for overlap
#: (servo sag and overshoot, and the sampling between range samples).
BOX_MARGIN_FRACTION = 0.02


def _anchored(model: RigidModel, index: int) -> bool:
    """True when every joint between link ``index``'s parent and its root is fixed."""
    i = model.links[index].parent
    while i >= 0:
        link = model.links[i]
        if link.joint is not None and link.joint.type != "fixed":
            return False
        i = link.parent
    return True


def _points(model: RigidModel, index: int) -> np.ndarray:
    hulls = model.links[index].hulls
    return np.vstack([h.vertices for h in hulls]) if hulls else np.zeros((0, 3))


def swept_box(model: RigidModel, sweep) -> np.ndarray:
    """``(2, 3)`` bounds (m) of the hull points of ``sweep``'s subtree over its range, the other
    joints at 0."""
    j = sweep.joint
    qs = (np.linspace(j.lower, j.upper, RANGE_SAMPLES) if sweep.finite
          else np.linspace(0.0, 2 * np.pi, RANGE_SAMPLES, endpoint=False))
    moving = subtree(model, sweep.link)
    pts = [_points(model, i) for i in moving]
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for q in np.append(qs, 0.0):
        tf = link_transforms(model, {j.name: float(q)})
        for i, p in zip(moving, pts):
            if len(p):
                x = p @ tf[i][0].T + tf[i][1]
                lo, hi = np.minimum(lo, x.min(axis=0)), np.maximum(hi, x.max(axis=0))
    return np.stack([lo, hi])


def _holds(sweep) -> tuple:
    return tuple(getattr(sweep, "holds", ()))


def group_sweeps(model: RigidModel, sweeps: list) -> list[list]:
    """Independent sweeps packed into groups (module docstring), each group in link order;
    every sweep is in exactly one group, the groups in order of their first sweep. Sweeps share
    a group only when they hold the same other joints at the same coordinates
    (:attr:`.articulation.Sweep.holds`: a drawer swept with the door held open is not swept
    beside a joint that expects the door closed)."""
    margin = BOX_MARGIN_FRACTION * model.diagonal
    boxes = {s.link: swept_box(model, s) for s in sweeps if _anchored(model, s.link)}
    groups: list[list] = []
    for s in sweeps:
        box = boxes.get(s.link)
        home = None
        if box is not None:
            for g in groups:
                if all(o.link in boxes and _holds(o) == _holds(s)
                       and (np.any(box[0] - margin > boxes[o.link][1])
                            or np.any(boxes[o.link][0] - margin > box[1])) for o in g):
                    home = g
                    break
        if home is None:
            groups.append([s])
        else:
            home.append(s)
    return groups


def moving_pairs(model: RigidModel, group: list) -> list[tuple[int, int]]:
    """Non-adjacent link pairs with at least one link that a sweep of ``group`` moves."""
    moving = {i for s in group for i in subtree(model, s.link)}
    return [(a, c) for a, c in model.non_adjacent_pairs() if a in moving or c in moving]


def sweep_overlaps(model: RigidModel, q_all: np.ndarray, world, pairs: list[tuple[int, int]],
                   every: int) -> dict[tuple[int, int], float]:
    """Deepest penetration (m, >= 0) of each pair of ``pairs`` over the rows ``q_all[::every]``.

    Args:
        model: the links. q_all: ``(T, L)`` every link's joint coordinate per recorded step
            (column = link index). world: a :class:`~.penetration.HullWorld` of ``model``.
        pairs: the link pairs to measure. every: row stride.

    Returns:
        pair -> depth; a row that is not finite ends the measurement (the sweep exploded).
    """
    depth = {p: 0.0 for p in pairs}
    if not pairs:
        return depth
    names = {link.index: link.joint.name for link in model.links if link.joint is not None}
    for row in np.asarray(q_all, dtype=np.float64)[::every]:
        if not np.isfinite(row).all():
            break
        d = world.pair_depths(pairs, link_transforms(model, {n: row[i] for i, n in names.items()}))
        for p, x in zip(pairs, d):
            if x > depth[p]:
                depth[p] = float(x)
    return depth


def joint_overlap(model: RigidModel, sweep, depth: dict[tuple[int, int], float]) -> float:
    """The deepest of ``depth``'s pairs that involve a link ``sweep`` moves (m)."""
    mine = set(subtree(model, sweep.link))
    return max((d for (a, c), d in depth.items() if a in mine or c in mine), default=0.0)
