"""USD export (``asset.usda`` / ``asset.usdc``) following the UsdGeom, UsdShade and UsdPhysics schemas.

Written as Isaac Sim / Isaac Lab (PhysX) and Newton's ``ModelBuilder.add_usd`` read them::

    /<name>                       Xform, default prim; customData["n4d4d"] = provenance
      /Looks                      Scope: visual (UsdPreviewSurface) and physics materials
      /<part>                     Xform at the part frame: RigidBodyAPI, MassAPI
                                  (+ ArticulationRootAPI on the root of a jointed tree)
        /visual                   Mesh (points, normals, primvars:st, displayColor, material)
                                  or, with a skeleton, /skin: SkelRoot (see usd_skel.py)
        /collisions               Scope
          /hull_000 ...           Mesh, purpose guide, invisible; CollisionAPI,
                                  MeshCollisionAPI approximation "convexHull",
                                  NewtonMeshCollisionAPI, MjcCollisionAPI,
                                  flat (faceVarying) normals,
                                  physics material bound with the "physics" purpose
          /shape_000 ...          the input's analytic colliders (a URDF's box, sphere,
                                  cylinder, capsule): Cube (scaled) / Sphere / Cylinder /
                                  Capsule, guide, invisible; CollisionAPI, MjcCollisionAPI
      /joints/<joint>             PhysicsRevoluteJoint / PhysicsPrismaticJoint / PhysicsFixedJoint
      /joints/root_joint          a fixed-base asset only: PhysicsFixedJoint from the world to the
                                  root body (the ArticulationRootAPI then on /<name>, not the body)
    /physicsScene                 gravity n4d4d.conventions.GRAVITY (outside the default prim, so a
                                  stage that references the asset keeps its own scene)

Stage metadata: upAxis "Z", metersPerUnit 1, kilogramsPerUnit 1, and ``customLayerData``
``n4d4d`` (source, sha256, seed, versions). Part frames follow :mod:`n4d4d.kinematics`: each rigid body
sits at its part origin with the asset's orientation, its meshes in that frame.

Joints: the UsdPhysics axis token is the coordinate axis nearest to ``Joint.axis`` and the joint
frame (``localRot0`` / ``localRot1``) is rotated so that token maps exactly onto ``Joint.axis``;
``localPos0`` is the pivot in the parent body, ``localPos1`` in the child (its origin). Revolute
limits are degrees, prismatic limits metres; continuous joints are revolute joints without limits.
Each movable joint carries a force DriveAPI ("angular" or "linear") from ``asset.drives`` (the
servo the mass stage computed once and the physics certificate tested: a critically damped
position servo at 10 Hz for the joint's effective inertia, holding the rest coordinate):
``targetPosition``, ``maxForce`` and the gains, converted only (:func:`usd_drive`): UsdPhysics
angular drives are per degree (stiffness torque/degree, damping torque s/degree, targets in
degrees), so an angular drive's stiffness and damping are ``kp * pi / 180`` and
``kd * pi / 180`` of the SI per-radian gains; linear drives are N/m and N s/m as they are
(Newton's importer divides angular gains by pi/180 again). A joint without a stored drive gets
zero gains and ``maxForce`` = ``Joint.effort``. ``Joint.velocity`` has no UsdPhysics attribute and
is written as PhysxSchema's ``physxJoint:maxJointVelocity`` (PhysxJointAPI, read by Isaac Sim)
and Newton's ``newton:velocityLimit`` (NewtonJointAPI), both degrees/s for revolute joints and
m/s for prismatic ones.

Motion clips: time samples of every part's ``xformOp:translate`` / ``xformOp:orient`` from
forward kinematics (root poses and joint tracks), and of the visual points when the clip has
per-frame vertices (in the part frame). Clips are laid end to end on one timeline, one time code
apart; ``timeCodesPerSecond`` comes from the first clip's median sample interval, and each
clip's range is in ``customLayerData["n4d4d"]["clips"]``. Default (non-time) values stay the
rest pose, which is what physics parsers read. This is kinematic playback for viewers and
kinematic drivers: a simulation ignores authored xforms of dynamic bodies. (Variants were not
used: an attribute's rest default in the root layer would outrank a variant's time samples.)
With a skeleton, each clip's ``joint_rotations`` also become a ``UsdSkel.Animation`` on the
same timeline (see :mod:`.usd_skel`).

Not written: tendons, actuator prims (Newton / Isaac Lab actuator models), contact offsets,
PhysX-specific schemas beyond ``physxJoint:maxJointVelocity``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset, Drive, Mesh
from n4d4d.conventions import GRAVITY, GRAVITY_MAGNITUDE
from n4d4d.errors import ExportError
from n4d4d.io.atomic import atomic_path, atomic_write_bytes
from n4d4d.kinematics import (PartFrame, body_prim_names, effective_type, joint_names, kinematic_tree, part_poses,
                              quat_between, safe_name, unit_axis, welded_pairs)

from ._common import cleanup_on_failure, part_visual, provenance_info, require_exportable

_AXES = ("X", "Y", "Z")


def write_usd(asset: Asset, path: Path) -> Path:
    """Write ``asset`` as a USD stage at ``path`` (``.usda`` text or ``.usdc`` crate, by suffix).

    A base-colour texture is written beside it as ``textures/base_color_<hash>.png`` and
    referenced by a relative asset path. Every file is written atomically; on failure nothing
    new is left in ``path.parent``.

    Args:
        asset: an asset with parts, collision hulls and mass properties per part (SI units,
            Z up, asset frame).
        path: target file; its suffix picks the format.

    Returns:
        ``path``.

    Raises:
        ExportError: the suffix is not .usda/.usdc/.usd, the asset lacks parts, hulls or mass,
            the joints do not form a forest, or pxr fails to write.
    """
    path = Path(path)
    if path.suffix not in (".usda", ".usdc", ".usd"):
        raise ExportError(f"USD file name must end in .usda, .usdc or .usd, got '{path.name}'", asset.name)
    require_exportable(asset, "USD")
    frames = kinematic_tree(asset)
    with cleanup_on_failure(path.parent):
        stage = build_stage(asset, frames, path.parent)
        with atomic_path(path) as tmp:
            if not stage.GetRootLayer().Export(str(tmp)):
                raise ExportError(f"pxr could not write {path.name}", asset.name)
    return path


def build_stage(asset: Asset, frames: list[PartFrame], out_dir: Path):
    """Build the in-memory ``Usd.Stage`` of ``asset`` (textures are written into ``out_dir``)."""
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics

    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    root_name = safe_name(asset.name)
    root = UsdGeom.Xform.Define(stage, f"/{root_name}").GetPrim()
    stage.SetDefaultPrim(root)
    info = provenance_info(asset)  # nothing from asset.physics: the file Newton checks is the one that ships
    stage.GetRootLayer().customLayerData = {"n4d4d": info}
    root.SetCustomDataByKey("n4d4d", info)
    scene = UsdPhysics.Scene.Define(stage, "/physicsScene")
    scene.CreateGravityDirectionAttr(Gf.Vec3f(*(GRAVITY / GRAVITY_MAGNITUDE).tolist()))
    scene.CreateGravityMagnitudeAttr(GRAVITY_MAGNITUDE)
    looks = UsdGeom.Scope.Define(stage, root.GetPath().AppendChild("Looks")).GetPath()
    prim_names = body_prim_names(frames)
    has_children = {f.parent for f in frames if f.parent is not None}
    skinned = asset.skeleton is not None and asset.skin_weights is not None
    body_paths: dict[str, Sdf.Path] = {}
    visual_prims: dict[str, tuple] = {}
    for f in frames:
        body_path = root.GetPath().AppendChild(prim_names[f.name])
        body_paths[f.name] = body_path
        xf = UsdGeom.Xform.Define(stage, body_path)
        xf.AddTranslateOp(UsdGeom.XformOp.PrecisionDouble).Set(Gf.Vec3d(*f.origin))
        xf.AddOrientOp(UsdGeom.XformOp.PrecisionDouble).Set(Gf.Quatd(1.0))
        prim = xf.GetPrim()
        UsdPhysics.RigidBodyAPI.Apply(prim)
        _mass_api(prim, asset, f)
        if f.parent is None and f.name in has_children and not asset.fixed_base:
            UsdPhysics.ArticulationRootAPI.Apply(prim)
        vis, index = part_visual(asset, f.part)
        material = _visual_material(stage, looks, f.name, vis, out_dir)
        if skinned and f.joint is None and index is not None and not visual_prims.get("__skin__"):
            from .usd_skel import add_skinned_mesh

            mesh_prim = add_skinned_mesh(stage, asset, body_path.AppendChild("skin"), vis, index, f.origin)
            visual_prims["__skin__"] = (mesh_prim, None, f.origin)
        else:
            mesh_prim = define_mesh(stage, body_path.AppendChild("visual"), vis, f.origin)
            visual_prims[f.name] = (mesh_prim, index, f.origin)
        if material is not None:
            from pxr import UsdShade

            UsdShade.MaterialBindingAPI.Apply(mesh_prim).Bind(material)
        _collisions(stage, asset, f, body_path, _physics_material(stage, looks, asset, f))
    if asset.joints or asset.fixed_base:
        joints_path = root.GetPath().AppendChild("joints")
        UsdGeom.Scope.Define(stage, joints_path)
        prims = joint_names(frames)
        if asset.fixed_base:
            _world_joints(stage, joints_path, frames, body_paths, set(prims.values()), has_children)
        for f in frames:
            if f.joint is not None:
                _joint(stage, joints_path.AppendChild(prims[f.joint.name]), asset, f, frames[f.parent_index],
                       body_paths, asset.drives.get(f.joint.name))
    for i, j in welded_pairs(frames):  # neighbours through parts welded by fixed joints do not collide
        UsdPhysics.FilteredPairsAPI.Apply(stage.GetPrimAtPath(body_paths[frames[i].name])).CreateFilteredPairsRel(
        ).AddTarget(body_paths[frames[j].name])
    if asset.motion_clips:
        codes = _timeline(stage, asset)
        if skinned and "__skin__" in visual_prims:
            from .usd_skel import add_animations

            add_animations(stage, asset, visual_prims["__skin__"][0], codes)
        _rigid_motion(stage, asset, frames, body_paths, visual_prims, codes)
    return stage


def define_mesh(stage, path, mesh: Mesh, origin: np.ndarray, guide: bool = False):
    """Define a ``UsdGeom.Mesh`` at ``path`` from ``mesh`` moved into a part frame at ``origin``.

    Writes points ``(V, 3)`` (m, float32), faceVertexCounts / faceVertexIndices (a mesh's quads,
    :attr:`Mesh.quad_count`, as 4-sided faces, then its triangles), extent,
    subdivisionScheme "none", normals (SimReady VG.027: a polygonal mesh authors them; the mesh's
    vertex normals, else area-weighted ones; a guide (hull) mesh gets flat faceVarying normals),
    ``primvars:st`` (texCoord2f, vertex, v flipped to
    USD's v-up) and ``primvars:displayColor`` / ``displayOpacity`` (vertex colours, else base
    colour as a constant). ``guide=True`` makes it purpose "guide" and invisible. Returns the prim.
    """
    from pxr import Gf, Sdf, UsdGeom, Vt

    gm = UsdGeom.Mesh.Define(stage, path)
    pts = np.asarray(mesh.vertices - origin, np.float32)
    gm.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(pts))
    q = mesh.quad_count  # quads (--topology quad) first, as quads, then the triangles
    counts = np.concatenate([np.full(q, 4, np.int32), np.full(len(mesh.faces) - 2 * q, 3, np.int32)])
    indices = np.concatenate([mesh.quads.ravel(), mesh.faces[2 * q:].ravel()]).astype(np.int32)
    gm.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(counts))
    gm.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(indices))
    gm.CreateExtentAttr([Gf.Vec3f(*pts.min(axis=0).tolist()), Gf.Vec3f(*pts.max(axis=0).tolist())])
    gm.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    gm.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)
    gm.CreateDoubleSidedAttr(False)
    if guide:
        gm.CreatePurposeAttr(UsdGeom.Tokens.guide)
        gm.CreateVisibilityAttr(UsdGeom.Tokens.invisible)
        # a polygonal mesh (subdivisionScheme "none") needs authored normals (SimReady VG.027):
        # a convex hull is flat-shaded, so one face normal per face corner
        gm.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(np.repeat(face_normals(mesh), 3, axis=0)))
        gm.SetNormalsInterpolation(UsdGeom.Tokens.faceVarying)
        return gm.GetPrim()
    normals = mesh.normals
    if normals is None:  # VG.027 again: area-weighted vertex normals of the mesh itself
        from n4d4d.volume.remesh import vertex_normals

        normals = vertex_normals(mesh.vertices, mesh.faces)
    gm.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(np.asarray(normals, np.float32)))
    gm.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    api = UsdGeom.PrimvarsAPI(gm)
    if mesh.uvs is not None:
        st = np.column_stack([mesh.uvs[:, 0], 1.0 - mesh.uvs[:, 1]]).astype(np.float32)
        api.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex).Set(
            Vt.Vec2fArray.FromNumpy(st))
    if mesh.vertex_colors is not None:
        rgba = mesh.vertex_colors.astype(np.float32) / 255.0
        gm.CreateDisplayColorPrimvar(UsdGeom.Tokens.vertex).Set(Vt.Vec3fArray.FromNumpy(rgba[:, :3].copy()))
        gm.CreateDisplayOpacityPrimvar(UsdGeom.Tokens.vertex).Set(Vt.FloatArray.FromNumpy(rgba[:, 3].copy()))
    elif mesh.base_color is not None:
        c = mesh.base_color
        gm.CreateDisplayColorPrimvar(UsdGeom.Tokens.constant).Set([Gf.Vec3f(*map(float, c[:3]))])
        gm.CreateDisplayOpacityPrimvar(UsdGeom.Tokens.constant).Set([float(c[3])])
    return gm.GetPrim()


def face_normals(mesh: Mesh) -> np.ndarray:
    """``(F, 3) float32`` unit face normals of ``mesh`` (counter-clockwise winding seen from
    outside, so they point outwards); a degenerate face gets ``(0, 0, 1)``."""
    v, f = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces)
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 0, n / np.where(length > 0, length, 1.0), [0.0, 0.0, 1.0])
    return n.astype(np.float32)


def _visual_material(stage, looks, part: str, mesh: Mesh, out_dir: Path):
    """A UsdPreviewSurface material for a textured, base-coloured or vertex-coloured mesh, or
    None. Vertex colours reach the surface through a ``UsdPrimvarReader_float3`` of
    ``displayColor`` (fallback: the base colour), as a bound material hides the primvar from
    renderers otherwise."""
    if mesh.base_color is None and mesh.vertex_colors is None and (mesh.texture_png is None or mesh.uvs is None):
        return None
    from pxr import Gf, Sdf, UsdShade

    mat = UsdShade.Material.Define(stage, looks.AppendChild(f"{part}_visual"))
    surf = UsdShade.Shader.Define(stage, mat.GetPath().AppendChild("PreviewSurface"))
    surf.CreateIdAttr("UsdPreviewSurface")
    surf.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.6)
    surf.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    color = mesh.base_color if mesh.base_color is not None else np.ones(4)
    if mesh.texture_png is not None and mesh.uvs is not None:
        digest = hashlib.sha256(mesh.texture_png).hexdigest()[:12]
        rel = f"textures/base_color_{digest}.png"
        atomic_write_bytes(Path(out_dir) / rel, mesh.texture_png)
        reader = UsdShade.Shader.Define(stage, mat.GetPath().AppendChild("stReader"))
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
        tex = UsdShade.Shader.Define(stage, mat.GetPath().AppendChild("baseColorTexture"))
        tex.CreateIdAttr("UsdUVTexture")
        tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(Sdf.AssetPath(f"./{rel}"))
        tex.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        tex.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("repeat")
        tex.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("repeat")
        tex.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*map(float, color)))
        tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
            reader.ConnectableAPI(), "result")
        rgb = tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        surf.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(rgb)
    elif mesh.vertex_colors is not None:
        reader = UsdShade.Shader.Define(stage, mat.GetPath().AppendChild("displayColorReader"))
        reader.CreateIdAttr("UsdPrimvarReader_float3")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("displayColor")
        reader.CreateInput("fallback", Sdf.ValueTypeNames.Float3).Set(Gf.Vec3f(*map(float, color[:3])))
        surf.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(
            reader.CreateOutput("result", Sdf.ValueTypeNames.Float3))
    else:
        surf.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(*map(float, color[:3])))
    surf.CreateInput("opacity", Sdf.ValueTypeNames.Float).Set(float(color[3]))
    mat.CreateSurfaceOutput().ConnectToSource(surf.ConnectableAPI(), "surface")
    return mat


def _physics_material(stage, looks, asset: Asset, f: PartFrame):
    """The part's UsdPhysics material: friction, restitution, density of its mass properties."""
    from pxr import UsdPhysics, UsdShade

    mat = UsdShade.Material.Define(stage, looks.AppendChild(f"{f.name}_physics"))
    api = UsdPhysics.MaterialAPI.Apply(mat.GetPrim())
    m = asset.material
    api.CreateStaticFrictionAttr(float(m.static_friction))
    api.CreateDynamicFrictionAttr(float(m.dynamic_friction))
    api.CreateRestitutionAttr(float(m.restitution))
    api.CreateDensityAttr(float(asset.mass[f.part.name].density))
    return mat


