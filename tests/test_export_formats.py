"""URDF read back by PyBullet, MJCF by MuJoCo, GLB and 3MF by trimesh and by their raw bytes."""

from __future__ import annotations

import json
import struct
import zipfile

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_export_common import (BOX, BOX_CENTER, DENSITY, DRAWER_LIMITS, LID_LIMITS, box_asset,
                                hinged_asset)
from test_export_usd import png_bytes

from n4d4d.conventions import Y_UP_TO_Z_UP
from n4d4d.errors import ExportError
from n4d4d.exporters import export

BOX_MASS = DENSITY * float(np.prod(BOX))  # closed form, 0.5 kg


@pytest.fixture
def bullet():
    import pybullet as p

    cid = p.connect(p.DIRECT)
    yield p, cid
    p.disconnect(cid)


def test_urdf_loads_in_pybullet_with_mass_and_inertia_of_the_box(tmp_path, bullet):
    p, cid = bullet
    asset = box_asset()
    path = export(asset, tmp_path, ["urdf"])["urdf"]
    assert sorted(x.name for x in (tmp_path / "meshes").iterdir()) == ["body_hull_000.stl", "body_visual.obj"]
    # without URDF_USE_INERTIA_FROM_FILE PyBullet replaces the inertia by its collision AABB's
    body = p.loadURDF(str(path), flags=p.URDF_USE_INERTIA_FROM_FILE, physicsClientId=cid)
    mass, friction, moments, com, orn, restitution = p.getDynamicsInfo(body, -1, physicsClientId=cid)[:6]
    assert mass == pytest.approx(BOX_MASS, rel=1e-12)  # URDF keeps repr() digits
    assert np.allclose(com, BOX_CENTER, atol=1e-12)
    # PyBullet diagonalises the URDF tensor itself: its principal frame must rebuild the tensor
    R = Rotation.from_quat(orn).as_matrix()
    assert np.allclose(R @ np.diag(moments) @ R.T, asset.mass["body"].inertia, rtol=0, atol=1e-12)
    assert friction == pytest.approx(0.6) and restitution == pytest.approx(0.1)
    shapes = p.getCollisionShapeData(body, -1, physicsClientId=cid)
    assert len(shapes) == len(asset.collision["body"])


@pytest.mark.parametrize("kind", ["revolute", "prismatic"])
def test_urdf_joint_limits_axis_and_pivot_in_pybullet(tmp_path, bullet, kind):
    p, cid = bullet
    asset = hinged_asset(kind)
    path = export(asset, tmp_path, ["urdf"])["urdf"]
    body = p.loadURDF(str(path), useFixedBase=True, flags=p.URDF_USE_INERTIA_FROM_FILE, physicsClientId=cid)
    assert p.getNumJoints(body, physicsClientId=cid) == 1
    info = p.getJointInfo(body, 0, physicsClientId=cid)
    assert info[2] == (p.JOINT_REVOLUTE if kind == "revolute" else p.JOINT_PRISMATIC)
    lo, hi = LID_LIMITS if kind == "revolute" else DRAWER_LIMITS
    assert (info[8], info[9]) == pytest.approx((lo, hi), abs=1e-12)
    assert (info[10], info[11]) == pytest.approx((asset.joints[0].effort, asset.joints[0].velocity))
    assert np.allclose(info[13], asset.joints[0].axis)
    assert p.getDynamicsInfo(body, 0, physicsClientId=cid)[0] == pytest.approx(0.4 * 0.4 * 0.02 * DENSITY)
    state = p.getLinkState(body, 0, computeForwardKinematics=True, physicsClientId=cid)
    assert np.allclose(state[4], asset.joints[0].origin, atol=1e-12)
    # drive the joint to mid-range: the lid's link frame follows the closed-form motion
    q = 0.5 * (lo + hi)
    p.resetJointState(body, 0, q, physicsClientId=cid)
    state = p.getLinkState(body, 0, computeForwardKinematics=True, physicsClientId=cid)
    front = np.array([0.0, -0.4, 0.0]) if kind == "revolute" else np.zeros(3)  # lid front edge / origin
    world = Rotation.from_quat(state[5]).apply(front) + state[4]
    if kind == "revolute":  # about -X through (0, 0.2, 0.1): the edge rises
        expected = [0, 0.2 - 0.4 * np.cos(q), 0.1 + 0.4 * np.sin(q)]
    else:  # along -Y
        expected = asset.joints[0].origin + q * np.array([0, -1.0, 0])
    assert np.allclose(world, expected, atol=1e-9)


