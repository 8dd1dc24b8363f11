"""Curve skeletons and bone-heat skin weights on procedural shapes with known structure."""

from __future__ import annotations

import numpy as np

from n4d4d.asset import Mesh, Skeleton
from n4d4d.rigging.skeleton import curve_skeleton
from n4d4d.rigging.skinning import MAX_INFLUENCES, bone_heat_weights


def _bar(length=1.0, radius=0.05):
    import trimesh

    tm = trimesh.creation.cylinder(radius=radius, height=length, sections=24)
    tm = tm.subdivide().subdivide()  # interior vertices along the bar for the heat solve
    tm.apply_translation([0, 0, length / 2])
    return Mesh.from_trimesh(tm)


def test_bone_heat_weights_are_a_valid_skin():
    mesh = _bar()
    # a straight 6-joint chain along the bar: 5 bones of 0.2 m
    pos = np.stack([np.zeros(6), np.zeros(6), np.linspace(0.0, 1.0, 6)], 1)
    skel = Skeleton(tuple(f"j{i}" for i in range(6)), np.array([-1, 0, 1, 2, 3, 4]), pos)
    w = bone_heat_weights(mesh, skel)
    assert w.shape == (len(mesh.vertices), 6)
    assert (w >= 0).all()
    assert np.allclose(w.sum(1), 1.0, atol=1e-9)
    assert ((w > 0).sum(1) <= MAX_INFLUENCES).all()
    # a vertex at the middle of bone j1->j2 (z = 0.3) on the surface moves with joint j1 (the
    # bone's parent joint, glTF convention); heat from neighbouring bones is at most ~1/2
    z = mesh.vertices[:, 2]
    mid = np.flatnonzero(np.abs(z - 0.3) < 0.06)  # the subdivided bar has rings at z = 0.25, 0.375
    assert len(mid) > 0
    assert (w[mid, 1] > 0.5).all()
    assert (w[mid].argmax(1) == 1).all()


def test_curve_skeleton_of_a_t_shape():
    import trimesh

    # round bars: Lee's thinning of exactly axis-aligned square bars loses their ends (a known
    # weakness of voxel thinning on boxes; organic shapes are round)
    stem = trimesh.creation.cylinder(radius=0.06, height=1.0)
    stem.apply_translation([0, 0, 0.5])
    arm = trimesh.creation.cylinder(radius=0.06, height=1.0,
                                    transform=trimesh.geometry.align_vectors([0, 0, 1], [1, 0, 0]))
    arm.apply_translation([0, 0, 0.95])
    mesh = Mesh.from_trimesh(trimesh.util.concatenate([stem, arm]))
    sk = curve_skeleton(mesh)
    assert sk.parents[0] == -1 and (sk.parents[1:] >= 0).all()
    assert (sk.parents[1:] < np.arange(1, len(sk.parents))).all()  # parents come first
    leaves = [j for j in range(len(sk.parents)) if j not in set(sk.parents.tolist())]
    ends = sk.bind_positions[leaves]
    # three branch ends, each within 0.1 m (the thinning stops about a bar radius, 0.06 m, plus a
    # voxel of 1/64 m, short of the tip) of the T's tips
    for tip in ([0, 0, 0.0], [-0.5, 0, 0.95], [0.5, 0, 0.95]):
        assert np.linalg.norm(ends - tip, axis=1).min() < 0.1, tip
    # every joint lies inside the shape's bounds
    lo, hi = mesh.bounds
    assert ((sk.bind_positions >= lo - 1e-9) & (sk.bind_positions <= hi + 1e-9)).all()
