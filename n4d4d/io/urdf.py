"""URDF loading: links, joints and part meshes of an articulated input, in n4d4d's frame.

What it does: parses a URDF file (ROS URDF XML spec, http://wiki.ros.org/urdf/XML) safely
(:mod:`n4d4d.io.urdf_xml`: no entities, DTDs or network) and validates it at load, each
failure a typed :class:`~n4d4d.errors.InputError` naming the file, the element and its line:
one ``<robot>`` root; links and joints named and unique; the joints forming one tree (one root
link, no link with two parents, no joint from a link to itself, no cycle anywhere); every
number finite and of the right arity (origins, axes, sizes, scales, limits, inertials); unit
axes (a zero axis on a movable joint is an error; others are normalised); revolute and
prismatic joints with a ``<limit>`` whose lower < upper, velocity > 0 and effort >= 0; mass
>= 0 and a positive semi-definite inertia where given; mesh files that exist, are meshes
(read by :func:`n4d4d.io.load.load_mesh` with its checks) and lie inside the URDF's folder tree
or a ``package://`` folder. It builds box / cylinder / sphere / capsule primitives, poses every
link at the rest configuration (all joint values 0) by forward kinematics, and turns the
result into an :class:`~n4d4d.asset.Asset` whose parts are the links (each link with geometry
is a part named after it, and fixed joints are kept as fixed joints; with ``merge_fixed``,
links joined by fixed joints are merged into one body, the PartNet-Mobility convention),
whose joints carry the file's ground truth in the asset frame (pivot point and unit axis in
the world frame at rest, URDF limits in rad / m), whose part meshes carry the links' visual
materials (``<material>`` colour, by name from the robot's materials or inline; the mesh
file's own colour or texture where the URDF gives none; a ``<texture>`` image on a mesh with
UVs) and whose ``collision`` holds the links' own ``<collision>`` geometry in the asset frame
(primitives as :class:`~n4d4d.asset.CollisionPrimitive` on their triangulation, meshes as
read), for the collision stage to check and use, and whose ``inertials`` hold each body's
``<inertial>`` mass, COM and inertia in the world frame at rest (:func:`file_inertials`; an
unusable one, e.g. a tensor breaking the triangle inequality, is noted and left to the mass
stage to compute; a positive mass with an unusable tensor gives the mass alone), which the mass stage uses as the parts' mass properties.

What it does not: evaluate joint values other than 0, transmissions, Gazebo tags, or make part meshes watertight (the rigging stage does that).
Links without any geometry cannot be parts: they are merged into their parent body (a movable
joint to one is dropped, with a note). PyBullet extensions (``<plane>``, ``<cdf>``) are
skipped with a note. URDF is Z up and in metres, so no axis or unit conversion is applied.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from n4d4d.errors import InputError
from n4d4d.io.urdf_bodies import file_collision, file_inertials, rigid_groups
from n4d4d.io.urdf_meshes import body_mesh, geometry_mesh, link_meshes, link_pieces, read_geometry
from n4d4d.io.urdf_model import (JOINT_TYPES, MOVABLE, SHAPES, SKIPPED_SHAPES, URDF_MESH_FORMATS, UrdfGeometry,
                                 UrdfInertial, UrdfJoint, UrdfModel, inertial_problem, parse_urdf,
                                 resolve_filename, rpy_matrix)

__all__ = ["BASE_MODES", "JOINT_TYPES", "choose_urdf_up", "MOVABLE", "SHAPES", "SKIPPED_SHAPES", "URDF_MESH_FORMATS", "UrdfGeometry", "UrdfInertial",
           "UrdfJoint", "UrdfModel", "body_mesh", "file_collision", "file_inertials", "fixed_base_rule", "geometry_mesh",
           "inertial_problem", "link_meshes", "link_pieces", "load_urdf_asset", "parse_urdf", "read_geometry",
           "resolve_filename", "rigid_groups", "rpy_matrix"]


#: Values of the ``base`` argument of :func:`load_urdf_asset` (``--base``).
BASE_MODES = ("auto", "fixed", "free")


def fixed_base_rule(model: UrdfModel, base: str = "auto") -> tuple[bool, str]:
    """Whether the robot of ``model`` is bolted to the world, and why (one sentence).

    The rule (``base="auto"``), from what the file itself says:

    - a root link named ``world`` joined to the robot by fixed joints only (the ROS / URDF
      convention: ``world`` is the fixed frame, a robot attached to it is mounted);
    - a root link whose ``<inertial>`` declares ``mass`` 0 (PyBullet's convention, which loads a
      zero-mass base as static: pybullet_data's kuka_iiwa ``lbr_iiwa_link_0``, cartpole's
      ``slideBar``).

    Anything else has a free base (a quadruped, a car, a PartNet object). A URDF says nothing
    else about its mount: an arm whose base declares a positive mass (pybullet_data's panda,
    2.9 kg) is free unless ``base="fixed"`` (``--base fixed``). ``"fixed"`` and ``"free"``
    force the answer. A ``world`` root joined by a movable joint (pybullet_data's pendulum5)
    cannot be held by a fixed base: its joint is dropped as any joint to a geometry-less link,
    and the base stays free (the sentence says so).

    Raises:
        ValueError: ``base`` is not one of :data:`BASE_MODES`.
    """
    if base not in BASE_MODES:
        raise ValueError(f"base must be one of {BASE_MODES}, got {base!r}")
    root = model.root
    if base != "auto":
        return base == "fixed", f"base {base} (asked for)"
    out = [j for j in model.joints if j.parent == root]
    if root == "world":
        if out and all(j.type == "fixed" for j in out):
            return True, "base fixed to the world: the root link 'world' holds the robot by fixed joints"
        moving = [j.name for j in out if j.type != "fixed"]
        return False, (f"base free: the root link 'world' holds the robot by movable joint(s) {', '.join(moving)}, "
                       "which a fixed base cannot keep (dropped)")
    inertial = model.inertials.get(root)
    if inertial is not None and inertial.mass == 0:
        return True, (f"base fixed to the world: the root link '{root}' declares mass 0 "
                      "(PyBullet loads a zero-mass base as static)")
    return False, "base free"


def choose_urdf_up(model: UrdfModel, geometry: str = "visual", up: str = "auto",
                   pieces: dict | None = None) -> tuple[UrdfModel, str, str]:
    """The up axis ``model`` is read with, and why: ``(model, "z" | "y", sentence)``.

    URDF is Z up by its specification, but some files are authored Y up (pybullet_data's
    laikago, whose examples load it turned): read Z up, such a robot stands on its hind legs and
    topples. ``up="auto"`` applies the rule of ``--up auto`` for meshes
    (:func:`n4d4d.io.stage.choose_up`) to the links' geometry at the rest configuration (all joint
    values 0): the file is read Y up (:data:`n4d4d.conventions.Y_UP_TO_Z_UP` as the root's pose,
    so meshes, colliders, joints and inertials all turn with it) only when the Y-up reading
    stands as authored and the Z-up one would not, or neither stands and the Y-up one rests on
    clearly more support, and, Y up, the robot stands on its limbs: the root body (the root link
    and what is welded to it) clear of the ground by more than the support tolerance, only
    other links touching it (a planar arm authored Z up, pybullet_data's TwoJointRobot, would
    otherwise be laid on its side); otherwise Z up, as written. ``"z"`` / ``"y"`` force it.
    ``pieces``: :func:`link_pieces` of ``model`` read Z up, when the caller has them (else read here).
    """
    from dataclasses import replace

    from n4d4d.asset import Mesh
    from n4d4d.conventions import Y_UP_TO_Z_UP

    if up not in ("auto", "y", "z"):
        raise ValueError(f"up must be auto, y or z, got {up!r}")
    axis, why = up, f"read {up.upper()} up (asked for)"
    if up == "auto":
        from n4d4d.io.stage import choose_up

        by_link = link_pieces(model, geometry) if pieces is None else pieces
        pieces = [m for items in by_link.values() for m in items]
        if not pieces:
            return model, "z", "Z up as URDF says (no geometry to judge)"
        mesh = body_mesh(pieces)
        axis, figures = choose_up(Mesh(mesh.vertices, mesh.faces))
        why = f"read {axis.upper()} up (--up auto): {figures['rule']}"
        if axis == "y":  # and it must stand on its limbs: its root body clear of the ground
            from n4d4d.conventions import Y_UP_TO_Z_UP as Ry
            from n4d4d.io.stage import SUPPORT_TOLERANCE

            group = rigid_groups(model, merge_fixed=True)
            z = {link: min(float((np.asarray(tm.vertices) @ Ry.T)[:, 2].min()) for tm, _ in items)
                 for link, items in by_link.items() if items}
            low = min(z.values())
            root_low = min((v for link, v in z.items() if group[link] == group[model.root]), default=np.inf)
            if root_low <= low + SUPPORT_TOLERANCE * mesh.diagonal:
                axis, why = "z", ("read Z up (--up auto): the Y-up reading stands but on its root body, not on its "
                                  "limbs: the file as written (Z up)")
    if axis == "y":
        T = np.eye(4)
        T[:3, :3] = Y_UP_TO_Z_UP
        model = replace(model, root_transform=T)
    return model, axis, why


def load_urdf_asset(path: str | Path, *, geometry: str = "visual", name: str | None = None,
                    merge_fixed: bool = True, base: str = "auto", up: str = "z"):
    """Load a URDF as an :class:`~n4d4d.asset.Asset` with parts, ground-truth joints, the
    links' visual materials and their own collision geometry.

    Args:
        path: the ``.urdf`` file.
        geometry: ``"visual"`` or ``"collision"`` meshes for the parts.
        name: asset name (default: the file's folder or stem, sanitised).
        merge_fixed: merge links joined by fixed joints into one body (the default here, for
            callers that compare rigid bodies, e.g. rigging's evaluation); False keeps every
            link with geometry as a part of its own, joined by ``"fixed"`` joints (the build's
            default, ``--merge-fixed`` off). Links without geometry join their parent's body
            either way (:func:`rigid_groups`).
        base: ``"auto"``, ``"fixed"`` or ``"free"``: whether the root is bolted to the world
            (:func:`fixed_base_rule`; the Asset's ``fixed_base``, the reason in its notes).
        up: ``"z"`` (the default: URDF's specification), ``"y"``, or ``"auto"``
            (:func:`choose_urdf_up`: a file authored Y up is turned; the reason in the notes).

    Returns:
        An Asset whose ``visual`` and ``source_mesh`` are all parts concatenated
        (``face_submesh`` = part index, ``submesh_names`` = part names), whose ``parts`` are
        the bodies (meshes as loaded, not yet watertight, with ``face_indices`` into
        ``visual``, and the URDF's visual material: ``base_color``, ``vertex_colors`` where a
        body's pieces differ, ``uvs`` / ``texture_png`` for a single textured piece), whose
        ``joints`` are the URDF joints between bodies in the asset frame (``origin`` the joint
        frame's world position at rest, m; ``axis`` the world-frame unit axis; fixed joints
        kept as ``"fixed"``) and whose ``collision`` is :func:`file_collision` (body -> the
        links' own colliders, world frame). Floating / planar joints are dropped (noted).

    Raises:
        MissingFileError, InputError: as :func:`parse_urdf` and :func:`geometry_mesh`.
        FlatMeshError, EmptyMeshError: the links together are flat or degenerate.
    """
    from n4d4d.asset import Asset, FileInertials, Joint, Mesh, Part
    from n4d4d.io.mesh_checks import check_geometry

    model = parse_urdf(path)
    fixed, why_base = fixed_base_rule(model, base)
    pieces = link_pieces(model, geometry)
    model, axis, why_up = choose_urdf_up(model, geometry, up, pieces=pieces)
    if axis == "y":  # turned: the links' geometry read again at the new root pose
        pieces = link_pieces(model, geometry)
    if not pieces:
        skipped = "; ".join(model.notes[:3])
        raise InputError("URDF links carry no geometry" + (f" ({skipped})" if skipped else ""), model.path)
    group = rigid_groups(model, merge_fixed=merge_fixed)
    bodies: dict[str, list] = {}
    for link, items in pieces.items():
        bodies.setdefault(group[link], []).extend(items)
    names = list(bodies)
    verts, faces, labels, parts = [], [], [], []
    nv = nf = 0
    for i, b in enumerate(names):
        mesh = body_mesh(bodies[b])
        v, f = mesh.vertices, mesh.faces
        parts.append(Part(b, mesh, face_indices=np.arange(nf, nf + len(f), dtype=np.int64)))
        verts.append(v)
        faces.append(f + nv)
        labels.append(np.full(len(f), i, np.int32))
        nv += len(v)
        nf += len(f)
    merged = Mesh(np.concatenate(verts), np.concatenate(faces), face_submesh=np.concatenate(labels),
                  submesh_names=tuple(names))
    check_geometry(merged.vertices, merged.faces, model.path, what="the URDF's geometry")
    Tw = model.link_transforms()
    joints, notes = [], list(model.notes)
    geometry_less = sorted(link for link in model.links if link not in pieces and group.get(link) in bodies
                           and link != group[link])
    if geometry_less:
        notes.append(f"URDF links without geometry merged into their parent's body: {', '.join(geometry_less[:8])}"
                     + (", ..." if len(geometry_less) > 8 else ""))
    for j in model.joints:
        if j.type not in MOVABLE + ("fixed",):
            notes.append(f"URDF joint '{j.name}' of type {j.type} dropped")
            continue
        pa, ch = group[j.parent], group[j.child]
        if pa == ch:  # merged (fixed, or a link without geometry)
            continue
        if pa not in bodies or ch not in bodies:
            notes.append(f"URDF joint '{j.name}' joins bodies without geometry: dropped")
            continue
        T = Tw[j.parent] @ j.origin
        if j.type == "fixed":
            joints.append(Joint(j.name, "fixed", pa, ch, T[:3, 3].copy(), T[:3, :3] @ j.axis))
        else:
            joints.append(Joint(j.name, j.type, pa, ch, T[:3, 3].copy(), T[:3, :3] @ j.axis,
                                j.lower, j.upper, j.effort, j.velocity))
    stem = name or (model.path.parent.name if model.path.stem == "mobility" else model.path.stem)
    stem = re.sub(r"[^A-Za-z0-9_]", "_", stem) or "asset"
    collision = {b: hs for b, hs in file_collision(model, group).items() if b in bodies}
    declared, masses, left_out = file_inertials(model, group, bodies)
    inertials = FileInertials(declared, merged.bounds[0].copy(), np.ptp(merged.vertices, axis=0),
                              tuple(left_out), masses) if declared or masses or left_out else None
    if fixed or why_base != "base free":
        notes.append(why_base)
    if up != "z":
        notes.append(why_up)
    return Asset(name=stem, visual=merged, source_mesh=merged, parts=tuple(parts),
                 joints=tuple(joints), collision=collision, notes=tuple(notes), inertials=inertials,
                 fixed_base=fixed)
