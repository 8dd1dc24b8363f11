"""URDF loading against PyBullet's own forward kinematics, and joints kept from the file."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.errors import InputError, MissingFileError
from n4d4d.io.urdf import load_urdf_asset, parse_urdf


@pytest.mark.parametrize("robot", ["r2d2.urdf", "kuka_iiwa/model.urdf"])
def test_link_frames_match_pybullet(pybullet_data, robot):
    """Rest-pose link frames equal PyBullet's URDF link frames (an independent parser / FK);
    1e-6 m: both are double-precision compositions of the same transforms."""
    import pybullet as pb

    model = parse_urdf(pybullet_data / robot)
    ours = model.link_transforms()
    cid = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(pybullet_data / robot), physicsClientId=cid)
        base_name = pb.getBodyInfo(body, physicsClientId=cid)[0].decode()
        for i in range(pb.getNumJoints(body, physicsClientId=cid)):
            info = pb.getJointInfo(body, i, physicsClientId=cid)
            name = info[12].decode()
            st = pb.getLinkState(body, i, computeForwardKinematics=True, physicsClientId=cid)
            # PyBullet places the base's inertial frame at the origin: compare relative to the base link frame
            base_pos, base_orn = pb.getBasePositionAndOrientation(body, physicsClientId=cid)
            inv_pos, inv_orn = pb.invertTransform(base_pos, base_orn)
            rel = pb.multiplyTransforms(inv_pos, inv_orn, st[4], st[5])
            base_inertial = pb.getDynamicsInfo(body, -1, physicsClientId=cid)[3]
            expected = np.asarray(rel[0])  # link frame in the base's inertial frame
            T = np.linalg.inv(ours[base_name]) @ ours[name]
            ours_rel = T[:3, 3] - np.asarray(base_inertial)  # (these bases' inertials are unrotated)
            assert np.allclose(ours_rel, expected, atol=1e-6), name
    finally:
        pb.disconnect(cid)


def test_r2d2_asset_parts_and_joints(pybullet_data):
    a = load_urdf_asset(pybullet_data / "r2d2.urdf")
    names = {p.name for p in a.parts}
    types = sorted(j.type for j in a.joints)
    # r2d2 has 8 movable joints: 5 continuous (4 wheels, head), 1 prismatic, 2 revolute;
    # its 7 fixed joints fold legs, bases and the eye box into their parents
    assert types == ["continuous"] * 5 + ["prismatic"] + ["revolute"] * 2
    assert all(j.parent in names and j.child in names for j in a.joints)
    assert len(a.visual.submesh_names) == len(a.parts)
    for j in a.joints:
        assert np.isclose(np.linalg.norm(j.axis), 1.0)


def test_joints_from_file_are_kept(pybullet_data):
    from n4d4d.rigging import rig_stage

    a = load_urdf_asset(pybullet_data / "kuka_iiwa" / "model.urdf")
    out = rig_stage(a, joints="from-file")
    assert out.joints == a.joints
    assert [p.name for p in out.parts] == [p.name for p in a.parts]
    for p in out.parts:
        tm = p.mesh.to_trimesh()
        assert tm.is_watertight


def test_partnet_rpy_and_limits(shared_data):
    """PartNet-Mobility's base joint turns Y-up meshes Z-up (rpy = pi/2, 0, -pi/2): the
    cabinet's door axis, +Y in the link frame, is world +-Z; limits are the file's radians."""
    a = load_urdf_asset(shared_data / "partnet-mobility" / "40147" / "mobility.urdf")
    door = next(j for j in a.joints if j.type == "revolute")
    assert abs(abs(door.axis[2]) - 1.0) < 1e-9
    assert door.upper > door.lower


def test_bad_urdfs(tmp_path):
    with pytest.raises(MissingFileError):
        parse_urdf(tmp_path / "none.urdf")
    bad = tmp_path / "bad.urdf"
    bad.write_text("<robot><link name='a'/><joint name='j' type='screw'><parent link='a'/><child link='a'/></joint></robot>")
    with pytest.raises(InputError):
        parse_urdf(bad)
    missing_mesh = tmp_path / "m.urdf"
    missing_mesh.write_text("<robot><link name='a'><visual><geometry><mesh filename='nope.obj'/></geometry>"
                            "</visual></link></robot>")
    with pytest.raises(MissingFileError):
        load_urdf_asset(missing_mesh)
