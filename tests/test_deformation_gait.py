"""Legged motion: legs found on a procedural four-legged animal, a walk whose stance feet stay put
(GMD foot-skating ratio), no ground penetration, limits kept, the centre of mass over the support
polygon; the pattern generator's duty factor and footfall order; idle with planted feet; a shape
without legs gets no gait and a reason."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Mesh
from n4d4d.deformation import NotApplicable
from n4d4d.deformation.cpg import PATTERNS, hopf_network, stance_phases
from n4d4d.deformation.gait import gait_clip, idle_clip
from n4d4d.deformation.legs import find_legs, foot_tracks
from n4d4d.deformation.plausibility import clip_check, skating_ratio
from n4d4d.physics_validation import mass_stage, shapes


@pytest.fixture(scope="module")
def animal():
    """Procedural animal seed 0 (generator family ``animal``), each part's collision its convex hull
    (the parts are capsules and ellipsoids: convex pieces; CoACD would take ~15 s here)."""
    from n4d4d.generator.procedural import make_shape

    a = make_shape("animal", 0)
    hulls = {p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in a.parts}
    return mass_stage(a.replace(collision=hulls))


@pytest.fixture(scope="module")
def walk(animal):
    return gait_clip(animal, pattern="walk", seed=0, fps=30, seconds=4)


def test_four_legs_found_from_structure_and_ground_contact(animal):
    legs, kind, why = find_legs(animal)
    assert kind == "articulated" and why == ""
    assert sorted(leg.foot for leg in legs) == sorted(f"{e}_{s}_leg_lower" for e in ("front", "hind")
                                                       for s in ("left", "right"))
    assert {(leg.side, leg.front) for leg in legs} == {(-1, -1), (-1, 1), (1, -1), (1, 1)}
    for leg in legs:
        # hip + knee; the foot on z = 0 (0.1 mm: the part tessellations differ from their union's)
        assert len(leg.chain) == 2 and abs(leg.foot_point[2]) < 1e-4


def test_walk_keeps_stance_feet_on_the_ground(animal, walk):
    check = clip_check(animal, walk)
    m = check.measured
    assert walk.family == "gait" and len(walk.times) == 121
    assert m["foot_skate_ratio"] < 0.05  # the bound (GMD's ratio, scaled to the leg)
    assert m["max_ground_penetration_m"] < 0.005  # the bound: no penetration over 5 mm
    assert m["joint_limit_violations"] == 0 and m["max_limit_excess_rad"] == 0.0
    assert m["min_support_margin_m"] >= -0.005  # statically stable walk: COM over the stance feet
    assert check.passed, check.reasons
    # the body moved forward (-y) by the walk's speed times the clip length
    travel = walk.root_poses[-1, :3] - walk.root_poses[0, :3]
    assert travel[1] < -0.3 and abs(travel[0]) < 1e-9


def test_walk_stance_feet_do_not_move(animal, walk):
    """Independent of the GMD thresholds: a foot on the ground (within 1 mm) in two consecutive
    frames moved under 1 mm horizontally between them."""
    legs, kind, _ = find_legs(animal)
    feet = foot_tracks(animal, walk, legs, kind)
    down = (feet[1:, :, 2] < 1e-3) & (feet[:-1, :, 2] < 1e-3)
    step = np.linalg.norm(np.diff(feet[:, :, :2], axis=0), axis=-1)
    assert down.sum() > 0.7 * down.size  # a walk: most foot-frames are stance
    assert step[down].max() < 1e-3
    assert (feet[:, :, 2] < 1e-3).sum(axis=1).min() >= 3  # three or four feet down in every frame


def test_skating_ratio_counts_a_sliding_foot():
    """GMD's ratio on a synthetic foot: planted for 1 s, then sliding at 1 m/s on the ground."""
    t = np.arange(61) / 30.0
    x = np.where(t < 1.0, 0.0, t - 1.0)
    feet = np.stack([x, np.zeros_like(t), np.full_like(t, 0.01)], -1)[:, None]
    r = skating_ratio(feet, 1 / 30.0, 0.05, 0.5, 0.25)
    assert r == pytest.approx(28 / 60, abs=2 / 60)  # the sliding half, less the averaging window's edge


def test_pattern_generator_duty_and_footfall_order():
    pat = PATTERNS[("walk", 4)]
    offsets = np.array([0.0, 0.25, 0.5, 0.75])
    t, z = hopf_network(offsets, 1.0, pat.duty, 4.0, 1 / 240, seed=1)
    stance, _ = stance_phases(z)
    touch = [t[np.flatnonzero(np.diff(stance[:, i].astype(int)) == 1)] for i in range(4)]
    lift = [t[np.flatnonzero(np.diff(stance[:, i].astype(int)) == -1)] for i in range(4)]
    for i in range(4):  # duty factor of each whole cycle, touchdown to touchdown
        a, b = touch[i][0], touch[i][1]
        off = lift[i][(lift[i] > a) & (lift[i] < b)][0]
        # within 0.02 of the pattern's: the weak coupling leaves each oscillator's speeds
        assert (off - a) / (b - a) == pytest.approx(pat.duty, abs=0.02)
        assert b - a == pytest.approx(1.0, abs=0.03)  # and its period
    rel = [((touch[i][1] - touch[0][1]) % 1.0) for i in range(4)]
    np.testing.assert_allclose(rel, offsets, atol=0.03)  # touchdowns a quarter cycle apart, in order
    again = hopf_network(offsets, 1.0, pat.duty, 4.0, 1 / 240, seed=1)[1]
    np.testing.assert_array_equal(z, again)  # same seed, same oscillators


