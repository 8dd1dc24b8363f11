"""PyBullet checks: free fall against closed form, rest of a box and a sphere, an unstable cone,
a hull sunk into the ground, an exploding joint, determinism, the time budget."""

from __future__ import annotations

import time

import numpy as np
import pytest

from n4d4d.errors import TimeBudgetError
from n4d4d.physics_validation import collision_stage, mass_stage, stability_stage
from n4d4d.physics_validation import shapes
from n4d4d.physics_validation.articulation import check_articulation
from n4d4d.physics_validation.pybullet_check import check_pybullet, simulate
from n4d4d.physics_validation.rigid_model import rigid_model
from n4d4d.physics_validation.thresholds import StabilityThresholds


def _ready(asset):
    return mass_stage(collision_stage(asset))


@pytest.fixture(scope="module")
def box():
    return _ready(shapes.box())


def test_free_fall_matches_closed_form(box):
    """Before touching the ground the COM follows z(t) = z0 - g t^2 / 2 (Bullet integrates
    semi-implicitly: z_n = z0 - g dt^2 n (n + 1) / 2, exact for constant gravity)."""
    th = StabilityThresholds(settle_time_s=0.25, rest_window_s=0.05)
    model = rigid_model(box)
    z0 = 1.0
    traj, _ = simulate(model, box, np.eye(3), np.array([0.0, 0.0, z0]), th, deadline=time.perf_counter() + 60, name="box")
    n = np.arange(1, len(traj.times) + 1)
    expected = z0 + 0.1 - 9.80665 * th.time_step_s**2 * n * (n + 1) / 2  # COM 0.1 m above the base
    airborne = expected > 0.1 + 0.01  # the base is still 1 cm above the ground
    np.testing.assert_allclose(traj.positions[airborne, 0, 2], expected[airborne], atol=1e-6)
    np.testing.assert_allclose(traj.linear_velocities[airborne, 0, 2], -9.80665 * th.time_step_s * n[airborne],
                               rtol=1e-6)


@pytest.mark.parametrize("make", [shapes.box, shapes.sphere])
def test_box_and_sphere_come_to_rest(make):
    asset = _ready(make())
    res = check_pybullet(asset, seed=0, orientations=2)
    assert res["passed"], res["reasons"]
    th = StabilityThresholds()
    for c in res["checks"]:
        m = c.measured
        assert m["settle_time_s"] <= th.settle_time_s and m["drift_m"] <= th.max_drift_m
        assert m["max_penetration_m"] <= c.threshold["max_penetration_m"]
    rest = res["checks"][0].measured
    # At rest the ground carries the weight: Newton's third law, within contact-solver noise.
    assert rest["rest_force_ratio"] == pytest.approx(1.0, abs=0.02)


def test_cone_on_its_tip_is_reported_moving():
    asset = _ready(shapes.cone_on_tip())
    res = check_pybullet(asset, seed=0, orientations=0)
    assert not res["passed"]
    rest = res["checks"][0]
    assert any("unstable rest pose" in r or "still moving" in r for r in rest.reasons), rest.reasons
    # it fell: the COM dropped by a good part of the 0.15 m it started at
    assert rest.measured["rest_com_drop_m"] > 0.05


def test_hull_sunk_into_the_ground_fails_with_that_reason(box):
    sunk = {"base": tuple(h.replace(vertices=h.vertices - [0.0, 0.0, 0.01]) for h in box.collision["base"])}
    res = check_pybullet(box.replace(collision=sunk), seed=0, orientations=0)
    assert not res["passed"]
    assert any("penetrates the ground by 10.0 mm" in r for r in res["reasons"]), res["reasons"]


def test_same_asset_same_verdict_twice(box):
    a = check_pybullet(box, seed=3, orientations=2)
    b = check_pybullet(box, seed=3, orientations=2)
    assert a["passed"] == b["passed"]
    for ca, cb in zip(a["checks"], b["checks"]):
        assert ca.measured == cb.measured  # PyBullet is deterministic for one seed


