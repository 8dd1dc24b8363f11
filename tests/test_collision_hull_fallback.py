"""A part whose hulls miss the collision-fidelity bounds at the hull budget is decomposed again
with the larger fallback budget (``--max-hulls-fallback``) and keeps the set that meets them.

Closed form: the L block (a 0.2 m square of 0.05 m arms, 0.05 m thick) has area 0.0175 m^2 in
section; its one convex hull, the square less the 0.15 m right triangle outside the L's corner
chord, has 0.02875 m^2: a hull volume ratio of 1.64, past the 1.35 bound. Two hulls (one per arm)
cover it exactly."""
from __future__ import annotations

import pytest

from n4d4d.physics_validation import collision_stage, shapes
from n4d4d.physics_validation.thresholds import FidelityThresholds


def _record(asset):
    return next(s for s in asset.stages if s.name == "collision").figures


def test_one_hull_misses_the_bound_without_a_fallback():
    rec = _record(collision_stage(shapes.l_block(), max_hulls=1, max_hulls_fallback=0))
    (part,) = rec["parts"].values()
    assert part["volume_ratio"] == pytest.approx(0.02875 / 0.0175, rel=0.02)
    assert not rec["fidelity_passed"] and "hull_budget_raised" not in part


def test_the_fallback_budget_meets_the_bound():
    asset = collision_stage(shapes.l_block(), max_hulls=1, max_hulls_fallback=8)
    rec = _record(asset)
    (part,) = rec["parts"].values()
    raised = part["hull_budget_raised"]
    assert raised["from"] == 1 and raised["to"] == 8 and raised["kept"]
    assert raised["volume_ratio_before"] == pytest.approx(0.02875 / 0.0175, rel=0.02)
    th = FidelityThresholds()
    assert th.min_volume_ratio <= part["volume_ratio"] <= th.max_volume_ratio
    assert 2 <= len(next(iter(asset.collision.values()))) <= 8
    assert rec["fidelity_passed"]
    assert any("max-hulls-fallback" in n for n in asset.notes)