def test_urdf_refuses_parts_without_a_joint_tree(tmp_path):
    asset = hinged_asset().replace(joints=())
    with pytest.raises(ExportError, match="one root link"):
        export(asset, tmp_path, ["urdf"])
    assert list(tmp_path.iterdir()) == []


def test_mjcf_compiles_and_reloads_with_mass_inertia_and_geoms(tmp_path):
    import mujoco

    asset = box_asset()
    path = export(asset, tmp_path, ["mjcf"])["mjcf"]
    model = mujoco.MjModel.from_xml_path(str(path))
    # MuJoCo's XML writer keeps 6 significant digits: 5e-6 relative tolerance
    assert model.body_mass[1] == pytest.approx(BOX_MASS, rel=5e-6)
    assert np.allclose(np.sort(model.body_inertia[1]), asset.mass["body"].principal_moments, rtol=5e-6)
    assert np.allclose(model.body_ipos[1], BOX_CENTER, rtol=5e-6, atol=1e-9)
    R = Rotation.from_quat(model.body_iquat[1], scalar_first=True).as_matrix()
    assert np.allclose(R @ np.diag(model.body_inertia[1]) @ R.T, asset.mass["body"].inertia, rtol=0, atol=1e-8)
    assert np.allclose(model.opt.gravity, [0, 0, -9.80665])
    assert list(model.jnt_type) == [mujoco.mjtJoint.mjJNT_FREE]
    assert model.ngeom == 1 + len(asset.collision["body"])
    visual = [g for g in range(model.ngeom) if model.geom_contype[g] == 0 and model.geom_conaffinity[g] == 0]
    assert len(visual) == 1 and model.geom_group[visual[0]] == 2
    # the collision geom's mesh as MuJoCo read it from the STL encloses the box: a*b*c
    import trimesh

    mid = model.geom_dataid[[g for g in range(model.ngeom) if g not in visual][0]]
    v0, f0 = model.mesh_vertadr[mid], model.mesh_faceadr[mid]
    hull = trimesh.Trimesh(model.mesh_vert[v0:v0 + model.mesh_vertnum[mid]],
                           model.mesh_face[f0:f0 + model.mesh_facenum[mid]], process=False)
    assert hull.volume == pytest.approx(float(np.prod(BOX)), rel=1e-5)  # float32 STL


@pytest.mark.parametrize("kind", ["revolute", "prismatic"])
def test_mjcf_joint_range_and_kinematics(tmp_path, kind):
    import mujoco

    asset = hinged_asset(kind)
    model = mujoco.MjModel.from_xml_path(str(export(asset, tmp_path, ["mjcf"])["mjcf"]))
    j = model.joint(asset.joints[0].name)
    lo, hi = LID_LIMITS if kind == "revolute" else DRAWER_LIMITS
    assert np.allclose(j.range, [lo, hi], rtol=5e-6) and j.limited[0] == 1
    assert j.type[0] == (mujoco.mjtJoint.mjJNT_HINGE if kind == "revolute" else mujoco.mjtJoint.mjJNT_SLIDE)
    assert model.body("lid").mass[0] == pytest.approx(0.4 * 0.4 * 0.02 * DENSITY, rel=5e-6)
    data = mujoco.MjData(model)
    q = 0.5 * (lo + hi)
    data.qpos[model.jnt_qposadr[j.id]] = q
    mujoco.mj_kinematics(model, data)
    lid = model.body("lid").id
    if kind == "revolute":
        edge = data.xmat[lid].reshape(3, 3) @ [0, -0.4, 0] + data.xpos[lid]
        assert np.allclose(edge, [0, 0.2 - 0.4 * np.cos(q), 0.1 + 0.4 * np.sin(q)], atol=1e-6)
    else:
        assert np.allclose(data.xpos[lid], asset.joints[0].origin + q * np.array([0, -1.0, 0]), atol=1e-6)


