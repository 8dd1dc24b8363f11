"""The disjoint step's per-part figures say how each cutter was dilated and how much was removed
against the overlap (so an over-cut, as on PartNet 45261's body, can be traced to its cause)."""

from __future__ import annotations

import numpy as np
import pytest

from boxes import box_between

from n4d4d.asset import Mesh, Part
from n4d4d.volume.disjoint import SIMPLIFY_FRACTION, make_disjoint

C = 5e-4  # the default --part-clearance (m)


def box(lo, hi) -> Mesh:
    return Mesh.from_trimesh(box_between(lo, hi))


def test_cut_record_names_the_dilation_and_compares_removed_with_overlap():
    # a 0.1 m cube cut by a box that overlaps it 10 mm along x: the box is convex, so its
    # dilation is its hull's, on the first attempt (one word); closed form of what is removed:
    # the 10 mm overlap slab plus the dilation's slab of r = C (1 + 2 SIMPLIFY_FRACTION)
    a, b = box([0, 0, 0], [0.1, 0.1, 0.1]), box([0.09, 0, 0], [0.18, 0.1, 0.1])
    _, fig, _ = make_disjoint([Part("a", a), Part("b", b)], [], C)
    rec = fig["cut_parts"]["a"]
    assert rec["dilations"] == {"b": ["convex hull"]}
    assert rec["overlap_m3"] == pytest.approx(0.01 * 0.1 * 0.1, rel=1e-6)
    r = C * (1 + 2 * SIMPLIFY_FRACTION)
    # 1e-6 relative: float noise of the booleans on a 1e-4 m^3 slab
    assert rec["removed_m3"] == pytest.approx((0.01 + r) * 0.1 * 0.1, rel=1e-6)


def test_a_non_convex_cutter_is_recorded_as_dilated_exactly():
    # an L-shaped cutter (two boxes united: 2/3 of its hull) touching the cube's face: not
    # convex, few faces, so the exact per-triangle dilation is used and recorded as such
    import manifold3d as mf

    a = box([0, 0, 0], [0.1, 0.1, 0.1])
    l1 = mf.Manifold.cube([0.05, 0.1, 0.1]).translate([0.1, 0.0, 0.0])
    l2 = mf.Manifold.cube([0.05, 0.05, 0.1]).translate([0.15, 0.0, 0.0])
    out = (l1 + l2).to_mesh64()
    b = Mesh(np.asarray(out.vert_properties, np.float64)[:, :3], np.asarray(out.tri_verts, np.int64))
    # hull of the L: the 0.1 m cube less a 0.05 x 0.05 corner prism, so the L is 0.75 / 0.875
    # = 86 % of it (< CONVEX_FRACTION); the cube (larger) is the part cut
    _, fig, _ = make_disjoint([Part("a", a), Part("b", b)], [], C)
    assert fig["parts_cut"] == ["a"]
    assert fig["cut_parts"]["a"]["dilations"] == {"b": ["exact"]}
    assert fig["pairs"][0]["gap_after_m"] >= C
