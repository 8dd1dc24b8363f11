"""Hulls of two parts on different hinges parted at rest when no cut the hinges keep can part
them (issue 12: PartNet-Mobility fridge 11709, three doors on parallel hinges whose edges lap
over each other, 3.5 mm of hull overlap at rest). Truth: manifold3d's exact boolean
intersection and minimum gap of the hulls, not used by the cutting (half-space clipping in
numpy), and the closed-form geometry of the boxes."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Asset, Joint, Mesh, Part
from n4d4d.physics_validation.hull_clip import HULL_CLEARANCE_M, clip_hulls
from n4d4d.physics_validation.part_motion import colliding_pairs, pair_motions

from boxes import box_between


def _solid(hulls):
    import manifold3d as mf

    return mf.Manifold.batch_boolean([mf.Manifold.hull_points(np.asarray(h.vertices)) for h in hulls], mf.OpType.Add)


def _doors():
    """A body and two doors 0.5 m tall on hinges about z at y = -0.2 and y = +0.2. Door a is a
    7 mm plate whose edge runs 7 mm past y = 0; door b is 14 mm thick with a 7.5 x 7.5 mm
    rebate along its edge where a's edge sits, 0.5 mm clear of it (the disjoint solids of two
    lapped doors). b's convex hull fills the rebate up to its chord x + y = 7.5 mm, which the
    corner of a's edge (x + y = 14 mm) passes by 6.5 / sqrt(2) = 4.6 mm."""
    import trimesh

    body = box_between([0.05, -0.25, 0.0], [0.3, 0.25, 0.5])
    a = box_between([0.0, -0.2, 0.0], [0.007, 0.007, 0.5])
    b = trimesh.boolean.union([box_between([0.0075, 0.0, 0.0], [0.014, 0.2, 0.5]),
                               box_between([0.0, 0.0075, 0.0], [0.014, 0.2, 0.5])], engine="manifold")
    parts = [Part("body", Mesh.from_trimesh(body)), Part("a", Mesh.from_trimesh(a)), Part("b", Mesh.from_trimesh(b))]
    z = np.array([0.0, 0.0, 1.0])
    joints = [Joint("ja", "revolute", "body", "a", np.array([0.0, -0.2, 0.0]), z, 0.0, 1.5),
              Joint("jb", "revolute", "body", "b", np.array([0.0, 0.2, 0.0]), -z, 0.0, 1.5)]
    return Asset(name="doors", visual=parts[0].mesh, parts=tuple(parts), joints=tuple(joints))


def test_lapped_doors_on_parallel_hinges_get_hulls_apart_at_rest():
    asset = _doors()
    meshes = [p.mesh for p in asset.parts]
    hulls = [[Mesh.from_trimesh(m.to_trimesh().convex_hull)] for m in meshes]
    pairs = colliding_pairs(asset)
    assert pairs == [(1, 2)]  # the body is both doors' parent: never collided
    motions = pair_motions(asset, pairs)
    # the doors turn about parallel lines that are not one line: only planes normal to z are
    # kept by the motion, and none parts two doors that stand side by side over the same height
    assert np.allclose(np.abs(motions[0].normals), [[0.0, 0.0, 1.0]]) and motions[0].axis is None
    before = (_solid(hulls[1]) ^ _solid(hulls[2])).volume()
    # closed form: the hulls share the triangle x, y <= 7 mm, x + y >= 7.5 mm (a's edge beyond
    # b's chord), legs 6.5 mm, over the doors' 0.5 m height
    assert before == pytest.approx(0.0065 ** 2 / 2 * 0.5, rel=1e-6)
    out, fig = clip_hulls(meshes, hulls, [True] * 3, pairs, motions=motions)
    ha, hb = _solid(out[1]), _solid(out[2])
    # exact: no common volume at rest, and at least the clearance apart (1e-9 m: float rounding)
    assert (ha ^ hb).volume() == pytest.approx(0.0, abs=1e-15)
    assert ha.min_gap(hb, 0.01) >= HULL_CLEARANCE_M - 1e-9
    assert fig["pairs_split"] == 1 and fig["pairs_split_at_rest_only"] == 1 and not fig["unresolved"]
    # the cut takes little of either door: each hull keeps >= 95% of its door's solid (the
    # strip a cut through the 7 mm lap can take is at most 7.5 mm of a 200 mm door)
    for k in (1, 2):
        solid = _solid([Mesh.from_trimesh(meshes[k].to_trimesh())])
        assert (_solid(out[k]) ^ solid).volume() >= 0.95 * solid.volume(), asset.parts[k].name


def test_a_moving_pair_apart_at_rest_is_not_reported_as_overlapping_at_rest():
    # door b moved 10.7 mm along +y: its hull starts at y = 10.7 mm, 3.7 mm clear of a's edge
    # at rest, and the hinges still keep only z planes. Nothing is cut; the pair is listed as one
    # the motion may bring together (at_rest False), never as an overlap at rest.
    from n4d4d.physics_validation.hull_clip import clip_collision
    from n4d4d.physics_validation.thresholds import FidelityThresholds

    asset = _doors()
    b = asset.parts[2].mesh
    moved = Mesh(np.asarray(b.vertices) + [0.0, 0.0107, 0.0], np.asarray(b.faces))
    asset = asset.replace(parts=(asset.parts[0], asset.parts[1], Part("b", moved)))
    hulls = {p.name: (Mesh.from_trimesh(p.mesh.to_trimesh().convex_hull),) for p in asset.parts}
    figs = {n: {"source": "decomposed", "fidelity": {}, "fidelity_passed": True} for n in hulls}
    out, _, fig, notes = clip_collision(asset, hulls, figs, fidelity=FidelityThresholds())
    assert all(out[n] == hulls[n] for n in hulls) and fig["pairs_split"] == 0
    assert fig["unresolved"] and all(u.get("at_rest") is False for u in fig["unresolved"])
    assert not any("at rest:" in n for n in notes) and any("may meet as the joints move" in n for n in notes)

