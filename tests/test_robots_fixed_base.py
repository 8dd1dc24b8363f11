"""Fixed bases: a robot bolted to the world (a URDF whose root link declares mass 0, PyBullet's
convention, or a root link ``world`` holding it by fixed joints) keeps its base fixed in both
engines' rest checks, is not dropped, and is written welded to the world in USD, URDF and MJCF.

Truth: the arm below is a closed-form statics problem. Its 2 kg boom reaches 0.15-0.325 m out from
a 0.12 m wide base, so the free robot's centre of mass lies 0.13 m from the base's centre, over
twice the 0.06 m half width: free, it must topple (the rest check's COM drop); bolted down, the
drives only have to hold the boom's 2.9 N m load, and nothing may move.
"""
from __future__ import annotations

import textwrap

import pytest

ARM = textwrap.dedent("""\
    <?xml version="1.0"?>
    <robot name="arm">
      <link name="{root}">
        <visual><geometry><box size="0.12 0.12 0.04"/></geometry><origin xyz="0 0 0.02"/></visual>
        <collision><geometry><box size="0.12 0.12 0.04"/></geometry><origin xyz="0 0 0.02"/></collision>
        <inertial><mass value="{base_mass}"/><origin xyz="0 0 0.02"/>
          <inertia ixx="0.001" iyy="0.001" izz="0.001" ixy="0" ixz="0" iyz="0"/></inertial>
      </link>
      <link name="column">
        <visual><geometry><box size="0.04 0.04 0.2"/></geometry><origin xyz="0 0 0.1"/></visual>
        <collision><geometry><box size="0.04 0.04 0.2"/></geometry><origin xyz="0 0 0.1"/></collision>
        <inertial><mass value="1.0"/><origin xyz="0 0 0.1"/>
          <inertia ixx="0.0035" iyy="0.0035" izz="0.00027" ixy="0" ixz="0" iyz="0"/></inertial>
      </link>
      <joint name="yaw" type="revolute">
        <parent link="{root}"/><child link="column"/><origin xyz="0 0 0.045"/><axis xyz="0 0 1"/>
        <limit lower="-1.5" upper="1.5" effort="20" velocity="2"/>
      </joint>
      <link name="boom">
        <visual><geometry><box size="0.3 0.04 0.04"/></geometry><origin xyz="0.15 0 0"/></visual>
        <collision><geometry><box size="0.3 0.04 0.04"/></geometry><origin xyz="0.15 0 0"/></collision>
        <inertial><mass value="2.0"/><origin xyz="0.15 0 0"/>
          <inertia ixx="0.00053" iyy="0.0153" izz="0.0153" ixy="0" ixz="0" iyz="0"/></inertial>
      </link>
      <joint name="shoulder" type="revolute">
        <parent link="column"/><child link="boom"/><origin xyz="0.025 0 0.18"/><axis xyz="0 1 0"/>
        <limit lower="-0.5" upper="0.5" effort="20" velocity="2"/>
      </joint>
    </robot>
    """)


def _write(tmp_path, root="base", base_mass="0"):
    path = tmp_path / f"arm_{root}_{base_mass}.urdf"
    path.write_text(ARM.format(root=root, base_mass=base_mass))
    return path


def test_the_fixed_base_rule(tmp_path):
    import pybullet_data

    from n4d4d.io.urdf import load_urdf_asset

    assert load_urdf_asset(_write(tmp_path), merge_fixed=False).fixed_base  # mass 0: PyBullet's static base
    free = load_urdf_asset(_write(tmp_path, base_mass="0.3"), merge_fixed=False)
    assert not free.fixed_base
    assert load_urdf_asset(_write(tmp_path, base_mass="0.3"), merge_fixed=False, base="fixed").fixed_base
    assert not load_urdf_asset(_write(tmp_path), merge_fixed=False, base="free").fixed_base
    # a `world` root link holding the robot by a fixed joint (ROS's convention)
    text = ARM.format(root="base", base_mass="0.3").replace(
        "<link name=\"base\">", "<link name=\"world\"/>\n  <joint name=\"mount\" type=\"fixed\">"
        "<parent link=\"world\"/><child link=\"base\"/></joint>\n  <link name=\"base\">")
    (tmp_path / "world.urdf").write_text(text)
    mounted = load_urdf_asset(tmp_path / "world.urdf", merge_fixed=False)
    assert mounted.fixed_base and any("'world'" in n for n in mounted.notes)
    kuka = load_urdf_asset(f"{pybullet_data.getDataPath()}/kuka_iiwa/model.urdf", merge_fixed=False)
    assert kuka.fixed_base  # lbr_iiwa_link_0 declares <mass value="0.0"/>


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.physics_validation import collision_stage, mass_stage

    tmp = tmp_path_factory.mktemp("arm")
    return {base: mass_stage(collision_stage(load_urdf_asset(_write(tmp), merge_fixed=False, base=base)))
            for base in ("auto", "free")}


