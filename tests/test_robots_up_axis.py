"""URDF up axis (``load_urdf_asset(up="auto")``): a robot authored Y up (pybullet_data's laikago)
is read Y up when only that reading stands on its limbs; everything else stays Z up, as URDF says.

Truth: a closed-form quadruped written Y up: a 0.4 m trunk along the file's Z with four 0.3 m legs
pointing down the file's -Y. Read Z up, it rests on the end face of its trunk (0.16 x 0.10 m); its
centre of volume (the rule judges geometry at uniform density: trunk 6.4e-3 m^3 at y = 0, legs
4.8e-4 m^3 each at y = -0.2) lies at y = -0.046, 4 mm inside the face's 0.05 m half width, 0.2 m
up: it tips over at 1.1 degrees, under the rule's 5 (``n4d4d.io.stage.MIN_TIP_DEG``), so it does
not stand. Read Y up, it stands on four feet around its centre, its trunk 0.3 m clear of the ground.
"""
from __future__ import annotations

import numpy as np

LEG = """
  <link name="{n}">
    <visual><geometry><box size="0.04 0.3 0.04"/></geometry><origin xyz="0 -0.15 0"/></visual>
    <inertial><mass value="1.0"/><origin xyz="0 -0.15 0"/>
      <inertia ixx="0.0076" iyy="0.0003" izz="0.0076" ixy="0" ixz="0" iyz="0"/></inertial>
  </link>
  <joint name="{n}_hip" type="revolute"><parent link="trunk"/><child link="{n}"/>
    <origin xyz="{x} -0.05 {z}"/><axis xyz="1 0 0"/><limit lower="-0.5" upper="0.5" effort="30" velocity="2"/>
  </joint>"""

ROBOT = """<?xml version="1.0"?>
<robot name="dog">
  <link name="trunk">
    <visual><geometry><box size="0.16 0.1 0.4"/></geometry></visual>
    <inertial><mass value="2.0"/><inertia ixx="0.028" iyy="0.031" izz="0.006" ixy="0" ixz="0" iyz="0"/></inertial>
  </link>{legs}
</robot>
"""


def _dog(tmp_path):
    legs = "".join(LEG.format(n=f"leg{i}", x=x, z=z) for i, (x, z) in enumerate(
        [(0.06, 0.15), (-0.06, 0.15), (0.06, -0.15), (-0.06, -0.15)]))
    path = tmp_path / "dog.urdf"
    path.write_text(ROBOT.format(legs=legs))
    return path


def test_a_quadruped_authored_y_up_is_read_y_up(tmp_path):
    from n4d4d.io.urdf import choose_urdf_up, load_urdf_asset
    from n4d4d.io.urdf_model import parse_urdf

    path = _dog(tmp_path)
    _, axis, why = choose_urdf_up(parse_urdf(path))
    assert axis == "y", why
    assert choose_urdf_up(parse_urdf(path), up="z")[1] == "z"  # forced: as written
    dog = load_urdf_asset(path, merge_fixed=False, up="auto")
    trunk = dog.part("trunk").mesh.bounds
    feet = np.vstack([dog.part(f"leg{i}").mesh.bounds for i in range(4)])
    # read Y up: the trunk's 0.4 m lies level, on legs 0.3 m long below it (1e-9: float round-off)
    np.testing.assert_allclose(np.ptp(trunk, axis=0), [0.16, 0.4, 0.1], atol=1e-9)
    assert feet[:, 2].min() < trunk[0, 2] - 0.25
    assert any("read Y up" in n for n in dog.notes)
    # the file as URDF says (the default): Z up, the trunk standing on its end
    np.testing.assert_allclose(np.ptp(load_urdf_asset(path, merge_fixed=False).part("trunk").mesh.bounds, axis=0),
                               [0.16, 0.1, 0.4], atol=1e-9)


def test_pybullet_data_robots_keep_z_up_except_laikago():
    import pybullet_data

    from n4d4d.io.urdf import choose_urdf_up
    from n4d4d.io.urdf_model import parse_urdf

    root = pybullet_data.getDataPath()
    assert choose_urdf_up(parse_urdf(f"{root}/laikago/laikago.urdf"))[1] == "y"  # its examples load it turned
    # a1 stands Z up; TwoJointRobot (a planar arm, Z up) would stand Y up only lying on its base
    for name in ("a1/a1.urdf", "TwoJointRobot_w_fixedJoints.urdf", "cartpole.urdf"):
        assert choose_urdf_up(parse_urdf(f"{root}/{name}"))[1] == "z", name
