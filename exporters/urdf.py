"""URDF export (``asset.urdf`` + ``meshes/``), following the URDF XML specification (wiki.ros.org/urdf/XML).

One ``<link>`` per part at its part frame (see :mod:`n4d4d.kinematics`: the pivot of its parent joint,
asset orientation), holding

- ``<inertial>``: mass (kg), origin at the centre of mass (m, link frame, no rotation) and the
  full inertia tensor about it in link axes (kg m^2);
- ``<visual>``: the part's visual OBJ (with MTL / texture when textured) and a material colour;
- one ``<collision>`` per convex hull (STL).

One ``<joint>`` per asset joint: origin = child part origin minus parent part origin, axis =
``Joint.axis`` (unit, joint frame = child link frame), limits in rad (revolute) or m
(prismatic) with effort (N or N m) and velocity (rad/s or m/s); continuous joints carry effort
and velocity only. Mesh paths are relative to the URDF file. The URDF format needs one root
link: assets with several unconnected parts raise :class:`ExportError`. The asset's dynamic
friction and restitution go into each link's ``<contact>`` element (``lateral_friction``,
``restitution``), a PyBullet extension that ROS parsers ignore. The build's seed is an XML
comment ``<!-- n4d4d seed=N -->`` after the opening ``<robot>`` tag. PyBullet replaces the file's
inertia by one computed from collision shapes unless loaded with
``flags=URDF_USE_INERTIA_FROM_FILE``. Link and joint names are sanitised to ``[A-Za-z0-9_]``.

Drives: URDF has no drives. Its ``<transmission>`` only names an actuator for ros_control,
and no URDF element carries a servo's stiffness or target, so the position servos of
``asset.drives`` (written in full in USD's DriveAPI and MJCF's ``<position>`` actuators) cannot
be expressed. What can be: each driven joint's ``<dynamics damping="kd" friction="0.0"/>``, the
servo's derivative gain (N m s/rad or N s/m) as the joint's viscous damping, which is what the
servo does at its target (PyBullet and Gazebo read it as joint damping; n4d4d models no Coulomb
joint friction, hence 0). A controller must supply the stiffness (``Drive.stiffness``, in the
USD or MJCF file or ``asset.json``).

A fixed-base asset (:attr:`~n4d4d.asset.Asset.fixed_base`) gets an empty ``<link name="world"/>``
and a fixed ``world_joint`` from it to the root link (the ROS convention; n4d4d's own loader
reads it back as a fixed base, :func:`n4d4d.io.urdf.fixed_base_rule`); PyBullet users still pass
``useFixedBase=True``, which the file cannot say for them.

Not written: transmissions, ``<safety_controller>``, ``<calibration>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset
from n4d4d.errors import ExportError
from n4d4d.io.atomic import atomic_write_text
from n4d4d.kinematics import effective_type, joint_names, kinematic_tree, safe_name, unit_axis

from ._common import cleanup_on_failure, require_exportable
from ._meshfiles import write_part_meshes


def _vec(v) -> str:
    return " ".join(repr(float(x)) for x in np.asarray(v, np.float64).ravel())


def write_urdf(asset: Asset, path: Path, mesh_dir_name: str = "meshes") -> Path:
    """Write ``asset`` as URDF at ``path`` with its meshes in ``path.parent / mesh_dir_name``.

    Args:
        asset: parts with hulls and mass properties; joints forming one tree.
        path: the ``.urdf`` file to write.
        mesh_dir_name: folder beside ``path`` for the mesh files (relative paths in the URDF).

    Returns:
        ``path``.

    Raises:
        ExportError: missing hulls or mass, several root parts, a prismatic or revolute joint
            without finite limits where URDF needs them, or a write failure (nothing new is
            left behind).
    """
    path = Path(path)
    require_exportable(asset, "URDF")
    frames = kinematic_tree(asset)
    roots = [f.part.name for f in frames if f.parent is None]
    if len(roots) != 1:
        raise ExportError(f"URDF needs one root link; parts {roots} are not joined", asset.name)
    with cleanup_on_failure(path.parent):
        files = write_part_meshes(asset, frames, path.parent / mesh_dir_name)
        robot = ET.Element("robot", name=safe_name(asset.name))
        robot.append(ET.Comment(f" written by n4d4d from {asset.provenance.source if asset.provenance else asset.name}; "
                                "SI units, Z up "))
        if asset.provenance is not None:  # a comment: every URDF parser ignores it
            robot.append(ET.Comment(f" n4d4d seed={int(asset.provenance.seed)} "))
        for f in frames:
            link = ET.SubElement(robot, "link", name=f.name)
            mp = asset.mass[f.part.name]
            inertial = ET.SubElement(link, "inertial")
            ET.SubElement(inertial, "origin", xyz=_vec(np.asarray(mp.center_of_mass) - f.origin), rpy="0 0 0")
            ET.SubElement(inertial, "mass", value=repr(float(mp.mass)))
            I = np.asarray(mp.inertia, np.float64)
            ET.SubElement(inertial, "inertia", **{f"i{'xyz'[r]}{'xyz'[c]}": repr(float(I[r, c]))
                                                  for r, c in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))})
            pf = files[f.name]
            visual = ET.SubElement(link, "visual", name=f"{f.name}_visual")
            ET.SubElement(visual, "origin", xyz="0 0 0", rpy="0 0 0")
            ET.SubElement(ET.SubElement(visual, "geometry"), "mesh", filename=f"{mesh_dir_name}/{pf.visual}")
            rgba = pf.rgba if pf.rgba is not None else np.array([0.8, 0.8, 0.8, 1.0])
            material = ET.SubElement(visual, "material", name=f"{f.name}_material")
            ET.SubElement(material, "color", rgba=_vec(rgba))
            for k, (hull, mesh) in enumerate(zip(pf.hulls, asset.collision[f.part.name])):
                if mesh.primitive is not None:  # an analytic collider stays one
                    _primitive_collision(link, f"{f.name}_shape_{k:03d}", mesh.primitive, f.origin)
                    continue
                col = ET.SubElement(link, "collision", name=f"{f.name}_hull_{k:03d}")
                ET.SubElement(col, "origin", xyz="0 0 0", rpy="0 0 0")
                ET.SubElement(ET.SubElement(col, "geometry"), "mesh", filename=f"{mesh_dir_name}/{hull}")
            contact = ET.SubElement(link, "contact")
            ET.SubElement(contact, "lateral_friction", value=repr(float(asset.material.dynamic_friction)))
            ET.SubElement(contact, "restitution", value=repr(float(asset.material.restitution)))
        by_name = {f.name: f for f in frames}
        jnames = joint_names(frames)
        if asset.fixed_base:  # bolted to the world: ROS's convention, a fixed joint from a `world` link
            world = "world" if "world" not in by_name else "world_frame"
            ET.SubElement(robot, "link", name=world)
            taken = set(jnames.values())
            el = ET.SubElement(robot, "joint", name="world_joint" if "world_joint" not in taken else "world_joint_0",
                               type="fixed")
            root = next(f for f in frames if f.parent is None)
            ET.SubElement(el, "origin", xyz=_vec(root.origin), rpy="0 0 0")
            ET.SubElement(el, "parent", link=world)
            ET.SubElement(el, "child", link=root.name)
        for f in frames:
            if f.joint is None:
                continue
            j, kind = f.joint, effective_type(f.joint)
            if kind not in ("fixed", "revolute", "continuous", "prismatic"):
                raise ExportError(f"joint '{j.name}' has unknown type '{j.type}'", asset.name)
            if kind == "prismatic" and not (np.isfinite(j.lower) and np.isfinite(j.upper)):
                raise ExportError(f"prismatic joint '{j.name}' needs finite limits in URDF", asset.name)
            el = ET.SubElement(robot, "joint", name=jnames[j.name], type=kind)
            ET.SubElement(el, "origin", xyz=_vec(f.origin - by_name[f.parent].origin), rpy="0 0 0")
            ET.SubElement(el, "parent", link=f.parent)
            ET.SubElement(el, "child", link=f.name)
            if kind != "fixed":
                ET.SubElement(el, "axis", xyz=_vec(unit_axis(j, asset.name)))
                limit = {"effort": repr(float(j.effort)), "velocity": repr(float(j.velocity))}
                if kind in ("revolute", "prismatic"):
                    limit.update(lower=repr(float(j.lower)), upper=repr(float(j.upper)))
                ET.SubElement(el, "limit", **limit)
                drive = asset.drives.get(j.name)
                if drive is not None:  # the servo's derivative gain as passive viscous damping
                    ET.SubElement(el, "dynamics", damping=repr(float(drive.damping)), friction="0.0")
        ET.indent(robot)
        atomic_write_text(path, '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding="unicode") + "\n")
    return path


def _primitive_collision(link, name: str, prim, origin: np.ndarray) -> None:
    """A ``<collision>`` of the analytic shape ``prim`` in a link frame at ``origin`` (m):
    ``<box size>`` (full extents), ``<sphere radius>``, ``<cylinder radius length>`` or
    ``<capsule radius length>`` (PyBullet's and urdfdom's extension), axis along the origin's
    local Z, pose as ``xyz`` + fixed-axis ``rpy`` (rad)."""
    from scipy.spatial.transform import Rotation

    T = np.asarray(prim.transform, np.float64)
    col = ET.SubElement(link, "collision", name=name)
    rpy = Rotation.from_matrix(T[:3, :3]).as_euler("xyz")
    ET.SubElement(col, "origin", xyz=_vec(T[:3, 3] - origin), rpy=_vec(rpy))
    geometry = ET.SubElement(col, "geometry")
    if prim.kind == "box":
        ET.SubElement(geometry, "box", size=_vec(prim.size))
    elif prim.kind == "sphere":
        ET.SubElement(geometry, "sphere", radius=repr(float(prim.size[0])))
    else:
        ET.SubElement(geometry, prim.kind, radius=repr(float(prim.size[0])), length=repr(float(prim.size[1])))
