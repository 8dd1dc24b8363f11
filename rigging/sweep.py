"""Collision sweeps: how far a child part can move about a candidate joint before it hits its
parent. The free range found is the joint's limit (rad or m).

What it does: moves seeded surface samples of the child along the candidate motion (rotation
about a line, or translation) in coarse steps, detects the first colliding step and refines
it by bisection. The probes are surface samples and interior samples of the child (interior
ones catch a part pushed through a wall thinner than one step). A step collides when,
compared with the rest pose, more probes lie inside the parent (generalized winding number
> 0.5) deeper than ``delta``. Comparing with the rest pose makes parts that touch or overlap
slightly at rest (PartNet-Mobility meshes do) start collision-free, so every limit range
contains 0 and the rest pose never collides. Parents should be closed (watertight) solids:
the rigging stage closes part meshes before inferring joints.

What it does not: test the parent against other parts, or continuous (swept-volume)
collision between steps: a thin wall narrower than one step can be crossed unseen, which is
why steps are small (15 degrees, 1/12 of the child's extent) and refined.
"""

from __future__ import annotations

import numpy as np

from n4d4d.rigging.geometry import PartGeometry, rotate_about


class SweepChecker:
    """Collision test of moved child samples against one parent.

    Args:
        child_points: ``(N, 3) float64`` child probes at rest (m, asset frame).
        parent: the parent's :class:`PartGeometry`.
        delta: penetration depth (m) below which a probe inside the parent is grazing contact.
    """

    def __init__(self, child_points: np.ndarray, parent: PartGeometry, delta: float):
        self.points = np.asarray(child_points, np.float64)
        self.parent = parent
        self.delta = float(delta)
        self.in0 = self._count(self.points)
        self.allow = max(3, int(0.01 * len(self.points)))

    def _count(self, q: np.ndarray) -> int:
        inside = self.parent.inside(q)
        if not inside.any():
            return 0
        return int((self.parent.distance(q[inside]) > self.delta).sum())

    def collides(self, moved: np.ndarray) -> bool:
        """True when more of ``moved`` ``(N, 3)`` lies inside the parent than at rest."""
        return self._count(moved) > self.in0 + self.allow


def _free_extent(collides_at, step: float, max_value: float, refine: int = 3) -> float:
    """Largest collision-free value in ``[0, max_value]`` reached by stepping ``step``."""
    n = int(np.ceil(max_value / step - 1e-9))
    prev = 0.0
    for k in range(1, n + 1):
        v = min(k * step, max_value)
        if collides_at(v):
            lo, hi = prev, v
            for _ in range(refine):
                mid = 0.5 * (lo + hi)
                if collides_at(mid):
                    hi = mid
                else:
                    lo = mid
            return lo
        prev = v
    return max_value


def sweep_revolute(checker: SweepChecker, pivot: np.ndarray, axis: np.ndarray,
                   step: float = np.deg2rad(15.0), max_angle: float = np.pi) -> tuple[float, float]:
    """Free rotation range ``(lower <= 0, upper >= 0)`` in rad about ``pivot + t axis``
    (right-hand rule about ``axis``), each side searched up to ``max_angle``."""
    pts = checker.points
    up = _free_extent(lambda a: checker.collides(rotate_about(pts, pivot, axis, a)), step, max_angle)
    lo = _free_extent(lambda a: checker.collides(rotate_about(pts, pivot, axis, -a)), step, max_angle)
    return -lo, up


def sweep_prismatic(checker: SweepChecker, direction: np.ndarray, max_travel: float,
                    steps: int = 12) -> tuple[float, float]:
    """Free translation range ``(lower <= 0, upper >= 0)`` in m along unit ``direction``,
    each side searched up to ``max_travel`` (m) in ``steps`` steps."""
    pts = checker.points
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    step = max_travel / steps
    up = _free_extent(lambda t: checker.collides(pts + t * d), step, max_travel)
    lo = _free_extent(lambda t: checker.collides(pts - t * d), step, max_travel)
    return -lo, up
