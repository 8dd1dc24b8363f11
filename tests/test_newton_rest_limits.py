"""A rest pose outside a joint's own limits (pybullet_data's a1: calves at 0, limits [-2.697, -0.916]
rad) is named by the Newton checks; the joint rests at its zero clipped into the limits, which the
file's drive targets and Newton's importer keeps."""
from __future__ import annotations

import dataclasses

import numpy as np

from n4d4d.physics_validation import shapes
from n4d4d.physics_validation.rigid_model import rest_outside_limits, rigid_model


def _with_limits(asset, lower, upper):
    joints = tuple(dataclasses.replace(j, lower=lower, upper=upper) for j in asset.joints)
    return dataclasses.replace(asset, joints=joints)


def test_rest_outside_limits_names_the_joint_and_only_it():
    from n4d4d.physics_validation import collision_stage, mass_stage

    arm = mass_stage(collision_stage(shapes.hinged_arm()))  # limits [0, pi/2]: 0 is on the lower stop, inside
    assert rest_outside_limits(rigid_model(arm)) == []
    below = _with_limits(arm, 0.3, 1.2)  # 0 below the range
    above = _with_limits(arm, -1.2, -0.3)  # 0 above the range (a1's calves)
    for a in (below, above):
        (msg,) = rest_outside_limits(rigid_model(a))
        assert "'hinge'" in msg and "outside its limits" in msg


def test_the_file_drive_targets_the_clipped_rest_coordinate(tmp_path):
    """The drive's target is the rest coordinate clip(0, lower, upper) (rigid_model.rest_coordinate),
    inside the limits, so Newton's importer keeps it (a target outside the limits it would move to
    their midpoint, ModelBuilder.JointDofConfig): the file's servo is the one simulated."""
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation import collision_stage, mass_stage
    from n4d4d.physics_validation._newton_sim import newton_modules

    arm = mass_stage(collision_stage(_with_limits(shapes.hinged_arm(), -1.2, -0.3)))
    assert arm.drives["hinge"].target == -0.3  # 0 clipped onto the upper limit
    usd = write_usd(arm, tmp_path / "arm.usda")
    _, newton = newton_modules()
    sub = newton.ModelBuilder()
    sub.add_usd(str(usd))
    (j,) = [j for j in range(sub.joint_count) if sub.joint_type[j] == newton.JointType.REVOLUTE]
    dof, coord = [sub.joint_qd_start[j]], sub.joint_q_start[j]  # limits per DOF, targets per coordinate
    # limits in radians after the importer's degree conversion (float32 in the file: 1e-5 rad)
    assert np.isclose(sub.joint_limit_lower[dof[0]], -1.2, atol=1e-5)
    assert np.isclose(sub.joint_target_q[coord], -0.3, atol=1e-5)  # the file's target, not the midpoint -0.75


def test_check_newton_reports_it_on_the_rest_check(tmp_path):
    """The certificate gathers each check's details["warnings"]: the rest check carries the
    sentence (once: the drops start from the same coordinates and do not repeat it)."""
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation import collision_stage, mass_stage
    from n4d4d.physics_validation.newton_check import check_newton

    arm = mass_stage(collision_stage(_with_limits(shapes.hinged_arm(), 0.3, 1.2)))
    res = check_newton(arm, usd_path=write_usd(arm, tmp_path / "arm.usda"), seed=0, orientations=1)
    rest, drop = res["checks"]
    assert [w for w in rest.details["warnings"] if "'hinge'" in w and "outside its limits" in w]
    assert not [w for w in drop.details["warnings"] if "outside its limits" in w]
    assert res["warnings"] == rest_outside_limits(rigid_model(arm))
