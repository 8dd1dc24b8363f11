"""Analytic colliders (box, sphere, cylinder, capsule) as hulls that the hull-only code can use.

A URDF's ``<collision>`` primitives are kept as the shapes they are
(:class:`~n4d4d.asset.CollisionPrimitive`, written as UsdGeom Cube / Sphere / Cylinder /
Capsule, URDF ``<box>`` ... and MJCF geom types by the exporters). What measures or simulates
hulls (collision fidelity, hull-union mass, PyBullet's compound of convex meshes) needs a
triangulation; :func:`primitive_hull` gives one with at most ``max_vertices`` vertices (the
PhysX GPU limit of 64 by default) whose volume equals the shape's closed-form volume, so a
mass or a volume ratio computed from the hull agrees with the analytic shape the simulator
that reads the file sees (to rounding), and its surface lies within a few per cent of the
radius of the true surface (points on the true surface, hulled, then scaled: uniformly for a
sphere, across the axis for a cylinder and a capsule; a box is exact).

This module builds shapes only; which colliders a part gets is :mod:`.stages`'s choice.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import CollisionPrimitive, Mesh


def _fibonacci_sphere(n: int) -> np.ndarray:
    """``(n, 3)`` nearly uniform unit vectors (the Fibonacci / golden-angle lattice)."""
    i = np.arange(n, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    phi = np.pi * (3.0 - np.sqrt(5.0)) * i
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def _local_points(prim: CollisionPrimitive, max_vertices: int) -> tuple[np.ndarray, str]:
    """Points on the shape's surface in its own frame, and how to scale their hull to the
    shape's volume (``"none"``, ``"uniform"``, ``"radial"``)."""
    if prim.kind == "box":
        hx, hy, hz = 0.5 * np.asarray(prim.size)
        corners = np.array([[sx * hx, sy * hy, sz * hz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        return corners, "none"
    r = prim.size[0]
    if prim.kind == "sphere":
        return r * _fibonacci_sphere(max_vertices), "uniform"
    h = prim.size[1]
    if prim.kind == "cylinder":
        k = max_vertices // 2
        t = 2.0 * np.pi * np.arange(k) / k
        ring = np.column_stack([r * np.cos(t), r * np.sin(t)])
        return np.vstack([np.column_stack([ring, np.full(k, -h / 2)]), np.column_stack([ring, np.full(k, h / 2)])]), "radial"
    # capsule: a hemisphere of Fibonacci points on each end, their equators joined by the hull
    k = max_vertices // 2
    u = _fibonacci_sphere(2 * k)
    top = u[u[:, 2] >= 0][:k]
    bottom = -top
    return np.vstack([r * top + [0, 0, h / 2], r * bottom - [0, 0, h / 2]]), "radial"


def primitive_hull(prim: CollisionPrimitive, max_vertices: int = 64) -> Mesh:
    """A closed convex triangulation of ``prim`` in the asset frame with the shape's volume.

    Args:
        prim: the analytic shape (size in m, pose in the asset frame).
        max_vertices: vertex budget of the hull (>= 8; PhysX's GPU limit is 64).

    Returns:
        A :class:`~n4d4d.asset.Mesh` (outward faces, ``(V, 3) float64`` vertices, V <=
        ``max_vertices``) whose enclosed volume equals :attr:`CollisionPrimitive.volume` to
        rounding, with ``primitive`` = ``prim``.

    Raises:
        ValueError: ``max_vertices`` below 8.
    """
    from .hulls import hull_of

    if max_vertices < 8:
        raise ValueError(f"a primitive's hull needs max_vertices >= 8, got {max_vertices}")
    pts, how = _local_points(prim, int(max_vertices))
    h = hull_of(pts)
    if how != "none":
        ratio = prim.volume / float(h.volume)
        scale = np.array([ratio ** (1 / 3)] * 3) if how == "uniform" else np.array([np.sqrt(ratio)] * 2 + [1.0])
        h = hull_of(np.asarray(h.vertices) * scale)
    T = np.asarray(prim.transform)
    v = np.asarray(h.vertices) @ T[:3, :3].T + T[:3, 3]
    faces = np.asarray(h.faces, dtype=np.int64)
    if np.linalg.det(T[:3, :3]) < 0:  # a reflecting pose would turn the faces inward
        faces = faces[:, ::-1]
    return Mesh(v, faces, primitive=prim)