def _mass_api(prim, asset: Asset, f: PartFrame) -> None:
    from pxr import Gf, UsdPhysics

    mp = asset.mass[f.part.name]
    api = UsdPhysics.MassAPI.Apply(prim)
    api.CreateMassAttr(float(mp.mass))
    api.CreateCenterOfMassAttr(Gf.Vec3f(*map(float, np.asarray(mp.center_of_mass) - f.origin)))
    api.CreateDiagonalInertiaAttr(Gf.Vec3f(*map(float, mp.principal_moments)))
    w, x, y, z = map(float, np.asarray(mp.principal_axes, np.float64) / np.linalg.norm(mp.principal_axes))
    api.CreatePrincipalAxesAttr(Gf.Quatf(w, Gf.Vec3f(x, y, z)))


def _collisions(stage, asset: Asset, f: PartFrame, body_path, physics_material) -> None:
    from pxr import UsdGeom, UsdPhysics, UsdShade

    scope = UsdGeom.Scope.Define(stage, body_path.AppendChild("collisions"))
    scope.CreatePurposeAttr(UsdGeom.Tokens.guide)
    for k, hull in enumerate(asset.collision[f.part.name]):
        if len(hull.faces) == 0:
            raise ExportError(f"part '{f.part.name}' hull {k} is empty", asset.name)
        if hull.primitive is not None:  # an analytic collider stays one (UsdPhysics shape colliders)
            prim = define_primitive(stage, scope.GetPath().AppendChild(f"shape_{k:03d}"), hull.primitive, f.origin)
            UsdPhysics.CollisionAPI.Apply(prim)
            prim.AddAppliedSchema("MjcCollisionAPI")
        else:
            prim = define_mesh(stage, scope.GetPath().AppendChild(f"hull_{k:03d}"), hull, f.origin, guide=True)
            UsdPhysics.CollisionAPI.Apply(prim)
            UsdPhysics.MeshCollisionAPI.Apply(prim).CreateApproximationAttr(UsdPhysics.Tokens.convexHull)
            # each engine's own collider schema, as SimReady NEWTON.COL.001 / MUJOCO.COL.001 ask:
            # no attributes authored, so every engine keeps its defaults for the convex hull
            prim.AddAppliedSchema("NewtonMeshCollisionAPI")
            prim.AddAppliedSchema("MjcCollisionAPI")
        UsdShade.MaterialBindingAPI.Apply(prim).Bind(
            physics_material, UsdShade.Tokens.weakerThanDescendants, "physics")


