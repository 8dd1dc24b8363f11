"""A glTF file's own skin animation as clips: round trip through the GLB exporter, and CesiumMan's
2 s walk (development data) read, re-skinned and checked."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from n4d4d.asset import MotionClip
from n4d4d.deformation import shapes
from n4d4d.deformation.skinning import skin_clip
from n4d4d.io.gltf_anim import read_gltf_animation, skinned_asset


def _reskin(g, clip):
    return skin_clip(g.vertices, g.weights, g.skeleton, clip, "lbs")


def test_round_trip_through_the_glb_exporter(tmp_path):
    from n4d4d.exporters.glb import write_glb

    a = shapes.skinned_cylinder()
    T = 31
    t = np.arange(T) / 30.0
    rots = {"elbow": Rotation.from_rotvec(np.outer(np.sin(2 * np.pi * t), [0, 1, 0])).as_quat(scalar_first=True),
            "root": Rotation.from_rotvec(np.outer(0.5 * t, [0, 0, 1])).as_quat(scalar_first=True)}
    root = np.zeros((T, 7))
    root[:, 3] = 1.0
    root[:, 0] = 0.2 * t
    clip = MotionClip("wave", t, root_poses=root, joint_rotations=rots)
    g = read_gltf_animation(write_glb(a.replace(motion_clips=(clip,)), tmp_path / "c.glb"), fps=30)
    assert [c.name for c in g.clips] == ["wave"] and len(g.clips[0].times) == T
    assert g.clips[0].family == "imported" and g.weights_renormalised == 0
    # GLB stores float32: bind mesh and every frame within 1e-6 m of our own skinning of the clip
    np.testing.assert_allclose(g.vertices, a.visual.vertices, atol=1e-6)
    ours = skin_clip(a.visual.vertices, a.skin_weights, a.skeleton, clip, "lbs")
    np.testing.assert_allclose(g.clips[0].vertices, ours, atol=1e-6)
    # the clip's own rotations and root poses reproduce those frames (nothing left in residuals)
    assert g.translation_residual_m["wave"] < 1e-6
    np.testing.assert_allclose(_reskin(g, g.clips[0]), g.clips[0].vertices, atol=1e-6)


def test_cesium_man_walk_imported_as_a_two_second_clip(shared_data):
    path = shared_data / "rigged" / "CesiumMan.glb"
    g = read_gltf_animation(path, fps=30)
    assert len(g.clips) == 1
    clip = g.clips[0]
    assert clip.times[-1] == pytest.approx(2.0) and len(clip.times) == 61  # the walk's 2 s at 30 fps
    assert len(g.skeleton.joint_names) == 19
    # the data README: 210 vertices whose weights do not sum to 1 (normalised on read)
    assert g.weights_renormalised == 210
    np.testing.assert_allclose(g.weights.sum(axis=1), 1.0, atol=1e-9)
    # Z up, standing on the ground, about 1.5 m tall
    lo, hi = g.vertices.min(axis=0), g.vertices.max(axis=0)
    assert abs(lo[2]) < 0.01 and 1.4 < hi[2] < 1.6
    # rotations carry the walk up to the joint translations the file animates (3 mm, reported)
    assert g.translation_residual_m[clip.name] < 0.005
    assert np.abs(_reskin(g, clip) - clip.vertices).max() < 0.006


def test_cesium_man_walk_is_checked_and_in_place(shared_data):
    from n4d4d.deformation.plausibility import clip_check

    a = skinned_asset(shared_data / "rigged" / "CesiumMan.glb")
    clip = a.motion_clips[0]
    check = clip_check(a, clip)
    m = check.measured
    # a walk cycle in place: the root travels under 5 cm while the feet step, so the stance foot
    # slides back under the body: GMD's ratio sees it (a treadmill walk, not a defect of the reader)
    assert np.ptp(clip.root_poses[:, :2], axis=0).max() < 0.05
    assert m["foot_skate_ratio"] > 0.5 and not check.passed
    assert sorted(check.details["feet"]) == ["node10", "node6"]  # the two leaf joints at the ground
    assert m["max_volume_change_pct"] < 10.0
