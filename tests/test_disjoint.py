"""Disjoint part solids (:mod:`n4d4d.volume.disjoint`): boxes with closed-form answers, and a
PartNet-Mobility storage object through the rigging stage (skipped without ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from boxes import box_between

from n4d4d.asset import Joint, Mesh, Part
from n4d4d.volume.disjoint import SIMPLIFY_FRACTION, SLIVER_FRACTION, make_disjoint, part_overlaps

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "partnet-mobility"
C = 5e-4  # the default --part-clearance (m)


def box(lo, hi) -> Mesh:
    return Mesh.from_trimesh(box_between(lo, hi))


def vertex_gap(a: Mesh, b: Mesh) -> float:
    """Smallest distance from a vertex of one box to the other's surface (libigl's exact
    point-triangle distance, not manifold3d's): for boxes with parallel faces it is the gap."""
    import igl

    def one(p, q):
        return float(np.abs(igl.signed_distance(np.asarray(p.vertices), np.asarray(q.vertices),
                                                np.asarray(q.faces))[0]).min())
    return min(one(a, b), one(b, a))


def volume(m: Mesh) -> float:
    return float(m.to_trimesh().volume)


def hinge(parent="a", child="b", origin=(0.09, 0.05, 0.05)):
    return Joint("j", "revolute", parent, child, np.array(origin, float), np.array([0.0, 0.0, 1.0]), -1.0, 1.0)


def test_overlapping_cubes_come_out_disjoint_with_the_clearance():
    # a 0.1 m cube and a 0.09 m long box overlapping it by 10 mm along x: the larger is cut
    a, b = box([0, 0, 0], [0.1, 0.1, 0.1]), box([0.09, 0, 0], [0.18, 0.1, 0.1])
    parts, fig, _ = make_disjoint([Part("a", a), Part("b", b)], [hinge()], C)
    a2, b2 = parts[0].mesh, parts[1].mesh
    assert b2 is b  # the other part is untouched
    # closed form: the dilation is a cube of half side r = C (1 + 2 SIMPLIFY_FRACTION), so a's
    # face moves to x = 0.09 - r; 1e-9 m: float noise of the booleans
    r = C * (1 + 2 * SIMPLIFY_FRACTION)
    assert np.allclose(a2.bounds, [[0, 0, 0], [0.09 - r, 0.1, 0.1]], atol=1e-9)
    gap = vertex_gap(a2, b2)
    assert C <= gap <= 1.2 * C  # the stated clearance, and not much more
    assert a2.to_trimesh().is_watertight and a2.to_trimesh().is_winding_consistent
    pair = fig["pairs"][0]
    assert pair["overlap_before_m3"] == pytest.approx(0.01 * 0.1 * 0.1, rel=1e-6)
    assert pair["overlap_after_m3"] == 0 and pair["gap_after_m"] >= C
    # volumes conserved: the union before (0.18 x 0.1 x 0.1) less the clearance slab, within 3 %
    union = 0.18 * 0.1 * 0.1
    total = volume(a2) + volume(b2)
    assert total == pytest.approx(union - r * 0.01, rel=1e-6)
    assert abs(fig["volume_sum_after_m3"] / union - 1) < 0.03
    assert fig["pivots"]["j"]["near_both"]


def test_touching_cubes_are_pushed_apart_and_a_far_pair_is_left_alone():
    a, b = box([0, 0, 0], [0.1, 0.1, 0.1]), box([0.1, 0, 0], [0.2, 0.1, 0.1])  # face to face
    far = box([0.5, 0.5, 0.5], [0.6, 0.6, 0.6])
    parts, fig, _ = make_disjoint([Part("a", a), Part("b", b), Part("far", far)], [], C)
    assert vertex_gap(parts[0].mesh, parts[1].mesh) >= C
    assert parts[2].mesh is far and fig["pairs_separated"] == 1
    assert part_overlaps(parts, search=C / 2) == []  # nothing closer than the clearance is left