def define_primitive(stage, path, prim, origin: np.ndarray):
    """Define the analytic collider ``prim`` (:class:`~n4d4d.asset.CollisionPrimitive`) at
    ``path`` in a part frame at ``origin`` (m): a box as a ``UsdGeom.Cube`` of size 1 scaled to
    its extents, a sphere, cylinder or capsule (axis "Z", ``height`` the cylinder's length, a
    capsule's between its cap centres, as UsdGeom.Capsule defines it) by its radius. Pose as
    translate + orient ops (+ scale for a box); extent authored; purpose "guide", invisible.
    Returns the prim."""
    from pxr import Gf, UsdGeom

    kind, size = prim.kind, prim.size
    if kind == "box":
        g = UsdGeom.Cube.Define(stage, path)
        g.CreateSizeAttr(1.0)
        half = np.full(3, 0.5)
    elif kind == "sphere":
        g = UsdGeom.Sphere.Define(stage, path)
        g.CreateRadiusAttr(float(size[0]))
        half = np.full(3, size[0])
    else:
        g = (UsdGeom.Cylinder if kind == "cylinder" else UsdGeom.Capsule).Define(stage, path)
        g.CreateRadiusAttr(float(size[0]))
        g.CreateHeightAttr(float(size[1]))
        g.CreateAxisAttr(UsdGeom.Tokens.z)
        half = np.array([size[0], size[0], 0.5 * size[1] + (size[0] if kind == "capsule" else 0.0)])
    g.CreateExtentAttr([Gf.Vec3f(*(-half).tolist()), Gf.Vec3f(*half.tolist())])
    T = np.asarray(prim.transform, np.float64)
    w, x, y, z = _matrix_to_wxyz(T[:3, :3])
    g.AddTranslateOp().Set(Gf.Vec3d(*map(float, T[:3, 3] - origin)))
    g.AddOrientOp().Set(Gf.Quatf(float(w), Gf.Vec3f(float(x), float(y), float(z))))
    if kind == "box":
        g.AddScaleOp().Set(Gf.Vec3f(*map(float, size)))
    g.CreatePurposeAttr(UsdGeom.Tokens.guide)
    g.CreateVisibilityAttr(UsdGeom.Tokens.invisible)
    return g.GetPrim()


