"""Test geometry shared by several test files: axis-aligned boxes given by their corners."""

from __future__ import annotations

import numpy as np


def box_between(lo, hi):
    """A closed ``trimesh.Trimesh`` box with corners ``lo`` and ``hi`` ``(3,)`` (m)."""
    import trimesh

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    T = np.eye(4)
    T[:3, 3] = (lo + hi) / 2
    return trimesh.creation.box(extents=hi - lo, transform=T)


def cupboard(door_upper: float, *, slide_velocity: float = 0.3, hinge_velocity: float = 2.0, name: str = "cupboard"):
    """A drawer behind a cabinet door (PartNet-Mobility 45213's layout), with hulls and mass.

    Base x in [-0.15, 0.15]; drawer x in [0.151, 0.251], |y| <= 0.1, sliding +X by 0.15 m (joint
    ``slide``); door x in [0.253, 0.273], |y| <= 0.15, hinged on its -Y edge about -Z (swings
    outward, joint ``hinge``, limits [0, ``door_upper``] rad). Door closed, the drawer meets it after
    2 mm of travel; open at 1.6 rad it lies along +X at y < -0.14, clear of the drawer.
    """
    import trimesh

    from n4d4d.asset import Asset, Joint, Mesh, Part
    from n4d4d.physics_validation import collision_stage, mass_stage

    def block(extents, centre):
        return box_between(np.asarray(centre) - np.asarray(extents) / 2, np.asarray(centre) + np.asarray(extents) / 2)

    meshes = {"base": block([0.3, 0.3, 0.3], [0.0, 0.0, 0.15]),
              "drawer": block([0.1, 0.2, 0.1], [0.201, 0.0, 0.15]),
              "door": block([0.02, 0.3, 0.3], [0.263, 0.0, 0.151])}
    joints = (Joint(name="slide", type="prismatic", parent="base", child="drawer", origin=np.array([0.151, 0.0, 0.15]),
                    axis=np.array([1.0, 0.0, 0.0]), lower=0.0, upper=0.15, effort=50.0, velocity=slide_velocity),
              Joint(name="hinge", type="revolute", parent="base", child="door", origin=np.array([0.263, -0.151, 0.151]),
                    axis=np.array([0.0, 0.0, -1.0]), lower=0.0, upper=door_upper, effort=50.0,
                    velocity=hinge_velocity))
    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    visual = Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values())))
    return mass_stage(collision_stage(Asset(name=name, visual=visual, parts=parts, joints=joints)))
