"""Newton sweeps a revolute range that reaches past pi (:func:`n4d4d.physics_validation.newton_articulation.recentre_revolutes`).

XPBD takes a revolute angle in (-pi, pi], so a joint swept past -pi reads as past its other limit
and is thrown back: PartNet-Mobility 100154's box flaps (limits [-3.93, 0.785] rad) exploded at
925 rad/s and at infinite speed. Re-centred by its range's midpoint, the same joint sweeps in
Newton as in PyBullet.

Geometry (closed form): a column 0.2 x 0.2 x 0.6 m and a flap 0.2 x 0.2 x 0.01 m hinged about +Y
at the column's top +X edge (z = 0.6), lying along +X at rest; limits [-3.9, 0.6] rad (span
4.5 < 2 (pi - 0.1)). The flap's far edge stays 0.4 m above the ground at every angle.
"""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from boxes import box_between

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.physics_validation import collision_stage, mass_stage

LOWER, UPPER = -3.9, 0.6


@pytest.fixture(scope="module")
def flap():
    meshes = {"column": box_between([-0.1, -0.1, 0.0], [0.1, 0.1, 0.6]),
              "flap": box_between([0.1, -0.1, 0.595], [0.3, 0.1, 0.605])}
    joints = (Joint(name="hinge", type="revolute", parent="column", child="flap", origin=np.array([0.1, 0.0, 0.6]),
                    axis=np.array([0.0, 1.0, 0.0]), lower=LOWER, upper=UPPER, effort=50.0, velocity=3.0),)
    parts = tuple(Part(n, Mesh.from_trimesh(m)) for n, m in meshes.items())
    visual = Mesh.from_trimesh(trimesh.util.concatenate(list(meshes.values())))
    return mass_stage(collision_stage(Asset(name="flap", visual=visual, parts=parts, joints=joints)))


@pytest.fixture(scope="module")
def usd(flap, tmp_path_factory):
    from n4d4d.exporters.usd import write_usd

    return write_usd(flap, tmp_path_factory.mktemp("flap") / "flap.usda")


def _flap_poses(usd, coords, recentre: bool):
    """The flap body's pose ``(7,)`` (position, quaternion x y z w) by Newton's forward kinematics
    at each of ``coords`` (the file's coordinate, rad), in a builder re-centred or not."""
    import newton
    import warp as wp

    from n4d4d.physics_validation.newton_articulation import recentre_revolutes

    b = newton.ModelBuilder()
    b.add_usd(str(usd), floating=False, load_visual_shapes=False)
    offsets = recentre_revolutes(b, newton) if recentre else {}
    j = next(k for k in range(b.joint_count) if b.joint_type[k] == newton.JointType.REVOLUTE)
    model = b.finalize(device="cpu")
    state = model.state()
    out = []
    for q in coords:
        jq = model.joint_q.numpy()
        jq[b.joint_q_start[j]] = q - offsets.get(j, 0.0)
        newton.eval_fk(model, wp.array(jq, dtype=float, device="cpu"), model.joint_qd, state)
        out.append(state.body_q.numpy()[b.joint_child[j]].astype(np.float64))
    limits = (model.joint_limit_lower.numpy()[b.joint_qd_start[j]], model.joint_limit_upper.numpy()[b.joint_qd_start[j]])
    return np.array(out), offsets, limits


def test_recentring_keeps_every_pose_and_moves_the_range_inside_pi(usd):
    coords = np.linspace(LOWER, UPPER, 7)
    authored, none, _ = _flap_poses(usd, coords, recentre=False)
    moved, offsets, limits = _flap_poses(usd, coords, recentre=True)
    assert not none and list(offsets.values()) == pytest.approx([0.5 * (LOWER + UPPER)])
    # the re-centred range is the authored one less its midpoint: [-2.25, 2.25], inside (-pi + 0.1, pi - 0.1)
    assert limits == pytest.approx((-2.25, 2.25), abs=1e-6)
    # the same body poses at the file's coordinates (Newton's own FK of the authored frames is the
    # truth; float32 state: 1e-5)
    pos_err = np.abs(moved[:, :3] - authored[:, :3]).max()
    dots = np.abs(np.sum(moved[:, 3:] * authored[:, 3:], axis=1))  # q and -q are one rotation
    assert pos_err < 1e-5 and dots.min() > 1 - 1e-5, (pos_err, dots)


def test_newton_sweeps_a_range_past_pi_as_pybullet_does(flap, usd):
    from n4d4d.physics_validation.articulation import check_articulation
    from n4d4d.physics_validation.newton_articulation import check_articulation_newton
    from n4d4d.physics_validation.rigid_model import NATURAL_FREQUENCY_HZ, rigid_model
    from n4d4d.physics_validation.thresholds import CertificateThresholds

    model = rigid_model(flap)
    nw = check_articulation_newton(flap, model, usd_path=usd)
    pb = check_articulation(flap, model)
    assert nw.passed and pb.passed, (nw.reasons, pb.reasons)
    assert not nw.details["warnings"]
    n, p = nw.measured["hinge"], pb.measured["hinge"]
    # Closed form (tests/test_physics_newton.py's arm): a critically damped 10 Hz servo lags a ramp
    # of speed v by 2 v / w; gravity sags the flap's 0.1 m lever by under 0.03 rad more.
    ct = CertificateThresholds()
    lag = 2 * n["sweep_speed"] / (2 * np.pi * NATURAL_FREQUENCY_HZ) + 0.03
    assert LOWER - ct.limit_tolerance_rad <= n["min_q"] <= LOWER + lag
    assert UPPER - lag <= n["max_q"] <= UPPER + ct.limit_tolerance_rad
    # the engines agree on the swept extremes within the limit tolerance, and on the peak speed
    # within 5% (the arm test's bounds)
    assert abs(n["min_q"] - p["min_q"]) <= ct.limit_tolerance_rad
    assert abs(n["max_q"] - p["max_q"]) <= ct.limit_tolerance_rad
    assert n["peak_joint_speed"] == pytest.approx(p["peak_joint_speed"], rel=0.05)