def usd_drive(drive: Drive) -> tuple[float, float, float]:
    """UsdPhysics DriveAPI ``(stiffness, damping, targetPosition)`` of a stored drive.

    ``asset.drives`` holds SI gains (N m/rad and N m s/rad for angular drives, N/m and N s/m
    for linear ones) and a target in rad or m; UsdPhysics angular drives are per degree
    (stiffness torque/degree, damping torque s/degree, target in degrees), so angular values
    are converted; linear ones are written as they are. Nothing is computed here.
    """
    if drive.kind == "linear":
        return float(drive.stiffness), float(drive.damping), float(drive.target)
    per_degree = np.pi / 180.0
    return (float(drive.stiffness * per_degree), float(drive.damping * per_degree),
            float(np.degrees(drive.target)))


def _world_joints(stage, joints_path, frames: list[PartFrame], body_paths, taken: set[str],
                  has_children: set) -> None:
    """A fixed-base asset (:attr:`~n4d4d.asset.Asset.fixed_base`): each root body welded to the
    world where it stands, as Isaac Lab's URDF importer writes ``fix_base``: a
    ``PhysicsFixedJoint`` named ``root_joint`` (``root_joint_<body>`` for a second root) with
    ``body1`` the root and no ``body0`` (the world), its frame at the root's origin
    (``localPos0`` the root's position in the world, ``localPos1`` 0). The ``ArticulationRootAPI``
    goes on the asset's default prim, an ancestor of that joint and of every body, as Isaac
    Lab's importer puts it (PhysX: a fixed-base articulation's root is the joint to the world or
    an ancestor of it; on the root body it would be a floating base)."""
    from pxr import Gf, UsdPhysics

    for f in frames:
        if f.parent is not None:
            continue
        name = "root_joint" if "root_joint" not in taken else f"root_joint_{safe_name(f.name)}"
        taken.add(name)
        joint = UsdPhysics.FixedJoint.Define(stage, joints_path.AppendChild(name))
        joint.CreateBody1Rel().SetTargets([body_paths[f.name]])
        joint.CreateLocalPos0Attr(Gf.Vec3f(*map(float, f.origin)))
        joint.CreateLocalRot0Attr(Gf.Quatf(1.0))
        joint.CreateLocalPos1Attr(Gf.Vec3f(0.0, 0.0, 0.0))
        joint.CreateLocalRot1Attr(Gf.Quatf(1.0))
        if f.name in has_children:
            UsdPhysics.ArticulationRootAPI.Apply(stage.GetPrimAtPath(joints_path.GetParentPath()))