def test_larger_part_is_cut_by_default_and_child_on_request():
    # a small cube (child) sunk 10 mm into a big one (parent)
    big, small = box([0, 0, 0], [0.3, 0.3, 0.3]), box([0.1, 0.1, 0.29], [0.2, 0.2, 0.39])
    joints = [Joint("j", "revolute", "big", "small", np.array([0.15, 0.15, 0.3]), np.array([0.0, 0, 1]))]
    parts, fig, _ = make_disjoint([Part("big", big), Part("small", small)], joints, C)
    assert fig["pairs"][0]["cut"] == "big" and parts[1].mesh is small
    # the big cube gets a pocket: its volume loses the sunk part grown by r on 5 sides
    r = C * (1 + 2 * SIMPLIFY_FRACTION)
    pocket = (0.1 + 2 * r) ** 2 * (0.01 + r)
    assert volume(parts[0].mesh) == pytest.approx(0.3 ** 3 - pocket, rel=1e-6)
    parts, fig, _ = make_disjoint([Part("big", big), Part("small", small)], joints, C, cut="child")
    assert fig["pairs"][0]["cut"] == "small" and parts[0].mesh is big
    assert parts[1].mesh.bounds[0, 2] == pytest.approx(0.3 + r, abs=1e-9)
    assert vertex_gap(parts[0].mesh, parts[1].mesh) >= C


def test_a_non_convex_cutter_is_dilated_exactly_not_as_its_hull():
    # an L: a 0.1 m cube sunk 10 mm into the big block, and an arm 50 mm above the block; its
    # convex hull would reach the block 8 mm beyond the cube (the slanted face under the arm)
    big = box([0, 0, 0], [0.3, 0.3, 0.3])
    leg, arm = box([0.1, 0.1, 0.29], [0.2, 0.2, 0.39]), box([0.1, 0.1, 0.35], [0.25, 0.2, 0.39])
    ell = Mesh.from_trimesh(trimesh.boolean.union([leg.to_trimesh(), arm.to_trimesh()], engine="manifold"))
    assert volume(ell) < 0.95 * ell.to_trimesh().convex_hull.volume  # not "nearly convex"
    parts, fig, _ = make_disjoint([Part("big", big), Part("ell", ell)], [], C)
    r = C * (1 + 2 * SIMPLIFY_FRACTION)
    # the pocket is the leg's, grown by r on 5 sides (closed form), nothing of the hull's wedge
    assert volume(parts[0].mesh) == pytest.approx(0.3 ** 3 - (0.1 + 2 * r) ** 2 * (0.01 + r), rel=1e-6)
    assert part_overlaps(parts, search=C * 0.999) == []


def test_a_cutter_with_too_many_near_faces_uses_its_hull_when_that_takes_little_more(monkeypatch):
    import n4d4d.volume.disjoint as dj

    big = box([0, 0, 0], [0.3, 0.3, 0.3])
    leg, arm = box([0.1, 0.1, 0.29], [0.2, 0.2, 0.39]), box([0.1, 0.1, 0.35], [0.25, 0.2, 0.39])
    ell = Mesh.from_trimesh(trimesh.boolean.union([leg.to_trimesh(), arm.to_trimesh()], engine="manifold"))
    monkeypatch.setattr(dj, "EXACT_TRIANGLES", 0)  # every face counts as too many
    parts, _, _ = make_disjoint([Part("big", big), Part("ell", ell)], [], C)
    r = C * (1 + 2 * SIMPLIFY_FRACTION)
    exact = 0.3 ** 3 - (0.1 + 2 * r) ** 2 * (0.01 + r)
    # the hull's wedge under the arm (~4e-6 m^3, 0.02 % of the block) is taken too, no more
    assert exact - 2e-5 < volume(parts[0].mesh) < exact - 1e-7
    assert part_overlaps(parts, search=C * 0.999) == []


