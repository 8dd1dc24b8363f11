"""The nearest stable resting orientation of a mesh, for assets authored in an unstable pose.

Some inputs are modelled in an orientation they cannot rest in (a few of pybullet_data's
random_urdfs tip over when placed as authored): the certificate's rest check then fails them
("unstable rest pose"). :func:`stable_orientation` finds the rotation that brings such a mesh
onto the face it would fall onto: the mesh's convex hull (all that touches a flat ground),
with the mesh's own mass properties, is placed as authored in PyBullet, given the rest check's
seeded tilt, and let settle; the settled "up" direction, expressed in the mesh frame, is turned
back onto +Z by the smallest rotation (no turn about the vertical: the asset keeps its heading).

This module computes a rotation; applying it (to the loaded mesh, before remeshing, so that
every later stage sees the stable pose) is the pipeline's decision.
"""

from __future__ import annotations

import time

import numpy as np

from n4d4d.asset import Asset, Mesh, Part

from .thresholds import StabilityThresholds


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(3, 3)`` smallest rotation taking unit vector ``a`` onto unit vector ``b``."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -1.0 + 1e-12:  # opposite: half turn about any axis normal to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def stable_orientation(mesh: Mesh, *, seed: int = 0, min_angle_rad: float = 0.1,
                       thresholds: StabilityThresholds | None = None) -> tuple[np.ndarray, dict]:
    """Rotation ``R`` (3, 3) such that ``R @ x`` puts ``mesh`` (asset frame, Z up) in the stable
    resting orientation nearest to its authored one.

    Args:
        mesh: closed surface (m). seed: seeds the tilt that starts the fall.
        min_angle_rad: settled tilts below this return the identity (the authored pose rests).
        thresholds: simulation step, tilt and duration (default :class:`StabilityThresholds`).

    Returns:
        ``(R, figures)``: figures ``angle_rad`` (of R), ``settled_tilt_rad`` (what the
        simulation found), ``com_drop_m``, ``seconds``.

    Raises:
        EmptyMeshError: the mesh encloses no volume.
    """
    from scipy.spatial.transform import Rotation

    from .hulls import hull_of, reduce_hull
    from .mass import mass_properties
    from .pybullet_check import rest_pose, simulate
    from .rigid_model import rigid_model

    th = thresholds or StabilityThresholds()
    t0 = time.perf_counter()
    mp = mass_properties(mesh, density=1000.0)
    hull = reduce_hull(hull_of(mesh.vertices).vertices, 255)
    probe = Asset(name="rest_pose_probe", visual=mesh, parts=(Part("base", mesh),),
                  collision={"base": (hull,)}, mass={"base": mp})
    model = rigid_model(probe)
    R0, t = rest_pose(model, th, seed)
    traj, _ = simulate(model, probe, R0, t, th, deadline=time.perf_counter() + 60.0, name="rest_pose_probe")
    w, x, y, z = traj.quats[-1][0]
    final = Rotation.from_quat([x, y, z, w]).as_matrix()
    up_in_mesh = final.T @ np.array([0.0, 0.0, 1.0])  # world up, in the mesh frame
    R = minimal_rotation(up_in_mesh, [0.0, 0.0, 1.0])
    angle = float(np.arccos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)))
    figures = {"settled_tilt_rad": angle, "com_drop_m": float(traj.placed_positions[0, 2] - traj.positions[-1, 0, 2]),
               "seconds": time.perf_counter() - t0}
    if angle < min_angle_rad:
        return np.eye(3), {**figures, "angle_rad": 0.0}
    return R, {**figures, "angle_rad": angle}
