"""The kinematics core (n4d4d.kinematics): tree order and errors, forward kinematics against
closed forms and against MuJoCo's own forward kinematics, joint helpers and names."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from n4d4d.asset import Asset, Joint, MotionClip, Part
from n4d4d.errors import ExportError, StageInputError
from n4d4d.kinematics import (KinematicsError, effective_type, forward_kinematics, joint_names, kinematic_tree,
                              part_poses, quat_between, safe_name, unit_axis)

from test_export_common import box_mesh, hinged_asset


def test_kinematic_tree_orders_parents_first_and_places_frames_at_pivots():
    a = hinged_asset()
    # list the child first: the tree must still put the parent first
    a = a.replace(parts=a.parts[::-1])
    frames = kinematic_tree(a)
    assert [f.name for f in frames] == ["base", "lid"]
    assert frames[0].parent is None and np.allclose(frames[0].origin, 0)
    assert frames[1].parent == "base" and np.allclose(frames[1].origin, [0, 0.2, 0.1])
    assert [f.index for f in frames] == [0, 1] and [f.parent_index for f in frames] == [-1, 0]


def test_kinematic_tree_rejects_unknown_part_and_cycles():
    a = hinged_asset()
    bad = a.replace(joints=(Joint("j", "fixed", "base", "nowhere", np.zeros(3), np.array([1.0, 0, 0])),))
    with pytest.raises(ExportError, match="unknown part 'nowhere'"):
        kinematic_tree(bad)
    j = a.joints[0]
    cyc = a.replace(joints=(j, Joint("back", "fixed", "lid", "base", np.zeros(3), np.array([1.0, 0, 0]))))
    with pytest.raises(ExportError, match="cycle"):
        kinematic_tree(cyc)
    # one error type, caught by exporters (ExportError) and by stages (StageInputError) alike
    with pytest.raises(KinematicsError) as err:
        kinematic_tree(cyc)
    assert isinstance(err.value, StageInputError) and err.value.path == "chest"


def test_forward_kinematics_of_hinge_opens_lid_upward():
    """Rotating the lid 90 degrees about -X through its back edge puts its front edge above the hinge."""
    a = hinged_asset()
    frames = kinematic_tree(a)
    clip = MotionClip("open", np.array([0.0, 1.0]), {"hinge": np.array([0.0, np.pi / 2])})
    pose = part_poses(a, frames, clip)["lid"]
    front = np.array([0, -0.4, 0.0, 1.0])  # lid's front edge, in the lid frame (hinge at origin)
    assert np.allclose(pose[0] @ front, [0, -0.2, 0.1, 1], atol=1e-12)
    # after 90 degrees the edge is 0.4 m straight above the hinge line (closed form)
    assert np.allclose(pose[1] @ front, [0, 0.2, 0.5, 1], atol=1e-12)
    # one configuration: the same pose as the clip's frame
    single = forward_kinematics(frames, {"hinge": np.pi / 2})["lid"]
    np.testing.assert_allclose(single, pose[1], atol=1e-15)


def _chain() -> Asset:
    """base -(revolute about a tilted axis)- arm -(prismatic)- slider, and base -(continuous)- wheel."""
    box = box_mesh([0.1, 0.1, 0.1])
    parts = tuple(Part(n, box) for n in ("base", "arm", "slider", "wheel"))
    joints = (Joint("hinge", "revolute", "base", "arm", np.array([0.1, 0.0, 0.2]), np.array([1.0, 1.0, 0.0]),
                    lower=-1.0, upper=1.0),
              Joint("slide", "prismatic", "arm", "slider", np.array([0.3, 0.05, 0.2]), np.array([0.0, 0.6, 0.8]),
                    lower=0.0, upper=0.2),
              Joint("spin", "revolute", "base", "wheel", np.array([-0.1, 0.0, 0.1]), np.array([0.0, 0.0, 2.0])))
    return Asset(name="chain", parts=parts, joints=joints)


def _mujoco_chain(asset: Asset) -> str:
    """The same chain written by hand as MJCF: body offsets between pivots, joint axes."""
    o = {j.child: j.origin for j in asset.joints}
    j = {jt.name: jt for jt in asset.joints}

    def vec(v):
        return " ".join(repr(float(x)) for x in v)

    return f"""<mujoco><compiler angle="radian"/><worldbody>
      <body name="base"><freejoint/><geom type="sphere" size="0.01" mass="1"/>
        <body name="arm" pos="{vec(o['arm'])}"><joint name="hinge" type="hinge" axis="{vec(j['hinge'].axis)}"/>
          <geom type="sphere" size="0.01" mass="1"/>
          <body name="slider" pos="{vec(o['slider'] - o['arm'])}">
            <joint name="slide" type="slide" axis="{vec(j['slide'].axis)}"/><geom type="sphere" size="0.01" mass="1"/>
          </body></body>
        <body name="wheel" pos="{vec(o['wheel'])}"><joint name="spin" type="hinge" axis="{vec(j['spin'].axis)}"/>
          <geom type="sphere" size="0.01" mass="1"/></body>
      </body></worldbody></mujoco>"""


def test_forward_kinematics_matches_mujoco():
    """MuJoCo's own forward kinematics (mj_kinematics) of the same tree, with a root pose, at
    three configurations: body frames agree to double round-off (1e-12)."""
    import mujoco

    asset = _chain()
    frames = kinematic_tree(asset)
    assert [f.name for f in frames] == ["base", "arm", "slider", "wheel"]
    assert effective_type(asset.joints[2]) == "continuous"
    model = mujoco.MjModel.from_xml_string(_mujoco_chain(asset))
    data = mujoco.MjData(model)
    T = 3
    q = {"hinge": np.array([0.0, 0.7, -0.9]), "slide": np.array([0.0, 0.15, 0.05]),
         "spin": np.array([0.0, 2.5, -4.0])}
    rot = Rotation.from_rotvec([[0, 0, 0], [0.3, -0.2, 0.9], [-1.0, 0.4, 0.2]])
    root = np.column_stack([[[0, 0, 0], [0.5, -0.2, 0.3], [-0.1, 0.2, 1.0]], rot.as_quat(scalar_first=True)])
    poses = part_poses(asset, frames, MotionClip("c", np.arange(T, dtype=float), q, root_poses=root))
    for t in range(T):
        data.qpos[:] = [*root[t], q["hinge"][t], q["slide"][t], q["spin"][t]]
        mujoco.mj_kinematics(model, data)
        for f in frames:
            b = model.body(f.name).id
            np.testing.assert_allclose(poses[f.name][t, :3, 3], data.xpos[b], atol=1e-12)
            np.testing.assert_allclose(poses[f.name][t, :3, :3], data.xmat[b].reshape(3, 3), atol=1e-12)


def test_part_poses_rejects_tracks_of_the_wrong_length():
    asset = _chain()
    frames = kinematic_tree(asset)
    with pytest.raises(KinematicsError, match="track 'hinge' has shape"):
        part_poses(asset, frames, MotionClip("c", np.arange(3.0), {"hinge": np.zeros(2)}))
    with pytest.raises(KinematicsError, match="root_poses has shape"):
        part_poses(asset, frames, MotionClip("c", np.arange(3.0), {}, root_poses=np.zeros((3, 6))))


def test_a_long_chain_has_no_recursion_limit():
    """A 1500-link chain (a rope, a cable) is deeper than Python's default recursion limit."""
    box = box_mesh([0.01, 0.01, 0.01])
    n = 1500
    parts = tuple(Part(f"p{k}", box) for k in range(n))
    joints = tuple(Joint(f"j{k}", "prismatic", f"p{k}", f"p{k + 1}", np.array([0.0, 0.0, 0.01 * (k + 1)]),
                         np.array([0.0, 0.0, 1.0]), lower=0, upper=1) for k in range(n - 1))
    frames = kinematic_tree(Asset(name="rope", parts=parts, joints=joints))
    assert [f.index for f in frames] == list(range(n))
    # every prismatic joint out by 1 mm: the last frame rises (n - 1) mm above its rest origin
    poses = forward_kinematics(frames, {j.name: 0.001 for j in joints})
    assert poses[f"p{n - 1}"][2, 3] == pytest.approx(0.01 * (n - 1) + 0.001 * (n - 1), abs=1e-9)


