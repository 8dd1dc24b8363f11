"""All formats from a real textured mesh: pybullet_data's duck (OBJ + MTL + PNG texture).

The source OBJ's ``vt`` coordinates are v-up, like USD's ``st`` and trimesh's ``uv``; n4d4d
holds glTF's v-down. Each writer must land back on the source's numbers.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from n4d4d.asset import Asset, MassProperties, Material, Mesh, Part
from n4d4d.conventions import Y_UP_TO_Z_UP
from n4d4d.exporters import FORMATS, export

SCALE = 0.1  # the duck's file units -> a 16 cm duck


@pytest.fixture(scope="module")
def duck(pybullet_data):
    import trimesh

    src = trimesh.load(pybullet_data / "duck.obj", process=False)
    buf = io.BytesIO()
    src.visual.material.image.save(buf, format="PNG")
    verts = np.asarray(src.vertices) @ Y_UP_TO_Z_UP.T * SCALE
    normals = np.asarray(src.vertex_normals) @ Y_UP_TO_Z_UP.T
    uv = np.asarray(src.visual.uv, np.float64)
    visual = Mesh(verts, src.faces, normals=normals, uvs=np.column_stack([uv[:, 0], 1 - uv[:, 1]]),
                  texture_png=buf.getvalue())
    hull_tm = trimesh.Trimesh(verts, src.faces).convex_hull
    hull_tm.density = 500.0
    inertia = np.asarray(hull_tm.moment_inertia)
    moments, axes = np.linalg.eigh(inertia)
    if np.linalg.det(axes) < 0:
        axes[:, 2] *= -1
    from scipy.spatial.transform import Rotation

    mass = MassProperties(hull_tm.mass, np.asarray(hull_tm.center_mass), inertia, moments,
                          Rotation.from_matrix(axes).as_quat(scalar_first=True), hull_tm.volume, 500.0)
    asset = Asset(name="duck", visual=visual, parts=(Part("body", visual, np.arange(len(visual.faces))),),
                  collision={"body": (Mesh(hull_tm.vertices, hull_tm.faces),)}, mass={"body": mass},
                  material=Material())
    return asset, uv, buf.getvalue()


def test_every_format_from_the_textured_duck_reads_back(tmp_path, duck):
    import mujoco
    import pybullet as p
    import trimesh
    from pxr import Usd, UsdGeom

    asset, source_uv, png = duck
    out = export(asset, tmp_path, FORMATS)
    m = asset.mass["body"].mass

    stage = Usd.Stage.Open(str(out["usdc"]))
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/duck/body/visual"))
    st = np.array(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get())
    assert np.allclose(st, source_uv, atol=1e-6)  # USD st is the OBJ's vt again (float32)
    textures = list((tmp_path / "textures").iterdir())
    assert len(textures) == 1 and textures[0].read_bytes() == png

    glb = trimesh.load(out["glb"], process=False)
    g = glb.geometry["body"]
    assert len(g.vertices) == len(asset.visual.vertices)
    assert np.allclose(g.visual.uv, source_uv, atol=1e-6)  # trimesh's v-up uv: the OBJ's vt
    assert g.visual.material.baseColorTexture.size == (512, 512)

    model = mujoco.MjModel.from_xml_path(str(out["mjcf"]))
    assert model.body_mass[1] == pytest.approx(m, rel=5e-6)  # 6 significant digits in MJCF

    cid = p.connect(p.DIRECT)
    try:
        body = p.loadURDF(str(out["urdf"]), flags=p.URDF_USE_INERTIA_FROM_FILE, physicsClientId=cid)
        assert p.getDynamicsInfo(body, -1, physicsClientId=cid)[0] == pytest.approx(m, rel=1e-12)
    finally:
        p.disconnect(cid)
    assert (tmp_path / "meshes" / "body_visual.mtl").is_file()  # OBJ visual keeps its texture

    threemf = trimesh.load(out["3mf"])
    (geom,) = threemf.geometry.values()
    assert len(geom.faces) == len(asset.visual.faces)
    # millimetres: the bounding box is 1000 x the asset's (float32 in the file)
    assert np.allclose(geom.bounds, asset.visual.bounds * 1000.0, rtol=1e-6, atol=1e-3)
