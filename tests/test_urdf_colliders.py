"""A URDF keeps its links, fixed joints, visual materials and own colliders through the build.

Truths are independent of the code under test: the URDF text written here (sizes, colours,
poses), closed-form volumes of boxes, cylinders and spheres, and what other readers (pxr,
MuJoCo, PyBullet) find in the exported files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

ROBOT = """<?xml version="1.0"?>
<robot name="prims">
  <material name="red"><color rgba="0.8 0.1 0.1 1"/></material>
  <link name="base">
    <visual><geometry><box size="0.4 0.3 0.1"/></geometry><material name="red"/></visual>
    <collision><geometry><box size="0.4 0.3 0.1"/></geometry></collision>
  </link>
  <link name="arm">
    <visual><origin xyz="0 0 0.15"/><geometry><cylinder radius="0.03" length="0.3"/></geometry>
      <material name="blue"><color rgba="0.1 0.2 0.9 1"/></material></visual>
    <collision><origin xyz="0 0 0.15"/><geometry><cylinder radius="0.03" length="0.3"/></geometry></collision>
  </link>
  <link name="tip">
    <visual><geometry><sphere radius="0.04"/></geometry><material name="blue"/></visual>
    <collision><geometry><sphere radius="0.04"/></geometry></collision>
  </link>
  <link name="frame_only"/>
  <joint name="hinge" type="revolute"><parent link="base"/><child link="arm"/>
    <origin xyz="0 0 0.05" rpy="0 0.3 0"/><axis xyz="0 1 0"/><limit lower="-1" upper="1" effort="10" velocity="1"/></joint>
  <joint name="tip_fixed" type="fixed"><parent link="arm"/><child link="tip"/><origin xyz="0 0 0.34"/></joint>
  <joint name="frame_fixed" type="fixed"><parent link="base"/><child link="frame_only"/></joint>
