"""Per-part materials survive the build into every format, read back by each format's own consumer.

The input: a URDF written here with two links of two colours, one link an open OBJ box (so the
rigging stage rebuilds it closed and its colour must follow), the other a cylinder primitive;
and a two-primitive glTF of two colours. The truth is the colours written into those files;
readers are pxr (UsdShade), trimesh and the GLB's own JSON, PyBullet, MuJoCo and lib3mf.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

RED, BLUE = (0.8, 0.1, 0.1, 1.0), (0.1, 0.2, 0.9, 1.0)

URDF = """<?xml version="1.0"?>
<robot name="two">
  <link name="body">
    <visual><geometry><mesh filename="open_box.obj"/></geometry>
      <material name="red"><color rgba="0.8 0.1 0.1 1"/></material></visual>
    <collision><geometry><box size="0.4 0.3 0.1"/></geometry></collision>
  </link>
  <link name="arm">
    <visual><origin xyz="0 0 0.2"/><geometry><cylinder radius="0.03" length="0.3"/></geometry>
      <material name="blue"><color rgba="0.1 0.2 0.9 1"/></material></visual>
    <collision><origin xyz="0 0 0.2"/><geometry><cylinder radius="0.03" length="0.3"/></geometry></collision>
  </link>
  <joint name="hinge" type="revolute"><parent link="body"/><child link="arm"/>
    <origin xyz="0 0 0.05"/><axis xyz="0 1 0"/><limit lower="-1" upper="1" effort="10" velocity="1"/></joint>