def test_a_fixed_base_arm_rests_in_both_engines_and_the_free_one_topples(arms, tmp_path):
    from dataclasses import replace

    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation.newton_check import check_newton
    from n4d4d.physics_validation.pybullet_check import check_pybullet
    from n4d4d.physics_validation.thresholds import StabilityThresholds

    th = replace(StabilityThresholds(), settle_time_s=1.5)  # a quick settle: seconds, not minutes
    for base, asset in arms.items():
        runs = {"pybullet": check_pybullet(asset, thresholds=th),
                "newton": check_newton(asset, thresholds=th, usd_path=write_usd(asset, tmp_path / f"{base}.usda"))}
        for engine, res in runs.items():
            rest = [c for c in res["checks"] if c.name == "rest"]
            drops = [c for c in res["checks"] if c.name == "drop"]
            assert len(rest) == 1
            m = rest[0].measured
            if base == "auto":
                assert not drops  # a bolted arm is not dropped
                assert rest[0].passed, (engine, rest[0].reasons)
                # the base holds: the links move only by the drives' sag under the boom's load (a 10 Hz
                # servo: 2.9 N m over kp ~ 60 N m/rad sags ~0.05 rad at the boom, a few mm at its COM)
                assert m["rest_com_drop_m"] < 0.005 and m["rest_shift_m"] < 0.01, (engine, m)
                assert m["max_penetration_m"] == 0.0  # lifted clear of the ground, nothing reaches it
            else:  # free: the COM 0.13 m off a 0.06 m half-width base; toppled, or thrown over exploding
                assert not rest[0].passed, engine
                assert len(drops) == 3


def test_exporters_weld_a_fixed_base_to_the_world(arms, tmp_path):
    import xml.etree.ElementTree as ET

    import mujoco
    from pxr import Usd, UsdPhysics

    from n4d4d.exporters.mjcf import write_mjcf
    from n4d4d.exporters.urdf import write_urdf
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation._newton_sim import newton_modules

    for base, asset in arms.items():
        usd = write_usd(asset, tmp_path / f"{base}.usda")
        stage = Usd.Stage.Open(str(usd))
        world = [p for p in stage.Traverse() if p.IsA(UsdPhysics.FixedJoint)
                 and not UsdPhysics.Joint(p).GetBody0Rel().GetTargets()]
        roots = [p for p in stage.Traverse() if p.HasAPI(UsdPhysics.ArticulationRootAPI)]
        _, newton = newton_modules()
        b = newton.ModelBuilder()
        b.add_usd(str(usd))
        to_world = [int(b.joint_type[j]) for j in range(b.joint_count) if b.joint_parent[j] < 0]
        urdf = ET.parse(write_urdf(asset, tmp_path / f"{base}.urdf")).getroot()
        model = mujoco.MjModel.from_xml_path(str(write_mjcf(asset, tmp_path / f"{base}.xml")))
        if base == "auto":
            assert len(world) == 1 and [str(t) for t in UsdPhysics.Joint(world[0]).GetBody1Rel().GetTargets()] == \
                [f"/{asset.name}/base"]
            assert [str(r.GetPath()) for r in roots] == [f"/{asset.name}"]  # an ancestor of the world joint (PhysX)
            assert to_world == [int(newton.JointType.FIXED)]  # Newton reads the weld
            assert [j.get("name") for j in urdf.findall("joint") if j.find("parent").get("link") == "world"] == \
                ["world_joint"]
            assert model.nq == 2  # two hinges, no free joint
        else:
            assert not world and [str(r.GetPath()) for r in roots] == [f"/{asset.name}/base"]
            assert to_world == [int(newton.JointType.FREE)]
            assert urdf.find("link[@name='world']") is None
            assert model.nq == 2 + 7  # the free joint's position and quaternion


def test_newton_sweeps_hold_the_welded_root_still(arms, tmp_path):
    """The sweeps weld the root to the world (``add_usd(floating=False)``, or the file's own weld):
    pinned (``_newton_sim.pin_world_welded``: zero inverse mass), the 0.29 kg base no longer shares
    the corrections of the 3 kg arm's joints, and each joint follows its 2 rad/s sweep within the
    certificate's bound (3 x the sweep speed + 1 rad/s); unpinned, the yaw and shoulder sweeps
    read 11.2 and 17.8 rad/s (measured)."""
    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation.newton_articulation import check_articulation_newton
    from n4d4d.physics_validation.rigid_model import rigid_model

    asset = arms["auto"]
    r = check_articulation_newton(asset, rigid_model(asset), usd_path=write_usd(asset, tmp_path / "arm.usda"))
    for joint, m in r.measured.items():
        assert m["peak_joint_speed"] <= m["speed_bound"], (joint, m["peak_joint_speed"], m["speed_bound"])
    assert r.passed, r.reasons


