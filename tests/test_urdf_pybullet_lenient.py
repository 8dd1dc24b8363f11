"""URDFs that PyBullet reads and a strict reader refused: n4d4d reads them as PyBullet does, with a
note, and checks the reading against PyBullet itself (the independent truth here)."""

from pathlib import Path

import numpy as np
import pytest

from n4d4d.io.urdf import parse_urdf

URDF = """<?xml version="1.0"?>
<robot name="r">
  <link name="a"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01"/></inertial>
    <collision><geometry><box size="0.1 0.1 0.1"/></geometry></collision></link>
  <link name="b"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01"/></inertial>
    <collision><geometry><box size="0.1 0.1 0.1"/></geometry></collision></link>
  <joint name="j" type="revolute"><parent link="a"/><child link="b"/>
    <origin xyz="0.1 0.2 0.3 9" rpy="0.3 -0.4 1.2 5"/><axis xyz="0 0 1"/>
    <limit lower="-1" upper="1" effort="1" velocity="1"/></joint>
</robot>
"""


def _pybullet_joint_frame(path: Path, **kw):
    import pybullet as pb

    cid = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(path), physicsClientId=cid, **kw)
        n = pb.getNumJoints(body, physicsClientId=cid)
        if not n:
            return None, None, 0
        # the child link's URDF frame in the world at joint position 0 (base at the origin)
        state = pb.getLinkState(body, 0, computeForwardKinematics=True, physicsClientId=cid)
        return np.array(state[4]), np.array(state[5]), n
    finally:
        pb.disconnect(cid)


def test_a_vector_of_four_numbers_is_read_as_its_first_three_like_pybullet(tmp_path):
    from scipy.spatial.transform import Rotation

    path = tmp_path / "r.urdf"
    path.write_text(URDF)
    model = parse_urdf(path)
    (j,) = model.joints
    assert any('rpy="0.3 -0.4 1.2 5" has 4 numbers' in n for n in model.notes)
    assert any('xyz="0.1 0.2 0.3 9" has 4 numbers' in n for n in model.notes)
    np.testing.assert_allclose(j.origin[:3, 3], [0.1, 0.2, 0.3])
    # PyBullet's world frame of the child link at q = 0 is the joint origin (the base sits at
    # the world origin); quaternions agree up to sign.
    pos, orn, _ = _pybullet_joint_frame(path)
    np.testing.assert_allclose(pos, j.origin[:3, 3], atol=1e-6)  # float32 inside Bullet
    q = Rotation.from_matrix(j.origin[:3, :3]).as_quat()
    assert min(np.abs(q - orn).max(), np.abs(q + orn).max()) < 1e-6


def test_fewer_than_three_numbers_stay_an_error(tmp_path):
    from n4d4d.errors import MalformedFileError

    path = tmp_path / "r.urdf"
    path.write_text(URDF.replace('rpy="0.3 -0.4 1.2 5"', 'rpy="0.3 -0.4"'))
    with pytest.raises(MalformedFileError, match=r'rpy="0.3 -0.4" needs 3 numbers, got 2'):
        parse_urdf(path)


def test_trailing_nul_bytes_are_ignored_like_pybullet(tmp_path):
    path = tmp_path / "r.urdf"
    path.write_bytes(URDF.replace(" 9\"", "\"").replace(" 5\"", "\"").encode() + b"\r\n\x00\x00")
    model = parse_urdf(path)
    _, _, n = _pybullet_joint_frame(path)
    assert len(model.joints) == n == 1


@pytest.mark.parametrize("rel", ["quadruped/microtaur/microtaur.urdf"])
def test_pybullet_data_files_that_pybullet_loads_now_parse(rel):
    # Refused before (4-number rpy). The joint count is PyBullet's own. (racecar_differential's
    # 4-number scale is read now too, but it names meshes found only on PyBullet's search path.)
    import pybullet_data

    path = Path(pybullet_data.getDataPath()) / rel
    model = parse_urdf(path)
    _, _, n = _pybullet_joint_frame(path, useFixedBase=True)
    assert len(model.joints) == n


def test_humanoid_is_read_past_its_nul_and_refused_for_its_spherical_joints():
    # humanoid.urdf ends in a NUL byte (was "malformed XML: Extra content"); past it, its ball
    # joints are a type n4d4d's kinematics do not carry, and the error says so precisely.
    import pybullet_data

    from n4d4d.errors import MalformedFileError

    path = Path(pybullet_data.getDataPath()) / "humanoid" / "humanoid.urdf"
    assert path.read_bytes().endswith(b"\x00")
    with pytest.raises(MalformedFileError, match=r"<joint name='chest'> \(line 40\): has unknown type 'spherical'"):
        parse_urdf(path)
