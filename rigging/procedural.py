"""Procedural articulated shapes with known joints, for tests, demos and benchmarks.

What it does: builds three small objects from boxes and cylinders, each returned as an
:class:`~n4d4d.asset.Asset` whose ``visual`` mesh is all parts concatenated (``face_submesh``
labels the parts, as a multi-mesh GLB/OBJ would) together with the true joints (asset frame,
m, rad): a box with a hinged lid, a cabinet with a drawer, a two-link arm, two crossed
blades on a pin, and a motor disc carrying a bracket. Every part is a
union of closed primitives (watertight components), dimensions in metres.

What it does not: model hinge pins as separate parts, or make the union a single manifold.
"""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Asset, Joint, Mesh


def _box(lo, hi):
    import trimesh

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return trimesh.creation.box(extents=hi - lo, transform=_translate((lo + hi) / 2))


def _translate(t):
    T = np.eye(4)
    T[:3, 3] = t
    return T


def _cylinder(centre, axis, radius, length, sections=48):
    import trimesh

    z = np.array([0.0, 0.0, 1.0])
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    T = _translate(centre)
    if abs(a @ z) < 1 - 1e-9:
        T[:3, :3] = trimesh.geometry.align_vectors(z, a)[:3, :3]
    elif a @ z < 0:
        T[:3, :3] = np.diag([1.0, -1.0, -1.0])
    return trimesh.creation.cylinder(radius=radius, height=length, sections=sections, transform=T)


def _assemble(name: str, parts: dict, joints: list[Joint]) -> tuple[Asset, tuple[Joint, ...]]:
    import trimesh

    names = list(parts)
    meshes = [trimesh.util.concatenate(parts[n]) for n in names]
    labels = np.concatenate([np.full(len(m.faces), i, np.int32) for i, m in enumerate(meshes)])
    merged = trimesh.util.concatenate(meshes)
    visual = Mesh(merged.vertices, merged.faces, face_submesh=labels, submesh_names=tuple(names))
    return Asset(name=name, visual=visual, source_mesh=visual), tuple(joints)


def hinged_lid_box() -> tuple[Asset, tuple[Joint, ...]]:
    """A 0.4 x 0.3 x 0.2 m box whose lid (0.02 m slab, 8 mm above the rim) turns on a hinge
    barrel (radius 12 mm) along the box's back top edge.

    True joint: revolute, axis +-X through (0, 0.15, 0.2), opening ~180 degrees upward."""
    base = [_box([-0.2, -0.15, 0.0], [0.2, 0.15, 0.2])]
    lid = [_box([-0.2, -0.15, 0.208], [0.2, 0.15, 0.228]),
           _cylinder([0.0, 0.15, 0.2], [1, 0, 0], 0.012, 0.36)]
    j = Joint("lid_hinge", "revolute", "base", "lid", np.array([0.0, 0.15, 0.2]),
              np.array([1.0, 0.0, 0.0]), 0.0, np.pi)
    return _assemble("hinged_lid_box", {"base": base, "lid": lid}, [j])


def cabinet_with_drawer() -> tuple[Asset, tuple[Joint, ...]]:
    """A 0.5 x 0.4 x 0.3 m cabinet open at -Y (walls 2 cm) holding a closed 0.44 x 0.37 x
    0.24 m drawer with 1 cm clearance, its front flush with the cabinet's front.

    True joint: prismatic along +-Y, sliding out (-Y) by up to the drawer's depth."""
    t = 0.02
    cab = [_box([-0.25, -0.2, 0.0], [0.25, 0.2, t]),  # bottom
           _box([-0.25, -0.2, 0.3 - t], [0.25, 0.2, 0.3]),  # top
           _box([-0.25, -0.2, t], [-0.25 + t, 0.2, 0.3 - t]),  # left
           _box([0.25 - t, -0.2, t], [0.25, 0.2, 0.3 - t]),  # right
           _box([-0.25 + t, 0.2 - t, t], [0.25 - t, 0.2, 0.3 - t])]  # back
    drawer = [_box([-0.22, -0.2, 0.03], [0.22, 0.17, 0.27])]
    j = Joint("drawer_slide", "prismatic", "cabinet", "drawer", np.array([0.0, -0.015, 0.15]),
              np.array([0.0, -1.0, 0.0]), 0.0, 0.37)
    return _assemble("cabinet_with_drawer", {"cabinet": cab, "drawer": drawer}, [j])


