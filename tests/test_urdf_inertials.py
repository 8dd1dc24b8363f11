"""A URDF's own <inertial>s become the built asset's mass properties (issue #12).

Truth: the file's values moved by the URDF frame transform (closed form), and MuJoCo, which
reads the same URDF on its own, as a second library (world COM ``xipos``, principal moments
``body_inertia`` in the frame ``ximat``). A link whose inertia breaks the triangle inequality
keeps the file's mass with the geometry's inertia; one of mass 0 is computed; both noted.
"""

from __future__ import annotations

import numpy as np
import pytest

# base: a box; arm: a box hanging from a revolute joint, its inertial frame turned by rpy;
# bad: a box whose inertial breaks the triangle inequality (izz > ixx + iyy); massless: a box
# declaring mass 0.
URDF = """<robot name="two">
  <link name="base">
    <inertial><origin xyz="0.01 -0.02 0.03"/><mass value="2.5"/>
      <inertia ixx="0.02" ixy="0.001" ixz="-0.002" iyy="0.03" iyz="0.0015" izz="0.04"/></inertial>
    <visual><geometry><box size="0.3 0.2 0.1"/></geometry></visual>
    <collision><geometry><box size="0.3 0.2 0.1"/></geometry></collision>
  </link>
  <link name="arm">
    <inertial><origin xyz="0.02 0.01 -0.15" rpy="0.3 -0.5 0.9"/><mass value="0.7"/>
      <inertia ixx="0.004" ixy="0" ixz="0" iyy="0.005" iyz="0" izz="0.002"/></inertial>
    <visual><origin xyz="0 0 -0.15"/><geometry><box size="0.05 0.05 0.3"/></geometry></visual>
    <collision><origin xyz="0 0 -0.15"/><geometry><box size="0.05 0.05 0.3"/></geometry></collision>
  </link>
  <joint name="shoulder" type="revolute"><parent link="base"/><child link="arm"/>
    <origin xyz="0.1 0 -0.05" rpy="0 0 0.4"/><axis xyz="0 1 0"/>
    <limit lower="-1" upper="1" effort="10" velocity="2"/></joint>
  {bad}
</robot>
"""
BAD = """<link name="bad">
    <inertial><mass value="0.3"/><inertia ixx="0.001" ixy="0" ixz="0" iyy="0.001" iyz="0" izz="0.005"/></inertial>
    <visual><geometry><box size="0.1 0.1 0.1"/></geometry></visual>
    <collision><geometry><box size="0.1 0.1 0.1"/></geometry></collision>
  </link>
  <joint name="tail" type="revolute"><parent link="base"/><child link="bad"/>
    <origin xyz="-0.2 0 0"/><axis xyz="0 0 1"/><limit lower="-1" upper="1" effort="10" velocity="2"/></joint>
  <link name="massless">
    <inertial><mass value="0"/><inertia ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/></inertial>
    <visual><geometry><box size="0.1 0.1 0.1"/></geometry></visual>
  </link>
  <joint name="nose" type="revolute"><parent link="base"/><child link="massless"/>
    <origin xyz="0.3 0 0"/><axis xyz="0 0 1"/><limit lower="-1" upper="1" effort="10" velocity="2"/></joint>"""


def _build(tmp_path, bad: bool, **opts):
    from n4d4d.io.stage import load_stage
    from n4d4d.options import BuildOptions
    from n4d4d.physics_validation import mass_stage
    from n4d4d.sources import UrdfFile

    path = tmp_path / "two.urdf"
    path.write_text(URDF.format(bad=BAD if bad else ""))
    loaded = load_stage(UrdfFile(path), BuildOptions(**opts))
    mass = opts.get("mass")  # as the build calls it (n4d4d.pipeline): --mass replaces the density
    return path, loaded, mass_stage(loaded, density=None if mass else loaded.material.density, mass=mass)


