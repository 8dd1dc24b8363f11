"""A 5-asset scenario end to end: manifest, settled scene.usda in Newton, local vs Ray, resume.

The spec builds a plinth (the support), three small boxes and a pybullet_data object (placed
twice per environment), two environments. One reference run (CLI, local backend,
two workers) is checked against independent truths: file hashes recomputed with hashlib, the
scene's collider vertices transformed by pxr's own XformCache (the settled objects must rest
on the ground or the plinth top within the spec's gap bound), and Newton loading the file
(bodies and their motion over the first second). The same spec on Ray, and a run killed with
SIGKILL and restarted, must give the same bytes (report.json and manifests apart from their
timings).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trimesh

SPEC = """\
name: five
seed: 5
build: {resolution: 64, max_hulls: 4, unit: m, motion: none, report: false}
sources:
  - files: [meshes/block.obj]
    variants: 2
    randomize: {size: [0.04, 0.06], density: [300, 800]}
  - files: [meshes/cube.obj]
    randomize: {friction: [0.5, 0.9]}
  - samples: [random_urdfs/000]
    instances: 2
    randomize: {size: 0.05}
scene:
  supports: [{files: [meshes/plinth.obj]}]
  envs: 2
  env_spacing: 1.5
"""

#: Newton may move a settled object this much in its first second: PyBullet and Newton resolve
#: contacts differently (XPBD relaxation, collision margins of ~1 mm), so a settled pose is
#: re-seated by up to a few millimetres; anything that falls or slides moves centimetres.
NEWTON_BOUND_M = 0.005


def _cli(*args, **kw):
    cmd = [sys.executable, "-c", "from n4d4d.cli import main; main()", "scenario", "run", *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, **kw)


def snapshot(out: Path) -> dict:
    """Relative path -> bytes of every file; report.json parsed without timings; manifests as
    rows without timing columns (``seconds_*``); summary.json left out (it is all timings)."""
    from n4d4d.scenarios.manifest import without_timings

    snap = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_dir():
            snap[rel] = "dir"
        elif p.name == "report.json":
            snap[rel] = {k: v for k, v in json.loads(p.read_text()).items() if k != "timings"}
        elif p.suffix == ".jsonl":
            snap[rel] = without_timings([json.loads(line) for line in p.read_text().splitlines()])
        elif p.suffix == ".parquet":
            import pyarrow.parquet as pq

            snap[rel] = without_timings(pq.read_table(p).to_pylist())
        elif p.name != "summary.json":
            snap[rel] = p.read_bytes()
    return snap


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    (d / "meshes").mkdir()
    trimesh.creation.box((0.1, 0.08, 0.06)).export(d / "meshes" / "block.obj")
    trimesh.creation.box((0.05, 0.05, 0.05)).export(d / "meshes" / "cube.obj")
    trimesh.creation.box((0.24, 0.24, 0.12)).export(d / "meshes" / "plinth.obj")
    (d / "five.yaml").write_text(SPEC)
    return d / "five.yaml"


@pytest.fixture(scope="module")
def reference(spec_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    proc = _cli(spec_path, "-o", out, "--workers", "2")
    text = proc.communicate(timeout=600)[0].decode()
    assert proc.returncode == 0, text
    assert "5 passed, 0 failed" in text and "pass rate" in text and "time per stage" in text, text
    return out


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_manifest_rows_and_file_hashes(reference):
    import hashlib

    import pyarrow.parquet as pq

    assets = rows(reference / "assets.jsonl")
    assert [r["name"] for r in assets] == ["plinth", "block_v0", "block_v1", "cube", "random_urdfs_000"]
    assert pq.read_table(reference / "assets.parquet").to_pylist() == assets  # one table, two encodings
    for r in assets:
        assert r["verdict"] == "passed" and r["joint_count"] == 0
        folder = reference / r["folder"]
        on_disk = {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                   for p in folder.rglob("*") if p.is_file() and p.name != "report.json"}
        assert {f["path"]: f["sha256"] for f in r["files"]} == on_disk
        report = json.loads((folder / "report.json").read_text())
        assert r["seed"] == report["provenance"]["seed"]
        failed = [c for c in report["physics"]["checks"] if not c["passed"]]  # advisory ones may fail
        assert len(r["failing_checks"]) == len(failed) and all(c["name"] in n for c, n in zip(failed, r["failing_checks"]))
        # mass = density x volume of the box as built (closed form for a box)
        ext = [r["size_x_m"], r["size_y_m"], r["size_z_m"]]
        density = report["parts"][0]["mass"]["density"]
        assert r["mass_kg"] == pytest.approx(density * ext[0] * ext[1] * ext[2], rel=1e-3) or r["category"] == "random_urdfs"
    blocks = [r for r in assets if r["name"].startswith("block")]
    for r in blocks:  # drawn longest side reached the build (file is 0.1 m long)
        assert 0.04 <= r["draw_size"] <= 0.06 and max(r["size_x_m"], r["size_y_m"], r["size_z_m"]) == pytest.approx(
            r["draw_size"], rel=1e-6)
    placements = rows(reference / "placements.jsonl")
    assert len(placements) == 2 * 6 and all(p["placed"] for p in placements)  # plinth + 5 objects, 2 envs


def _collider_points(stage, prim):
    """World-space vertices of every collision mesh under ``prim`` (pxr XformCache)."""
    import numpy as np
    from pxr import Usd, UsdGeom, UsdPhysics

    cache = UsdGeom.XformCache()
    pts = []
    for p in Usd.PrimRange(prim, Usd.TraverseInstanceProxies()):
        if p.IsA(UsdGeom.Mesh) and p.HasAPI(UsdPhysics.CollisionAPI):
            m = np.array(cache.GetLocalToWorldTransform(p))  # row-vector convention
            v = np.array(UsdGeom.Mesh(p).GetPointsAttr().Get(), dtype=float)
            pts.append(np.c_[v, np.ones(len(v))] @ m)
    return np.vstack(pts)[:, :3]


def test_settled_objects_rest_on_their_support_in_the_usd(reference):
    from pxr import Usd

    from n4d4d.scenarios.spec import Settle

    bound = Settle()  # the spec keeps the default bounds: 2 mm gap, 3 mm penetration
    stage = Usd.Stage.Open(str(reference / "scene.usda"))
    placements = rows(reference / "placements.jsonl")
    for env in (0, 1):
        plinth = _collider_points(stage, stage.GetPrimAtPath(f"/World/envs/env_{env}/plinth"))
        top = plinth[:, 2].max()
        # the plinth rests on the ground: its lowest collider point is at z = 0 within the bounds
        assert -bound.max_penetration <= plinth[:, 2].min() <= bound.max_gap
        for p in placements:
            if p["env"] != env or p["role"] != "object":
                continue
            low = _collider_points(stage, stage.GetPrimAtPath(f"/World/envs/env_{env}/{p['key']}"))[:, 2].min()
            below = {"ground": 0.0, "plinth": top}.get(p["resting_on"])
            if below is None:  # resting on another object: PyBullet's own gap figure is what we have
                assert p["gap_m"] <= bound.max_gap
                continue
            assert -bound.max_penetration <= low - below <= bound.max_gap, (p["key"], low, below)
            assert p["gap_ok"] and p["penetration_ok"]
    assert sum(p["resting_on"] == "plinth" for p in placements) >= 6  # most objects do sit on it


def test_scene_loads_in_newton_and_nothing_moves_in_its_first_second(reference):
    from pxr import Usd, UsdPhysics

    from n4d4d.scenarios.verify import newton_motion

    stage = Usd.Stage.Open(str(reference / "scene.usda"))
    bodies = [p for p in stage.Traverse(Usd.TraverseInstanceProxies()) if p.HasAPI(UsdPhysics.RigidBodyAPI)]
    assert len(bodies) == 12  # one rigid body per placed instance
    # the repeated asset's visual is instanced (one prototype), its colliders are not
    inst = stage.GetPrimAtPath("/World/envs/env_1/random_urdfs_000_1/base/visual_instance")
    assert inst.IsInstance() and len(stage.GetPrototypes()) >= 1
    motion = newton_motion(reference / "scene.usda")
    placements = rows(reference / "placements.jsonl")
    assert set(motion) == {(p["env"], p["key"]) for p in placements}
    worst = max(motion.values())
    assert worst < NEWTON_BOUND_M, motion
    assert [p["newton_motion_m"] for p in placements] == pytest.approx([motion[(p["env"], p["key"])] for p in placements])


def test_ray_backend_gives_the_same_outputs(reference, spec_path, tmp_path):
    ray = pytest.importorskip("ray")
    from n4d4d.scenarios.run import run_scenario

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        result = run_scenario(spec_path, tmp_path / "out", workers=2, backend="ray")
        assert result.summary["passed"] == 5
        assert snapshot(tmp_path / "out") == snapshot(reference)
        # a Ray task whose worker aborts is that asset's failure; the other asset completes
        from n4d4d.scenarios import build_batch
        from n4d4d.options import BuildOptions

        os.environ["N4D4D_TEST_FAULT"] = "cube=abort"
        try:
            res = build_batch([("path", str(spec_path.parent / "meshes" / n)) for n in ("cube.obj", "block.obj")],
                              tmp_path / "faults", BuildOptions(resolution=64, max_hulls=4, unit="m", motion="none"),
                              workers=2, backend="ray")
        finally:
            del os.environ["N4D4D_TEST_FAULT"]
        assert res[0].error and "Ray worker died" in res[0].error and not res[0].passed
        assert res[1].passed and res[1].error is None
        assert not [p for p in (tmp_path / "faults").rglob(".*")]
    finally:
        ray.shutdown()


def test_sigkill_mid_way_then_restart_matches(reference, spec_path, tmp_path):
    out = tmp_path / "out"
    proc = _cli(spec_path, "-o", out, "--workers", "2")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:  # kill once the first asset is done
        if (out / "assets").is_dir() and any((d / "report.json").is_file() for d in (out / "assets").iterdir()):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (out / "scene.usda").exists()
    proc = _cli(spec_path, "-o", out, "--workers", "2", "--no-verify")  # Newton's figures: checked above
    text = proc.communicate(timeout=600)[0].decode()
    assert proc.returncode == 0 and "skipped" in text, text
    assert not [p for p in out.rglob(".*")], "temporaries left behind"

    def no_newton(snap):
        for key in ("placements.jsonl", "placements.parquet"):
            snap[key] = [{k: v for k, v in r.items() if k != "newton_motion_m"} for r in snap[key]]
        return snap

    assert no_newton(snapshot(out)) == no_newton(snapshot(reference))


def test_dry_run_prints_the_plan_and_writes_nothing(spec_path, tmp_path):
    from typer.testing import CliRunner

    from n4d4d.cli import app

    result = CliRunner().invoke(app, ["scenario", "run", str(spec_path), "-o", str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "random_urdfs_000 x2" in result.output and "5 builds (1 supports)" in result.output
    assert not (tmp_path / "out").exists()
