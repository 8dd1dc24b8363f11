"""The four asset kinds (pybullet's textured duck, PartNet-Mobility cabinet 40147 and scissors
10495, CesiumMan rigged skeletal) exported in every format and read by the consumers' own
validators: NVIDIA SimReady (physics features), OpenUSD's UsdValidation, lib3mf strict mode,
the Khronos glTF validator; ``n4d4d validate`` on them; the duck's texture in USD and GLB.

Builds are small (coarse volume, few hulls) and stop after the mass stage: the certificate is
not what these tests check, the files are. One module-scoped build per kind.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from n4d4d.exporters import export

FORMATS = ("usda", "urdf", "mjcf", "glb", "3mf")
SMALL = dict(resolution=40, max_faces=2500, max_hulls=3, motion="none", seed=0)


def build_until_mass(source=None, sample=None, **options):
    """The pipeline's stages up to and including ``mass`` (no motion, no certificate)."""
    from n4d4d.options import BuildOptions
    from n4d4d.pipeline import STAGES, run_stage
    from n4d4d.sources import as_source

    opts = BuildOptions(**{**SMALL, **options})
    src = as_source(source, sample=sample)
    asset = run_stage(STAGES[0], src, opts)
    for stage in STAGES[1:]:
        if stage.name in ("animate", "physics"):
            break
        asset = run_stage(stage, asset, opts)
    return asset


def _exported(tmp_path_factory, name, **kw):
    asset = build_until_mass(**kw)
    out = tmp_path_factory.mktemp(name)
    return asset, export(asset, out, FORMATS)


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    return _exported(tmp_path_factory, "duck", sample="duck")


@pytest.fixture(scope="module")
def cabinet(tmp_path_factory, shared_data):
    return _exported(tmp_path_factory, "cabinet", source=shared_data / "partnet-mobility/40147/mobility.urdf")


@pytest.fixture(scope="module")
def scissors(tmp_path_factory, shared_data):
    return _exported(tmp_path_factory, "scissors", source=shared_data / "partnet-mobility/10495/mobility.urdf")


@pytest.fixture(scope="module")
def cesium(tmp_path_factory, shared_data):
    return _exported(tmp_path_factory, "cesium", source=shared_data / "rigged/CesiumMan.glb", rig="skeletal")


KINDS = ["duck", "cabinet", "scissors", "cesium"]


@pytest.mark.parametrize("kind", KINDS)
def test_simready_physics_rules_and_usd_validation_pass(kind, request):
    from n4d4d.validate.simready import ValidatorUnavailable, simready_issues, usd_validation_issues

    asset, files = request.getfixturevalue(kind)
    errors = [i for i in usd_validation_issues(files["usda"]) if i.severity == "error"]
    assert errors == []
    try:
        issues = simready_issues(files["usda"])
    except ValidatorUnavailable as e:
        pytest.skip(str(e))
    assert [(i.rule, i.at) for i in issues] == []


@pytest.mark.parametrize("kind", KINDS)
def test_lib3mf_strict_mode_reads_the_3mf(kind, request):
    lib3mf = pytest.importorskip("lib3mf", reason="pip install lib3mf (the 3MF consortium's reference library)")
    asset, files = request.getfixturevalue(kind)
    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    reader = model.QueryReader("3mf")
    reader.SetStrictModeActive(True)
    reader.ReadFromFile(str(files["3mf"]))  # raises on any strict-mode violation
    assert reader.GetWarningCount() == 0
    objects = model.GetMeshObjects()
    n = 0
    while objects.MoveNext():
        n += 1
    assert n == len(asset.parts)


GLTF_SCRIPT = """
const fs = require('fs'); const v = require('gltf-validator');
v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])), {maxIssues: 500}).then(r => {
  console.log(JSON.stringify({errors: r.issues.numErrors, warnings: r.issues.numWarnings,
    messages: r.issues.messages.filter(m => m.severity < 2).map(m => m.code + ' ' + m.pointer)}));
});
"""