def test_mjcf_lid_falls_shut_under_gravity(tmp_path):
    """Simulated in MuJoCo with the base fixed, a lid opened to 1.2 rad closes onto its lower limit."""
    import mujoco

    from n4d4d.exporters.mjcf import write_mjcf

    model = mujoco.MjModel.from_xml_path(str(write_mjcf(hinged_asset(), tmp_path / "asset.xml", fixed_base=True)))
    data = mujoco.MjData(model)
    data.qpos[0] = 1.2
    for _ in range(int(2.0 / model.opt.timestep)):
        mujoco.mj_step(model, data)
    assert data.qpos[0] < 0.05  # at the 0 rad stop (soft limits allow a few milliradians)


def _glb_json_and_bin(path):
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    tree = json.loads(data[20:20 + jlen])
    blen, btype = struct.unpack_from("<I4s", data, 20 + jlen)
    assert (jtype, btype) == (b"JSON", b"BIN\x00")
    return tree, data[28 + jlen:28 + jlen + blen]


def _accessor(tree, blob, index):
    acc = tree["accessors"][index]
    view = tree["bufferViews"][acc["bufferView"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc["type"]]
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}[acc["componentType"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return np.frombuffer(blob, dtype, acc["count"] * width, start).reshape(acc["count"], width)


def test_glb_is_y_up_with_one_node_per_part_and_same_volume(tmp_path):
    import trimesh

    asset = hinged_asset()
    path = export(asset, tmp_path, ["glb"])["glb"]
    scene = trimesh.load(path, process=False)
    assert sorted(scene.geometry) == ["base", "lid"]
    for part in asset.parts:
        g = scene.geometry[part.name]
        assert len(g.vertices) == len(part.mesh.vertices)
        assert g.volume == pytest.approx(part.mesh.to_trimesh().volume, rel=1e-6)  # float32 vertices
        # back to Z up through the loader's Y-up -> Z-up rotation: the asset-frame mesh again
        T = scene.graph.get(part.name)[0]
        world = trimesh.transform_points(g.vertices, T) @ Y_UP_TO_Z_UP.T
        assert np.allclose(np.sort(world, axis=0), np.sort(part.mesh.vertices, axis=0), atol=1e-6)
    tree, _ = _glb_json_and_bin(path)
    base = next(n for n in tree["nodes"] if n.get("name") == "base")
    lid = next(n for n in tree["nodes"] if n.get("name") == "lid")
    assert tree["nodes"].index(lid) in base["children"]  # nested along the kinematic tree
    matrix = np.array(lid["matrix"]).reshape(4, 4).T  # glTF matrices are column-major
    assert np.allclose(matrix[:3, 3], [0, 0.1, -0.2])  # Z-up pivot (0, 0.2, 0.1) in Y up


def test_glb_keeps_texture_uvs_and_base_colour(tmp_path):
    plain = box_asset().visual
    uvs = np.random.default_rng(1).random((len(plain.vertices), 2))
    asset = box_asset(uvs=uvs, texture_png=png_bytes(), base_color=np.array([1.0, 0.5, 0.25, 1.0]))
    tree, blob = _glb_json_and_bin(export(asset, tmp_path, ["glb"])["glb"])
    prim = tree["meshes"][0]["primitives"][0]
    # raw TEXCOORD_0 is glTF's v-down convention, exactly Mesh.uvs (float32)
    assert np.allclose(_accessor(tree, blob, prim["attributes"]["TEXCOORD_0"]), uvs, atol=1e-7)
    pbr = tree["materials"][prim["material"]]["pbrMetallicRoughness"]
    assert np.allclose(pbr["baseColorFactor"], [1.0, 0.5, 0.25, 1.0], atol=1 / 255)  # 8-bit colour
    assert tree["images"] and "baseColorTexture" in pbr


def test_glb_keeps_vertex_colours(tmp_path):
    colors = np.random.default_rng(2).integers(0, 256, (8, 4)).astype(np.uint8)
    tree, blob = _glb_json_and_bin(export(box_asset(vertex_colors=colors), tmp_path, ["glb"])["glb"])
    prim = tree["meshes"][0]["primitives"][0]
    assert np.array_equal(_accessor(tree, blob, prim["attributes"]["COLOR_0"]), colors)


def test_3mf_is_in_millimetres_with_one_object_per_part(tmp_path):
    import trimesh

    asset = hinged_asset()
    path = export(asset, tmp_path, ["3mf"])["3mf"]
    with zipfile.ZipFile(path) as z:
        model_xml = z.read("3D/3dmodel.model").decode()
    assert 'unit="millimeter"' in model_xml and model_xml.count("<object ") == len(asset.parts)
    scene = trimesh.load(path)
    got = sorted((len(g.vertices), g.volume * 1e-9) for g in scene.geometry.values())  # mm^3 -> m^3
    want = sorted((len(p.mesh.vertices), p.mesh.to_trimesh().volume) for p in asset.parts)
    assert [n for n, _ in got] == [n for n, _ in want]
    assert np.allclose([v for _, v in got], [v for _, v in want], rtol=1e-6)  # float32 in the file


def test_all_formats_together_share_meshes_and_return_main_files(tmp_path):
    from n4d4d.exporters import FORMATS

    out = export(hinged_asset(), tmp_path, FORMATS)
    assert {k: v.name for k, v in out.items()} == {
        "usda": "asset.usda", "usdc": "asset.usdc", "urdf": "asset.urdf", "mjcf": "asset.xml",
        "glb": "asset.glb", "3mf": "asset.3mf"}
    assert all(v.is_file() and v.stat().st_size > 0 for v in out.values())
    assert not [x for x in tmp_path.rglob(".*")]  # no temporaries left


def test_every_format_carries_the_seed(tmp_path, bullet):
    """The build's seed (provenance seed 7 of the test assets) read back from each file with
    the format's own tools: pxr customData, the URDF's comment (and PyBullet still loads it),
    MuJoCo's custom text, glTF ``asset.extras``, 3MF metadata."""
    import re
    import xml.etree.ElementTree as ET

    import mujoco
    from lxml import etree
    from pxr import Usd

    asset = hinged_asset()
    assert asset.provenance.seed == 7
    files = export(asset, tmp_path, ["usda", "urdf", "mjcf", "glb", "3mf"])
    stage = Usd.Stage.Open(str(files["usda"]))
    assert stage.GetDefaultPrim().GetCustomDataByKey("n4d4d")["seed"] == 7
    assert stage.GetRootLayer().customLayerData["n4d4d"]["seed"] == 7
    urdf = files["urdf"].read_text()
    assert re.findall(r"<!-- n4d4d seed=(\d+) -->", urdf) == ["7"]
    ET.fromstring(urdf)  # still well-formed XML
    p, cid = bullet
    assert p.loadURDF(str(files["urdf"]), physicsClientId=cid) >= 0  # a URDF parser ignores the comment
    model = mujoco.MjModel.from_xml_path(str(files["mjcf"]))
    i = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_TEXT, "n4d4d_seed")
    adr = model.text_adr[i]
    assert bytes(model.text_data[adr:adr + model.text_size[i]]).rstrip(b"\0") == b"7"
    data = files["glb"].read_bytes()
    (jlen,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20:20 + jlen])
    assert gltf["asset"]["version"] == "2.0" and gltf["asset"]["extras"]["n4d4d"]["seed"] == 7
    root = etree.fromstring(zipfile.ZipFile(files["3mf"]).read("3D/3dmodel.model"))
    core = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
    meta = {m.get("name"): m.text for m in root.iter(f"{core}metadata")}
    assert meta["n4d4d:seed"] == "7"
    assert root.nsmap["n4d4d"]  # a metadata name outside 3MF's list is namespace-qualified (Core 4.3)


