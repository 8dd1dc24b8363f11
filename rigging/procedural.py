"""Procedural articulated shapes with known joints, for tests, demos and benchmarks.

What it does: builds small objects from boxes and cylinders, each returned as an
:class:`~n4d4d.asset.Asset` whose ``visual`` mesh is all parts concatenated (``face_submesh``
labels the parts, as a multi-mesh GLB/OBJ would) together with the true joints (asset frame,
m, rad): a box with a hinged lid, a cabinet with a drawer, a two-link arm, two crossed
blades on a pin, a motor disc carrying a bracket, a keypad (a slab with 12 keys inset in
pockets), a pair of glasses (a frame and two temples on hinges), a knob on a panel, and a
cube split in two halves (no joint: two bodies glued face to face). Every part is a union
of closed primitives (watertight components; the keypad's slab a manifold3d difference),
dimensions in metres. :data:`FAMILIES` names them all (the harness's ``procedural`` set).

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


def keypad(rows: int = 4, cols: int = 3) -> tuple[Asset, tuple[Joint, ...]]:
    """A slab (``cols`` x ``rows`` keys at a 6 cm pitch, 2 cm thick, top at z = 0.02) with
    square pockets 4.2 cm wide and 8 mm deep, each holding a 4 cm key 12 mm tall whose bottom
    floats 3 mm above the pocket floor (its top 7 mm above the slab).

    True joints: prismatic along -Z (the inset normal, into the slab), travel 0 .. 3 mm (down
    to the pocket floor), one per key ``key_<row>_<col>``, parent ``slab``."""
    import trimesh

    pitch, key, pocket, top = 0.06, 0.04, 0.042, 0.02
    w, d = cols * pitch + 0.02, rows * pitch + 0.02
    slab = _box([-w / 2, -d / 2, 0.0], [w / 2, d / 2, top])
    holes, keys, joints = [], {}, []
    for r in range(rows):
        for c in range(cols):
            x, y = (c - (cols - 1) / 2) * pitch, (r - (rows - 1) / 2) * pitch
            holes.append(_box([x - pocket / 2, y - pocket / 2, top - 0.008], [x + pocket / 2, y + pocket / 2, top + 0.01]))
            name = f"key_{r}_{c}"
            keys[name] = [_box([x - key / 2, y - key / 2, top - 0.005], [x + key / 2, y + key / 2, top + 0.007])]
            joints.append(Joint(f"{name}_slide", "prismatic", "slab", name, np.array([x, y, top - 0.005]),
                                np.array([0.0, 0.0, -1.0]), 0.0, 0.003))
    slab = trimesh.boolean.difference([slab, trimesh.util.concatenate(holes)], engine="manifold")
    return _assemble("keypad", {"slab": [slab], **keys}, joints)


def glasses() -> tuple[Asset, tuple[Joint, ...]]:
    """A pair of glasses: a frame (a 14 x 4 cm front 4 mm deep with two lens openings, and an
    end piece 6 x 12 x 10 mm reaching back from each top corner) and two temples (bars 4 mm
    wide, 8 mm tall, 12.8 cm long) butting against the end pieces' back faces.

    True joints: revolute about Z through each temple's inner front edge (x = +-0.064,
    y = -0.012), the temples folding inward by about 95 degrees (until a temple's tip meets
    the front) and blocked outward."""
    import trimesh

    front = _box([-0.07, 0.0, -0.02], [0.07, 0.004, 0.02])
    lenses = trimesh.util.concatenate([_box([-0.062, -0.01, -0.015], [-0.008, 0.014, 0.015]),
                                       _box([0.008, -0.01, -0.015], [0.062, 0.014, 0.015])])
    frame = [trimesh.boolean.difference([front, lenses], engine="manifold")]
    parts, joints = {"frame": frame}, []
    for side, s in (("right", 1.0), ("left", -1.0)):
        lo, hi = sorted([s * 0.064, s * 0.070])
        frame.append(_box([lo, -0.012, 0.004], [hi, 0.0, 0.014]))
        tlo, thi = sorted([s * 0.064, s * 0.068])
        parts[f"temple_{side}"] = [_box([tlo, -0.14, 0.005], [thi, -0.012, 0.013])]
        # folding inward: the tip (at -Y) moves toward -s X, a rotation of -s about +Z
        joints.append(Joint(f"hinge_{side}", "revolute", "frame", f"temple_{side}",
                            np.array([s * 0.064, -0.012, 0.009]), np.array([0.0, 0.0, -s]), 0.0,
                            np.deg2rad(95.0)))
    return _assemble("glasses", parts, joints)


def knob_on_panel() -> tuple[Asset, tuple[Joint, ...]]:
    """A 0.3 x 0.02 x 0.2 m panel (front face at y = 0) with a knob: a disc of radius 2.5 cm,
    1.5 cm deep, on its front, axis along -Y (a stove or radio dial).

    True joint: continuous about Y through the disc centre (0, -0.0075, 0.1)."""
    panel = [_box([-0.15, 0.0, 0.0], [0.15, 0.02, 0.2])]
    knob = [_cylinder([0.0, -0.0075, 0.1], [0, 1, 0], 0.025, 0.015, sections=64)]
    j = Joint("dial", "continuous", "panel", "knob", np.array([0.0, -0.0075, 0.1]), np.array([0.0, -1.0, 0.0]))
    return _assemble("knob_on_panel", {"panel": panel, "knob": knob}, [j])


def split_cube() -> tuple[Asset, tuple[Joint, ...]]:
    """A 0.2 m cube cut in two halves at z = 0.1, labelled as two parts: two bodies glued
    face to face, which nothing says can move. True joints: none."""
    lower = [_box([-0.1, -0.1, 0.0], [0.1, 0.1, 0.1])]
    upper = [_box([-0.1, -0.1, 0.1], [0.1, 0.1, 0.2])]
    return _assemble("split_cube", {"lower": lower, "upper": upper}, [])


#: name -> builder of every family (the harness's ``procedural`` set)
FAMILIES = {f.__name__: f for f in (hinged_lid_box, cabinet_with_drawer, two_link_arm, crossed_blades,
                                    motor_with_bracket, keypad, glasses, knob_on_panel, split_cube)}