</robot>
"""
#: closed-form collider volumes (m^3) of the URDF above
VOLUMES = {"base": 0.4 * 0.3 * 0.1, "arm": math.pi * 0.03**2 * 0.3, "tip": 4 / 3 * math.pi * 0.04**3}
KINDS = {"base": "box", "arm": "cylinder", "tip": "sphere"}


@pytest.fixture
def robot(tmp_path) -> Path:
    path = tmp_path / "robot" / "robot.urdf"
    path.parent.mkdir()
    path.write_text(ROBOT)
    return path


def _bodies(path: Path):
    """Load (the build's load stage, default options) then collision and mass stages."""
    from n4d4d.io.stage import load_stage
    from n4d4d.options import BuildOptions
    from n4d4d.physics_validation import collision_stage, mass_stage
    from n4d4d.sources import as_source

    a = load_stage(as_source(str(path)), BuildOptions())
    a = a.replace(visual=a.source_mesh)  # primitives are closed: no static / rigging stage needed here
    return mass_stage(collision_stage(a))


def _mesh_robot(folder: Path, visual, collision):
    """A one-link URDF whose visual and collision are the trimeshes given (OBJ files), loaded
    by the build's load stage, its visual set to the loaded mesh (closed: no static stage)."""
    from n4d4d.io.stage import load_stage
    from n4d4d.options import BuildOptions
    from n4d4d.sources import as_source

    folder.mkdir()
    visual.export(folder / "visual.obj")
    collision.export(folder / "collision.obj")
    urdf = folder / "one.urdf"
    urdf.write_text('<robot name="one"><link name="body"><visual><geometry><mesh filename="visual.obj"/></geometry>'
                    '</visual><collision><geometry><mesh filename="collision.obj"/></geometry></collision></link></robot>')
    a = load_stage(as_source(str(urdf)), BuildOptions())
    return a.replace(visual=a.source_mesh)


def test_links_fixed_joints_and_materials_kept(robot):
    from n4d4d.io.urdf import load_urdf_asset

    a = load_urdf_asset(robot, merge_fixed=False)
    assert [p.name for p in a.parts] == ["base", "arm", "tip"]  # frame_only has no geometry: merged
    fixed = [j for j in a.joints if j.type == "fixed"]
    assert [j.name for j in fixed] == ["tip_fixed"] and (fixed[0].parent, fixed[0].child) == ("arm", "tip")
    # the fixed joint's frame: hinge origin (0, 0, 0.05) then 0.34 m along the arm, pitched 0.3 rad about +Y
    assert np.allclose(fixed[0].origin, [0.34 * math.sin(0.3), 0.0, 0.05 + 0.34 * math.cos(0.3)], atol=1e-12)
    colours = {p.name: tuple(p.mesh.base_color) for p in a.parts}
    # "blue" is defined inline in arm's visual and named again in tip's (as PyBullet reads it)
    assert colours == {"base": (0.8, 0.1, 0.1, 1.0), "arm": (0.1, 0.2, 0.9, 1.0), "tip": (0.1, 0.2, 0.9, 1.0)}
    merged = load_urdf_asset(robot, merge_fixed=True)
    assert [p.name for p in merged.parts] == ["base", "arm"] and all(j.type != "fixed" for j in merged.joints)
    assert len(merged.collision["arm"]) == 2  # the tip's sphere joins the arm's body


def test_primitives_survive_in_every_format(robot, tmp_path):
    """Box, cylinder and sphere colliders come out as those shapes in USD, MJCF and URDF, with
    their closed-form volumes (USD stores float32 sizes: 1e-6 relative) and their poses."""
    import mujoco
    import pybullet as pb
    from pxr import Usd, UsdGeom, UsdPhysics

    from n4d4d.exporters import export

    a = _bodies(robot)
    for name, hulls in a.collision.items():
        assert [h.primitive.kind for h in hulls] == [KINDS[name]]
        # the triangulation standing in for the shape has its volume (hull-based mass, fidelity)
        assert abs(hulls[0].to_trimesh().volume / VOLUMES[name] - 1) < 1e-9
    out = tmp_path / "out"
    out.mkdir()
    files = export(a, out, ("usda", "urdf", "mjcf"))

    stage = Usd.Stage.Open(str(files["usda"]))
    found = {}
    for prim in stage.Traverse():
        if not prim.HasAPI(UsdPhysics.CollisionAPI):
            continue
        body = prim.GetPath().GetParentPath().GetParentPath().name
        t = prim.GetTypeName()
        if t == "Cube":
            scale = [op.Get() for op in UsdGeom.Xformable(prim).GetOrderedXformOps() if op.GetOpName() == "xformOp:scale"][0]
            vol = UsdGeom.Cube(prim).GetSizeAttr().Get() ** 3 * float(np.prod(scale))
        elif t == "Cylinder":
            g = UsdGeom.Cylinder(prim)
            vol = math.pi * g.GetRadiusAttr().Get() ** 2 * g.GetHeightAttr().Get()
        elif t == "Sphere":
            vol = 4 / 3 * math.pi * UsdGeom.Sphere(prim).GetRadiusAttr().Get() ** 3
        else:
            raise AssertionError(f"{prim.GetPath()} is a {t}, not a primitive")
        found[body] = (t, vol)
    assert {b: t for b, (t, _) in found.items()} == {"base": "Cube", "arm": "Cylinder", "tip": "Sphere"}
    for b, (_, vol) in found.items():
        assert abs(vol / VOLUMES[b] - 1) < 1e-6, b

    model = mujoco.MjModel.from_xml_path(str(files["mjcf"]))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    kinds = {int(mujoco.mjtGeom.mjGEOM_BOX): "box", int(mujoco.mjtGeom.mjGEOM_CYLINDER): "cylinder",
             int(mujoco.mjtGeom.mjGEOM_SPHERE): "sphere"}
    seen = {}
    for g in range(model.ngeom):
        if model.geom_group[g] != 3:
            continue
        body = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, model.geom_bodyid[g])
        kind, size = kinds[int(model.geom_type[g])], model.geom_size[g]
        vol = {"box": 8 * np.prod(size), "cylinder": math.pi * size[0] ** 2 * 2 * size[1],
               "sphere": 4 / 3 * math.pi * size[0] ** 3}[kind]
        seen[body] = kind
        assert abs(vol / VOLUMES[body] - 1) < 1e-9, body
        # MuJoCo's world pose of the geom is the shape's pose in the asset (1e-9 m: double maths)
        T = a.collision[body][0].primitive.transform
        assert np.allclose(data.geom_xpos[g], T[:3, 3], atol=1e-9), body
        axis = data.geom_xmat[g].reshape(3, 3)[:, 2]
        assert abs(abs(axis @ T[:3, 2]) - 1) < 1e-9, body
    assert seen == KINDS
    # the tip is welded to the arm, which is jointed to the base: the tip and the base are
    # neighbours, so their contact is excluded in MuJoCo and filtered in USD
    assert model.nexclude == 1
    names = {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, int(b)) for b in
             (model.exclude_signature[0] >> 16, model.exclude_signature[0] & 0xFFFF)}
    assert names == {"base", "tip"}
    targets = UsdPhysics.FilteredPairsAPI(stage.GetPrimAtPath(stage.GetDefaultPrim().GetPath().AppendChild("base")))
    assert [t.name for t in targets.GetFilteredPairsRel().GetTargets()] == ["tip"]

    cid = pb.connect(pb.DIRECT)
    try:  # PyBullet reads the URDF: geometry type and dimensions per link
        # implicit cylinders: PyBullet otherwise turns a URDF cylinder into a convex mesh
        uid = pb.loadURDF(str(files["urdf"]), flags=pb.URDF_USE_IMPLICIT_CYLINDER, physicsClientId=cid)
        types = {pb.GEOM_BOX: "box", pb.GEOM_CYLINDER: "cylinder", pb.GEOM_SPHERE: "sphere"}
        names = {-1: pb.getBodyInfo(uid, physicsClientId=cid)[0].decode()}
        names.update({i: pb.getJointInfo(uid, i, physicsClientId=cid)[12].decode()
                      for i in range(pb.getNumJoints(uid, physicsClientId=cid))})
        got = {}
        for link, name in names.items():
            for shape in pb.getCollisionShapeData(uid, link, physicsClientId=cid):
                kind, dims = types[shape[2]], shape[3]
                vol = {"box": np.prod(dims), "cylinder": math.pi * dims[1] ** 2 * dims[0],
                       "sphere": 4 / 3 * math.pi * dims[0] ** 3}[kind]
                got[name] = kind
                assert abs(vol / VOLUMES[name] - 1) < 1e-9, name
        assert got == KINDS
    finally:
        pb.disconnect(cid)