def test_exploding_joint_is_caught():
    asset = _ready(shapes.hinged_arm())
    model = rigid_model(asset)
    sane = check_articulation(asset, model)
    assert sane.passed, sane.reasons
    j = sane.measured["hinge"]
    assert j["max_q"] == pytest.approx(np.pi / 2, abs=0.1) and j["min_q"] == pytest.approx(0.0, abs=0.05)
    absurd = check_articulation(asset, model, gain_scale=1e5)  # kp * dt^2 / I = 1e5 * 0.07: unstable
    assert not absurd.passed and any("exploded" in r for r in absurd.reasons), absurd.reasons


def test_an_exploding_rest_check_stops_once_it_has_exploded():
    """An unstable servo (gains 1e5 x the critically damped ones: kp dt^2 / I ~ 7e3) throws the
    arm off at once; the run stops when the speed passes what gravity can supply (the failure
    no later step can undo), instead of stepping the wreck for the whole settle time."""
    import dataclasses

    asset = _ready(shapes.hinged_arm())
    wild = {n: dataclasses.replace(d, stiffness=1e5 * d.stiffness, damping=0.0, max_force=1e9)
            for n, d in asset.drives.items()}
    res = check_pybullet(asset.replace(drives=wild), seed=0, orientations=0)
    rest = res["checks"][0]
    assert not rest.passed and any(r.startswith("explosion") for r in rest.reasons), rest.reasons
    assert rest.measured["stopped_because"] == "explosion"
    th = StabilityThresholds()
    assert rest.measured["stopped_at_s"] < th.settle_time_s / 2
    assert not any("still moving" in r or "drifts" in r for r in rest.reasons)  # not measured: not claimed
    assert any("stopped at" in w for w in rest.details["warnings"])


def test_stability_stage_report():
    asset = stability_stage(_ready(shapes.hinged_arm()), engines=("pybullet",), orientations=1)
    p = asset.physics
    names = [c["name"] for c in p["checks"]]
    assert {"collision_fidelity", "rest", "drop", "initial_penetration", "articulation"} <= set(names)
    assert p["passed"] == all(c["passed"] for c in p["checks"]), p["reasons"]
    assert p["passed"], p["reasons"]
    assert p["thresholds"]["stability"]["settle_time_s"] == StabilityThresholds().settle_time_s
    assert asset.stages[-1].name == "physics"
    # Statics: at rest the hinge carries exactly the arm's weight, the ground the whole asset's.
    rest = next(c for c in p["checks"] if c["name"] == "rest")["measured"]
    assert rest["joint_force_ratios"]["hinge"] == pytest.approx(1.0, abs=0.02)
    assert rest["rest_force_ratio"] == pytest.approx(1.0, abs=0.02)


def test_time_budget(box):
    with pytest.raises(TimeBudgetError, match="box"):
        check_pybullet(box, orientations=3, time_budget_s=0.01)


def test_stable_orientation_lays_the_cone_on_its_side():
    from n4d4d.asset import Asset, Part
    from n4d4d.physics_validation.rest_pose import stable_orientation

    R, fig = stable_orientation(shapes.box().visual)
    assert fig["angle_rad"] == 0.0 and np.allclose(R, np.eye(3))  # a box on its base rests
    cone = shapes.cone_on_tip()
    R, fig = stable_orientation(cone.visual)
    # Closed form: a cone (r 5 cm, h 20 cm) on its side tilts pi/2 - atan(r / h) from upright.
    assert fig["angle_rad"] == pytest.approx(np.pi / 2 - np.arctan(0.05 / 0.2), abs=0.02)
    v = cone.visual.vertices @ R.T
    v -= [0.0, 0.0, v[:, 2].min()]
    turned = cone.visual.replace(vertices=v)
    res = check_pybullet(_ready(Asset(name="cone_on_side", visual=turned, parts=(Part("base", turned),))),
                         orientations=0)
    assert res["passed"], res["reasons"]  # re-posed, it rests where placed


