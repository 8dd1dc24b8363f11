"""Motion clips of a joint whose authored zero lies outside its limits (pybullet_data's a1: calves
at 0 with limits [-2.697, -0.916] rad; its drop clip had 746 joint-frames past a limit when clips
started at 0) start at the certificate's rest coordinate, 0 clipped into the limits, and stay
within the limits. Truth: the limits themselves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from n4d4d.physics_validation import shapes

LOWER, UPPER = 0.3, 1.2  # the hinge's zero lies below its range: it rests at 0.3 rad
# the certificate's sweep tolerance on limits (the PD drive and PyBullet's limit both act softly)
TOL = 0.02


@pytest.fixture(scope="module")
def arm():
    from n4d4d.physics_validation import collision_stage, mass_stage

    a = shapes.hinged_arm()
    joints = tuple(dataclasses.replace(j, lower=LOWER, upper=UPPER) for j in a.joints)
    return mass_stage(collision_stage(dataclasses.replace(a, joints=joints)))


def test_articulate_clip_goes_rest_upper_lower_rest_within_limits(arm):
    from n4d4d.deformation.articulate import articulate_clip, open_close_schedule

    _, way = open_close_schedule(arm.joints[0], 2.0)
    assert way[0] == LOWER and way[-1] == LOWER and way.max() == UPPER
    clip = articulate_clip(arm, seconds=2.0)
    q, cmd = clip.joint_positions["hinge"], clip.commanded_positions["hinge"]
    assert q[0] == pytest.approx(LOWER, abs=1e-6) and cmd[0] == pytest.approx(LOWER, abs=1e-6)
    assert q.min() >= LOWER - TOL and q.max() <= UPPER + TOL, (q.min(), q.max())
    assert cmd.min() >= LOWER - 1e-9 and cmd.max() <= UPPER + 1e-9   # targets never leave the range
    assert q.max() > UPPER - 0.1                                       # and the joint did travel it


def test_drop_clip_starts_and_stays_within_limits(arm):
    from n4d4d.deformation.drop import drop_clip

    clip = drop_clip(arm, seed=0, seconds=1.0)
    q = clip.joint_positions["hinge"]
    assert q[0] == pytest.approx(LOWER, abs=1e-6)
    assert q.min() >= LOWER - TOL and q.max() <= UPPER + TOL, (q.min(), q.max())
    assert np.allclose(clip.commanded_positions["hinge"], LOWER)
    # released above the ground with the arm at its rest coordinate: nothing starts below z = 0
    assert clip.root_poses[0, 2] > 0
