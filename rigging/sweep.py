"""Collision sweeps: how far a child part can move about a candidate joint before it hits its
parent. The free range found is the joint's limit (rad or m).

What it does: moves probes of the child (seeded surface samples and centres of its solid
voxel cells, so a part pushed through a wall is caught) along the candidate motion (rotation
about a line, or translation) in steps that move no probe farther than 0.4 cell of the
parent's solid grid (:mod:`n4d4d.rigging.voxels`, diagonal / 128; enclosed cavities are
filled except one that holds the child at rest: a magazine nested in a closed stapler lid
moves in that room), so no wall of the grid is crossed unseen (up to ``MAX_STEPS`` steps a
side); the first colliding step is refined by bisection. A pose collides when, compared
with the rest pose, more probes lie inside the parent's grid (deeper than ``delta``) and
farther than ``delta`` from its exact surface (libigl AABB): a face sliding on a face
(crossed blades turning on their pin) stays on the surface, inside the grid's boundary cells
yet not in collision. Comparing with the rest pose makes parts that touch or overlap
slightly at rest (PartNet-Mobility meshes do; voxel solids are up to a cell fat) start
collision-free, so every limit range contains 0 and the rest pose never collides.

:class:`BlockedChecker` adds other parts that stay put (obstacles) to a parent's test, so a
candidate's free range is also clear of them (the separability of
:mod:`n4d4d.rigging.joints`).

What it does not: resolve features finer than a grid cell (about 0.8 % of the parent's
diagonal).
"""

from __future__ import annotations

import numpy as np

from n4d4d.rigging.geometry import PartGeometry, rotate_about

GRID_RESOLUTION = 128  # cells along the parent's diagonal
MAX_STEPS = 180  # per side of a sweep (a probe far beyond the parent may move farther a step)


class SweepChecker:
    """Collision test of moved child probes against one parent.

    Args:
        child_points: ``(N, 3) float64`` child probes at rest (m, asset frame).
        parent: the parent's :class:`PartGeometry` (its surface grid is built on first use).
        delta: penetration depth (m) below which a probe inside the parent is grazing
            contact; capped at a quarter cell so one-cell-thick walls block.
        exact: test probes with the parent's winding number (:meth:`PartGeometry.inside`)
            instead of the grid: for short motions of small parts (a key pressed into its
            pocket) on a closed parent, whose features a grid cell would blur.
    """

    def __init__(self, child_points: np.ndarray, parent: PartGeometry, delta: float, *, exact: bool = False):
        self.points = np.asarray(child_points, np.float64)
        self.parent = parent
        self.exact = bool(exact)
        from n4d4d.rigging.voxels import fill_except_holding

        self.grid = fill_except_holding(parent.grid(GRID_RESOLUTION, fill=False), self.points)
        self.delta = float(delta) if self.exact else min(float(delta), 0.25 * self.grid.pitch)
        self.contact = self.delta  # exact distance below which a probe slides on the surface
        self.in0 = self._count(self.points)
        self.allow = max(3, int(0.01 * len(self.points)))

    def _inside(self, q: np.ndarray) -> np.ndarray:
        if self.exact:
            return self.parent.inside(q)
        return self.grid.depth_at(q) > self.delta

    def _count(self, q: np.ndarray) -> int:
        cand = self._inside(q)
        if not cand.any():
            return 0
        return int((self.parent.distance(q[cand]) > self.contact).sum())

    def collides(self, moved: np.ndarray) -> bool:
        """True when more of ``moved`` ``(N, 3)`` lies inside the parent than at rest."""
        if int(self._inside(moved).sum()) <= self.in0 + self.allow:  # no exact test needed
            return False
        return self._count(moved) > self.in0 + self.allow


class BlockedChecker:
    """A :class:`SweepChecker` of the parent together with one per obstacle (parts that do not
    move with the child, nor out of its way): a pose collides when it collides with the parent
    or with any obstacle. It has the parent checker's ``points``, ``parent``, ``grid``,
    ``exact`` and ``delta`` (steps are sized by the parent's grid), so the sweeps take it in
    place of a :class:`SweepChecker`.

    Args:
        main: the parent's :class:`SweepChecker`.
        obstacles: :class:`PartGeometry` of the parts that stay put (m, asset frame); each is
            tested with a penetration depth of 0.5 % of its diagonal and, like
            :func:`n4d4d.rigging.joints.separable_range`, a looser count (``max(5, 3 %)`` of
            the probes: rotated samples of a round part land elsewhere).
    """

    def __init__(self, main: SweepChecker, obstacles):
        self.main = main
        self.points, self.parent, self.grid = main.points, main.parent, main.grid
        self.exact, self.delta = main.exact, main.delta
        self.others = [SweepChecker(main.points, o, delta=0.005 * o.diag) for o in obstacles]
        for ch in self.others:
            ch.allow = max(5, int(0.03 * len(main.points)))

    def collides(self, moved: np.ndarray) -> bool:
        """True when ``moved`` ``(N, 3)`` collides with the parent or an obstacle."""
        return self.main.collides(moved) or any(ch.collides(moved) for ch in self.others)


def _free_extent(collides_at, step: float, max_value: float, refine: int = 4) -> float:
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
    (right-hand rule about ``axis``), each side searched up to ``max_angle``. ``step`` (rad)
    is the largest step; it shrinks so the probe farthest from the axis moves 0.4 grid
    cell per step (at most ``MAX_STEPS`` steps a side)."""
    pts = checker.points
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    rel = pts - pivot
    r = float(np.sqrt(np.max(np.sum(rel * rel, 1) - (rel @ a) ** 2, initial=0.0)))
    step = float(np.clip(0.4 * checker.grid.pitch / max(r, 1e-12), max_angle / MAX_STEPS, step))
    up = _free_extent(lambda t: checker.collides(rotate_about(pts, pivot, a, t)), step, max_angle)
    lo = _free_extent(lambda t: checker.collides(rotate_about(pts, pivot, a, -t)), step, max_angle)
    return -lo, up


def sweep_prismatic(checker: SweepChecker, direction: np.ndarray, max_travel: float,
                    steps: int = 12, sides: tuple[bool, bool] = (True, True)) -> tuple[float, float]:
    """Free translation range ``(lower <= 0, upper >= 0)`` in m along unit ``direction``,
    each side searched up to ``max_travel`` (m) in at least ``steps`` steps of at most 0.4
    grid cell (and at most ``MAX_STEPS``); a side whose ``sides`` flag is False is not
    searched (0)."""
    if not max_travel > 0:
        return 0.0, 0.0
    pts = checker.points
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    step = float(np.clip(0.4 * checker.grid.pitch, max_travel / MAX_STEPS, max_travel / steps))
    if checker.exact:
        step = max_travel / steps
    up = _free_extent(lambda t: checker.collides(pts + t * d), step, max_travel) if sides[0] else 0.0
    lo = _free_extent(lambda t: checker.collides(pts - t * d), step, max_travel) if sides[1] else 0.0
    return -lo, up