def test_rest_pose_stage_turns_a_toppling_input_and_keeps_a_stable_one():
    from n4d4d.physics_validation import rest_pose_stage

    cone = shapes.cone_on_tip()
    out = rest_pose_stage(cone.replace(source_mesh=cone.visual))
    rec = out.stages[-1]
    assert rec.name == "rest_pose" and rec.figures["angle_rad"] > 1.0 and out.notes
    v = out.source_mesh.vertices
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-12)
    # On its side the cone's extent along z is its base diameter's projection, not its height.
    assert np.ptp(v[:, 2]) < 0.15
    box = shapes.box()
    same = rest_pose_stage(box.replace(source_mesh=box.visual))
    assert same.source_mesh is box.visual and same.stages[-1].figures["angle_rad"] == 0.0


def test_bullet_sees_the_hulls_themselves_not_hulls_plus_its_margin(tmp_path):
    """Bullet inflates every convex hull it loads by a 1 mm margin (two 10 cm boxes 10 mm apart
    are reported 8 mm apart); the hulls are shrunk by that margin first, so distances and contact
    are the hulls' own. Closed forms: a box shrunk by m is the box with half-extents less m; two
    boxes 10 mm apart, and a box 10 mm above the plane, are 10 mm away (to Bullet's 1e-6 m
    round-off of the EPA/GJK distance)."""
    import trimesh

    from n4d4d.asset import Mesh
    from n4d4d.physics_validation import _bullet

    box = Mesh.from_trimesh(trimesh.creation.box(extents=[0.1, 0.1, 0.1]))
    v = _bullet.shrink_hull(np.asarray(box.vertices), 0.001)
    np.testing.assert_allclose(np.sort(np.unique(np.round(np.abs(v), 9))), [0.049], atol=1e-12)
    thin = _bullet.shrink_hull(np.asarray(trimesh.creation.box(extents=[0.1, 0.1, 0.002]).vertices), 0.001)
    # a 2 mm plate (inscribed sphere 1 mm) loses 0.9 of that radius a side, not all: 0.2 mm left
    assert np.ptp(thin[:, 2]) == pytest.approx(0.0002, abs=1e-9)

    client = _bullet.connect(1.0 / 240.0)
    try:
        import pybullet

        _bullet._hull_obj([box], np.zeros(3), tmp_path / "box.obj")
        shape = client.createCollisionShape(pybullet.GEOM_MESH, fileName=str(tmp_path / "box.obj"))
        a = client.createMultiBody(1.0, shape, basePosition=[0, 0, 0.06])
        b = client.createMultiBody(1.0, shape, basePosition=[0, 0, 0.17])
        plane = _bullet.ground_plane(client)
        assert min(p[8] for p in client.getClosestPoints(a, b, 0.1)) == pytest.approx(0.010, abs=2e-6)
        assert min(p[8] for p in client.getClosestPoints(a, plane, 0.1)) == pytest.approx(0.010, abs=2e-6)
        # two 2 mm plates 1 mm apart (the gap hull cuts leave between two parts): each collides
        # 0.1 mm fatter (the margin less its 0.9 mm shrink), so Bullet sees 0.8 mm, not contact
        # (shrunk by a quarter of the centroid's depth, each was 0.75 mm fatter: -0.5 mm)
        plate = Mesh.from_trimesh(trimesh.creation.box(extents=[0.1, 0.1, 0.002]))
        _bullet._hull_obj([plate], np.zeros(3), tmp_path / "plate.obj")
        shape = client.createCollisionShape(pybullet.GEOM_MESH, fileName=str(tmp_path / "plate.obj"))
        c = client.createMultiBody(1.0, shape, basePosition=[1, 0, 0.5])
        d = client.createMultiBody(1.0, shape, basePosition=[1, 0, 0.503])
        assert min(p[8] for p in client.getClosestPoints(c, d, 0.1)) == pytest.approx(0.0008, abs=2e-6)
    finally:
        client.disconnect()
