"""Settling and its measures on shapes whose answer is known in closed form.

The bodies are hand-written URDF boxes (no n4d4d build): the link frame at the box's bottom
face and the inertial origin at its centre, as n4d4d's exported assets have them, so a body
resting on the ground has its frame at z = 0 exactly when the inertial-frame conversions are
right; a body still in the air after one step floats ``drop_height - g dt^2`` above the ground
(the first step's fall, semi-implicit Euler) and the support gap must say so.
"""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.scenarios.settle import settle_environment
from n4d4d.scenarios.spec import Scene


def box_urdf(path, size, mass=1.0):
    sx, sy, sz = size
    i = [mass / 12 * (b * b + c * c) for b, c in ((sy, sz), (sx, sz), (sx, sy))]
    path.write_text(f"""<?xml version="1.0"?>
<robot name="b"><link name="base">
 <inertial><origin xyz="0 0 {sz / 2}"/><mass value="{mass}"/>
  <inertia ixx="{i[0]}" iyy="{i[1]}" izz="{i[2]}" ixy="0" ixz="0" iyz="0"/></inertial>
 <collision><origin xyz="0 0 {sz / 2}"/><geometry><box size="{sx} {sy} {sz}"/></geometry></collision>
</link></robot>
""")
    return path


def scene(**placement):
    return Scene.model_validate({"placement": {"mode": "random", "region": [[-0.3, -0.3], [0.3, 0.3]], **placement},
                                 "settle": {"max_seconds": 3.0}})


def test_objects_settle_on_the_ground_with_frames_at_z0(tmp_path):
    a, b = box_urdf(tmp_path / "a.urdf", (0.1, 0.08, 0.06)), box_urdf(tmp_path / "b.urdf", (0.05, 0.05, 0.05), 0.3)
    env = settle_environment(0, [], [("a", "a", a, None), ("b", "b", b, None)], scene(), np.random.default_rng(1))
    assert env.at_rest and env.seconds < 3.0
    for body in env.bodies:
        assert body.placed and body.resting_on == "ground"
        # the frame sits on the ground: contact within PyBullet's ~1 mm collision margin
        assert abs(body.position[2]) < 0.0015 and body.gap_m < 0.0015 and body.penetration_m < 0.0015
        w, x, y, z = body.orientation  # still upright: only a yaw
        assert abs(x) < 1e-3 and abs(y) < 1e-3
        assert body.speed_m_s < scene().settle.rest_speed


def test_floating_is_measured_and_supports_carry_objects(tmp_path):
    a = box_urdf(tmp_path / "a.urdf", (0.05, 0.05, 0.05))
    slab = box_urdf(tmp_path / "slab.urdf", (0.5, 0.5, 0.1), 5.0)
    sc = Scene.model_validate({"placement": {"mode": "random", "drop_height": 0.05},
                               "settle": {"max_seconds": 1 / 240}})  # one step: still in the air
    env = settle_environment(0, [("slab", "slab", slab, (0.0, 0.0), 0.0)], [("a", "a", a, None)], sc,
                             np.random.default_rng(2))
    slab_b, obj = env.bodies
    assert obj.resting_on == "slab" and slab_b.resting_on == "ground"
    dt, g = 1 / 240, 9.80665
    # spawned drop_height above the slab top; after one semi-implicit Euler step it fell g dt^2
    assert obj.gap_m == pytest.approx(0.05 - g * dt * dt, abs=2e-4)
    assert obj.position[2] == pytest.approx(0.1 + obj.gap_m, abs=2e-4)
    settled = settle_environment(0, [("slab", "slab", slab, (0.0, 0.0), 0.0)], [("a", "a", a, None)],
                                 scene(drop_height=0.05), np.random.default_rng(2))
    obj = settled.bodies[1]
    assert settled.at_rest and obj.resting_on == "slab" and obj.gap_m < 0.0015
    assert obj.position[2] == pytest.approx(0.1, abs=0.0015)  # on the slab's top face
    # the default region is the slab's top (shrunk by 2 cm): the object landed inside it
    assert max(abs(obj.position[0]), abs(obj.position[1])) < 0.25


def test_random_placement_rejects_overlaps_and_leaves_out_what_cannot_fit(tmp_path):
    big = box_urdf(tmp_path / "big.urdf", (0.25, 0.25, 0.05))
    objs = [(f"o{k}", "big", big, None) for k in range(6)]
    sc = Scene.model_validate({"placement": {"mode": "random", "region": [[-0.3, -0.3], [0.3, 0.3]], "max_tries": 50,
                                             "random_yaw": False}, "settle": {"max_seconds": 0.5}})
    env = settle_environment(0, [], objs, sc, np.random.default_rng(0))
    placed = [b for b in env.bodies if b.placed]
    # at most four 0.25 m squares fit in a 0.6 m square without overlap (closed form: floor(0.6/0.25)^2)
    assert 1 <= len(placed) <= 4 and len(env.bodies) == 6
    assert all("left out" in b.note for b in env.bodies if not b.placed)
    for i, p in enumerate(placed):
        for q in placed[i + 1:]:
            dx, dy = abs(p.position[0] - q.position[0]), abs(p.position[1] - q.position[1])
            assert dx >= 0.25 - 1e-3 or dy >= 0.25 - 1e-3  # axis-aligned squares do not overlap
    assert all(b.penetration_m < 0.0015 for b in placed)


def test_joints_are_set_to_their_drawn_fraction(tmp_path):
    urdf = tmp_path / "hinge.urdf"
    urdf.write_text("""<?xml version="1.0"?>
<robot name="h">
 <link name="base"><inertial><origin xyz="0 0 0.025"/><mass value="2"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial>
  <collision><origin xyz="0 0 0.025"/><geometry><box size="0.2 0.2 0.05"/></geometry></collision></link>
 <link name="flap"><inertial><origin xyz="0 0 0.05"/><mass value="0.05"/><inertia ixx="1e-4" iyy="1e-4" izz="1e-4" ixy="0" ixz="0" iyz="0"/></inertial>
  <collision><origin xyz="0 0 0.05"/><geometry><box size="0.02 0.02 0.1"/></geometry></collision></link>
 <joint name="hinge" type="revolute"><parent link="base"/><child link="flap"/><origin xyz="0 0 0.06"/>
  <axis xyz="1 0 0"/><limit lower="0" upper="1.2" effort="20" velocity="2"/></joint>
</robot>
""")
    env = settle_environment(0, [], [("h", "h", urdf, [0.5])], scene(), np.random.default_rng(3))
    body = env.bodies[0]
    # fraction 0.5 of [0, 1.2] rad, held by the position motor against the flap's weight
    assert body.targets["hinge"] == pytest.approx(0.6)
    assert body.joints["hinge"] == pytest.approx(0.6, abs=0.01)
    from scipy.spatial.transform import Rotation

    def rot(q):
        return Rotation.from_quat([q[1], q[2], q[3], q[0]])

    rel = rot(body.links["base"][1]).inv() * rot(body.links["flap"][1])
    # the flap's link frame is turned 0.6 rad about the hinge's x axis relative to the base
    np.testing.assert_allclose(rel.as_rotvec(), [0.6, 0.0, 0.0], atol=0.01)
