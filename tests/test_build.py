"""End to end: ``n4d4d build`` on real meshes gives watertight, physics-checked, loadable USD.

The assets are built once per session (module fixture) and every test reads them. The set is
the issue's: pybullet_data's duck, teddy, mug, bunny and 20 of random_urdfs. Each is checked
against independent readers: trimesh (watertight, manifold, volume), pxr's UsdPhysics parser,
and Newton's USD importer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

import n4d4d
from n4d4d.volume import mesh_quality

NAMED = ["duck", "teddy", "mug", "bunny"]
RANDOM = [f"random_urdfs/{i:03d}" for i in range(0, 100, 5)]  # 20 spread over 000-099
SAMPLES = NAMED + RANDOM
# Test budgets: resolution 192 keeps the volume within 2% on these (the default 256 is for
# production; benchmarks/build.py runs the defaults) and keeps the
# suite to minutes on 2 cores; the 120 s CoACD budget only guards against a hang here
# (budgets themselves are tested in test_cli.py).
OPTIONS = dict(resolution=192, decomposition_time_budget=120.0, seed=0)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    assets = {}
    for name in SAMPLES:
        asset = n4d4d.build(sample=name, **OPTIONS)
        folder = asset.save(out / asset.name, formats=("usda",))
        assets[name] = (asset, folder)
    return assets


@pytest.mark.parametrize("name", SAMPLES)
def test_watertight_manifold_and_volume(built, name):
    asset, _ = built[name]
    q = mesh_quality(asset.visual)
    assert q["watertight"] and q["edge_manifold"] and q["vertex_manifold"] and q["winding_consistent"], q
    assert len(asset.visual.faces) <= OPTIONS.get("max_faces", 20_000)
    tm = trimesh.Trimesh(asset.visual.vertices, asset.visual.faces)
    assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0  # trimesh agrees
    src = asset.source_mesh.to_trimesh()
    src.merge_vertices()
    if src.is_watertight and src.is_winding_consistent:
        # The bound: the remesh keeps a closed input's volume within 2%.
        assert tm.volume == pytest.approx(src.volume, rel=0.02)


@pytest.mark.parametrize("name", SAMPLES)
def test_passes_pybullet_check(built, name):
    asset, folder = built[name]
    pyb = [c for c in asset.physics["checks"] if c.get("engine", "pybullet") == "pybullet"]
    assert pyb and asset.passed, asset.physics.get("reasons")
    report = json.loads((folder / "report.json").read_text())
    assert report["passed"] is True
    assert report["provenance"]["seed"] == 0 and len(report["provenance"]["source_sha256"]) == 64


@pytest.mark.parametrize("name", NAMED)
def test_usd_physics_parser_finds_one_body(built, name):
    from pxr import Usd, UsdGeom, UsdPhysics

    asset, folder = built[name]
    stage = Usd.Stage.Open(str(folder / "asset.usda"))
    assert UsdGeom.GetStageUpAxis(stage) == "Z" and UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    # The issue names LoadUsdPhysicsFromRange "or its successor": pxr 26 renamed it.
    load = getattr(UsdPhysics, "UsdPhysicsLoadStageFromPrimRange", None) or UsdPhysics.LoadUsdPhysicsFromRange
    parsed = load(stage, ["/"])
    bodies = parsed[UsdPhysics.ObjectType.RigidBody]
    assert len(bodies[0]) == 1
    colliders = parsed[UsdPhysics.ObjectType.MeshShape]
    assert len(colliders[0]) == len(asset.collision["base"]) >= 1
    body = stage.GetPrimAtPath(bodies[0][0])
    mass = UsdPhysics.MassAPI(body).GetMassAttr().Get()
    assert mass == pytest.approx(asset.mass["base"].mass, rel=1e-6)  # USD stores float32


@pytest.mark.parametrize("name", ["duck", "mug"])
def test_newton_loads_usd_and_settles(built, name):
    """Newton's USD importer loads the exported file and the body comes to rest on a plane."""
    from n4d4d.physics_validation.newton_check import settle_usd_in_newton

    _, folder = built[name]
    result = settle_usd_in_newton(folder / "asset.usda", seconds=2.0)
    assert result["bodies"] == 1
    # At rest: speed under 1 cm/s at the end (BlenderProc's bar is 1 cm over a whole second).
    assert result["final_speed"] < 0.01, result
    assert result["min_height"] > -0.005, result  # no tunnelling through the ground


def test_same_seed_same_result(built):
    asset, _ = built["duck"]
    again = n4d4d.build(sample="duck", **OPTIONS)
    np.testing.assert_array_equal(again.visual.vertices, asset.visual.vertices)
    assert [len(h.vertices) for h in again.collision["base"]] == [len(h.vertices) for h in asset.collision["base"]]
    assert again.passed == asset.passed
