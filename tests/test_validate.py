"""``n4d4d validate`` on hand-made files: n4d4d's own exports pass; broken files fail naming the
rule (two articulation roots, a body without collider, a joint to a missing prim, a URDF with
zero inertia, an impossible inertia tensor); the CLI's exit status and --json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_export_common import box_asset, hinged_asset

from n4d4d.exporters import export
from n4d4d.validate import validate_file, validate_paths

pxr = pytest.importorskip("pxr")
from pxr import Sdf, Usd, UsdPhysics  # noqa: E402


@pytest.fixture(scope="module")
def chest(tmp_path_factory):
    out = tmp_path_factory.mktemp("chest")
    return export(hinged_asset(), out, ("usda", "urdf", "mjcf"))


def failed(report):
    return {c.name for c in report.checks if not c.passed}


def test_own_exports_pass_and_agree(chest):
    reports = validate_paths([chest["usda"].parent], physics=False, third_party=False)
    assert {r.format for r in reports} == {"usd", "urdf", "mjcf", "folder"}
    for r in reports:
        assert r.passed, (r.path, [(c.name, c.reasons) for c in r.checks if not c.passed])


def test_readers_recover_mass_and_joint_of_the_hand_made_asset(chest):
    """Each format read back gives the asset's masses (closed-form boxes) and its hinge."""
    from n4d4d.validate.read import read_file

    asset = hinged_asset()
    for fmt in ("usda", "urdf", "mjcf"):
        got = read_file(chest[fmt]).asset
        for p in asset.parts:
            # float32 (USD) and 6 significant digits (MJCF): 1e-5 relative
            assert got.mass[p.name].mass == pytest.approx(asset.mass[p.name].mass, rel=1e-5), fmt
            assert np.allclose(got.mass[p.name].inertia, asset.mass[p.name].inertia, rtol=1e-4, atol=1e-9), fmt
        (j,) = [j for j in got.joints if j.type != "fixed"]
        (want,) = [j for j in asset.joints if j.type != "fixed"]
        assert np.allclose(j.axis, want.axis, atol=1e-6) and np.allclose(j.origin, want.origin, atol=1e-5), fmt
        assert (j.lower, j.upper) == pytest.approx((want.lower, want.upper), abs=1e-5), fmt


def _edited(src, dst, edit):
    stage = Usd.Stage.Open(str(src))
    edit(stage)
    stage.GetRootLayer().Export(str(dst))
    return dst


def test_two_articulation_roots_fail(chest, tmp_path):
    def edit(stage):
        for prim in stage.Traverse():
            if prim.HasAPI(UsdPhysics.RigidBodyAPI) and not prim.HasAPI(UsdPhysics.ArticulationRootAPI):
                UsdPhysics.ArticulationRootAPI.Apply(prim)

    r = validate_file(_edited(chest["usda"], tmp_path / "two_roots.usda", edit), physics=False, third_party=False)
    assert failed(r) == {"articulation_root"}
    (c,) = [c for c in r.checks if c.name == "articulation_root"]
    assert "2 articulation roots" in c.reasons[0]


def test_body_without_collider_fails(chest, tmp_path):
    def edit(stage):
        body = next(p for p in stage.Traverse() if p.HasAPI(UsdPhysics.RigidBodyAPI) and p.GetName() == "lid")
        stage.RemovePrim(body.GetPath().AppendChild("collisions"))

    r = validate_file(_edited(chest["usda"], tmp_path / "no_collider.usda", edit), physics=False, third_party=False)
    assert "collider" in failed(r)
    assert any("lid has no collider" in s for c in r.checks for s in c.reasons)


def test_joint_to_missing_prim_fails(chest, tmp_path):
    def edit(stage):
        joint = next(p for p in stage.Traverse() if p.IsA(UsdPhysics.Joint))
        UsdPhysics.Joint(joint).GetBody1Rel().SetTargets([Sdf.Path("/chest/nowhere")])

    r = validate_file(_edited(chest["usda"], tmp_path / "missing.usda", edit), physics=False, third_party=False)
    assert "joint_bodies" in failed(r)
    assert any("/chest/nowhere, which does not exist" in s for c in r.checks for s in c.reasons)


