"""The motion clips' PyBullet joint I/O (:mod:`n4d4d.deformation.bullet_scene`) reads and drives
every movable joint with one batched call per body; the truth it must equal bit for bit is
PyBullet's own per-joint API (``getJointState`` / ``setJointMotorControl2``) on a twin scene."""

from __future__ import annotations

import numpy as np
import pybullet
import pytest

from n4d4d.deformation import bullet_scene as bs
from n4d4d.deformation import shapes
from n4d4d.physics_validation import collision_stage, mass_stage
from n4d4d.physics_validation.rigid_model import rigid_model


@pytest.fixture(scope="module")
def pendulum():
    return mass_stage(collision_stage(shapes.double_pendulum()))


def _scene(asset, model):
    client = bs.connect(1.0 / 960.0)
    bs.add_ground(client)
    pose = np.eye(4)
    pose[2, 3] = 1.0  # clear of the ground: the swing, not a contact, decides the motion
    return bs.build(client, model, asset.material, pose, fixed_root=True)


def test_batched_joint_io_equals_per_joint_api(pendulum):
    model = rigid_model(pendulum)
    gains = bs.drive_gains(pendulum, model)
    assert len(gains) == 2  # two hinges: the batch has more than one joint to get right
    targets = np.zeros(len(model.links))
    for i in gains:
        targets[i] = 0.7  # a step the drive must follow: the torques differ from 0 and vary
    a, b = _scene(pendulum, model), _scene(pendulum, model)
    try:
        bs.set_joints(a, {i: -0.3 for i in gains})
        bs.set_joints(b, {i: -0.3 for i in gains})
        for _ in range(300):
            q, dq = bs.joint_state(a)
            bs.drive_torques(a, targets, gains, q, dq)
            a.client.stepSimulation()
            for i, (kp, kd, effort) in gains.items():  # the per-joint reference, the scalar formula
                qi, dqi = b.client.getJointState(b.bodies[i], b.links[i])[:2]
                tau = float(np.clip(kp * (targets[i] - qi) - kd * dqi, -effort, effort))
                b.client.setJointMotorControl2(b.bodies[i], b.links[i], pybullet.TORQUE_CONTROL, force=tau)
            b.client.stepSimulation()
        qa, dqa = bs.joint_state(a)
        ref = {i: b.client.getJointState(b.bodies[i], b.links[i])[:2] for i in gains}
        # Bit for bit: the same float64 formula and the same engine calls in another grouping.
        assert all(qa[i] == ref[i][0] and dqa[i] == ref[i][1] for i in gains)
        assert np.array_equal(bs.link_poses(a), bs.link_poses(b))
        assert max(abs(qa[i] - (-0.3)) for i in gains) > 0.1  # the drive moved the joints
    finally:
        a.client.disconnect()
        b.client.disconnect()