def test_3mf_is_byte_reproducible(tmp_path):
    """Two exports of one asset are the same bytes: trimesh's random p:UUIDs become name-based
    (uuid5) ones, distinct per object, item and build; trimesh still reads the package."""
    import trimesh
    from lxml import etree

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = export(hinged_asset(), tmp_path / "a", ["3mf"])["3mf"]
    b = export(hinged_asset(), tmp_path / "b", ["3mf"])["3mf"]
    assert a.read_bytes() == b.read_bytes()
    root = etree.fromstring(zipfile.ZipFile(a).read("3D/3dmodel.model"))
    key = "{http://schemas.microsoft.com/3dmanufacturing/production/2015/06}UUID"
    uuids = [el.get(key) for el in root.iter() if key in el.attrib]
    assert len(uuids) == 5 and len(set(uuids)) == 5  # 2 objects, 2 items, the build
    other = export(hinged_asset(name="other_chest"), tmp_path, ["3mf"])["3mf"]
    theirs = etree.fromstring(zipfile.ZipFile(other).read("3D/3dmodel.model"))
    assert not set(uuids) & {el.get(key) for el in theirs.iter() if key in el.attrib}
    loaded = trimesh.load(a)
    assert sorted(loaded.geometry) == ["base", "lid"]


def test_usd_scene_gravity_is_standard_gravity_down(tmp_path):
    from pxr import Usd, UsdPhysics

    stage = Usd.Stage.Open(str(export(box_asset(), tmp_path, ["usda"])["usda"]))
    scene = UsdPhysics.Scene(stage.GetPrimAtPath("/physicsScene"))
    assert tuple(scene.GetGravityDirectionAttr().Get()) == (0.0, 0.0, -1.0)
    assert scene.GetGravityMagnitudeAttr().Get() == pytest.approx(9.80665, rel=1e-7)  # float32 attribute


