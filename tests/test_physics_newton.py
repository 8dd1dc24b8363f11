"""Newton checks on the exported USD: a box and a sphere come to rest, the unstable cone is
caught, the two engines agree on the rest pose, and the USD settle helper.

The first Newton run on a machine compiles its CPU kernels (minutes, then cached by Warp).
"""

from __future__ import annotations

import pytest

from n4d4d.physics_validation import collision_stage, mass_stage, shapes, stability_stage
from n4d4d.physics_validation.newton_check import check_newton, settle_usd_in_newton
from n4d4d.physics_validation.thresholds import StabilityThresholds


def _ready(asset):
    return mass_stage(collision_stage(asset))


@pytest.mark.parametrize("make", [shapes.box, shapes.sphere])


def test_box_and_sphere_come_to_rest_in_newton(make):
    res = check_newton(_ready(make()), seed=0, orientations=2)
    assert res["engine"] == "newton" and res["bodies"] == 1
    assert res["passed"], res["reasons"]
    th = StabilityThresholds()
    for c in res["checks"]:
        assert c["measured"]["settle_time_s"] <= th.settle_time_s
        assert c["measured"]["drift_m"] <= th.max_drift_m


def test_box_rests_at_its_height_in_newton():
    """Closed form: a 0.2 m tall box at rest has its COM 0.1 m above the ground."""
    res = check_newton(_ready(shapes.box()), seed=0, orientations=0)
    z = res["checks"][0]["measured"]["final_positions_m"][0][2]
    assert z == pytest.approx(0.1, abs=1e-3)  # XPBD resting contact: sub-millimetre


def test_cone_on_its_tip_fails_in_newton():
    res = check_newton(_ready(shapes.cone_on_tip()), seed=0, orientations=0)
    assert not res["passed"]
    assert any("unstable rest pose" in r or "still moving" in r for r in res["reasons"]), res["reasons"]


def test_engines_agree_on_the_rest_pose():
    asset = stability_stage(_ready(shapes.box()), engines=("pybullet", "newton"), orientations=1)
    p = asset.physics
    assert set(p["engines"]) == {"pybullet", "newton"}
    agree = next(c for c in p["checks"] if c["name"] == "cross_engine")
    assert agree["passed"], agree
    assert p["cross_engine"]["position_m"] < 0.005 and p["passed"], p["reasons"]


def test_settle_usd_in_newton(tmp_path):
    from n4d4d.exporters.usd import write_usd

    path = write_usd(_ready(shapes.box()), tmp_path / "box.usda")
    out = settle_usd_in_newton(path, seconds=1.0)
    assert out["bodies"] == 1 and out["final_speed"] < 0.01
    assert out["min_height"] > -0.003  # no sinking beyond the penetration bound
