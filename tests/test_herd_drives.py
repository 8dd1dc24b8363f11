"""Procedural quadrupeds in the certificate: drive gains that an explicit PD holds along a leg's
hip-knee chain, sweeps that start clear of the ground, and Newton's bodies compared link for link.

The animal is the procedural family's seed 0 with each part's convex hull as its collider (the
parts are capsules and ellipsoids; CoACD would take ~15 s), mass and drives from the mass stage.
"""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Drive, Mesh
from n4d4d.physics_validation import mass_stage

#: PyBullet's default step, the step of every certificate check.
DT = 1.0 / 240.0


@pytest.fixture(scope="module")
def animal():
    from n4d4d.generator.procedural import make_shape

    a = make_shape("animal", 0)
    hulls = {p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in a.parts}
    return mass_stage(a.replace(collision=hulls))


def _bullet_mass_matrix(asset, model):
    """PyBullet's joint-space mass matrix of the asset with its root fixed (an independent
    implementation: Bullet's btMultiBody::calcAccelerationDeltas)."""
    from n4d4d.physics_validation import _bullet

    client = _bullet.connect(DT)
    try:
        h = _bullet.build(client, model, asset.material, np.eye(3), np.zeros(3), self_collision=False, fixed_root=True)
        n = sum(1 for link in model.links if link.joint is not None)
        return np.array(client.calculateMassMatrix(h.bodies[0], [0.0] * n))
    finally:
        client.disconnect()


def _rigid_subtree_drives(asset, model):
    """The gains the mass stage gave before the apparent-inertia fix: critically damped at
    10 Hz for each joint's subtree held rigid (:func:`.rigid_model.effective_inertia`)."""
    from dataclasses import replace

    from n4d4d.physics_validation.rigid_model import NATURAL_FREQUENCY_HZ, effective_inertia

    w = 2 * np.pi * NATURAL_FREQUENCY_HZ
    out = dict(asset.drives)
    for link in model.links:
        if link.joint is not None:
            m = effective_inertia(model, link.index)
            out[link.joint.name] = replace(asset.drives[link.joint.name], stiffness=m * w * w, damping=2 * m * w)
    return out


def _pd_in_air(asset, model, drives: dict[str, Drive], steps: int = 480) -> float:
    """Peak joint speed (rad/s) over the last 0.5 s of an explicit PD (torque clipped to effort,
    computed once per step from the state, as the checks apply it) holding 0 rad from a 0.05 rad
    start, root fixed in the air under gravity: the certificate's actuator model."""
    import pybullet

    from n4d4d.physics_validation import _bullet

    client = _bullet.connect(DT)
    try:
        h = _bullet.build(client, model, asset.material, np.eye(3), np.array([0.0, 0.0, 2.0]),
                          self_collision=False, fixed_root=True)
        links = [link for link in model.links if link.joint is not None]
        li = [h.links[link.index] for link in links]
        kp = np.array([drives[link.joint.name].stiffness for link in links])
        kd = np.array([drives[link.joint.name].damping for link in links])
        effort = np.array([drives[link.joint.name].max_force for link in links])
        for j in li:
            client.resetJointState(h.bodies[0], j, 0.05, 0.0)
        peak = 0.0
        for k in range(steps):
            st = client.getJointStates(h.bodies[0], li)
            q, dq = np.array([s[0] for s in st]), np.array([s[1] for s in st])
            client.setJointMotorControlArray(h.bodies[0], li, pybullet.TORQUE_CONTROL,
                                             forces=np.clip(-kp * q - kd * dq, -effort, effort).tolist())
            client.stepSimulation()
            if k >= steps - 120:
                peak = max(peak, float(np.abs(dq).max()))
        return peak
    finally:
        client.disconnect()


def test_joint_space_inertia_matches_pybullet_and_apparent_inertia_is_its_inverse_diagonal(animal):
    from n4d4d.physics_validation.rigid_model import apparent_inertia, effective_inertia, joint_space_inertia, rigid_model

    model = rigid_model(animal)
    links, M = joint_space_inertia(model)
    Mb = _bullet_mass_matrix(animal, model)
    # same rigid bodies, two implementations: agreement to round-off of the largest entry
    assert np.abs(M - Mb).max() < 1e-9 * np.abs(Mb).max()
    app = apparent_inertia(model)
    inv = np.linalg.inv(Mb)
    for c, i in enumerate(links):
        assert app[i] == pytest.approx(1.0 / inv[c, c], rel=1e-9)
        assert app[i] <= effective_inertia(model, i) * (1 + 1e-9)  # freeing the other joints never adds inertia
    hip = next(i for i in links if model.links[i].joint.name == "front_left_leg_root")
    # a hip whose knee is free sees far less than the rigid leg (the reason the old gains diverged)
    assert app[hip] < 0.5 * effective_inertia(model, hip)
    tail = next(i for i in links if model.links[i].joint.name == "tail")
    # a lone joint hung from the fixed root sees its rigid subtree: the same gains as before
    assert app[tail] == pytest.approx(effective_inertia(model, tail), rel=1e-9)


