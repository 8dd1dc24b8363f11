"""The cheaper disjoint step (issue 13) gives the answers of the exact measures it replaced:
the pseudonormal signed distance against a closed-form box SDF (a hollow box, whose inner void
is the case a sign test can get wrong), and the gaps ``make_disjoint`` reuses from its cut
against ``Manifold.min_gap`` measured afresh on the parts it returns."""

from __future__ import annotations

import numpy as np

from boxes import box_between

from n4d4d.asset import Mesh, Part
from n4d4d.volume.disjoint import _arrays, _signed_distance, make_disjoint, to_manifold

C = 5e-4  # the default --part-clearance (m)


def box_sdf(p: np.ndarray, lo, hi) -> np.ndarray:
    """Closed-form signed distance (m, negative inside) of points ``(P, 3)`` to a solid box."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    c, h = (lo + hi) / 2, (hi - lo) / 2
    q = np.abs(p - c) - h
    return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0)


def test_pseudonormal_distance_matches_the_closed_form_of_a_hollow_box():
    # a 0.2 m box with a 0.1 m void inside: the solid is outer minus inner; SDF = max(outer, -inner)
    outer = to_manifold(Mesh.from_trimesh(box_between([0, 0, 0], [0.2, 0.2, 0.2])))
    inner = to_manifold(Mesh.from_trimesh(box_between([0.05, 0.05, 0.05], [0.15, 0.15, 0.15])))
    v, f = _arrays(outer - inner)
    rng = np.random.default_rng(0)
    p = rng.uniform(-0.05, 0.25, size=(4000, 3))  # outside, in the wall, and in the void
    truth = np.maximum(box_sdf(p, [0, 0, 0], [0.2, 0.2, 0.2]), -box_sdf(p, [0.05] * 3, [0.15] * 3))
    got = _signed_distance(p, v, f)
    assert (truth > 0).sum() > 500 and (truth < 0).sum() > 500 and (box_sdf(p, [0.05] * 3, [0.15] * 3) < 0).sum() > 50
    # 1e-12 m: float rounding of a point-triangle distance on a 0.2 m box (the sign is exact)
    np.testing.assert_allclose(got, truth, atol=1e-12)


def test_reused_gaps_are_the_gaps_of_the_returned_parts():
    # a body with three buttons pressed into its top by 2 mm and a lid overlapping its side: the
    # body is cut by all four at once; every pair's gap_after_m must be the gap between the
    # solids returned, measured afresh (manifold3d's min_gap, as make_disjoint measures it)
    body = Part("body", Mesh.from_trimesh(box_between([0, 0, 0], [0.3, 0.2, 0.1])))
    parts = [body] + [Part(f"button{i}", Mesh.from_trimesh(box_between([0.05 + 0.08 * i, 0.08, 0.098],
                                                                       [0.09 + 0.08 * i, 0.12, 0.12])))
                      for i in range(3)]
    parts.append(Part("lid", Mesh.from_trimesh(box_between([0.29, 0, 0], [0.31, 0.2, 0.1]))))
    out, fig, _ = make_disjoint(parts, (), C)
    assert fig["parts_cut"] == ["body"] and fig["pairs_separated"] == 4
    solids = {p.name: to_manifold(p.mesh) for p in out}
    for e in fig["pairs"]:
        a, b = (solids[n] for n in e["parts"])
        assert e["gap_after_m"] == float(a.min_gap(b, 2 * C))
        assert e["gap_after_m"] >= C  # boxes: the cube dilation leaves at least the clearance