@pytest.mark.parametrize("kind", KINDS)
def test_khronos_gltf_validator_no_errors_no_warnings(kind, request, gltf_validator):
    node, root = gltf_validator
    asset, files = request.getfixturevalue(kind)
    out = subprocess.run([node, "-e", GLTF_SCRIPT, str(files["glb"])], env={"NODE_PATH": root, "PATH": ""},
                         capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    assert (report["errors"], report["warnings"], report["messages"]) == (0, 0, [])


@pytest.mark.parametrize("kind", KINDS)
def test_n4d4d_validate_passes_its_own_structure_and_formats_agree(kind, request):
    from n4d4d.validate import validate_paths

    asset, files = request.getfixturevalue(kind)
    reports = validate_paths([files["usda"].parent], physics=False)
    by_format = {r.format: r for r in reports}
    assert set(by_format) == {"usd", "urdf", "mjcf", "folder"}
    structural = {"usd": ["collision_approximation", "collider", "joint_bodies", "joint_frames", "drive_max_force",
                          "joint_connected", "articulation_root", "usd_validation", "mass_inertia"],
                  "urdf": ["urdf_tree", "collider", "joint_effort", "mass_inertia"],
                  "mjcf": ["collider", "actuator_force_range", "mass_inertia"], "folder": ["cross_format"]}
    for fmt, names in structural.items():
        got = {c.name: c for c in by_format[fmt].checks}
        for n in names:
            assert got[n].passed, (fmt, n, got[n].reasons)


def test_cabinet_actuators_carry_the_usd_drive_gains(cabinet):
    """MuJoCo loads one position actuator per movable joint with the USD DriveAPI's gains,
    converted from per degree back to per radian (revolute) or as they are (prismatic)."""
    import mujoco
    from pxr import Usd, UsdPhysics

    asset, files = cabinet
    model = mujoco.MjModel.from_xml_path(str(files["mjcf"]))
    stage = Usd.Stage.Open(str(files["usda"]))
    usd = {}
    for prim in stage.Traverse():
        for kind in ("angular", "linear"):
            if prim.HasAPI(UsdPhysics.DriveAPI, kind):
                d = UsdPhysics.DriveAPI(prim, kind)
                per = 180 / np.pi if kind == "angular" else 1.0
                usd[prim.GetName()] = (d.GetStiffnessAttr().Get() * per, d.GetDampingAttr().Get() * per,
                                       d.GetMaxForceAttr().Get())
    assert model.nu == len(usd) == 2
    for a in range(model.nu):
        joint = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, model.actuator_trnid[a, 0])
        kp, kv, fmax = usd[joint]
        # float32 USD attributes and MJCF's 6 significant digits: 1e-5 relative
        assert model.actuator_gainprm[a, 0] == pytest.approx(kp, rel=1e-5)
        assert -model.actuator_biasprm[a, 2] == pytest.approx(kv, rel=1e-5)
        assert model.actuator_forcerange[a, 1] == pytest.approx(fmax, rel=1e-5)


def test_urdf_writes_dynamics_damping_of_the_drives(cabinet):
    import xml.etree.ElementTree as ET

    asset, files = cabinet
    robot = ET.parse(files["urdf"]).getroot()
    damping = {j.get("name"): float(j.find("dynamics").get("damping")) for j in robot.findall("joint")
               if j.find("dynamics") is not None}
    assert set(damping) == set(asset.drives)
    for name, d in asset.drives.items():
        assert damping[name] == pytest.approx(d.damping, rel=1e-12)  # repr() of the float: exact


def _colour_at(image, uv_v_up):
    h, w = image.shape[:2]
    x = np.clip((uv_v_up[:, 0] % 1.0) * w, 0, w - 1).astype(int)
    y = np.clip((1.0 - uv_v_up[:, 1] % 1.0) * h, 0, h - 1).astype(int)
    return image[y, x, :3].astype(float)