def test_slivers_are_dropped_and_a_part_that_would_vanish_is_kept():
    # b splits a in two: a 0.25 mm rim (0.25 % of a's volume, under SLIVER_FRACTION) and the rest
    a = box([0, 0, 0], [0.1, 0.1, 0.1])
    b = box([0.0008, -0.05, -0.05], [0.09, 0.15, 0.15])
    joints = [Joint("j", "revolute", "b", "a", np.array([0.09, 0.05, 0.05]), np.array([0.0, 0, 1]))]
    parts, fig, _ = make_disjoint([Part("a", a), Part("b", b)], joints, C, cut="child")
    a2 = parts[0].mesh
    r = C * (1 + 2 * SIMPLIFY_FRACTION)
    assert (0.0008 - r) * 0.01 / 0.001 < SLIVER_FRACTION
    assert a2.to_trimesh().body_count == 1 and fig["cut_parts"]["a"]["pieces"] == 1
    assert fig["cut_parts"]["a"]["slivers_dropped_m3"] == pytest.approx((0.0008 - r) * 0.01, rel=1e-6)
    assert volume(a2) == pytest.approx((0.1 - 0.09 - r) * 0.01, rel=1e-6)
    # a child entirely inside its parent would vanish: kept as it was, with a note
    inner = box([0.02, 0.02, 0.02], [0.05, 0.05, 0.05])
    joints = [Joint("j", "revolute", "a", "inner", np.array([0.03, 0.03, 0.03]), np.array([0.0, 0, 1]))]
    parts, fig, notes = make_disjoint([Part("a", a), Part("inner", inner)], joints, C, cut="child")
    assert parts[1].mesh is inner and fig["pairs"][0]["cut"] is None
    assert any("would vanish" in n for n in notes)
    # the default rule cuts the outer part instead: a closed void, one solid, the inner intact
    parts, fig, _ = make_disjoint([Part("a", a), Part("inner", inner)], joints, C)
    assert parts[1].mesh is inner and fig["cut_parts"]["a"]["pieces"] == 1
    assert volume(parts[0].mesh) == pytest.approx(0.001 - (0.03 + 2 * r) ** 3, rel=1e-6)


def test_deterministic_and_clear_errors():
    a, b = box([0, 0, 0], [0.1, 0.1, 0.1]), box([0.05, 0.02, 0.03], [0.12, 0.2, 0.08])
    one = make_disjoint([Part("a", a), Part("b", b)], [], C)[0]
    two = make_disjoint([Part("a", a), Part("b", b)], [], C)[0]
    for p, q in zip(one, two):
        assert np.array_equal(p.mesh.vertices, q.mesh.vertices) and np.array_equal(p.mesh.faces, q.mesh.faces)
    with pytest.raises(ValueError, match="clearance"):
        make_disjoint([Part("a", a)], [], -1.0)
    with pytest.raises(ValueError, match="cut"):
        make_disjoint([Part("a", a)], [], C, cut="parent")


@pytest.mark.skipif(not (SHARED / "40147" / "mobility.urdf").is_file(), reason="../shared/data/partnet-mobility/40147 absent")
def test_partnet_storage_parts_disjoint_after_rigging():
    """PartNet 40147 (cabinet: door, drawer, body) through load, static and rigging at a coarse
    resolution (fast); the full build with the certificate is benchmarks/solids_parts.py."""
    from n4d4d.pipeline import STAGES, resolve_options, run_stage
    from n4d4d.sources import as_source

    opts = resolve_options(resolution=64, max_faces=5000)
    asset = run_stage(STAGES[0], as_source(SHARED / "40147" / "mobility.urdf"), opts)
    for stage in STAGES[1:4]:
        asset = run_stage(stage, asset, opts)
    fig = asset.stages[-1].figures["disjoint"]
    assert fig["pairs_separated"] >= 1 and fig["clearance_m"] == opts.part_clearance
    # what the rigged parts overlapped by before (the issue: 5-19 mm on storage furniture) is
    # gone: no pair of solids overlaps, none is closer than the clearance (1 um: float noise)
    assert all(p["overlap_after_m3"] == 0 for p in fig["pairs"])
    left = part_overlaps(asset.parts, search=opts.part_clearance - 1e-6)
    assert left == [], left
    for p in asset.parts:
        tm = p.mesh.to_trimesh()
        assert tm.is_watertight and tm.is_winding_consistent and tm.volume > 0
    # the step conserves the union of the solids it was given, less the clearance layers
    assert abs(fig["sum_after_vs_union_before"]) < 0.03
    assert all(v["near_both"] for v in fig["pivots"].values())
