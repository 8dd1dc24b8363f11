"""URDF loading against PyBullet's own forward kinematics, and joints kept from the file."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.errors import InputError, MissingFileError
import trimesh

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


# --- issue 17: URDF validated at load ---------------------------------------------------------
from n4d4d.errors import MalformedFileError, UnsafePathError  # noqa: E402
from n4d4d.io.urdf import UrdfJoint, UrdfModel  # noqa: E402

BOX = '<box size="0.1 0.1 0.1"/>'


def _links(*names):
    return "".join(f'\n  <link name="{n}"><visual><geometry>{BOX}</geometry></visual></link>' for n in names)


def _joint(name, parent, child, jtype="fixed", extra=""):
    return (f'\n  <joint name="{name}" type="{jtype}">\n    <parent link="{parent}"/>\n    <child link="{child}"/>'
            f'{extra}\n  </joint>')


def _revolute(limit='lower="-1" upper="1" effort="1" velocity="1"', axis="0 0 1"):
    return _joint("j", "a", "b", "revolute", f'\n    <axis xyz="{axis}"/>\n    <limit {limit}/>')


def _urdf(tmp_path, body, name="r.urdf"):
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f'<?xml version="1.0"?>\n<robot name="r">{body}\n</robot>\n')
    return p


@pytest.mark.timeout(20)  # before: these three looped forever in link_transforms
@pytest.mark.parametrize("body, message", [
    (_links("root", "base", "arm") + _joint("j1", "root", "base") + _joint("j2", "base", "arm")
     + _joint("j3", "arm", "base"),
     r"<joint name='j3'> \(line 14\): makes link 'base' the child of a second joint \(joint 'j1', line 6"),
    (_links("a") + _joint("j", "a", "a"), r"<joint name='j'> \(line 4\): joins link 'a' to itself"),
    (_links("r", "a", "b") + _joint("j1", "a", "b") + _joint("j2", "b", "a"),
     r"<joint name='j2'> \(line 10\): closes a cycle of joints \('a' -\[j1\]-> 'b' -\[j2\]-> 'a'\)"),
    (_links("a", "b") + _joint("j1", "a", "b") + _joint("j2", "b", "a"), r"no root link"),
    (_links("a", "b"), r"2 root links \('a', 'b'\)"),
])
def test_joint_graph_must_be_one_tree(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        load_urdf_asset(_urdf(tmp_path, body))


def test_link_transforms_terminate_on_an_unvalidated_cycle():
    # A model built by hand (not through parse_urdf) with a cycle below the root: each link once.
    eye = np.eye(4)
    js = tuple(UrdfJoint(n, "fixed", p, c, eye, np.array([1.0, 0, 0]), -np.inf, np.inf, 1.0, 1.0)
               for n, p, c in (("j1", "root", "base"), ("j2", "base", "arm"), ("j3", "arm", "base")))
    model = UrdfModel("r", None, {"root": ((), ()), "base": ((), ()), "arm": ((), ())}, js)
    assert model.root == "root"
    assert sorted(model.link_transforms()) == ["arm", "base", "root"]


@pytest.mark.parametrize("body, message", [
    (_links("a", "b") + '\n  <joint name="j" type="fixed"><child link="b"/></joint>',
     r"<joint name='j'> \(line 5\): has no <parent>"),
    (_links("a").replace(BOX, '<box size="a b c"/>'), r'<box> \(line 3\): size="a b c" is not 3 numbers'),
    (_links("a").replace(BOX, '<box size="0.1 0.1"/>'), r'<box> \(line 3\): size="0.1 0.1" needs 3 numbers, got 2'),
    (_links("a").replace("<visual>", '<visual><origin xyz="1 2"/>'), r'<origin> \(line 3\): xyz="1 2" needs 3'),
    (_links("a", "b") + _revolute('lower="x" upper="1" effort="1" velocity="1"'),
     r'<limit> \(line 9\): lower="x" is not a number'),
    (_links("a", "b") + _revolute(axis="0 0 0"), r'<axis> \(line 8\): axis xyz="0 0 0" is not a direction'),
    (_links("a", "b") + _revolute('lower="1" upper="-1" effort="1" velocity="1"'),
     r'<limit> \(line 9\): limit lower="1" upper="-1" is inverted'),
    (_links("a", "b") + _revolute('lower="0.5" upper="0.5" effort="1" velocity="1"'), r"is an empty range"),
    (_links("a", "b") + _revolute('lower="-1" upper="1" effort="1" velocity="0"'), r'velocity="0" must be positive'),
    (_links("a", "b") + _joint("j", "a", "b", "prismatic"), r"is prismatic but has no <limit>"),
    ('\n  <link name="a"><inertial><mass value="-1"/></inertial></link>', r'<mass> \(line 3\): value="-1" must not'),
    ('\n  <link name="a"><inertial><mass value="1"/><inertia ixx="1" ixy="5" iyy="1" izz="1"/></inertial>'
     f'<visual><geometry>{BOX}</geometry></visual></link>', r"<inertia> \(line 3\): is not positive semi-definite"),
])
def test_bad_elements_are_typed_with_element_and_line(tmp_path, body, message):
    with pytest.raises(MalformedFileError, match=message) as info:
        load_urdf_asset(_urdf(tmp_path, body))
    assert "r.urdf" in str(info.value) and info.value.line is not None


def test_lower_above_upper_no_longer_plans_a_huge_sweep(tmp_path):
    # Before: lower=1, upper=-1 loaded, and plan_sweeps clamped the speed to 1e-6 rad/s and
    # planned a ~4e6 s sweep. pybullet_data's cube_no_rotation.urdf is such a file.
    from pathlib import Path

    import pybullet_data

    with pytest.raises(MalformedFileError, match=r"cube_no_rotation.urdf: <limit> \(line 17\): .*inverted"):
        parse_urdf(Path(pybullet_data.getDataPath()) / "cube_no_rotation.urdf")


def test_unlimited_revolute_read_as_pybullet_does(pybullet_data):
    # minitaur's knees: <limit effort velocity/> without lower / upper. PyBullet reads them as
    # unlimited (its getJointInfo gives lower 0 > upper -1); n4d4d makes them continuous, noted.
    import pybullet as pb

    model = parse_urdf(pybullet_data / "quadruped" / "minitaur.urdf")
    ours = {j.name: j for j in model.joints}
    cid = pb.connect(pb.DIRECT)
    try:
        body = pb.loadURDF(str(pybullet_data / "quadruped" / "minitaur.urdf"), physicsClientId=cid)
        for i in range(pb.getNumJoints(body, physicsClientId=cid)):
            info = pb.getJointInfo(body, i, physicsClientId=cid)
            name, lower, upper = info[1].decode(), info[8], info[9]
            if info[2] == pb.JOINT_REVOLUTE and lower > upper:
                assert ours[name].type == "continuous", name
    finally:
        pb.disconnect(cid)
    assert any("read as unlimited (continuous), as PyBullet does" in n for n in model.notes)


def test_mesh_paths_stay_in_the_urdf_tree_or_a_package(tmp_path):
    cube = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
    (tmp_path / "robot" / "meshes").mkdir(parents=True)
    cube.export(tmp_path / "robot" / "meshes" / "c.obj")
    cube.export(tmp_path / "outside.obj")
    geom = '\n  <link name="a"><visual><geometry><mesh filename="{}"/></geometry></visual></link>'
    ok = [f"meshes/c.obj", "package://robot/meshes/c.obj", f"file://{tmp_path}/robot/meshes/c.obj",
          f"{tmp_path}/robot/meshes/c.obj"]
    for fn in ok:
        a = load_urdf_asset(_urdf(tmp_path / "robot", geom.format(fn)))
        assert len(a.parts[0].mesh.faces) == 12, fn
    for fn, message in (("../outside.obj", "lies outside the URDF's folder tree"),
                        ("file:///etc/passwd", "lies outside the URDF's folder tree"),
                        (f"{tmp_path}/outside.obj", "lies outside"),
                        ("package://robot/../outside.obj", "leaves its package folder"),
                        ("http://example.com/c.obj", "only package://, file:// and plain file names")):
        with pytest.raises(UnsafePathError, match=message):
            load_urdf_asset(_urdf(tmp_path / "robot", geom.format(fn)))
    with pytest.raises(MissingFileError, match=r"<mesh> \(line 3\): mesh 'package://nopkg/c.obj' not found"):
        load_urdf_asset(_urdf(tmp_path / "robot", geom.format("package://nopkg/c.obj")))
    (tmp_path / "robot" / "bad.obj").write_bytes(b"\x00garbage" * 20)
    with pytest.raises(MalformedFileError, match=r"<mesh> \(line 3\) file 'bad.obj': not a text OBJ file"):
        load_urdf_asset(_urdf(tmp_path / "robot", geom.format("bad.obj")))


def test_entities_are_not_resolved(tmp_path):
    # XXE: the parser must not read /etc/passwd into a name (nor expand entity bombs).
    p = tmp_path / "x.urdf"
    p.write_text('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                 '<robot name="r"><link name="&x;"/></robot>\n')
    with pytest.raises(MalformedFileError, match=r"malformed URDF XML \(line 3\).*external entity"):
        parse_urdf(p)


def test_pybullet_robots_still_load(pybullet_data):
    # The stricter parser refuses none of the robots the rigging harness scores.
    for robot in ("r2d2.urdf", "racecar/racecar.urdf", "quadruped/minitaur.urdf", "kuka_iiwa/model.urdf",
                  "franka_panda/panda.urdf", "xarm/xarm6_robot.urdf"):
        assert load_urdf_asset(pybullet_data / robot).parts, robot


def test_husky_substitution_args_read_as_roslaunch_does(pybullet_data, monkeypatch):
    """pybullet's husky keeps ``$(optenv HUSKY_IMU_RPY 0 -1.5708 3.1416)`` from xacro: with the
    variable unset it reads as the default, as roslaunch would; set, as the variable's value.
    The imu_link frame is checked against the closed form of its joint origin (1e-9: one
    composition of exact transforms)."""
    from scipy.spatial.transform import Rotation

    monkeypatch.delenv("HUSKY_IMU_RPY", raising=False)
    monkeypatch.delenv("HUSKY_IMU_XYZ", raising=False)
    model = parse_urdf(pybullet_data / "husky" / "husky.urdf")
    joint = next(j for j in model.joints if j.child == "imu_link")
    T = np.linalg.inv(model.link_transforms()[joint.parent]) @ model.link_transforms()["imu_link"]
    assert np.allclose(T[:3, 3], [0.19, 0.0, 0.149], atol=1e-9)
    R = Rotation.from_euler("xyz", [0, -1.5708, 3.1416]).as_matrix()
    assert np.allclose(T[:3, :3], R, atol=1e-9)
    monkeypatch.setenv("HUSKY_IMU_XYZ", "1 2 3")
    model = parse_urdf(pybullet_data / "husky" / "husky.urdf")
    T = np.linalg.inv(model.link_transforms()[joint.parent]) @ model.link_transforms()["imu_link"]
    assert np.allclose(T[:3, 3], [1, 2, 3], atol=1e-9)


@pytest.mark.parametrize("value, message", [
    ("$(arg xyz)", r"\$\(arg \.\.\.\) is not expanded; run xacro"),
    ("$(env N4D4D_SURELY_UNSET_VAR)", "environment variable N4D4D_SURELY_UNSET_VAR is not set"),
    ("$(optenv X 1 2 3", "holds a malformed substitution"),
])
def test_unexpandable_substitutions_are_named(tmp_path, value, message):
    from n4d4d.errors import MalformedFileError

    f = tmp_path / "r.urdf"
    f.write_text(f'<robot name="r"><link name="a"/><link name="b"/><joint name="j" type="fixed">'
                 f'<origin xyz="{value}"/><parent link="a"/><child link="b"/></joint></robot>')
    with pytest.raises(MalformedFileError, match=r"r\.urdf: <origin> \(line 1\).*" + message):
        parse_urdf(f)