def test_explicit_pd_holds_the_leg_chain_with_the_drives_and_diverges_with_rigid_subtree_gains(animal):
    from n4d4d.physics_validation.rigid_model import rigid_model

    model = rigid_model(animal)
    # the drives' closed loop decays at 10 Hz, critically damped: after 1.5 s nothing moves
    assert _pd_in_air(animal, model, animal.drives) < 0.01
    # gains tuned for each subtree held rigid oscillate at the step and diverge to PyBullet's
    # 100 rad/s joint speed clamp (measured: from the 5th step on)
    assert _pd_in_air(animal, model, _rigid_subtree_drives(animal, model)) > 50.0


def test_standing_animal_rests_and_sweeps_its_legs_through_their_ranges_in_pybullet(animal):
    from n4d4d.physics_validation.articulation import SWEEP_CLEARANCE_M, check_articulation, sweep_lift
    from n4d4d.physics_validation.pybullet_check import check_pybullet
    from n4d4d.physics_validation.rigid_model import rigid_model

    model = rigid_model(animal)
    rest = check_pybullet(animal, orientations=2, seed=0)
    assert rest["passed"], rest["reasons"]
    assert sweep_lift(model) == pytest.approx(SWEEP_CLEARANCE_M - model.hull_points()[:, 2].min())
    sweep = check_articulation(animal, model)
    assert sweep.passed, sweep.reasons
    for name, m in sweep.measured.items():
        lo, hi = m["range"]
        # both ends reached within 0.1 rad: the servo's lag at the turn (~0.03 rad at 10 Hz and
        # 1.4 rad/s) plus a lifted shank's gravity sag (0.64 N m on an 11 N m/rad knee: 0.06 rad);
        # a foot pressed into the ground by the fixed body kept a hip at 0 rad on one side
        assert m["min_q"] < lo + 0.1 and m["max_q"] > hi - 0.1, (name, m["min_q"], m["max_q"])


def test_rigid_subtree_gains_fail_the_certificate(animal):
    """A genuinely broken drive (the old rigid-subtree gains, unstable along the leg) is caught by
    both the rest check and the sweep, with the same explicit PD."""
    from n4d4d.physics_validation.articulation import check_articulation
    from n4d4d.physics_validation.pybullet_check import check_pybullet
    from n4d4d.physics_validation.rigid_model import rigid_model

    model = rigid_model(animal)
    broken = animal.replace(drives=_rigid_subtree_drives(animal, model))
    sweep = check_articulation(broken, model)
    assert not sweep.passed and any("exploded" in r for r in sweep.reasons)
    rest = check_pybullet(broken, orientations=0, seed=0)
    assert not rest["passed"]


def test_newton_rest_poses_come_in_the_asset_link_order(animal, tmp_path):
    """Newton orders bodies depth first along the joints (torso, front_left_leg_upper, ...);
    the check hands them back in the asset's link order, so each settled pose sits next to its
    own link's placed COM (before: the head was compared with a leg, 1.27 m away)."""
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation.newton_check import check_newton
    from n4d4d.physics_validation.pybullet_check import rest_pose
    from n4d4d.physics_validation.rigid_model import rigid_model
    from n4d4d.physics_validation.thresholds import StabilityThresholds

    model = rigid_model(animal)
    res = check_newton(animal, usd_path=write_usd(animal, tmp_path / "animal.usda"), seed=0, orientations=0)
    rest = res["checks"][0]
    R, t = rest_pose(model, StabilityThresholds(), 0)
    placed = np.array([R @ link.mass.center_of_mass + t for link in model.links])
    final = np.array(rest.measured["final_positions_m"])
    gaps = np.linalg.norm(final - placed, axis=1)
    # settling moves a link by millimetres to a few centimetres (knee sag); the nearest other
    # link's COM is farther than 5 cm, so a link swapped with another fails this
    spacing = min(np.linalg.norm(placed[i] - placed[j]) for i in range(len(placed)) for j in range(i))
    assert spacing > 0.05 and gaps.max() < 0.04, gaps