def two_link_arm() -> tuple[Asset, tuple[Joint, ...]]:
    """A base block with a stop post, a 0.4 m first link turning about Z on a boss, and a
    0.3 m second link turning about Z on a boss above the first link's far end.

    True joints: shoulder revolute about Z through (0, 0, 0.1) with limits set by the stop
    post (about +-150 degrees); elbow continuous about Z through (0.36, 0, 0.16)."""
    base = [_box([-0.1, -0.1, 0.0], [0.1, 0.1, 0.1]),
            _box([-0.2, -0.03, 0.0], [-0.14, 0.03, 0.2])]  # stop post, reaching the link's height
    link1 = [_cylinder([0.0, 0.0, 0.11], [0, 0, 1], 0.03, 0.02),
             _box([-0.04, -0.03, 0.12], [0.4, 0.03, 0.16])]
    link2 = [_cylinder([0.36, 0.0, 0.17], [0, 0, 1], 0.03, 0.02),
             _box([0.32, -0.03, 0.18], [0.66, 0.03, 0.22])]
    joints = [Joint("shoulder", "revolute", "base", "link1", np.array([0.0, 0.0, 0.1]),
                    np.array([0.0, 0.0, 1.0]), -np.deg2rad(150), np.deg2rad(150)),
              Joint("elbow", "continuous", "link1", "link2", np.array([0.36, 0.0, 0.16]),
                    np.array([0.0, 0.0, 1.0]))]
    return _assemble("two_link_arm", {"base": base, "link1": link1, "link2": link2}, joints)


def crossed_blades() -> tuple[Asset, tuple[Joint, ...]]:
    """Two flat blades 4 cm wide and 1 cm thick, one lying on the other and crossing it at 30
    degrees about the origin (a pair of scissors without handles, a linkage pin): the lower
    blade 0.6 m long along X, the upper 0.5 m long.

    True joint: continuous about Z through (0, 0, 0.01) (the blades turn in parallel planes)."""
    import trimesh

    lower = [_box([-0.3, -0.02, 0.0], [0.3, 0.02, 0.01])]
    upper = _box([-0.25, -0.02, 0.01], [0.25, 0.02, 0.02])
    upper.apply_transform(trimesh.transformations.rotation_matrix(np.deg2rad(30.0), [0, 0, 1]))
    j = Joint("pin", "continuous", "lower", "upper", np.array([0.0, 0.0, 0.01]), np.array([0.0, 0.0, 1.0]))
    return _assemble("crossed_blades", {"lower": lower, "upper": [upper]}, [j])


def motor_with_bracket() -> tuple[Asset, tuple[Joint, ...]]:
    """A 0.2 x 0.1 x 0.06 m block; a motor disc (radius 4 cm, 2 cm thick, axis Y) against its
    +Y face, overlapping the block's end by 1 cm only; a bar bolted to the disc's outer face
    off its axis, hanging down (pybullet_data's minitaur mounts its legs so).

    True joint: continuous about Y through the disc centre (0.13, 0.06, 0)."""
    block = [_box([-0.1, -0.05, -0.03], [0.1, 0.05, 0.03])]
    rotor = [_cylinder([0.13, 0.06, 0.0], [0, 1, 0], 0.04, 0.02),
             _box([0.12, 0.07, -0.15], [0.14, 0.08, -0.01])]
    j = Joint("motor", "continuous", "block", "rotor", np.array([0.13, 0.06, 0.0]), np.array([0.0, 1.0, 0.0]))
    return _assemble("motor_with_bracket", {"block": block, "rotor": rotor}, [j])
