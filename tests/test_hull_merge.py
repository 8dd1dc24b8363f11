"""Hulls merged to a budget by least added volume, partners found by bounding-box gap (issue
12: PartNet-Mobility chair 2490's seat, back and arms, whose long CoACD pieces lie far, by
centre, from the short pieces they touch). Truth: closed-form box volumes."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.asset import Mesh
from n4d4d.physics_validation.hulls import merge_to_budget

from boxes import box_between


def _box(lo, hi) -> Mesh:
    return Mesh.from_trimesh(box_between(lo, hi))


def test_a_long_piece_merges_with_the_piece_that_touches_it():
    # a 2 m bar, a 0.1 m cube that continues it at its far end, and two loose cubes, each 0.5 m
    # above the middle of the bar and above the end cube. By centre the bar's nearest is the
    # loose cube over its middle (0.55 m, against the end cube's 1.05 m) and the end cube's is the
    # one above it (0.55 m): with one partner each by centre, the bar and the end cube, whose
    # hull adds nothing (it is the box [0, 2.1] x [0, 0.1]^2), are never weighed. By box gap
    # they touch (gap 0): merged first, four hulls become three with no volume added.
    pieces = [_box([0, 0, 0], [2.0, 0.1, 0.1]), _box([2.0, 0, 0], [2.1, 0.1, 0.1]),
              _box([0.95, 0.6, 0], [1.05, 0.7, 0.1]), _box([2.0, 0.6, 0], [2.1, 0.7, 0.1])]
    out = merge_to_budget(pieces, 3, 64, neighbours=1)
    assert len(out) == 3
    volumes = sorted(float(m.to_trimesh().volume) for m in out)
    # closed form: the 2.1 x 0.1 x 0.1 bar and the two 0.1 m cubes, unchanged
    assert volumes == pytest.approx([0.001, 0.001, 0.021], rel=1e-9)
    lo = np.min([m.bounds[0] for m in out if m.to_trimesh().volume > 0.01], axis=0)
    hi = np.max([m.bounds[1] for m in out if m.to_trimesh().volume > 0.01], axis=0)
    assert lo == pytest.approx([0, 0, 0], abs=1e-12) and hi == pytest.approx([2.1, 0.1, 0.1], abs=1e-12)


def test_merging_keeps_the_budget_and_covers_every_piece():
    # 40 unit-free random boxes merged to 8: at most 8 hulls, and every piece's corners lie in
    # some merged hull (a merge takes the hull of both: nothing a piece covered is lost)
    rng = np.random.default_rng(7)
    lo = rng.uniform(0, 1, size=(40, 3))
    pieces = [_box(a, a + rng.uniform(0.02, 0.2, size=3)) for a in lo]
    out = merge_to_budget(pieces, 8, 64)
    assert len(out) <= 8
    import trimesh

    merged = [trimesh.Trimesh(m.vertices, m.faces) for m in out]
    for p in pieces:
        v = np.asarray(p.vertices)
        # 1e-9 m: the signed distance of a hull's own vertices is float rounding away from 0
        inside = np.max([trimesh.proximity.signed_distance(h, v) for h in merged], axis=0)
        assert (inside >= -1e-9).all()


def test_a_reduced_hull_whose_decimation_collapses_keeps_the_volume(monkeypatch):
    # decimation of a remeshed wheel's hull can collapse whole rims (PartNet-Mobility 2490's
    # caster wheels: 345 hull vertices cut to 60 kept 68% of the volume). Stand such a collapse
    # in for fast-simplification (every vertex pulled halfway to the centre) on a 200-section
    # cylinder (r 46 mm, 60 mm): the reduced hull must still keep the volume, from the full
    # hull's farthest points. Closed form: 64 points spread over two rims of 200 give an
    # inscribed prism of at least (32 / 2 pi) sin(2 pi / 32) = 99.4% of the cylinder with even
    # spacing; 98% allows for uneven spacing of farthest-point picks.
    import fast_simplification
    import trimesh

    from n4d4d.physics_validation.hulls import reduce_hull

    real = fast_simplification.simplify

    def collapsed(points, faces, target_count, agg):
        v, f = real(points, faces, target_count=target_count, agg=agg)
        return 0.5 * np.asarray(v), f

    monkeypatch.setattr(fast_simplification, "simplify", collapsed)
    c = trimesh.creation.cylinder(radius=0.046, height=0.06, sections=200)
    out = reduce_hull(np.asarray(c.vertices), 64)
    assert len(out.vertices) <= 64
    ratio = float(out.to_trimesh().volume) / (np.pi * 0.046 ** 2 * 0.06)
    assert 0.98 <= ratio <= 1.0 + 1e-9
