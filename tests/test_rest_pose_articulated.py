"""An articulated URDF authored in a pose it topples from is turned onto its stable resting face
as one rigid body (parts, joint origins and axes, the file's colliders together), as
PartNet-Mobility objects without inertials need (remote 100405 stood on its end); a URDF that
declares inertials (a robot) keeps its authored pose."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from n4d4d.pipeline import STAGES, as_source, resolve_options

PLATE = """<?xml version="1.0"?>
<robot name="plate">
  <link name="base">
    <visual><origin xyz="0 0 0.1" rpy="{rpy} 0 0"/><geometry><box size="0.2 0.2 {thick}"/></geometry></visual>
    <collision><origin xyz="0 0 0.1" rpy="{rpy} 0 0"/><geometry><box size="0.2 0.2 {thick}"/></geometry></collision>
    {inertial}
  </link>
  <link name="flap">
    <visual><origin xyz="0.04 0 0" rpy="{rpy} 0 0"/><geometry><box size="0.08 0.2 0.004"/></geometry></visual>
    {inertial}
  </link>
  <joint name="hinge" type="revolute">
    <parent link="base"/><child link="flap"/>
    <origin xyz="0.1 0 0.1"/><axis xyz="0 0.3623577545 0.9320390860"/>
    <limit lower="0" upper="1.0" effort="10" velocity="1"/>
  </joint>
</robot>
"""
INERTIAL = '<inertial><mass value="0.5"/><inertia ixx="1e-3" iyy="1e-3" izz="1e-3" ixy="0" ixz="0" iyz="0"/></inertial>'


def _rest(tmp_path: Path, inertial: str = "", rpy: float = np.pi / 2 + 0.05, thick: float = 0.004):
    """The plate (and its flap) stood on its 0.2 m edge, leaning ``rpy - pi / 2`` (default 0.05
    rad: its COM 5 mm past the 2 mm half-wall, so it topples), loaded and through the rest-pose
    stage."""
    path = tmp_path / "plate.urdf"
    path.write_text(PLATE.format(inertial=inertial, rpy=repr(float(rpy)), thick=thick))
    opts = resolve_options()
    loaded = STAGES[0].run(as_source(str(path)), opts)
    return loaded, STAGES[1].run(loaded, opts)


def test_a_toppling_articulated_urdf_is_turned_as_one_body(tmp_path):
    loaded, rested = _rest(tmp_path)
    rec = rested.stages[-1]
    assert rec.name == "rest_pose" and rec.figures["angle_rad"] > 0.5  # the plate stood on its edge
    R = np.asarray(rec.figures["rotation"])
    np.testing.assert_allclose(np.abs(R).sum(axis=0), 1.0, atol=1e-12)  # a quarter turn: axes kept
    t = np.asarray(rec.figures["translation_m"])
    # One rigid transform for everything: each part's vertices, each joint's origin and axis.
    for before, after in zip(loaded.parts, rested.parts):
        np.testing.assert_allclose(after.mesh.vertices, before.mesh.vertices @ R.T + t, atol=1e-12)
    (j0,), (j1,) = loaded.joints, rested.joints
    np.testing.assert_allclose(j1.origin, R @ j0.origin + t, atol=1e-12)
    np.testing.assert_allclose(j1.axis, R @ j0.axis, atol=1e-12)
    # The hinge stays where it was on the flap: distances from the pivot to the flap's vertices.
    flap0, flap1 = loaded.part("flap").mesh.vertices, rested.part("flap").mesh.vertices
    np.testing.assert_allclose(np.linalg.norm(flap1 - j1.origin, axis=1), np.linalg.norm(flap0 - j0.origin, axis=1),
                               atol=1e-12)
    # The file's box collider turned with its part (an analytic shape: its frame, not only triangles).
    (hull0,), (hull1,) = loaded.collision["base"], rested.collision["base"]
    assert hull0.primitive is not None and hull1.primitive is not None
    np.testing.assert_allclose(hull1.primitive.transform[:3, :3], R @ hull0.primitive.transform[:3, :3], atol=1e-12)
    # Now it lies on the plate's broad face: flat on z = 0, lower than it stood.
    v = rested.source_mesh.vertices
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    assert np.ptp(v[:, 2]) < 0.5 * np.ptp(loaded.source_mesh.vertices[:, 2])


def test_a_urdf_with_its_own_inertials_keeps_its_pose(tmp_path):
    loaded, rested = _rest(tmp_path, INERTIAL)
    assert rested.stages[-1].figures == {"rotated": False, "kept_because": "input declares its own inertials"}
    np.testing.assert_array_equal(rested.source_mesh.vertices, loaded.source_mesh.vertices)


def test_quarter_turn_snaps_near_axis_rotations_and_refuses_slanted_ones():
    from scipy.spatial.transform import Rotation

    from n4d4d.physics_validation.rest_pose import quarter_turn

    P = Rotation.from_euler("x", 90, degrees=True).as_matrix()
    near = Rotation.from_euler("xyz", [92, 1, -1], degrees=True).as_matrix()
    np.testing.assert_allclose(quarter_turn(near), np.round(P), atol=0)
    assert quarter_turn(Rotation.from_euler("y", 31, degrees=True).as_matrix()) is None
    np.testing.assert_allclose(quarter_turn(np.eye(3)), np.eye(3))


def test_a_plate_leaning_off_its_axes_keeps_its_authored_pose(tmp_path):
    """A 4 cm plate leaning 1.2 rad (69 deg) about x topples onto its broad face, 21 deg off the
    nearest quarter turn of the authored frame (90 deg about x), past the 5 deg snap: the pose is
    kept, noted."""
    loaded, rested = _rest(tmp_path, rpy=1.2, thick=0.04)
    rec = rested.stages[-1].figures
    assert "quarter turns" in rec["kept_because"]
    np.testing.assert_array_equal(rested.source_mesh.vertices, loaded.source_mesh.vertices)
    assert any("quarter turns only" in n for n in rested.notes)
