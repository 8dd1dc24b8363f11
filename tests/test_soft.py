"""The ``soft`` family: a coarse tetrahedral cube dropped and pushed as an elastic body in Newton.

Checked against independent truths: the tet mesh fills the cube's closed-form volume with every
element positive; the impact strain is of the order of the closed form for an elastic bar meeting
a rigid wall; the body recovers its rest shape to within its closed-form self-weight sag; no
tetrahedron inverts; the clip is identical for the same seed; the exported USD point samples and
glTF morph targets reproduce the clip's vertices (pxr, the Khronos validator).

Newton compiles its VBD kernels on first use (about 80 s on one core, cached by Warp under
~/.cache/warp afterwards); one module fixture builds the clip once for the tests that read it.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

pytest.importorskip("tetgen", reason="the soft family needs the 'tetgen' package (n4d4d[soft])")

from n4d4d.deformation import animate_stage  # noqa: E402
from n4d4d.deformation.plausibility import clip_check  # noqa: E402
from n4d4d.deformation.soft import rest_shape_error, soft_clip  # noqa: E402
from n4d4d.deformation.tetmesh import embed, tet_volumes, tetrahedralize  # noqa: E402
from n4d4d.options import BuildOptions  # noqa: E402
from n4d4d.physics_validation import collision_stage, mass_stage, shapes  # noqa: E402

EDGE = 0.1  # the cube's edge (m)
E, NU = 1.0e5, 0.3  # the build options' defaults: a soft rubber / foam
OPTS = dict(motion="soft", deformable=True, youngs_modulus=E, poisson_ratio=NU, seconds=1.0, fps=30, seed=3)


@pytest.fixture(scope="module")
def cube():
    """A 10 cm cube with its hull and mass (what the animate stage is given; the exporters need them)."""
    return mass_stage(collision_stage(shapes.box(extents=(EDGE, EDGE, EDGE))))


@pytest.fixture(scope="module")
def animated(cube):
    return animate_stage(cube, BuildOptions(**OPTS))


@pytest.fixture(scope="module")
def clip(animated):
    assert [c.family for c in animated.motion_clips] == ["soft"], animated.stages[-1].figures["skipped"]
    return animated.motion_clips[0]


def test_tet_mesh_fills_the_cube_with_positive_tetrahedra(cube):
    tm = tetrahedralize(cube.visual.vertices, cube.visual.faces)
    vol = tet_volumes(tm.nodes, tm.tets)
    assert vol.min() > 0 and 20 <= len(tm.tets) <= 2000  # coarse, but a body, not 6 corner tets
    assert vol.sum() == pytest.approx(EDGE ** 3, rel=1e-9)  # it fills the closed form exactly
    idx, w = embed(cube.visual.vertices, tm.nodes, tm.tets)
    np.testing.assert_allclose(np.einsum("pk,pkj->pj", w, tm.nodes[idx]), cube.visual.vertices, atol=1e-12)
    inner = np.array([[0.01, -0.02, 0.03], [0.0, 0.0, 0.05]])
    i2, w2 = embed(inner, tm.nodes, tm.tets)
    assert w2.min() >= -1e-12  # a point inside lies in its tetrahedron: no extrapolation
    np.testing.assert_allclose(np.einsum("pk,pkj->pj", w2, tm.nodes[i2]), inner, atol=1e-12)


def test_open_surface_is_refused(cube):
    from n4d4d.errors import StageInputError

    with pytest.raises(StageInputError, match="closed"):
        tetrahedralize(cube.visual.vertices, cube.visual.faces[:-1], name="open")


def test_soft_cube_deforms_under_the_drop_and_recovers(cube, animated, clip):
    check = clip_check(animated, clip)
    m = check.measured
    assert check.passed, check.reasons
    assert m["inverted_tets"] == 0 and m["frames_with_inverted_steps"] == 0 and m["min_tet_volume_ratio"] > 0.5
    # Closed form: an elastic bar meeting a rigid wall at speed v carries a strain v / c,
    # c = sqrt(E / rho). The cube falls 5 cm (the certificate's drop height). Its coarse tets,
    # Poisson's lateral expansion and the contact's penalty spring spread the wave: the measured
    # peak lies within a factor of two of the bar's.
    v = np.sqrt(2 * 9.80665 * 0.05)
    bar = v / np.sqrt(E / cube.material.density)
    impact = clip.max_strain[clip.times < clip.material["push_start_s"]].max()
    assert 0.5 * bar < impact < 2.0 * bar
    # Recovered: at rest, and the final nodes within 1% of the edge (1 mm RMS) of the rest shape
    # after the best rigid fit; the closed-form sag of a 10 cm column of foam under its own weight
    # is rho g H^2 / 2E = 0.25 mm, well inside it.
    assert m["ends_at_rest"]
    assert rest_shape_error(clip.tet_vertices[-1], clip.rest_nodes) < 0.01 * EDGE
    assert m["final_shape_error_m"] < 0.01 * EDGE
    # On the ground: no point deeper than the 3 mm frame bound, resting within the 5 mm float bound.
    assert m["max_ground_penetration_m"] < 0.003 and m["max_float_m"] < 0.005
    assert m["max_volume_change_pct"] < 10.0 and m["tet_volume_change_pct"] < 10.0
    # The push slid it, and no farther than Coulomb friction allows: a rigid block pushed at
    # a = 10 m/s^2 for 0.1 s against friction mu slides a1 t^2 / 2 + (a1 t)^2 / (2 mu g),
    # a1 = a - mu g (3.5 cm at mu = 0.6); friction can only take energy away. (Newton's VBD
    # particle-ground friction holds harder than Coulomb's: the cube slides about a third of
    # that, 1.3 cm; with mu = 0 it leaves the push at the closed-form 1 m/s.)
    g, mu, t = 9.80665, cube.material.dynamic_friction, clip.material["push_seconds"]
    a1 = clip.material["push_speed_m_s"] / t - mu * g
    slide = a1 * t ** 2 / 2 + (a1 * t) ** 2 / (2 * mu * g)
    d = np.asarray(clip.material["push_direction"])
    before = clip.times <= clip.material["push_start_s"]
    travel = (clip.vertices[-1].mean(axis=0) - clip.vertices[before][-1].mean(axis=0)) @ d
    assert 0.005 < travel <= slide
    rec = animated.stages[-1].figures["clips"][0]
    assert rec["family"] == "soft" and rec["inverted_tets"] == 0 and rec["passed"]


def test_soft_clip_is_identical_for_the_same_seed(cube, clip):
    again = soft_clip(cube, youngs_modulus=E, poisson_ratio=NU, seed=OPTS["seed"], fps=OPTS["fps"],
                      seconds=OPTS["seconds"])
    np.testing.assert_array_equal(again.vertices, clip.vertices)
    np.testing.assert_array_equal(again.tet_vertices, clip.tet_vertices)


def test_soft_clip_round_trips_through_the_asset_record(animated, clip, tmp_path):
    from n4d4d.io.record import read_record, write_record

    timings = write_record(animated, tmp_path)  # wall times go to report.json, as Asset.save does
    (tmp_path / "report.json").write_text(json.dumps({"timings": {"record": timings}}))
    back = read_record(tmp_path)
    back = back[0] if isinstance(back, tuple) else back
    (again,) = back.motion_clips
    assert type(again) is type(clip)
    np.testing.assert_array_equal(again.tet_vertices, clip.tet_vertices)
    np.testing.assert_array_equal(again.tets, clip.tets)
    assert clip_check(back, again).measured["inverted_tets"] == 0  # checkable after a reload


def test_soft_needs_the_deformable_flag(cube):
    out = animate_stage(cube, BuildOptions(motion="soft", seconds=1.0))
    assert out.motion_clips == ()
    assert "deformable" in out.stages[-1].figures["skipped"]["soft"]


def test_usd_point_samples_replay_the_clip(animated, clip, tmp_path):
    from pxr import Usd, UsdGeom

    from n4d4d.exporters.usd import write_usd

    stage = Usd.Stage.Open(str(write_usd(animated, tmp_path / "soft.usda")))
    meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)
              and UsdGeom.Mesh(p).GetPointsAttr().GetNumTimeSamples() > 0]
    assert len(meshes) == 1
    attr = meshes[0].GetPointsAttr()
    assert attr.GetNumTimeSamples() == len(clip.times)
    xf = UsdGeom.Xformable(meshes[0].GetPrim())
    for k in (0, len(clip.times) // 3, len(clip.times) - 1):
        code = attr.GetTimeSamples()[k]
        M = np.array(xf.ComputeLocalToWorldTransform(code)).T  # USD row-vector convention
        pts = np.array(attr.Get(code), np.float64)
        world = pts @ M[:3, :3].T + M[:3, 3]
        np.testing.assert_allclose(world, clip.vertices[k], atol=1e-6)  # float32 points: 1 um at 10 cm


def test_glb_morph_targets_replay_the_clip_and_pass_the_validator(animated, clip, tmp_path, gltf_validator):
    from n4d4d.conventions import Z_UP_TO_Y_UP
    from n4d4d.exporters.glb import write_glb
    from n4d4d.exporters.glb_anim import split_glb

    from test_deformation_export import SCRIPT

    node, root = gltf_validator
    path = write_glb(animated, tmp_path / "soft.glb")
    out = subprocess.run([node, "-e", SCRIPT, str(path)], env={"NODE_PATH": root, "PATH": ""},
                         capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    assert (report["errors"], report["messages"]) == (0, [])
    assert report["animations"] == 1
    tree, blob = split_glb(path.read_bytes())
    prim = tree["meshes"][0]["primitives"][0]
    assert len(prim["targets"]) == len(clip.times)

    def read(acc_index):
        acc = tree["accessors"][acc_index]
        view = tree["bufferViews"][acc["bufferView"]]
        raw = np.frombuffer(bytes(blob[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]),
                            np.float32, count=acc["count"] * 3, offset=acc.get("byteOffset", 0))
        return raw.reshape(-1, 3).astype(np.float64)

    base = read(prim["attributes"]["POSITION"])
    mesh_node = next(n for n in tree["nodes"] if n.get("mesh") == 0)
    offset = np.asarray(mesh_node.get("translation", [0.0, 0.0, 0.0]))  # the part node's rest pose
    for k in (0, len(clip.times) // 2, len(clip.times) - 1):
        y_up = base + read(prim["targets"][k]["POSITION"]) + offset
        np.testing.assert_allclose(y_up @ Z_UP_TO_Y_UP, clip.vertices[k], atol=1e-6)  # back to Z up
