"""Forward kinematics of a :class:`~.rigid_model.RigidModel` (URDF semantics, identity joint frames).

Each link's pose is a rigid transform of the asset frame at rest: ``x_posed = R x_rest + t``.
A joint with pivot ``o`` and unit axis ``a`` (both in the asset frame at rest) moves its child,
relative to the parent, by a rotation of ``q`` rad about the line through ``o`` along ``a``
(revolute, continuous) or a translation ``q a`` metres (prismatic); fixed joints do not move.
The child's transform is the parent's composed with that motion. This module computes poses
only; collision queries are in :mod:`.penetration`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .rigid_model import RigidModel


def axis_angle_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """``(3, 3)`` rotation by ``angle`` rad about unit ``axis`` (Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def link_transforms(model: RigidModel, joint_positions: Mapping[str, float] | None = None,
                    root: tuple[np.ndarray, np.ndarray] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pose ``(R (3, 3), t (3,))`` of every link for the given joint coordinates.

    Args:
        model: the links (parents first).
        joint_positions: joint name -> coordinate (rad or m); missing joints are at 0.
        root: ``(R, t)`` applied to every root link (default identity: the authored pose).

    Returns:
        One ``(R, t)`` per link, in ``model.links`` order, mapping rest asset-frame points to
        posed world points.
    """
    q = dict(joint_positions or {})
    R0, t0 = root if root is not None else (np.eye(3), np.zeros(3))
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for link in model.links:
        if link.parent < 0:
            out.append((np.asarray(R0, dtype=np.float64), np.asarray(t0, dtype=np.float64)))
            continue
        Rp, tp = out[link.parent]
        j = link.joint
        v = float(q.get(j.name, 0.0))
        if j.type in ("revolute", "continuous"):
            Rm = axis_angle_matrix(j.axis, v)
            tm = link.origin - Rm @ link.origin
        elif j.type == "prismatic":
            a = np.asarray(j.axis, dtype=np.float64)
            Rm, tm = np.eye(3), v * a / np.linalg.norm(a)
        else:
            Rm, tm = np.eye(3), np.zeros(3)
        out.append((Rp @ Rm, Rp @ tm + tp))
    return out
