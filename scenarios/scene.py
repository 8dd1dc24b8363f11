"""Write a settled scene as ``scene.usda``: references to each asset's ``asset.usda`` at its
settled pose, one prim per environment, a ground and a PhysicsScene.

Layout (Isaac Lab's ``InteractiveSceneCfg`` clones environments as ``/World/envs/env_<i>``
on a grid ``env_spacing`` apart; this file is laid out the same way)::

    /World                          Xform, default prim
      /ground                       Plane (Z), CollisionAPI, physics material (ground friction)
      /envs/env_<i>                 Xform at the environment origin (Isaac Lab's grid order)
        /<instance>                 references @./assets/<asset>/asset.usda@ (its default prim),
                                    xformOp:translate / xformOp:orient = settled asset pose
          /<body>                   (articulated assets) translate / orient overridden to the
                                    settled link pose; joints' drive targets and
                                    PhysicsJointStateAPI positions set to the settled coordinates
          /<body>/visual_instance   (assets placed more than once) instanceable Xform sharing
                                    one prototype of the visual mesh; the referenced ``visual``
                                    is deactivated; the instance's own material is bound on it
    /Prototypes                     class: one visual prototype per repeated asset body
    /physicsScene                   UsdPhysics.Scene, gravity -Z 9.80665 m/s^2

Only visuals are instanced: colliders, rigid bodies, joints and materials stay per instance, so
per-instance randomisation (material, mass, drives) remains possible and Newton's
``ModelBuilder.add_usd`` (which walks instance proxies) and PhysX load every body. Stage
metadata: Z up, metres, kilograms. Angles in USD are degrees (drive targets, joint state).

This module writes the scene; it does not settle it (:mod:`n4d4d.scenarios.settle`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

#: Name of the scene file in the output folder.
SCENE_FILE = "scene.usda"


def env_origins(count: int, spacing: float) -> np.ndarray:
    """(count, 3) environment origins (m) on a centred grid, as Isaac Lab's cloner lays them
    out (``num_rows = ceil(count / floor(sqrt(count)))`` rows along -X, columns along +Y)."""
    rows = int(math.ceil(count / int(math.sqrt(count))))
    cols = int(math.ceil(count / rows))
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    x = -(ii.ravel()[:count] - (rows - 1) / 2) * spacing
    y = (jj.ravel()[:count] - (cols - 1) / 2) * spacing
    return np.column_stack([x, y, np.zeros(count)])


def _rigid_bodies(asset_stage):
    """Body prim name -> (prim, joint prims) of an asset's default prim."""
    from pxr import UsdPhysics

    root = asset_stage.GetDefaultPrim()
    bodies = {c.GetName(): c for c in root.GetChildren() if c.HasAPI(UsdPhysics.RigidBodyAPI)}
    joints_scope = root.GetChild("joints")
    joints = {j.GetName(): j for j in joints_scope.GetChildren()} if joints_scope else {}
    return asset_stage, root, bodies, joints


def _pose_ops(prim, position, quat_wxyz) -> None:
    from pxr import Gf, UsdGeom

    xf = UsdGeom.Xformable(prim)
    xf.ClearXformOpOrder()
    xf.AddTranslateOp(UsdGeom.XformOp.PrecisionDouble).Set(Gf.Vec3d(*map(float, position)))
    w, x, y, z = map(float, quat_wxyz)
    xf.AddOrientOp(UsdGeom.XformOp.PrecisionDouble).Set(Gf.Quatd(w, x, y, z))


def _inverse_pose(position, quat_wxyz):
    from scipy.spatial.transform import Rotation

    w, x, y, z = quat_wxyz
    r = Rotation.from_quat([x, y, z, w])
    return r.inv(), -(r.inv().apply(np.asarray(position, float)))


