"""Procedural assets with known physics, for tests and benchmarks of physics validation.

Each function returns an :class:`~n4d4d.asset.Asset` standing on the ground (lowest point at
z = 0, asset frame, metres) with ``visual`` and ``parts`` filled and nothing else, so the
collision, mass and physics stages can be run on it and compared with closed forms: a box
(inertia m (b^2 + c^2) / 12 ...), a sphere (2/5 m r^2), a cone balanced on its tip (unstable by
construction), an L-shaped block (non-convex), a two-link hinged arm (one revolute joint) and a
cabinet (two drawers and a lid that move independently, a knob that rides on the lid).
This module does not run any stage.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset, Joint, Mesh, Part


def _asset(name: str, meshes: dict, joints: tuple[Joint, ...] = ()) -> Asset:
    import trimesh

    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    visual = Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values())))
    return Asset(name=name, visual=visual, parts=parts, joints=joints)


def box(extents=(0.1, 0.15, 0.2)) -> Asset:
    """A box of ``extents`` (m) centred over the origin, base on z = 0."""
    import trimesh

    m = trimesh.creation.box(extents=extents)
    m.apply_translation([0.0, 0.0, extents[2] / 2])
    return _asset("box", {"base": m})


def sphere(radius: float = 0.05, subdivisions: int = 4) -> Asset:
    """An icosphere of ``radius`` (m) resting on z = 0."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    m.apply_translation([0.0, 0.0, radius])
    return _asset("sphere", {"base": m})


def cone_on_tip(radius: float = 0.05, height: float = 0.2, sections: int = 48) -> Asset:
    """A cone standing on its apex (apex at the origin, base disc at z = ``height``): an
    unstable balance that any tilt topples."""
    import trimesh

    m = trimesh.creation.cone(radius=radius, height=height, sections=sections)
    m.apply_transform(trimesh.transformations.rotation_matrix(np.pi, [1.0, 0.0, 0.0]))
    m.apply_translation([0.0, 0.0, height])
    return _asset("cone_on_tip", {"base": m})


def l_block(size: float = 0.2, thickness: float = 0.05) -> Asset:
    """An L-shaped block (two boxes fused into one closed mesh), lying flat: non-convex."""
    import trimesh

    a = trimesh.creation.box(extents=[size, thickness, thickness])
    a.apply_translation([size / 2, thickness / 2, thickness / 2])
    b = trimesh.creation.box(extents=[thickness, size, thickness])
    b.apply_translation([thickness / 2, size / 2, thickness / 2])
    m = trimesh.boolean.union([a, b], engine="manifold")
    return _asset("l_block", {"base": m})


def hinged_arm(effort: float = 20.0, velocity: float = 2.0) -> Asset:
    """A heavy base block with an arm on a revolute joint about +Y at the base's top edge.

    The arm lies along +X at rest (horizontal, 1 cm above the base top), and may swing up to
    90 degrees; limits [0, pi/2] rad.
    """
    import trimesh

    base = trimesh.creation.box(extents=[0.2, 0.2, 0.1])
    base.apply_translation([0.0, 0.0, 0.05])
    arm = trimesh.creation.box(extents=[0.2, 0.04, 0.02])
    arm.apply_translation([0.1, 0.0, 0.12])
    joint = Joint(name="hinge", type="revolute", parent="base", child="arm",
                  origin=np.array([0.0, 0.0, 0.12]), axis=np.array([0.0, -1.0, 0.0]),
                  lower=0.0, upper=np.pi / 2, effort=effort, velocity=velocity)
    return _asset("hinged_arm", {"base": base, "arm": arm}, (joint,))


def cabinet() -> Asset:
    """A cabinet: a base box with a drawer on each side (prismatic, out along +-X, 5 cm), a lid
    hinged at its -X top edge (revolute about +Y, up to 1.2 rad) and a knob on the lid (revolute
    about the lid's normal, +-1 rad). Drawers and lid hang from the base, which is the root, and
    move apart from each other; the knob rides on the lid."""
    import trimesh

    def block(extents, centre):
        m = trimesh.creation.box(extents=extents)
        m.apply_translation(centre)
        return m

    meshes = {"base": block([0.3, 0.2, 0.2], [0.0, 0.0, 0.1]),
              "drawer_a": block([0.08, 0.16, 0.06], [0.191, 0.0, 0.08]),
              "drawer_b": block([0.08, 0.16, 0.06], [-0.191, 0.0, 0.08]),
              "lid": block([0.3, 0.2, 0.02], [0.0, 0.0, 0.211]),
              "knob": block([0.03, 0.03, 0.02], [0.1, 0.0, 0.232])}
    joints = (Joint(name="slide_a", type="prismatic", parent="base", child="drawer_a", origin=np.array([0.15, 0.0, 0.08]),
                    axis=np.array([1.0, 0.0, 0.0]), lower=0.0, upper=0.05, effort=50.0, velocity=0.2),
              Joint(name="slide_b", type="prismatic", parent="base", child="drawer_b", origin=np.array([-0.15, 0.0, 0.08]),
                    axis=np.array([-1.0, 0.0, 0.0]), lower=0.0, upper=0.05, effort=50.0, velocity=0.2),
              Joint(name="lid_hinge", type="revolute", parent="base", child="lid", origin=np.array([-0.15, 0.0, 0.2]),
                    axis=np.array([0.0, -1.0, 0.0]), lower=0.0, upper=1.2, effort=50.0, velocity=2.0),
              Joint(name="knob_turn", type="revolute", parent="lid", child="knob", origin=np.array([0.1, 0.0, 0.222]),
                    axis=np.array([0.0, 0.0, 1.0]), lower=-1.0, upper=1.0, effort=5.0, velocity=2.0))
    return _asset("cabinet", meshes, joints)
