"""Skinned procedural animals (``--rig skeletal``: curve skeleton, bone-heat weights) with the
knees resting near straight: the curve skeleton reaches every foot, the planner's sole check sees
the skinned foot as the clip moves it, and a rig whose skeleton missed a leg gets no gait.

The animals' legs are near-straight vertical capsules (their knees rest on their stops), the
shape Lee's thinning erodes most: seed 1's straight leg ended 0.215 m above the ground.
"""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.deformation import NotApplicable
from n4d4d.deformation.gait import gait_clip
from n4d4d.deformation.legs import find_legs


def _skinned(seed: int):
    from n4d4d.generator.procedural import make_shape
    from n4d4d.rigging.stage import skeletal

    return skeletal(make_shape("animal", seed).replace(parts=(), joints=()), 0.0, "skeletal", [])


def test_curve_skeleton_legs_reach_their_feet():
    """Every leg chain ends at its foot's end cap: the cap's centre is 0.85 lr above the ground
    (the generator's foot radius, lr = leg_radius), and thinning ends a round limb there, within
    a voxel or two (the grid's pitch, the longest side / 64). Before, the straight leg ended at
    0.215 m, so bone heat shared its foot between the two leg bones."""
    from n4d4d.kinematics import skeleton_bind

    a = _skinned(1)
    lr = a.provenance.options["params"]["leg_radius"]
    pitch = float(np.ptp(a.visual.vertices, axis=0).max()) / 64
    legs, kind, why = find_legs(a)
    assert kind == "skeletal" and len(legs) == 4, why
    pos = skeleton_bind(a.skeleton)[:, :3, 3]
    names = list(a.skeleton.joint_names)
    for leg in legs:
        assert pos[names.index(leg.chain[-1]), 2] < 0.85 * lr + 3 * pitch, (leg.foot, pos[names.index(leg.chain[-1])])


def test_foot_held_flat_by_its_ankle_stays_out_of_the_ground():
    """Seed 2: its feet keep 4-6% bone-heat weight on the hips, so a foot the ankle holds flat
    still tips with the leg; planned as if flat, the walk put a sole vertex 4.2 mm into the
    ground. The planner now checks the skinned foot: the clip's own vertices stay within the
    plausibility bound (3 mm), measured here directly on them."""
    from n4d4d.deformation.plausibility import clip_check
    from n4d4d.physics_validation.thresholds_motion import MotionThresholds

    a = _skinned(2)
    clip = gait_clip(a, pattern="walk", seed=0, fps=30, seconds=4)
    bound = MotionThresholds().max_ground_penetration_m
    assert -float(np.asarray(clip.vertices)[..., 2].min()) < bound
    check = clip_check(a, clip)
    assert check.passed, check.reasons


def test_rig_missing_a_leg_gets_no_gait():
    """Seed 3: thinning left one front leg without a branch, so only two chains reach the ground;
    a two-legged walk of them dragged the other feet 83 mm into the ground. The skin resting on
    the ground off the legs found means no legs, with the reason."""
    a = _skinned(3)
    legs, _, why = find_legs(a)
    assert legs == [] and "rests on the ground" in why
    with pytest.raises(NotApplicable, match="rests on the ground"):
        gait_clip(a, pattern="walk", seed=0, fps=30, seconds=2)