def test_record_round_trip_keeps_primitives(robot, tmp_path):
    from n4d4d.io.record import read_record, write_record

    import json

    a = _bodies(robot)
    timings = write_record(a, tmp_path)  # wall-clock values live in report.json, as Asset.save writes them
    (tmp_path / "report.json").write_text(json.dumps({"timings": {"record": timings}}))
    b = read_record(tmp_path)
    for name, hulls in a.collision.items():
        p, q = hulls[0].primitive, b.collision[name][0].primitive
        assert (p.kind, p.size) == (q.kind, q.size) and np.array_equal(p.transform, q.transform)


def test_recompute_decomposes_the_visual(robot):
    from n4d4d.io.stage import load_stage
    from n4d4d.options import BuildOptions
    from n4d4d.physics_validation import collision_stage
    from n4d4d.sources import as_source

    a = load_stage(as_source(str(robot)), BuildOptions())
    out = collision_stage(a.replace(visual=a.source_mesh), collision="recompute")
    assert all(h.primitive is None for hs in out.collision.values() for h in hs)
    assert out.stages[-1].figures["from_file"] == []


def test_nonconvex_collision_mesh(tmp_path):
    """An L-shaped collision mesh: auto decomposes it (>= 2 hulls that fill the L: volume ratio
    within the fidelity bounds), from-file keeps it as given: its one convex hull, 7/6 of the L
    (in plan the L is 0.03 m^2, its hull the 0.2 m square less the 0.005 m^2 corner triangle)."""
    import trimesh

    from n4d4d.physics_validation import collision_stage

    a_ = trimesh.creation.box(extents=[0.2, 0.1, 0.1], transform=trimesh.transformations.translation_matrix([0.1, 0.05, 0.05]))
    b_ = trimesh.creation.box(extents=[0.1, 0.2, 0.1], transform=trimesh.transformations.translation_matrix([0.05, 0.1, 0.05]))
    ell = trimesh.boolean.union([a_, b_], engine="manifold")
    a = _mesh_robot(tmp_path / "r", ell, ell)
    auto = collision_stage(a, time_budget_s=30)
    fig = auto.stages[-1].figures["parts"]["body"]
    assert fig["source"] == "file" and fig["colliders"][0]["kept"].startswith("decomposed")
    assert len(auto.collision["body"]) >= 2 and 0.85 <= fig["volume_ratio"] <= 1.35
    given = collision_stage(a, collision="from-file")
    gfig = given.stages[-1].figures["parts"]["body"]
    assert len(given.collision["body"]) == 1
    assert abs(gfig["volume_ratio"] - 7 / 6) < 1e-6  # exact booleans (manifold3d) of exact hulls