def _local(parent_pos, parent_q, child_pos, child_q):
    """Child pose expressed in the parent frame: (position (3,), quaternion (w, x, y, z))."""
    from scipy.spatial.transform import Rotation

    inv_r, inv_t = _inverse_pose(parent_pos, parent_q)
    w, x, y, z = child_q
    r = inv_r * Rotation.from_quat([x, y, z, w])
    t = inv_r.apply(np.asarray(child_pos, float)) + inv_t
    qx, qy, qz, qw = r.as_quat()
    return t, (qw, qx, qy, qz)


def write_scene(path: str | Path, envs, asset_files: dict[str, Path], *, env_spacing: float,
                ground_friction: float, ground_restitution: float, name: str = "scene") -> Path:
    """Write the scene of settled environments ``envs`` (:class:`~n4d4d.scenarios.settle.
    SettledEnv`) to ``path`` atomically and return it.

    Args:
        path: the ``.usda`` file; asset references are written relative to its folder.
        envs: the settled environments, in order (env ``i`` at :func:`env_origins` ``[i]``).
        asset_files: asset name -> its ``asset.usda``.
        env_spacing: m between environment origins.
        ground_friction, ground_restitution: the ground's physics material.
        name: written into the layer's ``customLayerData``.
    """
    from pxr import Usd

    from n4d4d.io.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:  # a layer beside the target, so relative references resolve
        stage = Usd.Stage.CreateNew(str(tmp))
        _author(stage, path, envs, asset_files, env_spacing, ground_friction, ground_restitution, name)
        stage.GetRootLayer().Save()
        del stage
    return path


def _author(stage, path: Path, envs, asset_files, env_spacing, ground_friction, ground_restitution, name) -> None:
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics, UsdShade

    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdPhysics.SetStageKilogramsPerUnit(stage, 1.0)
    world = UsdGeom.Xform.Define(stage, "/World").GetPrim()
    stage.SetDefaultPrim(world)
    stage.GetRootLayer().customLayerData = {"n4d4d": {"scene": name, "envs": len(envs), "env_spacing": env_spacing}}
    origins = env_origins(len(envs), env_spacing)
    extent = float(np.max(np.abs(origins[:, :2]))) * 2 + 2 * env_spacing + 10.0
    ground = UsdGeom.Plane.Define(stage, "/World/ground")
    ground.CreateAxisAttr(UsdGeom.Tokens.z)
    ground.CreateWidthAttr(extent)
    ground.CreateLengthAttr(extent)
    UsdPhysics.CollisionAPI.Apply(ground.GetPrim())
    mat = UsdShade.Material.Define(stage, "/World/Looks/ground_physics")
    pm = UsdPhysics.MaterialAPI.Apply(mat.GetPrim())
    pm.CreateStaticFrictionAttr(float(ground_friction))
    pm.CreateDynamicFrictionAttr(float(ground_friction))
    pm.CreateRestitutionAttr(float(ground_restitution))
    UsdShade.MaterialBindingAPI.Apply(ground.GetPrim()).Bind(mat, UsdShade.Tokens.weakerThanDescendants, "physics")
    scene = UsdPhysics.Scene.Define(stage, "/physicsScene")
    scene.CreateGravityDirectionAttr(Gf.Vec3f(0.0, 0.0, -1.0))
    scene.CreateGravityMagnitudeAttr(9.80665)
    UsdGeom.Xform.Define(stage, "/World/envs")
    uses: dict[str, int] = {}
    for env in envs:
        for b in env.bodies:
            if b.placed:
                uses[b.asset] = uses.get(b.asset, 0) + 1
    opened: dict[str, tuple] = {}
    prototypes: dict[tuple[str, str], Sdf.Path] = {}
    for env, origin in zip(envs, origins):
        env_path = Sdf.Path(f"/World/envs/env_{env.index}")
        _pose_ops(UsdGeom.Xform.Define(stage, env_path).GetPrim(), origin, (1, 0, 0, 0))
        for b in env.bodies:
            if not b.placed:
                continue
            file = Path(asset_files[b.asset])
            rel = "./" + Path(os.path.relpath(file, path.parent)).as_posix()
            if b.asset not in opened:
                opened[b.asset] = _rigid_bodies(Usd.Stage.Open(str(file)))
            _, root, bodies, joints = opened[b.asset]
            prim_path = env_path.AppendChild(b.key)
            prim = UsdGeom.Xform.Define(stage, prim_path).GetPrim()
            prim.GetReferences().AddReference(rel)
            _pose_ops(prim, b.position, b.orientation)
            if len(bodies) > 1:
                for body_name, body_prim in bodies.items():
                    if body_name in b.links:
                        t, q = _local(b.position, b.orientation, *b.links[body_name])
                        over = stage.OverridePrim(prim_path.AppendChild(body_name))
                        over.CreateAttribute("xformOp:translate", Sdf.ValueTypeNames.Double3).Set(Gf.Vec3d(*t))
                        over.CreateAttribute("xformOp:orient", Sdf.ValueTypeNames.Quatd).Set(Gf.Quatd(*q))
                for joint_name, q in b.joints.items():
                    if joint_name in joints:
                        _joint_state(stage, prim_path.AppendChild("joints").AppendChild(joint_name), joints[joint_name],
                                     q, b.targets.get(joint_name, q))
            if uses[b.asset] > 1:
                for body_name, body_prim in bodies.items():
                    _instance_visual(stage, prototypes, rel, b.asset, root, body_prim, prim_path.AppendChild(body_name))


