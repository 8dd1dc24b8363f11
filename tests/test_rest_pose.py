"""The rest-pose search is bounded (issue 17): its probe hull comes from a bounded set of points
that keeps the hull, it stops at its time budget, and it refuses an input over its memory budget."""

from __future__ import annotations

import numpy as np
import pytest

from n4d4d.errors import MemoryBudgetError
from n4d4d.physics_validation import shapes
from n4d4d.physics_validation.rest_pose import (PROBE_DIRECTIONS, PROBE_HULL_POINTS, PROBE_MAX_VERTICES, estimate_memory_bytes,
                                                probe_hull, probe_points, stable_orientation)


def _sphere_points(n, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_probe_points_keep_the_hull():
    from scipy.spatial import ConvexHull

    v = _sphere_points(200_000)
    spike = np.array([[0.3, -0.2, 3.0]])  # one vertex far out: what the body would rest on
    v = np.r_[v[:100_000], spike, v[100_000:]]
    p = probe_points(v)
    assert len(p) <= PROBE_HULL_POINTS + PROBE_DIRECTIONS
    assert (p == spike).all(axis=1).any()  # the extreme point along its direction is kept
    # Independent truth: Qhull on every point. The subsample's hull is within 0.5% of it.
    assert ConvexHull(p).volume == pytest.approx(ConvexHull(v).volume, rel=5e-3)


def test_small_inputs_are_kept_whole():
    v = _sphere_points(1000)
    assert probe_points(v) is not None and len(probe_points(v)) == 1000  # <= PROBE_HULL_POINTS: all kept


def test_dense_cone_rests_like_the_closed_form():
    # 50k faces (over PROBE_MAX_VERTICES): the bounded probe finds the same resting face as
    # the closed form, a cone (r 5 cm, h 20 cm) on its side: tilt pi/2 - atan(r / h).
    cone = shapes.cone_on_tip(sections=25_000)
    assert len(cone.visual.vertices) > PROBE_MAX_VERTICES
    R, fig = stable_orientation(cone.visual)
    assert fig["probe_points"] <= PROBE_HULL_POINTS + PROBE_DIRECTIONS
    assert fig["angle_rad"] == pytest.approx(np.pi / 2 - np.arctan(0.05 / 0.2), abs=0.02)


def test_time_budget_keeps_the_authored_pose():
    cone = shapes.cone_on_tip()
    R, fig = stable_orientation(cone.visual, time_budget_s=0.0)
    assert fig["budget_exceeded"] and fig["angle_rad"] == 0.0 and np.array_equal(R, np.eye(3))


def test_memory_budget_is_checked_first():
    cone = shapes.cone_on_tip()
    need = estimate_memory_bytes(len(cone.visual.faces))
    with pytest.raises(MemoryBudgetError, match="rest-pose search needs"):
        stable_orientation(cone.visual, memory_budget_bytes=need - 1)


def test_probe_hull_of_an_open_mesh():
    # An open bowl (a hemisphere without its cap) rests on its hull: a closed convex mesh.
    import trimesh

    from n4d4d.asset import Mesh

    s = trimesh.creation.icosphere(subdivisions=3)
    keep = s.triangles_center[:, 2] < 0.1
    bowl = Mesh(s.vertices, s.faces[keep])
    hull = probe_hull(bowl).to_trimesh()
    assert hull.is_watertight and hull.volume > 0
    assert np.ptp(hull.vertices, axis=0) == pytest.approx(np.ptp(bowl.vertices[np.unique(bowl.faces)], axis=0))
