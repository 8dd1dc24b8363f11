"""Skinning: LBS against UsdSkel's own skinning of the exported file, LBS's twist collapse against
its closed form, DQS keeping a bent and a twisted cylinder's volume (the candy-wrapper effect,
measured), DQS of a rigidly bound vertex."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from n4d4d.asset import MotionClip
from n4d4d.deformation import shapes
from n4d4d.deformation.skinning import dqs, dual_quaternions, lbs, mesh_volumes, skin_clip


@pytest.fixture(scope="module")
def cylinder():
    return shapes.skinned_cylinder()


def _pose(axis, degrees):
    q = Rotation.from_rotvec(np.radians(degrees) * np.asarray(axis, float)).as_quat(scalar_first=True)
    return MotionClip("pose", np.array([0.0]), joint_rotations={"elbow": q[None]})


def _volume_change(asset, clip, method):
    v = skin_clip(asset.visual.vertices, asset.skin_weights, asset.skeleton, clip, method)[0]
    return mesh_volumes(v, asset.visual.faces) / mesh_volumes(asset.visual.vertices, asset.visual.faces) - 1.0


def test_cylinder_is_a_closed_cylinder(cylinder):
    tm = cylinder.visual.to_trimesh()
    assert tm.is_watertight and tm.is_winding_consistent
    # 48-gon prism: pi r^2 L times the polygon's area ratio sin(2 pi / 48) * 48 / (2 pi)
    expected = np.pi * 0.05 ** 2 * 0.6 * np.sin(2 * np.pi / 48) * 48 / (2 * np.pi)
    assert float(mesh_volumes(cylinder.visual.vertices, cylinder.visual.faces)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("axis, degrees", [([0, 1, 0], 90), ([1, 0, 0], 120)])
def test_dqs_keeps_volume_lbs_loses_it(cylinder, axis, degrees):
    """Bend 90 degrees and twist 120 degrees at the elbow. DQS within 1% (measured: 0.1% and
    0.2%: the blend rotates each ring rigidly); LBS loses more than 2% (measured: 2.7% and 7.8%:
    blended matrices shrink the cross-section, the candy wrapper)."""
    clip = _pose(axis, degrees)
    d, lb = _volume_change(cylinder, clip, "dqs"), _volume_change(cylinder, clip, "lbs")
    assert abs(d) < 0.01
    assert lb < -0.02
    assert abs(lb) > 5 * abs(d)


def test_lbs_twist_collapse_matches_closed_form(cylinder):
    """A ring with weights (1 - w, w), twisted by theta about the bone axis, is scaled by
    f(w) = |(1 - w) + w e^{i theta}| under LBS (rotations about the axis keep x), so the volume
    ratio is the mean of f(w(x))^2 along the cylinder. Tolerance 0.3%: the mesh joins twisted
    rings by flat triangles (1 cm apart, a twist gradient under 0.3 rad/cm)."""
    theta = np.radians(120)
    x = np.linspace(0.0, 0.6, 200_001)
    u = np.clip((x - 0.24) / 0.12, 0.0, 1.0)
    w = u * u * (3 - 2 * u)
    f2 = (1 - w) ** 2 + w ** 2 + 2 * w * (1 - w) * np.cos(theta)
    expected = np.trapezoid(f2, x) / 0.6 - 1.0
    measured = _volume_change(cylinder, _pose([1, 0, 0], 120), "lbs")
    assert measured == pytest.approx(expected, abs=3e-3)


def test_dqs_of_a_single_joint_is_its_rigid_motion():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 3))
    M = np.eye(4)
    M[:3, :3] = Rotation.from_rotvec([0.3, -1.1, 0.7]).as_matrix()
    M[:3, 3] = [0.2, -0.4, 1.5]
    S = np.stack([M, np.eye(4)])
    w = np.column_stack([np.ones(50), np.zeros(50)])
    expected = v @ M[:3, :3].T + M[:3, 3]
    np.testing.assert_allclose(dqs(v, w, S), expected, atol=1e-12)
    np.testing.assert_allclose(lbs(v, w, S), expected, atol=1e-12)
    dq = dual_quaternions(M)
    assert np.linalg.norm(dq[:4]) == pytest.approx(1.0) and abs(dq[:4] @ dq[4:]) < 1e-12  # unit dual quaternion


def test_lbs_matches_usdskel_bake_of_the_exported_clip(cylinder, tmp_path):
    """Our skeleton poses and LBS against pxr's UsdSkel.BakeSkinning of the USD file the exporter
    writes for the same clip (root motion, root and elbow rotations): within 1e-6 m (USD stores
    float32 points)."""
    from pxr import Usd, UsdGeom, UsdSkel

    from n4d4d.exporters.usd import write_usd
    from n4d4d.physics_validation import collision_stage, mass_stage

    asset = mass_stage(collision_stage(cylinder))
    T = 4
    ang = np.linspace(0.0, 1.2, T)
    root = np.zeros((T, 7))
    root[:, 3] = 1.0
    root[:, 0] = np.linspace(0.0, 0.1, T)
    clip = MotionClip("bend", np.arange(T) / 30.0, root_poses=root, joint_rotations={
        "elbow": Rotation.from_rotvec(np.outer(ang, [0, 1, 0])).as_quat(scalar_first=True),
        "root": Rotation.from_rotvec(np.outer(ang, [0.5, 0, 0])).as_quat(scalar_first=True)})
    ours = skin_clip(asset.visual.vertices, asset.skin_weights, asset.skeleton, clip, "lbs")
    stage = Usd.Stage.Open(str(write_usd(asset.replace(motion_clips=(clip,)), tmp_path / "c.usda")))
    assert UsdSkel.BakeSkinning(stage.Traverse())
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/skinned_cylinder/base/skin/mesh"))
    for k in range(T):
        pts = np.array(mesh.GetPointsAttr().Get(float(k)), np.float64)
        M = np.array(UsdGeom.Xformable(mesh.GetPrim()).ComputeLocalToWorldTransform(float(k))).T
        np.testing.assert_allclose(pts @ M[:3, :3].T + M[:3, 3], ours[k], atol=1e-6)