def test_a1_keeps_links_and_colliders(pybullet_data):
    """pybullet_data's a1: 22 links with geometry (the 1 mm imu box included), its 9 fixed
    joints, and its authored colliders as the URDF writes them (boxes, cylinders, spheres)."""
    from n4d4d.io.urdf import load_urdf_asset, parse_urdf

    path = pybullet_data / "a1" / "a1.urdf"
    model = parse_urdf(path)
    a = load_urdf_asset(path, merge_fixed=False)
    assert [p.name for p in a.parts] == list(model.links)
    assert sum(j.type == "fixed" for j in a.joints) == sum(j.type == "fixed" for j in model.joints) == 9
    for link, (_, cols) in model.links.items():
        assert [h.primitive.kind for h in a.collision[link]] == [g.kind for g in cols]
        for h, g in zip(a.collision[link], cols):
            assert h.primitive.size == tuple(g.size)
    assert a.part("trunk").mesh.texture_png is not None  # trunk.obj's own texture


def test_open_collision_meshes_decompose_the_part(tmp_path):
    """Collision meshes that are open surfaces (as PartNet-Mobility gives its visual pieces) are
    no solids: auto decomposes the closed part instead (and says so); from-file takes each as
    its convex hull, as PyBullet would."""
    import trimesh

    from n4d4d.physics_validation import collision_stage

    box = trimesh.creation.box(extents=[0.2, 0.2, 0.2])
    top = box.face_normals[:, 2] > 0.5
    a = _mesh_robot(tmp_path / "r", box, trimesh.Trimesh(box.vertices, box.faces[~top]))  # collision: no lid
    auto = collision_stage(a, time_budget_s=30)
    assert auto.stages[-1].figures["parts"]["body"]["source"] == "decomposed"
    assert any("open surfaces" in n for n in auto.notes)
    given = collision_stage(a, collision="from-file")
    assert given.stages[-1].figures["parts"]["body"]["source"] == "file"
    assert abs(given.stages[-1].figures["parts"]["body"]["volume_ratio"] - 1) < 1e-6  # the open box's hull is the box



def test_newton_reads_the_primitive_colliders(robot, tmp_path):
    """Newton (the certificate's second engine) loads the USD's UsdGeom shapes as its own box /
    sphere / cylinder colliders: the certificate's collider points span each shape's closed-form
    extent (1e-6 m: float32 in the file) and the bodies carry the USD masses."""
    from n4d4d.exporters import export
    from n4d4d.physics_validation.newton_check import _load

    a = _bodies(robot)
    (tmp_path / "out").mkdir()
    usd = export(a, tmp_path / "out", ("usda",))["usda"]
    _, masses, points, _, _, labels = _load(usd, [(np.eye(3), np.zeros(3))], 0.6)
    order = list(labels)  # Newton's body order (depth first along the joints), by prim name
    assert sorted(order) == sorted(p.name for p in a.parts)
    assert np.allclose(masses, [a.mass[n].mass for n in order], rtol=1e-6)
    for n, pts in zip(order, points):  # extent along the shape's own axes
        prim = a.collision[n][0].primitive
        r = prim.size[0]
        want = prim.size if prim.kind == "box" else (2 * r, 2 * r, 2 * r if prim.kind == "sphere" else prim.size[1])
        span = np.ptp(pts @ prim.transform[:3, :3], axis=0)  # in the shape's frame (body axes = asset axes)
        assert np.allclose(span, want, atol=1e-6), (n, span, want)