def test_drive_without_max_force_and_mismatched_frames_fail(chest, tmp_path):
    def edit(stage):
        joint = next(p for p in stage.Traverse() if p.IsA(UsdPhysics.RevoluteJoint) or p.IsA(UsdPhysics.PrismaticJoint))
        for kind in ("angular", "linear"):
            if joint.HasAPI(UsdPhysics.DriveAPI, kind):
                UsdPhysics.DriveAPI(joint, kind).GetMaxForceAttr().Clear()
        pos = UsdPhysics.Joint(joint).GetLocalPos1Attr()
        pos.Set(pos.Get() + (0.0, 0.0, 0.01))  # 1 cm off: body1 sees another pivot

    r = validate_file(_edited(chest["usda"], tmp_path / "drive.usda", edit), physics=False, third_party=False)
    assert {"drive_max_force", "joint_frames"} <= failed(r)


def test_approximation_none_on_a_dynamic_body_fails(chest, tmp_path):
    def edit(stage):
        hull = next(p for p in stage.Traverse() if p.HasAPI(UsdPhysics.MeshCollisionAPI))
        UsdPhysics.MeshCollisionAPI(hull).GetApproximationAttr().Set(UsdPhysics.Tokens.none)

    r = validate_file(_edited(chest["usda"], tmp_path / "approx.usda", edit), physics=False, third_party=False)
    assert failed(r) == {"collision_approximation"}


def test_urdf_with_zero_inertia_fails(chest, tmp_path):
    import shutil
    import xml.etree.ElementTree as ET

    folder = tmp_path / "zero"
    shutil.copytree(chest["urdf"].parent / "meshes", folder / "meshes")
    robot = ET.parse(chest["urdf"]).getroot()
    inertia = robot.find("link").find("inertial").find("inertia")
    for k in inertia.attrib:
        inertia.set(k, "0")
    ET.ElementTree(robot).write(folder / "asset.urdf")
    r = validate_file(folder / "asset.urdf", physics=False)
    assert failed(r) == {"mass_inertia"}
    (c,) = [c for c in r.checks if c.name == "mass_inertia"]
    assert "must be positive" in c.reasons[0]


def test_inertia_breaking_the_triangle_inequality_fails(chest, tmp_path):
    import shutil
    import xml.etree.ElementTree as ET

    folder = tmp_path / "tri"
    shutil.copytree(chest["urdf"].parent / "meshes", folder / "meshes")
    robot = ET.parse(chest["urdf"]).getroot()
    inertia = robot.find("link").find("inertial").find("inertia")
    for k, v in dict(ixx="1", iyy="1", izz="3", ixy="0", ixz="0", iyz="0").items():  # 1 + 1 < 3
        inertia.set(k, v)
    ET.ElementTree(robot).write(folder / "asset.urdf")
    r = validate_file(folder / "asset.urdf", physics=False)
    assert failed(r) == {"mass_inertia"}
    assert "triangle inequality" in next(c for c in r.checks if c.name == "mass_inertia").reasons[0]


def test_cross_format_disagreement_is_named(chest, tmp_path):
    import shutil
    import xml.etree.ElementTree as ET

    folder = tmp_path / "mixed"
    shutil.copytree(chest["usda"].parent, folder)
    robot = ET.parse(folder / "asset.urdf").getroot()
    limit = next(j for j in robot.findall("joint") if j.find("limit") is not None).find("limit")
    limit.set("upper", repr(float(limit.get("upper")) + 0.1))
    ET.ElementTree(robot).write(folder / "asset.urdf")
    reports = validate_paths([folder], physics=False, third_party=False)
    (cross,) = [r for r in reports if r.format == "folder"]
    assert not cross.passed and "upper limit" in " ".join(cross.checks[0].reasons)


def test_rest_in_pybullet_and_newton_on_a_box(tmp_path):
    files = export(box_asset(), tmp_path, ("usda",))
    r = validate_file(files["usda"], physics=True, third_party=False)
    got = {(c.name, c.engine): c.passed for c in r.checks}
    assert got[("rest", "pybullet")] and got[("rest", "newton")] and got[("initial_penetration", "pybullet-collision")]


def test_cli_exit_status_and_json(chest, tmp_path):
    from typer.testing import CliRunner

    from n4d4d.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(chest["urdf"]), "--no-physics", "--json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc[0]["passed"] and {c["name"] for c in doc[0]["checks"]} >= {"urdf_tree", "mass_inertia"}

    def edit(stage):
        for prim in stage.Traverse():
            if prim.HasAPI(UsdPhysics.RigidBodyAPI):
                UsdPhysics.ArticulationRootAPI.Apply(prim)

    bad = _edited(chest["usda"], tmp_path / "bad.usda", edit)
    res = runner.invoke(app, ["validate", str(bad), "--no-physics"])
    assert res.exit_code == 1 and "articulation_root" in res.output and "FAIL" in res.output
