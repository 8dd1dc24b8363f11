"""MJCF export (``asset.xml`` + ``meshes/``) built with ``mujoco.MjSpec`` (MuJoCo XML reference).

The model: ``<compiler angle="radian" meshdir="meshes" texturedir="meshes"
inertiafromgeom="false">``, gravity :data:`n4d4d.conventions.GRAVITY` (Z up), and one ``<body>`` per
part nested along the kinematic tree at its part frame (see :mod:`n4d4d.kinematics`; ``pos`` is the
offset from the parent part's origin). Each body has

- an explicit ``<inertial>``: mass (kg), centre of mass (m, body frame) and the full inertia
  tensor (``fullinertia``, kg m^2), which MuJoCo stores diagonalised (principal moments and
  ``iquat``);
- a visual mesh geom (the part's OBJ; ``contype=conaffinity=0``, group 2) with its own material
  ``<part>_material``: the part's base colour (also the geom's ``rgba``) or its texture;
- one collision mesh geom per convex hull (STL; group 3), friction ``(dynamic_friction, 0.005,
  0.0001)`` (sliding, torsional, rolling: MuJoCo's defaults for the last two);
- its joint: ``hinge`` (revolute / continuous) or ``slide`` (prismatic) at the body origin with
  ``axis`` = ``Joint.axis``; ``range`` in rad or m with ``limited="true"`` for revolute and
  prismatic joints, unlimited for continuous; ``actfrcrange = [-effort, effort]``. Fixed joints
  weld the body to its parent (no joint element). Root bodies get a ``<freejoint/>`` unless
  ``fixed_base`` (default: the asset's own :attr:`~n4d4d.asset.Asset.fixed_base`);
- for each movable joint with a stored drive (``asset.drives``, the servo the certificate
  tested), a ``<position>`` actuator ``<joint>_drive``: ``kp`` = stiffness, ``kv`` = damping
  (SI, per radian or metre), ``forcerange`` +-``max_force``; its control is the target
  coordinate (the rest coordinate 0 holds the authored pose).

The build's seed is ``<custom><text name="n4d4d_seed" data="N"/></custom>`` (:data:`SEED_TEXT`).
MuJoCo has no coefficient of restitution and no joint velocity limit: neither is written. Its
XML writer keeps 6 significant digits, so reloaded positions and masses differ from the spec's
by up to 5e-7 relative. ``spec.compile()`` is run before writing: an asset MuJoCo rejects raises
:class:`ExportError` and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from n4d4d.asset import Asset
from n4d4d.conventions import GRAVITY
from n4d4d.errors import ExportError
from n4d4d.io.atomic import atomic_write_text
from n4d4d.kinematics import effective_type, kinematic_tree, safe_name, unit_axis, welded_pairs

from ._common import cleanup_on_failure, require_exportable
from ._meshfiles import write_part_meshes


#: Name of the MJCF custom text element holding the build's seed (MuJoCo: ``mjOBJ_TEXT``).
SEED_TEXT = "n4d4d_seed"


def build_spec(asset: Asset, mesh_dir: Path, mesh_dir_name: str = "meshes", fixed_base: bool = False):
    """The ``mujoco.MjSpec`` of ``asset``, writing its mesh files into ``mesh_dir``.

    ``mesh_dir_name`` is the meshdir written into the XML (relative to the XML file); the spec's
    ``modelfiledir`` is set to ``mesh_dir.parent`` so it compiles in place. Raises ExportError
    for assets without hulls or mass, or joints that do not form a forest.
    """
    import mujoco

    require_exportable(asset, "MJCF")
    frames = kinematic_tree(asset)
    files = write_part_meshes(asset, frames, mesh_dir)
    spec = mujoco.MjSpec()
    spec.modelname = safe_name(asset.name)
    spec.compiler.degree = False
    spec.compiler.inertiafromgeom = mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_FALSE
    spec.meshdir = mesh_dir_name
    spec.texturedir = mesh_dir_name
    spec.modelfiledir = str(Path(mesh_dir).parent)
    spec.option.gravity = np.asarray(GRAVITY, np.float64)
    if asset.provenance is not None:  # <custom><text name="n4d4d_seed" data="N"/></custom>
        text = spec.add_text()
        text.name, text.data = SEED_TEXT, str(int(asset.provenance.seed))
    by_name = {f.name: f for f in frames}
    bodies = {}
    mu = float(asset.material.dynamic_friction)
    jtaken: set[str] = set()
    for f in frames:
        parent_body = spec.worldbody if f.parent is None else bodies[f.parent]
        body = parent_body.add_body()
        bodies[f.name] = body
        body.name = f.name
        body.pos = f.origin - (0.0 if f.parent is None else by_name[f.parent].origin)
        mp = asset.mass[f.part.name]
        I = np.asarray(mp.inertia, np.float64)
        body.mass = float(mp.mass)
        body.ipos = np.asarray(mp.center_of_mass, np.float64) - f.origin
        body.fullinertia = [I[0, 0], I[1, 1], I[2, 2], I[0, 1], I[0, 2], I[1, 2]]
        body.explicitinertial = True
        if f.joint is None:
            if not fixed_base:
                body.add_freejoint()
        else:
            name = _add_joint(body, f.joint, asset, jtaken)
            if name is not None and f.joint.name in asset.drives:
                _add_drive(spec, name, asset.drives[f.joint.name])
        pf = files[f.name]
        vmesh = spec.add_mesh()
        vmesh.name, vmesh.file = f"{f.name}_visual", pf.visual
        vmesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL  # visual meshes may be open
        geom = body.add_geom()
        geom.name, geom.type, geom.meshname = f"{f.name}_visual", mujoco.mjtGeom.mjGEOM_MESH, vmesh.name
        geom.contype, geom.conaffinity, geom.group = 0, 0, 2
        geom.rgba = pf.rgba if pf.rgba is not None else np.array([0.8, 0.8, 0.8, 1.0])
        if pf.texture is None and pf.rgba is not None:  # one material per visual geom: the part's colour
            mat = spec.add_material()
            mat.name, mat.rgba = f"{f.name}_material", np.clip(np.asarray(pf.rgba, np.float64), 0.0, 1.0)
            geom.material = mat.name
        if pf.texture is not None:
            tex = spec.add_texture()
            tex.name, tex.file, tex.type = f"{f.name}_base_color", pf.texture, mujoco.mjtTexture.mjTEXTURE_2D
            tex.colorspace = mujoco.mjtColorSpace.mjCOLORSPACE_SRGB  # base colour images are sRGB
            mat = spec.add_material()
            mat.name = f"{f.name}_material"
            textures = [""] * int(mujoco.mjtTextureRole.mjNTEXROLE)
            textures[int(mujoco.mjtTextureRole.mjTEXROLE_RGB)] = tex.name
            mat.textures = textures
            geom.material = mat.name
            geom.rgba = [1.0, 1.0, 1.0, 1.0]
        for k, (hull, mesh) in enumerate(zip(pf.hulls, asset.collision[f.part.name])):
            g = body.add_geom()
            if mesh.primitive is not None:  # an analytic collider stays one
                _primitive_geom(g, f"{f.name}_shape_{k:03d}", mesh.primitive, f.origin)
            else:
                cmesh = spec.add_mesh()
                cmesh.name, cmesh.file = f"{f.name}_hull_{k:03d}", hull
                g.name, g.type, g.meshname = cmesh.name, mujoco.mjtGeom.mjGEOM_MESH, cmesh.name
            g.group, g.friction = 3, [mu, 0.005, 0.0001]
            g.rgba = [0.5, 0.6, 0.9, 0.4]
    for i, j in welded_pairs(frames):  # neighbours through parts welded by fixed joints do not collide
        ex = spec.add_exclude()
        ex.bodyname1, ex.bodyname2 = frames[i].name, frames[j].name
    return spec


def _primitive_geom(g, name: str, prim, origin: np.ndarray) -> None:
    """Make MjsGeom ``g`` the analytic collider ``prim`` in a body frame at ``origin`` (m):
    MJCF box (half extents), sphere (radius), cylinder / capsule (radius, half length; axis the
    geom's local Z), ``pos`` and ``quat`` (w, x, y, z) in the body frame."""
    import mujoco
    from scipy.spatial.transform import Rotation

    T = np.asarray(prim.transform, np.float64)
    g.name = name
    g.type = {"box": mujoco.mjtGeom.mjGEOM_BOX, "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
              "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER, "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE}[prim.kind]
    size = np.zeros(3)
    if prim.kind == "box":
        size[:] = 0.5 * np.asarray(prim.size)
    elif prim.kind == "sphere":
        size[0] = prim.size[0]
    else:
        size[:2] = prim.size[0], 0.5 * prim.size[1]
    g.size = size
    g.pos = T[:3, 3] - origin
    g.quat = Rotation.from_matrix(T[:3, :3]).as_quat(scalar_first=True)


def _add_drive(spec, joint_name: str, drive) -> None:
    """A position actuator on MJCF joint ``joint_name`` from a stored :class:`~n4d4d.asset.Drive`:
    ``kp`` = stiffness, ``kv`` = damping (SI per radian or metre, MJCF's own units with
    ``angle="radian"``), force range +-``max_force``; its control is the target coordinate."""
    import mujoco

    act = spec.add_actuator()
    act.name, act.target, act.trntype = f"{joint_name}_drive", joint_name, mujoco.mjtTrn.mjTRN_JOINT
    act.set_to_position(kp=float(drive.stiffness), kv=float(drive.damping))
    act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    act.forcerange = [-float(drive.max_force), float(drive.max_force)]


def _add_joint(body, joint, asset: Asset, taken: set[str]) -> str | None:
    """Add ``joint`` to ``body``; returns its MJCF name (None for a fixed joint: a weld)."""
    import mujoco

    kind = effective_type(joint)
    if kind == "fixed":
        return None
    if kind not in ("revolute", "continuous", "prismatic"):
        raise ExportError(f"joint '{joint.name}' has unknown type '{joint.type}'", asset.name)
    j = body.add_joint()
    j.name = safe_name(joint.name, taken)
    j.type = mujoco.mjtJoint.mjJNT_SLIDE if kind == "prismatic" else mujoco.mjtJoint.mjJNT_HINGE
    j.axis = unit_axis(joint, asset.name)
    j.pos = [0.0, 0.0, 0.0]
    if kind == "continuous":
        j.limited = mujoco.mjtLimited.mjLIMITED_FALSE
    else:
        if not (np.isfinite(joint.lower) and np.isfinite(joint.upper) and joint.lower <= joint.upper):
            raise ExportError(f"joint '{joint.name}' needs finite limits lower <= upper, got "
                              f"[{joint.lower}, {joint.upper}]", asset.name)
        j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        j.range = [float(joint.lower), float(joint.upper)]
    j.actfrclimited = mujoco.mjtLimited.mjLIMITED_TRUE
    j.actfrcrange = [-float(joint.effort), float(joint.effort)]
    return j.name


def write_mjcf(asset: Asset, path: Path, mesh_dir_name: str = "meshes", fixed_base: bool | None = None) -> Path:
    """Write ``asset`` as MJCF at ``path`` with meshes in ``path.parent / mesh_dir_name``.

    Args:
        asset: parts with hulls and mass properties (SI units, Z up).
        path: the XML file to write (``asset.xml``).
        mesh_dir_name: mesh folder beside ``path``.
        fixed_base: weld root bodies to the world instead of giving them a free joint; None
            (the default): as the asset says (:attr:`~n4d4d.asset.Asset.fixed_base`).

    Returns:
        ``path``.

    Raises:
        ExportError: the asset lacks hulls or mass, a joint lacks limits, or MuJoCo's compiler
            rejects the model (its message is kept). Nothing new is left behind.
    """
    path = Path(path)
    with cleanup_on_failure(path.parent):
        fixed = bool(asset.fixed_base) if fixed_base is None else bool(fixed_base)
        spec = build_spec(asset, path.parent / mesh_dir_name, mesh_dir_name, fixed)
        try:
            from .mjcf_keyframes import add_keyframes

            add_keyframes(spec, asset)  # one <key> per motion-clip frame
            spec.compile()
        except ValueError as e:
            raise ExportError(f"MuJoCo rejects the model: {e}", asset.name) from e
        atomic_write_text(path, spec.to_xml())
    return path