def _joint(stage, path, asset: Asset, f: PartFrame, parent: PartFrame, body_paths,
           stored: Drive | None = None) -> None:
    from pxr import Gf, Sdf, UsdPhysics

    j, kind = f.joint, effective_type(f.joint)
    if kind in ("revolute", "continuous"):
        joint = UsdPhysics.RevoluteJoint.Define(stage, path)
    elif kind == "prismatic":
        joint = UsdPhysics.PrismaticJoint.Define(stage, path)
    elif kind == "fixed":
        joint = UsdPhysics.FixedJoint.Define(stage, path)
    else:
        raise ExportError(f"joint '{j.name}' has unknown type '{j.type}'", asset.name)
    joint.CreateBody0Rel().SetTargets([body_paths[parent.name]])
    joint.CreateBody1Rel().SetTargets([body_paths[f.name]])
    rot = Gf.Quatf(1.0)
    if kind != "fixed":
        axis = unit_axis(j, asset.name)
        k = int(np.argmax(np.abs(axis)))
        w, x, y, z = quat_between(np.eye(3)[k], axis)
        rot = Gf.Quatf(float(w), Gf.Vec3f(float(x), float(y), float(z)))
        joint.CreateAxisAttr(_AXES[k])
    joint.CreateLocalPos0Attr(Gf.Vec3f(*map(float, f.origin - parent.origin)))
    joint.CreateLocalRot0Attr(rot)
    joint.CreateLocalPos1Attr(Gf.Vec3f(0.0, 0.0, 0.0))
    joint.CreateLocalRot1Attr(rot)
    if kind == "revolute":
        joint.CreateLowerLimitAttr(float(np.degrees(j.lower)))
        joint.CreateUpperLimitAttr(float(np.degrees(j.upper)))
    elif kind == "prismatic":
        if not (np.isfinite(j.lower) and np.isfinite(j.upper)):
            raise ExportError(f"prismatic joint '{j.name}' needs finite limits", asset.name)
        joint.CreateLowerLimitAttr(float(j.lower))
        joint.CreateUpperLimitAttr(float(j.upper))
    if kind != "fixed":
        drive = UsdPhysics.DriveAPI.Apply(joint.GetPrim(), "linear" if kind == "prismatic" else "angular")
        drive.CreateTypeAttr(UsdPhysics.Tokens.force)
        # the servo the mass stage stored (asset.drives), in DriveAPI units; none: zero gains
        stiffness, damping, target = usd_drive(stored) if stored is not None else (0.0, 0.0, 0.0)
        drive.CreateMaxForceAttr(float(stored.max_force) if stored is not None else float(j.effort))
        drive.CreateTargetPositionAttr(target)  # the rest coordinate
        drive.CreateStiffnessAttr(stiffness)
        drive.CreateDampingAttr(damping)
        # PhysxSchema's PhysxJointAPI (read by Isaac Sim and Newton): deg/s angular, m/s linear
        joint.GetPrim().AddAppliedSchema("PhysxJointAPI")
        velocity = float(j.velocity) if kind == "prismatic" else float(np.degrees(j.velocity))
        joint.GetPrim().CreateAttribute("physxJoint:maxJointVelocity", Sdf.ValueTypeNames.Float,
                                        custom=False).Set(velocity)
        joint.GetPrim().AddAppliedSchema("NewtonJointAPI")  # newton-usd-schemas: the same units
        joint.GetPrim().CreateAttribute("newton:velocityLimit", Sdf.ValueTypeNames.Float,
                                        custom=False).Set(velocity)