def test_gait_identical_for_the_same_seed(animal, walk):
    again = gait_clip(animal, pattern="walk", seed=0, fps=30, seconds=4)
    np.testing.assert_array_equal(again.root_poses, walk.root_poses)
    for name, q in walk.joint_positions.items():
        np.testing.assert_array_equal(again.joint_positions[name], q)


def test_idle_feet_planted(animal):
    clip = idle_clip(animal, seed=0, seconds=2)
    legs, kind, _ = find_legs(animal)
    feet = foot_tracks(animal, clip, legs, kind)
    assert np.abs(feet - feet[:1]).max() < 1e-3  # planted: under 1 mm anywhere in the clip
    assert np.ptp(clip.root_poses[:, 2]) > 1e-3  # but the body breathes
    assert clip_check(animal, clip).passed


def test_no_legs_no_gait_with_reason():
    box = shapes.box()
    with pytest.raises(NotApplicable, match="no legs"):
        gait_clip(box)
    lid = shapes.hinged_arm()
    _, _, why = find_legs(lid)
    assert why.startswith("no legs")


@pytest.fixture(scope="module")
def skinned_animal():
    """Procedural animal seed 0 rigged as ``--rig skeletal`` does: curve skeleton (four joints or
    more per leg) and bone-heat weights on the whole mesh."""
    from n4d4d.generator.procedural import make_shape
    from n4d4d.rigging.stage import skeletal

    return skeletal(make_shape("animal", 0).replace(parts=(), joints=()), 0.0, "skeletal", [])


def test_skinned_animal_walk_keeps_its_volume(skinned_animal):
    """A curve-skeleton leg is redundant: its inverse kinematics must not fold it. The skinned mesh
    keeps its volume within the 10% bound (it lost 13% when the legs' joints twisted and folded
    to 2.5 rad), measured here independently of the check's figure, and the feet stay planted."""
    from n4d4d.deformation.skinning import mesh_volumes

    clip = gait_clip(skinned_animal, pattern="walk", seed=0, fps=30, seconds=4)
    m = clip_check(skinned_animal, clip).measured
    v0 = mesh_volumes(skinned_animal.visual.vertices, skinned_animal.visual.faces)
    change = np.abs(mesh_volumes(clip.vertices, skinned_animal.visual.faces) / v0 - 1.0).max()
    assert change * 100 == pytest.approx(m["max_volume_change_pct"], rel=1e-9) and change < 0.10
    travel = clip.root_poses[-1, :3] - clip.root_poses[0, :3]
    assert np.linalg.norm(travel) > 0.5  # a walk, not a shuffle: 0.28 m/s for 4 s
    assert m["foot_skate_ratio"] < 0.05 and m["max_ground_penetration_m"] < 0.005


def test_ankle_less_biped_gets_no_gait_that_sinks_its_feet():
    """The procedural figure's legs end in a long foot fixed to the shin (hip and knee hinges, no
    ankle): every stride tips the foot with the leg, and the clip the planner used to make sank a
    toe or heel 22-95 mm into the ground. Now the planner checks the foot part's clearance at the
    stance extremes and refuses with the reason; the check's own measure confirms that the rest
    stance (knee straight, foot flat) is clear."""
    from n4d4d.generator.procedural import make_shape

    a = make_shape("figure", 0)
    a = mass_stage(a.replace(collision={p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in a.parts}))
    legs, kind, why = find_legs(a)
    assert len(legs) == 2 and why == ""
    with pytest.raises(NotApplicable, match="no joint below the knee"):
        gait_clip(a, pattern="walk", seed=0, fps=30, seconds=2)
    from n4d4d.asset import MotionClip

    still = MotionClip("rest", np.array([0.0, 1 / 30]), {j.name: np.zeros(2) for j in a.joints},
                       np.tile([0.0, 0, 0, 1, 0, 0, 0], (2, 1)), family="idle")
    rest = clip_check(a, still)
    assert rest.measured["max_ground_penetration_m"] < 1e-4
    # idle breathes shallower on such legs (5.7 mm into the ground at the full breath), but breathes
    idle = idle_clip(a, seed=0, seconds=2)
    check = clip_check(a, idle)
    assert check.passed and check.measured["max_ground_penetration_m"] < 0.003, check.reasons
    assert np.ptp(idle.root_poses[:, 2]) > 1e-3


def test_two_bone_skinned_leg_does_not_sink_its_foot():
    """Procedural animal seed 1 skinned: one leg's curve skeleton has two bones (no ankle kept
    flat), so its foot tips with the lower bone; planned without the foot's clearance the walk
    put a sole vertex 16.4 mm into the ground. The issue's gait bound: no penetration over 5 mm."""
    from n4d4d.generator.procedural import make_shape
    from n4d4d.rigging.stage import skeletal

    a = skeletal(make_shape("animal", 1).replace(parts=(), joints=()), 0.0, "skeletal", [])
    legs, kind, _ = find_legs(a)
    assert kind == "skeletal" and min(len(leg.chain) for leg in legs) == 3
    m = clip_check(a, gait_clip(a, pattern="walk", seed=0, fps=30, seconds=4)).measured
    assert m["max_ground_penetration_m"] < 0.005 and m["foot_skate_ratio"] < 0.05