def test_quat_between_turns_a_onto_b():
    rng = np.random.default_rng(3)
    for a, b in [rng.normal(size=(2, 3)), (np.array([0.0, 0, 1]), np.array([0.0, 0, -1])),
                 (np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]))]:
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        q = quat_between(a, b)
        np.testing.assert_allclose(Rotation.from_quat(q, scalar_first=True).apply(a), b, atol=1e-12)
        # smallest rotation: its angle is the angle between the vectors
        assert Rotation.from_quat(q, scalar_first=True).magnitude() == pytest.approx(
            np.arccos(np.clip(a @ b, -1, 1)), abs=1e-9)


def test_names_and_axes():
    assert safe_name("3 door/left") == "_3_door_left"
    taken: set[str] = set()
    assert [safe_name(n, taken) for n in ("a-b", "a b", "a_b")] == ["a_b", "a_b_1", "a_b_2"]
    frames = kinematic_tree(_chain())
    assert joint_names(frames) == {"hinge": "hinge", "slide": "slide", "spin": "spin"}
    np.testing.assert_allclose(unit_axis(_chain().joints[2]), [0, 0, 1])
    with pytest.raises(KinematicsError, match="zero or non-finite axis"):
        unit_axis(Joint("z", "revolute", "a", "b", np.zeros(3), np.zeros(3)), "thing")


def test_skeleton_order_puts_parents_first():
    from n4d4d.kinematics import skeleton_order

    parents = np.array([2, -1, 1, 2, 0])  # 1 is the root; 2 under it; 0 and 3 under 2; 4 under 0
    order = skeleton_order(parents).tolist()
    assert order == [1, 2, 0, 3, 4]
    assert all(order.index(j) > order.index(p) for j, p in enumerate(parents) if p >= 0)
    with pytest.raises(KinematicsError, match="cycle"):
        skeleton_order(np.array([1, 0]))
    with pytest.raises(KinematicsError, match="out of range"):
        skeleton_order(np.array([-1, 5]))
