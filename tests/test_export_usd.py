"""USD export read back by pxr (UsdGeom, UsdPhysics stage parser, UsdSkel skinning) and Newton."""

from __future__ import annotations

import io

import numpy as np
import pytest
from test_export_common import (BOX, BOX_CENTER, BOX_YAW, DENSITY, DRAWER_LIMITS, LID_LIMITS, box_asset,
                                hinged_asset, skinned_asset)

from n4d4d.asset import MotionClip
from n4d4d.exporters import export
from n4d4d.exporters.usd import write_usd

pxr = pytest.importorskip("pxr")
from pxr import Gf, Usd, UsdGeom, UsdPhysics, UsdShade, UsdSkel  # noqa: E402

# float32 storage in USD (points, mass, inertia attributes): 1e-6 relative is ~8 ulp of float32
F32 = dict(rtol=1e-6, atol=1e-9)
A32 = dict(rel=1e-6, abs=1e-9)  # the same, for pytest.approx


def parse_physics(stage):
    """pxr's UsdPhysics stage parser (renamed in OpenUSD 26.08; the old name is deprecated)."""
    load = getattr(UsdPhysics, "UsdPhysicsLoadStageFromPrimRange", None) or UsdPhysics.LoadUsdPhysicsFromRange
    return load(stage, ["/"])