def test_file_inertials_match_mujoco(tmp_path):
    mujoco = pytest.importorskip("mujoco")
    path, loaded, asset = _build(tmp_path, bad=False)
    # the load stage only translates the URDF world frame (sets the robot on the ground): the
    # offset is the source mesh's lowest point, here the arm box's bottom (closed form)
    offset = np.asarray(loaded.source_mesh.bounds[0]) - loaded.inertials.source_low
    assert np.allclose(offset[:2], 0.0) and offset[2] == pytest.approx(0.05 + 0.3, abs=1e-12)
    fig = asset.stages[-1].figures["parts"]
    assert {n: f["mass_source"] for n, f in fig.items()} == {"base": "file", "arm": "file"}

    # MuJoCo reads the same file; fusestatic off keeps the jointless root a body of its own
    mj = tmp_path / "two_mujoco.urdf"
    mj.write_text(URDF.format(bad='<mujoco><compiler fusestatic="false"/></mujoco>'))
    model = mujoco.MjModel.from_xml_path(str(mj))
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    for name in ("base", "arm"):
        b = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
        R = data.ximat[b].reshape(3, 3)
        truth = R @ np.diag(model.body_inertia[b]) @ R.T
        mp = asset.mass[name]
        # MuJoCo stores float64 and diagonalises the file's tensor itself: agreement to 1e-9
        # (relative to the largest moment) is round-off, a wrong rotation or frame is >> 1e-4
        assert mp.mass == pytest.approx(model.body_mass[b], rel=1e-12)
        assert np.allclose(mp.center_of_mass, data.xipos[b] + offset, atol=1e-9)
        assert np.allclose(mp.inertia, truth, atol=1e-9 * np.abs(truth).max())
        assert np.allclose(mp.principal_moments, np.sort(model.body_inertia[b]), rtol=1e-9)
    # the arm's tensor in closed form: world rotation (joint yaw 0.4, inertial rpy) applied
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("z", 0.4).as_matrix() @ Rotation.from_euler("xyz", [0.3, -0.5, 0.9]).as_matrix()
    assert np.allclose(asset.mass["arm"].inertia, R @ np.diag([0.004, 0.005, 0.002]) @ R.T, atol=1e-15)
    # the drives use the file's masses: the mass record feeds them
    assert "shoulder" in asset.drives


def test_invalid_inertial_falls_back_and_overrides(tmp_path):
    path, loaded, asset = _build(tmp_path, bad=True)
    fig = asset.stages[-1].figures
    assert {n: f["mass_source"] for n, f in fig["parts"].items()} == {
        "base": "file", "arm": "file", "bad": "file_mass", "massless": "computed"}
    assert any("'bad'" in n and "triangle inequality" in n for n in fig["inertials_notes"])
    assert any("'massless'" in n and "not positive" in n for n in fig["inertials_notes"])
    # bad: the file's 0.3 kg on the 0.1 m cube: I = m a^2 / 6 about its centre (closed form)
    bad = asset.mass["bad"]
    assert bad.mass == pytest.approx(0.3, rel=1e-12)
    assert np.allclose(bad.inertia, 0.3 * 0.1**2 / 6 * np.eye(3), rtol=0, atol=1e-12)
    # massless: computed, the 0.1 m cube at the default density 500 kg/m^3 -> 0.5 kg
    assert asset.mass["massless"].mass == pytest.approx(500 * 0.1**3, rel=1e-9)
    assert asset.mass["base"].mass == 2.5
    # --density and --mass override the file: every part computed, the total as asked
    _, _, dense = _build(tmp_path, bad=True, density=1000.0)
    assert dense.mass["base"].mass == pytest.approx(1000 * 0.3 * 0.2 * 0.1, rel=1e-9)
    assert dense.stages[-1].figures["mass_sources"] == {"file": 0, "file_mass": 0, "computed": 4}
    _, _, heavy = _build(tmp_path, bad=True, mass=9.0)
    assert sum(p.mass for p in heavy.mass.values()) == pytest.approx(9.0, rel=1e-12)


def test_inertials_round_trip(tmp_path):
    from n4d4d.io.record import read_record, write_record

    _, loaded, _ = _build(tmp_path, bad=True)
    import json

    timings = write_record(loaded, tmp_path)  # wall-clock values live in report.json, as Asset.save writes
    (tmp_path / "report.json").write_text(json.dumps({"timings": {"record": timings}}))
    back = read_record(tmp_path)
    fi, fb = loaded.inertials, back.inertials
    assert fb.notes == fi.notes and set(fb.parts) == set(fi.parts) == {"base", "arm"}
    assert dict(fb.masses) == dict(fi.masses) == {"bad": 0.3}
    assert np.array_equal(fb.source_low, fi.source_low) and np.array_equal(fb.source_extents, fi.source_extents)
    for n in fi.parts:
        assert np.array_equal(fb.parts[n].inertia, fi.parts[n].inertia)
        assert np.array_equal(fb.parts[n].center_of_mass, fi.parts[n].center_of_mass)
