"""Physics-driven motion clips: a hinged lid through its limits (in the simulation and in the
exported USD read back with pxr), a drawer blocked by a collider, a double pendulum's free swing
against its closed-form normal modes, a drop that ends at rest, and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.deformation import shapes
from n4d4d.deformation.articulate import articulate_clip, simulate_clip
from n4d4d.deformation.drop import drop_clip
from n4d4d.deformation.plausibility import clip_check
from n4d4d.physics_validation import collision_stage, mass_stage


def _ready(asset):
    return mass_stage(collision_stage(asset))


@pytest.fixture(scope="module")
def lid():
    return _ready(shapes.hinged_lid_box(upper=1.6))


def test_lid_reaches_both_limits_and_never_exceeds_them(lid):
    clip = articulate_clip(lid, fps=30, seconds=4)
    q = clip.joint_positions["hinge"]
    assert clip.family == "articulate" and len(clip.times) == 121
    # Reaches: the 10 Hz drive settles at each limit during its hold; gravity sag on a 10 cm
    # lid held open near vertical is a few mrad, so 0.01 rad is a real bound.
    assert q.max() == pytest.approx(1.6, abs=0.01)
    assert q.min() == pytest.approx(0.0, abs=0.01)
    # Never exceeds: PyBullet's limit is soft by about one step's motion; a critically damped
    # drive commanded exactly to the limit does not overshoot, so 2 mrad.
    assert q.max() <= 1.6 + 2e-3 and q.min() >= -2e-3
    check = clip_check(lid, clip)
    assert check.passed, check.reasons
    assert check.measured["joint_limit_violations"] == 0
    assert check.measured["max_reach_error_rad"] < 0.01


def test_lid_clip_in_usd_read_back_with_pxr(lid, tmp_path):
    from pxr import Usd, UsdGeom
    from scipy.spatial.transform import Rotation

    from n4d4d.exporters.usd import write_usd

    clip = articulate_clip(lid, fps=30, seconds=2)
    path = write_usd(lid.replace(motion_clips=(clip,)), tmp_path / "lid.usda")
    stage = Usd.Stage.Open(str(path))
    assert stage.GetTimeCodesPerSecond() == 30.0
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (0.0, 60.0)
    orient = next(op for op in UsdGeom.Xformable(stage.GetPrimAtPath("/hinged_lid/lid")).GetOrderedXformOps()
                  if op.GetOpType() == UsdGeom.XformOp.TypeOrient)
    codes = orient.GetAttr().GetTimeSamples()
    angles = []
    for code in codes:
        q = orient.Get(code)
        v = q.GetImaginary()
        angles.append(Rotation.from_quat([v[0], v[1], v[2], q.GetReal()]).as_rotvec() @ np.array([-1.0, 0.0, 0.0]))
    angles = np.array(angles)
    assert len(codes) == len(clip.times)
    # The file carries what was simulated (double precision orient ops): within 1e-9 rad.
    np.testing.assert_allclose(angles, clip.joint_positions["hinge"], atol=1e-9)
    assert angles.max() == pytest.approx(1.6, abs=0.01) and angles.max() <= 1.6 + 2e-3 and angles.min() >= -2e-3


def test_blocked_drawer_records_the_blocked_travel():
    blocked = _ready(shapes.drawer_cabinet(block_at=0.08, travel=0.25))
    clip = articulate_clip(blocked, fps=30, seconds=4)
    q, cmd = clip.joint_positions["slide"], clip.commanded_positions["slide"]
    assert cmd.max() == pytest.approx(0.25, abs=1e-9)  # it was told to open fully
    # It stops at the block, 8 cm out: contact between convex hulls (each shrunk by Bullet's 1 mm
    # margin and inflated back) resolves to within 2 mm.
    assert q.max() == pytest.approx(0.08, abs=0.002)
    check = clip_check(blocked, clip)
    assert not check.passed
    assert any("'slide' stopped" in r and "short" in r for r in check.reasons), check.reasons
    assert check.details["joints"]["slide"]["blocked"]
    free = _ready(shapes.drawer_cabinet(block_at=None, travel=0.25))
    q_free = articulate_clip(free, fps=30, seconds=4).joint_positions["slide"]
    assert q_free.max() == pytest.approx(0.25, abs=0.002)  # same drive, no block: full travel


@pytest.mark.parametrize("mode", [0, 1])
def test_double_pendulum_free_swing_matches_closed_form_modes(mode):
    """Drives off, released in one small-angle normal mode: the swing's period is the mode's.

    Tolerance 0.5%: amplitude 0.05 rad lengthens a period by theta^2 / 16 = 0.016%; PyBullet's
    semi-implicit Euler at the clip's 960 Hz shifts it by about (omega dt)^2 / 12 (under 0.01% for
    the 2.2 Hz mode); zero crossings are interpolated linearly between 240 Hz frames (under 0.01%)."""
    pend = _ready(shapes.double_pendulum())
    periods, modes = shapes.double_pendulum_modes(pend.mass["rod1"].density)
    q0 = 0.05 * modes[mode]
    clip = simulate_clip(pend, name="swing", family="articulate", seconds=2.5 * periods[0], fps=240,
                         drives=False, fixed_root=True, initial={"shoulder": q0[0], "elbow": q0[1]})
    q, t = clip.joint_positions["shoulder"], clip.times
    assert q[0] == pytest.approx(q0[0]) and not clip.commanded_positions
    up = np.flatnonzero((q[:-1] < 0) & (q[1:] >= 0))
    crossings = t[up] - q[up] * (t[up + 1] - t[up]) / (q[up + 1] - q[up])
    measured = np.diff(crossings)
    assert len(measured) >= 1
    np.testing.assert_allclose(measured, periods[mode], rtol=5e-3)
    # in a normal mode the two joints keep their ratio (the other mode is not excited)
    e = clip.joint_positions["elbow"]
    k = np.argmax(np.abs(q))
    assert e[k] / q[k] == pytest.approx(q0[1] / q0[0], rel=0.02)


def test_drop_ends_at_rest_and_is_plausible(lid):
    clip = drop_clip(lid, seed=3, fps=30, seconds=2)
    assert clip.family == "drop"
    check = clip_check(lid, clip)
    assert check.measured["ends_at_rest"], check.reasons
    assert check.passed, check.reasons
    z = clip.root_poses[:, 2]
    assert z[0] > z[-1]  # it fell
    # at rest on the ground: the lowest hull point within 3 mm of z = 0 (the certificate's bound)
    assert abs(check.measured["max_float_m"]) <= 3e-3
    last = clip.root_poses[clip.times >= clip.times[-1] - 0.5]
    assert np.ptp(last[:, :3], axis=0).max() < 0.005  # moved under 5 mm over its last half second


def test_clips_identical_for_the_same_seed(lid):
    a, b = drop_clip(lid, seed=5, seconds=1), drop_clip(lid, seed=5, seconds=1)
    np.testing.assert_array_equal(a.root_poses, b.root_poses)
    np.testing.assert_array_equal(a.joint_positions["hinge"], b.joint_positions["hinge"])
    other = drop_clip(lid, seed=6, seconds=1)
    assert not np.allclose(other.root_poses[0], a.root_poses[0])  # another seed, another pose
    c, d = articulate_clip(lid, seconds=1), articulate_clip(lid, seconds=1)
    np.testing.assert_array_equal(c.joint_positions["hinge"], d.joint_positions["hinge"])


def _two_drawers():
    """A 60 cm cabinet with two drawers side by side, each on its own prismatic joint along -Y,
    [0, 0.2] m: independent (both hang from the fixed body, and their swept boxes are 10 cm apart)."""
    import trimesh

    from n4d4d.asset import Asset, Joint, Mesh, Part

    def box(lo, hi):
        m = trimesh.creation.box(extents=np.subtract(hi, lo))
        m.apply_translation((np.asarray(lo) + np.asarray(hi)) / 2)
        return m

    meshes = {"body": box([-0.3, -0.2, 0.0], [0.3, 0.2, 0.3]),
              "left": box([-0.25, -0.21, 0.1], [-0.05, -0.2005, 0.2]),
              "right": box([0.05, -0.21, 0.1], [0.25, -0.2005, 0.2])}
    joints = [Joint(f"slide_{n}", "prismatic", "body", n, origin=np.array([x, -0.2, 0.15]),
                    axis=np.array([0.0, -1.0, 0.0]), lower=0.0, upper=0.2, effort=50.0, velocity=0.5)
              for n, x in (("left", -0.15), ("right", 0.15))]
    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    return _ready(Asset(name="two_drawers", visual=Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values()))),
                        parts=parts, joints=tuple(joints)))


def test_independent_joints_move_together_and_a_chain_one_joint_at_a_time():
    from n4d4d.deformation.articulate import joint_groups

    cabinet = _two_drawers()
    assert [[j.name for j in g] for g in joint_groups(cabinet)] == [["slide_left", "slide_right"]]
    clip = articulate_clip(cabinet, fps=30, seconds=4)
    assert clip.times[-1] == pytest.approx(4.0, abs=1e-9)  # one group: one 4 s segment, not two
    left, right = clip.joint_positions["slide_left"], clip.joint_positions["slide_right"]
    # The same schedule at the same time: both open fully (2 mm: hull contact and servo lag)
    # and track each other throughout (1 mm: the two drawers are mirror images).
    assert left.max() == pytest.approx(0.2, abs=0.002) and right.max() == pytest.approx(0.2, abs=0.002)
    assert np.abs(left - right).max() < 1e-3
    pendulum = _ready(shapes.double_pendulum())
    groups = joint_groups(pendulum)
    assert [len(g) for g in groups] == [1, 1]  # the elbow's frame moves with the shoulder


@pytest.mark.parametrize("effort", [20.0, 0.001])
def test_a_wheel_resting_on_the_ground_turns_its_full_turn(effort):
    """A cart body with a 10 cm wheel (continuous joint) whose tread rests on the ground, as a
    placed robot's wheels do: with the root fixed, ground friction would hold the wheel at 0 rad;
    the clip is simulated raised clear of the ground (the certificate's sweep lift), so the wheel
    reaches its commanded 2 pi (0.05 rad: the 10 Hz drive's settling during the hold), and the
    recorded root pose stays the authored one (1e-12 m). With a 0.001 N m effort limit (the
    1.5e-4 kg m^2 wheel needs 0.0035 N m at the peak of a 4 s clip's ramps) the clip is
    lengthened to 8.2 s so the drive can follow; at 4 s it saturates and overshoots to 11.5 rad."""
    import trimesh

    from n4d4d.asset import Asset, Joint, Mesh, Part

    body = trimesh.creation.box(extents=(0.3, 0.2, 0.1))
    body.apply_translation((0.0, 0.0, 0.13))
    wheel = trimesh.creation.cylinder(radius=0.05, height=0.03, sections=48)
    wheel.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    wheel.apply_translation((0.0, -0.12, 0.05))  # tread at z = 0, beside the body, clear of it
    hub = trimesh.creation.box(extents=(0.02, 0.03, 0.04))
    hub.apply_translation((0.0, -0.115, 0.07))  # joins the axle to the body, inside the tread's circle
    wheel = trimesh.util.concatenate([wheel, hub])
    joint = Joint("axle", "continuous", "body", "wheel", origin=np.array([0.0, -0.12, 0.05]),
                  axis=np.array([0.0, 1.0, 0.0]), lower=-np.inf, upper=np.inf, effort=effort, velocity=20.0)
    cart = _ready(Asset(name="cart", visual=Mesh.from_trimesh(trimesh.util.concatenate([body, wheel])),
                        parts=(Part("body", Mesh.from_trimesh(body)), Part("wheel", Mesh.from_trimesh(wheel))),
                        joints=(joint,)))
    clip = articulate_clip(cart, fps=30, seconds=4)
    q = clip.joint_positions["axle"]
    assert q.max() == pytest.approx(2 * np.pi, abs=0.05) and q.min() > -0.05
    assert np.abs(np.asarray(clip.root_poses)[:, :3]).max() < 1e-12
    check = clip_check(cart, clip)
    assert check.measured["max_reach_error_rad"] < 0.05, check.reasons


def test_feasible_segment_closed_form():
    """The minimum-jerk peak acceleration 10/sqrt(3) d / T^2 (Flash & Hogan) against the effort:
    a 1 kg m^2 wheel (kp = I w^2, kd = 2 I w at 10 Hz) with 100 N m, half of it allowed, one turn
    forward and back (D = 4 pi, d_min = 2 pi, two holds of 10 %): T = 4 pi sqrt(10/sqrt(3) / (50 * 2 pi))
    / 0.8 (1e-12: the same arithmetic); a 4x effort halves it."""
    from n4d4d.asset import Joint
    from n4d4d.deformation.articulate import feasible_segment

    w = 2 * np.pi * 10.0
    wheel = Joint("w", "continuous", "a", "b", origin=np.zeros(3), axis=np.array([0.0, 1.0, 0.0]),
                  lower=-np.inf, upper=np.inf, effort=100.0, velocity=100.0)
    want = 4 * np.pi * np.sqrt(10 / np.sqrt(3) / (50.0 * 2 * np.pi)) / 0.8
    assert feasible_segment(wheel, w * w, 2 * w, 100.0) == pytest.approx(want, rel=1e-12)
    assert feasible_segment(wheel, w * w, 2 * w, 400.0) == pytest.approx(want / 2, rel=1e-12)
    assert feasible_segment(wheel, w * w, 2 * w, 0.0) == 0.0
