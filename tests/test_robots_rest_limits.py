"""A joint whose authored zero lies outside its own limits (pybullet_data's a1: calves at 0 with
limits [-2.697, -0.916] rad) rests at that zero clipped into the limits: both engines start every
world there (rigid_model.rest_coordinate), the drive holds it, and the joint stays within its
limits over the rest check. Truth: the clipped coordinate itself, read back from the engines'
link poses (the hinge angle is the arm's rotation relative to the base about the hinge axis)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from n4d4d.physics_validation import shapes

LOWER, UPPER = 0.3, 1.2  # the hinge's zero lies below its range: it rests at 0.3 rad


@pytest.fixture(scope="module")
def arm():
    from n4d4d.physics_validation import collision_stage, mass_stage

    a = shapes.hinged_arm()
    joints = tuple(dataclasses.replace(j, lower=LOWER, upper=UPPER) for j in a.joints)
    return mass_stage(collision_stage(dataclasses.replace(a, joints=joints)))


def _hinge_angles(quats: np.ndarray) -> np.ndarray:
    """``(T,)`` hinge angle (rad) from ``(T, 2, 4)`` (w, x, y, z) base and arm orientations: the
    arm's rotation relative to the base, signed about the hinge axis -Y (shapes.hinged_arm)."""
    from scipy.spatial.transform import Rotation

    base = Rotation.from_quat(quats[:, 0], scalar_first=True)
    arm = Rotation.from_quat(quats[:, 1], scalar_first=True)
    rel = (base.inv() * arm).as_rotvec()
    return rel @ np.array([0.0, -1.0, 0.0])


def test_rest_coordinate_is_zero_clipped_into_the_limits(arm):
    from n4d4d.physics_validation.rigid_model import rest_coordinate, rest_coordinates, rigid_model

    (j,) = arm.joints
    assert rest_coordinate(j) == LOWER
    assert rest_coordinate(dataclasses.replace(j, lower=-1.2, upper=-0.3)) == -0.3
    assert rest_coordinate(dataclasses.replace(j, lower=-1.0, upper=1.0)) == 0.0  # 0 inside: unchanged
    assert rest_coordinate(dataclasses.replace(j, type="continuous", lower=-np.inf, upper=np.inf)) == 0.0
    assert list(rest_coordinates(rigid_model(arm)).values()) == [LOWER]
    assert arm.drives["hinge"].target == LOWER  # the servo holds it, and the file carries it


def test_both_engines_start_at_the_clipped_coordinate_and_stay_within_limits(arm, tmp_path):
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation.newton_check import simulate_usd
    from n4d4d.physics_validation.pybullet_check import rest_pose, simulate
    from n4d4d.physics_validation.rigid_model import rigid_model
    from n4d4d.physics_validation.thresholds import StabilityThresholds

    th = dataclasses.replace(StabilityThresholds(), settle_time_s=1.0)
    model = rigid_model(arm)
    R, t = rest_pose(model, th, seed=0)
    pb, _ = simulate(model, arm, R, t, th, substeps=4)
    (nw,), _, _ = simulate_usd(write_usd(arm, tmp_path / "arm.usda"), [(R, t)], mu=arm.material.dynamic_friction,
                               time_step=th.time_step_s, steps=th.steps, bodies=2, body_order=["base", "arm"])
    for name, tr in (("pybullet", pb), ("newton", nw)):
        placed = _hinge_angles(tr.placed_quats[None])[0]
        # placed exactly (PyBullet: resetJointState; Newton: forward kinematics in float32, 1e-5 rad)
        assert placed == pytest.approx(LOWER, abs=1e-4), name
        q = _hinge_angles(tr.quats)
        # within the limits over the whole check, to the certificate's sweep tolerance (0.02 rad),
        # and held near the rest coordinate by the drive (the arm's sag under its 10 Hz servo is
        # under 0.03 rad for its 10 cm lever: rigid_model.NATURAL_FREQUENCY_HZ)
        assert q.min() >= LOWER - 0.02 and q.max() <= UPPER + 0.02, (name, q.min(), q.max())
        assert np.abs(q - LOWER).max() < 0.03, (name, np.abs(q - LOWER).max())
        assert np.isfinite(tr.linear_velocities).all() and np.abs(tr.linear_velocities).max() < 0.5, name