def time_codes_per_second(times: np.ndarray) -> float:
    """Time codes per second for sample times (s): 1 / median interval, rounded; 24 if one sample."""
    dt = np.diff(np.asarray(times, np.float64))
    if len(dt) == 0 or not np.all(dt > 0):
        return 24.0
    return float(max(1.0, round(1.0 / float(np.median(dt)))))


def clip_time_codes(asset: Asset) -> tuple[float, list[np.ndarray]]:
    """The stage's timeCodesPerSecond and each clip's time codes on the shared timeline.

    Clips are laid end to end: clip k starts one time code after clip k-1 ends, and its codes
    are ``start_k + (times - times[0]) * timeCodesPerSecond``. Raises ExportError for a clip
    whose times are empty, non-finite or not increasing.
    """
    tcps = time_codes_per_second(asset.motion_clips[0].times)
    out, start = [], 0.0
    for clip in asset.motion_clips:
        times = np.asarray(clip.times, np.float64)
        if times.ndim != 1 or len(times) == 0 or not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
            raise ExportError(f"clip '{clip.name}' needs finite, increasing sample times", asset.name)
        codes = start + (times - times[0]) * tcps
        out.append(codes)
        start = float(codes[-1]) + 1.0
    return tcps, out


def _timeline(stage, asset: Asset) -> list[np.ndarray]:
    """Set the stage's time metadata for the clips; record their ranges in customLayerData."""
    tcps, codes = clip_time_codes(asset)
    stage.SetTimeCodesPerSecond(tcps)
    stage.SetFramesPerSecond(tcps)
    stage.SetStartTimeCode(float(codes[0][0]))
    stage.SetEndTimeCode(float(codes[-1][-1]))
    layer = stage.GetRootLayer()
    data = dict(layer.customLayerData)
    info = dict(data.get("n4d4d", {}))
    info["clips"] = {safe_name(c.name): {"startTimeCode": float(k[0]), "endTimeCode": float(k[-1])}
                     for c, k in zip(asset.motion_clips, codes)}
    data["n4d4d"] = info
    layer.customLayerData = data
    return codes


