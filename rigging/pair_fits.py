"""Geometric fits between a child part and its parent used by the joint hypotheses
(:mod:`n4d4d.rigging.hypotheses`): a hinge line snapped to a barrel's axis
(:func:`snap_to_cylinder`), the small pieces of a part near a contact (:func:`pieces_near`), and
how much of a child lies inside its parent's hull (:func:`nested_fraction`). What it does not:
choose a joint.
"""

from __future__ import annotations

import numpy as np

from n4d4d.rigging.geometry import PartGeometry


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
    """Pieces (:meth:`~n4d4d.rigging.geometry.PartGeometry.pieces`) of ``part`` with a
    diagonal under ``max_diag`` (m) and within ``eps`` (m) of ``points (N, 3)``; the 6
    nearest, none when the part is one piece or more than 200."""
    out = []
    for k, g in enumerate(part.pieces()):
        if g.diag > max_diag:
            continue
        d = float(g.distance(points).min())
        if d <= eps:
            out.append((d, k, g))
    return [g for _, _, g in sorted(out, key=lambda t: t[:2])[:6]]


def nested_fraction(child: PartGeometry, parent: PartGeometry) -> float:
    """Fraction of the child's surface samples inside the parent's convex hull by more than
    1 % of the parent's diagonal (0 when the hull is degenerate): a drawer sits inside its
    cabinet's hull, a lid outside, a door flush with the front half on its boundary."""
    eq = parent.hull_equations()
    if eq is None:
        return 0.0
    tol = -0.01 * parent.diag
    return float(np.all(child.points @ eq[:, :3].T + eq[:, 3] <= tol, axis=1).mean())
