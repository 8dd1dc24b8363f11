"""Certificate checks beyond rest and drop: link penetration (SimReady BA.002), motion-clip
frames, forward kinematics against closed form, fidelity recorded per part."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from n4d4d.asset import Asset, CheckResult, Mesh, MotionClip, Part
from n4d4d.physics_validation import collision_stage, mass_stage, shapes
from n4d4d.physics_validation.certificate import certify
from n4d4d.physics_validation.rigid_model import link_transforms
from n4d4d.physics_validation.penetration import check_link_penetration, check_motion_clips
from n4d4d.physics_validation.rigid_model import rigid_model


def _ready(asset):
    return mass_stage(collision_stage(asset))


@pytest.fixture(scope="module")
def arm():
    return _ready(shapes.hinged_arm())


def _two_boxes(overlap: float) -> Asset:
    a = trimesh.creation.box(extents=[0.1, 0.1, 0.1])
    a.apply_translation([0.0, 0.0, 0.05])
    b = a.copy()
    b.apply_translation([0.1 - overlap, 0.0, 0.0])
    parts = (Part("a", Mesh.from_trimesh(a)), Part("b", Mesh.from_trimesh(b)))
    return _ready(Asset(name="two_boxes", parts=parts))


def test_overlapping_unjoined_links_fail_ba002():
    bad = check_link_penetration(rigid_model(_two_boxes(0.005)))
    assert not bad.passed
    # GJK/EPA depth of two axis-aligned boxes overlapping by 5 mm is 5 mm.
    assert bad.measured["max_depth_m"] == pytest.approx(0.005, abs=5e-4)
    good = check_link_penetration(rigid_model(_two_boxes(-0.002)))  # 2 mm apart
    assert good.passed and good.measured["max_depth_m"] == 0.0


def test_forward_kinematics_closed_form(arm):
    model = rigid_model(arm)
    q = 0.7
    (R0, t0), (R1, t1) = link_transforms(model, {"hinge": q})
    np.testing.assert_allclose(R0, np.eye(3))
    tip_rest = np.array([0.2, 0.0, 0.12])  # arm tip on the hinge line's level, 0.2 m out
    tip = R1 @ tip_rest + t1
    # Rotation about -Y by q lifts +X toward +Z: tip = pivot + 0.2 (cos q, 0, sin q).
    np.testing.assert_allclose(tip, [0.2 * np.cos(q), 0.0, 0.12 + 0.2 * np.sin(q)], atol=1e-12)


def test_motion_clip_frames_checked_for_ground(arm):
    model = rigid_model(arm)
    times = np.linspace(0.0, 1.0, 5)
    up = MotionClip("lift", times, {"hinge": np.linspace(0.0, 1.2, 5)})
    down = MotionClip("dig", times, {"hinge": np.linspace(0.0, -1.0, 5)})
    ok = check_motion_clips(arm.replace(motion_clips=(up,)), model)
    assert ok.passed, ok.reasons
    bad = check_motion_clips(arm.replace(motion_clips=(up, down)), model)
    assert not bad.passed and "clip 'dig' frame 4" in bad.reasons[0]
    # Closed form: at q = -1 the arm's far lower corner, (0.2, -0.01) m from the pivot 0.12 m
    # up, sits at 0.12 - 0.2 sin 1 - 0.01 cos 1. Box hulls are the boxes: exact to round-off.
    depth = bad.measured["dig"]["max_ground_depth_m"]
    assert depth == pytest.approx(0.2 * np.sin(1.0) + 0.01 * np.cos(1.0) - 0.12, abs=1e-9)


def test_motion_clip_root_pose_lifts_every_link(arm):
    model = rigid_model(arm)
    poses = np.tile([0.0, 0.0, -0.02, 1.0, 0.0, 0.0, 0.0], (3, 1))  # sunk 2 cm: fails
    clip = MotionClip("sunk", np.arange(3.0), {}, root_poses=poses)
    res = check_motion_clips(arm.replace(motion_clips=(clip,)), model)
    assert not res.passed
    assert res.measured["sunk"]["max_ground_depth_m"] == pytest.approx(0.02, abs=1e-9)


def test_certificate_lists_every_check_with_thresholds(arm):
    clip = MotionClip("lift", np.linspace(0, 1, 4), {"hinge": np.linspace(0.0, 1.0, 4)})
    report = certify(arm.replace(motion_clips=(clip,)), engines=("pybullet",), orientations=1)
    names = {c["name"] for c in report["checks"]}
    assert {"collision_fidelity", "rest", "drop", "initial_penetration", "articulation", "motion_clips"} <= names
    assert set(report["collision_fidelity"]) == {"base", "arm"}
    assert report["passed"] == (not report["reasons"]) == all(c["passed"] for c in report["checks"])
    assert report["passed"], report["reasons"]
    for section in ("stability", "fidelity", "certificate"):
        assert report["thresholds"][section]
    with pytest.raises(ValueError):
        certify(arm, engines=("bullet3",))


def test_cross_engine_reports_force_and_sweep_disagreement():
    """PartNet-Mobility's cabinet 40147: PyBullet's 1 mm convex margins make door and drawer,
    0.03 mm apart, push each other (2569 x the door's weight through its hinge) where Newton
    measures 0.99; a 180-degree fridge door explodes in Newton's XPBD only. Such gaps are
    findings with both numbers, not hidden (the rest poses here agree)."""
    from n4d4d.physics_validation.certificate import cross_engine
    from n4d4d.physics_validation.thresholds import Thresholds

    rest = {"final_positions_m": [[0.0, 0.0, 0.1]], "final_quats_wxyz": [[1.0, 0.0, 0.0, 0.0]]}
    sweep = {"type": "revolute", "min_q": 0.0, "max_q": 3.14}
    a = {"engine": "pybullet", "checks": [
        CheckResult("rest", measured={**rest, "rest_force_ratio": 1.0, "joint_force_ratios": {"door": 2568.8}}),
        CheckResult("articulation", measured={"door": sweep})]}
    b = {"engine": "newton", "checks": [
        CheckResult("rest", measured={**rest, "rest_force_ratio": 0.9966, "joint_force_ratios": {"door": 0.99}}),
        CheckResult("articulation", measured={"door": {**sweep, "max_q": 6.56}})]}
    res = cross_engine(a, b, Thresholds())
    assert not res.passed and len(res.reasons) == 2, res.reasons
    assert "joint 'door' force at rest: 2.57e+03 vs 0.99" in res.reasons[0]
    assert "sweep joint 'door' to different extremes" in res.reasons[1]
    assert res.measured["joint_force_ratio"] == pytest.approx(2567.81)
    assert res.measured["rest_force_ratio"] == pytest.approx(0.0034)
    assert res.measured["articulation_q"]["door"] == pytest.approx(3.42)


def test_every_check_has_one_schema_and_plottable_series(arm, monkeypatch):
    """Every check in the report has the CheckResult keys (``threshold``, never ``bounds``) and
    reads back as the record; rest, drop and articulation carry a series of at most 200
    samples; the motion stage's clip checks are part of the verdict."""
    import dataclasses
    import json

    import n4d4d.deformation
    from n4d4d.physics_validation.checks import check_dict, check_result
    from n4d4d.physics_validation.thresholds import G

    failing = CheckResult("clip:lift", part="lift", measured={"peak_speed_m_s": 9.0},
                          threshold={"peak_speed_m_s": 3.0}, passed=False, reasons=("too fast",))
    monkeypatch.setattr(n4d4d.deformation, "clip_checks", lambda asset: [failing])
    clip = MotionClip("lift", np.linspace(0, 1, 4), {"hinge": np.linspace(0.0, 1.0, 4)})
    report = certify(arm.replace(motion_clips=(clip,)), engines=("pybullet",), orientations=1)
    keys = [f.name for f in dataclasses.fields(CheckResult)]
    for c in report["checks"]:
        assert list(c) == keys and "bounds" not in json.dumps(c)
        assert check_dict(check_result(c)) == c  # reads back as the record, and serialises the same
    json.dumps(report)  # JSON-ready
    assert not report["passed"] and "clip:lift: too fast" in report["reasons"]
    by = {c["name"]: c for c in report["checks"]}
    for name in ("rest", "drop"):
        series = by[name]["details"]["series"]
        assert set(series) == {"t_s", "height_m", "speed_m_s", "penetration_m"}
        assert 2 <= len(series["t_s"]) <= 200 and all(len(v) == len(series["t_s"]) for v in series.values())
    # Closed form: before it lands (a 5 cm drop takes 0.10 s) the dropped asset falls freely,
    # v = g t exactly in PyBullet's semi-implicit Euler step (round-off 1e-6).
    drop = by["drop"]["details"]["series"]
    free = [(t, v) for t, v in zip(drop["t_s"], drop["speed_m_s"]) if t < 0.09]
    assert free and all(v == pytest.approx(G * t, rel=1e-6) for t, v in free)
    sweep = by["articulation"]["details"]["series"]
    assert set(sweep) == {"t_s", "hinge_q"} and len(sweep["t_s"]) <= 200
    # the sweep reaches the upper limit [0, pi/2] and comes back to 0 (the target's waypoints)
    assert max(sweep["hinge_q"]) == pytest.approx(by["articulation"]["measured"]["hinge"]["max_q"], abs=0.05)
    assert abs(sweep["hinge_q"][-1]) < 0.05


def test_a_physics_budget_that_runs_out_fails_the_certificate_not_the_build():
    """0.02 CPU s is not enough for the hinged arm's simulations: the report keeps what ran
    (collision fidelity), and a failed "budget" check names what did not."""
    from n4d4d.budget import process_cpu_seconds
    from n4d4d.physics_validation import collision_stage, mass_stage, shapes

    asset = mass_stage(collision_stage(shapes.hinged_arm(), max_hulls=4))
    certify(asset, engines=("pybullet",), time_budget_s=600)  # the engines are loaded: not charged below
    c0 = process_cpu_seconds()
    report = certify(asset, engines=("pybullet",), time_budget_s=0.02)
    assert process_cpu_seconds() - c0 < 5.0  # stopped near its budget, not run to the end
    assert not report["passed"]
    budget = next(c for c in report["checks"] if c["name"] == "budget")
    assert not budget["passed"] and budget["measured"]["not_run"]
    assert set(budget["measured"]["not_run"]) <= {"pybullet", "articulation_pybullet"}
    assert "not certified" in budget["reasons"][0] and "CPU time budget of 0.02 s" in budget["reasons"][0]
    assert any(c["name"] == "collision_fidelity" for c in report["checks"])  # what ran is kept