def _joint_state(stage, path, joint_prim, q: float, target: float) -> None:
    """Drive target and PhysicsJointStateAPI position (degrees for angular joints) of a joint."""
    from pxr import Sdf

    kind = "angular" if joint_prim.GetTypeName() == "PhysicsRevoluteJoint" else "linear"
    scale = 180.0 / math.pi if kind == "angular" else 1.0
    over = stage.OverridePrim(path)
    if joint_prim.HasAttribute(f"drive:{kind}:physics:targetPosition"):
        over.CreateAttribute(f"drive:{kind}:physics:targetPosition", Sdf.ValueTypeNames.Float).Set(float(target * scale))
    over.AddAppliedSchema(f"PhysicsJointStateAPI:{kind}")
    over.CreateAttribute(f"state:{kind}:physics:position", Sdf.ValueTypeNames.Float).Set(float(q * scale))
    over.CreateAttribute(f"state:{kind}:physics:velocity", Sdf.ValueTypeNames.Float).Set(0.0)


def _instance_visual(stage, prototypes, rel: str, asset: str, root, body_prim, body_path) -> None:
    """Replace a body's ``visual`` mesh by an instanceable Xform over a shared prototype."""
    from pxr import Sdf, UsdGeom, UsdShade

    visual = body_prim.GetChild("visual")
    if not visual or visual.GetTypeName() != "Mesh":
        return
    key = (asset, body_prim.GetName())
    if key not in prototypes:
        proto = Sdf.Path("/Prototypes").AppendChild(f"{asset}__{body_prim.GetName()}")
        if not stage.GetPrimAtPath("/Prototypes"):
            stage.CreateClassPrim("/Prototypes")
        UsdGeom.Xform.Define(stage, proto)
        mesh = stage.DefinePrim(proto.AppendChild("mesh"))
        mesh.GetReferences().AddReference(rel, visual.GetPath())
        # the asset's binding points outside the referenced mesh: blocked here, bound per instance
        mesh.CreateRelationship("material:binding").SetTargets([])
        prototypes[key] = proto
    stage.OverridePrim(body_path.AppendChild("visual")).SetActive(False)
    inst = UsdGeom.Xform.Define(stage, body_path.AppendChild("visual_instance")).GetPrim()
    inst.GetReferences().AddInternalReference(prototypes[key])
    inst.SetInstanceable(True)
    bound = UsdShade.MaterialBindingAPI(visual).GetDirectBindingRel().GetTargets()
    if bound:
        target = Sdf.Path(str(bound[0]).replace(str(root.GetPath()), str(body_path.GetParentPath()), 1))
        UsdShade.MaterialBindingAPI.Apply(inst).Bind(UsdShade.Material(stage.GetPrimAtPath(target)))