</robot>
"""


@pytest.fixture(scope="module")
def two_colours(tmp_path_factory):
    import trimesh

    from n4d4d.exporters import export
    from test_export_kinds import build_until_mass

    folder = tmp_path_factory.mktemp("two")
    box = trimesh.creation.box([0.4, 0.3, 0.1])
    top = np.flatnonzero(box.face_normals[:, 2] > 0.9)
    box.update_faces(np.setdiff1d(np.arange(len(box.faces)), top))  # open at the top: not watertight
    box.export(folder / "open_box.obj")
    (folder / "two.urdf").write_text(URDF)
    asset = build_until_mass(source=folder / "two.urdf")
    out = folder / "out"
    out.mkdir()
    return asset, export(asset, out, ("usda", "glb", "urdf", "mjcf", "3mf"))


def test_the_open_part_was_rebuilt_and_kept_its_colour(two_colours):
    asset, _ = two_colours
    rig = next(s for s in asset.stages if s.name == "rigging").figures
    assert rig["parts_closed"] >= 1  # the open box was closed by the rigging stage
    assert {p.name: tuple(p.mesh.base_color) for p in asset.parts} == {"body": RED, "arm": BLUE}


def test_usd_binds_one_material_per_part_with_its_colour(two_colours):
    from pxr import Usd, UsdGeom, UsdShade

    _, files = two_colours
    stage = Usd.Stage.Open(str(files["usda"]))
    found = {}
    for prim in stage.Traverse():
        if prim.IsA(UsdGeom.Mesh) and prim.GetName() == "visual":
            material = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()[0]
            shader = UsdShade.Shader(stage.GetPrimAtPath(material.GetPath().AppendChild("PreviewSurface")))
            found[prim.GetParent().GetName()] = (str(material.GetPath()),
                                                 tuple(shader.GetInput("diffuseColor").Get()))
    assert set(found) == {"body", "arm"} and found["body"][0] != found["arm"][0]
    np.testing.assert_allclose(found["body"][1], RED[:3], atol=1e-6)  # float32 colours
    np.testing.assert_allclose(found["arm"][1], BLUE[:3], atol=1e-6)


def test_glb_has_one_material_per_part_mesh(two_colours):
    import trimesh

    _, files = two_colours
    data = files["glb"].read_bytes()
    doc = json.loads(data[20:20 + struct.unpack_from("<I", data, 12)[0]])
    assert len(doc["materials"]) == 2
    colours = {}
    for node in doc["nodes"]:
        if "mesh" in node:
            prim = doc["meshes"][node["mesh"]]["primitives"][0]
            colours[node["name"]] = doc["materials"][prim["material"]]["pbrMetallicRoughness"]["baseColorFactor"]
    # glTF stores the factor as floats of the uint8 colour trimesh keeps: within 1/255
    np.testing.assert_allclose(colours["body"], RED, atol=1 / 255)
    np.testing.assert_allclose(colours["arm"], BLUE, atol=1 / 255)
    scene = trimesh.load(files["glb"])
    got = {k: tuple(g.visual.material.baseColorFactor) for k, g in scene.geometry.items()}
    assert len(set(got.values())) == 2


def test_urdf_and_mjcf_carry_each_links_colour(two_colours):
    import mujoco
    import pybullet as pb

    _, files = two_colours
    client = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(files["urdf"]), physicsClientId=client)
        rgba = {}
        for shape in pb.getVisualShapeData(body, physicsClientId=client):
            link = shape[1]
            name = "body" if link == -1 else pb.getJointInfo(body, link, physicsClientId=client)[12].decode()
            rgba[name] = shape[7]
    finally:
        pb.disconnect(client)
    np.testing.assert_allclose(rgba["body"], RED, atol=1e-6)
    np.testing.assert_allclose(rgba["arm"], BLUE, atol=1e-6)

    model = mujoco.MjModel.from_xml_path(str(files["mjcf"]))
    got = {}
    for g in range(model.ngeom):
        if model.geom_group[g] == 2:  # the visual geoms
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, model.geom_bodyid[g])
            assert model.geom_matid[g] >= 0  # a material per visual geom
            got[name] = (model.geom_rgba[g], model.mat_rgba[model.geom_matid[g]])
    for name, colour in (("body", RED), ("arm", BLUE)):  # float32 in MuJoCo
        np.testing.assert_allclose(got[name][0], colour, atol=1e-6)
        np.testing.assert_allclose(got[name][1], colour, atol=1e-6)


def test_3mf_base_materials_read_by_lib3mf(two_colours):
    lib3mf = pytest.importorskip("lib3mf", reason="pip install lib3mf (the 3MF consortium's reference library)")
    _, files = two_colours
    model = lib3mf.get_wrapper().CreateModel()
    reader = model.QueryReader("3mf")
    reader.SetStrictModeActive(True)
    reader.ReadFromFile(str(files["3mf"]))
    assert reader.GetWarningCount() == 0
    objects, colours = model.GetMeshObjects(), {}
    while objects.MoveNext():
        obj = objects.GetCurrentMeshObject()
        group, prop, has = obj.GetObjectLevelProperty()
        assert has
        c = model.GetBaseMaterialGroupByID(group).GetDisplayColor(prop)
        colours[obj.GetName()] = np.array([c.Red, c.Green, c.Blue, c.Alpha]) / 255.0
    np.testing.assert_allclose(colours["body"], RED, atol=0.5 / 255)  # 8-bit sRGB in the file
    np.testing.assert_allclose(colours["arm"], BLUE, atol=0.5 / 255)


def test_two_primitive_gltf_keeps_each_primitives_colour(tmp_path):
    """A glTF with two primitives of two materials: each keeps its colour on load (per vertex),
    through the remesh (closest-point transfer) and into the GLB (COLOR_0) and USD (displayColor)."""
    import trimesh
    from pxr import Usd, UsdGeom
    from trimesh.visual.material import PBRMaterial

    from n4d4d.exporters import export
    from n4d4d.io.load import load_mesh
    from test_export_kinds import build_until_mass

    scene = trimesh.Scene()
    for name, colour, x in (("left", RED, -0.5), ("right", BLUE, 0.5)):
        box = trimesh.creation.box([1.0, 1.0, 1.0])
        box.apply_translation([x, 0.0, 0.0])  # the two touch along x = 0: one solid after the remesh
        box.visual = trimesh.visual.TextureVisuals(material=PBRMaterial(
            baseColorFactor=np.round(np.array(colour) * 255).astype(np.uint8)))
        scene.add_geometry(box, geom_name=name, node_name=name)
    path = tmp_path / "two.glb"
    scene.export(path)
    mesh = load_mesh(path)
    assert mesh.base_color is None and sorted(mesh.submesh_names) == ["left", "right"]
    per_face = mesh.vertex_colors[mesh.faces[:, 0]] / 255.0
    for k, name in enumerate(mesh.submesh_names):
        mine = mesh.face_submesh == k
        np.testing.assert_allclose(per_face[mine], np.tile({"left": RED, "right": BLUE}[name], (mine.sum(), 1)),
                                   atol=0.5 / 255)  # 8-bit colours
    asset = build_until_mass(source=path, resolution=32, remesh="always")
    out = tmp_path / "out"
    out.mkdir()
    files = export(asset, out, ("usda", "glb"))
    # vertices of the remeshed surface farther than 0.3 (of the 2-unit-wide input, scaled) from
    # the boxes' common face carry their box's colour: the transfer is by closest point
    v = np.asarray(asset.visual.vertices)
    cols = np.asarray(asset.visual.vertex_colors, np.float64) / 255.0
    half = 0.3 * np.ptp(v[:, 0]) / 2.0
    np.testing.assert_allclose(cols[v[:, 0] < -half], np.tile(RED, ((v[:, 0] < -half).sum(), 1)), atol=1 / 255)
    np.testing.assert_allclose(cols[v[:, 0] > half], np.tile(BLUE, ((v[:, 0] > half).sum(), 1)), atol=1 / 255)
    data = files["glb"].read_bytes()  # COLOR_0 read by the spec's layout (section 3.7.2.1)
    n = struct.unpack_from("<I", data, 12)[0]
    doc, blob = json.loads(data[20:20 + n]), data[28 + n:]
    prim = doc["meshes"][0]["primitives"][0]
    acc = doc["accessors"][prim["attributes"]["COLOR_0"]]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype, scale = {5121: ("u1", 255.0), 5123: ("<u2", 65535.0), 5126: ("<f4", 1.0)}[acc["componentType"]]
    width = {"VEC3": 3, "VEC4": 4}[acc["type"]]
    colour0 = np.frombuffer(blob, dtype, acc["count"] * width, view.get("byteOffset", 0) + acc.get("byteOffset", 0))
    colour0 = colour0.reshape(-1, width)[:, :3] / scale
    assert np.abs(colour0 - RED[:3]).max(axis=1).min() < 1 / 255 and np.abs(colour0 - BLUE[:3]).max(axis=1).min() < 1 / 255
    material = doc["materials"][prim["material"]]  # one (white) material per part mesh: COLOR_0 shows as it is
    assert material["pbrMetallicRoughness"]["baseColorFactor"] == [1.0, 1.0, 1.0, 1.0]
    stage = Usd.Stage.Open(str(files["usda"]))
    mesh_prim = next(p for p in stage.Traverse() if p.IsA(UsdGeom.Mesh) and p.GetName() == "visual")
    display = np.asarray(UsdGeom.PrimvarsAPI(mesh_prim).GetPrimvar("displayColor").Get())
    assert np.abs(display - RED[:3]).max(axis=1).min() < 1 / 255 and np.abs(display - BLUE[:3]).max(axis=1).min() < 1 / 255
    # the bound material shows them: its diffuse colour reads the displayColor primvar
    from pxr import UsdShade

    material = UsdShade.MaterialBindingAPI(mesh_prim).ComputeBoundMaterial()[0]
    surface = UsdShade.Shader(stage.GetPrimAtPath(material.GetPath().AppendChild("PreviewSurface")))
    source = surface.GetInput("diffuseColor").GetConnectedSources()[0][0].source
    reader = UsdShade.Shader(source.GetPrim())
    assert reader.GetIdAttr().Get() == "UsdPrimvarReader_float3" and reader.GetInput("varname").Get() == "displayColor"