def png_bytes(color=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("suffix", [".usda", ".usdc"])
def test_stage_metadata_default_prim_and_provenance(tmp_path, suffix):
    path = write_usd(box_asset(), tmp_path / f"asset{suffix}")
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    assert UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert UsdPhysics.GetStageKilogramsPerUnit(stage) == 1.0
    root = stage.GetDefaultPrim()
    assert root.GetPath() == "/box" and root.IsA(UsdGeom.Xform)
    info = stage.GetRootLayer().customLayerData["n4d4d"]
    assert info["source"] == "test:handmade" and info["source_sha256"] == "ab" * 32 and info["seed"] == 7
    assert info["n4d4d_version"] == "0.1.0"
    assert root.GetCustomDataByKey("n4d4d")["seed"] == 7


def test_physics_parser_finds_one_body_its_hull_and_closed_form_mass(tmp_path):
    asset = box_asset()
    stage = Usd.Stage.Open(str(write_usd(asset, tmp_path / "asset.usda")))
    found = parse_physics(stage)
    paths, bodies = found[UsdPhysics.ObjectType.RigidBody]
    assert [str(p) for p in paths] == ["/box/body"]
    assert [str(c) for c in bodies[0].collisions] == ["/box/body/collisions/hull_000"]
    shape_paths, shapes = found[UsdPhysics.ObjectType.MeshShape]
    assert len(shapes) == 1 and shapes[0].approximation == UsdPhysics.Tokens.convexHull
    assert str(shapes[0].rigidBody) == "/box/body"
    mat_paths, mats = found[UsdPhysics.ObjectType.RigidBodyMaterial]
    assert [str(p) for p in shapes[0].materials] == [str(mat_paths[0])]
    assert mats[0].density == DENSITY and mats[0].staticFriction == pytest.approx(0.8)
    assert mats[0].dynamicFriction == pytest.approx(0.6) and mats[0].restitution == pytest.approx(0.1)

    mass = UsdPhysics.MassAPI(stage.GetPrimAtPath("/box/body"))
    a, b, c = BOX
    m = DENSITY * a * b * c  # closed form: 0.5 kg
    assert mass.GetMassAttr().Get() == pytest.approx(m, **A32)
    assert np.allclose(mass.GetCenterOfMassAttr().Get(), BOX_CENTER, **F32)
    # inertia rebuilt from diagonalInertia + principalAxes equals the yawed box's closed form
    moments = np.array(mass.GetDiagonalInertiaAttr().Get())
    R = np.array(Gf.Matrix3d(Gf.Rotation(mass.GetPrincipalAxesAttr().Get())).GetTranspose())
    yaw = np.radians(BOX_YAW)
    Rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    closed = Rz @ np.diag(m / 12 * np.array([b * b + c * c, a * a + c * c, a * a + b * b])) @ Rz.T
    assert np.allclose(R @ np.diag(moments) @ R.T, closed, rtol=0, atol=1e-6 * closed.max())

    hull = stage.GetPrimAtPath("/box/body/collisions/hull_000")
    img = UsdGeom.Imageable(hull)
    assert img.ComputeVisibility() == UsdGeom.Tokens.invisible
    assert img.ComputePurpose() == UsdGeom.Tokens.guide
    pts = np.array(UsdGeom.Mesh(hull).GetPointsAttr().Get())
    assert np.allclose(np.sort(pts, axis=0), np.sort(asset.collision["body"][0].vertices, axis=0), **F32)
    assert UsdGeom.Imageable(stage.GetPrimAtPath("/box/body/visual")).ComputeVisibility() == "inherited"


def test_visual_normals_uvs_and_texture_beside_the_usd(tmp_path):
    import trimesh

    plain = box_asset().visual
    normals = trimesh.Trimesh(plain.vertices, plain.faces, process=False).vertex_normals
    uvs = np.random.default_rng(0).random((len(plain.vertices), 2))
    tex = png_bytes()
    asset = box_asset(normals=normals, uvs=uvs, texture_png=tex, base_color=np.array([1, 1, 1, 0.5]))
    stage = Usd.Stage.Open(str(write_usd(asset, tmp_path / "asset.usdc")))
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/box/body/visual"))
    assert np.allclose(np.array(mesh.GetNormalsAttr().Get()), normals, **F32)
    st = UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st")
    assert st.GetInterpolation() == UsdGeom.Tokens.vertex
    # glTF-convention UVs (v down) become USD st (v up): t = 1 - v
    assert np.allclose(np.array(st.Get()), np.column_stack([uvs[:, 0], 1 - uvs[:, 1]]), **F32)
    material, _ = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()
    surface = material.ComputeSurfaceSource()[0]
    assert surface.GetIdAttr().Get() == "UsdPreviewSurface"
    assert surface.GetInput("opacity").Get() == pytest.approx(0.5)
    texture = surface.GetInput("diffuseColor").GetConnectedSources()[0][0].source
    file_attr = UsdShade.Shader(texture.GetPrim()).GetInput("file").Get()
    assert (tmp_path / file_attr.resolvedPath).read_bytes() == tex  # resolved next to the layer


def test_vertex_colours_become_display_colour(tmp_path):
    colors = np.tile(np.array([[10, 200, 30, 255]], np.uint8), (8, 1))
    stage = Usd.Stage.Open(str(write_usd(box_asset(vertex_colors=colors), tmp_path / "asset.usda")))
    pv = UsdGeom.Mesh(stage.GetPrimAtPath("/box/body/visual")).GetDisplayColorPrimvar()
    assert pv.GetInterpolation() == UsdGeom.Tokens.vertex
    assert np.allclose(np.array(pv.Get()), colors[:, :3] / 255.0, **F32)


@pytest.mark.parametrize("kind", ["revolute", "prismatic"])
def test_two_part_asset_gives_one_joint_with_limits_axis_and_pivot(tmp_path, kind):
    asset = hinged_asset(kind)
    joint = asset.joints[0]
    stage = Usd.Stage.Open(str(write_usd(asset, tmp_path / "asset.usda")))
    found = parse_physics(stage)
    assert [str(p) for p in found[UsdPhysics.ObjectType.RigidBody][0]] == ["/chest/base", "/chest/lid"]
    key = UsdPhysics.ObjectType.RevoluteJoint if kind == "revolute" else UsdPhysics.ObjectType.PrismaticJoint
    paths, joints = found[key]
    assert len(joints) == 1
    for other in (UsdPhysics.ObjectType.FixedJoint, UsdPhysics.ObjectType.RevoluteJoint,
                  UsdPhysics.ObjectType.PrismaticJoint):
        if other != key:
            assert other not in found
    j = joints[0]
    assert (str(j.body0), str(j.body1)) == ("/chest/base", "/chest/lid")
    lo, hi = LID_LIMITS if kind == "revolute" else DRAWER_LIMITS
    if kind == "revolute":  # UsdPhysics angular limits are degrees
        lo, hi = np.degrees(lo), np.degrees(hi)
    assert j.limit.enabled and j.limit.lower == pytest.approx(lo, **A32) and j.limit.upper == pytest.approx(hi, **A32)
    # the joint frame maps the UsdPhysics axis token onto the asset's axis, in both bodies
    token = {UsdPhysics.Axis.X: (1, 0, 0), UsdPhysics.Axis.Y: (0, 1, 0), UsdPhysics.Axis.Z: (0, 0, 1)}[j.axis]
    cache = UsdGeom.XformCache()
    for body, pos, rot in ((j.body0, j.localPose0Position, j.localPose0Orientation),
                           (j.body1, j.localPose1Position, j.localPose1Orientation)):
        world = cache.GetLocalToWorldTransform(stage.GetPrimAtPath(body))
        pivot = np.array(world.Transform(Gf.Vec3d(pos)))
        assert np.allclose(pivot, joint.origin, atol=1e-6)  # float32 localPos
        axis_world = world.TransformDir(Gf.Rotation(Gf.Quatd(rot)).TransformDir(Gf.Vec3d(*token)))
        assert np.allclose(np.array(axis_world), joint.axis, atol=1e-6)
    art_paths, arts = found[UsdPhysics.ObjectType.Articulation]
    assert [str(p) for p in art_paths] == ["/chest/base"]


def test_rigid_motion_clip_is_time_sampled_forward_kinematics(tmp_path):
    """Opening the lid 90 degrees over 1 s lifts its front edge 0.4 m above the hinge (closed form)."""
    t = np.linspace(0.0, 1.0, 31)
    clip = MotionClip("open", t, {"hinge": t * np.pi / 2})
    asset = hinged_asset().replace(motion_clips=(clip,))
    stage = Usd.Stage.Open(str(write_usd(asset, tmp_path / "asset.usda")))
    assert stage.GetTimeCodesPerSecond() == 30.0  # 1 / sample interval
    assert stage.GetRootLayer().customLayerData["n4d4d"]["clips"]["open"]["endTimeCode"] == 30.0
    lid = stage.GetPrimAtPath("/chest/lid")
    for k in (0, 15, 30):
        world = UsdGeom.Xformable(lid).ComputeLocalToWorldTransform(Usd.TimeCode(t[k] * 30.0))
        edge = np.array(world.Transform(Gf.Vec3d(0, -0.4, 0)))  # front edge, lid frame
        ang = t[k] * np.pi / 2
        assert np.allclose(edge, [0, 0.2 - 0.4 * np.cos(ang), 0.1 + 0.4 * np.sin(ang)], atol=1e-9)
    # the default (non-time) value, which physics parsers read, stays the rest pose
    rest = UsdGeom.Xformable(lid).ComputeLocalToWorldTransform(Usd.TimeCode.Default())
    assert np.allclose(np.array(rest.Transform(Gf.Vec3d(0, -0.4, 0))), [0, -0.2, 0.1], atol=1e-12)


def test_skeleton_skin_and_animation_deform_like_linear_blend_skinning(tmp_path):
    """pxr's own skinning of the exported bar bends its tip 90 degrees about the elbow."""
    asset = skinned_asset()
    stage = Usd.Stage.Open(str(write_usd(asset, tmp_path / "asset.usda")))
    skel = UsdSkel.Skeleton(stage.GetPrimAtPath("/bar/body/skin/skeleton"))
    topo = UsdSkel.Topology(skel.GetJointsAttr().Get())
    assert topo.Validate()[0] and list(skel.GetJointsAttr().Get()) == ["shoulder", "shoulder/elbow"]
    cache = UsdSkel.Cache()
    root = UsdSkel.Root(stage.GetPrimAtPath("/bar/body/skin"))
    cache.Populate(root, Usd.TraverseInstanceProxies())
    query = cache.GetSkelQuery(skel)
    assert query.GetAnimQuery().GetPrim().GetPath() == "/bar/body/skin/animations/bend"
    mesh_prim = stage.GetPrimAtPath("/bar/body/skin/mesh")
    skinning = cache.GetSkinningQuery(mesh_prim)
    assert skinning.GetNumInfluencesPerComponent() == 4  # padded to the glTF / UsdSkel 4
    rest = np.array(UsdGeom.Mesh(mesh_prim).GetPointsAttr().Get(), np.float64)
    time = Usd.TimeCode(1.0 * stage.GetTimeCodesPerSecond())
    xforms = query.ComputeSkinningTransforms(time)
    points = pxr.Vt.Vec3fArray(rest.astype(np.float32).tolist())
    assert skinning.ComputeSkinnedPoints(xforms, points, time)
    skinned = np.array(points)
    tip = rest[:, 0] > 0.375 + 1e-9  # weight 1 on the elbow (x / 0.4 >= 0.75 + margin)
    # closed form: rotate 90 degrees about +Z through the elbow (0.2, 0, 0.025)
    rel = rest[tip] - [0.2, 0, 0.025]
    expected = np.column_stack([-rel[:, 1], rel[:, 0], rel[:, 2]]) + [0.2, 0, 0.025]
    assert np.allclose(skinned[tip], expected, atol=1e-6)  # float32 points and matrices
    base = rest[:, 0] < 0.1 - 1e-9  # weight 1 on the shoulder, which does not move
    assert np.allclose(skinned[base], rest[base], atol=1e-6)


def test_newton_loads_the_single_body_with_the_assets_mass(tmp_path):
    """Newton's add_usd takes MassAPI's authored mass and inertia; without them it integrates the
    convex hull at the bound physics material's density. Both must give the closed form."""
    newton = pytest.importorskip("newton")
    asset = box_asset()
    path = write_usd(asset, tmp_path / "asset.usda")
    builder = newton.ModelBuilder()
    builder.add_usd(str(path))
    assert builder.body_count == 1
    colliders = [i for i in range(builder.shape_count)
                 if builder.shape_flags[i] & int(newton.ShapeFlags.COLLIDE_SHAPES)]
    assert len(colliders) == len(asset.collision["body"])
    m = asset.mass["body"]
    assert builder.body_mass[0] == pytest.approx(m.mass, **A32)
    assert np.allclose(np.array(builder.body_inertia[0]).reshape(3, 3), m.inertia, rtol=0, atol=1e-6 * m.inertia.max())
    assert np.allclose(np.array(builder.body_com[0]), m.center_of_mass, **F32)

    stage = Usd.Stage.Open(str(path))
    mass = UsdPhysics.MassAPI(stage.GetPrimAtPath("/box/body"))
    for attr in (mass.GetMassAttr(), mass.GetDiagonalInertiaAttr(), mass.GetPrincipalAxesAttr(),
                 mass.GetCenterOfMassAttr()):
        attr.Clear()
    from_hull = newton.ModelBuilder()
    from_hull.add_usd(stage)
    # hull = the box, density 500: rho * V = 0.5 kg (float32 mesh integration)
    assert from_hull.body_mass[0] == pytest.approx(m.mass, rel=1e-5)


def test_newton_loads_the_hinge_with_its_limits(tmp_path):
    newton = pytest.importorskip("newton")
    path = write_usd(hinged_asset(), tmp_path / "asset.usda")
    builder = newton.ModelBuilder()
    builder.add_usd(str(path))
    assert builder.body_count == 2
    revolute = [i for i, t in enumerate(builder.joint_type) if t == newton.JointType.REVOLUTE]
    assert len(revolute) == 1
    dof = builder.joint_qd_start[revolute[0]]
    # Newton converts UsdPhysics degrees back to radians
    assert builder.joint_limit_lower[dof] == pytest.approx(LID_LIMITS[0], abs=1e-6)
    assert builder.joint_limit_upper[dof] == pytest.approx(LID_LIMITS[1], rel=1e-6)
    joint = hinged_asset().joints[0]  # effort from DriveAPI maxForce, speed from newton:velocityLimit
    assert builder.joint_effort_limit[dof] == pytest.approx(joint.effort, rel=1e-6)
    assert builder.joint_velocity_limit[dof] == pytest.approx(joint.velocity, rel=1e-6)
    assert sorted(builder.body_mass) == pytest.approx(sorted([0.4 * 0.4 * 0.02 * DENSITY, 0.4 * 0.4 * 0.1 * DENSITY]))


def test_export_api_writes_usda_and_usdc_with_one_shared_texture(tmp_path):
    out = export(box_asset(uvs=np.zeros((8, 2)), texture_png=png_bytes()), tmp_path, ["usda", "USDC"])
    assert out == {"usda": tmp_path / "asset.usda", "usdc": tmp_path / "asset.usdc"}
    assert len(list((tmp_path / "textures").iterdir())) == 1
    assert Usd.Stage.Open(str(out["usdc"])).GetPrimAtPath("/box/body/visual").IsValid()


@pytest.mark.parametrize("which", ["textured_box", "hinge_with_clips", "skinned_bar"])
def test_openusd_validators_find_nothing(tmp_path, which):
    """Every validator OpenUSD registers (UsdGeom, UsdShade, UsdPhysics, UsdSkel, UsdUtils ...)."""
    from pxr import UsdValidation

    if which == "textured_box":
        asset = box_asset(uvs=np.zeros((8, 2)), texture_png=png_bytes(), base_color=np.array([1, 0, 0, 1.0]))
    elif which == "hinge_with_clips":
        t = np.linspace(0, 1, 5)
        asset = hinged_asset().replace(motion_clips=(MotionClip("open", t, {"hinge": t}),
                                                     MotionClip("close", t, {"hinge": 1 - t})))
    else:
        asset = skinned_asset()
    stage = Usd.Stage.Open(str(write_usd(asset, tmp_path / "asset.usdc")))
    registry = UsdValidation.ValidationRegistry()
    validators = registry.GetOrLoadAllValidators()
    assert len(validators) >= 20  # the physics and skel validators are among them
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    assert [(e.GetName(), e.GetMessage()) for e in errors] == []


def test_root_poses_move_the_body_and_clips_lie_end_to_end(tmp_path):
    """A second clip lifting and yawing the whole asset plays after the first, one code later."""
    t = np.linspace(0.0, 0.5, 16)  # 30 samples/s, like the first clip
    yaw = t * np.pi  # 90 degrees at 0.5 s
    root = np.column_stack([np.zeros_like(t), np.zeros_like(t), t, np.cos(yaw / 2), 0 * t, 0 * t, np.sin(yaw / 2)])
    open_clip = MotionClip("open", np.linspace(0, 1, 31), {"hinge": np.linspace(0, 1, 31)})
    lift = MotionClip("lift", t, root_poses=root)
    stage = Usd.Stage.Open(str(write_usd(hinged_asset().replace(motion_clips=(open_clip, lift)),
                                         tmp_path / "asset.usda")))
    clips = stage.GetRootLayer().customLayerData["n4d4d"]["clips"]
    assert clips["lift"] == {"startTimeCode": 31.0, "endTimeCode": 46.0}
    assert stage.GetEndTimeCode() == 46.0
    lid = UsdGeom.Xformable(stage.GetPrimAtPath("/chest/lid"))
    world = lid.ComputeLocalToWorldTransform(Usd.TimeCode(46.0))
    # the hinge (0, 0.2, 0.1) yawed 90 degrees about Z and lifted 0.5 m: (-0.2, 0, 0.6)
    assert np.allclose(np.array(world.Transform(Gf.Vec3d(0, 0, 0))), [-0.2, 0, 0.6], atol=1e-6)


@pytest.mark.parametrize("kind", ["revolute", "prismatic"])
def test_drive_gains_are_the_certificates_servo_in_usd_units_and_newton_reads_them_in_si(tmp_path, kind):
    """The DriveAPI holds the rest coordinate with the certificate's 10 Hz critically damped servo.

    Closed form for the lid (0.4 x 0.4 x 0.02 m, 1.6 kg): about its hinge (the X line through
    (0, 0.2, 0.1), COM at (0, 0, 0.11)) I = m (0.4^2 + 0.02^2) / 12 + m (0.2^2 + 0.01^2); as a
    drawer its effective inertia is its mass. kp = I w^2, kd = 2 I w, w = 2 pi 10 rad/s.
    UsdPhysics angular drives are per degree (schema: stiffness "mass*DIST_UNITS*DIST_UNITS/
    degrees/second/second"), so the file holds kp pi / 180; Newton's importer converts back.
    """
    newton = pytest.importorskip("newton")
    from n4d4d.physics_validation import drives_stage
    from n4d4d.physics_validation.rigid_model import drive_gains, rigid_model

    asset = drives_stage(hinged_asset(kind))  # the servo stored once, in SI; the writer converts it
    m = 0.4 * 0.4 * 0.02 * DENSITY
    inertia = m * (0.4**2 + 0.02**2) / 12 + m * (0.2**2 + 0.01**2) if kind == "revolute" else m
    w = 2 * np.pi * 10.0
    kp, kd = drive_gains(rigid_model(asset))[1]  # link 1: the lid
    assert (kp, kd) == pytest.approx((inertia * w * w, 2 * inertia * w), rel=1e-12)
    stored = asset.drives[asset.joints[0].name]
    assert (stored.stiffness, stored.damping) == (kp, kd) and stored.kind == ("angular" if kind == "revolute" else "linear")

    path = write_usd(asset, tmp_path / "asset.usda")
    stage = Usd.Stage.Open(str(path))
    name = "angular" if kind == "revolute" else "linear"
    joint = stage.GetPrimAtPath("/chest/joints/" + ("hinge" if kind == "revolute" else "slide"))
    drive = UsdPhysics.DriveAPI(joint, name)
    assert drive and drive.GetTypeAttr().Get() == UsdPhysics.Tokens.force
    per_unit = np.pi / 180 if kind == "revolute" else 1.0
    assert drive.GetStiffnessAttr().Get() == pytest.approx(kp * per_unit, **A32)  # float32 attribute
    assert drive.GetDampingAttr().Get() == pytest.approx(kd * per_unit, **A32)
    assert drive.GetTargetPositionAttr().Get() == 0.0
    assert drive.GetMaxForceAttr().Get() == pytest.approx(asset.joints[0].effort, **A32)

    builder = newton.ModelBuilder()
    builder.add_usd(str(path))
    j = next(i for i, t in enumerate(builder.joint_type) if t in (newton.JointType.REVOLUTE, newton.JointType.PRISMATIC))
    dof = builder.joint_qd_start[j]
    # SI per radian (or per metre) again: float32 storage, 1e-6 relative
    assert builder.joint_target_ke[dof] == pytest.approx(kp, rel=1e-6)
    assert builder.joint_target_kd[dof] == pytest.approx(kd, rel=1e-6)
    assert builder.joint_target_q[builder.joint_q_start[j]] == 0.0  # coordinates, not DOFs, index targets


def test_usd_does_not_depend_on_the_physics_verdict(tmp_path):
    """The file the certificate's Newton checks read before the verdict exists is byte for byte
    the file written after it (so the pipeline can ship the very file Newton checked)."""
    import hashlib

    from n4d4d.physics_validation import drives_stage

    asset = drives_stage(hinged_asset())
    before = write_usd(asset, tmp_path / "a" / "asset.usda")
    after = write_usd(asset.replace(physics={"passed": True, "checks": []}), tmp_path / "b" / "asset.usda")
    assert hashlib.sha256(before.read_bytes()).digest() == hashlib.sha256(after.read_bytes()).digest()


def test_usd_drives_are_the_stored_drives_not_recomputed(tmp_path):
    """The writer writes what ``asset.drives`` holds (here a 3 Hz servo and a 2 N m limit), in
    DriveAPI units, and nothing for a joint without a drive: it computes no physics."""
    from dataclasses import replace

    from n4d4d.physics_validation import drives_stage

    asset = drives_stage(hinged_asset(), frequency_hz=3.0)
    d = replace(asset.drives["hinge"], max_force=2.0, target=0.5)
    path = write_usd(asset.replace(drives={"hinge": d}), tmp_path / "asset.usda")
    stage = Usd.Stage.Open(str(path))
    drive = UsdPhysics.DriveAPI(stage.GetPrimAtPath("/chest/joints/hinge"), "angular")
    assert drive.GetStiffnessAttr().Get() == pytest.approx(d.stiffness * np.pi / 180, **A32)
    assert drive.GetDampingAttr().Get() == pytest.approx(d.damping * np.pi / 180, **A32)
    assert drive.GetMaxForceAttr().Get() == pytest.approx(2.0, **A32)
    assert drive.GetTargetPositionAttr().Get() == pytest.approx(np.degrees(0.5), **A32)
    bare = write_usd(hinged_asset(), tmp_path / "bare" / "asset.usda")
    stage = Usd.Stage.Open(str(bare))
    drive = UsdPhysics.DriveAPI(stage.GetPrimAtPath("/chest/joints/hinge"), "angular")
    assert drive.GetStiffnessAttr().Get() == 0.0 and drive.GetDampingAttr().Get() == 0.0