def test_duck_texture_survives_into_usd_and_glb(duck):
    """Colours at sampled surface points of the output files match the input's texture at the
    closest input point: median RGB difference under 12/255 and 90% of samples under 40/255
    (the remesh moves the surface by up to a voxel, ~2 mm at this resolution, and the duck's
    texture has sharp eye and beak edges, where a millimetre changes the colour entirely)."""
    import pybullet_data
    import trimesh
    from pxr import Usd, UsdGeom, UsdShade
    from PIL import Image

    from n4d4d.io.load import load_mesh

    asset, files = duck
    src = trimesh.load(pybullet_data.getDataPath() + "/duck.obj", process=False)
    loaded = load_mesh(pybullet_data.getDataPath() + "/duck.obj")
    # Mesh.uvs is glTF's v down; trimesh keeps OBJ's v up
    np.testing.assert_allclose(loaded.uvs[:, 1], 1.0 - np.asarray(src.visual.uv)[:, 1])
    src_img = np.asarray(src.visual.material.image.convert("RGB"))
    # the asset frame is the input scaled and placed: map output points back through the loader's frame
    s = asset.source_mesh
    glb = trimesh.load(files["glb"], force="mesh", process=False)
    pts, fidx = trimesh.sample.sample_surface(glb, 2000, seed=1)
    bary = trimesh.triangles.points_to_barycentric(glb.triangles[fidx], pts)
    uv = np.einsum("nk,nkd->nd", bary, np.asarray(glb.visual.uv)[glb.faces[fidx]])
    got_glb = _colour_at(np.asarray(glb.visual.material.baseColorTexture.convert("RGB")), uv)
    # glb is Y up: back to Z up, then to the source mesh (same vertices as the input, scaled)
    from n4d4d.conventions import Y_UP_TO_Z_UP
    p_asset = pts @ Y_UP_TO_Z_UP.T
    want = _source_colours(s, src, src_img, p_asset)
    diff = np.abs(got_glb - want).max(axis=1)
    assert np.median(diff) < 12 and np.quantile(diff, 0.9) < 40, (np.median(diff), np.quantile(diff, 0.9))
    # USD: the st primvar and the texture file of the bound material
    stage = Usd.Stage.Open(str(files["usda"]))
    mesh = next(UsdGeom.Mesh(p) for p in stage.Traverse() if p.GetName() == "visual")
    st = np.asarray(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("st").Get(), float)
    mat = UsdShade.MaterialBindingAPI(mesh.GetPrim()).ComputeBoundMaterial()[0]
    tex = next(c for c in mat.GetPrim().GetChildren() if c.GetAttribute("inputs:file"))
    img = np.asarray(Image.open(files["usda"].parent / tex.GetAttribute("inputs:file").Get().path).convert("RGB"))
    P = np.asarray(mesh.GetPointsAttr().Get(), float)
    F = np.asarray(mesh.GetFaceVertexIndicesAttr().Get()).reshape(-1, 3)
    T = np.array(UsdGeom.Xformable(mesh.GetPrim()).ComputeLocalToWorldTransform(Usd.TimeCode.Default())).T
    um = trimesh.Trimesh(P @ T[:3, :3].T + T[:3, 3], F, process=False)
    pts, fidx = trimesh.sample.sample_surface(um, 2000, seed=2)
    bary = trimesh.triangles.points_to_barycentric(um.triangles[fidx], pts)
    got_usd = _colour_at(img, np.einsum("nk,nkd->nd", bary, st[F[fidx]]))  # USD st: v up
    diff = np.abs(got_usd - _source_colours(s, src, src_img, pts)).max(axis=1)
    assert np.median(diff) < 12 and np.quantile(diff, 0.9) < 40, (np.median(diff), np.quantile(diff, 0.9))


def _source_colours(source_mesh, src, src_img, points):
    """Input texture colour at the input point closest to each asset-frame point: the loaded
    source mesh has the input's vertices and faces (scaled and placed), so the closest face and
    barycentrics there index trimesh's own UVs of the file."""
    import trimesh

    sm = trimesh.Trimesh(np.asarray(source_mesh.vertices), np.asarray(source_mesh.faces), process=False)
    closest, _, tri = trimesh.proximity.closest_point(sm, points)
    bary = trimesh.triangles.points_to_barycentric(sm.triangles[tri], closest)
    uv = np.einsum("nk,nkd->nd", bary, np.asarray(src.visual.uv)[np.asarray(src.faces)[tri]])
    return _colour_at(src_img, uv)