def test_newton_sweeps_of_a_chain_of_welded_links(tmp_path):
    """pybullet_data's TwoJointRobot, bolted down (``base="fixed"``): two revolute joints with
    0.2-0.5 kg links welded by four fixed joints between them. Newton sweeps them with the welded
    links as one body (``collapse_fixed_joints``); solved as separate XPBD constraints, both
    sweeps read infinite speed (measured). Truth: the commanded sweep, each joint within the
    certificate's speed bound (3 x its sweep speed + 1 rad/s) and through its range to the
    limit tolerance."""
    import pybullet_data

    from n4d4d.exporters.usd import write_usd
    from n4d4d.io.urdf import load_urdf_asset
    from n4d4d.physics_validation import collision_stage, mass_stage
    from n4d4d.physics_validation.newton_articulation import check_articulation_newton
    from n4d4d.physics_validation.rigid_model import rigid_model

    robot = load_urdf_asset(f"{pybullet_data.getDataPath()}/TwoJointRobot_w_fixedJoints.urdf", merge_fixed=False,
                            base="fixed")
    assert sum(j.type == "fixed" for j in robot.joints) == 4
    robot = mass_stage(collision_stage(robot))
    r = check_articulation_newton(robot, rigid_model(robot), usd_path=write_usd(robot, tmp_path / "tj.usda"))
    assert r.passed, r.reasons
    for joint, m in r.measured.items():
        assert m["peak_joint_speed"] <= m["speed_bound"], (joint, m["peak_joint_speed"])


def test_validate_reads_the_weld_to_the_world(arms, tmp_path):
    """``n4d4d validate``'s readers see what the exporters wrote: the USD's body0-less fixed
    joint, the URDF's ``world`` link and the MJCF root without a free joint all read as a fixed
    base (and the free arm as free in all three), so the validation's physics holds the base as
    the build's certificate did."""
    from n4d4d.exporters.mjcf import write_mjcf
    from n4d4d.exporters.urdf import write_urdf
    from n4d4d.exporters.usd import write_usd
    from n4d4d.validate.read_mjcf import read_mjcf
    from n4d4d.validate.read_urdf import read_urdf
    from n4d4d.validate.read_usd import read_usd

    for base, asset in arms.items():
        read = {"usd": read_usd(write_usd(asset, tmp_path / f"{base}.usda")),
                "urdf": read_urdf(write_urdf(asset, tmp_path / f"{base}.urdf")),
                "mjcf": read_mjcf(write_mjcf(asset, tmp_path / f"{base}.xml"))}
        for fmt, r in read.items():
            assert r.asset.fixed_base is (base == "auto"), (base, fmt)
            assert sorted(p.name for p in r.asset.parts) == ["base", "boom", "column"], (base, fmt)
            assert sorted(j.type for j in r.asset.joints) == ["revolute", "revolute"], (base, fmt)


def test_scenes_load_a_bolted_asset_with_a_fixed_base(arms, tmp_path):
    """Scene placement loads the exported URDF of a bolted arm with PyBullet's fixed base: after
    1 s under gravity its base has not moved (a free 1 kg 'world' link would fall and topple);
    the free arm's base moves (it topples: its COM is 0.13 m off a 0.06 m half-width base)."""
    import numpy as np
    import pybullet as pb

    from n4d4d.exporters.urdf import write_urdf
    from n4d4d.scenarios.placement import frame_pose, load_body, set_frame_pose

    for base, asset in arms.items():
        cid = pb.connect(pb.DIRECT)
        try:
            pb.setGravity(0, 0, -9.81, physicsClientId=cid)
            body = load_body(pb, cid, "arm", asset.name, "object", write_urdf(asset, tmp_path / f"{base}.urdf"))
            set_frame_pose(pb, cid, body.uid, (0, 0, 0.5), (1, 0, 0, 0))
            for _ in range(240):
                pb.stepSimulation(physicsClientId=cid)
            pos, _ = frame_pose(pb, cid, body.uid)
            moved = float(np.linalg.norm(pos - np.array([0, 0, 0.5])))
            if base == "auto":
                assert moved < 1e-6, moved
            else:
                assert moved > 0.1, moved  # fell half a metre
        finally:
            pb.disconnect(cid)