def _rigid_motion(stage, asset: Asset, frames: list[PartFrame], body_paths, visual_prims,
                  all_codes: list[np.ndarray]) -> None:
    """Time samples of every part's xform ops (and visual points) from forward kinematics."""
    from pxr import Gf, UsdGeom, Vt

    for clip, codes in zip(asset.motion_clips, all_codes):
        poses = part_poses(asset, frames, clip)
        for f in frames:
            ops = UsdGeom.Xform(stage.GetPrimAtPath(body_paths[f.name])).GetOrderedXformOps()
            quats = _matrix_to_wxyz(poses[f.name][:, :3, :3])
            for t, code in enumerate(codes):
                ops[0].Set(Gf.Vec3d(*poses[f.name][t, :3, 3]), float(code))
                ops[1].Set(Gf.Quatd(float(quats[t, 0]), Gf.Vec3d(*quats[t, 1:])), float(code))
        if clip.vertices is None:
            continue
        verts = np.asarray(clip.vertices, np.float64)
        if verts.shape[:1] != (len(codes),) or (asset.visual is not None and verts.shape[1:] != asset.visual.vertices.shape):
            raise ExportError(f"clip '{clip.name}': vertices have shape {verts.shape}", asset.name)
        for key, (prim, index, _origin) in visual_prims.items():
            if index is None or key == "__skin__":
                continue
            inv = np.linalg.inv(poses[key])
            pts_attr = UsdGeom.Mesh(prim).GetPointsAttr()
            for t, code in enumerate(codes):
                local = verts[t, index] @ inv[t, :3, :3].T + inv[t, :3, 3]
                pts_attr.Set(Vt.Vec3fArray.FromNumpy(local.astype(np.float32)), float(code))


def _matrix_to_wxyz(rot: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rot).as_quat(scalar_first=True)