def test_mjcf_position_actuator_is_the_stored_drive_and_holds_against_gravity(tmp_path):
    """The MJCF actuator carries ``asset.drives`` as it is (kp, kv, force range), and MuJoCo's
    servo holds the lid at a 0.5 rad target with the closed-form static sag tau_g / kp, where
    tau_g = m g (0.2 cos q - 0.01 sin q) is gravity's torque on the lid (COM 0.2 m in front of
    and 0.01 m above the hinge line)."""
    import mujoco

    from n4d4d.exporters.mjcf import write_mjcf
    from n4d4d.physics_validation import drives_stage

    asset = drives_stage(hinged_asset())
    d = asset.drives["hinge"]
    model = mujoco.MjModel.from_xml_path(str(write_mjcf(asset, tmp_path / "asset.xml", fixed_base=True)))
    assert model.nu == 1 and mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, 0) == "hinge_drive"
    # MuJoCo's XML keeps 6 significant digits
    assert model.actuator_gainprm[0, 0] == pytest.approx(d.stiffness, rel=1e-5)
    assert model.actuator_biasprm[0, 1:3] == pytest.approx([-d.stiffness, -d.damping], rel=1e-5)
    assert model.actuator_forcerange[0] == pytest.approx([-d.max_force, d.max_force])
    data = mujoco.MjData(model)
    data.ctrl[0] = 0.5
    for _ in range(int(2.0 / model.opt.timestep)):
        mujoco.mj_step(model, data)
    q = data.qpos[0]
    m = 0.4 * 0.4 * 0.02 * DENSITY
    tau = m * 9.80665 * (0.2 * np.cos(q) - 0.01 * np.sin(q))
    assert q == pytest.approx(0.5 - tau / d.stiffness, abs=1e-4)  # settled (10 Hz servo, 2 s)
